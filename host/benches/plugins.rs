//! Criterion benches of the WASM plugins on the request path:
//!
//! * `authz/*`: one authorization decision of the built-in `authz-default` (a Basic request
//!   of a configured user: the constant-time check hashes the password once per user) on a
//!   resident instance, on a fresh instance per call, and answered by the decision cache;
//! * `cors/*`: one CORS decision of the built-in `cors-default` (an actual request with an
//!   `Origin`), resident, fresh and cached;
//! * `access_layer/*`: the REST adapter around both (request → WIT → plugin or cache → HTTP
//!   decision and headers), without HTTP;
//! * `rest_get_version*/*`: REST throughput, `GET /version` with Basic credentials and an
//!   `Origin`, over keep-alive connections from concurrent clients, on two servers in the
//!   same process and run: one with the plugins (`AccessLayer::rest`), one whose access layer
//!   allows everything (`AccessLayer::allow_all`). Both run the same router, server and
//!   client. `rest_get_version` repeats one request per connection (the decision cache
//!   answers after the first); `rest_get_version_unique` adds a query that differs on every
//!   request (`?n=<counter>`), so every request is a cache miss and enters both plugins: the
//!   worst case. `GET /version` is the lightest route (no cluster call), so these are upper
//!   bounds of the plugins' share; routes that reach the cluster cost more than the plugins.
//!
//! Prints the throughput ratio at the end and writes every figure to
//! `$CARGO_TARGET_DIR/bench/plugins.json`. Run with
//! `cargo bench -p pinfold --bench plugins`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use cid::Cid;
use criterion::{Criterion, criterion_group};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use libp2p_identity::PeerId;
use pinfold::api::rest::access::AccessLayer;
use pinfold::cluster::{
    AddInput, AddParams, ClusterApi, ClusterError, ClusterResult, ClusterStream, PinTypeSet,
};
use pinfold::config::{BasicAuthCredentials, RestApiConfig};
use pinfold::plugins::set::{AUTHZ_DEFAULT_WASM, CORS_DEFAULT_WASM};
use pinfold::plugins::{
    Authorizer, AuthzRequest, BasicCredentials, Cors, CorsRequest, Credentials, EndpointKind,
    PluginSet, PluginSource, PluginSpec, shared_engine,
};
use pinfold::types::{
    AddedOutput, GlobalPinInfo, GlobalRepoGc, Metric, PeerDescription, Pin, PinOptions,
    TrackerStatusFilter,
};
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USERS: &[(&str, &str)] = &[("alice", "wonderland"), ("bob", "builder")];

fn authz_config() -> String {
    let mut users = serde_json::Map::new();
    for (u, p) in USERS {
        let d = sha2::Sha256::digest(p.as_bytes());
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        users.insert(u.to_string(), format!("sha256:{hex}").into());
    }
    serde_json::json!({ "basic_auth_credentials": users }).to_string()
}

fn authz_request() -> AuthzRequest {
    AuthzRequest {
        endpoint: EndpointKind::Rest,
        operation: "pin.add".into(),
        method: "POST".into(),
        path: "/pins/QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY".into(),
        query: "replication-min=2".into(),
        remote_addr: Some("127.0.0.1:50912".into()),
        tls: false,
        credentials: Credentials::Basic(BasicCredentials {
            user: "bob".into(),
            password: "builder".into(),
        }),
        remote_peer: None,
        tenant: None,
        headers: vec![],
    }
}

fn cors_request() -> CorsRequest {
    CorsRequest {
        endpoint: EndpointKind::Rest,
        method: "GET".into(),
        path: "/pins".into(),
        origin: Some("https://app.example".into()),
        request_method: None,
        request_headers: None,
        request_private_network: None,
    }
}

fn spec(bytes: &[u8], config: String, fresh: bool, cache: usize) -> PluginSpec {
    let mut s = PluginSpec::new("bench", PluginSource::Bytes(bytes.to_vec()));
    s.config_json = config;
    s.limits.fresh_instance_per_call = fresh;
    s.limits.decision_cache_entries = cache;
    s.limits.time_budget = Duration::from_secs(1);
    s
}

