use super::*;
use pinfold_plugin_sdk::host::testing;
use pinfold_plugin_sdk::types::{BasicCredentials, RemotePeer};

const NOW: i64 = 1_800_000_000;
const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn sha_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn config() -> String {
    let mut salted = b"pepper".to_vec();
    salted.extend_from_slice(b"builder");
    serde_json::json!({
        "basic_auth_credentials": {
            "alice": format!("sha256:{}", sha_hex(b"wonderland")),
            "bob": format!("sha256-salted:{}:{}", "706570706572", sha_hex(&salted)),
        },
        "tokens": { "keys": { "k1": KEY_HEX }, "revoked": ["revoked-1"] }
    })
    .to_string()
}

fn plugin() -> DefaultAuthz {
    testing::set_now_unix_seconds(NOW);
    DefaultAuthz::init(&config()).unwrap()
}

fn key() -> Vec<u8> {
    from_hex(KEY_HEX).unwrap()
}

fn token_for(iss: &str, jti: &str, exp: i64) -> String {
    token::sign(
        "k1",
        &key(),
        &token::Claims {
            iss: iss.into(),
            iat: NOW - 10,
            exp,
            jti: jti.into(),
            ten: None,
        },
    )
    .unwrap()
}

fn basic(u: &str, p: &str) -> Credentials {
    Credentials::Basic(BasicCredentials {
        user: u.into(),
        password: p.into(),
    })
}

fn req(endpoint: EndpointKind, method: &str, path: &str, c: Credentials) -> AuthzRequest {
    let mut r = AuthzRequest::new(endpoint, method, path);
    r.credentials = c;
    r
}

