//! Black-box test of `pinfold-ctl` (ipfs-cluster-ctl's commands, flags and text output)
//! against a running single-peer `pinfold daemon`: ports of IPFS Cluster's sharness
//! t0025 (status/report commands), t0030 (pin), t0031 (add) and t0032 (health metrics).
//!
//! Assumed daemon behaviour (documented, not yet observed when this was written):
//! * `pinfold init --randomports -c DIR`, `pinfold daemon -c DIR` printing
//!   `** IPFS Cluster is READY **`, REST API as IPFS Cluster v1.1.6 (reference §1), including
//!   the path routes `POST|DELETE /pins/ipfs/<cid-or-path>` that ctl's `pin add|rm` use, with
//!   `/ipfs/<root>/<file>` resolved to the file's CID by the embedded node.
//! * The default `service.json` of `init` has replication factors -1/-1 (pin everywhere), so
//!   `pin ls` prints `Repl. Factor: -1 | Allocations: [everywhere]`.
//! * A peer name is in `cluster.peername`; ctl prints it in `status`.
//! * The embedded node pins what the cluster pins (checked through its Kubo RPC API).
//!
//! ctl behaviour relied on (pinfold-ctl = ipfs-cluster-ctl): exit 0 on success, 1 for local
//! errors (e.g. `error parsing cid: …` on stderr), 2 for API errors
//! (`An error occurred:\n  Code: N\n  Message: …` on stdout), 62 when `--wait-timeout` passes.
//!
//! ```text
//! cargo test -p pinfold --test all cluster_ctl::
//! ```

use crate::support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::Finished;
use support::cluster::{ClusterPeer, random_cid, unique_blocks};

const PIN_DEADLINE: Duration = Duration::from_secs(60);

const HELLO_V0: &str = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD";
const HELLO_V1_RAW: &str = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";
const PLANETS: &str = "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY";
const MARS: &str = "QmPrrHqJzto9m7SyiRzarwkqPcCSsKR2EB1AyqJfe8L8tN";

/// Every JSON value printed one after another (ctl's `--enc json` of a stream).
fn json_values(text: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("not a sequence of JSON values ({e}):\n{text}"))
}

fn exit_code(run: &Finished) -> Option<i32> {
    run.status.and_then(|s| s.code())
}

