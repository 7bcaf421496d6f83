//! Black-box test of a single Pinfold peer's REST API (IPFS Cluster v1.1.6's, reference
//! §1), over real HTTP against `pinfold daemon`, checking the embedded IPFS node through its
//! Kubo RPC API.
//!
//! Each test runs its own peer (`pinfold init --randomports` in a temporary folder, so its
//! own ports), waits by polling with deadlines, never by fixed sleeps.
//!
//! Assumed daemon behaviour (documented, not yet observed when this was written):
//! * `pinfold init --randomports -c DIR` exits 0; service.json carries
//!   `api.restapi.http_listen_multiaddress` and `ipfs_node.embedded.api_listen_multiaddress`;
//!   identity.json carries `id`.
//! * `pinfold daemon -c DIR` prints `** IPFS Cluster is READY **` when it serves (and, if it
//!   prints `REST API listening on <multiaddr>`, that is the configured address).
//! * Handler chain as in Go: unknown path → 404 `{"code":404,"message":"not found"}`; known
//!   path, wrong method → 405 with an empty body; trailing slash → 307 to the path without
//!   it; headers over `max_header_bytes` (4096; Go allows +4 KiB slack) → 431.
//! * Every answer has `Content-Type: application/json`; errors are `{"code","message"}`
//!   with `code` = the status; bad CIDs → 400 `error decoding Cid: …`; bad pin options →
//!   400 (and, unlike Go's `ParseCidOrFail`, nothing is pinned).
//! * Streams (`/peers`, `/allocations`, `/pins`, `/pins/recover`) are NDJSON with
//!   `Trailer: X-Stream-Error`, the trailer sent empty after a good stream when the client
//!   sends `TE: trailers`; an empty stream is 204.
//! * A pin reaches `pinned` once the embedded node pins the DAG (`pin/ls` shows it, `direct`
//!   for `mode=direct` on both `/pins/{cid}` and `/pins/ipfs/{cid}` — Go stores the former as
//!   recursive, a bug Pinfold does not copy); a CID whose blocks are nowhere ends in
//!   `pin_error` (here with `pin_timeout` 3 s); a pin removed behind the cluster's back shows
//!   `unexpectedly_unpinned` until `POST /pins/{cid}/recover`.
//! * `expire-in` pins are removed by the state sync (`state_sync_interval`).
//! * `/add` builds the DAG with Kubo's CIDs; `stream-channels=false` answers one JSON array.
//!
//! ```text
//! cargo test -p pinfold --test all cluster_rest::
//! ```

use crate::support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::cluster::{ClusterPeer, HttpResponse, Part, multipart, random_cid, unique_blocks};

/// Time for a pin of local blocks to reach `pinned`.
const PIN_DEADLINE: Duration = Duration::from_secs(60);

const HELLO_V0: &str = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD";
const HELLO_V1_RAW: &str = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";
const PLANETS: &str = "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY";
const MARS: &str = "QmPrrHqJzto9m7SyiRzarwkqPcCSsKR2EB1AyqJfe8L8tN";
const HELLO_WORLDS: &str = "QmVr26fY1tKyspEJBniVhqxQeEjhF78XerGiqWAwraVLQH";

fn assert_json_content_type(r: &HttpResponse) {
    let ct = r.header("content-type").unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "expected Content-Type: application/json: {}",
        r.describe()
    );
}

fn assert_status(r: &HttpResponse, status: u16) {
    assert_eq!(r.status, status, "{}", r.describe());
}

/// An error answer: status, JSON content type, `code` = status; returns the message.
fn assert_error(r: &HttpResponse, status: u16) -> String {
    assert_status(r, status);
    assert_json_content_type(r);
    r.error_message()
}

/// A good stream asked with `TE: trailers`: 200, NDJSON, `Trailer: X-Stream-Error` announced
/// and sent empty.
fn assert_good_stream(r: &HttpResponse) -> Vec<Value> {
    assert_status(r, 200);
    assert_json_content_type(r);
    let announced = r.header_all("trailer").join(",").to_ascii_lowercase();
    assert!(
        announced.contains("x-stream-error"),
        "no `Trailer: X-Stream-Error` header: {}",
        r.describe()
    );
    assert!(r.chunked, "a stream is sent chunked: {}", r.describe());
    assert_eq!(
        r.trailer("x-stream-error"),
        Some(""),
        "a good stream ends with an empty X-Stream-Error trailer: {}",
        r.describe()
    );
    r.ndjson()
}