fn challenge_of(d: &Decision) -> (String, Vec<String>) {
    match d {
        Decision::Challenge(c) => (c.reason.clone(), c.www_authenticate.clone()),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

const BASIC_CHALLENGE: &str = r#"Basic realm="Restricted IPFS Cluster API""#;
const BEARER_CHALLENGE: &str = r#"Bearer realm="Restricted IPFS Cluster API""#;
const INVALID_TOKEN_CHALLENGE: &str =
    r#"Bearer realm="Restricted IPFS Cluster API", error="invalid_token""#;

/// Every REST route of IPFS Cluster (method, path) that is not exempt.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/id"),
    ("GET", "/version"),
    ("GET", "/peers"),
    ("POST", "/peers"),
    (
        "DELETE",
        "/peers/QmXZrtE5jQwXNqCJMfHUTQkvhQ4ZAnqMnmzFMJfLewuabc",
    ),
    ("POST", "/add"),
    ("GET", "/allocations"),
    (
        "GET",
        "/allocations/QmP63DkAFEnDYNjDYBpyNDfttu1WTJF6sWG8E8jqWgGpB7",
    ),
    ("GET", "/pins"),
    (
        "GET",
        "/pins/QmP63DkAFEnDYNjDYBpyNDfttu1WTJF6sWG8E8jqWgGpB7",
    ),
    (
        "POST",
        "/pins/QmP63DkAFEnDYNjDYBpyNDfttu1WTJF6sWG8E8jqWgGpB7",
    ),
    (
        "DELETE",
        "/pins/QmP63DkAFEnDYNjDYBpyNDfttu1WTJF6sWG8E8jqWgGpB7",
    ),
    (
        "POST",
        "/pins/ipfs/QmP63DkAFEnDYNjDYBpyNDfttu1WTJF6sWG8E8jqWgGpB7/a",
    ),
    ("POST", "/pins/recover"),
    (
        "POST",
        "/pins/QmP63DkAFEnDYNjDYBpyNDfttu1WTJF6sWG8E8jqWgGpB7/recover",
    ),
    ("GET", "/monitor/metrics"),
    ("GET", "/monitor/metrics/freespace"),
    ("GET", "/health/alerts"),
    ("GET", "/health/graph"),
    ("GET", "/health/bandwidth"),
    ("POST", "/ipfs/gc"),
    ("POST", "/token"),
    ("POST", "/health"),
    ("HEAD", "/health"),
    ("GET", "/nonexistent"),
];

#[test]
fn rest_matrix() {
    let p = plugin();
    let good_token = token_for("alice", "t-1", NOW + 3600);
    let expired = token_for("alice", "t-2", NOW - 1);
    let revoked = token_for("alice", "revoked-1", NOW + 3600);
    for endpoint in [EndpointKind::Rest, EndpointKind::Libp2pApi] {
        for (method, path) in ROUTES {
            let d = |c| p.authorize(&req(endpoint, method, path, c));
            let (why, ch) = challenge_of(&d(Credentials::None));
            assert_eq!(why, "unauthorized: no auth provided", "{method} {path}");
            assert_eq!(ch, vec![BEARER_CHALLENGE, BASIC_CHALLENGE]);
            for bad in [
                basic("carol", "wonderland"),
                basic("alice", "builder"),
                basic("alice", ""),
                basic("", "wonderland"),
                basic("bob", "pepperbuilder"),
            ] {
                let (why, ch) = challenge_of(&d(bad.clone()));
                assert_eq!(why, "unauthorized: access denied", "{bad:?}");
                assert_eq!(ch, vec![BASIC_CHALLENGE]);
            }
            assert_eq!(d(basic("alice", "wonderland")), Decision::allow_as("alice"));
            assert_eq!(d(basic("bob", "builder")), Decision::allow_as("bob"));
            assert_eq!(
                d(Credentials::Bearer(good_token.clone())),
                Decision::allow_as("alice")
            );
            for bad in [&expired, &revoked, &"garbage".to_string()] {
                let (why, ch) = challenge_of(&d(Credentials::Bearer(bad.clone())));
                assert_eq!(why, "unauthorized: invalid token");
                assert_eq!(ch, vec![INVALID_TOKEN_CHALLENGE]);
            }
        }
        // exempt: every OPTIONS, and GET /health only
        for path in ["/pins", "/health", "/id", "/nonexistent"] {
            assert!(
                p.authorize(&req(endpoint, "OPTIONS", path, Credentials::None))
                    .is_allow()
            );
        }
        assert!(
            p.authorize(&req(endpoint, "GET", "/health", Credentials::None))
                .is_allow()
        );
        assert!(
            !p.authorize(&req(endpoint, "GET", "/health/", Credentials::None))
                .is_allow()
        );
    }
}

#[test]
fn other_authorization_values() {
    let p = plugin();
    let d = |raw: &str| {
        p.authorize(&req(
            EndpointKind::Rest,
            "GET",
            "/id",
            Credentials::Other(raw.into()),
        ))
    };
    // a Basic value that decodes (to bytes that are not UTF-8): Go's verifyBasicAuth fails
    let non_utf8 = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(b"alice:\xff\xfe")
    );
    assert_eq!(challenge_of(&d(&non_utf8)).0, "unauthorized: access denied");
    // not base64, no colon, or another scheme: no auth
    for raw in ["Basic !!!", "Basic YWxpY2U=", "Digest x", "Token abc"] {
        assert_eq!(
            challenge_of(&d(raw)).0,
            "unauthorized: no auth provided",
            "{raw}"
        );
    }
}

#[test]
fn tokens_bound_to_users_and_tenants() {
    let p = plugin();
    // a validly signed token of a user that is no longer configured
    let t = token_for("mallory", "t-9", NOW + 60);
    let d = p.authorize(&req(
        EndpointKind::Rest,
        "GET",
        "/pins",
        Credentials::Bearer(t),
    ));
    assert_eq!(challenge_of(&d).0, "unauthorized: invalid token");
    // tenant carried to the grant
    let t = token::sign(
        "k1",
        &key(),
        &token::Claims {
            iss: "bob".into(),
            iat: NOW,
            exp: NOW + 60,
            jti: "t-10".into(),
            ten: Some("acme".into()),
        },
    )
    .unwrap();
    assert_eq!(
        p.authorize(&req(
            EndpointKind::Rest,
            "GET",
            "/pins",
            Credentials::Bearer(t)
        )),
        Decision::Allow(Grant {
            principal: Some("bob".into()),
            tenant: Some("acme".into())
        })
    );
    // the refusal reason is logged, never the token
    let logs = testing::take_logs();
    assert!(
        logs.iter().any(|(_, m)| m.contains("not a user")),
        "{logs:?}"
    );
}

