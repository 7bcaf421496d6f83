//! Black-box helpers for a single Pinfold cluster peer: [`ClusterPeer`] runs `pinfold init`,
//! edits `service.json`, starts and stops `pinfold daemon`, drives `pinfold-ctl`, and polls the
//! REST API; [`http_request`] is a small blocking HTTP/1.1 client that shows what reqwest
//! hides (trailers, exact status lines, 3xx without following, oversized headers).
//!
//! What these helpers assume of the daemon (the documented behaviour; see also the top of each
//! `tests/cluster_*.rs`):
//! * `pinfold init --randomports -c DIR` exits 0 and writes `DIR/service.json` (IPFS Cluster's
//!   layout plus `ipfs_node.embedded`), `DIR/identity.json` (`{"id","private_key"}`) and
//!   `DIR/peerstore`. The REST address is `api.restapi.http_listen_multiaddress` (a string or a
//!   list, `/ip4/127.0.0.1/tcp/<port>`), the embedded node's Kubo RPC API is
//!   `ipfs_node.embedded.api_listen_multiaddress`.
//! * `pinfold daemon -c DIR` prints [`READY_LINE`] once it serves (stdout; stderr is accepted
//!   too, as Go prints it through its logger), and may print
//!   `REST API listening on /ip4/127.0.0.1/tcp/<port>` before; SIGTERM stops it with exit 0.
//! * `pinfold state export|import|cleanup ... -c DIR` work on a stopped peer.
//!
//! Until `pinfold init`/`pinfold daemon` exist, [`ClusterPeer::init`] and
//! [`ClusterPeer::start`] fail with a message saying so, with the command's output.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Finished, Running, parse_tcp_multiaddr, pinfold_bin, run_with_deadline, temp_dir};

/// The line IPFS Cluster prints once the peer is ready, and Pinfold too.
pub const READY_LINE: &str = "** IPFS Cluster is READY **";
/// The prefix of the line naming the REST API address.
pub const REST_LISTEN_PREFIX: &str = "REST API listening on ";
/// How long a daemon may take to become ready (embedded node, consensus, APIs).
pub const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long a daemon may take to exit after SIGTERM.
pub const STOP_DEADLINE: Duration = Duration::from_secs(30);
/// How long one `pinfold`/`pinfold-ctl` command may run.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(120);
/// How long one HTTP exchange may take.
pub const HTTP_DEADLINE: Duration = Duration::from_secs(120);
/// How often status polls repeat.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The `pinfold-ctl` binary Cargo built for this test run.
pub fn ctl_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pinfold-ctl"))
}

/// A command with no inherited Pinfold/IPFS Cluster settings from the developer's shell.
fn clean_command(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("CLUSTER_") || name == "PINFOLD_PATH" || name == "IPFS_CLUSTER_PATH" {
            cmd.env_remove(&name);
        }
    }
    cmd
}

