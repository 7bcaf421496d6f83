//! Command-line front ends. `pinfold` (≈ ipfs-cluster-service) is defined here; each
//! subcommand family lives in its own file.
//!
//! Binaries use `anyhow` for their errors; library components below use `thiserror` enums.

pub mod ctl;
pub mod daemon;
pub mod ipfs;
pub mod plugin;
pub mod service;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Pinfold: an IPFS Cluster peer with sandboxed policy plugins (≈ ipfs-cluster-service).
#[derive(Debug, Parser)]
#[command(name = "pinfold", version, about)]
pub struct Service {
    /// Path to the configuration and data folder (default ~/.pinfold).
    #[arg(short = 'c', long = "config", global = true, env = "PINFOLD_PATH")]
    pub config: Option<PathBuf>,
    /// Log level (error, warn, info, debug, trace), or a tracing filter.
    #[arg(
        short = 'l',
        long,
        global = true,
        default_value = "info",
        env = "PINFOLD_LOGLEVEL"
    )]
    pub loglevel: String,
    /// Debug logging (same as --loglevel debug).
    #[arg(short = 'd', long, global = true)]
    pub debug: bool,
    #[command(subcommand)]
    pub command: ServiceCommand,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Create a configuration (service.json, identity.json, peerstore).
    Init(service::InitArgs),
    /// Run the cluster peer (creates a default configuration first if there is none).
    Daemon(service::DaemonArgs),
    /// Export, import or clean the pinset of a stopped peer.
    #[command(subcommand)]
    State(service::StateCommand),
    /// Print the version.
    Version,
    /// Run or manage the embedded IPFS node on its own.
    #[command(subcommand)]
    Ipfs(ipfs::IpfsCommand),
    /// Try a WASM policy plugin without a daemon.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
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
    init_logging(if cli.debug { "debug" } else { &cli.loglevel });
    let folder = match &cli.config {
        Some(p) => crate::config::ConfigFolder::new(p.clone()),
        None => crate::config::ConfigFolder::new(crate::config::default_folder()?),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match cli.command {
            ServiceCommand::Init(args) => service::init(&folder, args),
            ServiceCommand::Daemon(args) => service::daemon(folder, args).await,
            ServiceCommand::State(cmd) => service::state(&folder, cmd),
            ServiceCommand::Version => {
                println!("{}", env!("CARGO_PKG_VERSION"));
                Ok(())
            }
            ServiceCommand::Ipfs(cmd) => ipfs::run(cmd).await,
            ServiceCommand::Plugin(cmd) => plugin::run(cmd),
        }
    })
}
