//! A cluster of several `pinfold daemon` processes on 127.0.0.1 (ephemeral ports, embedded IPFS
//! nodes, one-second raft timeouts): joining with `--bootstrap`, replication of pins to every
//! peer, writes forwarded from followers, status gathered across peers, the loss of the leader
//! under load, writes without a quorum, membership changes on a cluster holding 10,000 pins,
//! a restart of every peer, five peers started from a fixed peerset (`init_peerset` and the
//! peerstore, what `init --peers` writes) that survive losing two, and peers holding another
//! secret or none.
//!
//! Pins here use identity CIDs (the data is inside the CID), so every peer's node "has" the
//! content at once and the tests measure the cluster, not block transfer.
//!
//! ```text
//! cargo test -p pinfold --test all cluster_peers::
//! ```

use crate::support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cid::Cid;
use multihash::Multihash;
use serde_json::{Value, json};
use support::cluster::{ClusterPeer, POLL_INTERVAL, Part, multipart, tail};

/// How long a cluster-wide condition may take on a loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(120);

/// A fresh 32-byte cluster secret, hex.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    let mut f = std::fs::File::open("/dev/urandom").expect("/dev/urandom");
    std::io::Read::read_exact(&mut f, &mut bytes).expect("random bytes");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Test settings: the secret, one-second raft timeouts, frequent snapshots.
fn configure(secret: &str) -> impl FnOnce(&mut Value) + '_ {
    move |s| {
        s["cluster"]["secret"] = json!(secret);
        let raft = &mut s["consensus"]["raft"];
        raft["heartbeat_timeout"] = json!("1s");
        raft["election_timeout"] = json!("1s");
        raft["network_timeout"] = json!("5s");
        raft["wait_for_leader_timeout"] = json!("30s");
        raft["snapshot_threshold"] = json!(200);
        raft["trailing_logs"] = json!(100);
        raft["snapshot_interval"] = json!("1s");
    }
}

/// An identity CID (raw codec): its data is the CID itself, so every node has it.
fn identity_cid(i: u64) -> String {
    let data = format!("pinfold cluster test {i}");
    Cid::new_v1(
        0x55,
        Multihash::<64>::wrap(0, data.as_bytes()).expect("fits"),
    )
    .to_string()
}

fn wait_until(what: &str, deadline: Duration, mut f: impl FnMut() -> Result<(), String>) {
    let start = Instant::now();
    loop {
        match f() {
            Ok(()) => return,
            Err(e) if start.elapsed() >= deadline => {
                panic!("timed out after {deadline:?} waiting for {what}: {e}")
            }
            Err(_) => std::thread::sleep(POLL_INTERVAL),
        }
    }
}

/// `GET /health/consensus` of a peer.
fn consensus(p: &ClusterPeer) -> Value {
    p.json_ok("GET", "/health/consensus")
}

/// Waits until every peer sees `n` members and the same leader; returns the leader's id.
fn wait_agreement(peers: &[&ClusterPeer], n: usize) -> String {
    let mut leader = String::new();
    wait_until(
        &format!("{n} members agreeing on a leader"),
        DEADLINE,
        || {
            let views: Vec<Value> = peers.iter().map(|p| consensus(p)).collect();
            let l = views[0]["leader"].as_str().unwrap_or_default().to_string();
            for v in &views {
                let members = v["peers"].as_array().map_or(0, Vec::len);
                if members != n || v["leader"] != json!(l) || l.is_empty() {
                    return Err(format!("views: {views:?}"));
                }
            }
            leader = l;
            Ok(())
        },
    );
    leader
}

/// Starts `n` peers: the first alone, the others joining it with `--bootstrap`.
fn start_cluster(n: usize) -> Vec<ClusterPeer> {
    let secret = new_secret();
    let mut first = ClusterPeer::init(configure(&secret));
    first.start();
    let boot = first.swarm_multiaddr();
    let mut peers = vec![first];
    for _ in 1..n {
        let mut p = ClusterPeer::init(configure(&secret));
        p.start_joining(&boot);
        peers.push(p);
    }
    wait_agreement(&peers.iter().collect::<Vec<_>>(), n);
    peers
}