/// The first multiaddress of a `config.Strings` value (a string or a list of strings).
pub fn first_multiaddr(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => items.iter().find_map(|i| i.as_str().map(str::to_string)),
        _ => None,
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One Pinfold peer with its own configuration folder (a fresh temporary directory), ports
/// (`init --randomports`) and processes. The daemon is killed when this is dropped.
pub struct ClusterPeer {
    /// Holds `config/` (the configuration folder) and scratch files.
    root: tempfile::TempDir,
    config: PathBuf,
    peer_id: String,
    peername: String,
    rest: SocketAddr,
    rest_multiaddr: String,
    https: bool,
    ipfs_api: Option<SocketAddr>,
    process: Option<Running>,
    /// The `REST API listening on …` line of the last start, if printed.
    listen_line: Option<String>,
    /// Output of the previous daemon runs, for failure messages.
    history: String,
    /// Extra arguments of the next `pinfold daemon` (cleared once it started).
    next_args: Vec<String>,
}

impl ClusterPeer {
    /// `pinfold init --randomports -c <tmp>/config`, then `configure` edits service.json.
    pub fn init(configure: impl FnOnce(&mut Value)) -> ClusterPeer {
        let root = temp_dir("pinfold-cluster-");
        let config = root.path().join("config");
        let init = run_with_deadline(
            clean_command(&pinfold_bin())
                .args(["init", "--randomports", "-c"])
                .arg(&config),
            COMMAND_DEADLINE,
        );
        assert!(
            init.success(),
            "`pinfold init --randomports -c {}` failed; these black-box tests need `pinfold init` \
             and `pinfold daemon` (the single-peer daemon): {}",
            config.display(),
            init.describe()
        );
        let mut peer = ClusterPeer {
            root,
            config,
            peer_id: String::new(),
            peername: String::new(),
            rest: SocketAddr::from(([127, 0, 0, 1], 0)),
            rest_multiaddr: String::new(),
            https: false,
            ipfs_api: None,
            process: None,
            listen_line: None,
            history: String::new(),
            next_args: Vec::new(),
        };
        // the cluster swarm listens on loopback only (init writes 0.0.0.0, as Go does)
        peer.edit_service_json(|s| {
            let listen = &mut s["cluster"]["listen_multiaddress"];
            let text = listen
                .to_string()
                .replace("/ip4/0.0.0.0/", "/ip4/127.0.0.1/");
            *listen = serde_json::from_str(&text).expect("JSON");
        });
        let identity = peer.read_json("identity.json");
        peer.peer_id = identity["id"]
            .as_str()
            .unwrap_or_else(|| panic!("identity.json has no \"id\": {identity}"))
            .to_string();
        peer.edit_service_json(configure);
        peer
    }

    /// [`ClusterPeer::init`] with the configuration `init` wrote.
    pub fn init_default() -> ClusterPeer {
        ClusterPeer::init(|_| {})
    }

    /// `init` + `start`.
    pub fn start_default() -> ClusterPeer {
        let mut peer = ClusterPeer::init_default();
        peer.start();
        peer
    }

    /// `init(configure)` + `start`.
    pub fn start_with(configure: impl FnOnce(&mut Value)) -> ClusterPeer {
        let mut peer = ClusterPeer::init(configure);
        peer.start();
        peer
    }

    /// The configuration folder.
    pub fn config_dir(&self) -> &Path {
        &self.config
    }

    /// A scratch directory beside the configuration folder, removed with the peer.
    pub fn scratch(&self) -> &Path {
        self.root.path()
    }

    pub fn read_json(&self, file: &str) -> Value {
        let path = self.config.join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON ({e}):\n{text}", path.display()))
    }

    /// service.json as JSON.
    pub fn service_json(&self) -> Value {
        self.read_json("service.json")
    }

    /// Applies `edit` to service.json (only while the daemon is stopped) and re-reads the
    /// addresses from it.
    pub fn edit_service_json(&mut self, edit: impl FnOnce(&mut Value)) {
        assert!(
            self.process.is_none(),
            "service.json is edited only while the daemon is stopped"
        );
        let mut service = self.service_json();
        edit(&mut service);
        let path = self.config.join("service.json");
        let text = serde_json::to_string_pretty(&service).expect("JSON");
        std::fs::write(&path, text + "\n")
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        self.read_addresses(&service);
    }

    fn read_addresses(&mut self, service: &Value) {
        let restapi = &service["api"]["restapi"];
        let ma = first_multiaddr(&restapi["http_listen_multiaddress"]).unwrap_or_else(|| {
            panic!("service.json has no api.restapi.http_listen_multiaddress: {service:#}")
        });
        self.rest = parse_tcp_multiaddr(&ma)
            .unwrap_or_else(|| panic!("cannot parse the REST address {ma:?} of service.json"));
        assert_ne!(self.rest.port(), 0, "init --randomports left REST port 0");
        self.rest_multiaddr = ma;
        self.https = restapi["ssl_cert_file"]
            .as_str()
            .is_some_and(|s| !s.is_empty());
        self.ipfs_api =
            first_multiaddr(&service["ipfs_node"]["embedded"]["api_listen_multiaddress"])
                .and_then(|ma| parse_tcp_multiaddr(&ma));
        self.peername = service["cluster"]["peername"]
            .as_str()
            .unwrap_or_default()
            .to_string();
    }

    /// The peer ID from identity.json.
    pub fn peer_id(&self) -> &str {
        &self.peer_id
    }

    /// `cluster.peername` from service.json.
    pub fn peername(&self) -> &str {
        &self.peername
    }

    pub fn rest_addr(&self) -> SocketAddr {
        self.rest
    }

    /// `/ip4/127.0.0.1/tcp/<port>`, as `--host` of pinfold-ctl takes it.
    pub fn rest_multiaddr(&self) -> &str {
        &self.rest_multiaddr
    }

    /// `http://127.0.0.1:<port>` (`https://` when service.json sets a certificate).
    pub fn rest_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.rest)
    }

    /// The embedded IPFS node's Kubo RPC API.
    pub fn ipfs_api_addr(&self) -> SocketAddr {
        self.ipfs_api.unwrap_or_else(|| {
            panic!("service.json has no ipfs_node.embedded.api_listen_multiaddress")
        })
    }

    /// `http://127.0.0.1:<port>` of the embedded node (no `/api/v0`).
    pub fn ipfs_api_url(&self) -> String {
        format!("http://{}", self.ipfs_api_addr())
    }

    /// The `REST API listening on …` line of the last start, if the daemon printed one.
    pub fn listen_line(&self) -> Option<&str> {
        self.listen_line.as_deref()
    }

    pub fn is_running(&self) -> bool {
        self.process.is_some()
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.process.as_ref().expect("daemon running").pid()
    }

    /// `pinfold daemon -c DIR` with output captured, not waited for.
    pub fn spawn_daemon(&self) -> Running {
        Running::spawn_merged(
            clean_command(&pinfold_bin())
                .args(["daemon", "-c"])
                .arg(&self.config)
                .args(&self.next_args),
        )
    }

    /// Starts the daemon with `--bootstrap <addr>` (this start only: a restart must not join
    /// anew, which would discard its raft data).
    pub fn start_joining(&mut self, bootstrap: &str) {
        self.spawn_joining(bootstrap);
        self.wait_ready();
    }

    /// [`ClusterPeer::start_joining`] without waiting.
    pub fn spawn_joining(&mut self, bootstrap: &str) {
        self.next_args = vec!["--bootstrap".into(), bootstrap.into()];
        self.spawn();
    }

    /// The cluster swarm address of the running peer, `<multiaddr>/p2p/<id>` (from `/id`).
    pub fn swarm_multiaddr(&self) -> String {
        let id = self.json_ok("GET", "/id");
        id["addresses"][0]
            .as_str()
            .unwrap_or_else(|| panic!("/id has no addresses: {id}"))
            .to_string()
    }

    /// Starts the daemon and waits for [`READY_LINE`] (and the REST port to accept
    /// connections), failing with the daemon's output if it exits or the deadline passes.
    pub fn start(&mut self) {
        self.spawn();
        self.wait_ready();
    }

    /// Starts the daemon without waiting (peers of one cluster start together: none is ready
    /// before a majority runs); [`ClusterPeer::wait_ready`] waits.
    pub fn spawn(&mut self) {
        assert!(self.process.is_none(), "the daemon is already running");
        self.process = Some(self.spawn_daemon());
        self.next_args.clear();
    }

    /// Waits for the daemon [`ClusterPeer::spawn`] started to be ready.
    pub fn wait_ready(&mut self) {
        self.wait_ready_within(START_DEADLINE);
    }

    /// [`ClusterPeer::wait_ready`] with another deadline (a peer that first catches up on a
    /// large pinset).
    pub fn wait_ready_within(&mut self, deadline: Duration) {
        let mut process = self.process.take().expect("spawned");
        let mut listen = None;
        process.wait_for_stdout_line(
            &format!(
                "{READY_LINE:?} (pinfold daemon -c {})",
                self.config.display()
            ),
            deadline,
            |line| {
                if let Some((_, addr)) = line.split_once(REST_LISTEN_PREFIX) {
                    listen = Some(addr.trim().to_string());
                }
                line.contains(READY_LINE).then_some(())
            },
        );
        self.listen_line = listen;
        let rest = self.rest;
        let start = Instant::now();
        while TcpStream::connect_timeout(&rest, Duration::from_secs(1)).is_err() {
            if start.elapsed() > START_DEADLINE {
                panic!(
                    "the daemon printed {READY_LINE:?} but its REST API {rest} accepts no \
                     connection\n{}",
                    process.output()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.process = Some(process);
    }

    /// Sends a signal (`STOP`, `CONT`, …) to the running daemon.
    pub fn signal(&self, signal: &str) {
        let pid = self.pid().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap_or_else(|e| panic!("cannot run `kill -{signal} {pid}`: {e}"));
        assert!(sent.success(), "`kill -{signal} {pid}` failed: {sent}");
    }

    /// Waits for the daemon to exit by itself; returns its exit status.
    pub fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let mut process = self.process.take().expect("daemon running");
        let status = process.wait_with_deadline(deadline);
        let output = process.output();
        self.history.push_str(&output);
        status.unwrap_or_else(|| {
            panic!(
                "the daemon did not exit by itself within {deadline:?}\n{}",
                tail(&output, 60)
            )
        })
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(&mut self) {
        let mut process = self.process.take().expect("daemon running");
        process.kill();
        self.history.push_str(&process.output());
    }

    /// SIGTERM, then waits; returns the exit status (panics if it does not exit in time).
    pub fn terminate(&mut self) -> ExitStatus {
        let mut process = self.process.take().expect("daemon running");
        let pid = process.pid().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap_or_else(|e| panic!("cannot run `kill -TERM {pid}`: {e}"));
        assert!(sent.success(), "`kill -TERM {pid}` failed: {sent}");
        let status = process.wait_with_deadline(STOP_DEADLINE);
        let output = process.output();
        self.history.push_str(&output);
        status.unwrap_or_else(|| {
            panic!("the daemon did not exit within {STOP_DEADLINE:?} of SIGTERM\n{output}")
        })
    }

    /// SIGTERM; the daemon must exit 0 (a clean shutdown).
    pub fn stop(&mut self) {
        let status = self.terminate();
        assert!(
            status.success(),
            "the daemon exited with {status} after SIGTERM (expected a clean exit 0)\n{}",
            tail(&self.history, 80)
        );
    }

    /// `stop` + `start`.
    pub fn restart(&mut self) {
        self.stop();
        self.start();
    }

    /// Everything the daemon printed, this run and the previous ones.
    pub fn output(&self) -> String {
        let current = self
            .process
            .as_ref()
            .map(|p| p.output())
            .unwrap_or_default();
        format!("{}{current}", self.history)
    }

    /// The last lines of [`ClusterPeer::output`], for failure messages.
    pub fn output_tail(&self) -> String {
        tail(&self.output(), 60)
    }

    /// `pinfold <args> -c DIR` (for `state …`), to completion.
    pub fn pinfold(&self, args: &[&str]) -> Finished {
        run_with_deadline(
            clean_command(&pinfold_bin())
                .args(args)
                .arg("-c")
                .arg(&self.config),
            COMMAND_DEADLINE,
        )
    }

    /// `pinfold <args>` with only `PINFOLD_PATH` naming the folder.
    pub fn pinfold_with_env_path(&self, args: &[&str]) -> Finished {
        run_with_deadline(
            clean_command(&pinfold_bin())
                .args(args)
                .env("PINFOLD_PATH", &self.config),
            COMMAND_DEADLINE,
        )
    }

    /// `pinfold <args> -c DIR`, which must succeed; returns stdout.
    pub fn pinfold_ok(&self, args: &[&str]) -> String {
        let run = self.pinfold(args);
        assert!(
            run.success(),
            "`pinfold {} -c {}` failed: {}",
            args.join(" "),
            self.config.display(),
            run.describe()
        );
        run.stdout
    }

    /// `pinfold-ctl --host <REST multiaddr> <args>` to completion.
    pub fn ctl(&self, args: &[&str]) -> Finished {
        self.ctl_env(args, &[])
    }

    /// [`ClusterPeer::ctl`] with extra environment variables.
    pub fn ctl_env(&self, args: &[&str], env: &[(&str, &str)]) -> Finished {
        let mut cmd = clean_command(&ctl_bin());
        cmd.args(["--host", &self.rest_multiaddr]).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_with_deadline(&mut cmd, COMMAND_DEADLINE)
    }

    /// [`ClusterPeer::ctl`], which must exit 0; returns stdout.
    pub fn ctl_ok(&self, args: &[&str]) -> String {
        let run = self.ctl(args);
        assert!(
            run.success(),
            "`pinfold-ctl --host {} {}` failed: {}\n=== daemon ===\n{}",
            self.rest_multiaddr,
            args.join(" "),
            run.describe(),
            self.output_tail()
        );
        run.stdout
    }

    // --- REST API over plain HTTP ----------------------------------------------------------

    /// One request to the REST API (plain HTTP only: TLS tests use reqwest).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> HttpResponse {
        assert!(
            !self.https,
            "the raw client speaks plain HTTP; use reqwest for TLS"
        );
        http_request(self.rest, method, path, headers, body)
    }

    pub fn get(&self, path: &str) -> HttpResponse {
        self.request("GET", path, &[], None)
    }

    pub fn post(&self, path: &str) -> HttpResponse {
        self.request("POST", path, &[], None)
    }

    pub fn delete(&self, path: &str) -> HttpResponse {
        self.request("DELETE", path, &[], None)
    }

    /// `method path` must answer 200 with JSON; returns it.
    pub fn json_ok(&self, method: &str, path: &str) -> Value {
        let r = self.request(method, path, &[], None);
        assert_eq!(
            r.status,
            200,
            "{method} {path}: {}\n=== daemon ===\n{}",
            r.describe(),
            self.output_tail()
        );
        r.json()
    }

    /// `GET /pins/<cid>`: the GlobalPinInfo.
    pub fn status(&self, cid: &str) -> Value {
        self.json_ok("GET", &format!("/pins/{cid}"))
    }

    /// This peer's status string for `cid` in `GET /pins/<cid>`.
    pub fn peer_status(&self, cid: &str) -> Option<String> {
        self.status(cid)["peer_map"][&self.peer_id]["status"]
            .as_str()
            .map(str::to_string)
    }

    /// Polls `GET /pins/<cid>` until this peer's status is `status`; returns that answer.
    pub fn wait_status(&self, cid: &str, status: &str, deadline: Duration) -> Value {
        let start = Instant::now();
        loop {
            let answer = self.status(cid);
            if answer["peer_map"][&self.peer_id]["status"] == status {
                return answer;
            }
            if start.elapsed() >= deadline {
                panic!(
                    "{cid} did not reach {status:?} on {} within {deadline:?}; last answer:\n\
                     {answer:#}\n=== daemon ===\n{}",
                    self.peer_id,
                    self.output_tail()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Polls until every CID in `cids` is `status` in `GET /pins` (one stream per poll).
    pub fn wait_all_status(&self, cids: &[String], status: &str, deadline: Duration) {
        let start = Instant::now();
        loop {
            let statuses = self.all_statuses();
            let missing: Vec<&String> = cids
                .iter()
                .filter(|c| statuses.get(*c).map(String::as_str) != Some(status))
                .collect();
            if missing.is_empty() {
                return;
            }
            if start.elapsed() >= deadline {
                let sample: Vec<String> = missing
                    .iter()
                    .take(5)
                    .map(|c| format!("{c}: {:?}", statuses.get(*c)))
                    .collect();
                panic!(
                    "{} of {} CIDs did not reach {status:?} within {deadline:?}, e.g. {sample:?}\n\
                     === daemon ===\n{}",
                    missing.len(),
                    cids.len(),
                    self.output_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// `GET /pins`: CID → this peer's status.
    pub fn all_statuses(&self) -> BTreeMap<String, String> {
        let r = self.get("/pins");
        match r.status {
            204 => BTreeMap::new(),
            200 => r
                .ndjson()
                .into_iter()
                .filter_map(|g| {
                    let cid = g["cid"].as_str()?.to_string();
                    let status = g["peer_map"][&self.peer_id]["status"].as_str()?.to_string();
                    Some((cid, status))
                })
                .collect(),
            _ => panic!("GET /pins: {}", r.describe()),
        }
    }

    /// `GET /allocations`: the CIDs in the shared state.
    pub fn allocations(&self) -> Vec<Value> {
        let r = self.get("/allocations");
        match r.status {
            204 => Vec::new(),
            200 => r.ndjson(),
            _ => panic!("GET /allocations: {}", r.describe()),
        }
    }

    /// The CIDs of [`ClusterPeer::allocations`].
    pub fn allocated_cids(&self) -> Vec<String> {
        self.allocations()
            .iter()
            .map(|p| p["cid"].as_str().expect("pin has a cid").to_string())
            .collect()
    }

    // --- the embedded IPFS node (Kubo RPC) ---------------------------------------------------

    /// `POST /api/v0/<cmd>` on the embedded node.
    pub fn ipfs(&self, cmd: &str, body: Option<(&str, &[u8])>) -> HttpResponse {
        http_request(
            self.ipfs_api_addr(),
            "POST",
            &format!("/api/v0/{cmd}"),
            &[],
            body,
        )
    }

    /// `POST /api/v0/<cmd>` must answer 200 JSON.
    pub fn ipfs_json(&self, cmd: &str) -> Value {
        let r = self.ipfs(cmd, None);
        assert_eq!(r.status, 200, "ipfs {cmd}: {}", r.describe());
        r.json()
    }

    /// `block/put` of `data` as a raw block; returns its CID.
    pub fn ipfs_block_put(&self, data: &[u8]) -> String {
        let (ctype, body) = multipart(&[Part::file("file", "", data)]);
        let r = self.ipfs(
            "block/put?cid-codec=raw&mhtype=sha2-256",
            Some((&ctype, &body)),
        );
        assert_eq!(r.status, 200, "ipfs block/put: {}", r.describe());
        let v = r.json();
        v["Key"]
            .as_str()
            .unwrap_or_else(|| panic!("block/put answered no Key: {v}"))
            .to_string()
    }

    /// How the embedded node pins `cid` (`recursive`, `direct`, `indirect`), if at all.
    pub fn ipfs_pin_type(&self, cid: &str) -> Option<String> {
        let r = self.ipfs(&format!("pin/ls?arg={cid}&type=all"), None);
        if r.status != 200 {
            assert!(
                r.text().contains("not pinned"),
                "ipfs pin/ls?arg={cid}: {}",
                r.describe()
            );
            return None;
        }
        let v = r.json();
        v["Keys"]
            .as_object()
            .and_then(|keys| keys.values().next())
            .and_then(|k| k["Type"].as_str())
            .map(str::to_string)
    }

    /// The CIDs the embedded node lists for `pin/ls?type=<t>`.
    pub fn ipfs_pins_of_type(&self, t: &str) -> Vec<String> {
        let v = self.ipfs_json(&format!("pin/ls?type={t}"));
        v["Keys"]
            .as_object()
            .map(|k| k.keys().cloned().collect())
            .unwrap_or_default()
    }
}

impl Drop for ClusterPeer {
    /// Kills the daemon before its folder is removed; when a test fails, prints the end of
    /// the daemon's output (shown with the failure).
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
            self.history.push_str(&process.output());
        }
        if std::thread::panicking() && !self.history.is_empty() {
            eprintln!(
                "=== pinfold daemon -c {} (last lines) ===\n{}",
                self.config.display(),
                tail(&self.history, 80)
            );
        }
    }
}

// -------------------------------------------------------------------------------------------
// A minimal blocking HTTP/1.1 client (one request per connection, `Connection: close`).

/// A whole HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Trailer fields of a chunked body.
    pub trailers: Vec<(String, String)>,
    pub chunked: bool,
    /// The request, for messages.
    pub request: String,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// Every value of header `name`.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of trailer `name`.
    pub fn trailer(&self, name: &str) -> Option<&str> {
        find(&self.trailers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as one JSON value.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: body is not JSON ({e}): {}",
                self.request,
                self.describe()
            )
        })
    }

    /// The body as newline-delimited JSON (one value per non-empty line).
    pub fn ndjson(&self) -> Vec<Value> {
        self.text()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!(
                        "{}: line {l:?} is not JSON ({e}): {}",
                        self.request,
                        self.describe()
                    )
                })
            })
            .collect()
    }

    /// The error body `{"code","message"}`: checks `code` equals the status; returns message.
    pub fn error_message(&self) -> String {
        let v = self.json();
        assert_eq!(
            v["code"].as_u64(),
            Some(u64::from(self.status)),
            "{}: error body's code differs from the status: {}",
            self.request,
            self.describe()
        );
        v["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: error body has no message: {v}", self.request))
            .to_string()
    }

    /// Status line, headers, body (cut) and trailers, for messages.
    pub fn describe(&self) -> String {
        let mut s = format!("{} -> {} {}\n", self.request, self.status, self.reason);
        for (k, v) in &self.headers {
            s.push_str(&format!("{k}: {v}\n"));
        }
        let text = self.text();
        let cut: String = text.chars().take(2000).collect();
        s.push_str(&format!("\n{cut}"));
        if text.len() > cut.len() {
            s.push_str("…(cut)");
        }
        for (k, v) in &self.trailers {
            s.push_str(&format!("\n[trailer] {k}: {v}"));
        }
        s
    }
}