#[test]
fn open_when_unconfigured() {
    testing::set_now_unix_seconds(NOW);
    for cfg in ["", "{}", r#"{"basic_auth_credentials":null}"#] {
        let p = DefaultAuthz::init(cfg).unwrap();
        for e in [
            EndpointKind::Rest,
            EndpointKind::Libp2pApi,
            EndpointKind::IpfsProxy,
        ] {
            for (m, path) in ROUTES {
                assert_eq!(
                    p.authorize(&req(e, m, path, Credentials::None)),
                    Decision::allow_anonymous()
                );
            }
        }
        // the pinning service never is
        let d = p.authorize(&req(
            EndpointKind::PinningService,
            "GET",
            "/pins",
            Credentials::None,
        ));
        assert_eq!(challenge_of(&d).1, vec![BEARER_CHALLENGE]);
    }
}

#[test]
fn ipfs_proxy_with_its_own_credentials() {
    let p = plugin();
    // REST credentials do not protect the proxy
    assert!(
        p.authorize(&req(
            EndpointKind::IpfsProxy,
            "POST",
            "/api/v0/pin/add",
            Credentials::None
        ))
        .is_allow()
    );
    let cfg = serde_json::json!({
        "ipfs_proxy_credentials": { "ops": format!("sha256:{}", sha_hex(b"s3cret")) },
        "tokens": { "keys": { "k1": KEY_HEX } }
    });
    let p = DefaultAuthz::init(&cfg.to_string()).unwrap();
    let d = |c| p.authorize(&req(EndpointKind::IpfsProxy, "POST", "/api/v0/pin/add", c));
    assert_eq!(
        challenge_of(&d(Credentials::None)).0,
        "unauthorized: no auth provided"
    );
    assert_eq!(d(basic("ops", "s3cret")), Decision::allow_as("ops"));
    assert_eq!(
        challenge_of(&d(basic("alice", "wonderland"))).0,
        "unauthorized: access denied"
    );
    assert_eq!(
        d(Credentials::Bearer(token_for("ops", "p1", NOW + 5))),
        Decision::allow_as("ops")
    );
    assert_eq!(
        challenge_of(&d(Credentials::Bearer(token_for("alice", "p2", NOW + 5)))).0,
        "unauthorized: invalid token"
    );
    // REST is open in this configuration
    assert!(
        p.authorize(&req(
            EndpointKind::Rest,
            "POST",
            "/pins/x",
            Credentials::None
        ))
        .is_allow()
    );
}

#[test]
fn pinning_service_requires_a_bearer_token() {
    let p = plugin();
    let d = |m: &str, c| p.authorize(&req(EndpointKind::PinningService, m, "/pins", c));
    assert!(d("OPTIONS", Credentials::None).is_allow());
    assert_eq!(
        d("GET", Credentials::Bearer(token_for("alice", "x", NOW + 9))),
        Decision::allow_as("alice")
    );
    let (why, ch) = challenge_of(&d("GET", Credentials::None));
    assert_eq!(
        (why.as_str(), ch),
        (
            "unauthorized: no auth provided",
            vec![BEARER_CHALLENGE.to_string()]
        )
    );
    let (why, _) = challenge_of(&d("POST", basic("alice", "wonderland")));
    assert_eq!(why, "unauthorized: a bearer token is required");
    for t in [
        token_for("alice", "x", NOW - 1),
        token_for("alice", "revoked-1", NOW + 9),
    ] {
        assert_eq!(
            challenge_of(&d("GET", Credentials::Bearer(t))).0,
            "unauthorized: invalid token"
        );
    }
    // without keys no token is valid
    let p = DefaultAuthz::init("{}").unwrap();
    let d = p.authorize(&req(
        EndpointKind::PinningService,
        "GET",
        "/pins",
        Credentials::Bearer(token_for("alice", "x", NOW + 9)),
    ));
    assert_eq!(challenge_of(&d).0, "unauthorized: invalid token");
}

