//! `pinfold-ctl`, a drop-in for `ipfs-cluster-ctl` v1.1.6: same commands, flags, output and
//! exit codes, so scripts keep working with the binary renamed.
//!
//! # What it owns
//! Parsing the command line ([`args`]), running each command through the REST client
//! ([`crate::client`]) in a file per command group (`commands/`: peers, pin, add, status and
//! recover, health, ipfs, and the `--wait` polling), printing as Go prints ([`format`],
//! [`graph`], [`humanize`]) and exiting with Go's codes. This file keeps the entry points, the
//! client's construction from the global flags, the dispatch to the commands and the shared
//! error and output handling. [`run`] does everything with the output streams
//! passed in and returns the exit code, so tests drive the whole program in-process.
//!
//! # Exit codes and error output (from `main.go`'s `formatResponse` and `checkErr`)
//! * 0: success, help, version.
//! * 1: usage errors; local errors (`error <doing>: <msg>` on stderr); API errors with code 0,
//!   i.e. the request could not be made (`An error occurred:` block on stdout).
//! * 2: the server answered with an error (`An error occurred:\n  Code: N\n  Message: …` on
//!   stdout, or its JSON with `--enc json`), including an `X-Stream-Error` trailer (code 500).
//! * 3: unknown command (`No help topic for 'x'`, urfave's exit).
//! * 62: a deadline passed (`--wait-timeout`, or `--timeout` while reading a stream).
//! * 125: canceled (Go's `context.Canceled`; nothing here cancels, kept for completeness).
//!
//! # `--wait`
//! `pin add|rm|update --wait` poll `GET /pins/<cid>` every second (first poll after one
//! second) until `--wait-limit` peers have the target status (`pinned`, or `unpinned` for
//! `rm`), or, without a limit, every peer has it (`remote` counting as done for `pinned`); a
//! peer in an error state stops the wait with an error. Without `--wait-limit`, pin and update
//! wait for the pin's `replication_factor_min` peers. `--wait-timeout` only applies when longer
//! than the one-second poll, as in Go. `add --wait` waits for the last added CID, with the
//! replication minimum read back from `/allocations/<cid>`. Without `--wait` and `--no-status`,
//! pin commands sleep one second then print the status, as Go does.
//!
//! # REST over libp2p
//! A `--host` with `/p2p/<peer id>` (e.g. `/ip4/10.0.0.1/tcp/9096/p2p/12D3…`) is reached over
//! the cluster swarm with `--secret`: a client-only swarm with a fresh identity dials the peer
//! and a local tunnel (`client::tunnel::Tunnel`) turns each HTTP connection into a
//! `/libp2p-http` stream; every command then runs unchanged. A wrong or missing secret fails
//! at once with "secret mismatch?". `/dnsaddr/` hosts are not resolved yet.
//!
//! # Deviations
//! Help is clap's layout (Go's texts); `--debug` only adds request errors' details; `add`
//! shows a progress bar on stderr when stderr is a terminal (Go's is disabled).

pub(crate) mod args;
mod commands;
pub(crate) mod format;
pub(crate) mod graph;
pub(crate) mod humanize;

#[cfg(test)]
mod libp2p_tests;
#[cfg(test)]
mod tests;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use cid::Cid;
use clap::FromArgMatches;
use multiaddr::Multiaddr;
use serde::Serialize;

use crate::client::{Client, ClientConfig, ClientError};
use args::{Cli, Command, IpfsCommand, PeersCommand};

/// Where the program writes.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

impl std::fmt::Debug for Io<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Io")
    }
}

/// An early exit with this code (the message is already printed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub i32);

type Res = Result<(), Exit>;

/// The binary's entry point: real arguments, stdout, stderr; returns the exit code.
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error starting: {e}");
            return 1;
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut err = std::io::stderr();
    let tty = std::io::stderr().is_terminal();
    let code = rt.block_on(run(
        args,
        &mut Io {
            out: &mut out,
            err: &mut err,
        },
        tty,
    ));
    let _ = out.flush();
    code
}

/// Runs one command line (`args[0]` is the program name) and returns the exit code.
/// `progress` enables the upload progress bar of `add` (on the real stderr).
pub async fn run(args: Vec<String>, io: &mut Io<'_>, progress: bool) -> i32 {
    match run_inner(args, io, progress).await {
        Ok(()) => 0,
        Err(Exit(c)) => c,
    }
}

fn prog_name(args: &[String]) -> String {
    args.first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pinfold-ctl".into())
}

fn write(w: &mut dyn Write, s: &str) {
    // Output errors (closed pipe) are not worth failing a cluster operation for.
    let _ = w.write_all(s.as_bytes());
    let _ = w.flush();
}

