#![allow(clippy::field_reassign_with_default)] // protobuf messages are built field by field

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::*;
use crate::p2p::rpc::RpcHandler;

struct Versions;

impl RpcHandler for Versions {
    fn handle(&self, _caller: PeerId, _request: RpcRequest) -> BoxFuture<'static, RpcReply> {
        Box::pin(async {
            Ok(RpcResponse::Version {
                version: "v".into(),
            })
        })
    }
}

async fn start_peer(
    secret: Option<ClusterSecret>,
    peerstore: Option<PathBuf>,
) -> (SwarmHandle, Multiaddr) {
    let key = libp2p_identity::Keypair::generate_ed25519();
    let local = key.public().to_peer_id();
    let mut cfg = SwarmConfig::new(vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()], secret);
    cfg.peerstore = peerstore;
    let h = start(&key, cfg, RpcServer::new(local, Arc::new(Versions)))
        .await
        .unwrap();
    let addrs = h.listen_addrs().await.unwrap();
    assert_eq!(addrs.len(), 1);
    assert!(addrs[0].to_string().starts_with("/ip4/127.0.0.1/tcp/"));
    assert!(!addrs[0].to_string().ends_with("/tcp/0"), "port resolved");
    let addr = addrs[0].clone().with(multiaddr::Protocol::P2p(local));
    (h, addr)
}

/// The first handshake failure on `rx` within `within`.
async fn handshake_failure(
    rx: &mut broadcast::Receiver<SwarmNotice>,
    within: Duration,
) -> HandshakeFailure {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(SwarmNotice::HandshakeFailed(f))) => return f,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("notices: {e}"),
            Err(_) => panic!("no handshake failure within {within:?}"),
        }
    }
}

#[tokio::test]
async fn swarm_same_secret_connects_and_pings() {
    let secret = ClusterSecret::generate();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("peerstore");
    let (a, _) = start_peer(Some(secret.clone()), Some(store.clone())).await;
    let (b, b_addr) = start_peer(Some(secret), None).await;
    let mut notices = a.subscribe();
    assert_eq!(a.dial(b_addr.clone()).await.unwrap(), b.local_peer_id());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (mut pinged, mut identified) = (false, false);
    while !(pinged && identified) {
        match tokio::time::timeout_at(deadline, notices.recv()).await {
            Ok(Ok(SwarmNotice::Ping { peer, rtt })) => {
                assert_eq!(peer, b.local_peer_id());
                assert!(rtt < Duration::from_secs(5));
                pinged = true;
            }
            Ok(Ok(SwarmNotice::Identified { peer, agent, .. })) => {
                assert_eq!(peer, b.local_peer_id());
                assert!(agent.starts_with("pinfold/"), "{agent}");
                identified = true;
            }
            Ok(Ok(SwarmNotice::HandshakeFailed(f))) => panic!("{f:?}"),
            Ok(_) => {}
            Err(_) => {
                panic!("no ping/identify within 20s (pinged {pinged}, identified {identified})")
            }
        }
    }
    assert_eq!(a.connected_peers().await.unwrap(), vec![b.local_peer_id()]);
    assert_eq!(b.connected_peers().await.unwrap(), vec![a.local_peer_id()]);
    // the address book and the peerstore file hold b's address
    let book = a.peer_addresses().await.unwrap();
    let mut plain = b_addr.clone();
    plain.pop();
    assert!(book[&b.local_peer_id()].contains(&plain), "{book:?}");
    let text = std::fs::read_to_string(&store).unwrap();
    assert!(text.lines().any(|l| l == b_addr.to_string()), "{text}");
    // dialing again is a no-op that answers the same peer
    assert_eq!(a.dial(b_addr).await.unwrap(), b.local_peer_id());
    // forgetting drops it from the file
    a.forget_peer(b.local_peer_id()).await.unwrap();
    assert!(a.peer_addresses().await.unwrap().is_empty());
    a.shutdown().await;
    assert_eq!(std::fs::read_to_string(&store).unwrap(), "");
    b.shutdown().await;
}

