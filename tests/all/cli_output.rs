//! Black-box test of what the binaries print about themselves: `pinfold --version` and
//! `pinfold-ctl --version` name the same Pinfold version and the IPFS Cluster API version they
//! implement, and a daemon whose stderr is a pipe writes logs without ANSI colour codes, as
//! text by default and as one JSON object per line with `--log-format json`.
//!
//! ```text
//! cargo test -p pinfold --test all cli_output::
//! ```

use std::process::Command;
use std::time::Duration;

use crate::support::Running;
use crate::support::cluster::{COMMAND_DEADLINE, ClusterPeer, READY_LINE, START_DEADLINE, ctl_bin};
use crate::support::{pinfold_bin, run_with_deadline};

/// `pinfold-ctl 0.1.0 (IPFS Cluster API 1.1.6)` for the program `name`.
fn expected_version(name: &str) -> String {
    format!(
        "{name} {} (IPFS Cluster API {})\n",
        env!("CARGO_PKG_VERSION"),
        pinfold::types::API_VERSION
    )
}

#[test]
fn version_of_both_binaries() {
    for (bin, name) in [(pinfold_bin(), "pinfold"), (ctl_bin(), "pinfold-ctl")] {
        let out = run_with_deadline(Command::new(&bin).arg("--version"), COMMAND_DEADLINE);
        assert!(out.success(), "{name} --version: {}", out.describe());
        assert_eq!(out.stdout, expected_version(name), "{name} --version");
    }
}

/// Starts `pinfold daemon` on a fresh configuration with `extra` arguments and stderr piped,
/// waits until it is ready and a moment more, and returns what it wrote on stderr.
fn daemon_stderr(extra: &[&str]) -> String {
    let peer = ClusterPeer::init_default();
    let mut daemon = Running::spawn(
        Command::new(pinfold_bin())
            .args(["daemon", "-c"])
            .arg(peer.config_dir())
            .args(extra),
    );
    daemon.wait_for_stdout_line("the ready line", START_DEADLINE, |l| {
        l.contains(READY_LINE).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    daemon.kill();
    let stderr = daemon.stderr();
    assert!(!stderr.trim().is_empty(), "the daemon logged nothing");
    stderr
}

#[test]
fn piped_logs_have_no_colour() {
    let stderr = daemon_stderr(&[]);
    assert!(
        !stderr.contains("\x1b["),
        "ANSI codes in piped logs:\n{stderr}"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let stderr = daemon_stderr(&["--log-format", "json"]);
    assert!(
        !stderr.contains("\x1b["),
        "ANSI codes in JSON logs:\n{stderr}"
    );
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\n{stderr}"));
        assert!(v.is_object(), "not a JSON object: {line:?}");
        assert!(v.get("level").is_some(), "no level: {line:?}");
    }
}
