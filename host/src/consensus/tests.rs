use std::collections::HashSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::state::tests::{test_cid, test_pin};

const ID: u64 = 1;

fn cfg() -> RaftConfig {
    RaftConfig {
        network_timeout: Duration::from_secs(20),
        ..Default::default()
    }
}

struct Peer {
    dir: PathBuf,
    state: Arc<State>,
    consensus: Consensus,
}

fn open_state(dir: &Path) -> Arc<State> {
    Arc::new(State::open(&dir.join("pinset.redb")).unwrap())
}

fn start(dir: &Path, config: RaftConfig) -> Peer {
    let state = open_state(dir);
    let consensus = Consensus::start(&dir.join("raft"), ID, &[], config, state.clone()).unwrap();
    Peer {
        dir: dir.to_owned(),
        state,
        consensus,
    }
}

/// `n` pins from `callers` concurrent callers, each awaiting its own pins one by one.
async fn pin_concurrently(c: &Arc<Consensus>, first: u64, n: u64, callers: u64) {
    let mut tasks = Vec::new();
    for k in 0..callers {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = first + k;
            while i < first + n {
                c.log_pin(test_pin(i)).await.unwrap();
                i += callers;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn consensus_single_voter_elects_itself_and_applies() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), cfg());
    assert_eq!(
        p.consensus.wait_for_leader(Duration::from_secs(5)).await,
        Ok(ID)
    );
    assert!(p.consensus.is_leader());
    assert_eq!(p.consensus.peers(), vec![ID]);
    let mut sub = p.consensus.subscribe();

    for i in 0..3 {
        p.consensus.log_pin(test_pin(i)).await.unwrap();
    }
    // acknowledged = applied: visible in the State at once
    assert_eq!(p.state.get(&test_cid(2)).unwrap(), Some(test_pin(2)));
    p.consensus.log_unpin(test_cid(1)).await.unwrap();
    assert!(!p.state.has(&test_cid(1)).unwrap());
    assert_eq!(p.state.len().unwrap(), 2);
    assert_eq!(
        p.state.applied_index().unwrap().index,
        p.consensus.applied_index()
    );

    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(sub.recv().await.unwrap().op);
    }
    assert_eq!(
        seen,
        vec![
            Op::Pin(test_pin(0)),
            Op::Pin(test_pin(1)),
            Op::Pin(test_pin(2)),
            Op::Unpin(test_cid(1)),
        ]
    );
    // several ops in one atomic entry
    p.consensus
        .log_ops(vec![Op::Pin(test_pin(10)), Op::Unpin(test_cid(0))])
        .await
        .unwrap();
    assert!(p.state.has(&test_cid(10)).unwrap() && !p.state.has(&test_cid(0)).unwrap());
    p.consensus.shutdown().await.unwrap();
    assert_eq!(
        p.consensus.log_pin(test_pin(99)).await,
        Err(ConsensusError::Shutdown)
    );
}

#[tokio::test]
async fn consensus_reopen_after_drop_keeps_state_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let applied;
    {
        let p = start(dir.path(), cfg());
        for i in 0..20 {
            p.consensus.log_pin(test_pin(i)).await.unwrap();
        }
        p.consensus.log_unpin(test_cid(5)).await.unwrap();
        applied = p.consensus.applied_index();
        // dropped without shutdown()
    }
    let p = start(dir.path(), cfg());
    p.consensus
        .wait_for_leader(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(p.state.len().unwrap(), 19);
    assert!(!p.state.has(&test_cid(5)).unwrap());
    assert!(p.consensus.term() >= 2, "a new term after restart");
    p.consensus.log_pin(test_pin(100)).await.unwrap();
    assert!(p.consensus.applied_index() > applied);
    assert_eq!(p.state.len().unwrap(), 20);
}