fn leader_index(peers: &[&ClusterPeer]) -> usize {
    let leader = wait_agreement(peers, peers.len());
    peers
        .iter()
        .position(|p| p.peer_id() == leader)
        .expect("the leader is one of the peers")
}

fn allocated(p: &ClusterPeer) -> BTreeSet<String> {
    p.allocated_cids().into_iter().collect()
}

fn wait_allocated(p: &ClusterPeer, want: &BTreeSet<String>) {
    wait_until(
        &format!("{} pins in the pinset of {}", want.len(), p.peer_id()),
        DEADLINE,
        || {
            let have = allocated(p);
            let missing: Vec<&String> = want.difference(&have).take(3).collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} missing, e.g. {missing:?}",
                    want.difference(&have).count()
                ))
            }
        },
    );
}

#[test]
fn three_peers_join_replicate_forward_and_report_status_everywhere() {
    let peers = start_cluster(3);
    let refs: Vec<&ClusterPeer> = peers.iter().collect();
    let li = leader_index(&refs);
    let follower = &peers[(li + 1) % 3];
    let other = &peers[(li + 2) % 3];

    // every peer describes the three
    for p in &peers {
        let r = p.get("/peers");
        assert_eq!(r.status, 200, "{}", r.describe());
        let lines = r.ndjson();
        assert_eq!(lines.len(), 3, "{lines:?}");
        for d in &lines {
            assert_eq!(d["error"], "", "{d}");
            assert_eq!(d["cluster_peers"].as_array().map(Vec::len), Some(3), "{d}");
        }
    }
    let ls = follower.ctl_ok(&["peers", "ls"]);
    assert_eq!(ls.matches("Sees 2 other peers").count(), 3, "{ls}");

    // a write through a follower is forwarded, and readable there at once
    let cid = identity_cid(1);
    let r = follower.post(&format!("/pins/{cid}?name=forwarded"));
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(follower.get(&format!("/allocations/{cid}")).status, 200);
    // every peer pins it, and any peer reports all three
    wait_until("pinned on the three peers", DEADLINE, || {
        let g = other.status(&cid);
        let map = g["peer_map"].as_object().cloned().unwrap_or_default();
        if map.len() == 3 && map.values().all(|v| v["status"] == "pinned") {
            Ok(())
        } else {
            Err(g.to_string())
        }
    });
    let listing = other.get("/pins").ndjson();
    assert_eq!(listing.len(), 1);
    assert_eq!(listing[0]["peer_map"].as_object().map(|m| m.len()), Some(3));
    // recover across peers answers for each
    let rec = other.json_ok("POST", &format!("/pins/{cid}/recover"));
    assert_eq!(
        rec["peer_map"].as_object().map(|m| m.len()),
        Some(3),
        "{rec}"
    );

    // unpin through the third peer
    let r = other.delete(&format!("/pins/{cid}"));
    assert_eq!(r.status, 200, "{}", r.describe());
    for p in &peers {
        wait_until("unpinned everywhere", DEADLINE, || {
            match p.get(&format!("/allocations/{cid}")).status {
                404 => Ok(()),
                s => Err(format!("status {s}")),
            }
        });
    }
}

#[test]
fn content_added_on_one_peer_and_pinned_through_another_reaches_every_peer() {
    let peers = start_cluster(3);
    // ~1.5 MiB: several blocks under the default 256 KiB chunker
    let data = support::pseudo_random(1_500_000, 42);
    let (ctype, body) = multipart(&[Part::file("file", "data.bin", &data)]);
    let r = peers[0].request(
        "POST",
        "/add?no-pin=true&stream-channels=false",
        &[],
        Some((&ctype, &body)),
    );
    assert_eq!(r.status, 200, "{}", r.describe());
    let cid = r.json()[0]["cid"].as_str().unwrap_or_default().to_string();
    assert!(!cid.is_empty(), "{}", r.describe());
    // the blocks are only on the first peer's node; the pin goes through the second
    let r = peers[1].post(&format!("/pins/{cid}"));
    assert_eq!(r.status, 200, "{}", r.describe());
    wait_until("pinned on the three peers", DEADLINE, || {
        let g = peers[2].status(&cid);
        let map = g["peer_map"].as_object().cloned().unwrap_or_default();
        if map.len() == 3 && map.values().all(|v| v["status"] == "pinned") {
            Ok(())
        } else {
            Err(g.to_string())
        }
    });
    for p in &peers {
        let r = p.ipfs(&format!("cat?arg={cid}"), None);
        assert_eq!(r.status, 200, "{}", r.describe());
        assert!(
            r.body == data,
            "cat on {} returns the original bytes",
            p.peer_id()
        );
    }
}

