//! End-to-end tests of the REST API server over real HTTP on 127.0.0.1.
//!
//! Each test starts [`serve`] on port 0 in front of a [`FakeCluster`] — a `ClusterApi` that
//! records every call and answers canned values (its streams follow a [`Plan`]: items, empty,
//! an error before the first item, an error after some items, or slow items) — and talks to it
//! with reqwest, with raw TCP where the exact bytes matter (trailers, TLS port probes, header
//! limits, timeouts), and with the crate's own REST client (`client.rs`, written by someone
//! else against the same specification) as a second opinion.
//!
//! What is checked: every route's method, path, parameters and answer; Go's error texts and
//! statuses; NDJSON streams with their trailer; the handler chain (auth, CORS, redirects, 404
//! JSON, 405 empty, 431); configured headers; TLS with a certificate made at test time; the
//! header, idle and write timeouts; shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, stream};
use http_body_util::BodyExt;
use libp2p_identity::PeerId;
use multihash::Multihash;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::server::{RestError, serve};
use crate::client::{self, Client, ClientConfig};
use crate::cluster::{
    AddInput, AddParams, ClusterApi, ClusterError, ClusterResult, ClusterStream, PinTypeSet,
};
use crate::config::{BasicAuthCredentials, RestApiConfig};
use crate::types::{
    AddedOutput, GlobalPinInfo, GlobalRepoGc, IpfsId, Metric, PeerDescription, Pin, PinInfoShort,
    PinMode, PinOptions, RepoGc, Timestamp, TrackerStatus, TrackerStatusFilter,
};

const CID1: &str = "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY";
const CID2: &str = "QmaNJ5acV31sx8jq626qTpAWW4DXKw34aGhx53dECLvXbY";
/// Not in the fake's pinset: unpin/allocation/pin-path answer NotFound.
const MISSING: &str = "bafyreiay3jpjk74dkckv2r74eyvf3lfnxujefay2rtuluintasq2zlapv4";
/// Its status lookup fails.
const FAILING: &str = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
pub(crate) const SELF_PEER: &str = "12D3KooWJxNtxhvCnBq8PZX7C93ZNFzGsvKXg4VnXMi9Hso5mCKE";

fn cid(s: &str) -> Cid {
    Cid::try_from(s).unwrap()
}

// ---------------------------------------------------------------------------------------------
// FakeCluster

#[derive(Debug, Clone, PartialEq)]
enum Call {
    Id,
    Peers,
    PeerRemove(PeerId),
    Pin(Cid, PinOptions),
    PinPath(String, PinOptions),
    Unpin(Cid),
    UnpinPath(String),
    Allocations(PinTypeSet),
    Allocation(Cid),
    Status(Cid, bool),
    StatusAll(TrackerStatusFilter, bool),
    Recover(Cid, bool),
    RecoverAll(bool),
    RepoGc(bool),
    MetricNames,
    Metrics(String),
}

/// How the fake's streams behave.
#[derive(Debug, Clone, Copy)]
enum Plan {
    Items(usize),
    Empty,
    FailFirst,
    FailAfter(usize),
    /// `n` items, one every `ms` milliseconds.
    Slow(usize, u64),
}

/// Files received by an add: (path, content).
type Files = Vec<(String, Vec<u8>)>;
type AddedFiles = Arc<Mutex<Option<Files>>>;

struct FakeCluster {
    calls: Mutex<Vec<Call>>,
    adds: Mutex<Vec<(AddParams, AddedFiles)>>,
    plan: Mutex<Plan>,
    other_peer: PeerId,
}

impl FakeCluster {
    fn new() -> Arc<FakeCluster> {
        Arc::new(FakeCluster {
            calls: Mutex::new(vec![]),
            adds: Mutex::new(vec![]),
            plan: Mutex::new(Plan::Items(3)),
            other_peer: PeerId::random(),
        })
    }

    fn record(&self, c: Call) {
        self.calls.lock().unwrap().push(c);
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn last(&self) -> Option<Call> {
        self.calls.lock().unwrap().last().cloned()
    }

    fn set_plan(&self, p: Plan) {
        *self.plan.lock().unwrap() = p;
    }

    fn stream_of<T: Send + 'static>(
        &self,
        make: impl Fn(usize) -> T + Send + 'static,
    ) -> ClusterStream<T> {
        let fail = || Err(ClusterError::Internal("stream broke".into()));
        match *self.plan.lock().unwrap() {
            Plan::Items(n) => stream::iter((0..n).map(move |i| Ok(make(i)))).boxed(),
            Plan::Empty => stream::empty().boxed(),
            Plan::FailFirst => stream::iter([fail()]).boxed(),
            Plan::FailAfter(n) => stream::iter((0..n).map(move |i| Ok(make(i))))
                .chain(stream::iter([fail()]))
                .boxed(),
            Plan::Slow(n, ms) => stream::iter(0..n)
                .then(move |i| {
                    let item = make(i);
                    async move {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        Ok(item)
                    }
                })
                .boxed(),
        }
    }

    fn describe(&self, id: &str, name: &str) -> PeerDescription {
        PeerDescription {
            id: id.into(),
            addresses: vec![format!("/ip4/127.0.0.1/tcp/9096/p2p/{id}")],
            cluster_peers: vec![SELF_PEER.into(), self.other_peer.to_base58()],
            cluster_peers_addresses: vec![],
            version: "1.1.6".into(),
            commit: String::new(),
            rpc_protocol_version: "/ipfscluster/1.0/rpc".into(),
            error: String::new(),
            ipfs: IpfsId {
                id: format!("QmIpfsOf{name}"),
                addresses: vec![],
                error: String::new(),
            },
            peername: name.into(),
        }
    }
}

fn gpi(c: Cid, status: TrackerStatus) -> GlobalPinInfo {
    let mut peer_map = BTreeMap::new();
    peer_map.insert(
        SELF_PEER.to_string(),
        PinInfoShort {
            peername: "fake".into(),
            ipfs_peer_id: String::new(),
            ipfs_peer_addresses: vec![],
            status,
            timestamp: Timestamp::ZERO,
            error: String::new(),
            attempt_count: 0,
            priority_pin: false,
        },
    );
    GlobalPinInfo {
        cid: c,
        name: String::new(),
        allocations: vec![],
        origins: vec![],
        created: Timestamp::ZERO,
        metadata: None,
        peer_map,
    }
}

fn raw_cid(data: &[u8]) -> Cid {
    let digest = sha2::Sha256::digest(data);
    Cid::new_v1(0x55, Multihash::<64>::wrap(0x12, &digest).unwrap())
}