/// Reruns `ctl args` until `done(stdout)`; returns the last stdout.
fn wait_ctl(peer: &ClusterPeer, args: &[&str], what: &str, done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let out = peer.ctl_ok(args);
        if done(&out) {
            return out;
        }
        assert!(
            start.elapsed() < PIN_DEADLINE,
            "`pinfold-ctl {}` did not show {what} within {PIN_DEADLINE:?}; last output:\n{out}\n\
             === daemon ===\n{}",
            args.join(" "),
            peer.output_tail()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The `status <cid>` line of this peer, e.g. `    > name                 : PINNED | …`.
fn status_has(out: &str, peer: &ClusterPeer, status: &str) -> bool {
    let who = if peer.peername().is_empty() {
        peer.peer_id()
    } else {
        peer.peername()
    };
    let prefix = format!("    > {who:<20} : {status}");
    out.lines().any(|l| {
        l.strip_prefix(&prefix)
            .is_some_and(|rest| rest.starts_with(" |") || rest.starts_with(": "))
    })
}

/// Checks a `pin ls` line's fixed parts and returns its fields.
fn pin_ls_fields(line: &str) -> Vec<String> {
    let fields: Vec<String> = line.split(" | ").map(str::to_string).collect();
    assert!(
        fields.len() >= 9,
        "a pin ls line has 9 fields `cid | name | type | Repl. Factor | Allocations | depth | \
         Metadata | Exp | Added`: {line:?}"
    );
    let added = fields.last().expect("fields");
    let date = added
        .strip_prefix("Added: ")
        .unwrap_or_else(|| panic!("last field is `Added: <date>`: {line:?}"));
    // Go's "2006-01-02 15:04:05"
    let b = date.as_bytes();
    assert!(
        b.len() == 19
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b' '
            && b[13] == b':'
            && b[16] == b':',
        "Added date in Go's 2006-01-02 15:04:05 layout: {line:?}"
    );
    fields
}

fn line_for<'a>(out: &'a str, cid: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{cid} |")))
        .unwrap_or_else(|| panic!("no line for {cid} in:\n{out}"))
}

#[test]
fn ctl_status_and_report_commands() {
    let peer = ClusterPeer::start_default();
    let me = peer.peer_id();

    // id
    let out = peer.ctl_ok(&["id"]);
    assert!(out.contains(me), "{out}");
    let first = out.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("{me} | {} | Sees 0 other peers", peer.peername()),
        "{out}"
    );
    assert!(out.contains("  > Addresses:"), "{out}");
    assert!(out.contains("  > IPFS: "), "{out}");
    let json = json_values(&peer.ctl_ok(&["--enc", "json", "id"]));
    assert_eq!(json.len(), 1);
    assert_eq!(json[0]["id"], me);

    // peers ls
    let out = peer.ctl_ok(&["peers", "ls"]);
    assert!(out.starts_with(&format!("{me} | ")), "{out}");
    let peers = json_values(&peer.ctl_ok(&["--enc", "json", "peers", "ls"]));
    assert_eq!(peers.len(), 1, "one peer: {peers:?}");
    assert_eq!(peers[0]["id"], me);
    // peers rm needs a valid peer ID
    assert!(!peer.ctl(&["peers", "rm"]).success());
    assert!(!peer.ctl(&["peers", "rm", "XXXinvalid-peerXXX"]).success());

    // an empty cluster: status, recover, pin ls succeed and print nothing
    for args in [
        &["status"][..],
        &["recover"],
        &["pin", "ls"],
        &["status", "--filter", "pinned"],
    ] {
        let out = peer.ctl_ok(args);
        assert_eq!(out, "", "{args:?}");
    }

    // invalid CIDs fail locally; unknown CIDs fail with the API's error
    let run = peer.ctl(&["status", "XXXinvalid-CIDXXX"]);
    assert_eq!(exit_code(&run), Some(1), "{}", run.describe());
    assert!(
        run.stderr.contains("error parsing cid"),
        "{}",
        run.describe()
    );
    let run = peer.ctl(&["pin", "ls", "XXXinvalid-CIDXXX"]);
    assert!(!run.success(), "{}", run.describe());
    let run = peer.ctl(&["pin", "add", "XXXinvalid-CIDXXX"]);
    assert!(!run.success(), "{}", run.describe());

    let unknown = random_cid();
    let run = peer.ctl(&["pin", "rm", &unknown]);
    assert_eq!(exit_code(&run), Some(2), "{}", run.describe());
    assert!(
        run.stdout
            .starts_with("An error occurred:\n  Code: 404\n  Message: "),
        "{}",
        run.describe()
    );
    let run = peer.ctl(&["pin", "ls", &unknown]);
    assert_eq!(exit_code(&run), Some(2), "{}", run.describe());
    assert!(
        run.stdout.starts_with("An error occurred:\n  Code: 404\n"),
        "{}",
        run.describe()
    );
    let run = peer.ctl(&["--enc", "json", "pin", "rm", &unknown]);
    assert_eq!(exit_code(&run), Some(2), "{}", run.describe());
    let err = json_values(&run.stdout);
    assert_eq!(err[0]["code"], 404, "{}", run.describe());
    assert!(err[0]["message"].is_string());
    // status of an unknown CID: UNPINNED
    let out = peer.ctl_ok(&["status", &unknown]);
    assert!(out.starts_with(&format!("{unknown}:\n")), "{out}");
    assert!(status_has(&out, &peer, "UNPINNED"), "{out}");

    // version matches the API's
    let out = peer.ctl_ok(&["version"]);
    let api = peer.json_ok("GET", "/version");
    assert_eq!(out.trim(), api["version"].as_str().unwrap_or_default());

    // health metrics (t0032)
    wait_ctl(&peer, &["health", "metrics"], "a freespace metric", |out| {
        out.lines().any(|l| l.trim() == "freespace")
    });
    let out = peer.ctl_ok(&["health", "metrics", "freespace"]);
    let line = out
        .lines()
        .find(|l| l.starts_with(me))
        .unwrap_or_else(|| panic!("no metric line for {me}:\n{out}"));
    // `<peer> | freespace: 12 GB | Expires in: 29 seconds from now`
    let fields: Vec<&str> = line.split(" | ").collect();
    assert_eq!(fields.len(), 3, "{line:?}");
    let value = fields[1]
        .strip_prefix("freespace: ")
        .unwrap_or_else(|| panic!("{line:?}"));
    let (number, unit) = value.split_once(' ').unwrap_or_else(|| panic!("{line:?}"));
    assert!(number.parse::<f64>().is_ok(), "{line:?}");
    assert!(unit.ends_with('B') && unit.len() <= 3, "{line:?}");
    let expires = fields[2]
        .strip_prefix("Expires in: ")
        .and_then(|s| s.strip_suffix(" seconds from now"))
        .unwrap_or_else(|| panic!("{line:?}"));
    assert!(expires.parse::<u64>().is_ok(), "{line:?}");

    // ipfs gc
    let out = peer.ctl_ok(&["ipfs", "gc"]);
    assert!(out.contains(me) || out.contains(peer.peername()), "{out}");
}