#[test]
fn leader_killed_while_pinning_loses_no_acknowledged_pin() {
    let mut peers = start_cluster(3);
    let li = leader_index(&peers.iter().collect::<Vec<_>>());
    let old_leader = peers[li].peer_id().to_string();
    let targets: Vec<(std::net::SocketAddr, bool)> = peers
        .iter()
        .enumerate()
        .map(|(i, p)| (p.rest_addr(), i == li))
        .collect();
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (acked, stop) = (acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let (addr, _) = targets[(i % targets.len() as u64) as usize];
                let cid = identity_cid(10_000 + i);
                let r = std::panic::catch_unwind(|| {
                    support::cluster::http_request(addr, "POST", &format!("/pins/{cid}"), &[], None)
                });
                if let Ok(r) = r
                    && r.status == 200
                {
                    acked.lock().unwrap().push(cid);
                }
            }
        })
    };
    let count = |acked: &Arc<Mutex<Vec<String>>>| acked.lock().unwrap().len();
    wait_until("40 acknowledged pins", DEADLINE, || {
        (count(&acked) >= 40).then_some(()).ok_or("fewer".into())
    });
    peers[li].kill9();
    let before = count(&acked);
    let survivors: Vec<&ClusterPeer> = peers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != li)
        .map(|(_, p)| p)
        .collect();
    // a new leader among the survivors, and the client gets acknowledgements again
    let started = Instant::now();
    let mut new_leader = String::new();
    wait_until("a new leader", DEADLINE, || {
        let views: Vec<Value> = survivors.iter().map(|p| consensus(p)).collect();
        let l = views[0]["leader"].as_str().unwrap_or_default();
        if !l.is_empty() && l != old_leader && views.iter().all(|v| v["leader"] == l) {
            new_leader = l.to_string();
            Ok(())
        } else {
            Err(format!("{views:?}"))
        }
    });
    eprintln!("new leader after {:?}", started.elapsed());
    wait_until("40 more acknowledged pins", DEADLINE, || {
        (count(&acked) >= before + 40)
            .then_some(())
            .ok_or("fewer".into())
    });
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    let acked: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    for p in &survivors {
        wait_allocated(p, &acked);
    }
    // the killed peer comes back and catches up
    peers[li].start();
    wait_allocated(&peers[li], &acked);
    wait_agreement(&peers.iter().collect::<Vec<_>>(), 3);
}

#[test]
fn writes_without_quorum_fail_clearly_and_leave_nothing_half_applied() {
    let peers = start_cluster(3);
    let li = leader_index(&peers.iter().collect::<Vec<_>>());
    let others: Vec<usize> = (0..3).filter(|i| *i != li).collect();
    for &i in &others {
        peers[i].signal("STOP");
    }
    let cid = identity_cid(77);
    let started = Instant::now();
    let r = peers[li].post(&format!("/pins/{cid}"));
    let took = started.elapsed();
    assert_eq!(r.status, 500, "{}", r.describe());
    let message = r.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(
        message.contains("quorum") || message.contains("leader"),
        "the error should say why: {message}"
    );
    assert!(
        took < Duration::from_secs(60),
        "the write hung for {took:?}"
    );
    // nothing of it is visible on the reachable peer
    assert_eq!(peers[li].get(&format!("/allocations/{cid}")).status, 404);
    assert_eq!(peers[li].get("/allocations").status, 204);
    // the others come back: the cluster agrees again, on one pinset
    for &i in &others {
        peers[i].signal("CONT");
    }
    wait_agreement(&peers.iter().collect::<Vec<_>>(), 3);
    wait_until("the three pinsets agree", DEADLINE, || {
        let sets: Vec<BTreeSet<String>> = peers.iter().map(allocated).collect();
        (sets[0] == sets[1] && sets[1] == sets[2])
            .then_some(())
            .ok_or(format!("{sets:?}"))
    });
    let after = identity_cid(78);
    let r = peers[others[0]].post(&format!("/pins/{after}"));
    assert_eq!(r.status, 200, "{}", r.describe());
    for p in &peers {
        wait_allocated(p, &BTreeSet::from([after.clone()]));
    }
}