#[tokio::test]
async fn consensus_concurrent_64_writers_all_acknowledged_and_present() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), cfg());
    let mut sub = p.consensus.subscribe();
    let c = Arc::new(p.consensus);
    pin_concurrently(&c, 0, 64 * 20, 64).await;
    assert_eq!(p.state.len().unwrap(), 64 * 20);
    for i in 0..64 * 20 {
        assert!(p.state.has(&test_cid(i)).unwrap(), "{i}");
    }
    let mut published = HashSet::new();
    while let Ok(a) = sub.try_recv() {
        published.insert(*a.op.cid());
    }
    assert_eq!(published.len(), 64 * 20);
    // batching happened: far fewer raft entries than pins
    let (_, last, _) = c.log_bounds();
    assert!(last < 64 * 20, "{last} entries for {} pins", 64 * 20);
}

#[tokio::test]
async fn consensus_group_commit_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), cfg());
    let c = Arc::new(p.consensus);
    let mut report = Vec::new();
    let mut next = 0;
    for (callers, n) in [(1u64, 200u64), (64, 6400)] {
        let (first_entry, ..) = (c.log_bounds().1, ());
        let t = Instant::now();
        pin_concurrently(&c, next, n, callers).await;
        let secs = t.elapsed().as_secs_f64();
        let entries = c.log_bounds().1 - first_entry;
        report.push(format!(
            "{n} pins at {callers} caller(s): {:.0} pins/s ({entries} raft entries, {:.1} pins/entry)",
            n as f64 / secs,
            n as f64 / entries.max(1) as f64
        ));
        next += n;
    }
    assert_eq!(p.state.len().unwrap(), next);
    for r in &report {
        println!("group commit: {r}");
    }
}

