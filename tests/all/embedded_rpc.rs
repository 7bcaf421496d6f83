//! The embedded node's Kubo RPC API over real HTTP, served in-process on 127.0.0.1:0: wire
//! behaviour, bad input, GC safety under concurrent adds, waits for missing blocks, and the
//! import → export round trip.

use crate::support;

use std::sync::Arc;

use pinfold::ipfs::node::{Node, NodeOptions};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

struct TestNode {
    url: String,
    http: reqwest::Client,
    node: Arc<Node>,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn start() -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(NodeOptions {
        repo: dir.path().join("repo"),
        storage_max: None,
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v0", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(pinfold::ipfs::api::serve(node.clone(), listener, async {
        let _ = stopped.await;
    }));
    TestNode {
        url,
        http: reqwest::Client::new(),
        node,
        _dir: dir,
        stop: Some(stop),
    }
}

impl TestNode {
    async fn post(&self, cmd: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/{cmd}", self.url))
            .send()
            .await
            .unwrap()
    }

    async fn json(&self, cmd: &str) -> Value {
        let r = self.post(cmd).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "{cmd}: {status} {text}");
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{cmd}: {e}: {text}"))
    }

    /// The message of an error answer, in either of Kubo's shapes: JSON
    /// `{"Message","Code","Type":"error"}` from commands, plain text from request parsing.
    async fn error(&self, cmd: &str, status: u16) -> String {
        let r = self.post(cmd).await;
        assert_eq!(r.status().as_u16(), status, "{cmd}");
        let json = r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json");
        let text = r.text().await.unwrap();
        if !json {
            return text.trim_end().to_string();
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["Type"], "error", "{v}");
        v["Message"].as_str().unwrap().to_string()
    }

    async fn add(&self, query: &str, form: Form) -> Vec<Value> {
        let r = self
            .http
            .post(format!("{}/add?{query}", self.url))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "add: {status} {text}");
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    async fn add_bytes(&self, data: Vec<u8>) -> String {
        let out = self
            .add(
                "",
                Form::new().part("file", Part::bytes(data).file_name("")),
            )
            .await;
        out.last().unwrap()["Hash"].as_str().unwrap().to_string()
    }

    async fn cat(&self, arg: &str) -> Vec<u8> {
        let r = self.post(&format!("cat?arg={arg}")).await;
        assert!(r.status().is_success(), "cat {arg}: {}", r.status());
        r.bytes().await.unwrap().to_vec()
    }

    async fn num_objects(&self) -> u64 {
        self.json("repo/stat").await["NumObjects"].as_u64().unwrap()
    }
}

