//! The `pinfold` service commands besides `daemon`'s assembly: `init`, `daemon`'s flags, and
//! `state export|import|cleanup` (IPFS Cluster's `ipfs-cluster-service` flags and behaviour).
//!
//! The state commands need the peer stopped: they take the folder lock, as the daemon does,
//! so running one beside a daemon fails clearly instead of racing it. `import` and `export`
//! show progress on stderr for large pinsets.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use libp2p_identity::PeerId;
use multiaddr::Multiaddr;

use super::daemon;
use crate::config::{ClusterSecret, ConfigFolder, InitOptions, process_env};
use crate::consensus::cleanup_data_folder;
use crate::state::{ImportOverrides, State};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Consensus component (only raft is implemented).
    #[arg(long, default_value = "raft")]
    pub consensus: String,
    /// Overwrite an existing configuration.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Comma-separated multiaddresses (with /p2p/<id>) of the other peers.
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<String>,
    /// Pick free random ports for every listener.
    #[arg(long)]
    pub randomports: bool,
    /// Ask for the cluster secret instead of generating one (64 hex characters on stdin).
    #[arg(short = 's', long = "custom-secret")]
    pub custom_secret: bool,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Accepted for compatibility (nothing to upgrade).
    #[arg(short = 'u', long)]
    pub upgrade: bool,
    /// Join the cluster of these peers (comma-separated `<multiaddr>/p2p/<peer id>`); any
    /// existing raft data is moved aside first, as IPFS Cluster does.
    #[arg(short = 'j', long, value_delimiter = ',')]
    pub bootstrap: Vec<multiaddr::Multiaddr>,
    /// Leave the cluster when shutting down.
    #[arg(short = 'x', long)]
    pub leave: bool,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print the pinset as IPFS Cluster's NDJSON of pins.
    Export {
        /// Write to this file instead of stdout.
        #[arg(short = 'f', long)]
        file: Option<PathBuf>,
    },
    /// Replace the pinset with the pins in a file (or stdin) exported by pinfold or IPFS Cluster.
    Import {
        /// The NDJSON file (stdin when omitted).
        file: Option<PathBuf>,
        /// Do not ask for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
        /// Override every pin's replication_factor_min.
        #[arg(long = "replication-min", alias = "rmin")]
        rmin: Option<i32>,
        /// Override every pin's replication_factor_max.
        #[arg(long = "replication-max", alias = "rmax")]
        rmax: Option<i32>,
        /// Override every pin's allocations (comma-separated peer IDs).
        #[arg(long = "allocations", alias = "allocs", value_delimiter = ',')]
        allocations: Vec<String>,
    },
    /// Remove the pinset and the raft data (kept as a rotated backup).
    Cleanup {
        /// Do not ask for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
}

pub fn init(folder: &ConfigFolder, args: InitArgs) -> anyhow::Result<()> {
    let consensus =
        crate::config::Consensus::from_str(&args.consensus).map_err(anyhow::Error::msg)?;
    let peers = args
        .peers
        .iter()
        .map(|p| {
            Multiaddr::from_str(p).with_context(|| format!("--peers: invalid multiaddress {p:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let custom_secret = if args.custom_secret {
        eprint!("Enter cluster secret (32-byte hex string): ");
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        match ClusterSecret::parse_hex(line.trim()).map_err(anyhow::Error::msg)? {
            Some(s) => Some(s),
            None => bail!("the custom secret is empty"),
        }
    } else {
        None
    };
    let opts = InitOptions {
        consensus,
        force: args.force,
        peers,
        random_ports: args.randomports,
        custom_secret,
    };
    let report = folder.init(&opts, &process_env)?;
    crate::p2p::swarm::peerstore::write(&report.peerstore, &opts.peers)
        .with_context(|| format!("writing the peerstore {}", report.peerstore.display()))?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    println!("Configuration written to {}", report.service_json.display());
    if report.identity_created {
        println!("Identity written to {}", report.identity_json.display());
    } else {
        println!("Identity kept: {}", report.identity_json.display());
    }
    println!(
        "Peerstore written to {} ({} peers)",
        report.peerstore.display(),
        report.peers
    );
    Ok(())
}

pub async fn daemon(folder: ConfigFolder, args: DaemonArgs) -> anyhow::Result<()> {
    let options = daemon::DaemonOptions {
        bootstrap: args.bootstrap,
        leave: args.leave,
    };
    daemon::run(folder, options, super::shutdown_signal()).await
}

/// Counts lines going through a reader or writer and reports every 10,000 on stderr.
struct Progress<T> {
    inner: T,
    lines: u64,
    verb: &'static str,
}

impl<T> Progress<T> {
    fn count(&mut self, buf: &[u8]) {
        let before = self.lines / 10_000;
        self.lines += buf.iter().filter(|b| **b == b'\n').count() as u64;
        if self.lines / 10_000 > before {
            eprint!("\r{} {} pins…", self.verb, self.lines);
        }
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count(&buf[..n]);
        Ok(n)
    }
}

impl<W: Write> Write for Progress<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub fn state(folder: &ConfigFolder, cmd: StateCommand) -> anyhow::Result<()> {
    let _lock = folder.lock()?;
    let loaded = folder.load(&process_env)?;
    let service = loaded.service;
    let path = daemon::state_path(folder.path(), &service);
    match cmd {
        StateCommand::Export { file } => {
            // a peer that never ran (or was cleaned up) has an empty pinset
            std::fs::create_dir_all(path.parent().expect("state file has a folder"))?;
            let state = State::open(&path)?;
            let out: Box<dyn Write> = match &file {
                Some(f) => Box::new(
                    std::fs::File::create(f)
                        .with_context(|| format!("cannot create {}", f.display()))?,
                ),
                None => Box::new(std::io::stdout().lock()),
            };
            let mut out = Progress {
                inner: std::io::BufWriter::new(out),
                lines: 0,
                verb: "exported",
            };
            let n = state.export(&mut out)?;
            out.flush()?;
            if n >= 10_000 {
                eprintln!();
            }
            Ok(())
        }
        StateCommand::Import {
            file,
            force: _,
            rmin,
            rmax,
            allocations,
        } => {
            let allocations = if allocations.is_empty() {
                None
            } else {
                Some(
                    allocations
                        .iter()
                        .map(|p| {
                            PeerId::from_str(p)
                                .with_context(|| format!("--allocations: invalid peer ID {p:?}"))
                        })
                        .collect::<anyhow::Result<Vec<_>>>()?,
                )
            };
            let input: Box<dyn Read> = match &file {
                Some(f) => Box::new(
                    std::fs::File::open(f)
                        .with_context(|| format!("cannot open {}", f.display()))?,
                ),
                None => Box::new(std::io::stdin().lock()),
            };
            std::fs::create_dir_all(path.parent().expect("state file has a folder"))?;
            let state = State::open(&path)?;
            let overrides = ImportOverrides {
                replication_factor_min: rmin,
                replication_factor_max: rmax,
                allocations,
            };
            let n = state.import(
                Progress {
                    inner: std::io::BufReader::new(input),
                    lines: 0,
                    verb: "imported",
                },
                &overrides,
            )?;
            eprintln!("\rimported {n} pins");
            Ok(())
        }
        StateCommand::Cleanup { force: _ } => {
            let data = service.consensus.raft.data_path(folder.path());
            if data.exists() {
                cleanup_data_folder(&data, service.consensus.raft.backups_rotate)
                    .with_context(|| format!("cannot clean {}", data.display()))?;
            }
            eprintln!(
                "pinset and raft data removed (backup kept beside {})",
                data.display()
            );
            Ok(())
        }
    }
}