#[tokio::test]
async fn consensus_ten_thousand_pins_snapshot_compaction_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let config = RaftConfig {
        snapshot_threshold: 40,
        trailing_logs: 10,
        snapshot_interval: Duration::ZERO,
        ..cfg()
    };
    let log_before;
    {
        let p = start(dir.path(), config.clone());
        let c = Arc::new(p.consensus);
        pin_concurrently(&c, 0, 10_000, 64).await;
        let snap = c.snapshot().await.unwrap();
        assert_eq!(snap, c.applied_index());
        let (first, last, snap_index) = c.log_bounds();
        assert_eq!(snap_index, snap);
        assert!(first > 1, "log compacted: first index {first}");
        assert_eq!(first, snap - 10 + 1, "trailing_logs entries kept");
        assert!(
            last - first < 40 + 10 + 1,
            "log length {}",
            last - first + 1
        );
        log_before = (first, last);
        let files = std::fs::read_dir(p.dir.join("raft/snapshots"))
            .unwrap()
            .count();
        assert!((1..=2).contains(&files), "{files} snapshot files kept");
        assert_eq!(p.state.len().unwrap(), 10_000);
    }
    // reopen: same state, log still short
    {
        let p = start(dir.path(), config.clone());
        p.consensus
            .wait_for_leader(Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(p.state.len().unwrap(), 10_000);
        let (first, last, _) = p.consensus.log_bounds();
        assert_eq!(first, log_before.0);
        assert!(
            last <= log_before.1 + 1,
            "only the new term's empty entry is added"
        );
        p.consensus.log_pin(test_pin(20_000)).await.unwrap();
    }
    // the pinset file lost: restored from the snapshot, the log after it replayed
    std::fs::remove_file(dir.path().join("pinset.redb")).unwrap();
    let p = start(dir.path(), config);
    p.consensus
        .wait_for_sync(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(p.state.len().unwrap(), 10_001);
    assert!(p.state.has(&test_cid(20_000)).unwrap());
    assert!(p.state.has(&test_cid(0)).unwrap());
}

#[tokio::test]
async fn consensus_replays_committed_entries_when_state_lags_the_log() {
    // A crash between the log fsync and the State fsync leaves the State behind the log.
    // Simulate it with an old copy of the pinset file: reopening must replay the entries.
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("pinset.old");
    let old_index;
    {
        let p = start(dir.path(), cfg());
        for i in 0..30 {
            p.consensus.log_pin(test_pin(i)).await.unwrap();
        }
        p.consensus.shutdown().await.unwrap();
        old_index = p.state.applied_index().unwrap().index;
    }
    std::fs::copy(dir.path().join("pinset.redb"), &backup).unwrap();
    let new_index;
    {
        let p = start(dir.path(), cfg());
        for i in 30..60 {
            p.consensus.log_pin(test_pin(i)).await.unwrap();
        }
        p.consensus.log_unpin(test_cid(3)).await.unwrap();
        p.consensus.shutdown().await.unwrap();
        new_index = p.state.applied_index().unwrap().index;
    }
    std::fs::copy(&backup, dir.path().join("pinset.redb")).unwrap();
    assert_eq!(
        State::open(&dir.path().join("pinset.redb"))
            .unwrap()
            .applied_index()
            .unwrap()
            .index,
        old_index
    );
    let p = start(dir.path(), cfg());
    let mut sub = p.consensus.subscribe();
    p.consensus
        .wait_for_leader(Duration::from_secs(5))
        .await
        .unwrap();
    // the replay happens in the driver's first turns; a write after it proves it is done
    p.consensus.log_pin(test_pin(1000)).await.unwrap();
    assert!(p.state.applied_index().unwrap().index > new_index);
    assert_eq!(p.state.len().unwrap(), 60);
    assert!(!p.state.has(&test_cid(3)).unwrap());
    assert!(p.state.has(&test_cid(59)).unwrap());
    let _ = sub.try_recv();
}

#[tokio::test]
async fn consensus_refuses_a_state_ahead_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    {
        let p = start(dir.path(), cfg());
        for i in 0..5 {
            p.consensus.log_pin(test_pin(i)).await.unwrap();
        }
    }
    cleanup_data_folder(&dir.path().join("raft"), 0).unwrap();
    // a fresh raft folder starts after the State's index (like a Go state import)…
    {
        let p = start(dir.path(), cfg());
        p.consensus.log_pin(test_pin(7)).await.unwrap();
        assert_eq!(p.state.len().unwrap(), 6);
    }
    // …but a State ahead of an existing log is refused
    let state = open_state(dir.path());
    state
        .apply(&[crate::state::OpBatch {
            index: 10_000,
            term: 1,
            ops: vec![],
        }])
        .unwrap();
    let err = Consensus::start(&dir.path().join("raft"), ID, &[], cfg(), state).unwrap_err();
    assert!(err.to_string().contains("ahead of the raft log"), "{err}");
}