#[tokio::test]
async fn wire_behaviour_matches_kubo() {
    let n = start().await;
    let v = n.json("version").await;
    assert!(v["Version"].is_string());
    let id = n.json("id").await;
    assert_eq!(id["ID"], n.node.peer_id().to_string());

    // unknown endpoint: 404; GET: 405
    assert_eq!(n.post("no/such/command").await.status().as_u16(), 404);
    let r = n
        .http
        .get(format!("{}/version", n.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(
        n.http
            .post(format!("{}/../../etc", n.url))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );

    // bools in every Kubo spelling; a bad one is a 400 with Kubo's error shape
    let hello = n.add_bytes(b"hello world".to_vec()).await;
    assert_eq!(hello, "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD");
    for t in ["true", "True", "1"] {
        n.json(&format!("pin/ls?arg={hello}&type=recursive&stream={t}"))
            .await;
    }
    let msg = n
        .error(&format!("pin/rm?arg={hello}&recursive=maybe"), 400)
        .await;
    assert!(msg.contains("recursive"), "{msg}");

    // path-form argument, unknown parameters ignored
    let pins = n
        .json(&format!("pin/add/{hello}?stream=true&whatever=1"))
        .await;
    assert_eq!(pins["Pins"][0], hello);
    let keys = n.json("pin/ls?type=recursive").await;
    assert_eq!(keys["Keys"][&hello]["Type"], "recursive");

    // bad CIDs and paths
    let msg = n.error("cat?arg=QmNotACid", 500).await;
    assert!(msg.contains("invalid path"), "{msg}");
    let msg = n.error("cat?arg=/ipfs/", 500).await;
    assert!(msg.contains("invalid path"), "{msg}");
    let msg = n.error(&format!("cat?arg=/ipfs/{hello}/nope"), 500).await;
    assert!(msg.contains("nope"), "{msg}");
    let msg = n.error("block/stat?arg=bafy", 500).await;
    assert!(!msg.is_empty());
    let msg = n.error("cat", 400).await;
    assert!(msg.contains("required"), "{msg}");
}

#[tokio::test]
async fn bad_uploads_change_nothing() {
    let n = start().await;
    n.add_bytes(b"seed".to_vec()).await;
    let before = n.num_objects().await;
    let pins_before = n.json("pin/ls").await;

    // not multipart at all
    let r = n
        .http
        .post(format!("{}/add", n.url))
        .body("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // multipart without its closing boundary, after a whole file part
    let body = "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\nContent-Type: application/octet-stream\r\n\r\nsome content here\r\n--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b\"\r\n\r\ntrunc";
    let r = n
        .http
        .post(format!("{}/add", n.url))
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "{}", r.text().await.unwrap());
    // a path escaping the upload
    let form = Form::new().part("file", Part::bytes(b"x".to_vec()).file_name("..%2Fescape"));
    let r = n
        .http
        .post(format!("{}/add", n.url))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "{}", r.text().await.unwrap());
    // oversized headers get 431
    let r = n
        .http
        .post(format!("{}/version", n.url))
        .header("x-big", "a".repeat(2 << 20))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 431);

    assert_eq!(n.json("pin/ls").await, pins_before, "no pin changed");
    // blocks of a failed add are not pinned: GC takes them, leaving what was there
    n.json("repo/gc").await;
    assert_eq!(n.num_objects().await, before);
}

#[tokio::test]
async fn directories_progress_and_metadata() {
    let n = start().await;
    let form = Form::new()
        .part(
            "file",
            Part::bytes(b"Hello Mars!\n".to_vec()).file_name("planets%2Fmars.txt"),
        )
        .part(
            "file",
            Part::bytes(b"Hello Venus!\n".to_vec()).file_name("planets%2Fvenus.txt"),
        );
    let out = n.add("progress=true", form).await;
    let entries: Vec<&Value> = out.iter().filter(|v| v.get("Hash").is_some()).collect();
    assert!(
        out.iter().any(|v| v.get("Bytes").is_some()),
        "progress lines: {out:?}"
    );
    let root = entries.last().unwrap();
    assert_eq!(root["Name"], "planets");
    assert_eq!(
        root["Hash"],
        "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["Hash"] == "QmPrrHqJzto9m7SyiRzarwkqPcCSsKR2EB1AyqJfe8L8tN")
    );
    assert_eq!(
        n.cat("/ipfs/QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY/venus.txt")
            .await,
        b"Hello Venus!\n"
    );
    let resolved = n
        .json("resolve?arg=/ipfs/QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY/mars.txt")
        .await;
    assert_eq!(
        resolved["Path"],
        "/ipfs/QmPrrHqJzto9m7SyiRzarwkqPcCSsKR2EB1AyqJfe8L8tN"
    );
    // the directory is pinned recursively, its files indirectly
    let ls = n.json("pin/ls").await;
    assert_eq!(
        ls["Keys"]["QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY"]["Type"],
        "recursive"
    );
    assert_eq!(
        ls["Keys"]["QmPrrHqJzto9m7SyiRzarwkqPcCSsKR2EB1AyqJfe8L8tN"]["Type"],
        "indirect"
    );
    // cat of a directory is Kubo's error
    let msg = n
        .error(
            "cat?arg=QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY",
            500,
        )
        .await;
    assert!(msg.contains("directory"), "{msg}");
}

