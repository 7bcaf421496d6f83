//! Black-box durability tests of a single Pinfold peer: no acknowledged pin is lost to
//! `kill -9`, the pinset survives restarts, `pinfold state export|cleanup|import` round-trip,
//! one daemon per configuration folder, and what `pinfold init` writes.
//!
//! Assumed daemon behaviour (documented, not yet observed when this was written):
//! * `pinfold init --randomports -c DIR` creates DIR with mode 0700 and writes `service.json`,
//!   `identity.json` (mode 0600) and `peerstore`.
//! * `pinfold daemon -c DIR` prints `** IPFS Cluster is READY **` when it serves; SIGTERM
//!   stops it with exit 0; a `POST /pins/<cid>` answered 200 is committed durably (it survives
//!   SIGKILL right after the answer).
//! * A second `pinfold daemon -c DIR` while one runs exits 1 promptly, saying another daemon
//!   is "already running" (the folder lock, `cluster.lock`); `pinfold state …` on a running
//!   peer's folder fails the same way.
//! * `pinfold state export -c DIR` prints the pinset as NDJSON `Pin` objects (one per line,
//!   in a stable order); `pinfold state cleanup -f -c DIR` empties it;
//!   `pinfold state import -f FILE -c DIR` replaces it with FILE's pins (non-JSON → exit 1).
//!   `PINFOLD_PATH=DIR` works in place of `-c DIR`.
//!
//! ```text
//! cargo test -p pinfold --test all cluster_durability::
//! ```

use crate::support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::cluster::{ClusterPeer, http_request, unique_blocks};

const PIN_DEADLINE: Duration = Duration::from_secs(120);

/// Pins `cids` over `workers` parallel connections; panics unless every answer is 200.
fn pin_concurrently(peer: &ClusterPeer, cids: &[String], workers: usize) {
    let rest = peer.rest_addr();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(cid) = cids.get(i) else { break };
                    let path = format!("/pins/{cid}?name=durable-{i}");
                    let r = http_request(rest, "POST", &path, &[], None);
                    if r.status != 200 {
                        failures
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(r.describe());
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    assert!(
        failures.is_empty(),
        "{} of {} pins were refused, e.g.:\n{}\n=== daemon ===\n{}",
        failures.len(),
        cids.len(),
        failures[0],
        peer.output_tail()
    );
}

/// `pinfold state export -c DIR` (peer stopped): the NDJSON lines.
fn export(peer: &ClusterPeer) -> String {
    let out = peer.pinfold_ok(&["state", "export"]);
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let pin: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("state export line is not JSON ({e}): {line:?}"));
        assert!(pin["cid"].is_string(), "exported pin without cid: {line}");
    }
    out
}

fn exported_cids(export: &str) -> BTreeSet<String> {
    export
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("checked")["cid"]
                .as_str()
                .expect("checked")
                .to_string()
        })
        .collect()
}

fn put_blocks(peer: &ClusterPeer, tag: &str, n: usize) -> Vec<String> {
    unique_blocks(tag, n)
        .iter()
        .map(|b| peer.ipfs_block_put(b))
        .collect()
}

#[test]
fn init_writes_a_private_folder() {
    let peer = ClusterPeer::init_default();
    let dir = peer.config_dir();
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(dir), 0o700, "the configuration folder is 0700");
    for file in ["service.json", "identity.json"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file} is 0600");
    }
    assert!(dir.join("peerstore").exists(), "init writes a peerstore");
    let identity = peer.read_json("identity.json");
    assert!(
        identity["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("12D3KooW")),
        "an Ed25519 peer ID: {identity}"
    );
    assert!(identity["private_key"].is_string());
    let service = peer.service_json();
    for section in ["cluster", "consensus", "api", "ipfs_connector", "ipfs_node"] {
        assert!(service.get(section).is_some(), "service.json has {section}");
    }
    assert_ne!(
        peer.rest_addr().port(),
        9094,
        "--randomports moved the REST port"
    );
}