#[test]
fn ctl_pin_add_ls_status_rm() {
    let peer = ClusterPeer::start_default();
    let me = peer.peer_id().to_string();
    let blocks = unique_blocks("ctl-pin", 5);
    let cids: Vec<String> = blocks.iter().map(|b| peer.ipfs_block_put(b)).collect();
    let (a, b, c, d, e) = (&cids[0], &cids[1], &cids[2], &cids[3], &cids[4]);

    // pin add, then status reaches PINNED
    let out = peer.ctl_ok(&["pin", "add", a]);
    assert!(out.contains(a.as_str()), "pin add prints the status: {out}");
    wait_ctl(&peer, &["status", a], "PINNED", |out| {
        status_has(out, &peer, "PINNED")
    });
    let out = peer.ctl_ok(&["status", a]);
    assert!(out.starts_with(&format!("{a}:\n")), "{out}");
    assert!(
        out.contains(" | Attempts: ") && out.contains(" | Priority: "),
        "{out}"
    );
    assert_eq!(peer.ipfs_pin_type(a).as_deref(), Some("recursive"));

    // pin ls line format
    let out = peer.ctl_ok(&["pin", "ls"]);
    let fields = pin_ls_fields(line_for(&out, a));
    assert_eq!(
        fields[..8].join(" | "),
        format!(
            "{a} |  | PIN | Repl. Factor: -1 | Allocations: [everywhere] | Recursive | \
             Metadata: no | Exp: ∞"
        )
    );
    let out = peer.ctl_ok(&["pin", "ls", a]);
    assert_eq!(out.lines().count(), 1, "{out}");
    pin_ls_fields(line_for(&out, a));
    let json = json_values(&peer.ctl_ok(&["--enc", "json", "pin", "ls", a]));
    assert_eq!(json[0]["cid"], a.as_str());
    assert_eq!(json[0]["mode"], "recursive");

    // --wait returns once pinned
    let out = peer.ctl_ok(&["pin", "add", "--wait", "--name", "waited", b]);
    assert!(status_has(&out, &peer, "PINNED"), "{out}");
    assert!(out.starts_with(&format!("{b} | waited:\n")), "{out}");
    let out = peer.ctl_ok(&["pin", "add", "--wait", "--wait-timeout", "30s", b]);
    assert!(status_has(&out, &peer, "PINNED"), "{out}");

    // metadata
    peer.ctl_ok(&["pin", "add", "--metadata", "kind=text", "--wait", c]);
    let out = peer.ctl_ok(&["pin", "ls", c]);
    assert_eq!(
        pin_ls_fields(line_for(&out, c))[6],
        "Metadata: yes",
        "{out}"
    );
    let json = json_values(&peer.ctl_ok(&["--enc", "json", "pin", "ls", c]));
    assert_eq!(json[0]["metadata"]["kind"], "text");

    // direct mode
    peer.ctl_ok(&["pin", "add", "--mode", "direct", "--wait", d]);
    let out = peer.ctl_ok(&["pin", "ls", d]);
    let fields = pin_ls_fields(line_for(&out, d));
    assert_eq!(fields[2], "PIN-DIRECT", "{out}");
    assert_eq!(fields[5], "Direct", "{out}");
    let json = json_values(&peer.ctl_ok(&["--enc", "json", "pin", "ls", d]));
    assert_eq!(json[0]["mode"], "direct");
    assert_eq!(peer.ipfs_pin_type(d).as_deref(), Some("direct"));
    assert!(peer.ipfs_pins_of_type("direct").contains(d));

    // explicit allocations and replication
    peer.ctl_ok(&["pin", "add", "--allocations", &me, "-r", "1", "--wait", e]);
    let out = peer.ctl_ok(&["pin", "ls", e]);
    let fields = pin_ls_fields(line_for(&out, e));
    assert_eq!(fields[3], "Repl. Factor: 1--1", "{out}");
    assert_eq!(fields[4], format!("Allocations: [{me}]"), "{out}");
    let json = json_values(&peer.ctl_ok(&["--enc", "json", "pin", "ls", e]));
    assert_eq!(json[0]["allocations"], serde_json::json!([me]));

    // pin rm, then UNPINNED
    peer.ctl_ok(&["pin", "rm", a]);
    wait_ctl(&peer, &["status", a], "UNPINNED", |out| {
        status_has(out, &peer, "UNPINNED")
    });
    assert_eq!(peer.ipfs_pin_type(a), None);
    let out = peer.ctl_ok(&["pin", "rm", "--wait", b]);
    assert!(status_has(&out, &peer, "UNPINNED"), "{out}");
    let out = peer.ctl_ok(&["pin", "ls"]);
    assert!(
        !out.contains(a.as_str()) && !out.contains(b.as_str()),
        "{out}"
    );

    // status filters
    let out = peer.ctl_ok(&["status", "--filter", "pinned"]);
    for cid in [c, d, e] {
        assert!(out.contains(cid.as_str()), "{cid} in:\n{out}");
    }
    assert_eq!(peer.ctl_ok(&["status", "--filter", "error"]), "");
    peer.ctl_ok(&["recover"]);

    // a CID whose blocks are nowhere: --wait gives up at --wait-timeout (exit 62)
    let missing = random_cid();
    let run = peer.ctl(&["pin", "add", "--wait", "--wait-timeout", "2s", &missing]);
    assert_eq!(exit_code(&run), Some(62), "{}", run.describe());
    peer.ctl_ok(&["pin", "rm", &missing]);
}

