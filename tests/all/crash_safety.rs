//! Crash safety of the embedded node: `kill -9` in the middle of concurrent adds and pins,
//! restart on the same repository, then every add and pin that was acknowledged (its whole
//! answer received) must be intact and pinned, and every stored block must verify.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::multipart::{Form, Part};
use serde_json::Value;
use support::IpfsDaemon;

async fn post(http: &reqwest::Client, url: &str) -> Result<String, String> {
    let r = http.post(url).send().await.map_err(|e| e.to_string())?;
    let ok = r.status().is_success();
    let text = r.text().await.map_err(|e| e.to_string())?;
    if ok { Ok(text) } else { Err(text) }
}

#[derive(Default)]
struct Acked {
    adds: Vec<(String, Vec<u8>)>,
    pins: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_adds_and_pins_survive_kill_9() {
    let daemon = IpfsDaemon::start(&[]);
    let api = format!("{}/api/v0", daemon.api_url());
    let http = reqwest::Client::new();
    let acked = Arc::new(Mutex::new(Acked::default()));

    let mut workers = Vec::new();
    for w in 0..3u64 {
        let (api, http, acked) = (api.clone(), http.clone(), acked.clone());
        workers.push(tokio::spawn(async move {
            for i in 0.. {
                let data = support::pseudo_random(
                    10_000 + ((w * 31 + i * 17) % 50) as usize * 12_000,
                    w * 1_000_000 + i,
                );
                let form = Form::new().part(
                    "file",
                    Part::bytes(data.clone()).file_name(format!("f{w}-{i}")),
                );
                let Ok(r) = http.post(format!("{api}/add")).multipart(form).send().await else {
                    return;
                };
                if !r.status().is_success() {
                    return;
                }
                let Ok(text) = r.text().await else { return };
                let Some(last) = text.lines().last() else {
                    return;
                };
                let Ok(v) = serde_json::from_str::<Value>(last) else {
                    return;
                };
                let cid = v["Hash"].as_str().unwrap().to_string();
                acked.lock().unwrap().adds.push((cid, data));
            }
        }));
    }
    for w in 0..2u64 {
        let (api, http, acked) = (api.clone(), http.clone(), acked.clone());
        workers.push(tokio::spawn(async move {
            for i in 0.. {
                let form = Form::new().part(
                    "file",
                    Part::bytes(support::pseudo_random(3000, 77_000_000 + w * 10_000 + i))
                        .file_name(""),
                );
                let Ok(r) = http
                    .post(format!("{api}/block/put"))
                    .multipart(form)
                    .send()
                    .await
                else {
                    return;
                };
                let Ok(text) = r.text().await else { return };
                let Ok(v) = serde_json::from_str::<Value>(text.trim()) else {
                    return;
                };
                let cid = v["Key"].as_str().unwrap().to_string();
                if post(&http, &format!("{api}/pin/add?arg={cid}"))
                    .await
                    .is_ok()
                {
                    acked.lock().unwrap().pins.push(cid);
                }
            }
        }));
    }

    // let the load build up, then kill in the middle of it
    let enough = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let done = {
            let a = acked.lock().unwrap();
            (a.adds.len() >= 30 && a.pins.len() >= 20) || tokio::time::Instant::now() > enough
        };
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let repo = daemon.kill_keeping_repo();
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    for w in workers {
        let _ = w.await;
    }
    assert!(
        acked.adds.len() >= 30 && acked.pins.len() >= 20,
        "too little load before the kill"
    );

    let daemon = IpfsDaemon::start_in(repo, &[]);
    let api = format!("{}/api/v0", daemon.api_url());
    // run a GC first: nothing acknowledged may be collected
    post(&http, &format!("{api}/repo/gc")).await.unwrap();
    for (cid, data) in &acked.adds {
        post(&http, &format!("{api}/pin/ls?arg={cid}&type=recursive"))
            .await
            .unwrap_or_else(|e| {
                panic!("acknowledged add {cid} is not pinned after the crash: {e}")
            });
        let body = http
            .post(format!("{api}/cat?arg={cid}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(
            body[..] == data[..],
            "content of {cid} changed after the crash"
        );
    }
    for cid in &acked.pins {
        post(&http, &format!("{api}/pin/ls?arg={cid}&type=recursive"))
            .await
            .unwrap_or_else(|e| panic!("acknowledged pin {cid} lost: {e}"));
    }
    // the whole block store verifies: every block reads back against its hash
    let refs = post(&http, &format!("{api}/refs/local")).await.unwrap();
    let mut n = 0;
    for line in refs.lines() {
        let cid = serde_json::from_str::<Value>(line).unwrap()["Ref"]
            .as_str()
            .unwrap()
            .to_string();
        post(&http, &format!("{api}/block/get?arg={cid}"))
            .await
            .unwrap_or_else(|e| panic!("block {cid} does not verify: {e}"));
        n += 1;
    }
    assert!(n > 0);
}
