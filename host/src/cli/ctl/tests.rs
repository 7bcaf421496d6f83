//! End-to-end tests of `pinfold-ctl` and its REST client against an in-process fake server
//! (axum on 127.0.0.1:0) that answers with canned IPFS-Cluster-shaped responses and records
//! what it received: streams split across chunks, trailers, 204s, error bodies, uploads.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use super::{Io, run};
use crate::client::{
    AddParams, AddSource, Client, ClientConfig, ClientError, MultipartUpload, PinTypeFilter,
};

const CID: &str = "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY";
const CID2: &str = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
const P1: &str = "12D3KooWJxNtxhvCnBq8PZX7C93ZNFzGsvKXg4VnXMi9Hso5mCKE";
const P2: &str = "12D3KooWAvhy8aWAY6VqKobcMZPnWz4qmTz7PN8GPmHhdqbWX5Gg";

#[derive(Clone)]
struct Canned {
    status: u16,
    chunks: Vec<Vec<u8>>,
    /// `Some` = streaming answer with `Trailer: X-Stream-Error` set to this.
    trailer: Option<String>,
    delay: Duration,
    /// Pause before each chunk after the first (streams).
    gap: Duration,
}

fn json_answer(status: u16, body: &str) -> Canned {
    Canned {
        status,
        chunks: vec![body.as_bytes().to_vec()],
        trailer: None,
        delay: Duration::ZERO,
        gap: Duration::ZERO,
    }
}

fn stream_answer(chunks: &[&str], trailer: &str) -> Canned {
    Canned {
        status: 200,
        chunks: chunks.iter().map(|c| c.as_bytes().to_vec()).collect(),
        trailer: Some(trailer.to_string()),
        delay: Duration::ZERO,
        gap: Duration::ZERO,
    }
}

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Default)]
struct FakeState {
    /// "METHOD /path" → answers served in turn (the last one repeats).
    routes: HashMap<String, (Vec<Canned>, usize)>,
    requests: Vec<Recorded>,
}

struct Fake {
    addr: SocketAddr,
    state: Arc<Mutex<FakeState>>,
}