#[test]
fn membership_join_ten_thousand_pins_then_remove_a_peer_and_the_leader() {
    // the first peer starts holding 10,000 pins (`state import`), two peers join it
    let secret = new_secret();
    let mut first = ClusterPeer::init(configure(&secret));
    let file = first.scratch().join("pins.ndjson");
    let lines: String = (0..10_000)
        .map(|i| {
            format!(
                "{{\"cid\":\"{}\",\"type\":\"pin\",\"allocations\":[],\"max_depth\":-1,\
                 \"replication_factor_min\":-1,\"replication_factor_max\":-1}}\n",
                identity_cid(i)
            )
        })
        .collect();
    std::fs::write(&file, lines).unwrap();
    first.pinfold_ok(&["state", "import", "-f", file.to_str().unwrap()]);
    first.start();
    let boot = first.swarm_multiaddr();
    let mut peers = vec![first];
    for _ in 0..2 {
        let mut p = ClusterPeer::init(configure(&secret));
        p.start_joining(&boot);
        peers.push(p);
    }
    let li = leader_index(&peers.iter().collect::<Vec<_>>());
    // more pins through the cluster, so the log moves past the snapshot the peers joined from
    for i in 10_000..10_300u64 {
        let r = peers[li].post(&format!("/pins/{}", identity_cid(i)));
        assert_eq!(r.status, 200, "{}", r.describe());
    }
    let all: BTreeSet<String> = (0..10_300).map(identity_cid).collect();
    for p in &peers {
        wait_allocated(p, &all);
    }
    // a fourth peer joins through a follower and catches up (the log was compacted: from a
    // snapshot)
    let boot = peers[(li + 1) % 3].swarm_multiaddr();
    let mut fourth = ClusterPeer::init(configure(&secret));
    fourth.start_joining(&boot);
    wait_allocated(&fourth, &all);
    peers.push(fourth);
    wait_agreement(&peers.iter().collect::<Vec<_>>(), 4);

    // remove a follower (through the new peer): it stops by itself
    let gone = (li + 2) % 3;
    let gone_id = peers[gone].peer_id().to_string();
    let r = peers[3].delete(&format!("/peers/{gone_id}"));
    assert!(r.status == 200 || r.status == 204, "{}", r.describe());
    let status = peers[gone].wait_exit(DEADLINE);
    assert!(status.success(), "a removed peer exits cleanly: {status}");
    let remaining: Vec<usize> = (0..4).filter(|i| *i != gone).collect();
    wait_agreement(&remaining.iter().map(|i| &peers[*i]).collect::<Vec<_>>(), 3);

    // remove the leader (through a follower)
    let leader_id = consensus(&peers[3])["leader"].as_str().unwrap().to_string();
    let leader = remaining
        .iter()
        .copied()
        .find(|i| peers[*i].peer_id() == leader_id)
        .unwrap();
    let asker = remaining.iter().copied().find(|i| *i != leader).unwrap();
    let r = peers[asker].delete(&format!("/peers/{leader_id}"));
    assert!(r.status == 200 || r.status == 204, "{}", r.describe());
    let status = peers[leader].wait_exit(DEADLINE);
    assert!(
        status.success(),
        "the removed leader exits cleanly: {status}"
    );
    let last: Vec<usize> = remaining.into_iter().filter(|i| *i != leader).collect();
    let last_refs: Vec<&ClusterPeer> = last.iter().map(|i| &peers[*i]).collect();
    let new_leader = wait_agreement(&last_refs, 2);
    assert_ne!(new_leader, leader_id);
    let cid = identity_cid(20_000);
    let r = last_refs[0].post(&format!("/pins/{cid}"));
    assert_eq!(r.status, 200, "{}", r.describe());
    for p in &last_refs {
        wait_allocated(p, &BTreeSet::from([cid.clone()]));
        assert_eq!(allocated(p).len(), 10_301);
    }
}