#[test]
fn kill_9_loses_no_acknowledged_pin() {
    const N: usize = 200;
    let mut peer = ClusterPeer::start_default();
    let cids = put_blocks(&peer, "kill9", N);
    assert_eq!(
        cids.iter().collect::<BTreeSet<_>>().len(),
        N,
        "distinct blocks"
    );

    pin_concurrently(&peer, &cids, 16);
    // every answer came back 200: kill at once
    peer.kill9();

    peer.start();
    let allocated: BTreeSet<String> = peer.allocated_cids().into_iter().collect();
    let lost: Vec<&String> = cids.iter().filter(|c| !allocated.contains(*c)).collect();
    assert!(
        lost.is_empty(),
        "{} of {N} acknowledged pins are missing from /allocations after kill -9, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    assert_eq!(allocated.len(), N, "nothing but the pins made");
    for cid in cids.iter().take(3) {
        let pin = peer.json_ok("GET", &format!("/allocations/{cid}"));
        assert!(
            pin["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("durable-")),
            "the options survive too: {pin:#}"
        );
    }
    peer.wait_all_status(&cids, "pinned", PIN_DEADLINE);
    let mut recursive = peer.ipfs_pins_of_type("recursive");
    recursive.sort();
    for cid in &cids {
        assert!(
            recursive.binary_search(cid).is_ok(),
            "the embedded node pins {cid}"
        );
    }
    peer.stop();
}

#[test]
fn state_export_cleanup_import_round_trip() {
    let mut peer = ClusterPeer::start_default();
    let cids = put_blocks(&peer, "export", 6);
    for (i, cid) in cids.iter().enumerate() {
        let query = match i % 3 {
            0 => format!("name=plain-{i}"),
            1 => format!("name=meta-{i}&meta-k=v{i}"),
            _ => format!("name=direct-{i}&mode=direct"),
        };
        let r = peer.post(&format!("/pins/{cid}?{query}"));
        assert_eq!(r.status, 200, "{}", r.describe());
    }
    peer.wait_all_status(&cids, "pinned", PIN_DEADLINE);

    // state commands refuse a folder in use
    let run = peer.pinfold(&["state", "export"]);
    assert!(
        !run.success(),
        "`state export` must refuse a running peer's folder: {}",
        run.describe()
    );
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains("already running"),
        "the refusal says another daemon is running: {}",
        run.describe()
    );

    peer.stop();
    let before = export(&peer);
    assert_eq!(exported_cids(&before), cids.iter().cloned().collect());
    assert_eq!(
        before.lines().count(),
        cids.len(),
        "one line per pin:\n{before}"
    );
    for line in before.lines() {
        let pin: Value = serde_json::from_str(line).expect("checked");
        let name = pin["name"].as_str().unwrap_or_default();
        if name.starts_with("meta-") {
            assert!(pin["metadata"]["k"].is_string(), "{line}");
        }
        if name.starts_with("direct-") {
            assert_eq!(pin["mode"], "direct", "{line}");
        }
    }
    // PINFOLD_PATH names the folder as well as -c
    let run = peer.pinfold_with_env_path(&["state", "export"]);
    assert!(run.success(), "{}", run.describe());
    assert_eq!(run.stdout, before, "export with PINFOLD_PATH");

    let file = peer.scratch().join("export.ndjson");
    std::fs::write(&file, &before).expect("write export");

    peer.pinfold_ok(&["state", "cleanup", "-f"]);
    assert_eq!(export(&peer).trim(), "", "cleanup empties the state");

    // a file that is not JSON is refused
    let junk = peer.scratch().join("junk.txt");
    std::fs::write(&junk, "this is not json\n").expect("write");
    let file_arg = junk.to_string_lossy().into_owned();
    let run = peer.pinfold(&["state", "import", "-f", &file_arg]);
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(1),
        "importing non-JSON fails with exit 1: {}",
        run.describe()
    );

    let file_arg = file.to_string_lossy().into_owned();
    peer.pinfold_ok(&["state", "import", "-f", &file_arg]);
    let after = export(&peer);
    let sorted = |s: &str| {
        let mut v: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
        v.sort_unstable();
        v.join("\n")
    };
    assert_eq!(
        sorted(&after),
        sorted(&before),
        "export → cleanup → import → export is a no-op"
    );
    assert_eq!(after, before, "same lines in the same order");

    // the imported pinset is served and pinned
    peer.start();
    let allocated: BTreeSet<String> = peer.allocated_cids().into_iter().collect();
    assert_eq!(allocated, cids.iter().cloned().collect());
    peer.wait_all_status(&cids, "pinned", PIN_DEADLINE);
    peer.stop();

    // cleanup then start: an empty cluster
    peer.pinfold_ok(&["state", "cleanup", "-f"]);
    peer.start();
    assert!(peer.allocated_cids().is_empty());
    assert_eq!(peer.get("/pins").status, 204);
    peer.stop();
}

#[test]
fn restart_keeps_the_pinset_and_a_second_daemon_is_refused() {
    let mut peer = ClusterPeer::start_default();
    let cids = put_blocks(&peer, "restart", 10);
    pin_concurrently(&peer, &cids, 4);

    // a second daemon on the same folder exits 1 at once, with a clear message
    let mut second = peer.spawn_daemon();
    let status = second.wait_with_deadline(Duration::from_secs(30));
    let output = second.output();
    let status = status.unwrap_or_else(|| {
        panic!("a second daemon on the same folder was still running after 30 s\n{output}")
    });
    assert_eq!(status.code(), Some(1), "second daemon: {status}\n{output}");
    assert!(
        output.contains("already running"),
        "the second daemon says another one holds the folder:\n{output}"
    );
    assert!(
        !output.contains("IPFS Cluster is READY"),
        "the second daemon never became ready:\n{output}"
    );
    // the first one is unharmed
    assert_eq!(peer.get("/id").status, 200);
    assert_eq!(peer.allocated_cids().len(), cids.len());

    peer.wait_all_status(&cids, "pinned", PIN_DEADLINE);
    peer.stop();
    let before = export(&peer);
    assert_eq!(exported_cids(&before), cids.iter().cloned().collect());

    let started = Instant::now();
    peer.start();
    println!("restart took {:?}", started.elapsed());
    let allocated: BTreeSet<String> = peer.allocated_cids().into_iter().collect();
    assert_eq!(allocated, cids.iter().cloned().collect());
    peer.wait_all_status(&cids, "pinned", PIN_DEADLINE);
    peer.stop();
    let after = export(&peer);
    assert_eq!(after, before, "a restart changes nothing in the pinset");

    // and SIGKILL + restart leaves it too
    peer.start();
    peer.kill9();
    let after_kill = export(&peer);
    assert_eq!(after_kill, before, "kill -9 changes nothing in the pinset");
}