fn get_trailers(peer: &ClusterPeer, method: &str, path: &str) -> HttpResponse {
    peer.request(method, path, &[("TE", "trailers")], None)
}

fn cids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|v| v["cid"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn http_semantics_errors_and_info_routes() {
    let peer = ClusterPeer::start_default();
    let me = peer.peer_id().to_string();

    if let Some(line) = peer.listen_line() {
        assert_eq!(
            line,
            peer.rest_multiaddr(),
            "`REST API listening on` names another address than service.json"
        );
    }

    // --- /id, /version, /peers, /health
    let r = peer.get("/id");
    assert_status(&r, 200);
    assert_json_content_type(&r);
    let id = r.json();
    assert_eq!(id["id"], me.as_str(), "{id:#}");
    assert_eq!(id["error"], "", "{id:#}");
    assert_eq!(id["ipfs"]["error"], "", "{id:#}");
    assert!(
        id["ipfs"]["id"].as_str().is_some_and(|s| !s.is_empty()),
        "the embedded node's ID is reported: {id:#}"
    );
    assert!(
        id["cluster_peers"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p == me.as_str())),
        "cluster_peers lists the peer itself: {id:#}"
    );
    assert_eq!(id["peername"], peer.peername(), "{id:#}");
    for key in [
        "addresses",
        "cluster_peers_addresses",
        "rpc_protocol_version",
        "commit",
    ] {
        assert!(id.get(key).is_some(), "/id has no {key:?}: {id:#}");
    }

    let version = peer.json_ok("GET", "/version");
    let v = version["version"]
        .as_str()
        .unwrap_or_else(|| panic!("/version: {version}"));
    assert!(!v.is_empty());
    assert_eq!(id["version"], v, "/id and /version agree");

    let peers = assert_good_stream(&get_trailers(&peer, "GET", "/peers"));
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers[0]["id"], me.as_str());

    let r = peer.get("/health");
    assert_status(&r, 204);
    assert!(r.body.is_empty());

    // --- empty streams: 204 (Content-Type still JSON)
    for (method, path) in [
        ("GET", "/pins"),
        ("GET", "/pins?filter=pinned"),
        ("GET", "/pins?filter=invalidxx,pinned"),
        ("GET", "/pins?local=true"),
        ("GET", "/allocations"),
        ("GET", "/allocations?filter=pin,meta-pin"),
        ("POST", "/pins/recover"),
        ("POST", "/pins/recover?local=true"),
    ] {
        let r = get_trailers(&peer, method, path);
        assert_status(&r, 204);
        assert!(r.body.is_empty(), "{}", r.describe());
        assert_json_content_type(&r);
    }
    assert_eq!(
        assert_error(&peer.get("/pins?filter=invalidxx"), 400),
        "invalid filter value"
    );
    assert_eq!(
        assert_error(&peer.get("/allocations?filter=bogus"), 400),
        "invalid filter value"
    );

    // --- unknown path, wrong method, trailing slash, oversized header
    for path in ["/nonexistent", "/api/v0/version", "/pins/a/b/c"] {
        let r = peer.get(path);
        assert_status(&r, 404);
        assert_json_content_type(&r);
        assert_eq!(
            r.json(),
            json!({"code": 404, "message": "not found"}),
            "{path}"
        );
    }
    let some_cid = random_cid();
    for (method, path) in [
        ("PUT", format!("/pins/{some_cid}")),
        ("DELETE", "/version".to_string()),
        ("POST", "/id".to_string()),
        ("DELETE", "/health".to_string()),
        ("PATCH", "/allocations".to_string()),
    ] {
        let r = peer.request(method, &path, &[], None);
        assert_status(&r, 405);
        assert!(
            r.body.is_empty(),
            "405 has an empty body, as gorilla/mux: {}",
            r.describe()
        );
    }
    for (method, path, target) in [
        ("GET", "/id/".to_string(), "/id".to_string()),
        ("GET", "/pins/".to_string(), "/pins".to_string()),
        (
            "POST",
            format!("/pins/{some_cid}/"),
            format!("/pins/{some_cid}"),
        ),
    ] {
        let r = peer.request(method, &path, &[], None);
        assert_status(&r, 307);
        let location = r.header("location").unwrap_or_default();
        let location_path = location
            .split_once("://")
            .map(|(_, rest)| rest.find('/').map(|i| &rest[i..]).unwrap_or("/"))
            .unwrap_or(location);
        assert_eq!(location_path, target, "{}", r.describe());
    }
    assert!(
        peer.allocations().is_empty(),
        "a 307 redirect must not pin anything"
    );
    let big = "x".repeat(32 * 1024);
    let r = peer.request("GET", "/id", &[("X-Oversized", &big)], None);
    assert_status(&r, 431);
    // the server survives it
    assert_status(&peer.get("/id"), 200);

    // --- bad CIDs: 400 "error decoding Cid: …" on every {hash} route
    for (method, path) in [
        ("GET", "/pins/notacid"),
        ("POST", "/pins/notacid"),
        ("DELETE", "/pins/notacid"),
        ("GET", "/allocations/notacid"),
        ("POST", "/pins/notacid/recover"),
        ("POST", "/pins/Qmbad?name=x"),
    ] {
        let r = peer.request(method, path, &[], None);
        let msg = assert_error(&r, 400);
        assert!(
            msg.starts_with("error decoding Cid"),
            "{method} {path}: {msg:?}"
        );
    }

    // --- bad pin options: 400, and nothing gets pinned
    for (query, expected) in [
        (
            "replication-min=abc",
            Some("parameter replication-min invalid"),
        ),
        ("replication=two", Some("parameter replication invalid")),
        ("shard-size=-1", Some("parameter shard_size is invalid")),
        ("expire-in=10ms", None),
        ("expire-at=notatime", None),
        ("origins=/ip4/1.2.3.4/tcp/1", None),
        ("pin-update=notacid", None),
    ] {
        let r = peer.post(&format!("/pins/{some_cid}?{query}"));
        let msg = assert_error(&r, 400);
        if let Some(expected) = expected {
            assert_eq!(msg, expected, "{query}");
        }
        assert!(!msg.is_empty(), "{query}: empty message");
    }
    assert!(
        peer.allocations().is_empty(),
        "a request answered 400 must not pin: {:?}",
        peer.allocations()
    );

    // --- a CID the cluster does not know
    let unknown = random_cid();
    let g = peer.status(&unknown);
    assert_eq!(g["cid"], unknown.as_str(), "{g:#}");
    assert_eq!(g["peer_map"][&me]["status"], "unpinned", "{g:#}");
    let g = peer.json_ok("GET", &format!("/pins/{unknown}?local=true"));
    assert_eq!(
        g["peer_map"].as_object().map(|m| m.len()),
        Some(1),
        "local=true: one peer_map entry: {g:#}"
    );
    assert_error(&peer.get(&format!("/allocations/{unknown}")), 404);
    assert_error(&peer.delete(&format!("/pins/{unknown}")), 404);
    assert_error(&peer.delete(&format!("/pins/ipfs/{unknown}")), 404);

    // --- metrics: the informers publish soon after the start
    let start = Instant::now();
    let names = loop {
        let names = peer.json_ok("GET", "/monitor/metrics");
        let list = names
            .as_array()
            .unwrap_or_else(|| panic!("/monitor/metrics is not an array: {names}"));
        assert!(list.iter().all(Value::is_string), "{names}");
        if list.iter().any(|n| n == "freespace") {
            break names;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no freespace metric after 60 s: {names}\n{}",
            peer.output_tail()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let freespace = peer.json_ok("GET", "/monitor/metrics/freespace");
    let list = freespace
        .as_array()
        .unwrap_or_else(|| panic!("/monitor/metrics/freespace: {freespace}"));
    assert_eq!(
        list.len(),
        1,
        "one peer, one metric: {freespace:#} ({names})"
    );
    assert_eq!(list[0]["name"], "freespace");
    assert_eq!(list[0]["peer"], me.as_str());
    assert_eq!(list[0]["valid"], true);
    assert!(list[0]["expire"].as_i64().is_some_and(|e| e > 0));
}

#[test]
fn pin_status_unpin_and_gc_through_the_embedded_node() {
    let peer = ClusterPeer::start_default();
    let me = peer.peer_id().to_string();
    let blocks = unique_blocks("rest-pin", 4);
    let cids: Vec<String> = blocks.iter().map(|b| peer.ipfs_block_put(b)).collect();
    let (a, b, c, d) = (&cids[0], &cids[1], &cids[2], &cids[3]);

    // --- recursive pin with a name and metadata
    let r = peer.post(&format!(
        "/pins/{a}?name=first&meta-kind=text&meta-app=pinfold"
    ));
    assert_status(&r, 200);
    assert_json_content_type(&r);
    let pin = r.json();
    assert_eq!(pin["cid"], a.as_str(), "{pin:#}");
    assert_eq!(pin["name"], "first");
    assert_eq!(pin["type"], "pin");
    assert_eq!(pin["mode"], "recursive");
    assert_eq!(pin["max_depth"], -1);
    assert_eq!(pin["metadata"], json!({"app": "pinfold", "kind": "text"}));
    assert_eq!(pin["expire_at"], "0001-01-01T00:00:00Z");
    for key in [
        "replication_factor_min",
        "replication_factor_max",
        "shard_size",
        "user_allocations",
        "pin_update",
        "origins",
        "allocations",
        "reference",
        "timestamp",
    ] {
        assert!(pin.get(key).is_some(), "the Pin has no {key:?}: {pin:#}");
    }

    let g = peer.wait_status(a, "pinned", PIN_DEADLINE);
    assert_eq!(g["cid"], a.as_str());
    assert_eq!(g["name"], "first");
    let info = &g["peer_map"][&me];
    assert_eq!(info["error"], "", "{g:#}");
    assert!(info.get("timestamp").is_some() && info.get("peername").is_some());
    assert_eq!(peer.ipfs_pin_type(a).as_deref(), Some("recursive"));
    assert!(peer.ipfs_pins_of_type("recursive").contains(a));

    let alloc = peer.json_ok("GET", &format!("/allocations/{a}"));
    assert_eq!(alloc["cid"], a.as_str());
    assert_eq!(alloc["name"], "first");
    assert_eq!(alloc["metadata"]["kind"], "text");

    // streams with items, and their trailer
    let items = assert_good_stream(&get_trailers(&peer, "GET", "/allocations"));
    assert_eq!(cids_of(&items), vec![a.clone()]);
    let items = assert_good_stream(&get_trailers(&peer, "GET", "/allocations?filter=pin"));
    assert_eq!(cids_of(&items), vec![a.clone()]);
    let items = assert_good_stream(&get_trailers(&peer, "GET", "/pins"));
    assert_eq!(cids_of(&items), vec![a.clone()]);
    assert_eq!(items[0]["peer_map"][&me]["status"], "pinned");
    let items = assert_good_stream(&get_trailers(&peer, "GET", "/pins?filter=pinned"));
    assert_eq!(cids_of(&items), vec![a.clone()]);
    let r = get_trailers(&peer, "GET", "/pins?filter=pin_error,queued");
    assert_status(&r, 204);
    let items = assert_good_stream(&get_trailers(&peer, "GET", &format!("/pins?cids={a},{d}")));
    let mut got = cids_of(&items);
    got.sort();
    let mut want = vec![a.clone(), d.clone()];
    want.sort();
    assert_eq!(got, want, "one GlobalPinInfo per requested CID");
    for item in &items {
        let expected = if item["cid"] == a.as_str() {
            "pinned"
        } else {
            "unpinned"
        };
        assert_eq!(item["peer_map"][&me]["status"], expected, "{item:#}");
    }
    let g = peer.json_ok("GET", &format!("/pins/{a}?local=true"));
    assert_eq!(g["peer_map"].as_object().map(|m| m.len()), Some(1));
    assert_eq!(g["peer_map"][&me]["status"], "pinned");
    // nothing to recover: an empty stream
    assert_status(&peer.post("/pins/recover"), 204);

    // re-pinning is accepted and keeps the pin
    assert_status(
        &peer.post(&format!(
            "/pins/{a}?name=first&meta-kind=text&meta-app=pinfold"
        )),
        200,
    );
    assert_eq!(peer.allocated_cids(), vec![a.clone()]);

    // --- mode=direct, on the CID route and on the path route
    let pin = peer.json_ok("POST", &format!("/pins/{b}?mode=direct"));
    assert_eq!(pin["mode"], "direct", "{pin:#}");
    assert_eq!(pin["max_depth"], 0, "{pin:#}");
    peer.wait_status(b, "pinned", PIN_DEADLINE);
    assert_eq!(peer.ipfs_pin_type(b).as_deref(), Some("direct"));
    assert!(peer.ipfs_pins_of_type("direct").contains(b));
    assert_eq!(
        peer.json_ok("GET", &format!("/allocations/{b}"))["mode"],
        "direct"
    );

    let pin = peer.json_ok("POST", &format!("/pins/ipfs/{c}?mode=direct&name=by-path"));
    assert_eq!(pin["cid"], c.as_str(), "{pin:#}");
    assert_eq!(pin["mode"], "direct");
    assert_eq!(pin["name"], "by-path");
    peer.wait_status(c, "pinned", PIN_DEADLINE);
    assert_eq!(peer.ipfs_pin_type(c).as_deref(), Some("direct"));

    // --- GC through the cluster: removes the unpinned block d, keeps the pinned ones
    let r = peer.post("/ipfs/gc");
    assert_status(&r, 200);
    let gc = r.json();
    let mine = &gc["peer_map"][&me];
    assert_eq!(mine["peer"], me.as_str(), "{gc:#}");
    let keys: Vec<&str> = mine["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("no keys in {gc:#}"))
        .iter()
        .filter_map(|k| k["key"].as_str())
        .collect();
    assert!(keys.contains(&d.as_str()), "GC removed {d}: {gc:#}");
    for kept in [a, b, c] {
        assert!(
            !keys.contains(&kept.as_str()),
            "GC removed pinned {kept}: {gc:#}"
        );
        assert_status(
            &peer.ipfs(&format!("block/stat?arg={kept}&offline=true"), None),
            200,
        );
    }
    assert_ne!(
        peer.ipfs(&format!("block/stat?arg={d}&offline=true"), None)
            .status,
        200,
        "{d} is gone after GC"
    );
    let gc = peer.json_ok("POST", "/ipfs/gc?local=true");
    assert_eq!(
        gc["peer_map"].as_object().map(|m| m.len()),
        Some(1),
        "{gc:#}"
    );

    // --- unpin
    let r = peer.delete(&format!("/pins/{a}"));
    assert_status(&r, 200);
    assert_eq!(r.json()["cid"], a.as_str());
    peer.wait_status(a, "unpinned", PIN_DEADLINE);
    let start = Instant::now();
    while peer.ipfs_pin_type(a).is_some() {
        assert!(
            start.elapsed() < PIN_DEADLINE,
            "the embedded node still pins {a}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_error(&peer.get(&format!("/allocations/{a}")), 404);
    assert_error(&peer.delete(&format!("/pins/{a}")), 404);

    let r = peer.delete(&format!("/pins/ipfs/{c}"));
    assert_status(&r, 200);
    assert_eq!(r.json()["cid"], c.as_str());
    peer.wait_status(c, "unpinned", PIN_DEADLINE);

    assert_eq!(peer.allocated_cids(), vec![b.clone()]);
}

#[test]
fn add_multipart_pins_with_kubo_cids() {
    let peer = ClusterPeer::start_default();
    let me = peer.peer_id().to_string();

    // default: streaming NDJSON
    let (ctype, body) = multipart(&[Part::file("file", "hello.txt", b"hello world")]);
    let r = peer.request("POST", "/add", &[("TE", "trailers")], Some((&ctype, &body)));
    assert_status(&r, 200);
    assert_json_content_type(&r);
    let out = r.ndjson();
    assert_eq!(out.len(), 1, "{}", r.describe());
    assert_eq!(out[0]["cid"], HELLO_V0, "{}", r.describe());
    assert_eq!(out[0]["name"], "hello.txt");
    if r.chunked {
        assert_eq!(
            r.trailer("x-stream-error").unwrap_or(""),
            "",
            "{}",
            r.describe()
        );
    }
    let g = peer.wait_status(HELLO_V0, "pinned", PIN_DEADLINE);
    assert!(g["peer_map"][&me].is_object());
    assert_eq!(peer.ipfs_pin_type(HELLO_V0).as_deref(), Some("recursive"));
    let cat = peer.ipfs(&format!("cat?arg={HELLO_V0}"), None);
    assert_status(&cat, 200);
    assert_eq!(cat.body, b"hello world");

    // a directory
    let (ctype, body) = multipart(&[
        Part::dir("file", "planets"),
        Part::file("file", "planets/mars.txt", b"Hello Mars!\n"),
        Part::file("file", "planets/venus.txt", b"Hello Venus!\n"),
    ]);
    let r = peer.request("POST", "/add", &[], Some((&ctype, &body)));
    assert_status(&r, 200);
    let out = r.ndjson();
    let last = out.last().unwrap_or_else(|| panic!("{}", r.describe()));
    assert_eq!(last["cid"], PLANETS, "{}", r.describe());
    assert_eq!(last["name"], "planets");
    assert!(
        out.iter()
            .any(|o| o["cid"] == MARS && o["name"] == "planets/mars.txt"),
        "{}",
        r.describe()
    );
    peer.wait_status(PLANETS, "pinned", PIN_DEADLINE);
    assert_eq!(peer.ipfs_pin_type(PLANETS).as_deref(), Some("recursive"));
    let mars = peer.ipfs_pin_type(MARS).unwrap_or_default();
    assert!(
        mars.starts_with("indirect"),
        "only the root is pinned, recursively; mars.txt is {mars:?}"
    );

    // stream-channels=false: one JSON array
    let (ctype, body) = multipart(&[Part::file("file", "worlds.txt", b"Hello Worlds!\n")]);
    let r = peer.request(
        "POST",
        "/add?stream-channels=false&name=worlds&meta-source=test",
        &[],
        Some((&ctype, &body)),
    );
    assert_status(&r, 200);
    assert_json_content_type(&r);
    let arr = r.json();
    let arr = arr
        .as_array()
        .unwrap_or_else(|| panic!("stream-channels=false answers an array: {}", r.describe()));
    assert_eq!(arr.len(), 1);
    assert_eq!(arr[0]["cid"], HELLO_WORLDS);
    peer.wait_status(HELLO_WORLDS, "pinned", PIN_DEADLINE);
    let alloc = peer.json_ok("GET", &format!("/allocations/{HELLO_WORLDS}"));
    assert_eq!(alloc["name"], "worlds", "{alloc:#}");
    assert_eq!(alloc["metadata"]["source"], "test", "{alloc:#}");

    // CIDv1 with raw leaves
    let (ctype, body) = multipart(&[Part::file("file", "hello.txt", b"hello world")]);
    let r = peer.request(
        "POST",
        "/add?cid-version=1&raw-leaves=true&stream-channels=false",
        &[],
        Some((&ctype, &body)),
    );
    assert_status(&r, 200);
    assert_eq!(r.json()[0]["cid"], HELLO_V1_RAW, "{}", r.describe());
    peer.wait_status(HELLO_V1_RAW, "pinned", PIN_DEADLINE);

    // no-pin: added, not pinned
    let data = unique_blocks("add-no-pin", 1).remove(0);
    let (ctype, body) = multipart(&[Part::file("file", "nopin.txt", &data)]);
    let r = peer.request(
        "POST",
        "/add?no-pin=true&stream-channels=false",
        &[],
        Some((&ctype, &body)),
    );
    assert_status(&r, 200);
    let cid = r.json()[0]["cid"].as_str().unwrap_or_default().to_string();
    assert!(!cid.is_empty(), "{}", r.describe());
    assert_error(&peer.get(&format!("/allocations/{cid}")), 404);

    // bad input
    let r = peer.request("POST", "/add", &[], Some(("text/plain", b"hello")));
    assert_error(&r, 400);
    let (ctype, body) = multipart(&[Part::file("file", "x.txt", b"x")]);
    for query in ["layout=bogus", "format=bogus", "cid-version=x"] {
        let r = peer.request("POST", &format!("/add?{query}"), &[], Some((&ctype, &body)));
        assert_error(&r, 400);
    }

    let mut all = peer.allocated_cids();
    all.sort();
    let mut want = vec![
        HELLO_V0.to_string(),
        PLANETS.to_string(),
        HELLO_WORLDS.to_string(),
        HELLO_V1_RAW.to_string(),
    ];
    want.sort();
    assert_eq!(all, want);
}

#[test]
fn recover_after_the_node_lost_a_pin_and_pin_error_for_missing_blocks() {
    let peer = ClusterPeer::start_with(|cfg| {
        // no automatic recovery during the test; a short stall timeout for missing blocks
        cfg["cluster"]["pin_recover_interval"] = json!("1h0m0s");
        cfg["ipfs_connector"]["ipfshttp"]["pin_timeout"] = json!("3s");
    });
    let me = peer.peer_id().to_string();
    let cid = peer.ipfs_block_put(&unique_blocks("recover", 1)[0]);

    assert_status(&peer.post(&format!("/pins/{cid}")), 200);
    peer.wait_status(&cid, "pinned", PIN_DEADLINE);
    assert_eq!(peer.ipfs_pin_type(&cid).as_deref(), Some("recursive"));

    // the node loses the pin behind the cluster's back
    let r = peer.ipfs(&format!("pin/rm?arg={cid}"), None);
    assert_status(&r, 200);
    assert_eq!(peer.ipfs_pin_type(&cid), None);
    let g = peer.wait_status(&cid, "unexpectedly_unpinned", PIN_DEADLINE);
    assert!(
        g["peer_map"][&me]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "unexpectedly_unpinned carries an error text: {g:#}"
    );
    let items = assert_good_stream(&get_trailers(
        &peer,
        "GET",
        "/pins?filter=unexpectedly_unpinned",
    ));
    assert_eq!(cids_of(&items), vec![cid.clone()]);

    let r = peer.post(&format!("/pins/{cid}/recover"));
    assert_status(&r, 200);
    let g = r.json();
    assert_eq!(g["cid"], cid.as_str(), "{g:#}");
    assert!(g["peer_map"][&me].is_object(), "{g:#}");
    peer.wait_status(&cid, "pinned", PIN_DEADLINE);
    assert_eq!(peer.ipfs_pin_type(&cid).as_deref(), Some("recursive"));

    // a CID whose blocks are nowhere: never pinned, pin_error after the stall timeout
    let missing = random_cid();
    assert_status(&peer.post(&format!("/pins/{missing}")), 200);
    let start = Instant::now();
    let mut seen = Vec::new();
    let last = loop {
        let g = peer.status(&missing);
        let status = g["peer_map"][&me]["status"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        assert_ne!(status, "pinned", "{missing} has no blocks anywhere: {g:#}");
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "pin_error" {
            break g;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{missing} did not reach pin_error within 90 s (pin_timeout 3s); statuses seen \
             {seen:?}\n{}",
            peer.output_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        last["peer_map"][&me]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "pin_error carries an error text: {last:#}"
    );
    assert!(
        seen.iter()
            .all(|s| ["pin_queued", "pinning", "pin_error"].contains(&s.as_str())),
        "statuses of a failing pin: {seen:?}"
    );
    let items = assert_good_stream(&get_trailers(&peer, "GET", "/pins?filter=pin_error"));
    assert_eq!(cids_of(&items), vec![missing.clone()]);
    let items = assert_good_stream(&get_trailers(&peer, "GET", "/pins?filter=error"));
    assert_eq!(cids_of(&items), vec![missing.clone()]);

    // recover-all re-queues it (and only it)
    let items = assert_good_stream(&get_trailers(&peer, "POST", "/pins/recover"));
    assert_eq!(
        cids_of(&items),
        vec![missing.clone()],
        "only failed items are re-queued"
    );

    // unpinning a failed pin works
    assert_status(&peer.delete(&format!("/pins/{missing}")), 200);
    peer.wait_status(&missing, "unpinned", PIN_DEADLINE);
    assert_eq!(peer.allocated_cids(), vec![cid]);
}

#[test]
fn expired_pins_leave_the_state() {
    let peer = ClusterPeer::start_with(|cfg| {
        cfg["cluster"]["state_sync_interval"] = json!("1s");
    });
    let blocks = unique_blocks("expiry", 2);
    let expiring = peer.ipfs_block_put(&blocks[0]);
    let staying = peer.ipfs_block_put(&blocks[1]);

    let posted = Instant::now();
    let pin = peer.json_ok("POST", &format!("/pins/{expiring}?expire-in=2s"));
    assert_ne!(
        pin["expire_at"], "0001-01-01T00:00:00Z",
        "expire-in sets expire_at: {pin:#}"
    );
    assert_status(&peer.post(&format!("/pins/{staying}")), 200);
    assert!(peer.allocated_cids().contains(&expiring));

    let start = Instant::now();
    while peer.allocated_cids().contains(&expiring) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{expiring} (expire-in=2s, state_sync_interval 1s) still in /allocations after 60 s\n{}",
            peer.output_tail()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        posted.elapsed() >= Duration::from_secs(1),
        "expired too early (expire-in=2s)"
    );
    peer.wait_status(&expiring, "unpinned", PIN_DEADLINE);
    assert_eq!(peer.allocated_cids(), vec![staying.clone()]);
    peer.wait_status(&staying, "pinned", PIN_DEADLINE);
}