fn rpc(op: &str, trust: Option<PeerTrust>) -> AuthzRequest {
    let mut r = AuthzRequest::new(EndpointKind::ClusterRpc, "", "");
    r.operation = op.into();
    r.remote_peer = trust.map(|trust| RemotePeer {
        id: "12D3KooWGHTKzeT4KaLGLrbKKyT8zKrBPXAUBRzCAN6ZMDMo4M6M".into(),
        trust,
    });
    r
}

#[test]
fn rpc_table_matches_ipfs_cluster() {
    assert_eq!(RPC_POLICY_LEN, rpc_policy::RPC_POLICY.len());
    assert!(
        rpc_policy::RPC_POLICY.windows(2).all(|w| w[0].0 < w[1].0),
        "sorted, unique"
    );
    let open: Vec<_> = rpc_policy::RPC_POLICY
        .iter()
        .filter(|(_, a)| *a == RpcAccess::Open)
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(
        open,
        [
            "Cluster.ID",
            "Cluster.IDStream",
            "Cluster.PeerAdd",
            "Cluster.Version"
        ]
    );
    let mut trusted: Vec<_> = rpc_policy::RPC_POLICY
        .iter()
        .filter(|(_, a)| *a == RpcAccess::Trusted)
        .map(|(n, _)| *n)
        .collect();
    trusted.sort();
    let mut expected = vec![
        "Cluster.PeerRemove",
        "Cluster.Peers",
        "Cluster.RecoverAllLocal",
        "Cluster.RecoverLocal",
        "Cluster.RepoGCLocal",
        "PinTracker.Recover",
        "PinTracker.Status",
        "PinTracker.StatusAll",
        "IPFSConnector.BlockStream",
        "IPFSConnector.RepoStat",
        "IPFSConnector.SwarmPeers",
        "Consensus.AddPeer",
        "Consensus.LogPin",
        "Consensus.LogUnpin",
        "Consensus.RmPeer",
        // Pinfold's own
        "Consensus.Raft",
        "Cluster.Metrics",
    ];
    expected.sort();
    assert_eq!(trusted, expected);
}

const RPC_POLICY_LEN: usize = 57; // Go's 55 + Pinfold's 2

#[test]
fn rpc_decisions() {
    let p = plugin();
    for (op, access) in rpc_policy::RPC_POLICY {
        let local = p.authorize(&rpc(op, Some(PeerTrust::Local)));
        let trusted = p.authorize(&rpc(op, Some(PeerTrust::Trusted)));
        let untrusted = p.authorize(&rpc(op, Some(PeerTrust::Untrusted)));
        assert!(local.is_allow(), "{op}: local calls are never checked");
        assert_eq!(
            trusted.is_allow(),
            *access != RpcAccess::Closed,
            "{op} trusted"
        );
        assert_eq!(
            untrusted.is_allow(),
            *access == RpcAccess::Open,
            "{op} untrusted"
        );
    }
    assert_eq!(
        p.authorize(&rpc("Cluster.Pin", Some(PeerTrust::Trusted))),
        Decision::deny(
            403,
            "client does not have permissions to this method, service name: Cluster, method name: Pin"
        )
    );
    // unknown methods and calls without a peer identity are refused
    assert!(
        !p.authorize(&rpc("Cluster.Bogus", Some(PeerTrust::Trusted)))
            .is_allow()
    );
    assert!(!p.authorize(&rpc("Cluster.ID", None)).is_allow());
    // RPC rules do not depend on the HTTP credentials configuration
    let open = DefaultAuthz::init("{}").unwrap();
    assert!(
        !open
            .authorize(&rpc("Cluster.Unpin", Some(PeerTrust::Trusted)))
            .is_allow()
    );
}

