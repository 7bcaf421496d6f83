//! `pinfold-ctl`, a drop-in for `ipfs-cluster-ctl` v1.1.6: same commands, flags, output and
//! exit codes, so scripts keep working with the binary renamed.
//!
//! # What it owns
//! Parsing the command line ([`args`]), running each command through the REST client
//! ([`crate::client`]), printing as Go prints ([`format`], [`graph`],
//! [`humanize`]) and exiting with Go's codes. [`run`] does everything with the output streams
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

pub mod args;
pub mod format;
pub mod graph;
pub mod humanize;

#[cfg(test)]
mod tests;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use cid::Cid;
use clap::FromArgMatches;
use libp2p_identity::PeerId;
use multiaddr::Multiaddr;
use serde::Serialize;

use crate::client::{
    AddParams, AddSource, Client, ClientConfig, ClientError, MultipartUpload, PinTypeFilter,
};
use crate::types::{
    AddedOutput, GlobalPinInfo, Pin, PinMode, PinOptions, Timestamp, TrackerStatus,
    TrackerStatusFilter,
};
use args::{Cli, Command, HealthCommand, IpfsCommand, PeersCommand, PinCommand, PinWaitArgs};

/// The version `-v` prints: the IPFS Cluster release whose API and CLI this mirrors.
pub const VERSION: &str = "1.1.6";

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

/// Go's `hex.DecodeString`, with its messages.
fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let val = |c: u8| -> Result<u8, String> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(format!(
                "encoding/hex: invalid byte: U+{:04X} {:?}",
                c as u32, c as char
            )),
        }
    };
    let mut out = Vec::with_capacity(b.len() / 2);
    for pair in b.chunks(2) {
        if pair.len() == 1 {
            val(pair[0])?;
            return Err("encoding/hex: odd length hex string".into());
        }
        out.push(val(pair[0])? << 4 | val(pair[1])?);
    }
    Ok(out)
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
        write(io.out, &format!("{prog} version {VERSION}\n"));
        return Ok(());
    }

    // Go's `app.Before`: build the client for every command.
    let mut cfg = ClientConfig::default();
    if !cli.secret.is_empty() {
        let secret = decode_hex(&cli.secret).map_err(|e| check_err(io, "parsing secret", &e, 1))?;
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
        Command::Id => {
            let r = ctl.client.id().await;
            ctl.respond(r, format::id_text)
        }
        Command::Peers { command: None } => {
            sub_help("peers", ctl.io);
            Ok(())
        }
        Command::Peers {
            command: Some(PeersCommand::Ls),
        } => {
            let s = ctl.client.peers().await;
            ctl.stream(s, format::id_text).await
        }
        Command::Peers {
            command: Some(PeersCommand::Rm { args }),
        } => {
            let arg = args.first().cloned().unwrap_or_default();
            let pid: PeerId = arg.parse().map_err(|e: libp2p_identity::ParseError| {
                ctl.check_err("parsing peer ID", &e.to_string(), 1)
            })?;
            match ctl.client.peer_rm(&pid).await {
                Ok(()) => Ok(()),
                Err(e) => Err(ctl.fail(&e)),
            }
        }
        Command::Add(a) => ctl.add(a).await,
        Command::Pin { command: None } => {
            sub_help("pin", ctl.io);
            Ok(())
        }
        Command::Pin {
            command: Some(pc), ..
        } => ctl.pin(pc).await,
        Command::Status(s) => ctl.status(s).await,
        Command::Recover(r) => {
            let arg = r.args.first().cloned().unwrap_or_default();
            if arg.is_empty() {
                let s = ctl.client.recover_all(r.local).await;
                ctl.stream(s, format::global_pin_info_text).await
            } else {
                let c = ctl.parse_cid("parsing cid", &arg)?;
                let res = ctl.client.recover(&c, r.local).await;
                ctl.respond(res, format::global_pin_info_text)
            }
        }
        Command::Version => {
            let r = ctl.client.version().await;
            ctl.respond(r, format::version_text)
        }
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
        } => {
            let r = ctl.client.repo_gc(local).await;
            ctl.respond(r, format::repo_gc_text)
        }
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