#[test]
fn restart_of_every_peer_keeps_identical_pinsets() {
    let mut peers = start_cluster(3);
    let mut want = BTreeSet::new();
    for i in 0..30u64 {
        let cid = identity_cid(30_000 + i);
        let r = peers[(i % 3) as usize].post(&format!("/pins/{cid}"));
        assert_eq!(r.status, 200, "{}", r.describe());
        want.insert(cid);
    }
    for p in &peers {
        wait_allocated(p, &want);
    }
    for p in peers.iter_mut() {
        p.stop();
    }
    for p in peers.iter_mut() {
        p.spawn();
    }
    for p in peers.iter_mut() {
        p.wait_ready();
    }
    wait_agreement(&peers.iter().collect::<Vec<_>>(), 3);
    let cid = identity_cid(31_000);
    let r = peers[1].post(&format!("/pins/{cid}"));
    assert_eq!(r.status, 200, "{}", r.describe());
    want.insert(cid);
    for p in &peers {
        wait_allocated(p, &want);
    }
    for p in peers.iter_mut() {
        p.stop();
    }
    let exports: Vec<String> = peers
        .iter()
        .map(|p| p.pinfold_ok(&["state", "export"]))
        .collect();
    assert_eq!(exports[0].lines().count(), 31);
    assert_eq!(exports[0], exports[1]);
    assert_eq!(exports[1], exports[2]);
}

