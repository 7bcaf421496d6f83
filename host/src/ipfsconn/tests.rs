//! One set of behaviour tests, run against both backends: the Kubo HTTP client talking to an
//! embedded node served on 127.0.0.1:0, and the in-process backend on the same kind of node.
//! Each `async fn` below takes the backend to test; the `both!` macro makes a `#[tokio::test]`
//! of it in `kubo::` and in `embedded::`. `errors_read_the_same` compares error texts
//! side by side.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use futures::StreamExt;

use super::*;
use crate::ipfs::dagpb::{PbLink, PbNode};
use crate::ipfs::hash::{DAG_PB, HashFn, RAW};
use crate::ipfs::node::NodeOptions;

#[derive(Debug, Clone, Copy)]
enum Backend {
    Kubo,
    Embedded,
}

struct Fixture {
    ipfs: IpfsConnector,
    node: Arc<Node>,
    _dir: tempfile::TempDir,
}

async fn fixture(backend: Backend, tune: impl FnOnce(&mut ConnectorConfig)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(NodeOptions {
        repo: dir.path().join("ipfs"),
        storage_max: None,
    })
    .unwrap();
    let mut config = ConnectorConfig::with_defaults("");
    tune(&mut config);
    let ipfs = match backend {
        Backend::Kubo => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            config.base_url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(crate::ipfs::api::serve(
                node.clone(),
                listener,
                futures::future::pending(),
            ));
            IpfsConnector::kubo(config).unwrap()
        }
        Backend::Embedded => IpfsConnector::embedded(node.clone(), config),
    };
    Fixture {
        ipfs,
        node,
        _dir: dir,
    }
}

fn raw(data: &str) -> (Cid, Bytes) {
    let data = Bytes::from(data.to_string());
    (Cid::new_v1(RAW, HashFn::Sha2_256.digest(&data)), data)
}

/// A dag-pb root over two raw leaves: (root block, leaf blocks).
fn small_dag(seed: &str) -> ((Cid, Bytes), Vec<(Cid, Bytes)>) {
    let leaves = vec![raw(&format!("{seed} one")), raw(&format!("{seed} two"))];
    let root = PbNode {
        links: leaves
            .iter()
            .map(|(cid, data)| PbLink {
                cid: *cid,
                name: Some(String::new()),
                tsize: Some(data.len() as u64),
            })
            .collect(),
        data: None,
    }
    .encode();
    let root_cid = Cid::new_v1(DAG_PB, HashFn::Sha2_256.digest(&root));
    ((root_cid, Bytes::from(root)), leaves)
}

/// Stores a small DAG through the connector (`block/put`, one call per codec).
async fn put_dag(f: &Fixture, seed: &str) -> (Cid, Vec<Cid>) {
    let (root, leaves) = small_dag(seed);
    let leaf_cids = leaves.iter().map(|(c, _)| *c).collect();
    f.ipfs.block_put(leaves).await.unwrap();
    f.ipfs.block_put(vec![root.clone()]).await.unwrap();
    (root.0, leaf_cids)
}

async fn id(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let id = f.ipfs.id().await.unwrap();
    assert_eq!(id.id, f.node.peer_id().to_string());
    assert_eq!(id.addresses, Some(Vec::new()));
}

async fn block_put_stores_verified_blocks(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let (root, leaves) = put_dag(&f, "put").await;
    for cid in leaves.iter().chain([&root]) {
        assert!(f.node.has_local(cid), "{cid} stored");
    }
    f.ipfs.block_put(Vec::new()).await.unwrap();
    // bytes that do not hash to their CID are refused by both
    let (cid, _) = raw("the real bytes");
    let err = f
        .ipfs
        .block_put(vec![(cid, Bytes::from_static(b"other bytes"))])
        .await
        .unwrap_err();
    assert!(!f.node.has_local(&cid), "{err}");
}

async fn pin_recursive(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let (root, leaves) = put_dag(&f, "recursive").await;
    assert_eq!(
        f.ipfs.pin_ls_cid(&root).await.unwrap(),
        IpfsPinStatus::Unpinned
    );
    let mut seen = Vec::new();
    f.ipfs
        .pin(&root, PinMode::Recursive, None, |n| seen.push(n))
        .await
        .unwrap();
    assert_eq!(seen.last(), Some(&3), "progress counts blocks: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(
        f.ipfs.pin_ls_cid(&root).await.unwrap(),
        IpfsPinStatus::Recursive
    );
    assert_eq!(
        f.ipfs.pin_ls_cid(&leaves[0]).await.unwrap(),
        IpfsPinStatus::Indirect
    );
    // pinned already: nothing to do, no progress
    let mut again = Vec::new();
    f.ipfs
        .pin(&root, PinMode::Recursive, None, |n| again.push(n))
        .await
        .unwrap();
    assert!(again.is_empty());
    assert!(
        f.ipfs
            .pin_ls_cid(&root)
            .await
            .unwrap()
            .satisfies(PinMode::Direct)
    );
}

async fn pin_direct_and_list(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let (root, _) = put_dag(&f, "listed").await;
    let (single, data) = raw("a direct pin");
    f.ipfs.block_put(vec![(single, data)]).await.unwrap();
    f.ipfs
        .pin(&single, PinMode::Direct, None, |_| {})
        .await
        .unwrap();
    assert_eq!(
        f.ipfs.pin_ls_cid(&single).await.unwrap(),
        IpfsPinStatus::Direct
    );
    assert!(
        !f.ipfs
            .pin_ls_cid(&single)
            .await
            .unwrap()
            .satisfies(PinMode::Recursive)
    );
    f.ipfs
        .pin(&root, PinMode::Recursive, None, |_| {})
        .await
        .unwrap();
    let listed: Vec<(Cid, IpfsPinStatus)> = f
        .ipfs
        .pin_ls()
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(
        listed,
        vec![
            (root, IpfsPinStatus::Recursive),
            (single, IpfsPinStatus::Direct)
        ]
    );
}