#[test]
fn config_validation() {
    let bad = [
        r#"{"basic_auth_credentials":{}}"#,
        r#"{"basic_auth_credentials":{"a":"plain"}}"#,
        r#"{"basic_auth_credentials":{"a":"sha256:00"}}"#,
        r#"{"basic_auth_credentials":{"a":"sha256-salted::00"}}"#,
        r#"{"basic_auth_credentials":{"":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}}"#,
        r#"{"basic_auth_credentails":null}"#,
        r#"{"tokens":{"keys":{}}}"#,
        r#"{"tokens":{"keys":{"k":"00ff"}}}"#,
        r#"{"tokens":{"keys":{"k":"zz"}}}"#,
        r#"{"tokens":{"keys":{"k":"+0"}}}"#,
        r#"{"tokens":{"keys":{"k":"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"},"clock_skew_seconds":-1}}"#,
        "[]",
        "not json",
    ];
    for cfg in bad {
        let err = DefaultAuthz::init(cfg)
            .err()
            .unwrap_or_else(|| panic!("accepted {cfg}"));
        assert!(!err.contains("wonderland"), "{err}");
    }
    assert_eq!(
        DefaultAuthz::init(r#"{"basic_auth_credentials":{}}"#)
            .err()
            .unwrap(),
        "basic_auth_credentials should be null or have at least one entry"
    );
    let schema: serde_json::Value = serde_json::from_str(&DefaultAuthz::config_schema()).unwrap();
    assert_eq!(schema["type"], "object");
}

#[test]
fn secrets_stay_out_of_debug() {
    let c = basic("alice", "wonderland");
    assert!(!format!("{c:?}").contains("wonderland"));
    let t = Credentials::Bearer("eyJsecret".into());
    assert!(!format!("{t:?}").contains("eyJsecret"));
}

/// A tiny deterministic generator (xorshift) for garbage inputs.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn string(&mut self) -> String {
        const ALPHABET: &[&str] = &[
            "a", "Z", "0", ":", ".", "=", " ", "\t", "/", "-", "_", "+", "é", "€", "\u{0}",
            "Basic ", "bearer ", "eyJ", "%2F", "*", ",",
        ];
        let len = (self.next() % 12) as usize;
        (0..len)
            .map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize])
            .collect()
    }
}

#[test]
fn garbage_never_panics_and_never_allows_without_credentials() {
    let p = plugin();
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let endpoints = [
        EndpointKind::Rest,
        EndpointKind::PinningService,
        EndpointKind::IpfsProxy,
        EndpointKind::Libp2pApi,
        EndpointKind::ClusterRpc,
    ];
    for i in 0..20_000u64 {
        let endpoint = endpoints[(i % 5) as usize];
        let credentials = match g.next() % 4 {
            0 => Credentials::None,
            1 => basic(&g.string(), &g.string()),
            2 => Credentials::Bearer(g.string()),
            _ => Credentials::Other(g.string()),
        };
        let mut r = req(endpoint, &g.string(), &g.string(), credentials);
        r.operation = g.string();
        if g.next().is_multiple_of(2) {
            r.remote_peer = Some(RemotePeer {
                id: g.string(),
                trust: PeerTrust::Untrusted,
            });
        }
        let exempt = r.method == "OPTIONS" || (r.method == "GET" && r.path == "/health");
        let d = p.authorize(&r);
        if d.is_allow() && endpoint != EndpointKind::IpfsProxy {
            assert!(exempt, "allowed garbage: {r:?}");
        }
    }
}