/// Go's `statusReached`: has `gpi` reached `target` on `limit` peers (all when `limit` ≤ 0)?
pub fn status_reached(
    target: TrackerStatus,
    gpi: &GlobalPinInfo,
    limit: i64,
) -> Result<bool, String> {
    for pi in gpi.peer_map.values() {
        if matches!(
            pi.status,
            TrackerStatus::Undefined
                | TrackerStatus::ClusterError
                | TrackerStatus::PinError
                | TrackerStatus::UnpinError
        ) {
            return Err(format!(
                "error has occurred while attempting to reach status: {}",
                target.as_str()
            ));
        }
    }
    let limit = limit.min(gpi.peer_map.len() as i64);
    if limit > 0 {
        let n = gpi
            .peer_map
            .values()
            .filter(|pi| pi.status == target)
            .count() as i64;
        return Ok(n >= limit);
    }
    Ok(gpi.peer_map.values().all(|pi| {
        pi.status == target
            || (pi.status == TrackerStatus::Remote && target == TrackerStatus::Pinned)
    }))
}

/// Go's `parseMetadata`: `key=value` pairs.
fn parse_metadata(v: &[String]) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut m = std::collections::BTreeMap::new();
    for s in v {
        let Some((k, val)) = s.split_once('=') else {
            return Err("metadata were not in the format key=value".into());
        };
        m.insert(k.to_string(), val.to_string());
    }
    Ok(m)
}

fn expire_at(expire_in: &str) -> Result<Timestamp, String> {
    if expire_in.is_empty() {
        return Ok(Timestamp::ZERO);
    }
    let d = crate::config::duration::parse(expire_in)
        .map_err(|_| format!("time: invalid duration {expire_in:?}"))?;
    Ok(Timestamp::now().plus(d))
}

struct Ctl<'a, 'b> {
    client: Client,
    json: bool,
    io: &'a mut Io<'b>,
    progress: bool,
    debug: bool,
}

enum WaitError {
    Deadline,
    Client(ClientError),
    Unreached(String),
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