impl Fake {
    async fn start(routes: Vec<(&str, Vec<Canned>)>) -> Fake {
        let state = Arc::new(Mutex::new(FakeState {
            routes: routes
                .into_iter()
                .map(|(k, v)| (k.to_string(), (v, 0)))
                .collect(),
            requests: vec![],
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Fake { addr, state }
    }

    fn host(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}", self.addr.port())
    }

    fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }
}

async fn handle(State(state): State<Arc<Mutex<FakeState>>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let key = format!("{} {}", parts.method, parts.uri.path());
    let canned = {
        let mut st = state.lock().unwrap();
        st.requests.push(Recorded {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or("").to_string(),
            headers: parts.headers.clone(),
            body,
        });
        st.routes.get_mut(&key).map(|(answers, next)| {
            let a = answers[(*next).min(answers.len() - 1)].clone();
            *next += 1;
            a
        })
    };
    let Some(c) = canned else {
        return Response::builder()
            .status(404)
            .header("Content-Type", "application/json")
            .body(Body::from(r#"{"code":404,"message":"not found"}"#))
            .unwrap();
    };
    if !c.delay.is_zero() {
        tokio::time::sleep(c.delay).await;
    }
    let mut b = Response::builder()
        .status(StatusCode::from_u16(c.status).unwrap())
        .header("Content-Type", "application/json");
    match c.trailer {
        None => b.body(Body::from(c.chunks.concat())).unwrap(),
        Some(t) => {
            b = b.header("Trailer", "X-Stream-Error");
            let mut frames: Vec<Result<Frame<Bytes>, Infallible>> = c
                .chunks
                .into_iter()
                .map(|ch| Ok(Frame::data(Bytes::from(ch))))
                .collect();
            let mut tr = HeaderMap::new();
            tr.insert("X-Stream-Error", HeaderValue::from_str(&t).unwrap());
            frames.push(Ok(Frame::trailers(tr)));
            let gap = c.gap;
            let stream = futures::stream::iter(frames.into_iter().enumerate()).then(
                move |(i, f)| async move {
                    // separate network writes, so the client sees the chunks apart
                    let pause = if i > 0 && !gap.is_zero() {
                        gap
                    } else {
                        Duration::from_millis(5)
                    };
                    tokio::time::sleep(pause).await;
                    f
                },
            );
            b.body(Body::new(StreamBody::new(stream))).unwrap()
        }
    }
}

use futures::StreamExt;

/// Runs the program; returns (exit code, stdout, stderr).
pub(super) async fn ctl(args: &[&str]) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let args: Vec<String> = std::iter::once("ipfs-cluster-ctl")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    let code = run(
        args,
        &mut Io {
            out: &mut out,
            err: &mut err,
        },
        false,
    )
    .await;
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn id_json(id: &str, name: &str) -> String {
    format!(
        r#"{{"id":"{id}","addresses":["/ip4/127.0.0.1/tcp/9096/p2p/{id}"],"cluster_peers":["{P1}","{P2}"],"cluster_peers_addresses":null,"version":"1.1.6","commit":"","rpc_protocol_version":"/ipfscluster/1.0/rpc","error":"","ipfs":{{"id":"QmIpfs","addresses":["/ip4/127.0.0.1/tcp/4001"],"error":""}},"peername":"{name}"}}"#
    )
}

fn id_text(id: &str, name: &str) -> String {
    format!(
        "{id} | {name} | Sees 1 other peers\n  > Addresses:\n    - /ip4/127.0.0.1/tcp/9096/p2p/{id}\n  > IPFS: QmIpfs\n    - /ip4/127.0.0.1/tcp/4001\n"
    )
}

fn gpi_json(cid: &str, status: &str) -> String {
    format!(
        r#"{{"cid":"{cid}","name":"n","allocations":["{P1}"],"origins":null,"created":"2024-01-01T00:00:00Z","metadata":null,"peer_map":{{"{P1}":{{"peername":"p1","status":"{status}","timestamp":"2024-01-02T03:04:05Z","error":"","attempt_count":0,"priority_pin":false}}}}}}"#
    )
}

fn gpi_text(cid: &str, status: &str) -> String {
    format!(
        "{cid} | n:\n    > p1                   : {} | 2024-01-02T03:04:05Z | Attempts: 0 | Priority: false\n",
        status.to_uppercase()
    )
}

fn pin_json(cid: &str, rmin: i32) -> String {
    format!(
        r#"{{"replication_factor_min":{rmin},"replication_factor_max":{rmin},"name":"x","mode":"recursive","shard_size":0,"user_allocations":null,"expire_at":"0001-01-01T00:00:00Z","metadata":null,"pin_update":null,"origins":null,"cid":"{cid}","type":"pin","allocations":["{P1}"],"max_depth":-1,"reference":null,"timestamp":"2024-01-02T03:04:05Z"}}"#
    )
}

#[tokio::test]
async fn id_text_json_auth_and_headers() {
    let fake = Fake::start(vec![(
        "GET /id",
        vec![json_answer(200, &id_json(P1, "peer1"))],
    )])
    .await;
    let (code, out, err) = ctl(&["--host", &fake.host(), "id"]).await;
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, id_text(P1, "peer1").as_str(), "")
    );

    let (code, out, _) = ctl(&["--host", &fake.host(), "--enc", "json", "id"]).await;
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!(
            "{{\n    \"id\": \"{P1}\",\n    \"addresses\": [\n        \"/ip4/"
        )),
        "{out}"
    );
    assert!(
        out.contains("\n    \"ipfs\": {\n        \"id\": \"QmIpfs\",\n"),
        "{out}"
    );
    assert!(out.ends_with("    \"peername\": \"peer1\"\n}\n"), "{out}");

    let (code, _, _) = ctl(&[
        "--host",
        &fake.host(),
        "--basic-auth",
        "user:pa:ss",
        "--force-http",
        "id",
    ])
    .await;
    assert_eq!(code, 0);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs.iter().all(|r| r.method == "GET" && r.path == "/id"));
    assert!(reqs[0].headers.get("authorization").is_none());
    // base64("user:pa:ss")
    assert_eq!(reqs[2].headers["authorization"], "Basic dXNlcjpwYTpzcw==");
    assert_eq!(reqs[2].headers["te"], "trailers");
}

