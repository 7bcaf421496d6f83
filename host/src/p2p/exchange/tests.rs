use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use futures::future::BoxFuture;
use futures::{AsyncWriteExt, FutureExt};
use tokio::time::Instant;

use super::*;
use crate::config::ClusterSecret;
use crate::ipfs::fetch::BlockFetcher;
use crate::ipfs::node::{Node, NodeError, NodeOptions};
use crate::ipfs::pins::PinMode;
use crate::ipfs::unixfs::file::{Block, ImportOptions, Metadata, import_bytes};
use crate::ipfs::unixfs::reader::{BlockSource, ReadError, file_reader};
use crate::p2p::rpc::{RpcHandler, RpcReply, RpcRequest, RpcResponse, RpcServer};
use crate::p2p::swarm::{SwarmConfig, SwarmHandle};
use libp2p_identity::PeerId;
use multiaddr::Multiaddr;

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

/// A swarm on 127.0.0.1 (ephemeral port) and its `/p2p/` address.
pub(crate) async fn start_swarm(secret: Option<ClusterSecret>) -> (SwarmHandle, Multiaddr) {
    let key = libp2p_identity::Keypair::generate_ed25519();
    let local = key.public().to_peer_id();
    let mut cfg = SwarmConfig::new(vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()], secret);
    cfg.handshake_timeout = Duration::from_secs(10); // a loaded machine
    let h = crate::p2p::swarm::start(&key, cfg, RpcServer::new(local, Arc::new(Versions)))
        .await
        .unwrap();
    let addr = h.listen_addrs().await.unwrap()[0]
        .clone()
        .with(multiaddr::Protocol::P2p(local));
    (h, addr)
}

/// A peer: swarm + embedded node (in `dir`) + fetcher + server.
struct Peer {
    swarm: SwarmHandle,
    addr: Multiaddr,
    node: Arc<Node>,
    fetcher: SwarmFetcher,
    server: ExchangeServer,
}

async fn start_peer(
    dir: &Path,
    secret: Option<ClusterSecret>,
    fetcher: FetcherConfig,
    server: ServerConfig,
) -> Peer {
    // the documented construction order: fetcher → node → swarm → bind → serve
    let fetcher = SwarmFetcher::new(fetcher);
    let node = Node::open_with_fetcher(
        NodeOptions {
            repo: dir.to_path_buf(),
            storage_max: None,
        },
        Arc::new(fetcher.clone()),
    )
    .unwrap();
    let (swarm, addr) = start_swarm(secret).await;
    assert!(fetcher.bind(swarm.streams()));
    assert!(!fetcher.bind(swarm.streams()), "binds once");
    let server = serve_with(&swarm.streams(), node.clone(), server).unwrap();
    Peer {
        swarm,
        addr,
        node,
        fetcher,
        server,
    }
}

fn fast_fetcher() -> FetcherConfig {
    FetcherConfig {
        retry_interval: Duration::from_millis(200),
        ..FetcherConfig::default()
    }
}

fn content(len: usize, seed: u64) -> Vec<u8> {
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

/// Imports `data` into `node` with `chunk`-byte leaves; returns the blocks and the root.
fn add(node: &Node, data: &[u8], chunk: usize) -> (Vec<Block>, Cid) {
    let opts = ImportOptions {
        chunk_size: chunk,
        ..ImportOptions::default()
    };
    let (blocks, root) = import_bytes(opts, Metadata::default(), data);
    for b in &blocks {
        node.put_block_trusted(&b.cid, &b.data).unwrap();
    }
    node.flush().unwrap();
    (blocks, root.cid)
}

struct Local<'a>(&'a Node);

impl BlockSource for Local<'_> {
    fn get_block(&self, cid: &Cid) -> Result<Bytes, ReadError> {
        self.0
            .get_local(cid)
            .map_err(|e| ReadError::Source(e.to_string()))?
            .ok_or(ReadError::NotFound(*cid))
    }
}