    async fn wait_for(
        &mut self,
        cid: &Cid,
        target: TrackerStatus,
        timeout: Duration,
        limit: i64,
    ) -> Result<Option<GlobalPinInfo>, Exit> {
        let client = self.client.clone();
        let poll = async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let st = client.status(cid, false).await.map_err(WaitError::Client)?;
                let done = status_reached(target, &st, limit).map_err(WaitError::Unreached)?;
                if done {
                    return Ok(st);
                }
            }
        };
        let res = if timeout > Duration::from_secs(1) {
            tokio::time::timeout(timeout, poll)
                .await
                .unwrap_or(Err(WaitError::Deadline))
        } else {
            poll.await
        };
        match res {
            Ok(st) => Ok(Some(st)),
            Err(WaitError::Deadline) => {
                Err(self.check_err("waiting for pin status", "context deadline exceeded", 62))
            }
            Err(WaitError::Client(e)) => {
                Err(self.check_err("waiting for pin status", &e.to_string(), 1))
            }
            Err(WaitError::Unreached(m)) => Err(self.check_err("waiting for pin status", &m, 1)),
        }
    }

    /// Go's `handlePinResponseFormatFlags`.
    async fn after_pin(&mut self, pin: Pin, target: TrackerStatus, w: &PinWaitArgs) -> Res {
        let mut status = None;
        if w.wait {
            let limit = match w.wait_limit {
                Some(l) => l,
                None if target == TrackerStatus::Pinned => {
                    pin.options.replication_factor_min as i64
                }
                None => 0,
            };
            status = self
                .wait_for(&pin.cid, target, w.wait_timeout, limit)
                .await?;
        }
        if w.no_status {
            self.show(&pin, format::pin_text);
            return Ok(());
        }
        let status = match status {
            Some(s) => s,
            None => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                match self.client.status(&pin.cid, false).await {
                    Ok(s) => s,
                    Err(e) => return Err(self.fail(&e)),
                }
            }
        };
        self.show(&status, format::global_pin_info_text);
        Ok(())
    }

    async fn pin(&mut self, pc: PinCommand) -> Res {
        match pc {
            PinCommand::Add(a) => {
                let arg = a.args.first().cloned().unwrap_or_default();
                let (mut rmin, mut rmax) = (a.replication_min, a.replication_max);
                if a.replication != 0 {
                    rmin = a.replication;
                    rmax = a.replication;
                }
                let mut user_allocs = None;
                if !a.allocations.is_empty() {
                    let items: Vec<&str> = a.allocations.split(',').map(str::trim).collect();
                    let peers: Vec<PeerId> = items.iter().filter_map(|s| s.parse().ok()).collect();
                    if peers.len() != items.len() {
                        return Err(self.check_err(
                            "decoding allocations",
                            "some peer IDs could not be decoded",
                            1,
                        ));
                    }
                    user_allocs = Some(peers);
                }
                let expire = expire_at(&a.expire_in)
                    .map_err(|e| self.check_err("parsing expire-in", &e, 1))?;
                let metadata = parse_metadata(&a.metadata)
                    .map_err(|e| self.check_err("parsing metadata", &e, 1))?;
                let opts = PinOptions {
                    replication_factor_min: rmin as i32,
                    replication_factor_max: rmax as i32,
                    name: a.name.clone(),
                    mode: PinMode::from_param(&a.mode),
                    user_allocations: user_allocs,
                    expire_at: expire,
                    metadata: Some(metadata),
                    ..Default::default()
                };
                let pin = match self.client.pin_path(&arg, &opts).await {
                    Ok(p) => p,
                    Err(e) => return Err(self.fail(&e)),
                };
                self.after_pin(pin, TrackerStatus::Pinned, &a.wait).await
            }
            PinCommand::Rm { args, wait } => {
                let arg = args.first().cloned().unwrap_or_default();
                let pin = match self.client.unpin_path(&arg).await {
                    Ok(p) => p,
                    Err(e) => return Err(self.fail(&e)),
                };
                self.after_pin(pin, TrackerStatus::Unpinned, &wait).await
            }
            PinCommand::Update(u) => {
                let from = u.args.first().cloned().unwrap_or_default();
                let to = u.args.get(1).cloned().unwrap_or_default();
                let from = self.parse_cid("parsing from Cid", &from)?;
                let expire = expire_at(&u.expire_in)
                    .map_err(|e| self.check_err("parsing expire-in", &e, 1))?;
                let opts = PinOptions {
                    pin_update: Some(from),
                    name: u.name.clone(),
                    expire_at: expire,
                    ..Default::default()
                };
                let pin = match self.client.pin_path(&to, &opts).await {
                    Ok(p) => p,
                    Err(e) => return Err(self.fail(&e)),
                };
                self.after_pin(pin, TrackerStatus::Pinned, &u.wait).await
            }
            PinCommand::Ls { args, filter } => {
                let arg = args.first().cloned().unwrap_or_default();
                if !arg.is_empty() {
                    let c = self.parse_cid("parsing cid", &arg)?;
                    let r = self.client.allocation(&c).await;
                    self.respond(r, format::pin_text)
                } else {
                    let s = self.client.allocations(PinTypeFilter::parse(&filter)).await;
                    self.stream(s, format::pin_text).await
                }
            }
        }
    }

    async fn status(&mut self, s: args::StatusArgs) -> Res {
        let mut cids = Vec::new();
        for c in &s.cids {
            cids.push(self.parse_cid("parsing cid", c)?);
        }
        match cids.len() {
            1 => match self.client.status(&cids[0], s.local).await {
                Ok(g) => {
                    self.show(&g, format::global_pin_info_text);
                    Ok(())
                }
                Err(e) => {
                    // Go prints the zero GlobalPinInfo it got along with the error.
                    if self.json {
                        self.out(format::ZERO_GLOBAL_PIN_INFO_JSON);
                    } else {
                        self.out(&format::zero_global_pin_info_text());
                    }
                    Err(self.fail(&e))
                }
            },
            0 => {
                let stripped: String = s.filter.chars().filter(|c| *c != ' ').collect();
                if !s.filter.is_empty() && TrackerStatusFilter::parse(&stripped).is_all() {
                    return Err(self.check_err("parsing filter flag", "invalid filter name", 1));
                }
                let st = self.client.status_all(&stripped, &[], s.local).await;
                self.stream(st, format::global_pin_info_text).await
            }
            _ => {
                let st = self.client.status_all("", &cids, s.local).await;
                self.stream(st, format::global_pin_info_text).await
            }
        }
    }

    async fn health(&mut self, h: HealthCommand) -> Res {
        match h {
            HealthCommand::Graph {
                file,
                all_ipfs_peers,
            } => {
                let g = match self.client.health_graph().await {
                    Ok(g) => g,
                    Err(e) => return Err(self.fail(&e)),
                };
                let dot = graph::make_dot(&g, all_ipfs_peers);
                if file.is_empty() {
                    self.out(&dot);
                } else {
                    let mut f = std::fs::File::create(&file).map_err(|e| {
                        self.check_err("creating output file", &format!("open {file}: {e}"), 1)
                    })?;
                    f.write_all(dot.as_bytes())
                        .map_err(|e| self.check_err("printing graph", &e.to_string(), 1))?;
                }
                Ok(())
            }
            HealthCommand::Metrics { args } => {
                let name = args.first().cloned().unwrap_or_default();
                if name.is_empty() {
                    let r = self.client.metric_names().await;
                    self.respond(r, |v: &Vec<String>| format::strings_text(v))
                } else {
                    let r = self.client.metrics(&name).await;
                    self.respond(r, |v: &Vec<crate::types::Metric>| {
                        let now = Timestamp::now().unix_nanos();
                        v.iter().map(|m| format::metric_text(m, now)).collect()
                    })
                }
            }
            HealthCommand::Alerts => {
                let r = self.client.alerts().await;
                self.respond(r, |v: &Vec<crate::client::Alert>| {
                    let now = Timestamp::now().unix_nanos();
                    v.iter().map(|a| format::alert_text(a, now)).collect()
                })
            }
            HealthCommand::Bandwidth => {
                let r = self.client.bandwidth().await;
                self.respond(r, format::bandwidth_text)
            }
        }
    }

    async fn add(&mut self, a: args::AddArgs) -> Res {
        if a.paths.is_empty() {
            return Err(self.check_err("", "need at least one path", 1));
        }
        let mut p = AddParams::default();
        p.pin.replication_factor_min = a.replication_min as i32;
        p.pin.replication_factor_max = a.replication_max as i32;
        p.pin.expire_at =
            expire_at(&a.expire_in).map_err(|e| self.check_err("parsing expire-in", &e, 1))?;
        p.pin.metadata = Some(
            parse_metadata(&a.metadata).map_err(|e| self.check_err("parsing metadata", &e, 1))?,
        );
        p.pin.name = a.name.clone();
        if !a.allocations.is_empty() {
            // Go's StringsToPeers: undecodable IDs are dropped silently
            p.pin.user_allocations = Some(
                a.allocations
                    .split(',')
                    .filter_map(|s| s.parse().ok())
                    .collect(),
            );
        }
        p.no_pin = a.no_pin;
        p.format = a.format.clone();
        p.shard = false;
        p.recursive = a.recursive;
        p.local = a.local;
        p.layout = a.layout.clone();
        p.chunker = a.chunker.clone();
        p.raw_leaves = a.raw_leaves;
        p.hidden = a.hidden;
        p.wrap = a.wrap_with_directory || a.paths.len() > 1;
        p.cid_version = a.cid_version;
        p.hash_fun = a.hash.clone();
        if p.hash_fun != AddParams::default().hash_fun {
            p.cid_version = 1;
        }
        if p.cid_version > 0 {
            p.raw_leaves = true;
        }
        p.no_copy = a.nocopy;
        if p.no_copy {
            p.raw_leaves = true;
        }
        if p.wrap && p.format == "car" {
            return Err(self.check_err(
                "",
                "only a single CAR file can be added and wrap-with-directory is not supported",
                1,
            ));
        }
        let sources: Vec<AddSource> = a.paths.iter().map(|s| AddSource::parse(s)).collect();
        let upload = match MultipartUpload::new(&sources, &p) {
            Ok(u) => u,
            Err(e) => return Err(self.fail(&e)),
        };

        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let bar = self
            .progress
            .then(|| spawn_progress_bar(sent.clone(), upload.total_file_bytes(), stop.clone()));
        let stop_bar = |stop: &AtomicBool| stop.store(true, Ordering::Relaxed);

        let qq = a.quieter;
        let q = a.quiet || qq;
        let mut buffered: Vec<AddedOutput> = Vec::new();
        let mut last: Option<AddedOutput> = None;
        let mut failure = None;
        match self.client.add(&upload, &p, Some(sent)).await {
            Err(e) => failure = Some(e),
            Ok(mut s) => {
                while let Some(item) = s.next().await {
                    match item {
                        Ok(v) if v.cid.is_none() => {} // a progress line
                        Ok(v) => {
                            stop_bar(&stop);
                            if a.no_stream {
                                buffered.push(v.clone());
                            } else if !qq {
                                self.show(&v, |v| format::added_text(v, q));
                            }
                            last = Some(v);
                        }
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
            }
        }
        stop_bar(&stop);
        if let Some(bar) = bar {
            let _ = bar.await;
        }
        if let Some(last) = last {
            if a.no_stream {
                let items = if qq { vec![last.clone()] } else { buffered };
                self.show(&items, |v| {
                    v.iter().map(|i| format::added_text(i, q)).collect()
                });
            } else if qq {
                self.show(&last, |v| format::added_text(v, q));
            }
            if a.wait
                && let Some(root) = last.cid
            {
                let mut rmin = p.pin.replication_factor_min as i64;
                if let Ok(alloc) = self.client.allocation(&root).await {
                    rmin = alloc.options.replication_factor_min as i64;
                }
                self.wait_for(&root, TrackerStatus::Pinned, a.wait_timeout, rmin)
                    .await?;
            }
        }
        match failure {
            Some(e) => Err(self.fail(&e)),
            None => Ok(()),
        }
    }
}

/// A one-line upload bar on the real stderr, redrawn every 200 ms until `stop`.
fn spawn_progress_bar(
    sent: Arc<AtomicU64>,
    total: u64,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut drawn = false;
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let n = sent.load(Ordering::Relaxed);
            let line = progress_line(n, total);
            let mut err = std::io::stderr();
            let _ = write!(err, "\r{line}");
            let _ = err.flush();
            drawn = true;
        }
        if drawn {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    })
}

