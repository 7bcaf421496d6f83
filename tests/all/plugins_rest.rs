//! Black-box tests of the WASM plugins on a real `pinfold daemon`, over HTTP:
//!
//! * the **authorization matrix**: every REST route × method × {no credentials, bad user, bad
//!   password, good Basic, good token, expired token, revoked token} gives IPFS Cluster's
//!   status, message and `WWW-Authenticate` (the built-in `authz-default` plugin with
//!   `basic_auth_credentials`); `OPTIONS` and `GET /health` are exempt;
//! * the **CORS matrix**: preflights and actual requests from allowed, wildcard-matched and
//!   other origins give the headers rs/cors v1.11.1 gives for the same requests and options
//!   (IPFS Cluster's CORS library), with the default and with explicit `cors_*` keys;
//! * **hot reload under load**: the authorizer is swapped between the built-in plugin and a
//!   plugin file, by `POST /plugins/reload` and by SIGHUP, while clients send requests; no
//!   request fails, and a policy change takes effect for the requests after it;
//! * **failing plugins**: a plugin that traps, loops or hogs memory gets the fail-safe answer
//!   (500 `plugin failed`), the daemon keeps serving, the counters show each failure, the
//!   breaker trips a plugin off and a reload brings it back; `pinfold plugin run` shows the
//!   same failure without a daemon.
//!
//! Each test runs its own daemon (own folder, random ports), waits by polling with deadlines.
//!
//! ```text
//! cargo test -p pinfold --test all plugins_rest::
//! ```

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use support::cluster::{ClusterPeer, HttpResponse};
use support::plugins::{fixtures, write_component};

const REALM: &str = "Restricted IPFS Cluster API";
const CID: &str = "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY";

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn with_users(service: &mut Value, users: Value) {
    service["api"]["restapi"]["basic_auth_credentials"] = users;
}

fn write_service(peer: &ClusterPeer, service: &Value) {
    let path = peer.config_dir().join("service.json");
    std::fs::write(&path, serde_json::to_string_pretty(service).unwrap() + "\n").unwrap();
}