#[test]
fn ctl_add_prints_kubo_cids_and_pins() {
    let peer = ClusterPeer::start_default();
    let dir = peer.scratch().join("files");
    std::fs::create_dir_all(dir.join("planets")).expect("mkdir");
    std::fs::create_dir_all(dir.join("wrapdir")).expect("mkdir");
    std::fs::write(dir.join("hello.txt"), "hello world").expect("write");
    std::fs::write(dir.join("wrapdir/hello.txt"), "hello world").expect("write");
    std::fs::write(dir.join("planets/mars.txt"), "Hello Mars!\n").expect("write");
    std::fs::write(dir.join("planets/venus.txt"), "Hello Venus!\n").expect("write");
    std::fs::write(dir.join("worlds.txt"), "Hello Worlds!\n").expect("write");
    let path = |p: &str| dir.join(p).to_string_lossy().into_owned();

    let out = peer.ctl_ok(&["add", &path("hello.txt")]);
    assert_eq!(out, format!("added {HELLO_V0} hello.txt\n"));
    assert_eq!(
        peer.ctl_ok(&["add", "--quieter", &path("hello.txt")]),
        format!("{HELLO_V0}\n")
    );
    assert_eq!(
        peer.ctl_ok(&["add", "--cid-version", "1", &path("hello.txt")]),
        format!("added {HELLO_V1_RAW} hello.txt\n")
    );
    assert_eq!(
        peer.ctl_ok(&["add", "--raw-leaves", "--quieter", &path("hello.txt")]),
        format!("{HELLO_V1_RAW}\n")
    );

    let out = peer.ctl_ok(&["add", "-r", &path("planets")]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.last().copied(),
        Some(&*format!("added {PLANETS} planets")),
        "{out}"
    );
    assert!(
        lines.contains(&&*format!("added {MARS} planets/mars.txt")),
        "{out}"
    );
    assert_eq!(lines.len(), 3, "{out}");

    // -w of a file == -r of a folder holding it
    let wrapped = peer.ctl_ok(&["add", "-Q", "-w", &path("hello.txt")]);
    let folder = peer.ctl_ok(&["add", "-Q", "-r", &path("wrapdir")]);
    assert_eq!(wrapped, folder);

    // names and metadata; --wait
    let out = peer.ctl_ok(&[
        "add",
        "--name",
        "named",
        "--metadata",
        "k=v",
        "--wait",
        &path("worlds.txt"),
    ]);
    let cid = out
        .lines()
        .find_map(|l| l.strip_prefix("added ").and_then(|r| r.split(' ').next()))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let ls = peer.ctl_ok(&["pin", "ls", &cid]);
    let fields = pin_ls_fields(line_for(&ls, &cid));
    assert_eq!(fields[1], "named", "{ls}");
    assert_eq!(fields[6], "Metadata: yes", "{ls}");
    wait_ctl(&peer, &["status", &cid], "PINNED", |out| {
        status_has(out, &peer, "PINNED")
    });

    // JSON output
    let json = json_values(&peer.ctl_ok(&["--enc", "json", "add", &path("hello.txt")]));
    assert!(json.iter().any(|v| v["cid"] == HELLO_V0), "{json:?}");

    // everything added is pinned
    for cid in [HELLO_V0, HELLO_V1_RAW, PLANETS] {
        wait_ctl(&peer, &["status", cid], "PINNED", |out| {
            status_has(out, &peer, "PINNED")
        });
        assert_eq!(peer.ipfs_pin_type(cid).as_deref(), Some("recursive"));
    }
    let ls = peer.ctl_ok(&["pin", "ls"]);
    for cid in [HELLO_V0, HELLO_V1_RAW, PLANETS] {
        line_for(&ls, cid);
    }

    // a path pin resolves to the file's CID
    let out = peer.ctl_ok(&["pin", "add", "--wait", &format!("/ipfs/{PLANETS}/mars.txt")]);
    assert!(out.contains(MARS), "{out}");
    let ls = peer.ctl_ok(&["pin", "ls", MARS]);
    line_for(&ls, MARS);
}