#[test]
fn peers_with_another_secret_or_none_cannot_join() {
    let peers = start_cluster(1);
    let boot = peers[0].swarm_multiaddr();
    for secret in [new_secret(), String::new()] {
        let mut stranger = ClusterPeer::init(configure(&secret));
        stranger.spawn_joining(&boot);
        let status = stranger.wait_exit(DEADLINE);
        let out = stranger.output();
        assert!(!status.success(), "{}", tail(&out, 40));
        assert!(
            out.contains("could not join the cluster"),
            "the joiner says why it stops:\n{}",
            tail(&out, 40)
        );
    }
    // REST over libp2p: pinfold-ctl reaches the peer by its swarm address with the secret,
    // and not without it
    let secret = peers[0].service_json()["cluster"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let over_p2p = |secret: &str| {
        let mut cmd = std::process::Command::new(support::cluster::ctl_bin());
        cmd.args(["--host", &boot, "--secret", secret, "id"]);
        support::run_with_deadline(&mut cmd, DEADLINE)
    };
    let ok = over_p2p(&secret);
    assert!(ok.success(), "{}", ok.describe());
    assert!(ok.stdout.contains(peers[0].peer_id()), "{}", ok.describe());
    let refused = over_p2p(&new_secret());
    assert!(!refused.success(), "{}", refused.describe());
    assert!(refused.stderr.contains("secret"), "{}", refused.describe());

    // the cluster's peer said why it refused them, and is still alone
    let out = peers[0].output();
    assert!(
        out.matches("secret mismatch?").count() >= 2,
        "the cluster peer logs the secret mismatch:\n{}",
        tail(&out, 40)
    );
    assert_eq!(
        consensus(&peers[0])["peers"].as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn five_peers_from_an_initial_peerset_survive_losing_two_including_the_leader() {
    let secret = new_secret();
    let mut peers: Vec<ClusterPeer> = (0..5)
        .map(|_| ClusterPeer::init(configure(&secret)))
        .collect();
    // what `init --peers` writes: every peer id in init_peerset, the others' addresses in the
    // peerstore (the swarm ports were chosen by `init --randomports`)
    let addrs: Vec<String> = peers
        .iter()
        .map(|p| {
            let listen = p.service_json()["cluster"]["listen_multiaddress"].clone();
            let first = support::cluster::first_multiaddr(&listen).expect("listen address");
            format!("{first}/p2p/{}", p.peer_id())
        })
        .collect();
    let ids: Vec<String> = peers.iter().map(|p| p.peer_id().to_string()).collect();
    for (i, p) in peers.iter_mut().enumerate() {
        let ids = ids.clone();
        p.edit_service_json(|s| s["consensus"]["raft"]["init_peerset"] = json!(ids));
        let others: Vec<&str> = addrs
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, a)| a.as_str())
            .collect();
        std::fs::write(p.config_dir().join("peerstore"), others.join("\n") + "\n").unwrap();
    }
    for p in peers.iter_mut() {
        p.spawn();
    }
    for p in peers.iter_mut() {
        p.wait_ready();
    }
    let li = leader_index(&peers.iter().collect::<Vec<_>>());
    let mut want = BTreeSet::new();
    for i in 0..20u64 {
        let cid = identity_cid(50_000 + i);
        let r = peers[(i % 5) as usize].post(&format!("/pins/{cid}"));
        assert_eq!(r.status, 200, "{}", r.describe());
        want.insert(cid);
    }
    // lose the leader and one more: three of five still make a quorum
    let second = (li + 1) % 5;
    peers[li].kill9();
    peers[second].kill9();
    let alive: Vec<usize> = (0..5).filter(|i| *i != li && *i != second).collect();
    wait_until("a new leader among the three", DEADLINE, || {
        let views: Vec<Value> = alive.iter().map(|i| consensus(&peers[*i])).collect();
        let l = views[0]["leader"].as_str().unwrap_or_default();
        if !l.is_empty() && l != ids[li] && views.iter().all(|v| v["leader"] == l) {
            Ok(())
        } else {
            Err(format!("{views:?}"))
        }
    });
    for (k, i) in alive.iter().enumerate() {
        let cid = identity_cid(60_000 + k as u64);
        let r = peers[*i].post(&format!("/pins/{cid}"));
        assert_eq!(r.status, 200, "{}", r.describe());
        want.insert(cid);
    }
    for i in &alive {
        wait_allocated(&peers[*i], &want);
    }
    // both come back and catch up
    peers[li].spawn();
    peers[second].spawn();
    peers[li].wait_ready();
    peers[second].wait_ready();
    for p in &peers {
        wait_allocated(p, &want);
    }
    wait_agreement(&peers.iter().collect::<Vec<_>>(), 5);
}

#[test]
fn a_peer_joins_from_a_snapshot_larger_than_one_rpc_message() {
    // 80,000 pins: a snapshot of ~39 MB, more than the 32 MiB an RPC request may carry, so
    // it must travel on its own stream. They are allocated to a peer outside the cluster, so
    // no IPFS node has work to do and the test measures the transfer.
    let secret = new_secret();
    let slow_sync = |s: &mut Value| {
        configure(&secret)(s);
        s["consensus"]["raft"]["wait_for_leader_timeout"] = json!("300s");
    };
    let mut first = ClusterPeer::init(slow_sync);
    let elsewhere = "12D3KooWPjceQrSwdWXPyLLeABRXmuqt69Rg3sBYbU1Nft9HyQ6X";
    let file = first.scratch().join("pins.ndjson");
    let mut lines = String::new();
    for i in 0..80_000u64 {
        lines.push_str(&format!(
            "{{\"cid\":\"{}\",\"type\":\"pin\",\"allocations\":[\"{elsewhere}\"],\
             \"max_depth\":-1,\"replication_factor_min\":1,\"replication_factor_max\":1,\
             \"name\":\"a pin with a name long enough to make the snapshot large, number {i}\"}}\n",
            identity_cid(100_000 + i)
        ));
    }
    std::fs::write(&file, lines).unwrap();
    first.pinfold_ok(&["state", "import", "-f", file.to_str().unwrap()]);
    first.start();
    let boot = first.swarm_multiaddr();
    let mut joiner = ClusterPeer::init(slow_sync);
    joiner.spawn_joining(&boot);
    joiner.wait_ready_within(Duration::from_secs(300));
    let peers = [first, joiner];
    wait_agreement(&peers.iter().collect::<Vec<_>>(), 2);
    wait_until("the joiner holds the 80,000 pins", DEADLINE, || {
        let n = peers[1].allocations().len();
        (n == 80_000).then_some(()).ok_or(format!("{n} pins"))
    });
    assert!(
        peers[0].output().contains("raft: large message streamed"),
        "the snapshot went on its own stream:\n{}",
        tail(&peers[0].output(), 40)
    );
}