/// Polls `probe` until it returns true, or fails with `what` after `deadline`.
fn wait_for(what: &str, deadline: Duration, mut probe: impl FnMut() -> bool) {
    let start = Instant::now();
    while !probe() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `POST /token` as `user`: the token and its id.
fn issue_token(peer: &ClusterPeer, user: &str, password: &str) -> (String, String) {
    let r = peer.request(
        "POST",
        "/token",
        &[("Authorization", &basic(user, password))],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.describe());
    let v = r.json();
    (
        v["token"].as_str().unwrap().to_string(),
        v["id"].as_str().unwrap().to_string(),
    )
}

/// A token signed with the daemon's key (read from its folder) that expired an hour ago.
fn expired_token(peer: &ClusterPeer, user: &str) -> String {
    let hex = std::fs::read_to_string(peer.config_dir().join("token.key")).unwrap();
    let bytes: Vec<u8> = (0..hex.trim().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex.trim()[i..i + 2], 16).unwrap())
        .collect();
    let key = pinfold::plugins::tokens::TokenKey::from_bytes(bytes);
    let now = pinfold::plugins::tokens::unix_now();
    key.sign(&pinfold::plugins::tokens::Claims {
        iss: user.into(),
        iat: now - 7200,
        exp: now - 3600,
        jti: "0123456789abcdef0123456789abcdef".into(),
        ten: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Authorization matrix

/// Every REST route (with concrete parameters) and the methods to try on it.
const ROUTES: &[&str] = &[
    "/id",
    "/version",
    "/peers",
    "/peers/12D3KooWGHTKzeT4KaLGLrbKKyT8zKrBPXAUBRzCAN6ZMDMo4M6M",
    "/add",
    "/allocations",
    "/allocations/QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY",
    "/pins",
    "/pins/recover",
    "/pins/QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY",
    "/pins/QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY/recover",
    "/pins/ipfs/QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY",
    "/ipfs/gc",
    "/health",
    "/health/graph",
    "/health/alerts",
    "/health/bandwidth",
    "/monitor/metrics",
    "/monitor/metrics/freespace",
    "/token",
    "/token/00000000000000000000000000000000",
    "/plugins",
    "/plugins/metrics",
    "/plugins/reload",
    "/no/such/route",
];

const METHODS: &[&str] = &["GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cred {
    None,
    BadUser,
    BadPassword,
    GoodBasic,
    GoodToken,
    ExpiredToken,
    RevokedToken,
}

#[test]
fn authz_matrix_over_http() {
    let mut peer = ClusterPeer::init(|s| {
        with_users(s, json!({"alice": "wonderland", "bob": "builder"}));
        // keep the pins the matrix makes from waiting on the network
        s["ipfs_connector"]["ipfshttp"]["pin_timeout"] = json!("2s");
    });
    peer.start();
    let (good_token, _) = issue_token(&peer, "alice", "wonderland");
    let (revoked_token, revoked_id) = issue_token(&peer, "bob", "builder");
    let r = peer.request(
        "DELETE",
        &format!("/token/{revoked_id}"),
        &[("Authorization", &basic("alice", "wonderland"))],
        None,
    );
    assert_eq!(r.status, 204, "{}", r.describe());
    let expired = expired_token(&peer, "alice");

    let creds = [
        (Cred::None, None),
        (Cred::BadUser, Some(basic("carol", "wonderland"))),
        (Cred::BadPassword, Some(basic("alice", "builder"))),
        (Cred::GoodBasic, Some(basic("alice", "wonderland"))),
        (Cred::GoodToken, Some(bearer(&good_token))),
        (Cred::ExpiredToken, Some(bearer(&expired))),
        (Cred::RevokedToken, Some(bearer(&revoked_token))),
    ];
    let basic_challenge = format!("Basic realm=\"{REALM}\"");
    let bearer_challenge = format!("Bearer realm=\"{REALM}\"");
    let invalid_token = format!("Bearer realm=\"{REALM}\", error=\"invalid_token\"");
    let mut checked = 0;
    for route in ROUTES {
        for method in METHODS {
            for (cred, header) in &creds {
                let headers: Vec<(&str, &str)> = header
                    .as_deref()
                    .map(|h| vec![("Authorization", h)])
                    .unwrap_or_default();
                let r = peer.request(method, route, &headers, None);
                let what = format!("{method} {route} with {cred:?}: {}", r.describe());
                let exempt = *method == "OPTIONS" || (*method == "GET" && *route == "/health");
                let challenges = r.header_all("www-authenticate");
                let expected: Option<(&str, Vec<&str>)> = match cred {
                    _ if exempt => None,
                    Cred::GoodBasic | Cred::GoodToken => None,
                    Cred::None => Some((
                        "unauthorized: no auth provided",
                        vec![&bearer_challenge, &basic_challenge],
                    )),
                    Cred::BadUser | Cred::BadPassword => {
                        Some(("unauthorized: access denied", vec![&basic_challenge]))
                    }
                    Cred::ExpiredToken | Cred::RevokedToken => {
                        Some(("unauthorized: invalid token", vec![&invalid_token]))
                    }
                };
                match expected {
                    Some((message, want)) => {
                        assert_eq!(r.status, 401, "{what}");
                        assert_eq!(challenges, want, "{what}");
                        assert!(r.header("access-control-allow-origin").is_none(), "{what}");
                        if *method != "HEAD" {
                            assert_eq!(r.error_message(), message, "{what}");
                        }
                    }
                    None => {
                        assert_ne!(r.status, 401, "{what}");
                        assert!(challenges.is_empty(), "{what}");
                        assert!(!r.text().contains("plugin failed"), "{what}");
                    }
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, ROUTES.len() * METHODS.len() * creds.len());

    // the exempt routes answer as their handlers do
    assert_eq!(peer.get("/health").status, 204);
    // a token cannot mint tokens; Basic can
    let r = peer.request(
        "POST",
        "/token",
        &[("Authorization", &bearer(&good_token))],
        None,
    );
    assert_eq!(r.status, 403, "{}", r.describe());
    // tokens survive a restart (key file), revocations too
    peer.stop();
    peer.start();
    let ok = peer.request(
        "GET",
        "/id",
        &[("Authorization", &bearer(&good_token))],
        None,
    );
    assert_eq!(ok.status, 200, "{}", ok.describe());
    let revoked = peer.request(
        "GET",
        "/id",
        &[("Authorization", &bearer(&revoked_token))],
        None,
    );
    assert_eq!(revoked.status, 401, "{}", revoked.describe());
    let key = peer.config_dir().join("token.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = peer.output();
    let hex = std::fs::read_to_string(&key).unwrap();
    assert!(!out.contains(hex.trim()), "the token key reached the log");
    assert!(!out.contains("wonderland"), "a password reached the log");
}

#[test]
fn open_api_without_credentials_and_token_route() {
    let peer = ClusterPeer::start_default();
    assert_eq!(peer.get("/id").status, 200);
    let r = peer.post("/token");
    assert_eq!(r.status, 401, "{}", r.describe());
    assert_eq!(r.error_message(), "unauthorized");
    let status = peer.json_ok("GET", "/plugins");
    let paths: Vec<&str> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "builtin:authz-default",
            "builtin:cors-default",
            "builtin:allocator-balanced"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// CORS matrix

const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

/// The CORS headers of an answer, lower-cased names, in order.
fn cors_headers(r: &HttpResponse) -> Vec<(String, String)> {
    r.headers
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            k.starts_with("access-control-") || k == "vary"
        })
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect()
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

#[test]
fn cors_matrix_over_http() {
    // explicit origins (exact and wildcard), methods, headers, exposed headers, max age,
    // with credentials configured: preflights are exempt from authentication
    let mut peer = ClusterPeer::init(|s| {
        with_users(s, json!({"alice": "wonderland"}));
        let r = &mut s["api"]["restapi"];
        r["cors_allowed_origins"] = json!(["https://app.example", "https://*.wild.example"]);
        r["cors_allowed_methods"] = json!(["GET", "POST"]);
        r["cors_allowed_headers"] = json!(["Content-Type", "X-Custom"]);
        r["cors_exposed_headers"] = json!(["X-Stream-Output", "x-chunked-output"]);
        r["cors_max_age"] = json!("10m0s");
        r["cors_allow_credentials"] = json!(true);
    });
    peer.start();
    let auth = basic("alice", "wonderland");
    let preflight = |peer: &ClusterPeer, origin: &str, method: &str, req_headers: Option<&str>| {
        let mut hs = vec![
            ("Origin", origin),
            ("Access-Control-Request-Method", method),
        ];
        if let Some(v) = req_headers {
            hs.push(("Access-Control-Request-Headers", v));
        }
        peer.request("OPTIONS", "/pins", &hs, None)
    };
    let only_vary = h(&[("vary", PREFLIGHT_VARY)]);

    // an allowed preflight: the requested method and headers echoed, credentials, max age
    let r = preflight(
        &peer,
        "https://app.example",
        "POST",
        Some("content-type,x-custom"),
    );
    assert_eq!(r.status, 204, "{}", r.describe());
    assert_eq!(
        sorted(cors_headers(&r)),
        h(&[
            ("vary", PREFLIGHT_VARY),
            ("access-control-allow-origin", "https://app.example"),
            ("access-control-allow-methods", "POST"),
            ("access-control-allow-headers", "content-type,x-custom"),
            ("access-control-allow-credentials", "true"),
            ("access-control-max-age", "600"),
        ]),
        "{}",
        r.describe()
    );
    assert_eq!(r.body.len(), 0);
    // wildcard origin
    let r = preflight(&peer, "https://a.wild.example", "GET", None);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://a.wild.example"),
        "{}",
        r.describe()
    );
    // refused preflights: other origin, method, header, unsorted headers → Vary only
    for (origin, method, headers) in [
        ("https://evil.example", "GET", None),
        ("https://wild.example", "GET", None),
        ("https://app.example", "DELETE", None),
        ("https://app.example", "GET", Some("x-other")),
        ("https://app.example", "GET", Some("x-custom,content-type")),
    ] {
        let r = preflight(&peer, origin, method, headers);
        assert_eq!(r.status, 204, "{}", r.describe());
        assert_eq!(sorted(cors_headers(&r)), only_vary, "{}", r.describe());
    }

    // actual requests
    let actual = |peer: &ClusterPeer, origin: Option<&str>, method: &str, path: &str| {
        let mut hs = vec![("Authorization", auth.as_str())];
        if let Some(o) = origin {
            hs.push(("Origin", o));
        }
        peer.request(method, path, &hs, None)
    };
    let r = actual(&peer, Some("https://app.example"), "GET", "/id");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(
        sorted(cors_headers(&r)),
        h(&[
            ("vary", "Origin"),
            ("access-control-allow-origin", "https://app.example"),
            (
                "access-control-expose-headers",
                "X-Stream-Output, X-Chunked-Output"
            ),
            ("access-control-allow-credentials", "true"),
        ]),
        "{}",
        r.describe()
    );
    for (origin, method, path) in [
        (Some("https://evil.example"), "GET", "/id"),
        (None, "GET", "/id"),
        (
            Some("https://app.example"),
            "DELETE",
            &*format!("/pins/{CID}"),
        ),
    ] {
        let r = actual(&peer, origin, method, path);
        assert_ne!(r.status, 401, "{}", r.describe());
        assert_eq!(
            sorted(cors_headers(&r)),
            h(&[("vary", "Origin")]),
            "{}",
            r.describe()
        );
    }
    // refused by authorization: no CORS header at all (Go's order)
    let r = peer.request("GET", "/id", &[("Origin", "https://app.example")], None);
    assert_eq!(r.status, 401);
    assert!(cors_headers(&r).is_empty(), "{}", r.describe());
    // OPTIONS that is not a preflight is routed (405) and gets the actual-request headers
    let r = peer.request("OPTIONS", "/id", &[("Origin", "https://app.example")], None);
    assert_eq!(r.status, 405, "{}", r.describe());
    peer.stop();

    // IPFS Cluster's defaults: every origin as the literal `*`, GET only
    peer.edit_service_json(|s| {
        let r = &mut s["api"]["restapi"];
        for k in [
            "cors_allowed_origins",
            "cors_allowed_methods",
            "cors_allowed_headers",
            "cors_exposed_headers",
            "cors_max_age",
            "cors_allow_credentials",
        ] {
            r.as_object_mut().unwrap().remove(k);
        }
    });
    peer.start();
    let r = preflight(&peer, "https://anyone.example", "GET", Some("content-type"));
    assert_eq!(
        sorted(cors_headers(&r)),
        h(&[
            ("vary", PREFLIGHT_VARY),
            ("access-control-allow-origin", "*"),
            ("access-control-allow-methods", "GET"),
            ("access-control-allow-headers", "content-type"),
            ("access-control-allow-credentials", "true"),
        ]),
        "{}",
        r.describe()
    );
    let r = preflight(&peer, "https://anyone.example", "POST", None);
    assert_eq!(sorted(cors_headers(&r)), only_vary, "{}", r.describe());
    let r = actual(&peer, Some("https://anyone.example"), "GET", "/version");
    assert_eq!(
        sorted(cors_headers(&r)),
        h(&[
            ("vary", "Origin"),
            ("access-control-allow-origin", "*"),
            (
                "access-control-expose-headers",
                "Content-Type, X-Stream-Output, X-Chunked-Output, X-Content-Length"
            ),
            ("access-control-allow-credentials", "true"),
        ]),
        "{}",
        r.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// Hot reload under load

fn plugins_status(peer: &ClusterPeer, auth: &str) -> Value {
    let r = peer.request("GET", "/plugins", &[("Authorization", auth)], None);
    assert_eq!(r.status, 200, "{}", r.describe());
    r.json()
}

fn authorizer_sha(peer: &ClusterPeer, auth: &str) -> String {
    plugins_status(peer, auth)[0]["sha256"]
        .as_str()
        .unwrap()
        .to_string()
}

fn sighup(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -HUP {pid} failed");
}

#[test]
fn hot_reload_under_load() {
    let mut peer = ClusterPeer::init(|s| with_users(s, json!({"admin": "pw"})));
    let fixture = write_component(peer.config_dir(), "fixture-authz.wasm", &fixtures().authz);
    let fixture_sha = {
        use sha2::Digest;
        let d = sha2::Sha256::digest(&fixtures().authz);
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    peer.start();
    let auth = basic("admin", "pw");
    let builtin_sha = authorizer_sha(&peer, &auth);
    let base = peer.service_json();
    let with_authorizer = |entry: Option<Value>| {
        let mut s = base.clone();
        if let Some(e) = entry {
            s["plugins"] = json!({ "authorizer": e });
        }
        s
    };
    let fixture_entry = json!({
        "path": fixture.file_name().unwrap().to_str().unwrap(),
        "sha256": fixture_sha,
        "limits": {"time_budget": "2s"}
    });

    // clients: keep-going loops recording every status
    let stop = Arc::new(AtomicBool::new(false));
    let policy_changed = Arc::new(AtomicBool::new(false));
    let addr = peer.rest_addr();
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (stop, changed, auth) = (stop.clone(), policy_changed.clone(), auth.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let after_change = changed.load(Ordering::SeqCst);
                    let r = support::cluster::http_request(
                        addr,
                        "GET",
                        "/version",
                        &[("Authorization", &auth)],
                        None,
                    );
                    let message = if r.status == 200 {
                        String::new()
                    } else {
                        r.text()
                    };
                    seen.push((after_change, r.status, message));
                }
                seen
            })
        })
        .collect();

    // swap the authorizer back and forth, alternating the admin route and SIGHUP
    for round in 0..6 {
        let (entry, want) = if round % 2 == 0 {
            (Some(fixture_entry.clone()), fixture_sha.clone())
        } else {
            (None, builtin_sha.clone())
        };
        write_service(&peer, &with_authorizer(entry));
        if round % 3 == 2 {
            sighup(peer.pid());
        } else {
            let r = peer.request("POST", "/plugins/reload", &[("Authorization", &auth)], None);
            assert_eq!(r.status, 200, "{}", r.describe());
        }
        wait_for("the reload to take effect", Duration::from_secs(60), || {
            authorizer_sha(&peer, &auth) == want
        });
    }

    // a failing reload (a pin that does not match) keeps the current plugin and says why
    let mut bad = fixture_entry.clone();
    bad["sha256"] = json!("00".repeat(32));
    write_service(&peer, &with_authorizer(Some(bad)));
    let r = peer.request("POST", "/plugins/reload", &[("Authorization", &auth)], None);
    assert_eq!(r.status, 500, "{}", r.describe());
    let message = r.error_message();
    assert!(
        message.contains("plugins.authorizer") && message.contains("sha256 mismatch"),
        "{message}"
    );
    assert_eq!(authorizer_sha(&peer, &auth), builtin_sha);

    // a policy change: the fixture denying everything
    let mut deny = fixture_entry.clone();
    deny["config"] = json!({"mode": "deny-all"});
    write_service(&peer, &with_authorizer(Some(deny)));
    // from here on a request may meet the new policy (set before the reload starts)
    policy_changed.store(true, Ordering::SeqCst);
    let r = peer.request("POST", "/plugins/reload", &[("Authorization", &auth)], None);
    assert_eq!(r.status, 200, "{}", r.describe());
    wait_for(
        "requests refused by the new policy",
        Duration::from_secs(30),
        || {
            peer.request("GET", "/version", &[("Authorization", &auth)], None)
                .status
                == 403
        },
    );
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);

    let mut total = 0;
    for c in clients {
        for (after_change, status, message) in c.join().expect("client thread") {
            total += 1;
            match status {
                200 => {}
                403 if after_change => assert!(message.contains("deny-all"), "{message}"),
                other => panic!(
                    "a request failed during the reloads: {other} {message} (after the policy change: {after_change})\n{}",
                    peer.output_tail()
                ),
            }
        }
    }
    assert!(total > 20, "the clients made only {total} requests");
    // the new policy denies even /health (the fixture exempts nothing); preflights are the
    // CORS plugin's and still answered
    assert_eq!(peer.get("/health").status, 403);
    let r = peer.request(
        "OPTIONS",
        "/id",
        &[
            ("Origin", "https://a.example"),
            ("Access-Control-Request-Method", "GET"),
        ],
        None,
    );
    assert_eq!(r.status, 204, "{}", r.describe());
}

// ---------------------------------------------------------------------------------------------
// Failing plugins

/// `pinfold plugin run FILE --input INPUT`.
fn plugin_run(file: &std::path::Path, input: &std::path::Path) -> support::Finished {
    support::run_with_deadline(
        std::process::Command::new(support::pinfold_bin())
            .args(["plugin", "run"])
            .arg(file)
            .arg("--input")
            .arg(input),
        support::cluster::COMMAND_DEADLINE,
    )
}

#[test]
fn failing_plugins_fail_safe_and_the_daemon_keeps_serving() {
    let mut peer = ClusterPeer::init(|_| {});
    write_component(peer.config_dir(), "fixture-authz.wasm", &fixtures().authz);
    let base = peer.service_json();
    let entry = |trip_after: u32| {
        let mut s = base.clone();
        s["plugins"] = json!({"authorizer": {
            "path": "fixture-authz.wasm",
            "limits": {"time_budget": "300ms", "memory": "4MiB", "trip_after": trip_after}
        }});
        s
    };
    write_service(&peer, &entry(1000));
    peer.start();
    let auth = basic("admin", "pw");
    let ok = |peer: &ClusterPeer| {
        let r = peer.request("GET", "/version", &[("Authorization", &auth)], None);
        assert_eq!(r.status, 200, "{}\n{}", r.describe(), peer.output_tail());
    };
    ok(&peer);
    for path in ["/trap", "/loop", "/hog"] {
        for _ in 0..2 {
            let r = peer.request("GET", path, &[("Authorization", &auth)], None);
            assert_eq!(r.status, 500, "{path}: {}", r.describe());
            assert_eq!(r.error_message(), "plugin failed", "{path}");
            ok(&peer);
        }
    }
    let status = plugins_status(&peer, &auth);
    let a = &status[0];
    assert_eq!(a["kind"], "authorizer");
    assert!(a["traps"].as_u64().unwrap() >= 2, "{a}");
    assert!(a["timeouts"].as_u64().unwrap() >= 2, "{a}");
    assert!(a["out_of_memory"].as_u64().unwrap() >= 2, "{a}");
    assert_eq!(a["tripped"], false);
    let metrics = peer.request("GET", "/plugins/metrics", &[("Authorization", &auth)], None);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain"),
        "{}",
        metrics.describe()
    );
    let text = metrics.text();
    assert!(
        text.contains("pinfold_plugin_traps_total{kind=\"authorizer\",path=\"fixture-authz.wasm\""),
        "{text}"
    );

    // the breaker: two failures trip the plugin off, every request gets the fail-safe; a
    // reload (SIGHUP: the admin route is behind the tripped authorizer) brings it back
    write_service(&peer, &entry(2));
    sighup(peer.pid());
    wait_for(
        "the reload with trip_after 2",
        Duration::from_secs(60),
        || plugins_status(&peer, &auth)[0]["traps"] == 0,
    );
    for _ in 0..2 {
        assert_eq!(
            peer.request("GET", "/trap", &[("Authorization", &auth)], None)
                .status,
            500
        );
    }
    let r = peer.request("GET", "/version", &[("Authorization", &auth)], None);
    assert_eq!(r.status, 500, "tripped: {}", r.describe());
    assert_eq!(
        peer.get("/health").status,
        500,
        "the tripped plugin decides even /health"
    );
    // preflights are the CORS plugin's alone: still answered
    let r = peer.request(
        "OPTIONS",
        "/id",
        &[
            ("Origin", "https://a.example"),
            ("Access-Control-Request-Method", "GET"),
        ],
        None,
    );
    assert_eq!(r.status, 204, "{}", r.describe());
    sighup(peer.pid());
    wait_for("the reload after the trip", Duration::from_secs(60), || {
        peer.request("GET", "/version", &[("Authorization", &auth)], None)
            .status
            == 200
    });
    assert!(
        peer.output().contains("tripped off"),
        "the trip is logged:\n{}",
        peer.output_tail()
    );

    // `pinfold plugin run` shows the same failure without a daemon
    let input = peer.scratch().join("trap.json");
    std::fs::write(&input, r#"{"method":"GET","path":"/trap"}"#).unwrap();
    let fixture = peer.config_dir().join("fixture-authz.wasm");
    let run = plugin_run(&fixture, &input);
    assert_eq!(
        run.status.and_then(|s| s.code()),
        Some(2),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("plugin failed: trap"),
        "{}",
        run.describe()
    );
    assert!(run.stdout.contains("\"deny\""), "{}", run.describe());
    std::fs::write(
        &input,
        r#"{"method":"GET","path":"/id","authorization":"Basic YWRtaW46cHc="}"#,
    )
    .unwrap();
    let run = plugin_run(&fixture, &input);
    assert!(run.success(), "{}", run.describe());
    assert!(
        run.stdout
            .contains(r#"{"allow":{"principal":"admin","tenant":null}}"#),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("time: ") && run.stdout.contains("peak memory: "),
        "{}",
        run.describe()
    );
}

/// A plugin that cannot be loaded stops the daemon at start, naming the key.
#[test]
fn a_bad_plugin_stops_the_start_and_names_the_key() {
    let peer = ClusterPeer::init(|s| {
        s["plugins"] = json!({"cors": {"path": "missing.wasm"}});
    });
    let run = support::run_with_deadline(
        std::process::Command::new(support::pinfold_bin())
            .args(["daemon", "-c"])
            .arg(peer.config_dir()),
        support::cluster::START_DEADLINE,
    );
    assert!(!run.success(), "{}", run.describe());
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("plugins.cors") && all.contains("missing.wasm"),
        "{}",
        run.describe()
    );
    assert!(!all.contains("IPFS Cluster is READY"), "{}", run.describe());
}