/// `[#####     ]  1.2 MB / 4.0 MB` (the body includes multipart headers, so it may pass 100%).
pub fn progress_line(sent: u64, total: u64) -> String {
    const WIDTH: u64 = 30;
    let filled = (sent.min(total) * WIDTH).checked_div(total).unwrap_or(0) as usize;
    format!(
        "[{}{}] {} / {}",
        "#".repeat(filled),
        " ".repeat(WIDTH as usize - filled),
        humanize::bytes(sent),
        humanize::bytes(total)
    )
}

#[cfg(test)]
mod unit_tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::types::PinInfoShort;

    fn gpi(statuses: &[TrackerStatus]) -> GlobalPinInfo {
        GlobalPinInfo {
            cid: Cid::try_from("QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY").unwrap(),
            name: String::new(),
            allocations: vec![],
            origins: vec![],
            created: Timestamp::ZERO,
            metadata: None,
            peer_map: statuses
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    (
                        format!("peer{i}"),
                        PinInfoShort {
                            peername: String::new(),
                            ipfs_peer_id: String::new(),
                            ipfs_peer_addresses: vec![],
                            status: *s,
                            timestamp: Timestamp::ZERO,
                            error: String::new(),
                            attempt_count: 0,
                            priority_pin: false,
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn wait_conditions_like_go() {
        use TrackerStatus::*;
        let g = gpi(&[Pinned, Remote, Pinning]);
        assert_eq!(status_reached(Pinned, &g, 0), Ok(false));
        assert_eq!(status_reached(Pinned, &g, 1), Ok(true));
        assert_eq!(status_reached(Pinned, &g, 2), Ok(false));
        assert_eq!(status_reached(Pinned, &gpi(&[Pinned, Remote]), 0), Ok(true));
        assert_eq!(
            status_reached(Pinned, &gpi(&[Pinned, Remote]), -1),
            Ok(true)
        );
        assert_eq!(
            status_reached(Unpinned, &gpi(&[Unpinned, Remote]), 0),
            Ok(false)
        );
        // a limit above the number of peers is capped
        assert_eq!(status_reached(Pinned, &gpi(&[Pinned]), 5), Ok(true));
        assert_eq!(
            status_reached(Pinned, &gpi(&[Pinned, PinError]), 1),
            Err("error has occurred while attempting to reach status: pinned".into())
        );
        assert!(status_reached(Unpinned, &gpi(&[Undefined]), 0).is_err());
        assert_eq!(status_reached(Pinned, &gpi(&[]), 3), Ok(true));
    }

    #[test]
    fn small_helpers() {
        assert_eq!(decode_hex("0aFF"), Ok(vec![10, 255]));
        assert_eq!(
            decode_hex("abc"),
            Err("encoding/hex: odd length hex string".into())
        );
        assert_eq!(
            decode_hex("zz"),
            Err("encoding/hex: invalid byte: U+007A 'z'".into())
        );
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