#[tokio::test]
async fn consensus_writes_without_quorum_fail_after_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(
        dir.path(),
        RaftConfig {
            network_timeout: Duration::from_millis(600),
            ..cfg()
        },
    );
    p.consensus.log_pin(test_pin(0)).await.unwrap();
    // a second voter that never answers: the change commits with the old configuration…
    p.consensus.add_voter(2).await.unwrap();
    assert_eq!(p.consensus.peers(), vec![ID, 2]);
    // …and from then on nothing can reach a quorum
    let t = Instant::now();
    let err = p.consensus.log_pin(test_pin(1)).await.unwrap_err();
    assert_eq!(err, ConsensusError::Timeout(Duration::from_millis(600)));
    assert!(t.elapsed() >= Duration::from_millis(500));
    assert!(err.to_string().contains("600ms"), "{err}");
    assert!(!p.state.has(&test_cid(1)).unwrap());
    // a proposal pending at shutdown gets an error
    let c = Arc::new(p.consensus);
    let c2 = c.clone();
    let pending = tokio::spawn(async move { c2.log_pin(test_pin(2)).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.shutdown().await.unwrap();
    assert_eq!(pending.await.unwrap(), Err(ConsensusError::Shutdown));
}

#[test]
fn consensus_node_ids_and_folder_cleanup() {
    let a = libp2p_identity::PeerId::random();
    let b = libp2p_identity::PeerId::random();
    assert_eq!(node_id(&a), node_id(&a));
    assert_ne!(node_id(&a), node_id(&b));
    assert_ne!(node_id(&a), 0);

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("raft");
    for round in 0..4 {
        std::fs::create_dir_all(&f).unwrap();
        std::fs::write(f.join("mark"), round.to_string()).unwrap();
        cleanup_data_folder(&f, 2).unwrap();
        assert!(!f.exists());
    }
    let read = |n: u32| std::fs::read_to_string(dir.path().join(format!("raft.old.{n}/mark")));
    assert_eq!(read(0).unwrap(), "3");
    assert_eq!(read(1).unwrap(), "2");
    assert!(read(2).is_err(), "only backups_rotate copies are kept");
}

#[test]
fn consensus_entry_payload_round_trips() {
    let ops = vec![Op::Pin(test_pin(1)), Op::Unpin(test_cid(2))];
    let data = driver::encode_ops(&ops);
    assert_eq!(data[0], 1);
    assert_eq!(driver::decode_ops(&data).unwrap(), ops);
    assert!(driver::decode_ops(&[]).unwrap().is_empty());
    assert!(driver::decode_ops(&[9, b'[', b']']).is_err());
}

const KILL9_ENV: &str = "PINFOLD_KILL9_DIR";

/// The child half of the kill -9 test: pins until killed, printing `ACK <i>` after each
/// acknowledged pin. Does nothing unless started by the parent.
#[test]
#[ignore = "child process of consensus_acknowledged_pins_survive_kill_9"]
fn consensus_kill9_child() {
    let Ok(dir) = std::env::var(KILL9_ENV) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let p = start(Path::new(&dir), cfg());
        let c = Arc::new(p.consensus);
        let mut tasks = Vec::new();
        for k in 0..16u64 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = k;
                while i < 200_000 {
                    c.log_pin(test_pin(i)).await.unwrap();
                    let mut out = std::io::stdout().lock();
                    use std::io::Write;
                    writeln!(out, "ACK {i}").unwrap();
                    out.flush().unwrap();
                    i += 16;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[tokio::test]
async fn consensus_acknowledged_pins_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "consensus::tests::consensus_kill9_child",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(KILL9_ENV, dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked = Vec::new();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut killed = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(i) = line.strip_prefix("ACK ") {
            acked.push(i.parse::<u64>().unwrap());
            if acked.len() == 300 {
                child.kill().unwrap(); // SIGKILL
                killed = true;
                break;
            }
        }
    }
    // lines written before the kill are acknowledged too
    for line in lines {
        if let Some(i) = line.unwrap_or_default().strip_prefix("ACK ") {
            acked.push(i.parse::<u64>().unwrap());
        }
    }
    let status = child.wait().unwrap();
    if !killed {
        let mut err = String::new();
        use std::io::Read;
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        panic!("child ended before 300 acks ({status}): {err}");
    }
    let p = start(dir.path(), cfg());
    p.consensus
        .wait_for_leader(Duration::from_secs(5))
        .await
        .unwrap();
    for i in &acked {
        assert!(
            p.state.has(&test_cid(*i)).unwrap(),
            "acknowledged pin {i} lost"
        );
    }
    assert!(p.state.len().unwrap() >= acked.len() as u64);
}

/// An in-process network: the transport of each peer steps the others directly.
#[derive(Clone, Default)]
struct Net(Arc<std::sync::Mutex<std::collections::HashMap<u64, std::sync::Weak<Consensus>>>>);

struct NetTransport(Net);

impl RaftTransport for NetTransport {
    fn send(&mut self, msgs: Vec<raft::eraftpb::Message>) {
        for m in msgs {
            let peer = (self.0)
                .0
                .lock()
                .unwrap()
                .get(&m.to)
                .and_then(|w| w.upgrade());
            if let Some(c) = peer {
                let _ = c.step(m);
            }
        }
    }
}

struct NetPeer {
    state: Arc<State>,
    consensus: Arc<Consensus>,
}

fn start_net_peer(net: &Net, dir: &Path, id: u64, voters: &[u64], config: RaftConfig) -> NetPeer {
    let dir = dir.join(format!("peer{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let state = open_state(&dir);
    let consensus = Arc::new(
        Consensus::start_with_transport(
            &dir.join("raft"),
            id,
            voters,
            config,
            state.clone(),
            Box::new(NetTransport(net.clone())),
        )
        .unwrap(),
    );
    net.0.lock().unwrap().insert(id, Arc::downgrade(&consensus));
    NetPeer { state, consensus }
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(15), "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consensus_three_peers_in_process_replicate_forward_join_and_fail_over() {
    let dir = tempfile::tempdir().unwrap();
    let net = Net::default();
    let config = RaftConfig {
        heartbeat_timeout: Duration::from_millis(300),
        election_timeout: Duration::from_millis(300),
        snapshot_threshold: 20,
        trailing_logs: 5,
        snapshot_interval: Duration::ZERO,
        network_timeout: Duration::from_secs(10),
        ..Default::default()
    };
    let mut peers: Vec<NetPeer> = (1..=3)
        .map(|id| start_net_peer(&net, dir.path(), id, &[1, 2, 3], config.clone()))
        .collect();
    let leader = peers[0]
        .consensus
        .wait_for_leader(Duration::from_secs(10))
        .await
        .unwrap();
    for p in &peers {
        let l = p
            .consensus
            .wait_for_leader(Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(l, leader);
        assert_eq!(p.consensus.peers(), vec![1, 2, 3]);
    }
    let li = (leader - 1) as usize;
    let follower = &peers[(li + 1) % 3];
    assert_eq!(
        follower.consensus.log_pin(test_pin(0)).await,
        Err(ConsensusError::NotLeader {
            leader: Some(leader)
        })
    );
    let mut follower_sub = follower.consensus.subscribe();

    pin_concurrently(&peers[li].consensus, 0, 300, 16).await;
    for p in &peers {
        eventually("followers apply", || p.state.len().unwrap() == 300).await;
    }
    let mut seen = 0;
    while follower_sub.try_recv().is_ok() {
        seen += 1;
    }
    assert_eq!(seen, 300, "followers publish applied ops too");

    // a fourth peer joins after the leader compacted its log: it gets a snapshot
    let snap = peers[li].consensus.snapshot().await.unwrap();
    assert!(
        peers[li].consensus.log_bounds().0 > 1,
        "leader log compacted at {snap}"
    );
    peers.push(start_net_peer(
        &net,
        dir.path(),
        4,
        &[1, 2, 3],
        config.clone(),
    ));
    peers[li].consensus.add_voter(4).await.unwrap();
    eventually("the new peer catches up", || {
        peers[3].state.len().unwrap() == 300
    })
    .await;
    assert_eq!(peers[3].state.get(&test_cid(7)).unwrap(), Some(test_pin(7)));
    eventually("the new peer knows the configuration", || {
        peers[3].consensus.peers() == vec![1, 2, 3, 4]
    })
    .await;

    // the leader goes away: three of four voters elect another and keep writing
    let old = peers.remove(li);
    net.0.lock().unwrap().remove(&leader);
    old.consensus.shutdown().await.unwrap();
    drop(old);
    let mut new_leader = None;
    eventually("a new leader", || {
        new_leader = peers
            .iter()
            .find(|p| p.consensus.is_leader())
            .map(|p| p.consensus.id());
        new_leader.is_some()
    })
    .await;
    let nl = peers
        .iter()
        .find(|p| Some(p.consensus.id()) == new_leader)
        .unwrap();
    nl.consensus.log_pin(test_pin(1000)).await.unwrap();
    nl.consensus.log_unpin(test_cid(0)).await.unwrap();
    for p in &peers {
        eventually("the survivors apply", || {
            p.state.has(&test_cid(1000)).unwrap() && !p.state.has(&test_cid(0)).unwrap()
        })
        .await;
    }
    for p in &peers {
        p.consensus.shutdown().await.unwrap();
    }
}
