#![allow(clippy::field_reassign_with_default)] // protobuf messages are built field by field

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ::raft::eraftpb::{ConfState, Entry, EntryType, Message, MessageType, Snapshot};

use super::RaftEntry;
use super::raft::{RaftSnapshot, deliver};
use super::*;
use crate::config::ClusterSecret;
use crate::consensus::{Consensus, ConsensusError, RaftConfig, node_id};
use crate::p2p::swarm::{self, SwarmConfig, SwarmHandle};
use crate::state::State;
use crate::state::tests::{test_cid, test_pin};
use multiaddr::Multiaddr;

fn peer() -> PeerId {
    libp2p_identity::Keypair::generate_ed25519()
        .public()
        .to_peer_id()
}

#[test]
fn rpc_policy_transcribes_ipfs_cluster_table() {
    assert_eq!(exposure("Cluster.ID"), Exposure::Open);
    assert_eq!(exposure("Cluster.PeerAdd"), Exposure::Open);
    assert_eq!(exposure("Cluster.Version"), Exposure::Open);
    assert_eq!(exposure("Consensus.LogPin"), Exposure::Trusted);
    assert_eq!(exposure("PinTracker.Status"), Exposure::Trusted);
    assert_eq!(exposure("IPFSConnector.RepoStat"), Exposure::Trusted);
    // closed in Go (absent from the open and trusted lists)
    for m in [
        "Cluster.Pin",
        "Cluster.Unpin",
        "IPFSConnector.ID",
        "PeerMonitor.LatestMetrics",
    ] {
        assert_eq!(exposure(m), Exposure::Closed, "{m}");
    }
    let p = IpfsClusterPolicy;
    let remote = |trusted| Caller {
        peer: peer(),
        is_self: false,
        trusted,
    };
    assert!(p.authorize("Cluster.Version", &remote(false)));
    assert!(p.authorize("PinTracker.Status", &remote(true)));
    assert!(!p.authorize("PinTracker.Status", &remote(false)));
    assert!(!p.authorize("IPFSConnector.ID", &remote(true)));
    let me = Caller {
        peer: peer(),
        is_self: true,
        trusted: true,
    };
    assert!(
        p.authorize("IPFSConnector.ID", &me),
        "closed methods only from the peer itself"
    );
    // every request maps to a policy name that says what it should
    let c = test_cid(1);
    let expect = [
        (RpcRequest::Id, Exposure::Open),
        (RpcRequest::Version, Exposure::Open),
        (
            RpcRequest::PeerAdd {
                peer: String::new(),
                addrs: vec![],
            },
            Exposure::Open,
        ),
        (
            RpcRequest::PeerRemove {
                peer: String::new(),
            },
            Exposure::Trusted,
        ),
        (RpcRequest::Status { cid: c }, Exposure::Trusted),
        (RpcRequest::StatusAll { cids: vec![c] }, Exposure::Trusted),
        (RpcRequest::Recover { cid: c }, Exposure::Trusted),
        (RpcRequest::RepoStat, Exposure::Trusted),
        (
            RpcRequest::ForwardPin { pin: test_pin(1) },
            Exposure::Trusted,
        ),
        (RpcRequest::ForwardUnpin { cid: c }, Exposure::Trusted),
        (RpcRequest::Raft { messages: vec![] }, Exposure::Trusted),
        (RpcRequest::Metrics, Exposure::Trusted),
        (RpcRequest::IpfsId, Exposure::Closed),
    ];
    for (r, e) in expect {
        assert_eq!(exposure(r.method()), e, "{}", r.method());
    }
}