#[tokio::test]
async fn streams_split_across_chunks_with_trailers() {
    let two = format!("{}\n{}\n", id_json(P1, "a"), id_json(P2, "b"));
    let (x, y) = two.split_at(37);
    let (y, z) = y.split_at(y.len() - 300);
    let fake = Fake::start(vec![
        ("GET /peers", vec![stream_answer(&[x, y, z], "")]),
        (
            "GET /pins",
            vec![stream_answer(
                &[&format!("{}\n", gpi_json(CID, "pinned"))],
                "peer down; oops",
            )],
        ),
        (
            "GET /allocations",
            vec![Canned {
                status: 204,
                chunks: vec![],
                trailer: Some(String::new()),
                delay: Duration::ZERO,
                gap: Duration::ZERO,
            }],
        ),
        (
            "POST /pins/recover",
            vec![stream_answer(&["{\"cid\":"], "")],
        ),
    ])
    .await;
    let (code, out, err) = ctl(&["--host", &fake.host(), "peers", "ls"]).await;
    assert_eq!(err, "");
    assert_eq!(code, 0);
    assert_eq!(out, format!("{}{}", id_text(P1, "a"), id_text(P2, "b")));

    // an item, then the trailer's error: Go prints the item and exits 2
    let (code, out, _) = ctl(&[
        "--host",
        &fake.host(),
        "status",
        "--filter",
        "pinned, error",
    ])
    .await;
    assert_eq!(code, 2);
    assert_eq!(
        out,
        format!(
            "{}An error occurred:\n  Code: 500\n  Message: peer down; oops\n",
            gpi_text(CID, "pinned")
        )
    );
    let (code, out, _) = ctl(&["--host", &fake.host(), "--enc", "json", "status"]).await;
    assert_eq!(code, 2);
    assert!(
        out.ends_with("}\n{\n    \"code\": 500,\n    \"message\": \"peer down; oops\"\n}\n"),
        "{out}"
    );

    // 204: nothing, success
    let (code, out, err) = ctl(&["--host", &fake.host(), "pin", "ls"]).await;
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    // truncated stream: a decoding error, not an API error (stderr, exit 1)
    let (code, out, err) = ctl(&["--host", &fake.host(), "recover"]).await;
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (1, "", "error : unexpected EOF\n")
    );

    let reqs = fake.requests();
    let q: Vec<(&str, &str)> = reqs
        .iter()
        .map(|r| (r.path.as_str(), r.query.as_str()))
        .collect();
    assert_eq!(
        q,
        vec![
            ("/peers", ""),
            ("/pins", "local=false&filter=pinned%2Cerror&cids="),
            ("/pins", "local=false&filter=&cids="),
            ("/allocations", "filter=all"),
            ("/pins/recover", "local=false"),
        ]
    );
    assert_eq!(reqs[4].method, "POST");
}

#[tokio::test]
async fn client_streams_directly() {
    let lines: String = (0..50)
        .map(|i| {
            format!(
                "{}\n",
                gpi_json(CID, if i % 2 == 0 { "pinned" } else { "pinning" })
            )
        })
        .collect();
    let chunks: Vec<String> = lines
        .as_bytes()
        .chunks(97)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let chunk_refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    let fake = Fake::start(vec![
        ("GET /pins", vec![stream_answer(&chunk_refs, "")]),
        (
            "GET /allocations",
            vec![stream_answer(
                &[&format!("{}\n", pin_json(CID, 1)), "{\"cid\": 5}\n"],
                "",
            )],
        ),
    ])
    .await;
    let client = Client::new(&ClientConfig {
        hosts: vec![fake.host().parse().unwrap()],
        ..Default::default()
    })
    .unwrap();
    let items = client
        .status_all("", &[], true)
        .await
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(items.len(), 50);
    assert_eq!(
        items[1].peer_map[P1].status,
        crate::types::TrackerStatus::Pinning
    );
    let mut s = client
        .allocations(PinTypeFilter::parse("pin"))
        .await
        .unwrap();
    assert_eq!(
        s.next()
            .await
            .unwrap()
            .unwrap()
            .options
            .replication_factor_min,
        1
    );
    assert!(matches!(s.next().await, Some(Err(ClientError::Decode(_)))));
    assert!(s.next().await.is_none());
    assert_eq!(fake.requests()[1].query, "filter=pin");
}