#[tokio::test]
async fn swarm_peerstore_lines_are_dialed_at_start() {
    let secret = ClusterSecret::generate();
    let (b, b_addr) = start_peer(Some(secret.clone()), None).await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("peerstore");
    std::fs::write(&store, format!("{b_addr}\n")).unwrap();
    let mut notices = b.subscribe();
    let (a, _) = start_peer(Some(secret), Some(store)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, notices.recv()).await {
            Ok(Ok(SwarmNotice::Connected { peer, .. })) => {
                assert_eq!(peer, a.local_peer_id());
                break;
            }
            Ok(_) => {}
            Err(_) => panic!("the peerstore address was not dialed"),
        }
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn swarm_different_secret_fails_with_a_clear_error_on_both_sides() {
    let (a, _) = start_peer(Some(ClusterSecret::generate()), None).await;
    let (b, b_addr) = start_peer(Some(ClusterSecret::generate()), None).await;
    let (mut na, mut nb) = (a.subscribe(), b.subscribe());
    let started = Instant::now();
    let err = a.dial(b_addr.clone()).await.unwrap_err();
    assert!(
        matches!(&err, SwarmError::Dial { addr, .. } if *addr == b_addr.to_string()),
        "{err}"
    );
    // the handshake timeout is 5 s: allow for it
    let fa = handshake_failure(&mut na, Duration::from_secs(12)).await;
    let fb = handshake_failure(&mut nb, Duration::from_secs(12)).await;
    assert!(started.elapsed() < Duration::from_secs(15));
    for (f, inbound) in [(&fa, false), (&fb, true)] {
        assert_eq!(f.inbound, inbound);
        assert_eq!(f.cause, FailureCause::SecretMismatch, "{f:?}");
        assert!(f.message.contains("secret mismatch?"), "{}", f.message);
        assert!(
            f.message.contains("the peer's cluster secret differs"),
            "{}",
            f.message
        );
    }
    assert!(a.connected_peers().await.unwrap().is_empty());
    assert!(b.connected_peers().await.unwrap().is_empty());
    // and no RPC gets through
    assert!(
        a.call(
            b.local_peer_id(),
            RpcRequest::Version,
            Duration::from_secs(8)
        )
        .await
        .is_err()
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn swarm_peer_without_secret_cannot_connect_to_a_secret_peer() {
    let (plain, _) = start_peer(None, None).await;
    let (private, private_addr) = start_peer(Some(ClusterSecret::generate()), None).await;
    let (mut np, mut nq) = (plain.subscribe(), private.subscribe());
    assert!(plain.dial(private_addr).await.is_err());
    let fp = handshake_failure(&mut np, Duration::from_secs(12)).await;
    let fq = handshake_failure(&mut nq, Duration::from_secs(12)).await;
    assert_eq!(fp.cause, FailureCause::SecretMismatch, "{fp:?}");
    assert_eq!(fq.cause, FailureCause::SecretMismatch, "{fq:?}");
    assert!(fp.message.contains("this peer has none"), "{}", fp.message);
    assert!(fq.message.contains("secret mismatch?"), "{}", fq.message);
    assert!(
        plain
            .call(
                private.local_peer_id(),
                RpcRequest::Version,
                Duration::from_secs(8)
            )
            .await
            .is_err()
    );
    assert!(private.connected_peers().await.unwrap().is_empty());
    plain.shutdown().await;
    private.shutdown().await;
}

#[tokio::test]
async fn swarm_refused_dial_is_not_called_a_secret_mismatch() {
    let (a, _) = start_peer(Some(ClusterSecret::generate()), None).await;
    // a port nobody listens on: bind then drop
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut na = a.subscribe();
    let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
    assert!(a.dial(addr).await.is_err());
    let f = handshake_failure(&mut na, Duration::from_secs(10)).await;
    assert_eq!(f.cause, FailureCause::Unreachable, "{f:?}");
    assert!(!f.message.contains("secret mismatch"), "{}", f.message);
    a.shutdown().await;
}

#[tokio::test]
async fn swarm_announce_multiaddress_replaces_the_reported_addresses() {
    let secret = ClusterSecret::generate();
    let key = libp2p_identity::Keypair::generate_ed25519();
    let local = key.public().to_peer_id();
    let announced: Multiaddr = "/ip4/127.0.0.1/tcp/4242".parse().unwrap();
    let mut cfg = SwarmConfig::new(
        vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        Some(secret.clone()),
    );
    cfg.announce = vec![announced.clone()];
    let b = start(&key, cfg, RpcServer::new(local, Arc::new(Versions)))
        .await
        .unwrap();
    let b_addr = b.listen_addrs().await.unwrap()[0]
        .clone()
        .with(multiaddr::Protocol::P2p(local));
    let (a, _) = start_peer(Some(secret), None).await;
    let mut na = a.subscribe();
    a.dial(b_addr).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, na.recv()).await {
            Ok(Ok(SwarmNotice::Identified { listen_addrs, .. })) => {
                assert_eq!(listen_addrs, vec![announced]);
                break;
            }
            Ok(_) => {}
            Err(_) => panic!("no identify"),
        }
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[test]
fn swarm_config_from_cluster_section() {
    let mut c = crate::config::ClusterConfig::default();
    c.secret = Some(ClusterSecret::generate());
    c.peer_addresses = vec!["/ip4/10.0.0.1/tcp/9096".parse().unwrap()];
    let s = SwarmConfig::from_cluster(&c, Some("/x/peerstore".into()));
    assert_eq!(s.listen, c.listen_multiaddress);
    assert_eq!(s.secret, c.secret);
    assert_eq!(s.peer_addresses, c.peer_addresses);
    assert_eq!(s.max_connections, 400);
    assert_eq!(s.handshake_timeout, Duration::from_secs(5));
    assert_eq!(s.peerstore, Some(PathBuf::from("/x/peerstore")));
}
