//! Checks of the cluster black-box tests' own tools, runnable before the daemon exists: the
//! raw HTTP/1.1 client and multipart encoder of `support/cluster.rs` (against
//! `pinfold ipfs daemon`, the embedded node on its own), and `pinfold-bench` (against a stub
//! REST API served here).
//!
//! ```text
//! cargo test -p pinfold --test all cluster_support::
//! ```

use crate::support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};
use support::cluster::{Part, http_request, multipart, parse_response, random_cid};

#[test]
fn raw_client_parses_chunked_bodies_with_trailers() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTrailer: X-Stream-Error\r\n\
Transfer-Encoding: chunked\r\n\r\n\
b\r\n{\"a\":1}\n{\"b\r\n5;ext=1\r\n\":2}\n\r\n0\r\nX-Stream-Error: \r\n\r\n";
    let r = parse_response(raw, false, "test");
    assert_eq!(r.status, 200);
    assert!(r.chunked);
    assert_eq!(r.text(), "{\"a\":1}\n{\"b\":2}\n");
    assert_eq!(r.ndjson(), vec![json!({"a": 1}), json!({"b": 2})]);
    assert_eq!(r.trailer("x-stream-error"), Some(""));
    assert_eq!(r.header("trailer"), Some("X-Stream-Error"));

    let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{}\n\r\n0\r\n\
X-Stream-Error: peer down\r\n\r\n";
    let r = parse_response(raw, false, "test");
    assert_eq!(r.trailer("X-Stream-Error"), Some("peer down"));

    let raw = b"HTTP/1.1 404 Not Found\r\nContent-Length: 34\r\n\r\n{\"code\":404,\"message\":\"not found\"}";
    let r = parse_response(raw, false, "test");
    assert_eq!(r.status, 404);
    assert_eq!(r.error_message(), "not found");

    let raw = b"HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\n\r\n";
    let r = parse_response(raw, false, "test");
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty() && r.trailers.is_empty());

    let raw = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /id\r\nContent-Length: 0\r\n\r\n";
    let r = parse_response(raw, false, "test");
    assert_eq!((r.status, r.header("location")), (307, Some("/id")));
}

#[test]
fn random_cids_parse() {
    let a = random_cid();
    assert_ne!(a, random_cid());
    let c = cid::Cid::try_from(a.as_str()).expect("a valid CID");
    assert_eq!(c.codec(), 0x55);
}

/// The multipart encoding and the raw client as the cluster tests use them, against the
/// embedded node alone (the same Kubo RPC API the cluster daemon embeds).
#[test]
fn raw_client_and_multipart_against_the_embedded_node() {
    let node = support::IpfsDaemon::start(&[]);
    let api = node.api_addr();
    let call = |cmd: &str, body: Option<(&str, &[u8])>| {
        http_request(api, "POST", &format!("/api/v0/{cmd}"), &[], body)
    };

    // block/put of a raw block, as ClusterPeer::ipfs_block_put sends it
    let (ctype, body) = multipart(&[Part::file("file", "", b"pinfold support block")]);
    let r = call(
        "block/put?cid-codec=raw&mhtype=sha2-256",
        Some((&ctype, &body)),
    );
    assert_eq!(r.status, 200, "{}", r.describe());
    let cid = r.json()["Key"].as_str().expect("Key").to_string();
    assert!(cid.starts_with("bafkrei"), "{cid}");

    // a directory upload, as the cluster /add tests send it
    let (ctype, body) = multipart(&[
        Part::dir("file", "planets"),
        Part::file("file", "planets/mars.txt", b"Hello Mars!\n"),
        Part::file("file", "planets/venus.txt", b"Hello Venus!\n"),
    ]);
    let r = call("add", Some((&ctype, &body)));
    assert_eq!(r.status, 200, "{}", r.describe());
    let lines = r.ndjson();
    let root = lines.last().expect("lines");
    assert_eq!(root["Name"], "planets", "{}", r.describe());
    assert_eq!(
        root["Hash"],
        "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY"
    );

    // pin/ls answers as ClusterPeer::ipfs_pin_type reads them
    let r = call(
        "pin/ls?arg=QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY&type=all",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.describe());
    let keys = r.json()["Keys"].clone();
    assert_eq!(
        keys["QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY"]["Type"],
        "recursive"
    );
    let r = call(
        "pin/ls?arg=QmPrrHqJzto9m7SyiRzarwkqPcCSsKR2EB1AyqJfe8L8tN&type=all",
        None,
    );
    let v = r.json();
    let t = v["Keys"]["QmPrrHqJzto9m7SyiRzarwkqPcCSsKR2EB1AyqJfe8L8tN"]["Type"]
        .as_str()
        .unwrap_or_default();
    assert!(t.starts_with("indirect"), "{v}");
    let r = call(&format!("pin/ls?arg={cid}&type=all"), None);
    assert_ne!(r.status, 200);
    assert!(r.text().contains("not pinned"), "{}", r.describe());

    // an unknown endpoint: the raw client reads a plain-text 404
    let r = call("no/such/command", None);
    assert_eq!(r.status, 404, "{}", r.describe());
}