#[test]
fn rpc_unknown_method_decodes_as_unknown() {
    // same serde attributes whatever the self-describing format; JSON keeps the test readable
    let env: RpcEnvelope = serde_json::from_str(
        r#"{"deadline_ms":5,"request":{"method":"Frobnicate","params":{"x":[1,2]}}}"#,
    )
    .unwrap();
    assert_eq!(
        env.request,
        RpcRequest::Unknown {
            method: "Frobnicate".into()
        }
    );
    let env: RpcEnvelope =
        serde_json::from_str(r#"{"deadline_ms":5,"request":{"method":"Version"}}"#).unwrap();
    assert_eq!(env.request, RpcRequest::Version);
    // a known method with broken parameters keeps its name
    let env: RpcEnvelope = serde_json::from_str(
        r#"{"deadline_ms":5,"request":{"method":"Status","params":{"cid":"nope"}}}"#,
    )
    .unwrap();
    assert_eq!(
        env.request,
        RpcRequest::Unknown {
            method: "Status".into()
        }
    );
    // every request survives the round trip under its wire name
    let c = test_cid(4);
    for r in [
        RpcRequest::Id,
        RpcRequest::Status { cid: c },
        RpcRequest::ForwardPin { pin: test_pin(4) },
        RpcRequest::PeerAdd {
            peer: "x".into(),
            addrs: vec!["/ip4/127.0.0.1/tcp/1".into()],
        },
        RpcRequest::StatusAll {
            cids: vec![c, test_cid(5)],
        },
        RpcRequest::Raft {
            messages: vec![RaftMessage::from(&sample_message())],
        },
    ] {
        let env = RpcEnvelope {
            deadline_ms: 1,
            request: r,
        };
        let text = serde_json::to_string(&env).unwrap();
        let back: RpcEnvelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back, env);
        let tag = serde_json::from_str::<serde_json::Value>(&text).unwrap()["request"]["method"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(WIRE_METHODS.contains(&tag.as_str()), "{tag}");
    }
}

struct TestHandler;

impl RpcHandler for TestHandler {
    fn handle(&self, _caller: PeerId, request: RpcRequest) -> BoxFuture<'static, RpcReply> {
        Box::pin(async move {
            match request {
                RpcRequest::Version => Ok(RpcResponse::Version {
                    version: "test".into(),
                }),
                RpcRequest::IpfsId => Ok(RpcResponse::IpfsId(IpfsId::default())),
                RpcRequest::RepoStat => Ok(RpcResponse::RepoStat {
                    repo_size: 7,
                    storage_max: 9,
                }),
                RpcRequest::Status { .. } => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Ok(RpcResponse::Done)
                }
                RpcRequest::ForwardPin { pin } => {
                    assert_eq!(pin, test_pin(3));
                    Ok(RpcResponse::Done)
                }
                _ => Err(RpcError::Failed("not in this test".into())),
            }
        })
    }
}

#[tokio::test]
async fn rpc_server_authorizes_and_enforces_deadlines() {
    let local = peer();
    let server = RpcServer::new(local, Arc::new(TestHandler));
    let remote = peer();
    let env = |request, deadline_ms| RpcEnvelope {
        deadline_ms,
        request,
    };
    assert_eq!(
        server.serve(remote, env(RpcRequest::Version, 1000)).await,
        Ok(RpcResponse::Version {
            version: "test".into()
        })
    );
    assert!(matches!(
        server.serve(remote, env(RpcRequest::IpfsId, 1000)).await,
        Err(RpcError::Unauthorized { method, .. }) if method == "IPFSConnector.ID"
    ));
    assert!(
        server
            .serve(local, env(RpcRequest::IpfsId, 1000))
            .await
            .is_ok()
    );
    assert_eq!(
        server
            .serve(
                remote,
                env(
                    RpcRequest::Unknown {
                        method: "Frobnicate".into()
                    },
                    1000
                )
            )
            .await,
        Err(RpcError::UnknownMethod {
            method: "Frobnicate".into()
        })
    );
    assert!(matches!(
        server
            .serve(
                remote,
                env(
                    RpcRequest::Unknown {
                        method: "Status".into()
                    },
                    1000
                )
            )
            .await,
        Err(RpcError::Invalid(_))
    ));
    let t = Instant::now();
    assert_eq!(
        server
            .serve(remote, env(RpcRequest::Status { cid: test_cid(1) }, 200))
            .await,
        Err(RpcError::DeadlineExceeded {
            method: "PinTracker.Status".into()
        })
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    // trusted methods need trust when the trust rule is not "everyone"
    let strict = server.clone().with_trust(Trust::Peers(Default::default()));
    assert!(matches!(
        strict.serve(remote, env(RpcRequest::RepoStat, 1000)).await,
        Err(RpcError::Unauthorized { .. })
    ));
    assert!(
        strict
            .serve(remote, env(RpcRequest::Version, 1000))
            .await
            .is_ok()
    );
}

async fn start_peer(
    secret: Option<ClusterSecret>,
    handler: Arc<dyn RpcHandler>,
) -> (SwarmHandle, Multiaddr) {
    let key = libp2p_identity::Keypair::generate_ed25519();
    let local = key.public().to_peer_id();
    let cfg = SwarmConfig::new(vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()], secret);
    let h = swarm::start(&key, cfg, RpcServer::new(local, handler))
        .await
        .unwrap();
    let addr = h.listen_addrs().await.unwrap()[0]
        .clone()
        .with(multiaddr::Protocol::P2p(local));
    (h, addr)
}

