//! Shared helpers for Pinfold's black-box tests (the modules of `tests/all/`, one test binary
//! registered in `host/Cargo.toml` as the `all` `[[test]]` target; the `add_throughput` bench
//! includes this module too, by path).
//!
//! Everything here is blocking `std` code: a black-box test drives real
//! processes (the `pinfold` binary, `node`) and needs no async runtime.
//! Every wait has a deadline, and every failure message carries the output of
//! the processes involved.

// The test binary and the add_throughput bench each use a subset of these helpers.
#![allow(dead_code)]

/// IPFS Cluster peers (`pinfold init` / `pinfold daemon` / `pinfold-ctl`) and a raw HTTP/1.1
/// client for the black-box cluster tests (`cluster_*.rs`).
pub mod cluster;

/// Guest plugin fixtures built from `tests/plugin_fixtures` (the plugin tests).
pub mod plugins;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The repository root (the parent of `host/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// The `pinfold` binary Cargo built for this test run.
pub fn pinfold_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pinfold"))
}

/// Deterministic pseudo-random bytes (xorshift): distinct content per seed, cheap to make.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A fresh temporary directory, removed when dropped.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}

/// Calls `probe` every `interval` until it returns `Some`, or panics once
/// `deadline` has passed, naming `what` was awaited.
pub fn wait_until<T>(
    what: &str,
    deadline: Duration,
    interval: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if start.elapsed() >= deadline {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        thread::sleep(interval);
    }
}

/// Lines captured from a child's stdout or stderr.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    /// Everything captured so far, each line ended by a newline (as the program wrote it).
    pub fn text(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().map(|l| format!("{l}\n")).collect()
    }
}

/// Drains `pipe` on a thread into `log`, forwarding each line to `lines`
/// while someone listens. Draining continues to EOF so the child never blocks
/// on a full pipe.
fn pump(
    pipe: impl Read + Send + 'static,
    log: Log,
    lines: Option<mpsc::Sender<String>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\r', '\n'])
                        .to_string();
                    if let Some(tx) = &lines {
                        let _ = tx.send(line.clone());
                    }
                    log.push(line);
                }
            }
        }
    })
}

/// Parses `/ip4/A.B.C.D/tcp/PORT` or `/ip6/ADDR/tcp/PORT`.
pub fn parse_tcp_multiaddr(addr: &str) -> Option<SocketAddr> {
    let parts: Vec<&str> = addr.trim().split('/').collect();
    match parts.as_slice() {
        ["", "ip4" | "ip6", ip, "tcp", port] => Some(SocketAddr::new(
            ip.parse::<IpAddr>().ok()?,
            port.parse().ok()?,
        )),
        _ => None,
    }
}

/// A running child process whose output is being captured.
pub struct Running {
    child: Child,
    /// The command line, for messages.
    command: String,
    stdout: Log,
    stderr: Log,
    lines: mpsc::Receiver<String>,
}

impl Running {
    /// Spawns `cmd` with piped stdout/stderr (stdin closed).
    pub fn spawn(cmd: &mut Command) -> Running {
        Self::spawn_watching(cmd, false)
    }

    /// Like [`Running::spawn`], but [`Running::wait_for_stdout_line`] also sees the lines
    /// printed on stderr (for a line a daemon may print on either stream, such as a log line).
    pub fn spawn_merged(cmd: &mut Command) -> Running {
        Self::spawn_watching(cmd, true)
    }

    fn spawn_watching(cmd: &mut Command, watch_stderr: bool) -> Running {
        let command = format!("{cmd:?}");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let (tx, lines) = mpsc::channel();
        let stdout = Log::default();
        let stderr = Log::default();
        pump(
            child.stdout.take().expect("piped"),
            stdout.clone(),
            Some(tx.clone()),
        );
        pump(
            child.stderr.take().expect("piped"),
            stderr.clone(),
            watch_stderr.then(|| tx.clone()),
        );
        Running {
            child,
            command,
            stdout,
            stderr,
            lines,
        }
    }

    /// Waits for a stdout line for which `parse` returns `Some`; panics with
    /// the captured output if the deadline passes or the process exits first.
    pub fn wait_for_stdout_line<T>(
        &mut self,
        what: &str,
        deadline: Duration,
        mut parse: impl FnMut(&str) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if let Some(value) = parse(&line) {
                        return value;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stdout closed: wait for the exit status to report it.
                    thread::sleep(Duration::from_millis(100));
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Lines printed just before exiting may still be queued.
                while let Ok(line) = self.lines.try_recv() {
                    if let Some(value) = parse(&line) {
                        return value;
                    }
                }
                panic!(
                    "{} exited with {status} before printing {what}\n{}",
                    self.program(),
                    self.output()
                );
            }
            if start.elapsed() >= deadline {
                panic!(
                    "timed out after {deadline:?} waiting for {} to print {what}\n{}",
                    self.program(),
                    self.output()
                );
            }
        }
    }

    /// Waits for the process to exit, killing it at the deadline. Returns
    /// `None` if it had to be killed.
    pub fn wait_with_deadline(&mut self, deadline: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // Give the pump threads a moment to reach EOF.
                    thread::sleep(Duration::from_millis(50));
                    return Some(status);
                }
                Ok(None) if start.elapsed() >= deadline => {
                    self.kill();
                    return None;
                }
                Ok(None) => thread::sleep(Duration::from_millis(50)),
                Err(e) => panic!("cannot wait for {}: {e}", self.program()),
            }
        }
    }

    /// Kills the process (SIGKILL) and reaps it. Idempotent.
    pub fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Both streams, labelled, for failure messages.
    pub fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}\n--- end ---",
            self.stdout(),
            self.stderr()
        )
    }

    fn program(&self) -> String {
        format!("{} (pid {})", self.command, self.child.id())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How long a daemon may take to print its listen line.
pub const LISTEN_DEADLINE: Duration = Duration::from_secs(60);

/// The line Kubo (and `pinfold ipfs daemon`) prints once the RPC API listens.
pub const RPC_LISTEN_PREFIX: &str = "RPC API server listening on ";

/// `pinfold ipfs daemon` on a fresh repository and an ephemeral port; killed
/// when dropped.
pub struct IpfsDaemon {
    process: Running,
    api: SocketAddr,
    repo: tempfile::TempDir,
}

impl IpfsDaemon {
    /// Runs `pinfold ipfs daemon --repo <temp dir> --api /ip4/127.0.0.1/tcp/0
    /// <extra_args>`, reads the port from the `RPC API server listening on
    /// /ip4/127.0.0.1/tcp/<port>` line and waits until it accepts connections.
    pub fn start(extra_args: &[&str]) -> IpfsDaemon {
        Self::start_in(temp_dir("pinfold-ipfs-repo-"), extra_args)
    }

    /// Like [`IpfsDaemon::start`], on an existing repository (a restart).
    pub fn start_in(repo: tempfile::TempDir, extra_args: &[&str]) -> IpfsDaemon {
        let mut cmd = Command::new(pinfold_bin());
        cmd.args(["ipfs", "daemon", "--repo"])
            .arg(repo.path())
            .args(["--api", "/ip4/127.0.0.1/tcp/0"])
            .args(extra_args.iter().map(OsStr::new));
        let mut process = Running::spawn(&mut cmd);
        let api = process.wait_for_stdout_line(
            &format!("`{RPC_LISTEN_PREFIX}/ip4/127.0.0.1/tcp/<port>`"),
            LISTEN_DEADLINE,
            |line| {
                let addr = line.split_once(RPC_LISTEN_PREFIX)?.1;
                Some(
                    parse_tcp_multiaddr(addr)
                        .unwrap_or_else(|| panic!("cannot parse the RPC API address in {line:?}")),
                )
            },
        );
        assert_ne!(api.port(), 0, "the daemon printed port 0");
        wait_until(
            &format!("the RPC API at {api} to accept connections"),
            LISTEN_DEADLINE,
            Duration::from_millis(50),
            || TcpStream::connect_timeout(&api, Duration::from_secs(1)).ok(),
        );
        IpfsDaemon { process, api, repo }
    }

    /// `http://<ip>:<port>`, the base URL Kubo clients take (no `/api/v0`).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api)
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api
    }

    pub fn repo(&self) -> &Path {
        self.repo.path()
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The daemon's output so far.
    pub fn output(&self) -> String {
        self.process.output()
    }

    /// Kills the daemon with SIGKILL (no chance to clean up) and hands back its repository.
    pub fn kill_keeping_repo(mut self) -> tempfile::TempDir {
        self.process.kill();
        self.repo
    }

    /// Kills the daemon and returns its output.
    pub fn stop(mut self) -> String {
        self.process.kill();
        self.process.output()
    }
}