#[derive(Default)]
struct Stub {
    pins: Mutex<Vec<String>>,
    /// Every n-th pin fails with 500 (0: none).
    fail_every: usize,
    count: AtomicUsize,
}

async fn stub_pin(State(s): State<Arc<Stub>>, Path(cid): Path<String>) -> (StatusCode, String) {
    let n = s.count.fetch_add(1, Ordering::Relaxed) + 1;
    if s.fail_every > 0 && n % s.fail_every == 0 {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"code": 500, "message": "stub failure"}).to_string(),
        );
    }
    s.pins
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(cid.clone());
    (
        StatusCode::OK,
        json!({"cid": cid, "type": "pin"}).to_string(),
    )
}

/// Serves the stub on 127.0.0.1:0 from a runtime kept alive by the returned handle.
fn serve_stub(stub: Arc<Stub>) -> (SocketAddr, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new()
        .route("/id", get(|| async { "{\"id\":\"stub\"}" }))
        .route("/pins/{cid}", post(stub_pin))
        .with_state(stub);
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, rt)
}

fn bench_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pinfold-bench"))
}

#[test]
fn bench_drives_distinct_pins_and_reports() {
    let stub = Arc::new(Stub::default());
    let (addr, _rt) = serve_stub(stub.clone());
    let dir = support::temp_dir("pinfold-bench-");
    let json_path = dir.path().join("figures.json");
    let run = support::run_with_deadline(
        Command::new(bench_bin())
            .args(["pins", "--api", &format!("http://{addr}")])
            .args(["--concurrency", "8", "--count", "300", "--json"])
            .arg(&json_path),
        Duration::from_secs(120),
    );
    assert!(run.success(), "{}", run.describe());
    assert!(run.stdout.contains("pins/s"), "{}", run.stdout);
    assert!(run.stdout.contains("p99"), "{}", run.stdout);

    let pins = stub.pins.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(pins.len(), 300);
    let distinct: HashSet<&String> = pins.iter().collect();
    assert_eq!(distinct.len(), 300, "every pin a fresh CID");
    for p in &pins {
        let c = cid::Cid::try_from(p.as_str()).expect("valid CID");
        assert_eq!((c.version(), c.codec()), (cid::Version::V1, 0x55));
    }

    let text = std::fs::read_to_string(&json_path).expect("--json file");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(v["kind"], "pins");
    assert_eq!(v["count"], 300);
    assert_eq!(v["concurrency"], 8);
    assert_eq!(v["ok"], 300);
    assert_eq!(v["errors"], 0);
    assert!(v["pins_per_sec"].as_f64().is_some_and(|x| x > 0.0), "{v}");
    let l = &v["latency_ms"];
    let (p50, p90, p99, max) = (
        l["p50"].as_f64().expect("p50"),
        l["p90"].as_f64().expect("p90"),
        l["p99"].as_f64().expect("p99"),
        l["max"].as_f64().expect("max"),
    );
    assert!(0.0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= max, "{v}");
}

#[test]
fn bench_counts_errors_and_fails() {
    let stub = Arc::new(Stub {
        fail_every: 10,
        ..Stub::default()
    });
    let (addr, _rt) = serve_stub(stub);
    let run = support::run_with_deadline(
        Command::new(bench_bin()).args([
            "pins",
            "--api",
            &format!("http://{addr}/"),
            "-c",
            "4",
            "-n",
            "100",
        ]),
        Duration::from_secs(120),
    );
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(1),
        "{}",
        run.describe()
    );
    assert!(run.stdout.contains("90 ok, 10 errors"), "{}", run.stdout);
    assert!(run.stdout.contains("stub failure"), "{}", run.stdout);

    // nothing listening: a clear error before any load
    let run = support::run_with_deadline(
        Command::new(bench_bin()).args(["pins", "--api", "http://127.0.0.1:1", "-n", "5"]),
        Duration::from_secs(60),
    );
    assert!(!run.success());
    assert!(
        run.stderr.contains("is the daemon running?"),
        "{}",
        run.describe()
    );
    // not loopback: refused unless --allow-remote
    let run = support::run_with_deadline(
        Command::new(bench_bin()).args(["pins", "--api", "http://192.0.2.1:9094", "-n", "5"]),
        Duration::from_secs(60),
    );
    assert!(!run.success());
    assert!(run.stderr.contains("--allow-remote"), "{}", run.describe());
}