fn find<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Sends one request (`Connection: close`) and reads the whole response. `body` is
/// `(content type, bytes)`; POST/PUT/DELETE without a body send `Content-Length: 0`.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> HttpResponse {
    let request = format!("{method} http://{addr}{path}");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match body {
        Some((ctype, bytes)) => {
            head.push_str(&format!(
                "Content-Type: {ctype}\r\nContent-Length: {}\r\n",
                bytes.len()
            ));
        }
        None if matches!(method, "POST" | "PUT" | "DELETE" | "PATCH") => {
            head.push_str("Content-Length: 0\r\n");
        }
        None => {}
    }
    head.push_str("\r\n");
    let raw = exchange(
        addr,
        head.as_bytes(),
        body.map(|(_, b)| b).unwrap_or(&[]),
        &request,
    );
    parse_response(&raw, method == "HEAD", &request)
}

/// Writes `head` + `body` and reads until the server closes. A write error (the server may
/// answer and close before reading everything, e.g. 431) does not stop the read.
fn exchange(addr: SocketAddr, head: &[u8], body: &[u8], request: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{request}: cannot connect: {e}"));
    stream
        .set_read_timeout(Some(HTTP_DEADLINE))
        .expect("set_read_timeout");
    stream
        .set_write_timeout(Some(HTTP_DEADLINE))
        .expect("set_write_timeout");
    let _ = stream.write_all(head).and_then(|()| stream.write_all(body));
    let _ = stream.flush();
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!(
                    "{request}: no complete answer within {HTTP_DEADLINE:?}; got so far:\n{}",
                    String::from_utf8_lossy(&raw)
                )
            }
            // A reset after the answer was sent (the server closed without reading our body).
            Err(_) if !raw.is_empty() => break,
            Err(e) => panic!("{request}: read failed: {e}"),
        }
    }
    raw
}