/// The finished run of a command.
pub struct Finished {
    /// `None` if it was killed at the deadline.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn describe(&self) -> String {
        let status = match self.status {
            Some(status) => status.to_string(),
            None => "killed at its deadline".to_string(),
        };
        format!(
            "{status}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- end ---",
            self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to completion, killing it at `deadline`.
pub fn run_with_deadline(cmd: &mut Command, deadline: Duration) -> Finished {
    let mut process = Running::spawn(cmd);
    let status = process.wait_with_deadline(deadline);
    Finished {
        status,
        stdout: process.stdout(),
        stderr: process.stderr(),
    }
}

/// Checks that `node` (>= `min_major`) is on PATH and returns its version,
/// or panics saying what to install.
pub fn require_node(min_major: u32) -> String {
    let hint = format!(
        "this black-box test needs Node.js >= {min_major} (`node` on PATH) and npm; \
         install them, then run scripts/install-test-deps.sh"
    );
    let out = match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => out,
        Ok(out) => panic!("`node --version` failed ({}): {hint}", out.status),
        Err(e) => panic!("cannot run `node` ({e}): {hint}"),
    };
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("cannot parse `node --version` output {version:?}: {hint}"));
    assert!(major >= min_major, "found node {version}: {hint}");
    version
}

/// Runs `scripts/install-test-deps.sh` (idempotent; fast once cached) and
/// returns the variables it exports, e.g. `PINFOLD_NODE_MODULES`.
///
/// If `PINFOLD_NODE_MODULES` is already set in the environment, the script is
/// skipped and that value is used (for offline runs or a pre-provisioned CI).
pub fn install_test_deps() -> HashMap<String, String> {
    if let Ok(modules) = std::env::var("PINFOLD_NODE_MODULES") {
        return HashMap::from([("PINFOLD_NODE_MODULES".to_string(), modules)]);
    }
    let script = repo_root().join("scripts/install-test-deps.sh");
    let run = run_with_deadline(
        Command::new("bash").arg(&script).current_dir(repo_root()),
        Duration::from_secs(600),
    );
    assert!(
        run.success(),
        "{} failed: {}",
        script.display(),
        run.describe()
    );
    let exports: HashMap<String, String> = run
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|assignment| assignment.split_once('='))
        .map(|(name, value)| (name.to_string(), shell_unquote(value)))
        .collect();
    assert!(
        exports.contains_key("PINFOLD_NODE_MODULES"),
        "{} exported no PINFOLD_NODE_MODULES: {}",
        script.display(),
        run.describe()
    );
    exports
}

/// Undoes bash's `printf %q` for the values it produces for ordinary paths
/// (backslash escapes; `$'...'` forms are rejected).
fn shell_unquote(value: &str) -> String {
    assert!(
        !value.starts_with("$'"),
        "cannot decode the shell-quoted value {value:?}; use a simpler PINFOLD_CACHE path"
    );
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Runs `node --test <script>` from the repository root with the cached npm modules and
/// `env`, within `deadline`.
pub fn run_node_test(
    script: &str,
    modules: &str,
    env: &[(&str, String)],
    deadline: Duration,
) -> Finished {
    let mut cmd = Command::new("node");
    cmd.args(["--test", "--test-reporter=spec", script])
        .current_dir(repo_root())
        // the tests import the clients from here (ESM ignores NODE_PATH)
        .env("PINFOLD_NODE_MODULES", modules)
        .env("NODE_PATH", modules)
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_with_deadline(&mut cmd, deadline)
}