#[tokio::test]
async fn import_then_export_returns_the_input() {
    let a = start().await;
    let b = start().await;
    for (len, seed) in [
        (0usize, 1u64),
        (1, 2),
        (262_144, 3),
        (262_145, 4),
        (1_500_000, 5),
    ] {
        let data = support::pseudo_random(len, seed);
        let cid = a.add_bytes(data.clone()).await;
        assert_eq!(a.cat(&cid).await, data, "cat of {len} bytes");
        let off = len as u64 / 3;
        let part = a
            .post(&format!("cat?arg={cid}&offset={off}&length=1000"))
            .await
            .bytes()
            .await
            .unwrap();
        let end = (off as usize + 1000).min(len);
        assert_eq!(&part[..], &data[off as usize..end]);
        // dag/export from one node, dag/import into another, cat there
        let car = a
            .post(&format!("dag/export?arg={cid}"))
            .await
            .bytes()
            .await
            .unwrap();
        let form = Form::new().part("file", Part::bytes(car.to_vec()).file_name("x.car"));
        let r = b
            .http
            .post(format!("{}/dag/import?stats=true", b.url))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        assert!(text.contains(&cid), "{text}");
        assert!(
            !text.contains("PinErrorMsg\":\"Q") && text.contains("\"PinErrorMsg\":\"\""),
            "{text}"
        );
        assert_eq!(b.cat(&cid).await, data);
    }
}

#[tokio::test]
async fn gc_never_removes_pinned_blocks_while_adds_run() {
    let n = Arc::new(start().await);
    let mut adds = Vec::new();
    for i in 0..6u64 {
        let n = n.clone();
        adds.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for j in 0..4u64 {
                let data =
                    support::pseudo_random(300_000 + (i * 7 + j) as usize * 1000, i * 100 + j);
                let cid = n.add_bytes(data.clone()).await;
                out.push((cid, data));
            }
            out
        }));
    }
    let gcs = {
        let n = n.clone();
        tokio::spawn(async move {
            for _ in 0..10 {
                n.post("repo/gc").await.bytes().await.unwrap();
            }
        })
    };
    // unpinned garbage that must go
    let garbage = n
        .add(
            "pin=false",
            Form::new().part(
                "file",
                Part::bytes(support::pseudo_random(5000, 999)).file_name(""),
            ),
        )
        .await;
    let garbage = garbage.last().unwrap()["Hash"]
        .as_str()
        .unwrap()
        .to_string();
    let mut added = Vec::new();
    for a in adds {
        added.extend(a.await.unwrap());
    }
    gcs.await.unwrap();
    n.post("repo/gc").await.bytes().await.unwrap();
    for (cid, data) in &added {
        assert_eq!(&n.cat(cid).await, data, "{cid} intact after GC");
    }
    let msg = n
        .error(&format!("block/stat?arg={garbage}&timeout=1s"), 500)
        .await;
    assert!(msg.contains("deadline"), "{msg}");
}

#[tokio::test]
async fn pin_waits_for_missing_blocks_until_its_timeout() {
    let n = Arc::new(start().await);
    let data = b"block that arrives late".to_vec();
    // the CID of a raw block, computed without storing it
    let mh = pinfold::ipfs::hash::HashFn::Sha2_256.digest(&data);
    let cid = cid::Cid::new_v1(pinfold::ipfs::hash::RAW, mh).to_string();
    let msg = n
        .error(&format!("pin/add?arg={cid}&timeout=300ms"), 500)
        .await;
    assert!(msg.contains("context deadline exceeded"), "{msg}");
    assert!(
        n.json("pin/ls").await["Keys"]
            .as_object()
            .unwrap()
            .is_empty()
    );

    let waiting = {
        let n = n.clone();
        let cid = cid.clone();
        tokio::spawn(async move { n.json(&format!("pin/add?arg={cid}&timeout=60s")).await })
    };
    // deliver the block: whether the pin is already waiting or not, it must complete
    let form = Form::new().part("file", Part::bytes(data.clone()).file_name(""));
    let r = n
        .http
        .post(format!("{}/block/put", n.url))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let pinned = waiting.await.unwrap();
    assert_eq!(pinned["Pins"][0], cid);
}
