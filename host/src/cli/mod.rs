//! Command-line front ends. `pinfold` (≈ ipfs-cluster-service) is defined here; each
//! subcommand family lives in its own file.
//!
//! Binaries use `anyhow` for their errors; library components below use `thiserror` enums.

pub mod ctl;
pub mod ipfs;

use clap::{Parser, Subcommand};

/// Pinfold: an IPFS Cluster peer with sandboxed policy plugins.
#[derive(Debug, Parser)]
#[command(name = "pinfold", version, about)]
pub struct Service {
    /// Log level (error, warn, info, debug, trace), or a tracing filter.
    #[arg(long, global = true, default_value = "info", env = "PINFOLD_LOGLEVEL")]
    pub loglevel: String,
    #[command(subcommand)]
    pub command: ServiceCommand,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Run or manage the embedded IPFS node on its own.
    #[command(subcommand)]
    Ipfs(ipfs::IpfsCommand),
}

/// Installs the tracing subscriber (logs to stderr; stdout is kept for what scripts parse).
pub fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves when the process gets SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Entry point of the `pinfold` binary.
pub fn run_service() -> anyhow::Result<()> {
    let cli = Service::parse();
    init_logging(&cli.loglevel);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match cli.command {
            ServiceCommand::Ipfs(cmd) => ipfs::run(cmd).await,
        }
    })
}