#[tokio::test]
async fn error_answers_and_exit_codes() {
    let fake = Fake::start(vec![
        (
            "GET /allocations/".to_string() + CID,
            vec![json_answer(
                404,
                r#"{"code":404,"message":"pin is not part of the pinset"}"#,
            )],
        )
            .into_static(),
        (
            "GET /pins/".to_string() + CID,
            vec![json_answer(500, r#"{"code":500,"message":"rpc failed"}"#)],
        )
            .into_static(),
        ("GET /version", vec![json_answer(405, "")]),
        ("GET /monitor/metrics", vec![json_answer(200, "not json")]),
    ])
    .await;
    let h = fake.host();
    let (code, out, err) = ctl(&["--host", &h, "pin", "ls", CID]).await;
    assert_eq!(code, 2);
    assert_eq!(
        out,
        "An error occurred:\n  Code: 404\n  Message: pin is not part of the pinset\n"
    );
    assert_eq!(err, "");
    let (code, out, _) = ctl(&["--host", &h, "--enc", "json", "pin", "ls", CID]).await;
    assert_eq!(code, 2);
    assert_eq!(
        out,
        "{\n    \"code\": 404,\n    \"message\": \"pin is not part of the pinset\"\n}\n"
    );
    // status of one CID prints Go's zero GlobalPinInfo before the error
    let (code, out, _) = ctl(&["--host", &h, "status", CID]).await;
    assert_eq!(code, 2);
    assert_eq!(
        out,
        "b:\nAn error occurred:\n  Code: 500\n  Message: rpc failed\n"
    );
    let (code, out, _) = ctl(&["--host", &h, "version"]).await;
    assert_eq!(
        (code, out.as_str()),
        (2, "An error occurred:\n  Code: 405\n  Message: \n")
    );
    let (code, out, _) = ctl(&["--host", &h, "health", "metrics"]).await;
    assert_eq!(code, 2);
    assert!(
        out.starts_with("An error occurred:\n  Code: 200\n  Message: "),
        "{out}"
    );
    // unknown route: the server's 404 JSON
    let (code, out, _) = ctl(&["--host", &h, "ipfs", "gc"]).await;
    assert_eq!(
        (code, out.as_str()),
        (2, "An error occurred:\n  Code: 404\n  Message: not found\n")
    );

    // nobody listening: Go's code-0 error, exit 1
    let port = closed_port();
    let (code, out, _) = ctl(&["--host", &format!("/ip4/127.0.0.1/tcp/{port}"), "id"]).await;
    assert_eq!(code, 1);
    assert_eq!(
        out,
        format!(
            "An error occurred:\n  Code: 0\n  Message: Get \"http://127.0.0.1:{port}/id\": dial tcp \
             127.0.0.1:{port}: connect: connection refused\n"
        )
    );
    // fail-over to the next address
    let (code, _, _) = ctl(&[
        "--host",
        &format!("/ip4/127.0.0.1/tcp/{port},{h}"),
        "pin",
        "ls",
        CID,
    ])
    .await;
    assert_eq!(code, 2, "second address answered");

    // local problems: stderr, exit 1, nothing sent
    let n = fake.requests().len();
    // a /p2p/ host on a port nobody listens on: the libp2p tunnel cannot connect
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p2p_host = format!("/ip4/127.0.0.1/tcp/{closed}/p2p/{P1}");
    let cases: Vec<(Vec<&str>, &str, i32)> = vec![
        (
            vec!["--enc", "yaml", "id"],
            "error : unsupported encoding\n",
            1,
        ),
        (
            vec!["--host", "nonsense", "id"],
            "error parsing host multiaddress: ",
            1,
        ),
        (
            vec!["--host", &p2p_host, "id"],
            "error creating API client: cannot connect to /ip4/127.0.0.1/tcp/",
            1,
        ),
        (
            vec!["--secret", "abc", "id"],
            "error parsing secret: encoding/hex: odd length hex string\n",
            1,
        ),
        (
            vec!["status", "--filter", "bogus"],
            "error parsing filter flag: invalid filter name\n",
            1,
        ),
        (vec!["status", "notacid"], "error parsing cid: ", 1),
        (
            vec!["pin", "add", "--allocs", "x", CID],
            "error decoding allocations: some peer IDs could not be decoded\n",
            1,
        ),
        (
            vec!["pin", "add", "--expire-in", "soon", CID],
            "error parsing expire-in: time: invalid duration \"soon\"\n",
            1,
        ),
        (
            vec!["pin", "add", "--metadata", "novalue", CID],
            "error parsing metadata: metadata were not in the format key=value\n",
            1,
        ),
        (vec!["pin", "add", "/bad/path"], "error : invalid path", 1),
        (
            vec!["pin", "update", "nocid", CID],
            "error parsing from Cid: ",
            1,
        ),
        (vec!["peers", "rm", "nopeer"], "error parsing peer ID: ", 1),
        (vec!["add"], "error : need at least one path\n", 1),
        (
            vec!["add", "/nonexistent/file"],
            "error : lstat /nonexistent/file: no such file or directory\n",
            1,
        ),
        (
            vec!["add", "-w", "--format", "car", "x"],
            "error : only a single CAR file can be added and wrap-with-directory is not supported\n",
            1,
        ),
        (vec!["nosuchcmd"], "No help topic for 'nosuchcmd'\n", 3),
        (vec!["pin", "nosuch"], "No help topic for 'nosuch'\n", 3),
        (vec!["id", "--nope"], "Incorrect Usage: ", 1),
    ];
    for (args, expect_err, expect_code) in cases {
        let full: Vec<&str> = if args[0] == "--host" {
            args.clone()
        } else {
            [vec!["--host", h.as_str()], args.clone()].concat()
        };
        let (code, out, err) = ctl(&full).await;
        assert_eq!(code, expect_code, "{args:?}: {out} {err}");
        assert!(err.starts_with(expect_err), "{args:?}: {err:?}");
        assert_eq!(out, "", "{args:?}");
    }
    assert_eq!(fake.requests().len(), n, "no request for local errors");
}

trait IntoStatic {
    fn into_static(self) -> (&'static str, Vec<Canned>);
}
impl IntoStatic for (String, Vec<Canned>) {
    fn into_static(self) -> (&'static str, Vec<Canned>) {
        (Box::leak(self.0.into_boxed_str()), self.1)
    }
}

#[tokio::test]
async fn timeout_inside_a_stream_is_a_deadline() {
    let line = format!("{}\n", id_json(P1, "a"));
    let slow = Canned {
        gap: Duration::from_millis(2500),
        ..stream_answer(&[&line, &line], "")
    };
    let fake = Fake::start(vec![("GET /peers", vec![slow])]).await;
    let (code, out, err) = ctl(&["--host", &fake.host(), "-t", "1", "peers", "ls"]).await;
    assert_eq!(out, id_text(P1, "a"));
    assert_eq!(
        err,
        "error : context deadline exceeded (Client.Timeout or context cancellation while reading body)\n"
    );
    assert_eq!(code, 62);
}

#[tokio::test]
async fn timeouts_exit_like_go() {
    let slow = Canned {
        delay: Duration::from_millis(2500),
        ..json_answer(200, r#"{"version":"1.1.6"}"#)
    };
    let fake = Fake::start(vec![("GET /version", vec![slow])]).await;
    let (code, out, _) = ctl(&["--host", &fake.host(), "--timeout", "1", "version"]).await;
    assert_eq!(code, 1);
    assert!(
        out.ends_with("/version\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)\n"),
        "{out}"
    );
}

#[tokio::test]
async fn pin_add_rm_update_and_wait() {
    let pinned_later = vec![
        json_answer(200, &gpi_json(CID, "pinning")),
        json_answer(200, &gpi_json(CID, "pinned")),
    ];
    let fake = Fake::start(vec![
        (
            "POST /pins/ipfs/".to_string() + CID,
            vec![json_answer(200, &pin_json(CID, 1))],
        )
            .into_static(),
        (
            "DELETE /pins/ipfs/".to_string() + CID,
            vec![json_answer(200, &pin_json(CID, 1))],
        )
            .into_static(),
        (
            "POST /pins/ipfs/".to_string() + CID2,
            vec![json_answer(200, &pin_json(CID2, 1))],
        )
            .into_static(),
        ("GET /pins/".to_string() + CID, pinned_later).into_static(),
        (
            "GET /pins/".to_string() + CID2,
            vec![json_answer(200, &gpi_json(CID2, "pin_error"))],
        )
            .into_static(),
    ])
    .await;
    let h = fake.host();
    let (code, out, err) = ctl(&[
        "--host",
        &h,
        "pin",
        "add",
        "--no-status",
        "--rmin",
        "1",
        "--rmax",
        "2",
        "-n",
        "x y",
        "--metadata",
        "k=v",
        "--allocs",
        &format!("{P1}, {P2}"),
        CID,
    ])
    .await;
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.starts_with(&format!(
            "{CID} | x | PIN | Repl. Factor: 1--1 | Allocations: [{P1}] | Recursive"
        )),
        "{out}"
    );
    let r = &fake.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", format!("/pins/ipfs/{CID}").as_str())
    );
    assert_eq!(
        r.query,
        format!(
            "meta-k=v&mode=recursive&name=x+y&replication-max=2&replication-min=1&shard-size=0&user-allocations={P1}%2C{P2}"
        )
    );

    // --wait: polls every second until pinned (limit = the pin's replication_factor_min)
    let started = std::time::Instant::now();
    let (code, out, err) = ctl(&["--host", &h, "pin", "add", "--wait", "--wt", "10s", CID]).await;
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, gpi_text(CID, "pinned"));
    assert!(started.elapsed() >= Duration::from_secs(2));
    let polls = fake.requests().iter().filter(|r| r.method == "GET").count();
    assert_eq!(polls, 2);

    // the wait gives up at --wait-timeout with Go's deadline exit code
    let (code, out, err) = ctl(&["--host", &h, "pin", "rm", "-w", "--wt", "1500ms", CID]).await;
    assert_eq!((code, out.as_str()), (62, ""));
    assert_eq!(
        err,
        "error waiting for pin status: context deadline exceeded\n"
    );

    // an error status stops the wait
    let (code, _, err) = ctl(&["--host", &h, "pin", "update", "--wait", CID, CID2]).await;
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "error waiting for pin status: error has occurred while attempting to reach status: pinned\n"
    );
    let upd = fake
        .requests()
        .into_iter()
        .find(|r| r.path == format!("/pins/ipfs/{CID2}"))
        .unwrap();
    assert!(
        upd.query.contains(&format!("pin-update={CID}")),
        "{}",
        upd.query
    );

    // without --wait: one second, then the status
    let (code, out, _) = ctl(&["--host", &h, "--enc", "json", "pin", "rm", CID]).await;
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!(
            "{{\n    \"cid\": \"{CID}\",\n    \"name\": \"n\",\n"
        )),
        "{out}"
    );
    assert!(out.contains("\"origins\": [],"), "{out}");
}