fn decisions(c: &mut Criterion) {
    let engine = shared_engine().unwrap();
    let mut g = c.benchmark_group("authz");
    for (name, fresh, cache) in [
        ("resident", false, 0),
        ("fresh", true, 0),
        ("resident_cached", false, 1024),
    ] {
        let a = Authorizer::load(
            &engine,
            &spec(AUTHZ_DEFAULT_WASM, authz_config(), fresh, cache),
        )
        .unwrap();
        let req = authz_request();
        assert!(matches!(
            a.authorize(&req),
            pinfold::plugins::Decision::Allow(_)
        ));
        g.bench_function(name, |b| b.iter(|| a.authorize(&req)));
    }
    g.finish();
    let mut g = c.benchmark_group("cors");
    let cfg = r#"{"cors_allowed_origins":["https://app.example"]}"#.to_string();
    for (name, fresh, cache) in [
        ("resident", false, 0),
        ("fresh", true, 0),
        ("resident_cached", false, 1024),
    ] {
        let p = Cors::load(&engine, &spec(CORS_DEFAULT_WASM, cfg.clone(), fresh, cache)).unwrap();
        let req = cors_request();
        assert!(p.decide(&req).allow_origin.is_some());
        g.bench_function(name, |b| b.iter(|| p.decide(&req)));
    }
    g.finish();
}

/// The whole adapter on the request path (request → WIT → plugin or cache → HTTP decision),
/// without HTTP: what the access layer adds to a request, cached and uncached.
fn access_layer(c: &mut Criterion) {
    use axum::http::{HeaderMap, HeaderValue, Method, header};
    use pinfold::api::rest::access::RequestInfo;
    use pinfold::http::server::ConnInfo;
    let dir = tempfile::tempdir().unwrap();
    let mut headers = HeaderMap::new();
    let auth = base64::engine::general_purpose::STANDARD.encode("bob:builder");
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::try_from(format!("Basic {auth}")).unwrap(),
    );
    headers.insert(
        header::ORIGIN,
        HeaderValue::from_static("https://app.example"),
    );
    let conn = ConnInfo {
        remote: Some("127.0.0.1:50912".parse().unwrap()),
        tls: false,
    };
    let mut g = c.benchmark_group("access_layer");
    for (name, entries) in [("cached", 1024usize), ("uncached", 0)] {
        let mut service = pinfold::config::ServiceConfig::default();
        service.api.restapi = Some(rest_config());
        {
            use pinfold::config::plugins::{PluginEntry, PluginKind};
            let mut a = PluginEntry::builtin(PluginKind::Authorizer);
            a.limits.decision_cache = entries;
            let mut c = PluginEntry::builtin(PluginKind::Cors);
            c.limits.decision_cache = entries;
            service.plugins.authorizer = Some(a);
            service.plugins.cors = Some(c);
        }
        let set =
            PluginSet::with_engine(shared_engine().unwrap(), Some(dir.path()), &service).unwrap();
        let layer = AccessLayer::rest(set.clone(), &rest_config());
        let method = Method::GET;
        g.bench_function(format!("authorize_and_cors_{name}"), |b| {
            b.iter(|| {
                let info = RequestInfo::new(&method, "/version", None, &headers, Some(&conn));
                let cors = layer.cors(&info);
                let d = layer.authorize(&info);
                (cors, d)
            })
        });
        if entries == 1024 {
            let st = set.status();
            eprintln!(
                "access_layer: authorizer calls {} hits {}, cors calls {} hits {}",
                st[0].calls, st[0].cache_hits, st[1].calls, st[1].cache_hits
            );
        }
    }
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// REST throughput

/// A cluster that is never called: `GET /version` does not reach the cluster.
struct NoCluster;

fn refused<T: Send + 'static>() -> BoxFuture<'static, ClusterResult<T>> {
    async { Err(ClusterError::Refused("bench server".into())) }.boxed()
}