/// How long the libp2p handshake with a `/p2p/` host may take.
const LIBP2P_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects the REST-over-libp2p tunnel to `host` with the `--secret` bytes.
async fn open_tunnel(
    host: &Multiaddr,
    secret: Option<&[u8]>,
) -> Result<crate::client::tunnel::Tunnel, String> {
    let secret = match secret {
        None | Some([]) => None,
        Some(b) => Some(crate::config::ClusterSecret::from_bytes(
            b.try_into().map_err(|_| {
                format!(
                    "the cluster secret must be 32 bytes (64 hex characters), not {}",
                    b.len()
                )
            })?,
        )),
    };
    crate::client::tunnel::Tunnel::connect(host, secret.as_ref(), LIBP2P_HANDSHAKE_TIMEOUT)
        .await
        .map_err(|e| e.to_string())
}

/// Go's `parseCredentials`: `user[:password]`.
fn parse_credentials(s: &str) -> (String, String) {
    match s.split_once(':') {
        Some((u, p)) => (u.to_string(), p.to_string()),
        None => (s.to_string(), String::new()),
    }
}

fn clap_error(e: clap::Error, io: &mut Io<'_>) -> Exit {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            write(io.out, &e.render().to_string());
            Exit(0)
        }
        ErrorKind::InvalidSubcommand => {
            let name = match e.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            write(io.err, &format!("No help topic for '{name}'\n"));
            Exit(3)
        }
        _ => {
            write(io.err, &format!("Incorrect Usage: {}", e.render()));
            Exit(1)
        }
    }
}

async fn run_inner(args: Vec<String>, io: &mut Io<'_>, progress: bool) -> Res {
    let prog = prog_name(&args);
    let cmd = args::command(&prog);
    let argv = args::normalize(&cmd, &args);
    let matches = cmd
        .clone()
        .try_get_matches_from(argv)
        .map_err(|e| clap_error(e, io))?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| clap_error(e, io))?;
    if cli.version {
        write(io.out, &format!("{prog} {}\n", super::version_text()));
        return Ok(());
    }

    // Go's `app.Before`: build the client for every command.
    let mut cfg = ClientConfig::default();
    if !cli.secret.is_empty() {
        let secret = crate::gocompat::hex::decode(&cli.secret)
            .map_err(|e| check_err(io, "parsing secret", &e.to_string(), 1))?;
        cfg.secret = Some(secret);
    }
    cfg.timeout = (cli.timeout > 0).then(|| Duration::from_secs(cli.timeout as u64));
    cfg.https = cli.https;
    cfg.no_check_certificate = cli.no_check_certificate;
    let (user, pass) = parse_credentials(cli.basic_auth.as_deref().unwrap_or(""));
    if !user.is_empty() {
        if !cfg.https && !cli.force_http {
            if cli.debug {
                write(
                    io.err,
                    "WARN: SSL automatically enabled with basic auth credentials. Set \"force-http\" to disable\n",
                );
            }
            cfg.https = true;
        }
        cfg.basic_auth = Some((user, pass));
    }
    if cli.encoding != "text" && cli.encoding != "json" {
        return Err(check_err(io, "", "unsupported encoding", 1));
    }
    for addr in cli.host.split(',') {
        let ma: Multiaddr = addr.parse().map_err(|e: multiaddr::Error| {
            check_err(
                io,
                "parsing host multiaddress",
                &format!("failed to parse multiaddr {addr:?}: {e}"),
                1,
            )
        })?;
        cfg.hosts.push(ma);
    }
    // REST over libp2p: a /p2p/ host is reached through a tunnel on a client-only swarm; it
    // lives until the command is done
    let _tunnel = match cfg
        .hosts
        .iter()
        .find(|h| h.iter().any(|p| matches!(p, multiaddr::Protocol::P2p(_))))
        .cloned()
    {
        Some(host) => {
            let tunnel = open_tunnel(&host, cfg.secret.as_deref())
                .await
                .map_err(|e| check_err(io, "creating API client", &e, 1))?;
            cfg.unix_socket = Some(tunnel.socket_path().to_path_buf());
            cfg.hosts = vec![host];
            cfg.https = false; // noise encrypts the stream; Go's libp2p client ignores SSL too
            Some(tunnel)
        }
        None => None,
    };
    let client =
        Client::new(&cfg).map_err(|e| check_err(io, "creating API client", e.message(), 1))?;

    let Some(command) = cli.command else {
        write(io.out, &cmd.clone().render_help().to_string());
        return Ok(());
    };
    let mut ctl = Ctl {
        client,
        json: cli.encoding == "json",
        io,
        progress,
        debug: cli.debug,
    };
    let sub_help = |name: &str, io: &mut Io<'_>| {
        let mut c = cmd.clone();
        if let Some(sc) = c.find_subcommand_mut(name) {
            let mut sc = sc.clone().bin_name(format!("{prog} {name}"));
            write(io.out, &sc.render_help().to_string());
        }
    };
    match command {
        Command::Id => ctl.id().await,
        Command::Peers { command: None } => {
            sub_help("peers", ctl.io);
            Ok(())
        }
        Command::Peers {
            command: Some(PeersCommand::Ls),
        } => ctl.peers_ls().await,
        Command::Peers {
            command: Some(PeersCommand::Rm { args }),
        } => ctl.peers_rm(args).await,
        Command::Add(a) => ctl.add(a).await,
        Command::Pin { command: None } => {
            sub_help("pin", ctl.io);
            Ok(())
        }
        Command::Pin {
            command: Some(pc), ..
        } => ctl.pin(pc).await,
        Command::Status(s) => ctl.status(s).await,
        Command::Recover(r) => ctl.recover(r).await,
        Command::Version => ctl.version().await,
        Command::Health { command: None } => {
            sub_help("health", ctl.io);
            Ok(())
        }
        Command::Health {
            command: Some(h), ..
        } => ctl.health(h).await,
        Command::Ipfs { command: None } => {
            sub_help("ipfs", ctl.io);
            Ok(())
        }
        Command::Ipfs {
            command: Some(IpfsCommand::Gc { local }),
        } => ctl.ipfs_gc(local).await,
        Command::Commands => {
            let mut s = String::new();
            walk_commands(&cmd, &prog, &mut s);
            s.push_str(&format!("{prog} help\n"));
            write(ctl.io.out, &s);
            Ok(())
        }
    }
}