/// Parses one HTTP/1.1 response read to EOF.
pub fn parse_response(raw: &[u8], head_request: bool, request: &str) -> HttpResponse {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "{request}: no complete response head in {} bytes: {:?}",
                raw.len(),
                String::from_utf8_lossy(raw)
            )
        });
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    assert!(
        version.starts_with("HTTP/1."),
        "{request}: bad status line {status_line:?}"
    );
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{request}: bad status line {status_line:?}"));
    let reason = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = find(&headers, "transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let no_body = head_request || status == 204 || status == 304 || (100..200).contains(&status);
    let (body, trailers) = if no_body {
        (Vec::new(), Vec::new())
    } else if chunked {
        decode_chunked(rest, request)
    } else if let Some(len) = find(&headers, "content-length").and_then(|l| l.parse::<usize>().ok())
    {
        assert!(
            rest.len() >= len,
            "{request}: body shorter ({}) than Content-Length {len}",
            rest.len()
        );
        (rest[..len].to_vec(), Vec::new())
    } else {
        (rest.to_vec(), Vec::new())
    };
    HttpResponse {
        status,
        reason,
        headers,
        body,
        trailers,
        chunked,
        request: request.to_string(),
    }
}

/// Decodes a chunked body; returns (body, trailer fields).
fn decode_chunked(mut data: &[u8], request: &str) -> (Vec<u8>, Vec<(String, String)>) {
    let mut body = Vec::new();
    let line_end = |d: &[u8]| d.windows(2).position(|w| w == b"\r\n");
    loop {
        let Some(eol) = line_end(data) else {
            panic!(
                "{request}: chunked body ends without its last chunk (so far {:?})",
                String::from_utf8_lossy(&body)
            );
        };
        let size_line = String::from_utf8_lossy(&data[..eol]).into_owned();
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .unwrap_or_else(|_| panic!("{request}: bad chunk size line {size_line:?}"));
        data = &data[eol + 2..];
        if size == 0 {
            break;
        }
        assert!(
            data.len() >= size + 2,
            "{request}: truncated chunk of {size} bytes"
        );
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
    let mut trailers = Vec::new();
    while let Some(eol) = line_end(data) {
        if eol == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&data[..eol]).into_owned();
        if let Some((k, v)) = line.split_once(':') {
            trailers.push((k.trim().to_string(), v.trim().to_string()));
        }
        data = &data[eol + 2..];
    }
    (body, trailers)
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    /// Sent URL-escaped (`/` → `%2F`), as go-ipfs-files and the JS clients do.
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

impl Part {
    /// A file part (`application/octet-stream`).
    pub fn file(name: &str, filename: &str, data: &[u8]) -> Part {
        Part {
            name: name.into(),
            filename: filename.into(),
            content_type: "application/octet-stream".into(),
            data: data.to_vec(),
        }
    }

    /// A directory part (`application/x-directory`, empty).
    pub fn dir(name: &str, filename: &str) -> Part {
        Part {
            name: name.into(),
            filename: filename.into(),
            content_type: "application/x-directory".into(),
            data: Vec::new(),
        }
    }
}

/// Encodes `parts`; returns (content type with boundary, body).
pub fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    let boundary = "pinfoldblackboxboundary0a1b2c3d4e5f";
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(
            format!(
                "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n",
                p.name,
                p.filename.replace('/', "%2F")
            )
            .as_bytes(),
        );
        body.extend_from_slice(format!("Content-Type: {}\r\n\r\n", p.content_type).as_bytes());
        body.extend_from_slice(&p.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// `n` distinct blocks of random-looking content (unique per call: they include the time and
/// a counter), for `block/put`.
pub fn unique_blocks(tag: &str, n: usize) -> Vec<Vec<u8>> {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    (0..n)
        .map(|i| format!("pinfold black-box {tag} block {i} of {n} @{nonce}").into_bytes())
        .collect()
}

/// A CIDv1 (raw, sha2-256) of fresh random bytes: a CID whose blocks exist nowhere.
pub fn random_cid() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mh = pinfold::ipfs::hash::HashFn::Sha2_256.digest(&bytes);
    cid::Cid::new_v1(pinfold::ipfs::hash::RAW, mh).to_string()
}