impl ClusterApi for FakeCluster {
    fn id(&self) -> BoxFuture<'_, PeerDescription> {
        self.record(Call::Id);
        async move { self.describe(SELF_PEER, "fake") }.boxed()
    }

    fn peers(&self) -> ClusterStream<PeerDescription> {
        self.record(Call::Peers);
        let me = self.describe(SELF_PEER, "fake");
        let other = self.describe(&self.other_peer.to_base58(), "other");
        self.stream_of(move |i| if i == 0 { me.clone() } else { other.clone() })
    }

    fn peer_remove(&self, peer: PeerId) -> BoxFuture<'_, ClusterResult<()>> {
        self.record(Call::PeerRemove(peer));
        async { Ok(()) }.boxed()
    }

    fn pin(&self, c: Cid, options: PinOptions) -> BoxFuture<'_, ClusterResult<Pin>> {
        self.record(Call::Pin(c, options.clone()));
        async move { Ok(Pin::new(c, options)) }.boxed()
    }

    fn pin_path(&self, path: String, options: PinOptions) -> BoxFuture<'_, ClusterResult<Pin>> {
        self.record(Call::PinPath(path.clone(), options.clone()));
        async move {
            if path.contains(MISSING) {
                return Err(ClusterError::NotFound);
            }
            Ok(Pin::new(cid(CID2), options))
        }
        .boxed()
    }

    fn unpin(&self, c: Cid) -> BoxFuture<'_, ClusterResult<Pin>> {
        self.record(Call::Unpin(c));
        async move {
            if c == cid(MISSING) {
                return Err(ClusterError::NotFound);
            }
            Ok(Pin::new(c, PinOptions::default()))
        }
        .boxed()
    }

    fn unpin_path(&self, path: String) -> BoxFuture<'_, ClusterResult<Pin>> {
        self.record(Call::UnpinPath(path));
        async move { Ok(Pin::new(cid(CID2), PinOptions::default())) }.boxed()
    }

    fn allocations(&self, filter: PinTypeSet) -> ClusterStream<Pin> {
        self.record(Call::Allocations(filter));
        self.stream_of(|i| {
            Pin::new(
                cid(if i % 2 == 0 { CID1 } else { CID2 }),
                PinOptions::default(),
            )
        })
    }

    fn allocation(&self, c: Cid) -> BoxFuture<'_, ClusterResult<Pin>> {
        self.record(Call::Allocation(c));
        async move {
            if c == cid(MISSING) {
                return Err(ClusterError::NotFound);
            }
            Ok(Pin::new(c, PinOptions::default()))
        }
        .boxed()
    }

    fn status(&self, c: Cid, local: bool) -> BoxFuture<'_, ClusterResult<GlobalPinInfo>> {
        self.record(Call::Status(c, local));
        async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if c == cid(FAILING) {
                return Err(ClusterError::Internal(format!("status of {c} failed")));
            }
            Ok(gpi(c, TrackerStatus::Pinned))
        }
        .boxed()
    }

    fn status_all(&self, filter: TrackerStatusFilter, local: bool) -> ClusterStream<GlobalPinInfo> {
        self.record(Call::StatusAll(filter, local));
        self.stream_of(|_| gpi(cid(CID1), TrackerStatus::Pinned))
    }

    fn recover(&self, c: Cid, local: bool) -> BoxFuture<'_, ClusterResult<GlobalPinInfo>> {
        self.record(Call::Recover(c, local));
        async move { Ok(gpi(c, TrackerStatus::PinQueued)) }.boxed()
    }

    fn recover_all(&self, local: bool) -> ClusterStream<GlobalPinInfo> {
        self.record(Call::RecoverAll(local));
        self.stream_of(|_| gpi(cid(CID1), TrackerStatus::PinQueued))
    }

    fn add(&self, mut input: AddInput, params: AddParams) -> ClusterStream<AddedOutput> {
        // Reads the upload; a file named "fail" makes the add fail at that point.
        let files_slot = Arc::new(Mutex::new(None));
        self.adds
            .lock()
            .unwrap()
            .push((params, Arc::clone(&files_slot)));
        let (tx, rx) = futures::channel::mpsc::unbounded();
        let read_all = async move {
            let mut files = vec![];
            loop {
                match input.next_entry().await {
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.unbounded_send(Err(ClusterError::BadRequest(e.message)));
                        break;
                    }
                    Ok(Some(entry)) => {
                        let mut content = vec![];
                        while let Ok(Some(c)) = input.next_chunk().await {
                            content.extend_from_slice(&c);
                        }
                        files.push((entry.path.clone(), content.clone()));
                        if entry.path.rsplit('/').next() == Some("fail") {
                            let _ = tx.unbounded_send(Err(ClusterError::Internal(
                                "cannot add fail".into(),
                            )));
                            break;
                        }
                        let _ = tx.unbounded_send(Ok(AddedOutput {
                            name: entry.path,
                            cid: Some(raw_cid(&content)),
                            bytes: content.len() as u64,
                            size: content.len() as u64,
                            allocations: vec![],
                        }));
                    }
                }
            }
            *files_slot.lock().unwrap() = Some(files);
        };
        stream::once(read_all)
            .filter_map(|_| async { None })
            .chain(rx)
            .boxed()
    }

    fn repo_gc(&self, local: bool) -> BoxFuture<'_, ClusterResult<GlobalRepoGc>> {
        self.record(Call::RepoGc(local));
        async move {
            let mut peer_map = BTreeMap::new();
            peer_map.insert(
                SELF_PEER.to_string(),
                RepoGc {
                    peer: SELF_PEER.into(),
                    peername: "fake".into(),
                    keys: vec![],
                    error: String::new(),
                },
            );
            Ok(GlobalRepoGc { peer_map })
        }
        .boxed()
    }

    fn metric_names(&self) -> BoxFuture<'_, ClusterResult<Vec<String>>> {
        self.record(Call::MetricNames);
        async { Ok(vec!["ping".to_string(), "freespace".to_string()]) }.boxed()
    }

    fn consensus_status(&self) -> BoxFuture<'_, ClusterResult<crate::types::ConsensusStatus>> {
        async move {
            Ok(crate::types::ConsensusStatus {
                leader: SELF_PEER.into(),
                peers: vec![SELF_PEER.into()],
                term: 1,
                applied_index: 1,
            })
        }
        .boxed()
    }

    fn metrics(&self, name: String) -> BoxFuture<'_, ClusterResult<Vec<Metric>>> {
        self.record(Call::Metrics(name.clone()));
        async move {
            Ok(vec![Metric {
                name,
                peer: SELF_PEER.into(),
                value: "1".into(),
                expire: 1,
                valid: true,
                weight: 0,
                partitionable: false,
                received_at: 1,
            }])
        }
        .boxed()
    }
}

impl FakeCluster {
    /// The adds made: parameters and the files received (path, content).
    fn adds(&self) -> Vec<(AddParams, Files)> {
        self.adds
            .lock()
            .unwrap()
            .iter()
            .map(|(p, f)| (p.clone(), f.lock().unwrap().clone().unwrap_or_default()))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Harness

struct TestServer {
    addr: SocketAddr,
    cluster: Arc<FakeCluster>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), RestError>>,
    https: bool,
    _dir: tempfile::TempDir,
}

async fn start_in(cfg: RestApiConfig, dir: tempfile::TempDir) -> TestServer {
    let cluster = FakeCluster::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let https = !cfg.ssl_cert_file.is_empty();
    let api: Arc<dyn ClusterApi> = cluster.clone();
    let folder = dir.path().to_path_buf();
    let task = tokio::spawn(async move {
        serve(api, cfg, &folder, listener, async {
            let _ = rx.await;
        })
        .await
    });
    TestServer {
        addr,
        cluster,
        stop: Some(tx),
        task,
        https,
        _dir: dir,
    }
}

async fn start_with(cfg: RestApiConfig) -> TestServer {
    start_in(cfg, tempfile::tempdir().unwrap()).await
}

async fn start() -> TestServer {
    start_with(RestApiConfig::restapi_default()).await
}

impl TestServer {
    fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// The crate's REST client pointed at this server.
    fn client(&self, basic: Option<(&str, &str)>) -> Client {
        Client::new(&ClientConfig {
            hosts: vec![
                format!("/ip4/127.0.0.1/tcp/{}", self.addr.port())
                    .parse()
                    .unwrap(),
            ],
            https: self.https,
            no_check_certificate: true,
            basic_auth: basic.map(|(u, p)| (u.to_string(), p.to_string())),
            ..Default::default()
        })
        .unwrap()
    }

    async fn stop(mut self) -> Result<(), RestError> {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap()
    }

    fn req(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        http().request(reqwest::Method::from_str(method).unwrap(), self.url(path))
    }

