//! Command-line front ends. `pinfold` (≈ ipfs-cluster-service) is defined here; each
//! subcommand family lives in its own file.
//!
//! Binaries use `anyhow` for their errors; library components below use `thiserror` enums.
//!
//! Both binaries print one version line (`pinfold 0.1.0 (IPFS Cluster API 1.1.6)`): Pinfold's
//! own release and the IPFS Cluster release whose API it implements. Logs go to stderr, as
//! text (coloured only when stderr is a terminal, so files and pipes get no escape codes) or as
//! one JSON object per line (`--log-format json`) for log shippers.

pub mod ctl;
pub mod daemon;
pub(crate) mod ipfs;
pub(crate) mod plugin;
pub(crate) mod service;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::OnceLock;

use clap::{Parser, Subcommand, ValueEnum};

use crate::types::API_VERSION;

/// What `--version` prints after the program's name: Pinfold's version and the IPFS Cluster
/// API version it implements.
pub(crate) fn version_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{} (IPFS Cluster API {API_VERSION})",
            env!("CARGO_PKG_VERSION")
        )
    })
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines (coloured when stderr is a terminal).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Pinfold: an IPFS Cluster peer with sandboxed policy plugins (≈ ipfs-cluster-service).
#[derive(Debug, Parser)]
#[command(name = "pinfold", version = version_text(), about)]
pub(crate) struct Service {
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
    /// Log output: text, or one JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: ServiceCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ServiceCommand {
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
/// Text is coloured only when stderr is a terminal.
pub(crate) fn init_logging(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Resolves when the process gets SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
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
    init_logging(
        if cli.debug { "debug" } else { &cli.loglevel },
        cli.log_format,
    );
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