#[tokio::test]
async fn add_uploads_go_ipfs_files_multipart() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("d");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("a.txt"), "hello").unwrap();
    std::fs::write(root.join("big"), vec![7u8; 700_000]).unwrap();
    let added = format!(
        "{{\"name\":\"d/a.txt\",\"cid\":\"{CID2}\",\"size\":13}}\n{{\"name\":\"d\",\"cid\":\"{CID}\",\"bytes\":5,\"allocations\":[\"{P1}\"]}}\n"
    );
    let fake = Fake::start(vec![
        ("POST /add", vec![stream_answer(&[&added], "")]),
        (
            "GET /allocations/".to_string() + CID,
            vec![json_answer(200, &pin_json(CID, 1))],
        )
            .into_static(),
        (
            "GET /pins/".to_string() + CID,
            vec![json_answer(200, &gpi_json(CID, "pinned"))],
        )
            .into_static(),
    ])
    .await;
    let h = fake.host();
    let roots = root.to_string_lossy().into_owned();
    let (code, out, err) = ctl(&[
        "--host",
        &h,
        "add",
        "-r",
        "--name",
        "nm",
        "--rmin",
        "2",
        "--cid-version",
        "1",
        &roots,
    ])
    .await;
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, format!("added {CID2} d/a.txt\nadded {CID} d\n"));

    let r = &fake.requests()[0];
    assert_eq!(r.path, "/add");
    assert_eq!(
        r.query,
        "chunker=size-262144&cid-version=1&format=unixfs&hash=sha2-256&hidden=false&layout=&local=false&mode=recursive\
         &name=nm&no-pin=false&nocopy=false&progress=false&raw-leaves=true&recursive=true&replication-max=0\
         &replication-min=2&shard=false&shard-size=104857600&stream-channels=true&user-allocations=&wrap-with-directory=false"
    );
    assert_eq!(r.headers["transfer-encoding"], "chunked");
    let ct = r.headers["content-type"].to_str().unwrap();
    let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
    assert_eq!(boundary.len(), 60);
    let params = AddParams {
        recursive: true,
        ..Default::default()
    };
    let expected = MultipartUpload::new(&[AddSource::Path(root.clone())], &params)
        .unwrap()
        .with_boundary(boundary)
        .to_bytes()
        .unwrap();
    assert_eq!(r.body.len(), expected.len());
    assert!(r.body == expected, "uploaded body differs");

    // quiet variants, --no-stream, JSON, and --wait on the last CID
    let (_, out, _) = ctl(&["--host", &h, "add", "-q", "-r", &roots]).await;
    assert_eq!(out, format!("{CID2}\n{CID}\n"));
    let (_, out, _) = ctl(&["--host", &h, "add", "-Q", "-r", &roots]).await;
    assert_eq!(out, format!("{CID}\n"));
    let (_, out, _) = ctl(&[
        "--host",
        &h,
        "--enc",
        "json",
        "add",
        "--no-stream",
        "-r",
        &roots,
    ])
    .await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert!(
        out.starts_with("[\n    {\n        \"name\": \"d/a.txt\",\n"),
        "{out}"
    );
    let (code, out, err) = ctl(&["--host", &h, "add", "-Q", "--wait", "-r", &roots]).await;
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, format!("{CID}\n").as_str(), "")
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path == format!("/allocations/{CID}"))
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path == format!("/pins/{CID}"))
    );

    // several paths imply wrap-with-directory
    let f = root.join("a.txt").to_string_lossy().into_owned();
    let (code, _, _) = ctl(&["--host", &h, "add", &f, &f]).await;
    assert_eq!(code, 0);
    assert!(
        fake.requests()
            .last()
            .unwrap()
            .query
            .contains("wrap-with-directory=true")
    );
}