fn refused_stream<T: Send + 'static>() -> ClusterStream<T> {
    futures::stream::once(async { Err(ClusterError::Refused("bench server".into())) }).boxed()
}

impl ClusterApi for NoCluster {
    fn id(&self) -> BoxFuture<'_, PeerDescription> {
        futures::future::pending().boxed()
    }
    fn peers(&self) -> ClusterStream<PeerDescription> {
        refused_stream()
    }
    fn peer_remove(&self, _: PeerId) -> BoxFuture<'_, ClusterResult<()>> {
        refused()
    }
    fn pin(&self, _: Cid, _: PinOptions) -> BoxFuture<'_, ClusterResult<Pin>> {
        refused()
    }
    fn pin_path(&self, _: String, _: PinOptions) -> BoxFuture<'_, ClusterResult<Pin>> {
        refused()
    }
    fn unpin(&self, _: Cid) -> BoxFuture<'_, ClusterResult<Pin>> {
        refused()
    }
    fn unpin_path(&self, _: String) -> BoxFuture<'_, ClusterResult<Pin>> {
        refused()
    }
    fn allocations(&self, _: PinTypeSet) -> ClusterStream<Pin> {
        refused_stream()
    }
    fn allocation(&self, _: Cid) -> BoxFuture<'_, ClusterResult<Pin>> {
        refused()
    }
    fn status(&self, _: Cid, _: bool) -> BoxFuture<'_, ClusterResult<GlobalPinInfo>> {
        refused()
    }
    fn status_all(&self, _: TrackerStatusFilter, _: bool) -> ClusterStream<GlobalPinInfo> {
        refused_stream()
    }
    fn recover(&self, _: Cid, _: bool) -> BoxFuture<'_, ClusterResult<GlobalPinInfo>> {
        refused()
    }
    fn recover_all(&self, _: bool) -> ClusterStream<GlobalPinInfo> {
        refused_stream()
    }
    fn add(&self, _: AddInput, _: AddParams) -> ClusterStream<AddedOutput> {
        refused_stream()
    }
    fn repo_gc(&self, _: bool) -> BoxFuture<'_, ClusterResult<GlobalRepoGc>> {
        refused()
    }
    fn consensus_status(&self) -> BoxFuture<'_, ClusterResult<pinfold::types::ConsensusStatus>> {
        refused()
    }
    fn metric_names(&self) -> BoxFuture<'_, ClusterResult<Vec<String>>> {
        refused()
    }
    fn metrics(&self, _: String) -> BoxFuture<'_, ClusterResult<Vec<Metric>>> {
        refused()
    }
}

const CLIENTS: usize = 4;

fn rest_config() -> RestApiConfig {
    let mut cfg = RestApiConfig::restapi_default();
    cfg.basic_auth_credentials = Some(BasicAuthCredentials::new(
        USERS
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect(),
    ));
    cfg.cors_allowed_origins = vec!["https://app.example".into()];
    cfg
}

async fn start_server(access: AccessLayer, dir: &std::path::Path) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = dir.to_path_buf();
    tokio::spawn(async move {
        pinfold::api::rest::server::serve_with(
            Arc::new(NoCluster),
            rest_config(),
            &dir,
            access,
            listener,
            futures::future::pending::<()>(),
        )
        .await
    });
    addr
}

/// One keep-alive connection sending `n` requests one after the other (`unique`: each with
/// its own query string).
/// Answers other than 200 (fail-safe answers of a plugin that ran out of time on a loaded
/// machine, say); reported at the end.
static NOT_OK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