/// `cat` from the node's own store only.
fn cat(node: &Node, root: &Cid) -> Vec<u8> {
    let src = Local(node);
    let mut out = Vec::new();
    for part in file_reader(&src, root, 0, None).unwrap() {
        out.extend_from_slice(&part.unwrap());
    }
    out
}

async fn pin(node: &Arc<Node>, root: Cid, within: Duration) -> Result<(), NodeError> {
    node.pin_add(
        &[root],
        PinMode::Recursive,
        "",
        Some(Instant::now() + within),
        |_| {},
    )
    .await
}

async fn connect(from: &Peer, to: &Peer) {
    assert_eq!(
        from.swarm.dial(to.addr.clone()).await.unwrap(),
        to.swarm.local_peer_id()
    );
    // wait until both sides see the connection (the fetcher schedules on it)
    let deadline = Instant::now() + Duration::from_secs(20);
    for (a, b) in [(from, to), (to, from)] {
        let mut rx = a.swarm.streams().connected();
        while !rx.borrow_and_update().contains(&b.swarm.local_peer_id()) {
            tokio::time::timeout_at(deadline, rx.changed())
                .await
                .expect("connected within 20s")
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_pin_fetches_every_block_from_another_peer() {
    let secret = ClusterSecret::generate();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start_peer(
        da.path(),
        Some(secret.clone()),
        fast_fetcher(),
        ServerConfig::default(),
    )
    .await;
    let b = start_peer(
        db.path(),
        Some(secret),
        fast_fetcher(),
        ServerConfig::default(),
    )
    .await;
    let data = content(3 << 20, 1);
    let (blocks, root) = add(&a.node, &data, 16 * 1024);
    assert!(blocks.len() > 190, "a multi-block DAG: {}", blocks.len());
    assert!(!b.node.has_local(&root));
    connect(&b, &a).await;

    pin(&b.node, root, Duration::from_secs(120)).await.unwrap();
    for blk in &blocks {
        assert!(b.node.has_local(&blk.cid), "B lacks {}", blk.cid);
    }
    assert_eq!(cat(&b.node, &root), data);
    assert!(b.node.pin_status(&root).unwrap().is_some());

    let fs = b.fetcher.stats();
    let ss = a.server.stats();
    assert_eq!(fs.blocks as usize, blocks.len(), "{fs:?}");
    assert_eq!(fs.rejected, 0);
    assert_eq!(ss.blocks_sent as usize, blocks.len(), "{ss:?}");
    assert!(fs.max_batch > 1, "wants were batched: {fs:?}");
    assert!(fs.max_concurrent_streams <= 4, "per-peer bound: {fs:?}");
    assert_eq!(b.fetcher.wanted(), 0);
    // B's own server only answers from its store: A asking for something nobody has gets
    // "have not" and B does not start fetching it itself
    let missing = Cid::new_v1(
        crate::ipfs::hash::RAW,
        crate::ipfs::hash::HashFn::Sha2_256.digest(b"nobody has this"),
    );
    let r = tokio::time::timeout(Duration::from_secs(2), a.fetcher.fetch(&missing)).await;
    assert!(r.is_err(), "nobody has it: the fetch stays pending");
    assert_eq!(b.fetcher.wanted(), 0, "serving never triggers a fetch");
    assert_eq!(a.fetcher.wanted(), 0, "the dropped fetch withdrew its want");
    assert!(b.server.stats().have_not >= 1);
    a.swarm.shutdown().await;
    b.swarm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_fetch_waits_until_a_peer_gets_the_block() {
    let secret = ClusterSecret::generate();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start_peer(
        da.path(),
        Some(secret.clone()),
        fast_fetcher(),
        ServerConfig::default(),
    )
    .await;
    let b = start_peer(
        db.path(),
        Some(secret),
        fast_fetcher(),
        ServerConfig::default(),
    )
    .await;
    connect(&b, &a).await;
    let data = Bytes::from_static(b"arrives later");
    let cid = Cid::new_v1(
        crate::ipfs::hash::RAW,
        crate::ipfs::hash::HashFn::Sha2_256.digest(&data),
    );
    let fetch = b
        .node
        .get_block(&cid, Some(Instant::now() + Duration::from_secs(60)));
    let put_later = async {
        // once B has asked A at least once (and been told "have not")
        let deadline = Instant::now() + Duration::from_secs(30);
        while a.server.stats().have_not == 0 {
            assert!(Instant::now() < deadline, "B never asked A");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        a.node.put_block(&cid, &data).unwrap();
    };
    let (got, ()) = tokio::join!(fetch, put_later);
    assert_eq!(got.unwrap(), data);
    assert!(b.node.has_local(&cid));
    a.swarm.shutdown().await;
    b.swarm.shutdown().await;
}

/// Answers every want with bytes that do not match the CID.
fn serve_corrupt(streams: &crate::p2p::swarm::Streams) -> tokio::task::JoinHandle<()> {
    let mut incoming = streams.accept(PROTOCOL).unwrap();
    tokio::spawn(async move {
        while let Some((_, stream)) = incoming.next().await {
            tokio::spawn(async move {
                let mut s = futures::io::BufReader::new(stream);
                let Ok(wants) = wire::read_request(&mut s).await else {
                    return;
                };
                let mut s = s.into_inner();
                for _ in wants {
                    if wire::write_answer(&mut s, Some(b"not the block you want"))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                let _ = s.close().await;
            });
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_rejects_blocks_that_do_not_match_their_cid() {
    let secret = ClusterSecret::generate();
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start_peer(
        da.path(),
        Some(secret.clone()),
        fast_fetcher(),
        ServerConfig::default(),
    )
    .await;
    let b = start_peer(
        db.path(),
        Some(secret.clone()),
        fast_fetcher(),
        ServerConfig::default(),
    )
    .await;
    let (evil, evil_addr) = start_swarm(Some(secret)).await;
    let _evil_server = serve_corrupt(&evil.streams());
    let data = content(256 * 1024, 2);
    let (blocks, root) = add(&a.node, &data, 16 * 1024);

    // only the corrupt peer is connected: nothing is accepted, the pin times out
    b.swarm.dial(evil_addr).await.unwrap();
    let err = pin(&b.node, root, Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(matches!(err, NodeError::Timeout { .. }), "{err}");
    let fs = b.fetcher.stats();
    assert!(fs.rejected >= 1, "{fs:?}");
    assert_eq!(fs.blocks, 0, "{fs:?}");
    assert!(!b.node.has_local(&root));
    assert_eq!(
        b.fetcher.wanted(),
        0,
        "the timed-out pin withdrew its wants"
    );

    // with an honest peer too, the pin completes with the honest bytes
    connect(&b, &a).await;
    pin(&b.node, root, Duration::from_secs(120)).await.unwrap();
    assert_eq!(cat(&b.node, &root), data);
    for blk in &blocks {
        assert!(b.node.has_local(&blk.cid));
    }
    a.swarm.shutdown().await;
    b.swarm.shutdown().await;
    evil.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_peer_without_the_secret_gets_nothing() {
    let secret = ClusterSecret::generate();
    let (da, dc, dd) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = start_peer(
        da.path(),
        Some(secret),
        fast_fetcher(),
        ServerConfig::default(),
    )
    .await;
    let (_, root) = add(&a.node, &content(64 * 1024, 3), 16 * 1024);
    for (dir, other) in [
        (dc.path(), Some(ClusterSecret::generate())),
        (dd.path(), None),
    ] {
        let c = start_peer(dir, other, fast_fetcher(), ServerConfig::default()).await;
        assert!(
            c.swarm.dial(a.addr.clone()).await.is_err(),
            "no connection without the secret"
        );
        assert!(
            c.swarm
                .streams()
                .open(a.swarm.local_peer_id(), PROTOCOL)
                .await
                .is_err()
        );
        let err = pin(&c.node, root, Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(matches!(err, NodeError::Timeout { .. }), "{err}");
        assert!(!c.node.has_local(&root));
        c.swarm.shutdown().await;
    }
    assert_eq!(a.server.stats().streams, 0, "nothing was served");
    a.swarm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_respects_stream_and_batch_bounds() {
    let secret = ClusterSecret::generate();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // two holders that serve one stream at a time each, and a fetcher allowed 3 streams of 8
    let server = ServerConfig {
        max_streams: 1,
        ..ServerConfig::default()
    };
    let a = start_peer(
        dirs[0].path(),
        Some(secret.clone()),
        fast_fetcher(),
        server.clone(),
    )
    .await;
    let c = start_peer(dirs[1].path(), Some(secret.clone()), fast_fetcher(), server).await;
    let b = start_peer(
        dirs[2].path(),
        Some(secret),
        FetcherConfig {
            max_streams: 3,
            max_streams_per_peer: 2,
            batch: 8,
            retry_interval: Duration::from_millis(100),
            ..FetcherConfig::default()
        },
        ServerConfig::default(),
    )
    .await;
    let data = content(1 << 20, 4);
    let (blocks, root) = add(&a.node, &data, 8 * 1024);
    add(&c.node, &data, 8 * 1024);
    connect(&b, &a).await;
    connect(&b, &c).await;
    pin(&b.node, root, Duration::from_secs(120)).await.unwrap();
    assert_eq!(cat(&b.node, &root), data);
    let fs = b.fetcher.stats();
    assert!(fs.max_concurrent_streams <= 3, "{fs:?}");
    assert!(fs.max_batch <= 8 && fs.max_batch > 1, "{fs:?}");
    assert_eq!(fs.blocks as usize, blocks.len(), "{fs:?}");
    let (sa, sc) = (a.server.stats(), c.server.stats());
    assert!(sa.max_active <= 1 && sc.max_active <= 1, "{sa:?} {sc:?}");
    assert!(
        sa.blocks_sent > 0 && sc.blocks_sent > 0,
        "both holders served: {sa:?} {sc:?}"
    );
    for p in [a, b, c] {
        p.swarm.shutdown().await;
    }
}

#[tokio::test]
async fn exchange_dropped_fetch_withdraws_its_want() {
    let f = SwarmFetcher::new(FetcherConfig::default());
    let cid = Cid::new_v1(
        crate::ipfs::hash::RAW,
        crate::ipfs::hash::HashFn::Sha2_256.digest(b"x"),
    );
    {
        let mut one = f.fetch(&cid);
        let mut two = f.fetch(&cid);
        assert!((&mut one).now_or_never().is_none());
        assert!((&mut two).now_or_never().is_none());
        assert_eq!(f.wanted(), 1, "shared want");
        drop(one);
        assert_eq!(f.wanted(), 1, "one waiter left");
    }
    assert_eq!(f.wanted(), 0);
}

/// 64 MiB between two local peers; run with
/// `cargo test --release -p pinfold --lib exchange::tests::exchange_throughput -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn exchange_throughput_64mib() {
    for chunk in [256 * 1024, 64 * 1024] {
        let secret = ClusterSecret::generate();
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let a = start_peer(
            da.path(),
            Some(secret.clone()),
            fast_fetcher(),
            ServerConfig::default(),
        )
        .await;
        let b = start_peer(
            db.path(),
            Some(secret),
            fast_fetcher(),
            ServerConfig::default(),
        )
        .await;
        let data = content(64 << 20, 5);
        let (blocks, root) = add(&a.node, &data, chunk);
        connect(&b, &a).await;
        let t = std::time::Instant::now();
        pin(&b.node, root, Duration::from_secs(600)).await.unwrap();
        let secs = t.elapsed().as_secs_f64();
        let fs = b.fetcher.stats();
        println!(
            "exchange: 64 MiB in {} blocks of {} KiB: {:.2} s, {:.1} MiB/s ({} streams, max batch {}, max concurrent {})",
            blocks.len(),
            chunk / 1024,
            secs,
            64.0 / secs,
            fs.streams,
            fs.max_batch,
            fs.max_concurrent_streams
        );
        assert_eq!(cat(&b.node, &root).len(), data.len());
        a.swarm.shutdown().await;
        b.swarm.shutdown().await;
    }
}
