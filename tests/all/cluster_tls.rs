//! Black-box test of the REST API's TLS and basic authentication (IPFS Cluster's sharness
//! t0040–t0043), with a self-signed certificate made at test time (rcgen, ring backend).
//!
//! Assumed daemon behaviour (documented, not yet observed when this was written):
//! * `api.restapi.ssl_cert_file` / `ssl_key_file` (PEM, paths relative to the configuration
//!   folder) switch the REST API to HTTPS on the same `http_listen_multiaddress`; the daemon
//!   still prints `** IPFS Cluster is READY **`.
//! * Plain HTTP sent to the TLS port is refused without hanging (Go answers `400 Client sent
//!   an HTTP request to an HTTPS server`, or the connection is closed) and the API keeps
//!   serving.
//! * `api.restapi.basic_auth_credentials` = `{"user":"pass"}` → every route but `GET /health`
//!   (and `OPTIONS`) needs `Authorization: Basic …`; without it or with a wrong password: 401
//!   `{"code":401,"message":"unauthorized…"}` with a `WWW-Authenticate` header.
//! * pinfold-ctl: `--https --no-check-certificate`, `--basic-auth user:pass` (implies https
//!   unless `--force-http`), `CLUSTER_CREDENTIALS`; an API error prints its code (401).
//!
//! ```text
//! cargo test -p pinfold --test all cluster_tls::
//! ```

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use support::cluster::{ClusterPeer, unique_blocks};

const USER: &str = "testuser";
const PASS: &str = "testpass";

/// A self-signed certificate for 127.0.0.1/localhost, written as `server.crt`/`server.key`
/// into the configuration folder; returns the certificate PEM.
fn write_certificate(peer: &ClusterPeer) -> String {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("rcgen generates a certificate");
    let cert = ck.cert.pem();
    let dir = peer.config_dir();
    std::fs::write(dir.join("server.crt"), &cert).expect("write server.crt");
    std::fs::write(dir.join("server.key"), ck.signing_key.serialize_pem())
        .expect("write server.key");
    cert
}

fn tls_config(cfg: &mut Value) {
    cfg["api"]["restapi"]["ssl_cert_file"] = json!("server.crt");
    cfg["api"]["restapi"]["ssl_key_file"] = json!("server.key");
}

fn auth_config(cfg: &mut Value) {
    cfg["api"]["restapi"]["basic_auth_credentials"] = json!({ USER: PASS });
}

/// A started peer with `configure` applied and, if `tls`, a fresh certificate.
fn peer_with(tls: bool, configure: impl FnOnce(&mut Value)) -> (ClusterPeer, Option<String>) {
    let mut peer = ClusterPeer::init(|cfg| {
        if tls {
            tls_config(cfg);
        }
        configure(cfg);
    });
    let cert = tls.then(|| write_certificate(&peer));
    peer.start();
    (peer, cert)
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// One request with reqwest; `Err` carries the transport error's text.
fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    auth: Option<(&str, &str)>,
) -> Result<Answer, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let mut req = client.request(method, url);
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        let resp = req.send().await.map_err(|e| format!("{e:?}"))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.map_err(|e| format!("{e:?}"))?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    })
}

fn insecure_client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("reqwest client")
}

fn get(client: &reqwest::Client, url: &str, auth: Option<(&str, &str)>) -> Answer {
    call(client, reqwest::Method::GET, url, auth).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// Sends plain HTTP to `addr` and reads what comes back (bounded); never panics on a reset.
fn plain_http_probe(addr: std::net::SocketAddr) -> (Vec<u8>, Duration) {
    let start = std::time::Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let _ = s.write_all(
        format!("GET /id HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!(
                    "plain HTTP to the TLS port hung for 20 s (got {:?})",
                    String::from_utf8_lossy(&got)
                )
            }
            Err(_) => break,
        }
        if got.len() > 64 * 1024 {
            break;
        }
    }
    (got, start.elapsed())
}

#[test]
fn https_with_a_self_signed_certificate() {
    let (peer, cert) = peer_with(true, |_| {});
    let cert = cert.expect("tls");
    let me = peer.peer_id().to_string();
    let url = peer.rest_url();
    assert!(url.starts_with("https://"), "{url}");

    // ctl over HTTPS without verification (t0040)
    let out = peer.ctl_ok(&["--https", "--no-check-certificate", "id"]);
    assert!(out.contains(&me), "{out}");
    // …with verification the self-signed certificate is refused
    let run = peer.ctl(&["--https", "id"]);
    assert!(
        !run.success(),
        "self-signed certificate accepted: {}",
        run.describe()
    );
    // plain HTTP to the TLS port fails (t0041's converse)
    let run = peer.ctl(&["id"]);
    assert!(
        !run.success(),
        "plain HTTP to a TLS API: {}",
        run.describe()
    );

    // reqwest, not verifying
    let client = insecure_client();
    let a = get(&client, &format!("{url}/id"), None);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["id"], me.as_str());
    let a = get(&client, &format!("{url}/version"), None);
    assert_eq!(a.status, 200);
    assert!(a.json()["version"].is_string());

    // reqwest trusting exactly this certificate (checks the name 127.0.0.1 too)
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).expect("PEM"))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let a = get(&trusting, &format!("{url}/id"), None);
    assert_eq!(a.status, 200, "{}", a.body);

    // the write path works over TLS
    let cid = peer.ipfs_block_put(&unique_blocks("tls", 1)[0]);
    let a = call(
        &client,
        reqwest::Method::POST,
        &format!("{url}/pins/{cid}"),
        None,
    )
    .unwrap_or_else(|e| panic!("POST /pins over TLS: {e}"));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["cid"], cid.as_str());
    let a = get(&client, &format!("{url}/allocations"), None);
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains(&cid));
    let out = peer.ctl_ok(&["--https", "--no-check-certificate", "pin", "ls"]);
    assert!(out.contains(&cid), "{out}");

    // raw plain HTTP to the TLS port: refused promptly, never a 2xx
    let (got, took) = plain_http_probe(peer.rest_addr());
    let text = String::from_utf8_lossy(&got);
    assert!(
        !(text.starts_with("HTTP/1.1 2") || text.starts_with("HTTP/1.0 2")),
        "plain HTTP got a success from the TLS port: {text:?}"
    );
    assert!(took < Duration::from_secs(20));
    // reqwest http:// to the TLS port: an error or a 4xx
    let plain_url = url.replacen("https://", "http://", 1);
    match call(
        &client,
        reqwest::Method::GET,
        &format!("{plain_url}/id"),
        None,
    ) {
        Err(_) => {}
        Ok(a) => assert!(
            (400..500).contains(&a.status),
            "http:// to the TLS port answered {} {}",
            a.status,
            a.body
        ),
    }
    // and the API still serves
    assert_eq!(get(&client, &format!("{url}/id"), None).status, 200);
}