async fn pin_update_keeps_the_old_pin(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let (old, _) = put_dag(&f, "old").await;
    let (new, _) = put_dag(&f, "new").await;
    f.ipfs
        .pin(&old, PinMode::Recursive, None, |_| {})
        .await
        .unwrap();
    f.ipfs
        .pin(&new, PinMode::Recursive, Some(&old), |_| {})
        .await
        .unwrap();
    for cid in [old, new] {
        assert_eq!(
            f.ipfs.pin_ls_cid(&cid).await.unwrap(),
            IpfsPinStatus::Recursive
        );
    }
}

async fn unpin(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let (root, _) = put_dag(&f, "unpinned").await;
    f.ipfs
        .pin(&root, PinMode::Recursive, None, |_| {})
        .await
        .unwrap();
    f.ipfs.unpin(&root).await.unwrap();
    assert_eq!(
        f.ipfs.pin_ls_cid(&root).await.unwrap(),
        IpfsPinStatus::Unpinned
    );
    // not pinned (any more, or ever): done
    f.ipfs.unpin(&root).await.unwrap();
    f.ipfs.unpin(&raw("never pinned").0).await.unwrap();

    let f = fixture(backend, |c| c.unpin_disable = true).await;
    assert!(matches!(
        f.ipfs.unpin(&root).await,
        Err(ConnectorError::UnpinDisabled)
    ));
}

async fn pin_of_missing_blocks_stalls(backend: Backend) {
    let f = fixture(backend, |c| c.pin_timeout = Duration::from_millis(300)).await;
    let (missing, _) = raw("nobody has this block");
    let started = Instant::now();
    let err = f
        .ipfs
        .pin(&missing, PinMode::Recursive, None, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Stalled { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        f.ipfs.pin_ls_cid(&missing).await.unwrap(),
        IpfsPinStatus::Unpinned
    );
    // the block arrives later: the next pin takes it
    let (cid, data) = raw("nobody has this block");
    f.ipfs.block_put(vec![(cid, data)]).await.unwrap();
    f.ipfs
        .pin(&missing, PinMode::Recursive, None, |_| {})
        .await
        .unwrap();
}

async fn resolve(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let (root, _) = put_dag(&f, "resolved").await;
    assert_eq!(
        f.ipfs.resolve(&format!("/ipfs/{root}")).await.unwrap(),
        root
    );
    assert_eq!(f.ipfs.resolve(&root.to_string()).await.unwrap(), root);
    assert!(f.ipfs.resolve("/ipns/example.org").await.is_err());
}

async fn repo_stat_and_gc(backend: Backend) {
    let f = fixture(backend, |_| {}).await;
    let (root, leaves) = put_dag(&f, "kept").await;
    f.ipfs
        .pin(&root, PinMode::Recursive, None, |_| {})
        .await
        .unwrap();
    let (loose, data) = raw("collected");
    f.ipfs.block_put(vec![(loose, data)]).await.unwrap();
    let stat = f.ipfs.repo_stat().await.unwrap();
    assert_eq!(stat.storage_max, f.node.blocks().stat().storage_max);
    assert!(stat.repo_size > 0);
    let removed = f.ipfs.repo_gc().await.unwrap();
    assert_eq!(
        removed,
        vec![GcKey {
            key: Some(loose),
            error: String::new()
        }]
    );
    assert!(!f.node.has_local(&loose));
    assert!(leaves.iter().all(|l| f.node.has_local(l)));
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod kubo {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Kubo).await
            })*
        }
        mod embedded {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Embedded).await
            })*
        }
    };
}

both!(
    id,
    block_put_stores_verified_blocks,
    pin_recursive,
    pin_direct_and_list,
    pin_update_keeps_the_old_pin,
    unpin,
    pin_of_missing_blocks_stalls,
    resolve,
    repo_stat_and_gc,
);

/// The texts a user sees (in `pin_error` statuses, logs) do not depend on the backend.
#[tokio::test]
async fn errors_read_the_same() {
    let tune = |c: &mut ConnectorConfig| {
        c.pin_timeout = Duration::from_millis(200);
        c.unpin_disable = true;
    };
    let kubo = fixture(Backend::Kubo, tune).await;
    let embedded = fixture(Backend::Embedded, tune).await;
    let (missing, _) = raw("missing everywhere");
    let p2p = format!("/ip4/127.0.0.1/tcp/4001/p2p/{}", embedded.node.peer_id());
    let mut texts = Vec::new();
    for f in [&kubo, &embedded] {
        let mut t = vec![
            f.ipfs.resolve("/ipns/example.org").await.unwrap_err(),
            f.ipfs.resolve("not a path").await.unwrap_err(),
            f.ipfs.swarm_connect("/ip4/127.0.0.1").await.unwrap_err(),
            f.ipfs.swarm_connect("garbage").await.unwrap_err(),
            f.ipfs
                .pin(&missing, PinMode::Direct, None, |_| {})
                .await
                .unwrap_err(),
            f.ipfs.unpin(&missing).await.unwrap_err(),
        ]
        .into_iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>();
        // the peer id of the other node differs; the sentence does not
        t.push(f.ipfs.swarm_connect(&p2p).await.unwrap_err().to_string());
        texts.push(t);
    }
    assert_eq!(texts[0], texts[1]);
    assert!(texts[0][4].contains("stalled"), "{:?}", texts[0]);
}