async fn client(addr: SocketAddr, n: u64, request: Arc<(String, String)>, unique: bool) {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut buf = vec![0u8; 16 << 10];
    let same = format!("{}{}", request.0, request.1);
    for _ in 0..n {
        if unique {
            let i = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            s.write_all(format!("{}?n={i}{}", request.0, request.1).as_bytes())
                .await
                .unwrap();
        } else {
            s.write_all(same.as_bytes()).await.unwrap();
        }
        // read one whole answer: head, then Content-Length bytes
        let mut have = 0;
        loop {
            let k = s.read(&mut buf[have..]).await.unwrap();
            assert!(k > 0, "server closed the connection");
            have += k;
            let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = std::str::from_utf8(&buf[..end]).unwrap();
            if !head.starts_with("HTTP/1.1 200") {
                NOT_OK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if have >= end + 4 + len {
                break;
            }
        }
    }
}

fn rest(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("bob:builder");
    let request = Arc::new((
        "GET /version".to_string(),
        format!(
            " HTTP/1.1\r\nHost: bench\r\nAuthorization: Basic {auth}\r\nOrigin: https://app.example\r\n\r\n"
        ),
    ));
    let (with_plugins, allow_all) = rt.block_on(async {
        let set = PluginSet::for_rest_api(&rest_config(), Some(dir.path())).unwrap();
        let a = start_server(AccessLayer::rest(set, &rest_config()), dir.path()).await;
        let b = start_server(AccessLayer::allow_all(&rest_config()), dir.path()).await;
        (a, b)
    });
    let run = |addr: SocketAddr, iters: u64, unique: bool| -> Duration {
        let request = request.clone();
        rt.block_on(async move {
            let per = iters.div_ceil(CLIENTS as u64);
            let start = Instant::now();
            let tasks: Vec<_> = (0..CLIENTS)
                .map(|_| tokio::spawn(client(addr, per, request.clone(), unique)))
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            start.elapsed() * (iters as u32) / ((per * CLIENTS as u64) as u32)
        })
    };
    // warm up both (instances, connections, caches)
    run(with_plugins, 2000, false);
    run(allow_all, 2000, false);
    let mut summary = serde_json::Map::new();
    for (group, unique) in [
        ("rest_get_version", false),
        ("rest_get_version_unique", true),
    ] {
        let mut g = c.benchmark_group(group);
        g.throughput(criterion::Throughput::Elements(1));
        g.measurement_time(Duration::from_secs(8));
        g.bench_function("plugins", |b| {
            b.iter_custom(|iters| run(with_plugins, iters, unique))
        });
        g.bench_function("allow_all", |b| {
            b.iter_custom(|iters| run(allow_all, iters, unique))
        });
        g.finish();

        // the figure to record: interleaved rounds, so both see the same machine load
        let rounds = 10;
        let n = 20_000u64;
        let (mut tp, mut ta) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..rounds {
            ta += run(allow_all, n, unique);
            tp += run(with_plugins, n, unique);
        }
        let rps = |d: Duration| (rounds as f64 * n as f64) / d.as_secs_f64();
        let (rp, ra) = (rps(tp), rps(ta));
        let cost = 1.0 - rp / ra;
        println!(
            "{group}: {CLIENTS} keep-alive clients, {rounds}x{n} requests interleaved: with plugins \
             {rp:.0} req/s, allow-all {ra:.0} req/s: the plugins cost {:.1}% of throughput (ratio {:.3})",
            cost * 100.0,
            rp / ra
        );
        summary.insert(
            group.to_string(),
            serde_json::json!({
                "rps_with_plugins": rp,
                "rps_allow_all": ra,
                "plugins_cost_fraction": cost,
            }),
        );
    }
    let out = std::path::PathBuf::from(
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()),
    )
    .join("bench");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(
        out.join("plugins.json"),
        serde_json::Value::Object(summary).to_string(),
    );
}

criterion_group!(benches, decisions, access_layer, rest);

fn main() {
    // plugin failures (a time-out on a loaded machine…) are logged
    tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_writer(std::io::stderr)
        .init();
    benches();
    let not_ok = NOT_OK.load(std::sync::atomic::Ordering::Relaxed);
    println!("REST answers other than 200 during the run: {not_ok}");
    Criterion::default().configure_from_args().final_summary();
}