#[tokio::test]
async fn rpc_roundtrip_over_the_swarm_with_authorization() {
    let secret = ClusterSecret::generate();
    let (a, _) = start_peer(Some(secret.clone()), Arc::new(TestHandler)).await;
    let (b, b_addr) = start_peer(Some(secret), Arc::new(TestHandler)).await;
    let bid = b.local_peer_id();
    assert_eq!(a.dial(b_addr).await.unwrap(), bid);
    let t = Duration::from_secs(10);
    assert_eq!(
        a.call(bid, RpcRequest::Version, t).await,
        Ok(RpcResponse::Version {
            version: "test".into()
        })
    );
    // a Pin crosses the wire intact (CBOR of the crate's serde types)
    assert_eq!(
        a.call(bid, RpcRequest::ForwardPin { pin: test_pin(3) }, t)
            .await,
        Ok(RpcResponse::Done)
    );
    // a closed method from another peer is refused, with the method and the caller named
    match a.call(bid, RpcRequest::IpfsId, t).await {
        Err(RpcError::Unauthorized { method, caller }) => {
            assert_eq!(method, "IPFSConnector.ID");
            assert_eq!(caller, a.local_peer_id().to_string());
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    // the client's timeout: the call returns in time, the server gives up at the same deadline
    let started = Instant::now();
    assert_eq!(
        a.call(
            bid,
            RpcRequest::Status { cid: test_cid(1) },
            Duration::from_millis(300)
        )
        .await,
        Err(RpcError::Timeout(Duration::from_millis(300)))
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    // cancellation: a dropped call leaves the swarm usable
    let pending = a.call(bid, RpcRequest::Status { cid: test_cid(2) }, t);
    drop(pending);
    assert!(a.call(bid, RpcRequest::Version, t).await.is_ok());
    // a peer nobody knows an address for
    assert!(matches!(
        a.call(peer(), RpcRequest::Version, t).await,
        Err(RpcError::Unreachable { .. })
    ));
    a.shutdown().await;
    b.shutdown().await;
}

fn sample_message() -> Message {
    let mut m = Message::default();
    m.msg_type = MessageType::MsgAppend;
    m.to = 2;
    m.from = 1;
    m.term = 7;
    m.log_term = 6;
    m.index = 41;
    m.commit = 40;
    m.commit_term = 6;
    m.request_snapshot = 3;
    m.reject = true;
    m.reject_hint = 39;
    m.context = bytes::Bytes::from_static(b"ctx");
    m.priority = -5;
    let mut e = Entry::default();
    e.entry_type = EntryType::EntryConfChange;
    e.term = 7;
    e.index = 42;
    e.data = bytes::Bytes::from_static(b"\x01{\"ops\":[]}");
    e.context = bytes::Bytes::from_static(b"peer");
    let mut e2 = Entry::default();
    e2.term = 7;
    e2.index = 43;
    m.entries = vec![e, e2].into();
    let mut cs = ConfState::default();
    cs.voters = vec![1, 2, 3];
    cs.learners = vec![4];
    let mut s = Snapshot::default();
    s.data = bytes::Bytes::from_static(b"snapshot bytes");
    s.mut_metadata().set_conf_state(cs);
    s.mut_metadata().index = 30;
    s.mut_metadata().term = 5;
    m.set_snapshot(s);
    m
}

#[test]
fn rpc_raft_message_conversion_roundtrips() {
    let m = sample_message();
    let wire = RaftMessage::from(&m);
    assert_eq!(wire.entries.len(), 2);
    assert_eq!(
        wire.snapshot
            .as_ref()
            .map(|s: &RaftSnapshot| s.voters.clone()),
        Some(vec![1, 2, 3])
    );
    // through the serde encoding and back
    let json = serde_json::to_vec(&wire).unwrap();
    let back: RaftMessage = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, wire);
    let m2 = Message::try_from(back).unwrap();
    assert_eq!(m2, m);
    // a message without a snapshot keeps none
    let mut plain = Message::default();
    plain.msg_type = MessageType::MsgHeartbeat;
    plain.to = 3;
    let w = RaftMessage::from(&plain);
    assert!(w.snapshot.is_none());
    assert_eq!(Message::try_from(w).unwrap(), plain);
    // unknown enum numbers are refused
    let mut bad = RaftMessage::from(&m);
    bad.msg_type = 999;
    assert!(Message::try_from(bad).is_err());
    let mut bad = RaftMessage::from(&m);
    bad.entries[0].entry_type = 77;
    assert!(Message::try_from(bad).is_err());
}

#[test]
fn rpc_raft_batches_split_by_size_in_order() {
    use super::raft::{BATCH_BYTES, batches};
    let msg = |i: u64, data: usize| {
        let mut m = RaftMessage::from(&Message::default());
        m.index = i;
        m.entries = vec![RaftEntry {
            entry_type: 0,
            term: 1,
            index: i,
            data: vec![0; data],
            context: vec![],
        }];
        m
    };
    let small: Vec<_> = (0..10).map(|i| msg(i, 100)).collect();
    assert_eq!(batches(small.clone()), vec![small]);
    let big: Vec<_> = (0..5).map(|i| msg(i, BATCH_BYTES / 2)).collect();
    let b = batches(big);
    assert_eq!(
        b.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![1, 1, 1, 1, 1]
    );
    let order: Vec<u64> = b.iter().flatten().map(|m| m.index).collect();
    assert_eq!(order, vec![0, 1, 2, 3, 4]);
    let mixed = vec![
        msg(0, BATCH_BYTES / 3),
        msg(1, BATCH_BYTES / 3),
        msg(2, BATCH_BYTES * 2),
        msg(3, 10),
    ];
    let b = batches(mixed);
    assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 1, 1]);
}