    async fn call(&self, method: &str, path: &str) -> (u16, HeaderMap, String) {
        send(self.req(method, path)).await
    }
}

/// A client that does not follow redirects.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn send(rb: reqwest::RequestBuilder) -> (u16, HeaderMap, String) {
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

fn error_body(code: u16, message: &str) -> String {
    format!("{}\n", json!({"code": code, "message": message}))
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"))
}

fn lines(body: &[u8]) -> Vec<Value> {
    std::str::from_utf8(body)
        .unwrap()
        .lines()
        .map(parse)
        .collect()
}

async fn body_and_trailers(r: reqwest::Response) -> Result<(Bytes, Option<HeaderMap>), String> {
    let r: axum::http::Response<reqwest::Body> = r.into();
    let c = r.into_body().collect().await.map_err(|e| e.to_string())?;
    let trailers = c.trailers().cloned();
    Ok((c.to_bytes(), trailers))
}

/// Writes `req` on a fresh connection and reads until the server closes it.
async fn raw(addr: SocketAddr, req: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req).await.unwrap();
    let mut out = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads one answer head (up to the blank line) from a kept-alive connection.
async fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut out = vec![];
    let mut b = [0u8; 1];
    while !out.ends_with(b"\r\n\r\n") {
        match s.read(&mut b).await {
            Ok(1) => out.push(b[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn all(h: &HeaderMap, name: &str) -> Vec<String> {
    h.get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn multipart(boundary: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, data) in files {
        b.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    b
}

fn with_credentials(cfg: &mut RestApiConfig, users: &[(&str, &str)]) {
    cfg.basic_auth_credentials = Some(BasicAuthCredentials::new(
        users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect(),
    ));
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn id_version_health_and_json_conventions() {
    let s = start().await;
    let (st, h, body) = s.call("GET", "/id").await;
    assert_eq!(st, 200);
    assert_eq!(h["content-type"], "application/json");
    assert!(body.ends_with("}\n"), "{body:?}");
    let v = parse(&body);
    assert_eq!(v["id"], SELF_PEER);
    assert_eq!(v["peername"], "fake");
    assert_eq!(v["rpc_protocol_version"], "/ipfscluster/1.0/rpc");

    let (st, _, body) = s.call("GET", "/version").await;
    assert_eq!((st, body.as_str()), (200, "{\"version\":\"1.1.6\"}\n"));

    let (st, h, body) = s.call("GET", "/health").await;
    assert_eq!((st, body.as_str()), (204, ""));
    assert_eq!(h["content-type"], "application/json");

    // second opinion: the crate's client
    let c = s.client(None);
    assert_eq!(c.id().await.unwrap().id, SELF_PEER);
    assert_eq!(c.version().await.unwrap().version, "1.1.6");
    c.health().await.unwrap();
    s.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_paths_methods_and_redirects() {
    let s = start().await;
    for m in ["GET", "POST", "DELETE"] {
        let (st, h, body) = s.call(m, "/nonexistent").await;
        assert_eq!((st, body), (404, error_body(404, "not found")), "{m}");
        assert_eq!(h["content-type"], "application/json");
    }
    let (st, _, body) = s.call("GET", "/").await;
    assert_eq!((st, body), (404, error_body(404, "not found")));

    for (m, p) in [
        ("POST", "/id".to_string()),
        ("PUT", format!("/pins/{CID1}")),
        ("GET", format!("/pins/ipfs/{CID1}")),
        ("DELETE", "/add".to_string()),
        ("GET", "/token".to_string()),
    ] {
        let (st, h, body) = s.call(m, &p).await;
        assert_eq!((st, body.as_str()), (405, ""), "{m} {p}");
        assert_eq!(h["content-type"], "application/json");
    }

    let (st, h, body) = s.call("GET", "/id/?x=1").await;
    assert_eq!((st, body.as_str()), (307, ""));
    assert_eq!(h["location"], "/id?x=1");
    let (st, h, _) = s.call("POST", &format!("/pins/{CID1}/?name=a")).await;
    assert_eq!(st, 307);
    assert_eq!(h["location"], format!("/pins/{CID1}?name=a"));
    assert!(
        s.cluster.calls().is_empty(),
        "a redirect must not reach the cluster"
    );
    let (st, h, _) = s.call("GET", "//id").await;
    assert_eq!(st, 301);
    assert_eq!(h["location"], "/id");
    // a client that follows redirects gets there
    let r = reqwest::get(s.url("/version/")).await.unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let s = start().await; // max_header_bytes: 4096
    let request = |n: usize| {
        let mut r = String::from("GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        for _ in 0..n {
            r.push_str("Foo: bar\r\n");
        }
        r.push_str("\r\n");
        r
    };
    // Go's test: 2×max_header_bytes of headers fail, half of it passes
    let out = raw(s.addr, request(4096 * 2 / 8).as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 431"), "{out}");
    let out = raw(s.addr, request(4096 / 2 / 8).as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    s.stop().await.unwrap();

    let mut cfg = RestApiConfig::restapi_default();
    cfg.max_header_bytes = 16 * 1024;
    let s = start_with(cfg).await;
    let out = raw(s.addr, request(900).as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let out = raw(s.addr, request(2000).as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 431"), "{out}");
    s.stop().await.unwrap();
}

#[tokio::test]
async fn pin_unpin_status_recover_allocation() {
    let s = start().await;
    let (st, _, body) = s
        .call(
            "POST",
            &format!(
                "/pins/{CID1}?mode=direct&name=n&replication-min=1&replication-max=2&meta-k=v"
            ),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    let v = parse(&body);
    assert_eq!(v["cid"], CID1);
    assert_eq!(v["mode"], "direct");
    assert_eq!(v["max_depth"], 0);
    assert_eq!(v["name"], "n");
    assert_eq!(v["metadata"], json!({"k": "v"}));
    let Some(Call::Pin(c, o)) = s.cluster.last() else {
        panic!("{:?}", s.cluster.calls())
    };
    assert_eq!(c, cid(CID1));
    assert_eq!(
        o.mode,
        PinMode::Direct,
        "mode=direct must reach the cluster"
    );
    assert_eq!((o.replication_factor_min, o.replication_factor_max), (1, 2));

    let (st, _, body) = s.call("POST", "/pins/notacid").await;
    assert_eq!(st, 400);
    assert!(
        parse(&body)["message"]
            .as_str()
            .unwrap()
            .starts_with("error decoding Cid: "),
        "{body}"
    );
    let (st, _, body) = s
        .call("POST", &format!("/pins/{CID1}?replication-min=x"))
        .await;
    assert_eq!(
        (st, body),
        (400, error_body(400, "parameter replication-min invalid"))
    );
    let (st, _, body) = s.call("POST", &format!("/pins/{CID1}?expire-in=1ms")).await;
    assert_eq!(st, 400);
    assert!(body.contains("invalid expire-in"), "{body}");
    let pins = |s: &TestServer| {
        s.cluster
            .calls()
            .iter()
            .filter(|c| matches!(c, Call::Pin(..)))
            .count()
    };
    assert_eq!(pins(&s), 1, "bad requests must not reach the cluster");

    let (st, _, body) = s.call("DELETE", &format!("/pins/{CID1}")).await;
    assert_eq!(st, 200);
    assert_eq!(parse(&body)["cid"], CID1);
    assert_eq!(s.cluster.last(), Some(Call::Unpin(cid(CID1))));
    let (st, _, body) = s.call("DELETE", &format!("/pins/{MISSING}")).await;
    assert_eq!(
        (st, body),
        (404, error_body(404, "pin is not part of the pinset"))
    );

    for (q, local) in [("?local=true", true), ("", false), ("?local=yes", false)] {
        let (st, _, body) = s.call("GET", &format!("/pins/{CID1}{q}")).await;
        assert_eq!(st, 200);
        assert_eq!(parse(&body)["peer_map"][SELF_PEER]["status"], "pinned");
        assert_eq!(s.cluster.last(), Some(Call::Status(cid(CID1), local)));
    }
    let (st, _, body) = s.call("GET", "/pins/recover").await;
    assert_eq!(st, 400, "{body}");
    let (st, _, _) = s.call("GET", &format!("/pins/{CID1}?replication=z")).await;
    assert_eq!(st, 400, "pin options are checked on every {{hash}} route");

    let (st, _, body) = s
        .call("POST", &format!("/pins/{CID1}/recover?local=true"))
        .await;
    assert_eq!(st, 200);
    assert_eq!(parse(&body)["peer_map"][SELF_PEER]["status"], "pin_queued");
    assert_eq!(s.cluster.last(), Some(Call::Recover(cid(CID1), true)));
    let (st, _, _) = s.call("POST", "/pins/bad/recover").await;
    assert_eq!(st, 400);

    let (st, _, body) = s.call("GET", &format!("/allocations/{CID2}")).await;
    assert_eq!(st, 200);
    assert_eq!(parse(&body)["cid"], CID2);
    let (st, _, _) = s.call("GET", &format!("/allocations/{MISSING}")).await;
    assert_eq!(st, 404);

    // second opinion
    let c = s.client(None);
    let p = c
        .pin(
            &cid(CID2),
            &PinOptions {
                mode: PinMode::Direct,
                name: "via client".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((p.options.mode, p.max_depth), (PinMode::Direct, 0));
    assert_eq!(p.options.name, "via client");
    let e = c.unpin(&cid(MISSING)).await.unwrap_err();
    assert_eq!(e.api_code(), Some(404));
    assert_eq!(c.status(&cid(CID1), true).await.unwrap().cid, cid(CID1));
    assert_eq!(c.recover(&cid(CID1), false).await.unwrap().cid, cid(CID1));
    assert_eq!(c.allocation(&cid(CID1)).await.unwrap().cid, cid(CID1));
    s.stop().await.unwrap();
}

#[tokio::test]
async fn pin_and_unpin_by_path() {
    let s = start().await;
    let (st, _, body) = s
        .call("POST", &format!("/pins/ipfs/{CID1}/a/b?name=p"))
        .await;
    assert_eq!(st, 200, "{body}");
    let Some(Call::PinPath(path, o)) = s.cluster.last() else {
        panic!()
    };
    assert_eq!(path, format!("/ipfs/{CID1}/a/b"));
    assert_eq!(o.name, "p");
    // gorilla/mux cleans paths with a 301 before routing
    let (st, h, _) = s.call("POST", &format!("/pins/ipfs/{CID1}/a//b")).await;
    assert_eq!(st, 301);
    assert_eq!(h["location"], format!("/pins/ipfs/{CID1}/a/b"));
    let (st, _, _) = s.call("POST", "/pins/ipns/example.com/x").await;
    assert_eq!(st, 200);
    assert!(matches!(s.cluster.last(), Some(Call::PinPath(p, _)) if p == "/ipns/example.com/x"));
    let (st, _, _) = s
        .call("POST", &format!("/pins/ipld/{CID1}?mode=direct"))
        .await;
    assert_eq!(st, 200);
    assert!(matches!(s.cluster.last(), Some(Call::PinPath(_, o)) if o.mode == PinMode::Direct));

    let (st, _, body) = s.call("POST", "/pins/ipfs/invalidhash").await;
    assert_eq!(st, 400);
    assert!(
        parse(&body)["message"]
            .as_str()
            .unwrap()
            .starts_with("error parsing path: invalid path \"/ipfs/invalidhash\": "),
        "{body}"
    );
    let (st, _, _) = s.call("POST", &format!("/pins/ipfs/{MISSING}")).await;
    assert_eq!(st, 404);
    let (st, _, _) = s
        .call("POST", &format!("/pins/ipfs/{CID1}?replication-min=x"))
        .await;
    assert_eq!(st, 400);

    let (st, _, _) = s.call("DELETE", &format!("/pins/ipfs/{CID1}/a")).await;
    assert_eq!(st, 200);
    assert_eq!(
        s.cluster.last(),
        Some(Call::UnpinPath(format!("/ipfs/{CID1}/a")))
    );

    let c = s.client(None);
    let p = c
        .pin_path(&format!("/ipfs/{CID1}/x"), &PinOptions::default())
        .await
        .unwrap();
    assert_eq!(p.cid, cid(CID2));
    c.unpin_path(&format!("/ipld/{CID1}")).await.unwrap();
    assert_eq!(
        s.cluster.last(),
        Some(Call::UnpinPath(format!("/ipld/{CID1}")))
    );
    s.stop().await.unwrap();
}

#[tokio::test]
async fn streams_are_ndjson_with_trailer() {
    let s = start().await;
    let r = s
        .req("GET", "/allocations")
        .header("TE", "trailers")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["trailer"], "X-Stream-Error");
    assert_eq!(r.headers()["content-type"], "application/json");
    let (body, trailers) = body_and_trailers(r).await.unwrap();
    let items = lines(&body);
    assert_eq!(items.len(), 3);
    assert_eq!(items[1]["cid"], CID2);
    assert_eq!(trailers.unwrap()["x-stream-error"], "");

    // the exact bytes: chunked, then the trailer section
    let out = raw(
        s.addr,
        b"GET /allocations HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(out.ends_with("\r\n0\r\nx-stream-error: \r\n\r\n"), "{out}");
    let out = raw(
        s.addr,
        b"GET /allocations HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(out.ends_with("\r\n0\r\n\r\n"), "{out}");

    s.cluster.set_plan(Plan::Empty);
    let (st, h, body) = s.call("GET", "/allocations").await;
    assert_eq!((st, body.as_str()), (204, ""));
    assert_eq!(h["content-type"], "application/json");

    s.cluster.set_plan(Plan::FailFirst);
    let (st, _, body) = s.call("GET", "/allocations").await;
    assert_eq!((st, body), (500, error_body(500, "stream broke")));

    s.cluster.set_plan(Plan::FailAfter(2));
    let r = s
        .req("GET", "/pins")
        .header("TE", "trailers")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (body, trailers) = body_and_trailers(r).await.unwrap();
    assert_eq!(lines(&body).len(), 2);
    assert_eq!(trailers.unwrap()["x-stream-error"], "stream broke");
    // without TE: trailers the failure must not look like a clean end
    let r = s.req("GET", "/pins").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err(), "a failed stream must be cut");

    // filters
    s.cluster.set_plan(Plan::Items(1));
    let (st, _, body) = s.call("GET", "/allocations?filter=xyz").await;
    assert_eq!((st, body), (400, error_body(400, "invalid filter value")));
    s.call("GET", "/allocations?filter=pin,meta-pin").await;
    let Some(Call::Allocations(set)) = s.cluster.last() else {
        panic!()
    };
    assert!(set.data && set.meta && !set.shard && !set.cluster_dag);
    s.call("GET", "/allocations").await;
    assert_eq!(s.cluster.last(), Some(Call::Allocations(PinTypeSet::ALL)));
    let (st, _, body) = s.call("GET", "/pins?filter=invalid").await;
    assert_eq!((st, body), (400, error_body(400, "invalid filter value")));
    s.call("GET", "/pins?filter=pinned,error&local=true").await;
    assert_eq!(
        s.cluster.last(),
        Some(Call::StatusAll(
            TrackerStatusFilter::parse("pinned,error"),
            true
        ))
    );
    s.call("GET", "/pins").await;
    assert_eq!(
        s.cluster.last(),
        Some(Call::StatusAll(TrackerStatusFilter::ALL, false))
    );

    s.cluster.set_plan(Plan::Items(2));
    let (st, _, body) = s.call("GET", "/peers").await;
    assert_eq!(st, 200);
    assert_eq!(lines(body.as_bytes()).len(), 2);
    let (st, _, body) = s.call("POST", "/pins/recover?local=true").await;
    assert_eq!(st, 200);
    assert_eq!(
        lines(body.as_bytes())[0]["peer_map"][SELF_PEER]["status"],
        "pin_queued"
    );
    assert_eq!(s.cluster.last(), Some(Call::RecoverAll(true)));

    // second opinion: the client reads items and the trailer
    let c = s.client(None);
    s.cluster.set_plan(Plan::Items(3));
    assert_eq!(
        c.status_all("", &[], false)
            .await
            .unwrap()
            .collect_all()
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        c.recover_all(true)
            .await
            .unwrap()
            .collect_all()
            .await
            .unwrap()
            .len(),
        3
    );
    s.cluster.set_plan(Plan::FailAfter(1));
    let e = c
        .allocations(client::PinTypeFilter::parse("all"))
        .await
        .unwrap()
        .collect_all()
        .await
        .unwrap_err();
    assert_eq!(e.api_code(), Some(500));
    assert!(e.message().contains("stream broke"), "{e}");
    s.cluster.set_plan(Plan::Empty);
    assert!(
        c.peers()
            .await
            .unwrap()
            .collect_all()
            .await
            .unwrap()
            .is_empty()
    );
    s.stop().await.unwrap();
}

#[tokio::test]
async fn status_of_several_cids() {
    let s = start().await;
    let r = s
        .req("GET", &format!("/pins?cids={CID1},{CID2},{FAILING}"))
        .header("TE", "trailers")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (body, trailers) = body_and_trailers(r).await.unwrap();
    let mut got: Vec<String> = lines(&body)
        .iter()
        .map(|v| v["cid"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, vec![CID1.to_string(), CID2.to_string()]);
    assert_eq!(
        trailers.unwrap()["x-stream-error"],
        format!("status of {FAILING} failed")
    );
    let mut calls = s.cluster.calls();
    calls.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(calls.len(), 3);
    assert!(calls.contains(&Call::Status(cid(FAILING), false)));

    let (st, _, body) = s.call("GET", &format!("/pins?cids={FAILING}")).await;
    assert_eq!(
        (st, body),
        (500, error_body(500, &format!("status of {FAILING} failed")))
    );
    let (st, _, body) = s.call("GET", &format!("/pins?cids={CID1},bad")).await;
    assert_eq!(st, 400);
    assert!(body.contains("error decoding Cid: "), "{body}");
    s.call("GET", &format!("/pins?cids={CID1}&local=true"))
        .await;
    assert_eq!(s.cluster.last(), Some(Call::Status(cid(CID1), true)));

    let c = s.client(None);
    let got = c
        .status_all("", &[cid(CID1), cid(CID2)], false)
        .await
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn add_streams_outputs() {
    let s = start().await;
    const B: &str = "0123456789abcdef";
    let ct = format!("multipart/form-data; boundary={B}");
    let upload = |files: &[(&str, &[u8])], q: &str| {
        s.req("POST", &format!("/add{q}"))
            .header("Content-Type", &ct)
            .header("TE", "trailers")
            .body(multipart(B, files))
    };
    let r = upload(
        &[("a.txt", b"hello"), ("dir/b.txt", b"world!")],
        "?name=n&cid-version=1&raw-leaves=false&layout=trickle&replication=2",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["x-chunked-output"], "1");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["connection"], "close");
    assert_eq!(h["trailer"], "X-Stream-Error");
    assert_eq!(h["content-type"], "application/json");
    let (body, trailers) = body_and_trailers(r).await.unwrap();
    let out = lines(&body);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["name"], "a.txt");
    assert_eq!(out[0]["cid"], raw_cid(b"hello").to_string());
    assert_eq!(out[1]["name"], "dir/b.txt");
    assert_eq!(out[1]["bytes"], 6);
    assert_eq!(trailers.unwrap()["x-stream-error"], "");
    let (params, files) = s.cluster.adds().pop().unwrap();
    assert_eq!(params.pin_options.name, "n");
    assert_eq!(params.pin_options.replication_factor_min, 2);
    assert_eq!(params.cid_version, Some(1));
    assert_eq!(params.raw_leaves, Some(false));
    assert!(params.layout_trickle && !params.car && !params.local);
    assert_eq!(
        files,
        vec![
            ("a.txt".to_string(), b"hello".to_vec()),
            ("dir/b.txt".to_string(), b"world!".to_vec())
        ]
    );

    // one JSON array
    let (st, h, body) = send(upload(
        &[("a.txt", b"hello"), ("b.txt", b"x")],
        "?stream-channels=false",
    ))
    .await;
    assert_eq!(st, 200);
    assert!(h.get("x-chunked-output").is_none());
    assert_eq!(parse(&body).as_array().unwrap().len(), 2);
    let (st, _, body) = send(upload(
        &[("a.txt", b"hello"), ("fail", b"x")],
        "?stream-channels=false",
    ))
    .await;
    assert_eq!((st, body), (500, error_body(500, "cannot add fail")));

    // failures in stream mode
    let (st, _, body) = send(upload(&[("fail", b"x")], "")).await;
    assert_eq!((st, body), (500, error_body(500, "cannot add fail")));
    let r = upload(&[("a.txt", b"hello"), ("fail", b"x")], "")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (body, trailers) = body_and_trailers(r).await.unwrap();
    assert_eq!(lines(&body).len(), 1);
    assert_eq!(trailers.unwrap()["x-stream-error"], "cannot add fail");

    // bad parameters and bodies
    for (q, msg) in [
        ("?layout=zigzag", "layout parameter is invalid"),
        ("?format=zip", "format parameter is invalid"),
        (
            "?wrap-with-directory=maybe",
            "parameter wrap-with-directory invalid",
        ),
        ("?replication-min=x", "parameter replication-min invalid"),
    ] {
        let (st, _, body) = send(upload(&[("a", b"a")], q)).await;
        assert_eq!((st, body), (400, error_body(400, msg)), "{q}");
    }
    let (st, _, body) = send(upload(&[("a", b"a")], "?shard=true")).await;
    assert_eq!(st, 400);
    assert!(body.contains("shard"), "{body}");
    let (st, _, body) = send(
        s.req("POST", "/add")
            .header("Content-Type", "text/plain")
            .body("test"),
    )
    .await;
    assert_eq!(
        (st, body),
        (
            400,
            error_body(400, "request Content-Type isn't multipart/form-data")
        )
    );
    let (st, _, body) = send(s.req("POST", "/add").body("test")).await;
    assert_eq!(st, 400, "{body}");
    let (st, _, body) = send(
        s.req("POST", "/add")
            .header("Content-Type", "multipart/form-data")
            .body("test"),
    )
    .await;
    assert_eq!(
        (st, body),
        (
            400,
            error_body(400, "no multipart boundary param in Content-Type")
        )
    );

    // second opinion: the client's go-ipfs-files encoding, from disk
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.bin");
    std::fs::write(&file, b"from the client").unwrap();
    let params = client::AddParams::default();
    let up = client::MultipartUpload::new(&[client::AddSource::Path(file)], &params).unwrap();
    let c = s.client(None);
    let out = c
        .add(&up, &params, None)
        .await
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].name, "f.bin");
    assert_eq!(out[0].cid, Some(raw_cid(b"from the client")));
    let (params, _) = s.cluster.adds().pop().unwrap();
    assert_eq!(params.cid_version, Some(0));
    assert_eq!(params.chunker.as_deref(), Some("size-262144"));
    assert_eq!(params.hash.as_deref(), Some("sha2-256"));
    s.stop().await.unwrap();
}

#[tokio::test]
async fn peers_gc_metrics_health_token() {
    let s = start().await;
    let other = s.cluster.other_peer;
    let (st, _, body) = s.call("DELETE", &format!("/peers/{other}")).await;
    assert_eq!((st, body.as_str()), (204, ""));
    assert_eq!(s.cluster.last(), Some(Call::PeerRemove(other)));
    let (st, _, body) = s.call("DELETE", "/peers/notapeer").await;
    assert_eq!(st, 400);
    assert!(body.contains("error decoding Peer ID: "), "{body}");

    let (st, _, body) = send(s.req("POST", "/peers").body("oeoeoeoe")).await;
    assert_eq!(
        (st, body),
        (400, error_body(400, "error decoding request body"))
    );
    let (st, _, body) = send(s.req("POST", "/peers").body(r#"{"peer_id": "ab"}"#)).await;
    assert_eq!((st, body), (400, error_body(400, "error decoding peer_id")));
    let (st, _, body) = send(
        s.req("POST", "/peers")
            .body(format!(r#"{{"peer_id":"{other}"}}"#)),
    )
    .await;
    assert_eq!(st, 501, "{body}");
    assert_eq!(parse(&body)["code"], 501);

    let (st, _, body) = s.call("POST", "/ipfs/gc?local=true").await;
    assert_eq!(st, 200);
    assert_eq!(parse(&body)["peer_map"][SELF_PEER]["peername"], "fake");
    assert_eq!(s.cluster.last(), Some(Call::RepoGc(true)));

    let (_, _, body) = s.call("GET", "/monitor/metrics").await;
    assert_eq!(parse(&body), json!(["ping", "freespace"]));
    let (st, _, body) = s.call("GET", "/monitor/metrics/ping").await;
    assert_eq!(st, 200);
    assert_eq!(parse(&body)[0]["name"], "ping");
    assert_eq!(s.cluster.last(), Some(Call::Metrics("ping".into())));

    let (_, _, body) = s.call("GET", "/health/alerts").await;
    assert_eq!(body, "[]\n");
    let (_, _, body) = s.call("GET", "/health/bandwidth").await;
    assert_eq!(body, "{}\n");
    s.cluster.set_plan(Plan::Items(2));
    let (st, _, body) = s.call("GET", "/health/graph").await;
    assert_eq!(st, 200);
    let g = parse(&body);
    assert_eq!(g["cluster_id"], SELF_PEER);
    assert_eq!(g["id_to_peername"][SELF_PEER], "fake");
    assert_eq!(g["cluster_links"][SELF_PEER], json!([other.to_base58()]));
    assert_eq!(g["cluster_links"].as_object().unwrap().len(), 2);
    assert_eq!(g["cluster_to_ipfs"][SELF_PEER], "QmIpfsOffake");
    assert_eq!(g["cluster_trust_links"][SELF_PEER], true);

    let (st, _, body) = s.call("POST", "/token").await;
    assert_eq!((st, body), (401, error_body(401, "unauthorized")));

    let c = s.client(None);
    c.peer_rm(&other).await.unwrap();
    assert_eq!(c.repo_gc(false).await.unwrap().peer_map.len(), 1);
    assert_eq!(c.metric_names().await.unwrap(), ["ping", "freespace"]);
    assert_eq!(c.metrics("freespace").await.unwrap()[0].name, "freespace");
    assert!(c.alerts().await.unwrap().is_empty());
    assert!(c.bandwidth().await.unwrap().is_empty());
    assert_eq!(c.health_graph().await.unwrap().cluster_id, SELF_PEER);
    assert_eq!(c.token().await.unwrap_err().api_code(), Some(401));
    s.stop().await.unwrap();
}

#[tokio::test]
async fn basic_auth() {
    let mut cfg = RestApiConfig::restapi_default();
    with_credentials(&mut cfg, &[("alice", "secret"), ("bob", "builder")]);
    cfg.headers.insert("X-Custom".into(), vec!["1".into()]);
    let s = start_with(cfg).await;
    let basic = "Basic realm=\"Restricted IPFS Cluster API\"";
    let bearer = "Bearer realm=\"Restricted IPFS Cluster API\"";

    let (st, h, body) = s.call("GET", "/id").await;
    assert_eq!(
        (st, body),
        (401, error_body(401, "unauthorized: no auth provided"))
    );
    assert_eq!(all(&h, "www-authenticate"), [bearer, basic]);
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["x-custom"], "1");
    assert!(h.get("access-control-allow-origin").is_none());

    for (u, p) in [
        ("alice", "builder"),
        ("carol", "secret"),
        ("alice", ""),
        ("", "secret"),
    ] {
        let (st, h, body) = send(s.req("GET", "/id").basic_auth(u, Some(p))).await;
        assert_eq!(
            (st, body),
            (401, error_body(401, "unauthorized: access denied")),
            "{u}:{p}"
        );
        assert_eq!(all(&h, "www-authenticate"), [basic]);
    }
    let (st, _, body) = send(s.req("GET", "/id").basic_auth("bob", Some("builder"))).await;
    assert_eq!(st, 200, "{body}");
    let (st, _, _) = send(s.req("GET", "/nope").basic_auth("bob", Some("builder"))).await;
    assert_eq!(st, 404);
    let (st, _, _) = s.call("GET", "/nope").await;
    assert_eq!(st, 401);

    let (st, h, body) = send(s.req("GET", "/id").bearer_auth("some.jwt.token")).await;
    assert_eq!(
        (st, body),
        (401, error_body(401, "unauthorized: invalid token"))
    );
    assert_eq!(
        all(&h, "www-authenticate"),
        [format!("{bearer}, error=\"invalid_token\"")]
    );

    // exemptions
    let (st, _, _) = s.call("GET", "/health").await;
    assert_eq!(st, 204);
    let (st, _, _) = s.call("POST", "/health").await;
    assert_eq!(st, 401);
    let (st, _, _) = s.call("OPTIONS", "/id").await;
    assert_eq!(st, 405);
    let (st, _, _) = s.call("OPTIONS", "/nope").await;
    assert_eq!(st, 404);
    let (st, h, _) = send(
        s.req("OPTIONS", "/pins")
            .header("Origin", "https://a.example")
            .header("Access-Control-Request-Method", "GET"),
    )
    .await;
    assert_eq!(st, 204);
    assert_eq!(h["access-control-allow-origin"], "*");

    // tokens: issued to a basic-auth user, accepted as bearer, not able to mint more, revocable
    let (st, _, body) = send(s.req("POST", "/token").basic_auth("alice", Some("secret"))).await;
    assert_eq!(st, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = answer["token"].as_str().unwrap().to_string();
    let id = answer["id"].as_str().unwrap().to_string();
    let (st, _, body) = send(s.req("GET", "/id").bearer_auth(&token)).await;
    assert_eq!(st, 200, "{body}");
    let (st, _, _) = send(s.req("POST", "/token").bearer_auth(&token)).await;
    assert_eq!(st, 403);
    let (st, _, body) = send(
        s.req("DELETE", &format!("/token/{id}"))
            .basic_auth("bob", Some("builder")),
    )
    .await;
    assert_eq!(st, 204, "{body}");
    let (st, _, body) = send(s.req("GET", "/id").bearer_auth(&token)).await;
    assert_eq!(
        (st, body),
        (401, error_body(401, "unauthorized: invalid token"))
    );

    // second opinion
    let c = s.client(Some(("alice", "secret")));
    assert_eq!(c.id().await.unwrap().id, SELF_PEER);
    let bad = s.client(Some(("alice", "nope")));
    let e = bad.id().await.unwrap_err();
    assert_eq!(e.api_code(), Some(401));
    assert_eq!(e.message(), "unauthorized: access denied");
    s.stop().await.unwrap();
}

#[tokio::test]
async fn cors_with_default_configuration() {
    let s = start().await;
    let preflight = |method: &str, headers: &str| {
        s.req("OPTIONS", "/pins")
            .header("Origin", "https://evil.example")
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", headers)
    };
    let (st, h, body) = send(preflight("GET", "content-type")).await;
    assert_eq!((st, body.as_str()), (204, ""));
    assert_eq!(
        h["access-control-allow-origin"], "*",
        "never the reflected origin"
    );
    assert_eq!(h["access-control-allow-methods"], "GET");
    assert_eq!(h["access-control-allow-headers"], "content-type");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(h.get("access-control-max-age").is_none());
    assert_eq!(
        h["vary"],
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    );
    assert_eq!(h["content-type"], "application/json");
    assert!(
        s.cluster.calls().is_empty(),
        "preflights do not reach the router"
    );

    // POST is not allowed cross-origin by default; nor unknown headers
    for (m, hd) in [("POST", "content-type"), ("GET", "x-custom")] {
        let (st, h, _) = send(preflight(m, hd)).await;
        assert_eq!(st, 204);
        assert!(h.get("access-control-allow-origin").is_none(), "{m} {hd}");
        assert!(h.get("vary").is_some());
    }

    let (st, h, _) = send(s.req("GET", "/id").header("Origin", "https://evil.example")).await;
    assert_eq!(st, 200);
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(
        h["access-control-expose-headers"],
        "Content-Type, X-Stream-Output, X-Chunked-Output, X-Content-Length"
    );
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["vary"], "Origin");
    let (_, h, _) = s.call("GET", "/id").await;
    assert_eq!(h["vary"], "Origin");
    assert!(h.get("access-control-allow-origin").is_none());
    let (st, h, _) = send(
        s.req("POST", &format!("/pins/{CID1}"))
            .header("Origin", "https://evil.example"),
    )
    .await;
    assert_eq!(st, 200);
    assert!(h.get("access-control-allow-origin").is_none());
    s.stop().await.unwrap();
}

#[tokio::test]
async fn cors_with_custom_configuration() {
    let mut cfg = RestApiConfig::restapi_default();
    cfg.cors_allowed_origins = vec![
        "https://app.example".into(),
        "https://*.trusted.example".into(),
    ];
    cfg.cors_allowed_methods = vec!["GET".into(), "POST".into()];
    cfg.cors_allowed_headers = vec!["Content-Type".into(), "X-Custom".into()];
    cfg.cors_exposed_headers = vec!["x-stream-error".into()];
    cfg.cors_max_age = Duration::from_secs(600);
    let s = start_with(cfg).await;
    let preflight = |origin: &str| {
        s.req("OPTIONS", &format!("/pins/{CID1}"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type,x-custom")
    };
    for origin in ["https://App.Example", "https://a.trusted.example"] {
        let (st, h, _) = send(preflight(origin)).await;
        assert_eq!(st, 204);
        assert_eq!(h["access-control-allow-origin"], origin);
        assert_eq!(h["access-control-allow-methods"], "POST");
        assert_eq!(h["access-control-allow-headers"], "content-type,x-custom");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["access-control-max-age"], "600");
    }
    let (_, h, _) = send(preflight("https://evil.example")).await;
    assert!(h.get("access-control-allow-origin").is_none());
    assert!(h.get("access-control-allow-credentials").is_none());

    let (_, h, _) = send(s.req("GET", "/id").header("Origin", "https://app.example")).await;
    assert_eq!(h["access-control-allow-origin"], "https://app.example");
    assert_eq!(h["access-control-expose-headers"], "X-Stream-Error");
    assert_eq!(h["access-control-allow-credentials"], "true");
    let (_, h, _) = send(s.req("GET", "/id").header("Origin", "https://evil.example")).await;
    assert!(h.get("access-control-allow-origin").is_none());
    assert!(h.get("access-control-allow-credentials").is_none());
    s.stop().await.unwrap();

    let mut cfg = RestApiConfig::restapi_default();
    cfg.cors_allow_credentials = false;
    let s = start_with(cfg).await;
    let (_, h, _) = send(s.req("GET", "/id").header("Origin", "https://a.example")).await;
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(h.get("access-control-allow-credentials").is_none());
    s.stop().await.unwrap();
}

#[tokio::test]
async fn configured_headers_are_on_every_answer() {
    let mut cfg = RestApiConfig::restapi_default();
    cfg.headers
        .insert("X-Hdr".into(), vec!["a".into(), "b".into()]);
    let s = start_with(cfg.clone()).await;
    let check = |h: &HeaderMap, what: &str| {
        assert_eq!(all(h, "x-hdr"), ["a", "b"], "{what}");
        assert_eq!(h["content-type"], "application/json", "{what}");
    };
    for (m, p) in [
        ("GET", "/id"),
        ("GET", "/nope"),
        ("POST", "/id"),
        ("GET", "/health"),
        ("GET", "/id/"),
        ("GET", "/allocations"),
        ("POST", "/pins/bad"),
    ] {
        let (_, h, _) = s.call(m, p).await;
        check(&h, &format!("{m} {p}"));
    }
    let (_, h, _) = send(
        s.req("OPTIONS", "/id")
            .header("Origin", "https://a.example")
            .header("Access-Control-Request-Method", "GET"),
    )
    .await;
    check(&h, "preflight");
    s.stop().await.unwrap();

    with_credentials(&mut cfg, &[("u", "p")]);
    let s = start_with(cfg).await;
    let (st, h, _) = s.call("GET", "/id").await;
    assert_eq!(st, 401);
    check(&h, "401");
    s.stop().await.unwrap();
}

fn write_certificate(dir: &Path) -> String {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
    ck.cert.pem()
}

#[tokio::test]
async fn tls_serves_https_and_refuses_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let cert_pem = write_certificate(dir.path());
    let mut cfg = RestApiConfig::restapi_default();
    cfg.ssl_cert_file = "cert.pem".into();
    cfg.ssl_key_file = "key.pem".into();
    let s = start_in(cfg, dir).await;
    let https = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = https.get(s.url("/id")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(parse(&r.text().await.unwrap())["id"], SELF_PEER);

    // TLS 1.2 (Go's minimum) works too
    let tls12 = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    let r = tls12.get(s.url("/version")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // plain HTTP on the TLS port: Go's 400 and a closed connection
    let out = raw(s.addr, b"GET /id HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(
        out,
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
    );
    // other garbage: just closed
    let out = raw(s.addr, b"\x00\x01\x02\x03\x04\x05\x06").await;
    assert_eq!(out, "");
    // still serving
    let r = https.get(s.url("/version")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let c = s.client(None);
    assert_eq!(c.id().await.unwrap().id, SELF_PEER);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn tls_with_unusable_files_fails_to_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
    let mut cfg = RestApiConfig::restapi_default();
    cfg.ssl_cert_file = "cert.pem".into();
    cfg.ssl_key_file = "missing-key.pem".into();
    let s = start_in(cfg, dir).await;
    let err = s.stop().await.unwrap_err();
    assert!(matches!(err, RestError::Tls(_)), "{err}");
    assert!(err.to_string().contains("cert.pem"), "{err}");
}

#[tokio::test]
async fn idle_and_header_timeouts() {
    let mut cfg = RestApiConfig::restapi_default();
    cfg.read_header_timeout = Duration::from_millis(300);
    cfg.idle_timeout = Duration::from_millis(1200);
    let s = start_with(cfg).await;
    let req = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

    // an idle keep-alive connection outlives the header timeout...
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(req).await.unwrap();
    assert!(read_head(&mut c).await.unwrap().starts_with("HTTP/1.1 204"));
    tokio::time::sleep(Duration::from_millis(700)).await;
    c.write_all(req).await.unwrap();
    assert!(read_head(&mut c).await.unwrap().starts_with("HTTP/1.1 204"));
    // ...and is closed after the idle timeout
    let t0 = std::time::Instant::now();
    let mut b = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut b))
        .await
        .expect("idle connection must be closed");
    assert!(matches!(n, Ok(0) | Err(_)));
    let waited = t0.elapsed();
    assert!(
        waited > Duration::from_millis(900) && waited < Duration::from_millis(3000),
        "{waited:?}"
    );

    // a new connection that says nothing is cut after the header timeout, not the idle one
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    let t0 = std::time::Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut b))
        .await
        .expect("silent connection must be closed");
    assert!(matches!(n, Ok(0) | Err(_)));
    assert!(
        t0.elapsed() < Duration::from_millis(1000),
        "{:?}",
        t0.elapsed()
    );

    // a request head that dawdles is cut after the header timeout
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let _ = c.write_all(b"Host: x\r\n\r\n").await;
    let mut out = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out)).await;
    assert!(
        !String::from_utf8_lossy(&out).contains("204"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    s.stop().await.unwrap();
}

#[tokio::test]
async fn write_timeout_cuts_long_answers() {
    let mut cfg = RestApiConfig::restapi_default();
    cfg.write_timeout = Duration::from_millis(400);
    let s = start_with(cfg).await;
    s.cluster.set_plan(Plan::Slow(10, 150));
    let out = raw(
        s.addr,
        b"GET /allocations HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(!out.contains("\r\n0\r\n"), "the stream must be cut: {out}");
    // quick answers are unaffected
    s.cluster.set_plan(Plan::Items(2));
    let (st, _, _) = s.call("GET", "/allocations").await;
    assert_eq!(st, 200);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn deadlines_restart_with_each_kept_alive_request() {
    // Only write_timeout: later requests on the connection get their own deadline.
    let mut cfg = RestApiConfig::restapi_default();
    cfg.read_header_timeout = Duration::ZERO;
    cfg.idle_timeout = Duration::ZERO;
    cfg.write_timeout = Duration::from_millis(400);
    let s = start_with(cfg).await;
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    for _ in 0..3 {
        c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let head = read_head(&mut c)
            .await
            .expect("answer on the kept-alive connection");
        assert!(head.starts_with("HTTP/1.1 204"), "{head}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    s.stop().await.unwrap();
}

#[test]
fn exposure_warnings() {
    use super::server::exposure_warning;
    let lo: SocketAddr = "127.0.0.1:9094".parse().unwrap();
    let any: SocketAddr = "0.0.0.0:9094".parse().unwrap();
    assert_eq!(exposure_warning(lo, false, false), None);
    assert!(
        exposure_warning(any, false, true)
            .unwrap()
            .contains("WITHOUT authentication")
    );
    assert!(
        exposure_warning(any, true, false)
            .unwrap()
            .contains("WITHOUT TLS")
    );
    assert_eq!(exposure_warning(any, true, true), None);
}

#[tokio::test]
async fn read_timeout_limits_slow_bodies() {
    let mut cfg = RestApiConfig::restapi_default();
    cfg.read_timeout = Duration::from_millis(300);
    let s = start_with(cfg).await;
    let body = format!(r#"{{"peer_id":"{}"}}"#, s.cluster.other_peer);
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    c.write_all(
        format!(
            "POST /peers HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let _ = c.write_all(body.as_bytes()).await;
    let mut out = vec![];
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out);
    assert!(
        !out.contains(" 501 "),
        "the late body must not be read: {out}"
    );
    // in time, the same request is read
    let (st, _, _) = send(s.req("POST", "/peers").body(body)).await;
    assert_eq!(st, 501);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_stops_listening() {
    let s = start().await;
    let addr = s.addr;
    // an idle keep-alive connection does not hold shutdown up
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_head(&mut c).await.unwrap();
    let t0 = std::time::Instant::now();
    s.stop().await.unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn bind_listeners_from_multiaddresses() {
    let mut cfg = RestApiConfig::restapi_default();
    cfg.http_listen_multiaddress = vec![
        "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
        "/dns4/localhost/tcp/0".parse().unwrap(),
    ];
    let ls = super::server::bind_listeners(&cfg).await.unwrap();
    assert_eq!(ls.len(), 2);
    assert!(ls.iter().all(|l| l.local_addr().unwrap().port() != 0));
    cfg.http_listen_multiaddress = vec!["/ip4/127.0.0.1/udp/0".parse().unwrap()];
    assert!(matches!(
        super::server::bind_listeners(&cfg).await,
        Err(RestError::Listen { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// REST over libp2p (`/libp2p-http`)

pub(crate) mod over_libp2p {
    use super::*;
    use crate::api::libp2p_http::serve as serve_p2p;
    use crate::api::rest::access::{AccessLayer, RemotePeer};
    use crate::client::tunnel::{Tunnel, TunnelError};
    use crate::config::ClusterSecret;
    use crate::http::server::ConnInfo;
    use crate::p2p::rpc::{RpcHandler, RpcReply, RpcRequest, RpcResponse, RpcServer};
    use crate::p2p::swarm::{SwarmConfig, SwarmHandle};

    struct NoRpc;

    impl RpcHandler for NoRpc {
        fn handle(&self, _caller: PeerId, _request: RpcRequest) -> BoxFuture<'static, RpcReply> {
            Box::pin(async {
                Ok(RpcResponse::Version {
                    version: "v".into(),
                })
            })
        }
    }

    /// A cluster swarm on 127.0.0.1 serving the REST router (the fake cluster's, plus
    /// `/whoami`, which echoes the connection's extensions) over `/libp2p-http`.
    pub(crate) async fn start_p2p(
        secret: Option<ClusterSecret>,
    ) -> (SwarmHandle, multiaddr::Multiaddr, oneshot::Sender<()>) {
        let key = libp2p_identity::Keypair::generate_ed25519();
        let local = key.public().to_peer_id();
        let mut cfg = SwarmConfig::new(vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()], secret);
        cfg.handshake_timeout = Duration::from_secs(10);
        let swarm = crate::p2p::swarm::start(&key, cfg, RpcServer::new(local, Arc::new(NoRpc)))
            .await
            .unwrap();
        let addr = swarm.listen_addrs().await.unwrap()[0]
            .clone()
            .with(multiaddr::Protocol::P2p(local));
        let cluster: Arc<dyn ClusterApi> = FakeCluster::new();
        let access = AccessLayer::allow_all(&RestApiConfig::restapi_default());
        let whoami = axum::Router::new().route(
            "/whoami",
            axum::routing::get(
                |axum::Extension(peer): axum::Extension<RemotePeer>,
                 axum::Extension(conn): axum::Extension<ConnInfo>| async move {
                    format!("{} remote={:?} tls={}", peer.0, conn.remote, conn.tls)
                },
            ),
        );
        let router = super::super::router::router(cluster, access).merge(whoami);
        let (tx, rx) = oneshot::channel::<()>();
        let streams = swarm.streams();
        tokio::spawn(async move {
            serve_p2p(streams, router, async {
                let _ = rx.await;
            })
            .await
            .unwrap()
        });
        (swarm, addr, tx)
    }

    pub(crate) fn hex(s: &ClusterSecret) -> String {
        s.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[tokio::test]
    async fn libp2p_http_serves_the_same_router_through_the_tunnel() {
        let secret = ClusterSecret::generate();
        let (swarm, addr, _stop) = start_p2p(Some(secret.clone())).await;
        let tunnel = Tunnel::connect(&addr, Some(&secret), Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(tunnel.peer(), swarm.local_peer_id());
        let client = Client::new(&ClientConfig {
            hosts: vec![addr.clone()],
            unix_socket: Some(tunnel.socket_path().to_path_buf()),
            ..Default::default()
        })
        .unwrap();
        // a plain JSON route and a streamed one (NDJSON + trailer), several times over
        // keep-alive and in parallel (one stream per connection)
        for _ in 0..3 {
            assert_eq!(client.id().await.unwrap().id, SELF_PEER);
        }
        let (a, b) = tokio::join!(client.peers(), client.peers());
        for s in [a, b] {
            assert_eq!(s.unwrap().collect_all().await.unwrap().len(), 3);
        }
        // the handler sees the caller's peer id and no socket address
        let raw = reqwest::Client::builder()
            .unix_socket(tunnel.socket_path())
            .build()
            .unwrap();
        let who = raw
            .get(format!("http://{}/whoami", swarm.local_peer_id()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(who.ends_with("remote=None tls=false"), "{who}");
        let caller: PeerId = who.split(' ').next().unwrap().parse().unwrap();
        assert_ne!(caller, swarm.local_peer_id(), "a fresh client identity");
        // the socket is private and goes away with the tunnel
        let dir = tunnel.socket_path().parent().unwrap().to_path_buf();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        drop(tunnel);
        assert!(!dir.exists());
        swarm.shutdown().await;
    }

    #[tokio::test]
    async fn libp2p_http_refuses_a_client_without_the_secret() {
        let secret = ClusterSecret::generate();
        let (swarm, addr, _stop) = start_p2p(Some(secret)).await;
        for wrong in [Some(ClusterSecret::generate()), None] {
            let err = Tunnel::connect(&addr, wrong.as_ref(), Duration::from_secs(5))
                .await
                .unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, TunnelError::Connect { .. }), "{msg}");
            assert!(msg.contains("secret mismatch"), "{msg}");
        }
        // an address without /p2p/ is refused before anything is sent
        let mut plain = addr.clone();
        plain.pop();
        assert!(matches!(
            Tunnel::connect(&plain, None, Duration::from_secs(5)).await,
            Err(TunnelError::Address(_))
        ));
        swarm.shutdown().await;
    }
}
