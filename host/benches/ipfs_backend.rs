//! Criterion bench of the IPFS connector's two backends on the path of every pin: the cost of
//! one pin (`pin`, which first asks `pin/ls` whether the CID is pinned already, then
//! `pin/add` with progress) and the `pin/ls` of the tracker's status line that follows, for a
//! small DAG (a dag-pb root over two raw leaves) whose blocks are already local.
//!
//! * `ipfs_backend/kubo_http`: the Kubo RPC client against an embedded node served on
//!   127.0.0.1:0 in this process (JSON, a loopback socket, the server's parsing per call): what
//!   the daemon did before the in-process backend;
//! * `ipfs_backend/embedded`: the in-process backend on an identical node.
//!
//! Each backend has its own node; a pin is removed (untimed, on the node directly) after it is
//! measured, so the pinset stays empty and every iteration does the same work. After the
//! criterion groups, interleaved rounds (so both see the same machine load) record wall time
//! and process CPU time per pin, its unpin included (`/proc/self/stat`, both sides of the HTTP call count since the
//! server runs in this process); printed and written to
//! `$CARGO_TARGET_DIR/bench/ipfs_backend.json`. Run with
//! `cargo bench -p pinfold --bench ipfs_backend`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cid::Cid;
use criterion::{Criterion, criterion_group};
use pinfold::ipfs::dagpb::{PbLink, PbNode};
use pinfold::ipfs::hash::{DAG_PB, HashFn, RAW};
use pinfold::ipfs::node::{Node, NodeOptions};
use pinfold::ipfsconn::{ConnectorConfig, IpfsConnector, IpfsPinStatus};
use pinfold::types::PinMode;

/// Distinct DAGs each backend cycles through.
const DAGS: usize = 64;

struct Backend {
    ipfs: IpfsConnector,
    node: Arc<Node>,
    dags: Vec<Cid>,
    _dir: tempfile::TempDir,
}

fn block(codec: u64, data: Vec<u8>) -> (Cid, Bytes) {
    (
        Cid::new_v1(codec, HashFn::Sha2_256.digest(&data)),
        Bytes::from(data),
    )
}

/// A dag-pb root over two raw leaves, children first.
fn small_dag(i: usize) -> Vec<(Cid, Bytes)> {
    let leaves = [
        block(RAW, format!("leaf one of dag {i}").into_bytes()),
        block(RAW, format!("leaf two of dag {i}").into_bytes()),
    ];
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
    };
    let mut blocks = leaves.to_vec();
    blocks.push(block(DAG_PB, root.encode()));
    blocks
}

async fn backend(http: bool) -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(NodeOptions {
        repo: dir.path().join("ipfs"),
        storage_max: None,
    })
    .unwrap();
    let mut dags = Vec::new();
    for i in 0..DAGS {
        let blocks = small_dag(i);
        for (cid, data) in &blocks {
            node.put_block(cid, data).unwrap();
        }
        dags.push(blocks.last().unwrap().0);
    }
    node.flush().unwrap();
    let mut config = ConnectorConfig::with_defaults("");
    let ipfs = if http {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        config.base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(pinfold::ipfs::api::serve(
            node.clone(),
            listener,
            futures::future::pending(),
        ));
        IpfsConnector::kubo(config).unwrap()
    } else {
        IpfsConnector::embedded(node.clone(), config)
    };
    Backend {
        ipfs,
        node,
        dags,
        _dir: dir,
    }
}

/// `iters` pins and `pin/ls` lookups; returns the time they took (unpinning excluded).
async fn pins(b: &Backend, iters: u64) -> Duration {
    let mut spent = Duration::ZERO;
    for i in 0..iters as usize {
        let cid = b.dags[i % DAGS];
        let t = Instant::now();
        b.ipfs
            .pin(&cid, PinMode::Recursive, None, |_| {})
            .await
            .unwrap();
        let status = b.ipfs.pin_ls_cid(&cid).await.unwrap();
        spent += t.elapsed();
        assert_eq!(status, IpfsPinStatus::Recursive);
        b.node.pin_rm(&[cid], true).await.unwrap();
    }
    spent
}

/// User + system CPU time of this process so far.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // the fields after the command name (which may hold spaces) in parentheses
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

fn per_pin(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (kubo, embedded) = rt.block_on(async { (backend(true).await, backend(false).await) });
    // warm up both (connections, caches)
    rt.block_on(pins(&kubo, 200));
    rt.block_on(pins(&embedded, 200));

    let mut g = c.benchmark_group("ipfs_backend");
    g.throughput(criterion::Throughput::Elements(1));
    g.bench_function("kubo_http", |b| {
        b.iter_custom(|iters| rt.block_on(pins(&kubo, iters)))
    });
    g.bench_function("embedded", |b| {
        b.iter_custom(|iters| rt.block_on(pins(&embedded, iters)))
    });
    g.finish();

    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test --benches`: one pass of each is enough
    }
    // the figures to record: interleaved rounds, wall and CPU per pin
    // (a pin over loopback HTTP takes tens of milliseconds: keep the run to about a minute)
    let (rounds, n) = (5, 200u64);
    let mut figures = serde_json::Map::new();
    let mut spent = [(Duration::ZERO, Duration::ZERO); 2];
    for _ in 0..rounds {
        for (i, b) in [&kubo, &embedded].into_iter().enumerate() {
            let (wall, cpu) = (Instant::now(), cpu_time());
            rt.block_on(pins(b, n));
            spent[i].0 += wall.elapsed();
            spent[i].1 += cpu_time() - cpu;
        }
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / (rounds as f64 * n as f64);
    for (name, (wall, cpu)) in ["kubo_http", "embedded"].into_iter().zip(spent) {
        println!(
            "ipfs_backend/{name}: {rounds}x{n} pins interleaved: {:.1} µs wall, {:.1} µs CPU per pin (pin + pin/ls, unpin included)",
            per(wall),
            per(cpu)
        );
        figures.insert(
            name.to_string(),
            serde_json::json!({ "wall_us_per_pin": per(wall), "cpu_us_per_pin": per(cpu) }),
        );
    }
    let ratio = per(spent[1].1) / per(spent[0].1);
    println!(
        "ipfs_backend: the in-process backend uses {ratio:.3} of the HTTP client's CPU per pin"
    );
    figures.insert("cpu_ratio_embedded_to_kubo".into(), ratio.into());
    let out = std::path::PathBuf::from(
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()),
    )
    .join("bench");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(
        out.join("ipfs_backend.json"),
        serde_json::Value::Object(figures).to_string(),
    );
}

criterion_group!(benches, per_pin);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