/// Routes `Consensus.Raft` calls to a consensus set after the swarm started.
#[derive(Default)]
struct RaftHandler(OnceLock<Arc<Consensus>>);

impl RpcHandler for Arc<RaftHandler> {
    fn handle(&self, caller: PeerId, request: RpcRequest) -> BoxFuture<'static, RpcReply> {
        let reply = match (request, self.0.get()) {
            (RpcRequest::Raft { messages }, Some(c)) => {
                deliver(c, &caller, messages).map(|()| RpcResponse::Done)
            }
            (RpcRequest::Raft { .. }, None) => Err(RpcError::Failed("consensus not up".into())),
            _ => Err(RpcError::Failed("not in this test".into())),
        };
        Box::pin(async move { reply })
    }
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(20), "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct RaftPeer {
    swarm: SwarmHandle,
    state: Arc<State>,
    consensus: Arc<Consensus>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_three_consensus_peers_over_the_swarm_elect_and_replicate() {
    let dir = tempfile::tempdir().unwrap();
    let secret = ClusterSecret::generate();
    let mut swarms = vec![];
    let mut handlers = vec![];
    for _ in 0..3 {
        let h = Arc::new(RaftHandler::default());
        swarms.push(start_peer(Some(secret.clone()), Arc::new(h.clone())).await);
        handlers.push(h);
    }
    // full mesh over 127.0.0.1
    for i in 0..3 {
        for j in i + 1..3 {
            swarms[i].0.dial(swarms[j].1.clone()).await.unwrap();
        }
    }
    let ids: Vec<PeerId> = swarms.iter().map(|(s, _)| s.local_peer_id()).collect();
    let voters: Vec<u64> = ids.iter().map(node_id).collect();
    let table = RaftPeers::new(ids.iter().copied());
    let config = RaftConfig {
        heartbeat_timeout: Duration::from_millis(300),
        election_timeout: Duration::from_millis(300),
        network_timeout: Duration::from_secs(10),
        ..Default::default()
    };
    let mut peers = vec![];
    for (i, (s, _)) in swarms.iter().enumerate() {
        let d: &Path = dir.path();
        let pdir = d.join(format!("p{i}"));
        std::fs::create_dir_all(&pdir).unwrap();
        let state = Arc::new(State::open(&pdir.join("pinset.redb")).unwrap());
        let consensus = Arc::new(
            Consensus::start_with_transport(
                &pdir.join("raft"),
                voters[i],
                &voters,
                config.clone(),
                state.clone(),
                Box::new(SwarmRaftTransport::new(s.clone(), table.clone())),
            )
            .unwrap(),
        );
        assert!(handlers[i].0.set(consensus.clone()).is_ok());
        peers.push(RaftPeer {
            swarm: s.clone(),
            state,
            consensus,
        });
    }
    let leader = peers[0]
        .consensus
        .wait_for_leader(Duration::from_secs(20))
        .await
        .unwrap();
    for p in &peers {
        assert_eq!(
            p.consensus.wait_for_leader(Duration::from_secs(20)).await,
            Ok(leader)
        );
    }
    let li = voters.iter().position(|v| *v == leader).unwrap();
    let follower = &peers[(li + 1) % 3];
    assert_eq!(
        follower.consensus.log_pin(test_pin(0)).await,
        Err(ConsensusError::NotLeader {
            leader: Some(leader)
        })
    );
    // pins through the leader, concurrently, reach every State
    let mut tasks = vec![];
    for k in 0..8u64 {
        let c = peers[li].consensus.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = k;
            while i < 200 {
                c.log_pin(test_pin(i)).await.unwrap();
                i += 8;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for p in &peers {
        eventually("every peer applies the pins", || {
            p.state.len().unwrap() == 200
        })
        .await;
        assert_eq!(p.state.get(&test_cid(17)).unwrap(), Some(test_pin(17)));
    }
    peers[li].consensus.log_unpin(test_cid(17)).await.unwrap();
    for p in &peers {
        eventually("every peer applies the unpin", || {
            !p.state.has(&test_cid(17)).unwrap()
        })
        .await;
    }
    // a message claiming to come from another node is refused
    let mut forged = Message::default();
    forged.msg_type = MessageType::MsgHeartbeat;
    forged.from = voters[li];
    forged.to = follower.consensus.id();
    let stranger = peers
        .iter()
        .find(|p| p.consensus.id() != voters[li] && p.consensus.id() != follower.consensus.id())
        .unwrap();
    assert!(matches!(
        stranger
            .swarm
            .call(
                follower.swarm.local_peer_id(),
                RpcRequest::Raft {
                    messages: vec![RaftMessage::from(&forged)]
                },
                Duration::from_secs(5)
            )
            .await,
        Err(RpcError::Invalid(_))
    ));
    // the leader goes away (consensus and swarm): the two others elect a new one and go on
    let old = peers.remove(li);
    old.consensus.shutdown().await.unwrap();
    old.swarm.shutdown().await;
    let mut new_leader = None;
    eventually("a new leader among the survivors", || {
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
    for p in &peers {
        eventually("the survivors apply", || {
            p.state.has(&test_cid(1000)).unwrap()
        })
        .await;
    }
    for p in &peers {
        p.consensus.shutdown().await.unwrap();
        p.swarm.shutdown().await;
    }
}

#[tokio::test]
async fn rpc_large_raft_messages_stream_as_length_prefixed_frames() {
    use crate::p2p::rpc::raft::{INLINE_BYTES, read_message, write_message};
    // a snapshot message larger than one RPC request may be
    let mut m = sample_message();
    m.msg_type = MessageType::MsgSnapshot;
    let mut msg = RaftMessage::from(&m);
    let data: Vec<u8> = (0..(40u32 << 20)).map(|i| (i % 251) as u8).collect();
    msg.snapshot.as_mut().expect("sample has a snapshot").data = data;
    assert!(msg.approx_size() > INLINE_BYTES);
    assert!(msg.approx_size() as u64 > crate::p2p::rpc::MAX_REQUEST_BYTES);
    let mut wire = futures::io::Cursor::new(Vec::new());
    write_message(&mut wire, &msg).await.unwrap();
    let bytes = wire.into_inner();
    let back = read_message(&mut futures::io::Cursor::new(bytes.clone()), 1 << 30)
        .await
        .unwrap();
    assert_eq!(back, msg);
    // a frame over the limit is refused from its header, before its body is read
    let err = read_message(&mut futures::io::Cursor::new(bytes[..8].to_vec()), 1 << 20)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("exceeds"), "{err}");
    // a truncated frame is an error, not a panic
    assert!(
        read_message(
            &mut futures::io::Cursor::new(bytes[..1000].to_vec()),
            1 << 30
        )
        .await
        .is_err()
    );
}