#[tokio::test]
async fn other_commands_print_like_go() {
    let now_ns = crate::types::Timestamp::now().unix_nanos();
    let metric = format!(
        r#"[{{"name":"freespace","peer":"{P1}","value":"5000","expire":{},"valid":true,"weight":5000,"partitionable":false,"received_at":0}}]"#,
        now_ns + 30_500_000_000
    );
    let gc = format!(
        r#"{{"peer_map":{{"{P1}":{{"peer":"{P1}","peername":"p1","keys":[{{"key":"{CID}"}}]}}}}}}"#
    );
    let fake = Fake::start(vec![
        ("GET /monitor/metrics", vec![json_answer(200, r#"["ping","freespace"]"#)]),
        ("GET /monitor/metrics/freespace", vec![json_answer(200, &metric)]),
        ("POST /ipfs/gc", vec![json_answer(200, &gc)]),
        ("GET /version", vec![json_answer(200, r#"{"version":"1.1.6"}"#)]),
        ("GET /health/alerts", vec![json_answer(200, "null")]),
        ("DELETE /peers/".to_string() + P2, vec![Canned { status: 204, chunks: vec![], trailer: None, delay: Duration::ZERO, gap: Duration::ZERO }]).into_static(),
        ("GET /health/graph", vec![json_answer(200, &format!(r#"{{"cluster_id":"{P1}","cluster_links":{{"{P1}":[]}},"cluster_to_ipfs":{{}},"ipfs_links":null}}"#))]),
    ])
    .await;
    let h = fake.host();
    assert_eq!(
        ctl(&["--host", &h, "health", "metrics"]).await.1,
        "ping\nfreespace\n"
    );
    assert_eq!(
        ctl(&["--host", &h, "health", "metrics", "freespace"])
            .await
            .1,
        format!("{P1} | freespace: 5.0 kB | Expires in: 30 seconds from now\n")
    );
    assert_eq!(
        ctl(&["--host", &h, "ipfs", "gc", "--local"]).await.1,
        format!("p1{}\n  > CIDs:\n    - {CID}\n", " ".repeat(13))
    );
    assert_eq!(ctl(&["--host", &h, "version"]).await.1, "1.1.6\n");
    assert_eq!(
        ctl(&["--host", &h, "--enc", "json", "version"]).await.1,
        "{\n    \"version\": \"1.1.6\"\n}\n"
    );
    assert_eq!(
        ctl(&["--host", &h, "health", "alerts"]).await,
        (0, String::new(), String::new())
    );
    assert_eq!(
        ctl(&["--host", &h, "--enc", "json", "health", "alerts"])
            .await
            .1,
        "[]\n"
    );
    assert_eq!(
        ctl(&["--host", &h, "peers", "rm", P2]).await,
        (0, String::new(), String::new())
    );
    let (code, out, _) = ctl(&["--host", &h, "health", "graph"]).await;
    assert_eq!(code, 0);
    assert!(
        out.starts_with("digraph cluster {\n") && out.contains("C0 [label=") && out.ends_with("}"),
        "{out}"
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("g.dot");
    let (code, out, _) = ctl(&["--host", &h, "health", "graph", "-f", f.to_str().unwrap()]).await;
    assert_eq!((code, out.as_str()), (0, ""));
    assert!(
        std::fs::read_to_string(&f)
            .unwrap()
            .starts_with("digraph cluster {")
    );
    let gc_req = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/ipfs/gc")
        .unwrap();
    assert_eq!(
        (gc_req.method.as_str(), gc_req.query.as_str()),
        ("POST", "local=true")
    );
}

#[tokio::test]
async fn commands_help_and_version() {
    let (code, out, _) = ctl(&["commands"]).await;
    assert_eq!(code, 0);
    let expected = [
        "id",
        "peers",
        "peers ls",
        "peers rm",
        "add",
        "pin",
        "pin add",
        "pin rm",
        "pin update",
        "pin ls",
        "status",
        "recover",
        "version",
        "health",
        "health graph",
        "health metrics",
        "health alerts",
        "health bandwidth",
        "ipfs",
        "ipfs gc",
        "commands",
        "help",
    ]
    .iter()
    .map(|c| format!("ipfs-cluster-ctl {c}\n"))
    .collect::<String>();
    assert_eq!(out, expected);
    assert_eq!(
        ctl(&["-v"]).await,
        (
            0,
            format!(
                "ipfs-cluster-ctl {} (IPFS Cluster API {})\n",
                env!("CARGO_PKG_VERSION"),
                crate::types::API_VERSION
            ),
            String::new()
        )
    );
    let (code, out, _) = ctl(&[]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("Usage: ipfs-cluster-ctl [OPTIONS] [command]"),
        "{out}"
    );
    let (code, out, _) = ctl(&["h", "pin"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("Pin and unpin and list items in IPFS Cluster"),
        "{out}"
    );
    let (code, out, _) = ctl(&["pin"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("ls"), "{out}");
    let (code, out, _) = ctl(&["pin", "add", "--help"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("--replication-min <REPLICATION_MIN>"), "{out}");
}
