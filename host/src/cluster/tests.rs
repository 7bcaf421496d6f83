//! The cluster façade with its real neighbours in one process: an embedded IPFS node on
//! 127.0.0.1:0, the connector, raft with one voter, the tracker.

use std::sync::Arc;
use std::time::Duration;

use cid::Cid;
use futures::StreamExt;

use super::*;
use crate::consensus::{Consensus, node_id};
use crate::ipfs::hash::{HashFn, RAW};
use crate::ipfs::node::{Node, NodeOptions};
use crate::ipfsconn::{ConnectorConfig, IpfsConnector};
use crate::state::State;
use crate::tracker::{PinTracker, TrackerConfig};
use crate::types::{PinMode, TrackerStatus, TrackerStatusFilter};

struct Harness {
    api: ClusterHandle,
    node: Arc<Node>,
    _dir: tempfile::TempDir,
}

async fn start(pin_timeout: Duration) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(NodeOptions {
        repo: dir.path().join("ipfs"),
        storage_max: None,
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(crate::ipfs::api::serve(
        node.clone(),
        listener,
        futures::future::pending(),
    ));
    let mut cc = ConnectorConfig::with_defaults(url);
    cc.pin_timeout = pin_timeout;
    let ipfs = IpfsConnector::kubo(cc).unwrap();
    let peer = libp2p_identity::PeerId::random();
    let data = dir.path().join("raft");
    std::fs::create_dir_all(&data).unwrap();
    let state = Arc::new(State::open(&data.join("pinset.redb")).unwrap());
    let consensus = {
        let (data, state) = (data.clone(), state.clone());
        tokio::task::spawn_blocking(move || {
            Consensus::start(&data, node_id(&peer), &[], Default::default(), state)
        })
        .await
        .unwrap()
        .unwrap()
    };
    consensus
        .wait_for_leader(Duration::from_secs(30))
        .await
        .unwrap();
    let tracker = PinTracker::start(ipfs.clone(), peer, "test".into(), TrackerConfig::default());
    let cluster = Cluster::start(ClusterParts {
        peer,
        settings: ClusterSettings {
            peername: "test".into(),
            replication_factor_min: -1,
            replication_factor_max: -1,
            follower_mode: false,
            state_sync_interval: Duration::from_millis(200),
            pin_recover_interval: Duration::from_secs(3600),
            addresses: Vec::new(),
            connect_swarms_delay: None,
        },
        consensus: Arc::new(consensus),
        net: None,
        state,
        tracker,
        ipfs,
    });
    Harness {
        api: ClusterHandle(cluster),
        node,
        _dir: dir,
    }
}

fn raw_block(data: &[u8]) -> Cid {
    Cid::new_v1(RAW, HashFn::Sha2_256.digest(data))
}

async fn wait_status(api: &ClusterHandle, cid: Cid, want: TrackerStatus) -> GlobalPinInfo {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let info = api.status(cid, false).await.unwrap();
        let status = info.peer_map.values().next().unwrap().status;
        if status == want {
            return info;
        }
        if want == TrackerStatus::Pinned && status == TrackerStatus::PinError {
            // what pin_recover_interval does in a daemon: a pin that failed is retried
            api.recover(cid, false).await.unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{cid} stuck at {status:?}, wanted {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_reaches_pinned_then_unpin_reaches_unpinned() {
    let h = start(Duration::from_secs(120)).await;
    let data = b"a block the node has";
    let cid = raw_block(data);
    h.node.put_block(&cid, data).unwrap();
    let pin = h.api.pin(cid, Default::default()).await.unwrap();
    assert_eq!(
        pin.options.replication_factor_min, -1,
        "cluster defaults applied"
    );
    assert!(pin.allocations.is_empty(), "everywhere: no allocations");
    let info = wait_status(&h.api, cid, TrackerStatus::Pinned).await;
    assert_eq!(info.cid, cid);
    assert!(
        h.node.pins().get(&cid).unwrap().is_some(),
        "the IPFS node pinned it"
    );
    assert_eq!(h.api.allocation(cid).await.unwrap().cid, cid);
    let listed: Vec<_> = h
        .api
        .status_all(TrackerStatusFilter::parse("pinned"), false)
        .collect()
        .await;
    assert_eq!(listed.len(), 1);

    h.api.unpin(cid).await.unwrap();
    wait_status(&h.api, cid, TrackerStatus::Unpinned).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while h.node.pins().get(&cid).unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node still pins {cid}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(matches!(
        h.api.unpin(cid).await.unwrap_err(),
        ClusterError::NotFound
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_mode_missing_blocks_lost_pins_and_expiry() {
    // pin_timeout is a stall threshold: long enough that a loaded machine does not stall a pin
    // whose block is there, short enough to see a missing one fail
    let h = start(Duration::from_secs(3)).await;
    // direct really pins direct
    let data = b"direct";
    let cid = raw_block(data);
    h.node.put_block(&cid, data).unwrap();
    let opts = crate::types::PinOptions {
        mode: PinMode::Direct,
        ..Default::default()
    };
    assert_eq!(h.api.pin(cid, opts).await.unwrap().max_depth, 0);
    wait_status(&h.api, cid, TrackerStatus::Pinned).await;
    assert_eq!(
        h.node.pins().get(&cid).unwrap().unwrap().mode,
        crate::ipfs::pins::PinMode::Direct
    );

    // a block nobody has: the pin stalls out into pin_error, and recovers once it exists
    let missing = b"nobody has this yet";
    let mcid = raw_block(missing);
    h.api.pin(mcid, Default::default()).await.unwrap();
    let info = wait_status(&h.api, mcid, TrackerStatus::PinError).await;
    assert!(
        info.peer_map
            .values()
            .next()
            .unwrap()
            .error
            .contains("stalled"),
        "{info:?}"
    );
    h.node.put_block(&mcid, missing).unwrap();
    h.api.recover(mcid, false).await.unwrap();
    wait_status(&h.api, mcid, TrackerStatus::Pinned).await;

    // the node loses a pin behind the cluster's back: unexpectedly_unpinned, then recovered
    h.node.pin_rm(&[mcid], true).await.unwrap();
    wait_status(&h.api, mcid, TrackerStatus::UnexpectedlyUnpinned).await;
    let recovered: Vec<_> = h.api.recover_all(false).collect().await;
    assert_eq!(recovered.len(), 1);
    wait_status(&h.api, mcid, TrackerStatus::Pinned).await;

    // expiry: state sync removes the pin
    let e = b"expires";
    let ecid = raw_block(e);
    h.node.put_block(&ecid, e).unwrap();
    let now = crate::types::Timestamp::now();
    let opts = crate::types::PinOptions {
        expire_at: now.plus(Duration::from_secs(1)),
        ..Default::default()
    };
    h.api.pin(ecid, opts).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while h.api.allocation(ecid).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expired pin still in the state"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // bad input changes nothing
    let past = crate::types::PinOptions {
        expire_at: now,
        ..Default::default()
    };
    assert!(matches!(
        h.api.pin(ecid, past).await,
        Err(ClusterError::BadRequest(_))
    ));
    let bad = crate::types::PinOptions {
        replication_factor_min: 2,
        replication_factor_max: 1,
        ..Default::default()
    };
    assert!(matches!(
        h.api.pin(ecid, bad).await,
        Err(ClusterError::BadRequest(_))
    ));
    assert!(h.api.allocation(ecid).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_right_after_an_acknowledged_pin_is_queued_not_lost() {
    let h = start(Duration::from_secs(120)).await;
    for i in 0..20u32 {
        // blocks nobody has: the pin stays queued or pinning, it is never "lost"
        let cid = raw_block(format!("not here {i}").as_bytes());
        h.api.pin(cid, Default::default()).await.unwrap();
        let status = h
            .api
            .status(cid, false)
            .await
            .unwrap()
            .peer_map
            .into_values()
            .next()
            .unwrap()
            .status;
        assert!(
            matches!(status, TrackerStatus::PinQueued | TrackerStatus::Pinning),
            "{cid} read as {status:?} right after the pin was acknowledged"
        );
    }
}