#[test]
fn basic_auth_over_tls() {
    let (peer, _) = peer_with(true, auth_config);
    let me = peer.peer_id().to_string();
    let url = peer.rest_url();
    let client = insecure_client();

    let a = get(&client, &format!("{url}/id"), None);
    assert_eq!(a.status, 401, "no credentials: {}", a.body);
    let err = a.json();
    assert_eq!(err["code"], 401, "{err}");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("unauthorized")),
        "{err}"
    );
    assert!(
        a.headers.get("www-authenticate").is_some(),
        "401 carries WWW-Authenticate"
    );
    let a = get(&client, &format!("{url}/id"), Some((USER, "wrong")));
    assert_eq!(a.status, 401, "wrong password: {}", a.body);
    let a = get(&client, &format!("{url}/id"), Some(("nobody", PASS)));
    assert_eq!(a.status, 401, "wrong user: {}", a.body);
    let a = call(
        &client,
        reqwest::Method::POST,
        &format!("{url}/pins/{}", support::cluster::random_cid()),
        None,
    )
    .expect("POST");
    assert_eq!(a.status, 401, "writes need credentials too: {}", a.body);
    // /health is open
    assert_eq!(get(&client, &format!("{url}/health"), None).status, 204);

    let a = get(&client, &format!("{url}/id"), Some((USER, PASS)));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["id"], me.as_str());

    // ctl (t0043)
    let creds = format!("{USER}:{PASS}");
    let out = peer.ctl_ok(&[
        "--https",
        "--no-check-certificate",
        "--basic-auth",
        &creds,
        "id",
    ]);
    assert!(out.contains(&me), "{out}");
    // --basic-auth implies --https
    let out = peer.ctl_ok(&["--no-check-certificate", "--basic-auth", &creds, "id"]);
    assert!(out.contains(&me), "{out}");
    for bad in [None, Some(format!("{USER}:wrong"))] {
        let mut args = vec!["--https", "--no-check-certificate"];
        if let Some(b) = &bad {
            args.extend(["--basic-auth", b.as_str()]);
        }
        args.push("id");
        let run = peer.ctl(&args);
        assert!(!run.success(), "{bad:?}: {}", run.describe());
        assert!(
            format!("{}{}", run.stdout, run.stderr).contains("401"),
            "{bad:?}: {}",
            run.describe()
        );
    }
}

#[test]
fn basic_auth_over_plain_http() {
    let (peer, _) = peer_with(false, auth_config);
    let me = peer.peer_id().to_string();

    let r = peer.get("/id");
    assert_eq!(r.status, 401, "{}", r.describe());
    assert!(r.header("www-authenticate").is_some(), "{}", r.describe());
    assert!(
        r.error_message().starts_with("unauthorized"),
        "{}",
        r.describe()
    );
    assert_eq!(
        peer.get("/health").status,
        204,
        "/health needs no credentials"
    );

    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"))
    );
    let bad = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:nope"))
    );
    let r = peer.request("GET", "/id", &[("Authorization", &good)], None);
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.json()["id"], me.as_str());
    let r = peer.request("GET", "/id", &[("Authorization", &bad)], None);
    assert_eq!(r.status, 401, "{}", r.describe());
    assert!(r.error_message().starts_with("unauthorized"));
    let r = peer.request("GET", "/pins", &[("Authorization", &good)], None);
    assert_eq!(r.status, 204, "{}", r.describe());

    // ctl (t0042)
    let creds = format!("{USER}:{PASS}");
    let out = peer.ctl_ok(&["--force-http", "--basic-auth", &creds, "id"]);
    assert!(out.contains(&me), "{out}");
    let run = peer.ctl_env(&["--force-http", "id"], &[("CLUSTER_CREDENTIALS", &creds)]);
    assert!(run.success(), "CLUSTER_CREDENTIALS: {}", run.describe());
    assert!(run.stdout.contains(&me));
    for args in [
        vec!["id"],
        vec!["--force-http", "--basic-auth", "testuser:wrong", "id"],
        vec!["--force-http", "--basic-auth", "nobody:testpass", "id"],
    ] {
        let run = peer.ctl(&args);
        assert!(!run.success(), "{args:?}: {}", run.describe());
        assert!(
            format!("{}{}", run.stdout, run.stderr).contains("401"),
            "{args:?}: {}",
            run.describe()
        );
    }
}