/// Go's `walkCommands`: every command and subcommand, depth first, in declaration order.
fn walk_commands(cmd: &clap::Command, prefix: &str, out: &mut String) {
    for sc in cmd.get_subcommands() {
        let name = format!("{prefix} {}", sc.get_name());
        out.push_str(&name);
        out.push('\n');
        walk_commands(sc, &name, out);
    }
}

fn check_err(io: &mut Io<'_>, doing: &str, msg: &str, code: i32) -> Exit {
    write(io.err, &format!("error {doing}: {msg}\n"));
    Exit(code)
}

struct Ctl<'a, 'b> {
    client: Client,
    json: bool,
    io: &'a mut Io<'b>,
    progress: bool,
    debug: bool,
}

impl Ctl<'_, '_> {
    fn out(&mut self, s: &str) {
        write(self.io.out, s);
    }

    fn check_err(&mut self, doing: &str, msg: &str, code: i32) -> Exit {
        check_err(self.io, doing, msg, code)
    }

    /// Go's `formatResponse` with an error.
    fn fail(&mut self, e: &ClientError) -> Exit {
        if self.debug {
            write(self.io.err, &format!("DEBUG: {e:?}\n"));
        }
        match e.api_code() {
            None => {
                let code = if e.is_timeout() { 62 } else { 1 };
                self.check_err("", &e.to_string(), code)
            }
            Some(code) => {
                let s = if self.json {
                    format::error_json(code, e.message())
                } else {
                    format::error_text(code, e.message())
                };
                self.out(&s);
                Exit(if code == 0 { 1 } else { 2 })
            }
        }
    }

    fn show<T: Serialize + ?Sized>(&mut self, v: &T, text: impl FnOnce(&T) -> String) {
        let s = if self.json { format::json(v) } else { text(v) };
        self.out(&s);
    }

    fn respond<T: Serialize>(&mut self, r: Result<T, ClientError>, text: fn(&T) -> String) -> Res {
        match r {
            Ok(v) => {
                self.show(&v, text);
                Ok(())
            }
            Err(e) => Err(self.fail(&e)),
        }
    }

    async fn stream<T: Serialize + crate::client::FromWire>(
        &mut self,
        s: Result<crate::client::ItemStream<T>, ClientError>,
        text: fn(&T) -> String,
    ) -> Res {
        let mut s = s.map_err(|e| self.fail(&e))?;
        while let Some(item) = s.next().await {
            match item {
                Ok(v) => self.show(&v, text),
                Err(e) => return Err(self.fail(&e)),
            }
        }
        Ok(())
    }

    fn parse_cid(&mut self, doing: &str, s: &str) -> Result<Cid, Exit> {
        Cid::try_from(s).map_err(|e| self.check_err(doing, &e.to_string(), 1))
    }
}

#[cfg(test)]
mod unit_tests {
    use super::commands::{expire_at, parse_metadata, progress_line};
    use super::*;

    #[test]
    fn small_helpers() {
        assert_eq!(parse_credentials("u:p:q"), ("u".into(), "p:q".into()));
        assert_eq!(parse_credentials("u"), ("u".into(), String::new()));
        assert!(parse_metadata(&["a=b=c".into()]).unwrap()["a"] == "b=c");
        assert!(parse_metadata(&["ab".into()]).is_err());
        assert_eq!(expire_at("x"), Err("time: invalid duration \"x\"".into()));
        assert!(expire_at("").unwrap().is_zero());
        assert_eq!(
            progress_line(50, 100),
            format!("[{}{}] 50 B / 100 B", "#".repeat(15), " ".repeat(15))
        );
    }
}
