//! Tests of the configuration module as a whole: defaults against the reference, Go-written
//! files, omitted keys, validation, environment, saving, file modes, init, identity, lock.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;

const SECRET: &str = "2588b80d5cb05374fa142aed6cbb047d1f4ef8ef15e37eba68c65b9d30df67ed";

fn no_env(_: &str) -> Option<String> {
    None
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A minimal valid file with `extra` merged into it (objects merged one level deep).
fn with(extra: Value) -> String {
    let mut base = json!({"cluster": {"secret": SECRET}, "consensus": {"raft": {}}});
    for (k, v) in extra.as_object().unwrap() {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(e)) => {
                for (k2, v2) in e {
                    b.insert(k2.clone(), v2.clone());
                }
            }
            _ => {
                base.as_object_mut().unwrap().insert(k.clone(), v.clone());
            }
        }
    }
    base.to_string()
}

fn load(extra: Value) -> Result<Loaded, ConfigError> {
    ServiceConfig::from_json_str(&with(extra))
}

fn err(extra: Value) -> String {
    load(extra).expect_err("must be refused").to_string()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

// ---------------------------------------------------------------------------------------------
// defaults

/// Key sets of ipfs-cluster.md §2.8b (crdt replaced by raft §2.7, datastore dropped, Pinfold's
/// `ipfs_node` added).
#[test]
fn default_json_has_the_reference_sections_and_keys() {
    let cfg = ServiceConfig::generate();
    let text = cfg.to_json();
    let v: Value = serde_json::from_str(&text).unwrap();

    assert_eq!(
        keys(&v),
        set(&[
            "cluster",
            "consensus",
            "api",
            "ipfs_connector",
            "ipfs_node",
            "pin_tracker",
            "monitor",
            "allocator",
            "informer",
            "observations",
        ])
    );
    // Go's top-level order, ipfs_node after ipfs_connector.
    let order = [
        "\"cluster\"",
        "\"consensus\"",
        "\"api\"",
        "\"ipfs_connector\"",
        "\"ipfs_node\"",
        "\"pin_tracker\"",
        "\"monitor\"",
        "\"allocator\"",
        "\"informer\"",
        "\"observations\"",
    ];
    let pos: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{pos:?}");

    let cluster = &v["cluster"];
    assert_eq!(
        keys(cluster),
        set(&[
            "peername",
            "secret",
            "leave_on_shutdown",
            "listen_multiaddress",
            "announce_multiaddress",
            "no_announce_multiaddress",
            "enable_relay_hop",
            "connection_manager",
            "resource_manager",
            "pubsub",
            "dial_peer_timeout",
            "state_sync_interval",
            "pin_recover_interval",
            "replication_factor_min",
            "replication_factor_max",
            "monitor_ping_interval",
            "peer_watch_interval",
            "mdns_interval",
            "pin_only_on_trusted_peers",
            "pin_only_on_untrusted_peers",
            "disable_repinning",
            "peer_addresses",
        ])
    );
    assert_eq!(
        keys(&cluster["connection_manager"]),
        set(&["high_water", "low_water", "grace_period"])
    );
    assert_eq!(
        keys(&cluster["resource_manager"]),
        set(&["enabled", "memory_limit_bytes", "file_descriptors_limit"])
    );
    assert_eq!(
        keys(&cluster["pubsub"]),
        set(&[
            "seen_messages_ttl",
            "heartbeat_interval",
            "d_factor",
            "history_gossip",
            "history_length",
            "flood_publish",
        ])
    );
    assert_eq!(
        cluster,
        &json!({
            "peername": cfg.cluster.peername, "secret": cluster["secret"], "leave_on_shutdown": false,
            "listen_multiaddress": "/ip4/0.0.0.0/tcp/9096",
            "announce_multiaddress": [], "no_announce_multiaddress": [], "enable_relay_hop": true,
            "connection_manager": {"high_water": 400, "low_water": 100, "grace_period": "2m0s"},
            "resource_manager": {"enabled": true, "memory_limit_bytes": 0, "file_descriptors_limit": 0},
            "pubsub": {"seen_messages_ttl": "30m0s", "heartbeat_interval": "10s", "d_factor": 4,
                       "history_gossip": 2, "history_length": 6, "flood_publish": false},
            "dial_peer_timeout": "3s", "state_sync_interval": "5m0s", "pin_recover_interval": "12m0s",
            "replication_factor_min": -1, "replication_factor_max": -1,
            "monitor_ping_interval": "15s", "peer_watch_interval": "5s", "mdns_interval": "0s",
            "pin_only_on_trusted_peers": false, "pin_only_on_untrusted_peers": false,
            "disable_repinning": true, "peer_addresses": []
        })
    );
    let secret = cluster["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 64);
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );

    assert_eq!(keys(&v["consensus"]), set(&["raft"]));
    assert_eq!(
        v["consensus"]["raft"],
        json!({
            "init_peerset": [], "wait_for_leader_timeout": "15s", "network_timeout": "10s",
            "commit_retries": 1, "commit_retry_delay": "200ms", "backups_rotate": 6,
            "heartbeat_timeout": "1s", "election_timeout": "1s", "commit_timeout": "50ms",
            "max_append_entries": 64, "trailing_logs": 10240, "snapshot_interval": "2m0s",
            "snapshot_threshold": 8192, "leader_lease_timeout": "500ms"
        })
    );

    assert_eq!(keys(&v["api"]), set(&["ipfsproxy", "pinsvcapi", "restapi"]));
    assert_eq!(
        v["api"]["ipfsproxy"],
        json!({"listen_multiaddress": "/ip4/127.0.0.1/tcp/9095", "node_multiaddress": "/ip4/127.0.0.1/tcp/5001",
               "log_file": "", "read_timeout": "0s", "read_header_timeout": "5s", "write_timeout": "0s",
               "idle_timeout": "1m0s", "max_header_bytes": 4096})
    );
    let restapi = json!({"http_listen_multiaddress": "/ip4/127.0.0.1/tcp/9094", "read_timeout": "0s",
        "read_header_timeout": "5s", "write_timeout": "0s", "idle_timeout": "2m0s", "max_header_bytes": 4096,
        "basic_auth_credentials": null, "http_log_file": "", "headers": {},
        "cors_allowed_origins": ["*"], "cors_allowed_methods": ["GET"], "cors_allowed_headers": [],
        "cors_exposed_headers": ["Content-Type", "X-Stream-Output", "X-Chunked-Output", "X-Content-Length"],
        "cors_allow_credentials": true, "cors_max_age": "0s"});
    assert_eq!(v["api"]["restapi"], restapi);
    let mut pinsvc = restapi.clone();
    pinsvc["http_listen_multiaddress"] = json!("/ip4/127.0.0.1/tcp/9097");
    assert_eq!(v["api"]["pinsvcapi"], pinsvc);

    assert_eq!(
        v["ipfs_connector"],
        json!({"ipfshttp": {"node_multiaddress": "/ip4/127.0.0.1/tcp/5001", "connect_swarms_delay": "30s",
            "ipfs_request_timeout": "5m0s", "pin_timeout": "2m0s", "unpin_timeout": "3h0m0s",
            "repogc_timeout": "24h0m0s", "informer_trigger_interval": 0}})
    );
    assert_eq!(
        v["ipfs_node"],
        json!({"embedded": {"repo": "ipfs", "api_listen_multiaddress": "/ip4/127.0.0.1/tcp/5001",
                            "storage_max": "10GB"}})
    );
    assert_eq!(
        v["pin_tracker"],
        json!({"stateless": {"concurrent_pins": 10, "priority_pin_max_age": "24h0m0s", "priority_pin_max_retries": 5}})
    );
    assert_eq!(
        v["monitor"],
        json!({"pubsubmon": {"check_interval": "15s"}})
    );
    assert_eq!(
        v["allocator"],
        json!({"balanced": {"allocate_by": ["tag:group", "freespace"]}})
    );
    assert_eq!(
        v["informer"],
        json!({"disk": {"metric_ttl": "30s", "metric_type": "freespace"},
               "pinqueue": {"metric_ttl": "30s", "weight_bucket_size": 100000},
               "tags": {"metric_ttl": "30s", "tags": {"group": "default"}}})
    );
    assert_eq!(
        v["observations"],
        json!({"metrics": {"enable_stats": false, "prometheus_endpoint": "/ip4/127.0.0.1/tcp/8888",
                           "reporting_interval": "30s"},
               "tracing": {"enable_tracing": false, "jaeger_agent_endpoint": "/ip4/0.0.0.0/udp/6831",
                           "sampling_prob": 0.3, "service_name": "cluster-daemon"}})
    );
    // Within a section, Go's struct order.
    let c = &text[text.find("\"cluster\"").unwrap()..text.find("\"consensus\"").unwrap()];
    let fields = [
        "\"peername\"",
        "\"secret\"",
        "\"leave_on_shutdown\"",
        "\"listen_multiaddress\"",
        "\"mdns_interval\"",
        "\"peer_addresses\"",
    ];
    let pos: Vec<usize> = fields.iter().map(|k| c.find(k).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{pos:?}");
    assert!(
        text.starts_with("{\n  \"cluster\": {\n    \"peername\""),
        "2-space indentation"
    );
}

#[test]
fn default_round_trips_without_warnings() {
    let cfg = ServiceConfig::generate();
    let loaded = ServiceConfig::from_json_str(&cfg.to_json()).unwrap();
    assert_eq!(loaded.config, cfg);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.config.to_json(), cfg.to_json());
    assert_eq!(
        cfg.ipfs_api_multiaddress().to_string(),
        "/ip4/127.0.0.1/tcp/5001"
    );
}

// ---------------------------------------------------------------------------------------------
// files written by IPFS Cluster

/// §2.8b as `ipfs-cluster-service init --consensus raft` writes it (raft keys of §2.7).
const GO_RAFT_CONFIG: &str = r#"{
  "cluster": {
    "peername": "go-peer",
    "secret": "2588b80d5cb05374fa142aed6cbb047d1f4ef8ef15e37eba68c65b9d30df67ed",
    "leave_on_shutdown": false,
    "listen_multiaddress": ["/ip4/0.0.0.0/tcp/9096", "/ip4/0.0.0.0/udp/9096/quic"],
    "announce_multiaddress": [], "no_announce_multiaddress": [], "enable_relay_hop": true,
    "connection_manager": {"high_water": 400, "low_water": 100, "grace_period": "2m0s"},
    "resource_manager": {"enabled": true, "memory_limit_bytes": 0, "file_descriptors_limit": 0},
    "pubsub": {"seen_messages_ttl": "30m0s", "heartbeat_interval": "10s", "d_factor": 4,
               "history_gossip": 2, "history_length": 6, "flood_publish": false},
    "dial_peer_timeout": "3s", "state_sync_interval": "5m0s", "pin_recover_interval": "12m0s",
    "replication_factor_min": -1, "replication_factor_max": -1,
    "monitor_ping_interval": "15s", "peer_watch_interval": "5s", "mdns_interval": "10s",
    "pin_only_on_trusted_peers": false, "pin_only_on_untrusted_peers": false,
    "disable_repinning": true, "peer_addresses": []
  },
  "consensus": {"raft": {
    "init_peerset": [], "wait_for_leader_timeout": "15s", "network_timeout": "10s",
    "commit_retries": 1, "commit_retry_delay": "200ms", "backups_rotate": 6,
    "heartbeat_timeout": "1s", "election_timeout": "1s", "commit_timeout": "50ms",
    "max_append_entries": 64, "trailing_logs": 10240, "snapshot_interval": "2m0s",
    "snapshot_threshold": 8192, "leader_lease_timeout": "500ms"}},
  "api": {
    "ipfsproxy": {"listen_multiaddress": "/ip4/127.0.0.1/tcp/9095", "node_multiaddress": "/ip4/127.0.0.1/tcp/5001",
      "log_file": "", "read_timeout": "0s", "read_header_timeout": "5s", "write_timeout": "0s",
      "idle_timeout": "1m0s", "max_header_bytes": 4096},
    "pinsvcapi": {"http_listen_multiaddress": "/ip4/127.0.0.1/tcp/9097", "read_timeout": "0s",
      "read_header_timeout": "5s", "write_timeout": "0s", "idle_timeout": "2m0s", "max_header_bytes": 4096,
      "basic_auth_credentials": null, "http_log_file": "", "headers": {},
      "cors_allowed_origins": ["*"], "cors_allowed_methods": ["GET"], "cors_allowed_headers": [],
      "cors_exposed_headers": ["Content-Type", "X-Stream-Output", "X-Chunked-Output", "X-Content-Length"],
      "cors_allow_credentials": true, "cors_max_age": "0s"},
    "restapi": {"http_listen_multiaddress": "/ip4/127.0.0.1/tcp/9094", "read_timeout": "0s",
      "read_header_timeout": "5s", "write_timeout": "0s", "idle_timeout": "2m0s", "max_header_bytes": 4096,
      "basic_auth_credentials": null, "http_log_file": "", "headers": {},
      "cors_allowed_origins": ["*"], "cors_allowed_methods": ["GET"], "cors_allowed_headers": [],
      "cors_exposed_headers": ["Content-Type", "X-Stream-Output", "X-Chunked-Output", "X-Content-Length"],
      "cors_allow_credentials": true, "cors_max_age": "0s"}
  },
  "ipfs_connector": {"ipfshttp": {"node_multiaddress": "/ip4/127.0.0.1/tcp/5001", "connect_swarms_delay": "30s",
      "ipfs_request_timeout": "5m0s", "pin_timeout": "2m0s", "unpin_timeout": "3h0m0s",
      "repogc_timeout": "24h0m0s", "informer_trigger_interval": 0}},
  "pin_tracker": {"stateless": {"concurrent_pins": 10, "priority_pin_max_age": "24h0m0s", "priority_pin_max_retries": 5}},
  "monitor": {"pubsubmon": {"check_interval": "15s"}},
  "allocator": {"balanced": {"allocate_by": ["tag:group", "freespace"]}},
  "informer": {"disk": {"metric_ttl": "30s", "metric_type": "freespace"},
               "pinqueue": {"metric_ttl": "30s", "weight_bucket_size": 100000},
               "tags": {"metric_ttl": "30s", "tags": {"group": "default"}}},
  "observations": {"metrics": {"enable_stats": false, "prometheus_endpoint": "/ip4/127.0.0.1/tcp/8888",
                               "reporting_interval": "30s"},
                   "tracing": {"enable_tracing": false, "jaeger_agent_endpoint": "/ip4/0.0.0.0/udp/6831",
                               "sampling_prob": 0.3, "service_name": "cluster-daemon"}}
}"#;

#[test]
fn go_generated_raft_config_loads_and_round_trips() {
    let Loaded {
        config: c,
        warnings,
    } = ServiceConfig::from_json_str(GO_RAFT_CONFIG).unwrap();
    assert_eq!(c.cluster.peername, "go-peer");
    assert_eq!(c.cluster.secret.as_ref().unwrap().expose_hex(), SECRET);
    assert_eq!(c.cluster.listen_multiaddress.len(), 2);
    assert_eq!(c.cluster.mdns_interval, Duration::from_secs(10));
    assert!(c.api.restapi.is_some() && c.api.pinsvcapi.is_some() && c.api.ipfsproxy.is_some());
    assert!(
        c.ipfs_node.embedded.is_none(),
        "a Go file uses the external Kubo"
    );
    assert_eq!(
        c.ipfs_api_multiaddress().to_string(),
        "/ip4/127.0.0.1/tcp/5001"
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("/udp/9096/quic") && warnings[0].contains("QUIC"),
        "{warnings:?}"
    );
    // Written back: the same JSON values as Go's (single-element lists as strings included).
    let ours: Value = serde_json::from_str(&c.to_json()).unwrap();
    let go: Value = serde_json::from_str(GO_RAFT_CONFIG).unwrap();
    assert_eq!(ours, go);
}

#[test]
fn go_crdt_config_is_refused_clearly() {
    let mut go: Value = serde_json::from_str(GO_RAFT_CONFIG).unwrap();
    go["consensus"] = json!({"crdt": {"cluster_name": "ipfs-cluster", "trusted_peers": ["*"],
        "batching": {"max_batch_size": 0, "max_batch_age": "0s"}, "repair_interval": "1h0m0s"}});
    go["datastore"] = json!({"pebble": {}});
    let e = ServiceConfig::from_json_str(&go.to_string()).unwrap_err();
    assert!(matches!(e, ConfigError::CrdtNotSupported { .. }));
    let msg = e.to_string();
    assert!(
        msg.starts_with("consensus.crdt: Pinfold only implements raft consensus"),
        "{msg}"
    );

    // Next to a raft section, crdt is ignored with a warning and kept when saving.
    go["consensus"]["raft"] = json!({});
    let loaded = ServiceConfig::from_json_str(&go.to_string()).unwrap();
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.starts_with("consensus.crdt ignored")),
        "{:?}",
        loaded.warnings
    );
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.starts_with("datastore section ignored"))
    );
    let back: Value = serde_json::from_str(&loaded.config.to_json()).unwrap();
    assert_eq!(back["consensus"]["crdt"]["cluster_name"], "ipfs-cluster");
}

/// `sharness/config/basic_auth/service.json` of IPFS Cluster: an old partial config.
const SHARNESS_BASIC_AUTH: &str = r#"{
  "cluster": {
    "peername": "testname",
    "secret": "84399cd0be811c2ca372d6ca473ffd73c09034f991c5e306fe9ada6c5fcfb641",
    "leave_on_shutdown": false,
    "listen_multiaddress": ["/ip4/0.0.0.0/tcp/9096", "/ip6/::/tcp/9096"],
    "state_sync_interval": "1m0s",
    "replication_factor": -1,
    "monitor_ping_interval": "15s"
  },
  "consensus": {"raft": {"heartbeat_timeout": "1s", "election_timeout": "1s", "commit_timeout": "50ms",
      "max_append_entries": 64, "trailing_logs": 10240, "snapshot_interval": "2m0s",
      "snapshot_threshold": 8192, "leader_lease_timeout": "500ms"}},
  "api": {
    "ipfsproxy": {"listen_multiaddress": "/ip4/127.0.0.1/tcp/9095", "node_multiaddress": "/ip4/127.0.0.1/tcp/5001",
      "read_timeout": "10m0s", "read_header_timeout": "5s", "write_timeout": "10m0s", "idle_timeout": "1m0s"},
    "restapi": {"ssl_cert_file": "", "ssl_key_file": "", "http_listen_multiaddress": "/ip4/127.0.0.1/tcp/9094",
      "read_timeout": "30s", "read_header_timeout": "5s", "write_timeout": "1m0s", "idle_timeout": "2m0s",
      "basic_auth_credentials": {"testuser": "testpass"},
      "cors_allowed_origins": ["*"], "cors_allowed_methods": ["GET"], "cors_allowed_headers": [],
      "cors_exposed_headers": ["Content-Type", "X-Stream-Output", "X-Chunked-Output", "X-Content-Length"],
      "cors_allow_credentials": true, "cors_max_age": "0s"}
  },
  "ipfs_connector": {"ipfshttp": {"node_multiaddress": "/ip4/127.0.0.1/tcp/5001", "connect_swarms_delay": "30s",
      "ipfs_request_timeout": "5m0s", "pin_timeout": "0h2m0s", "unpin_timeout": "3h0m0s"}},
  "pin_tracker": {"stateless": {"max_pin_queue_size": 50000, "concurrent_pins": 10}},
  "monitor": {"monbasic": {"check_interval": "15s"}, "pubsubmon": {"check_interval": "15s"}},
  "informer": {"disk": {"metric_ttl": "30s", "metric_type": "reposize"}, "numpin": {"metric_ttl": "10s"}}
}"#;

#[test]
fn sharness_partial_config_loads_with_defaults_and_warnings() {
    let Loaded {
        config: c,
        warnings,
    } = ServiceConfig::from_json_str(SHARNESS_BASIC_AUTH).unwrap();
    let w: BTreeSet<&str> = warnings.iter().map(String::as_str).collect();
    assert_eq!(
        w,
        BTreeSet::from([
            "unknown configuration key cluster.replication_factor ignored",
            "unknown configuration key monitor.monbasic ignored",
            "unknown configuration key informer.numpin ignored",
        ])
    );
    assert_eq!(c.cluster.state_sync_interval, Duration::from_secs(60));
    assert!(c.cluster.disable_repinning, "omitted → default true");
    assert!(c.cluster.enable_relay_hop);
    assert_eq!(c.cluster.replication_factor_min, -1);
    assert_eq!(
        c.ipfs_connector.ipfshttp.pin_timeout,
        Duration::from_secs(120)
    );
    assert_eq!(
        c.ipfs_connector.ipfshttp.repogc_timeout,
        Duration::from_secs(24 * 3600)
    );
    assert_eq!(c.pin_tracker.stateless.max_pin_queue_size, 50000);
    assert_eq!(c.pin_tracker.stateless.priority_pin_max_retries, 5);
    let rest = c.api.restapi.as_ref().unwrap();
    assert_eq!(
        rest.basic_auth_credentials
            .as_ref()
            .unwrap()
            .password("testuser"),
        Some("testpass")
    );
    assert_eq!(rest.max_header_bytes, 4096);
    assert_eq!(rest.write_timeout, Duration::from_secs(60));
    assert!(rest.headers.is_empty());
    assert!(c.api.pinsvcapi.is_none(), "absent section = component off");
    assert_eq!(
        c.api.ipfsproxy.as_ref().unwrap().read_timeout,
        Duration::from_secs(600)
    );
    assert_eq!(
        c.informer.disk.as_ref().unwrap().metric_type,
        DiskMetricType::Reposize
    );
    assert!(c.informer.tags.is_none() && c.informer.pinqueue.is_none());
    assert_eq!(
        c.allocate_by(),
        vec!["freespace".to_string()],
        "no allocator section = freespace"
    );
    assert_eq!(
        c.observations.metrics.reporting_interval,
        Duration::from_secs(30)
    );

    // The ssl variant: legacy identity keys in `cluster` are known, TLS files kept.
    let mut ssl: Value = serde_json::from_str(SHARNESS_BASIC_AUTH).unwrap();
    ssl["cluster"]["id"] = json!("QmdEtBsfumeH2V6dnx1fgn8zuW7XYjWdgJF4NEYpEBcTsg");
    ssl["cluster"]["private_key"] = json!("CAASqAkwggSkAgEAAoIBAQC/ZmfWDbwyI0nJdRxg");
    ssl["api"]["restapi"]["ssl_cert_file"] = json!("server.crt");
    ssl["api"]["restapi"]["ssl_key_file"] = json!("server.key");
    ssl["api"]["restapi"]["basic_auth_credentials"] =
        json!({"testuser": "testpass", "userwithoutpass": ""});
    let loaded = ServiceConfig::from_json_str(&ssl.to_string()).unwrap();
    assert_eq!(loaded.warnings.len(), 3, "{:?}", loaded.warnings);
    let rest = loaded.config.api.restapi.unwrap();
    assert_eq!(
        (rest.ssl_cert_file.as_str(), rest.ssl_key_file.as_str()),
        ("server.crt", "server.key")
    );
    assert_eq!(rest.basic_auth_credentials.unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// omitted keys

#[test]
fn omitted_keys_take_their_defaults() {
    let c = load(json!({"api": {"restapi": {}, "pinsvcapi": {"http_listen_multiaddress": []}}}))
        .unwrap()
        .config;
    assert!(c.cluster.disable_repinning, "Go would make it false");
    assert!(!c.cluster.leave_on_shutdown);
    assert!(c.cluster.enable_relay_hop, "Go would make it false");
    assert_eq!(c.cluster.peername, ClusterConfig::default().peername);
    let rest = c.api.restapi.unwrap();
    assert_eq!(
        rest,
        RestApiConfig::restapi_default(),
        "every restapi key defaulted"
    );
    assert_eq!(rest.cors_allowed_origins, vec!["*"]);
    assert_eq!(rest.cors_allowed_methods, vec!["GET"]);
    assert!(rest.cors_allow_credentials);
    assert_eq!(rest.cors_exposed_headers.len(), 4);
    assert!(rest.headers.is_empty());
    assert_eq!(
        c.api.pinsvcapi.unwrap(),
        RestApiConfig::pinsvcapi_default(),
        "empty listen list keeps default"
    );

    // null is "omitted" too, except for basic_auth_credentials where it is the value.
    let c = load(json!({"cluster": {"disable_repinning": null, "peername": ""}}))
        .unwrap()
        .config;
    assert!(c.cluster.disable_repinning);
    assert!(!c.cluster.peername.is_empty() || ClusterConfig::default().peername.is_empty());

    // Explicit values win.
    let c = load(json!({
        "cluster": {"disable_repinning": false, "leave_on_shutdown": true},
        "api": {"restapi": {"cors_allowed_methods": ["GET", "POST"], "cors_allow_credentials": false,
                            "headers": {"X-A": ["1", "2"]}, "cors_allowed_origins": []}}
    }))
    .unwrap()
    .config;
    assert!(!c.cluster.disable_repinning && c.cluster.leave_on_shutdown);
    let rest = c.api.restapi.unwrap();
    assert_eq!(rest.cors_allowed_methods, vec!["GET", "POST"]);
    assert!(!rest.cors_allow_credentials);
    assert!(rest.cors_allowed_origins.is_empty());
    assert_eq!(rest.headers["X-A"], vec!["1", "2"]);

    // Absent secret: no private network, loudly.
    let loaded = ServiceConfig::from_json_str(r#"{"consensus": {"raft": {}}}"#).unwrap();
    assert!(loaded.config.cluster.secret.is_none());
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("WITHOUT a private network"))
    );
}

#[test]
fn go_zero_means_default_where_go_says_so() {
    let c = load(json!({
        "consensus": {"raft": {"backups_rotate": 0, "max_append_entries": 0}},
        "api": {"restapi": {"max_header_bytes": 0}},
        "pin_tracker": {"stateless": {"concurrent_pins": 0, "max_pin_queue_size": 0}},
        "cluster": {"state_sync_interval": ""}
    }))
    .unwrap()
    .config;
    assert_eq!(c.consensus.raft.backups_rotate, 6);
    assert_eq!(c.consensus.raft.max_append_entries, 64);
    assert_eq!(c.api.restapi.unwrap().max_header_bytes, 4096);
    assert_eq!(c.pin_tracker.stateless.concurrent_pins, 10);
    assert_eq!(c.cluster.state_sync_interval, Duration::from_secs(300));
}

// ---------------------------------------------------------------------------------------------
// validation

#[test]
fn each_validation_error_names_the_key() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"cluster": {"replication_factor_min": 0}}),
            "cluster.replication_factor_min: 0 is invalid (use -1 for everywhere, or ≥1)",
        ),
        (
            json!({"cluster": {"replication_factor_max": 0}}),
            "cluster.replication_factor_max: 0 is invalid (use -1 for everywhere, or ≥1)",
        ),
        (
            json!({"cluster": {"replication_factor_min": -2, "replication_factor_max": 3}}),
            "cluster.replication_factor_min: -2 is invalid (use -1 for everywhere, or ≥1)",
        ),
        (
            json!({"cluster": {"replication_factor_min": 3, "replication_factor_max": 2}}),
            "cluster.replication_factor_min: 3 is larger than replication_factor_max (2)",
        ),
        (
            json!({"cluster": {"replication_factor_min": -1, "replication_factor_max": 2}}),
            "cluster.replication_factor_max: 2 is invalid: replication_factor_min and replication_factor_max must both be -1 (everywhere) or both be ≥1",
        ),
        (
            json!({"cluster": {"replication_factor_min": 2}}),
            "cluster.replication_factor_min: 2 is invalid: replication_factor_min and replication_factor_max must both be -1 (everywhere) or both be ≥1",
        ),
        (
            json!({"cluster": {"pin_only_on_trusted_peers": true, "pin_only_on_untrusted_peers": true}}),
            "cluster.pin_only_on_trusted_peers: pin_only_on_trusted_peers and pin_only_on_untrusted_peers cannot both be true",
        ),
        (
            json!({"cluster": {"state_sync_interval": "2x"}}),
            "cluster.state_sync_interval: time: unknown unit \"x\" in duration \"2x\"",
        ),
        (
            json!({"cluster": {"dial_peer_timeout": "0s"}}),
            "cluster.dial_peer_timeout: 0s is invalid (must be larger than 0)",
        ),
        (
            json!({"cluster": {"listen_multiaddress": []}}),
            "cluster.listen_multiaddress: is empty",
        ),
        (
            json!({"cluster": {"connection_manager": {"low_water": 500}}}),
            "cluster.connection_manager.low_water: 500 is greater than high_water (400)",
        ),
        (
            json!({"cluster": {"pubsub": {"d_factor": 0}}}),
            "cluster.pubsub.d_factor: 0 is invalid (must be larger than 0)",
        ),
        (
            json!({"cluster": {"leave_on_shutdown": "yes"}}),
            "cluster.leave_on_shutdown: expected true or false, found a string (\"yes\")",
        ),
        (
            json!({"cluster": {"connection_manager": {"high_water": -5}}}),
            "cluster.connection_manager.high_water: -5 is invalid (must not be negative)",
        ),
        (
            json!({"api": {"restapi": {"basic_auth_credentials": {}}}}),
            "api.restapi.basic_auth_credentials: should be null or have at least one entry",
        ),
        (
            json!({"api": {"restapi": {"max_header_bytes": 1000}}}),
            "api.restapi.max_header_bytes: 1000 is invalid (must be at least 4096)",
        ),
        (
            json!({"api": {"pinsvcapi": {"ssl_cert_file": "c.pem"}}}),
            "api.pinsvcapi.ssl_key_file: missing TLS configuration: ssl_cert_file and ssl_key_file must be set together",
        ),
        (
            json!({"api": {"ipfsproxy": {"max_header_bytes": 10}}}),
            "api.ipfsproxy.max_header_bytes: 10 is invalid (must be at least 4096)",
        ),
        (
            json!({"api": {"ipfsproxy": {"node_multiaddress": "localhost:5001"}}}),
            "api.ipfsproxy.node_multiaddress: invalid multiaddress \"localhost:5001\"",
        ),
        (
            json!({"consensus": {"raft": {"leader_lease_timeout": "2s"}}}),
            "consensus.raft.leader_lease_timeout: 2s cannot be larger than heartbeat_timeout (1s)",
        ),
        (
            json!({"consensus": {"raft": {"election_timeout": "500ms", "leader_lease_timeout": "100ms"}}}),
            "consensus.raft.election_timeout: 500ms must be equal to or greater than heartbeat_timeout (1s)",
        ),
        (
            json!({"consensus": {"raft": {"max_append_entries": 2000}}}),
            "consensus.raft.max_append_entries: 2000 is invalid (must be between 1 and 1024)",
        ),
        (
            json!({"consensus": {"raft": {"wait_for_leader_timeout": "15"}}}),
            "consensus.raft.wait_for_leader_timeout: time: missing unit in duration \"15\"",
        ),
        (
            json!({"consensus": {"raft": {"init_peerset": ["nope"]}}}),
            "consensus.raft.init_peerset: [0]: invalid peer ID \"nope\"",
        ),
        (
            json!({"ipfs_node": {"embedded": {"api_listen_multiaddress": "/ip4/0.0.0.0/tcp/5001"}}}),
            "ipfs_node.embedded.api_listen_multiaddress: /ip4/0.0.0.0/tcp/5001 is not allowed",
        ),
        (
            json!({"ipfs_node": {"embedded": {"storage_max": "lots"}}}),
            "ipfs_node.embedded.storage_max: invalid size \"lots\"",
        ),
        (
            json!({"informer": {"disk": {"metric_type": "foo"}}}),
            "informer.disk.metric_type: \"foo\" is invalid (use \"freespace\" or \"reposize\")",
        ),
        (
            json!({"informer": {"tags": {"metric_ttl": "0s"}}}),
            "informer.tags.metric_ttl: 0s is invalid (must be larger than 0)",
        ),
        (
            json!({"monitor": {"pubsubmon": {"check_interval": "0s"}}}),
            "monitor.pubsubmon.check_interval: 0s is invalid (must be larger than 0)",
        ),
        (
            json!({"allocator": "balanced"}),
            "allocator: must be a JSON object, found a string",
        ),
        (
            json!({"observations": {"tracing": {"enable_tracing": true, "sampling_prob": 2.0}}}),
            "observations.tracing.sampling_prob: 2 is invalid (must be between 0 and 1)",
        ),
        (
            json!({"source": "http://example.invalid/service.json"}),
            "source: loading the configuration from a URL",
        ),
    ];
    for (extra, expected) in cases {
        let msg = err(extra.clone());
        assert!(
            msg.starts_with(expected),
            "for {extra}:\n got  {msg}\n want {expected}…"
        );
    }

    // Secrets: wrong length or not hex, never echoed.
    for bad in ["abc", "zz", &"g".repeat(64), &SECRET[..62]] {
        let msg = err(json!({"cluster": {"secret": bad}}));
        assert!(
            msg.starts_with("cluster.secret: must be 64 hexadecimal characters"),
            "{msg}"
        );
        assert!(!msg.contains(bad), "{msg}");
    }
    // Bad multiaddr in a list.
    let msg = err(
        json!({"cluster": {"listen_multiaddress": ["/ip4/0.0.0.0/tcp/9096", "/ip4/1.2.3/tcp/1"]}}),
    );
    assert!(
        msg.starts_with("cluster.listen_multiaddress: invalid multiaddress \"/ip4/1.2.3/tcp/1\""),
        "{msg}"
    );
    // A crdt-only file.
    let msg = ServiceConfig::from_json_str(r#"{"consensus": {"crdt": {}}}"#)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("Pinfold only implements raft"), "{msg}");
    // Not JSON.
    let e = ServiceConfig::from_json_str("{").unwrap_err();
    assert!(matches!(e, ConfigError::Json { .. }), "{e}");
}

#[test]
fn exposed_apis_without_auth_are_warned_about() {
    let loaded = load(json!({"api": {
        "restapi": {"http_listen_multiaddress": "/ip4/0.0.0.0/tcp/9094"},
        "pinsvcapi": {"http_listen_multiaddress": "/ip4/0.0.0.0/tcp/9097", "basic_auth_credentials": {"u": "p"}},
        "ipfsproxy": {"listen_multiaddress": ["/ip4/127.0.0.1/tcp/9095", "/ip6/::/tcp/9095"]}
    }}))
    .unwrap();
    assert_eq!(
        loaded.warnings,
        vec![
            "api.restapi listens on /ip4/0.0.0.0/tcp/9094 without basic_auth_credentials: anyone who can reach it controls the cluster",
            "api.ipfsproxy listens on /ip6/::/tcp/9095: the IPFS proxy has no authentication; anyone who can reach it controls the cluster and the IPFS node",
        ]
    );
    let folder = Path::new("/etc/pf");
    let mut rest = RestApiConfig::restapi_default();
    assert_eq!(rest.tls_files(folder), None);
    rest.ssl_cert_file = "c.pem".into();
    rest.ssl_key_file = "/abs/k.pem".into();
    assert_eq!(
        rest.tls_files(folder),
        Some((folder.join("c.pem"), "/abs/k.pem".into()))
    );
    assert_eq!(rest.http_log_path(folder), None);
}

#[test]
fn an_invalid_configuration_is_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = ServiceConfig::generate();
    c.cluster.replication_factor_min = 0;
    let e = c.write(&dir.path().join(SERVICE_JSON)).unwrap_err();
    assert_eq!(e.key(), Some("cluster.replication_factor_min"));
    assert!(!dir.path().join(SERVICE_JSON).exists());
    let e = ServiceConfig::from_json_str("[]").unwrap_err().to_string();
    assert_eq!(e, "(top level): must be a JSON object, found a list");
}

#[test]
fn restapi_libp2p_keys_all_or_none_and_matching() {
    let a = Identity::generate();
    let b = Identity::generate();
    let msg = err(json!({"api": {"restapi": {"id": a.id.to_string()}}}));
    assert_eq!(
        msg,
        "api.restapi.libp2p_listen_multiaddress: all of id, private_key and libp2p_listen_multiaddress should be set"
    );
    let msg = err(
        json!({"api": {"restapi": {"id": a.id.to_string(), "private_key": b.private_key_base64(),
                                               "libp2p_listen_multiaddress": "/ip4/127.0.0.1/tcp/9098"}}}),
    );
    assert!(
        msg.starts_with("api.restapi.id: ") && msg.ends_with("does not match private_key"),
        "{msg}"
    );
    let ok = load(json!({"api": {"restapi": {"id": a.id.to_string(), "private_key": a.private_key_base64(),
                                             "libp2p_listen_multiaddress": "/ip4/127.0.0.1/tcp/9098"}}}))
    .unwrap()
    .config;
    let rest = ok.api.restapi.as_ref().unwrap();
    assert_eq!(rest.id, Some(a.id));
    // Written back (and masked in the display form).
    let v: Value = serde_json::from_str(&ok.to_json()).unwrap();
    assert_eq!(v["api"]["restapi"]["private_key"], a.private_key_base64());
    assert_eq!(
        v["api"]["restapi"]["libp2p_listen_multiaddress"],
        "/ip4/127.0.0.1/tcp/9098"
    );
    let shown = ok.to_display_json();
    assert!(!shown.contains(&a.private_key_base64()));
}

// ---------------------------------------------------------------------------------------------
// environment

#[test]
fn env_overrides_use_ipfs_cluster_names() {
    let secret2 = "11".repeat(32);
    let env = env_of(&[
        ("CLUSTER_SECRET", &secret2),
        ("CLUSTER_PEERNAME", "from-env"),
        ("CLUSTER_LEAVEONSHUTDOWN", "true"),
        (
            "CLUSTER_LISTENMULTIADDRESS",
            "/ip4/0.0.0.0/tcp/19096, /ip6/::/tcp/19096",
        ),
        ("CLUSTER_REPLICATIONFACTORMIN", "2"),
        ("CLUSTER_REPLICATIONFACTORMAX", "3"),
        ("CLUSTER_DISABLEREPINNING", "F"),
        (
            "CLUSTER_PEERADDRESSES",
            "/dns4/peer.example/tcp/9096/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
        ),
        ("CLUSTER_STATESYNCINTERVAL", "1m"),
        ("CLUSTER_PINRECOVERINTERVAL", "1h30m"),
        ("CLUSTER_FOLLOWERMODE", "1"),
        ("CLUSTER_CONNECTIONMANAGER_HIGHWATER", "800"),
        (
            "CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS",
            "/ip4/127.0.0.1/tcp/19094",
        ),
        ("CLUSTER_RESTAPI_BASICAUTHCREDENTIALS", "u1:p1,u2:p:2"),
        ("CLUSTER_RESTAPI_SSLCERTFILE", "cert.pem"),
        ("CLUSTER_RESTAPI_SSLKEYFILE", "key.pem"),
        ("CLUSTER_RESTAPI_HEADERS", "X-A:1,X-A:2,X-B:3"),
        ("CLUSTER_RESTAPI_CORSALLOWEDMETHODS", "GET,POST"),
        (
            "CLUSTER_PINSVCAPI_HTTPLISTENMULTIADDRESS",
            "/ip4/127.0.0.1/tcp/19097",
        ),
        ("CLUSTER_PINSVCAPI_BASICAUTHCREDENTIALS", "t:pw"),
        (
            "CLUSTER_IPFSPROXY_LISTENMULTIADDRESS",
            "/ip4/127.0.0.1/tcp/19095",
        ),
        (
            "CLUSTER_IPFSPROXY_NODEMULTIADDRESS",
            "/ip4/127.0.0.1/tcp/15001",
        ),
        ("CLUSTER_IPFSHTTP_NODEMULTIADDRESS", "/dns4/kubo/tcp/5001"),
        ("CLUSTER_IPFSHTTP_PINTIMEOUT", "10m"),
        ("CLUSTER_RAFT_WAITFORLEADERTIMEOUT", "30s"),
        ("CLUSTER_RAFT_HEARTBEATTIMEOUT", "2s"),
        ("CLUSTER_RAFT_ELECTIONTIMEOUT", "3s"),
        (
            "CLUSTER_RAFT_INITPEERSET",
            "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
        ),
        ("CLUSTER_STATELESS_CONCURRENTPINS", "20"),
        ("CLUSTER_TAGS_TAGS", "group:edge,region:eu"),
        ("CLUSTER_EMBEDDED_STORAGEMAX", "1TB"),
    ]);
    let Loaded {
        config: c,
        warnings,
    } = ServiceConfig::from_json_str_with_env(&ServiceConfig::generate().to_json(), &env).unwrap();
    assert_eq!(c.cluster.secret.as_ref().unwrap().expose_hex(), secret2);
    assert_eq!(c.cluster.peername, "from-env");
    assert!(c.cluster.leave_on_shutdown);
    assert_eq!(c.cluster.listen_multiaddress.len(), 2);
    assert_eq!(
        (
            c.cluster.replication_factor_min,
            c.cluster.replication_factor_max
        ),
        (2, 3)
    );
    assert!(!c.cluster.disable_repinning);
    assert_eq!(c.cluster.peer_addresses.len(), 1);
    assert_eq!(c.cluster.state_sync_interval, Duration::from_secs(60));
    assert_eq!(c.cluster.pin_recover_interval, Duration::from_secs(5400));
    assert!(c.cluster.follower_mode);
    assert_eq!(c.cluster.connection_manager.high_water, 800);
    let rest = c.api.restapi.as_ref().unwrap();
    assert_eq!(
        rest.http_listen_multiaddress[0].to_string(),
        "/ip4/127.0.0.1/tcp/19094"
    );
    let creds = rest.basic_auth_credentials.as_ref().unwrap();
    assert_eq!(
        (creds.password("u1"), creds.password("u2")),
        (Some("p1"), Some("p:2"))
    );
    assert_eq!(
        (rest.ssl_cert_file.as_str(), rest.ssl_key_file.as_str()),
        ("cert.pem", "key.pem")
    );
    assert_eq!(rest.headers["X-A"], vec!["1", "2"]);
    assert_eq!(rest.cors_allowed_methods, vec!["GET", "POST"]);
    let pinsvc = c.api.pinsvcapi.as_ref().unwrap();
    assert_eq!(
        pinsvc.http_listen_multiaddress[0].to_string(),
        "/ip4/127.0.0.1/tcp/19097"
    );
    assert_eq!(
        pinsvc
            .basic_auth_credentials
            .as_ref()
            .unwrap()
            .password("t"),
        Some("pw")
    );
    let proxy = c.api.ipfsproxy.as_ref().unwrap();
    assert_eq!(
        proxy.listen_multiaddress[0].to_string(),
        "/ip4/127.0.0.1/tcp/19095"
    );
    assert_eq!(
        proxy.node_multiaddress.to_string(),
        "/ip4/127.0.0.1/tcp/15001"
    );
    assert_eq!(
        c.ipfs_connector.ipfshttp.node_multiaddress.to_string(),
        "/dns4/kubo/tcp/5001"
    );
    assert_eq!(
        c.ipfs_connector.ipfshttp.pin_timeout,
        Duration::from_secs(600)
    );
    assert_eq!(
        c.consensus.raft.wait_for_leader_timeout,
        Duration::from_secs(30)
    );
    assert_eq!(c.consensus.raft.heartbeat_timeout, Duration::from_secs(2));
    assert_eq!(c.consensus.raft.election_timeout, Duration::from_secs(3));
    assert_eq!(c.consensus.raft.init_peerset.len(), 1);
    assert_eq!(c.pin_tracker.stateless.concurrent_pins, 20);
    assert_eq!(c.informer.tags.as_ref().unwrap().tags["region"], "eu");
    assert_eq!(
        c.ipfs_node.embedded.as_ref().unwrap().storage_max.bytes(),
        1_000_000_000_000
    );
    // The embedded node is present, so the overridden Kubo addresses are reported as unused.
    assert_eq!(warnings.len(), 2, "{warnings:?}");
}

#[test]
fn env_errors_name_the_variable() {
    let base = ServiceConfig::generate().to_json();
    let run = |pairs: &[(&str, &str)]| {
        ServiceConfig::from_json_str_with_env(&base, &env_of(pairs)).map(|l| l.config)
    };
    let e = run(&[("CLUSTER_REPLICATIONFACTORMIN", "abc")])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("CLUSTER_REPLICATIONFACTORMIN: \"abc\" is not a valid integer"),
        "{e}"
    );
    // Well-formed but invalid: blamed on the variable, with the key and the reason.
    let e = run(&[("CLUSTER_REPLICATIONFACTORMIN", "0")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "CLUSTER_REPLICATIONFACTORMIN: cluster.replication_factor_min: 0 is invalid (use -1 for everywhere, or ≥1)"
    );
    let e = run(&[("CLUSTER_STATESYNCINTERVAL", "2x")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "CLUSTER_STATESYNCINTERVAL: time: unknown unit \"x\" in duration \"2x\""
    );
    let e = run(&[("CLUSTER_LEAVEONSHUTDOWN", "yes")])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("CLUSTER_LEAVEONSHUTDOWN: \"yes\" is not a boolean"),
        "{e}"
    );
    let e = run(&[("CLUSTER_SECRET", "deadbeef")])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("CLUSTER_SECRET: must be 64 hexadecimal"),
        "{e}"
    );
    assert!(!e.contains("deadbeef"));
    let e = run(&[("CLUSTER_RESTAPI_BASICAUTHCREDENTIALS", "user-without-colon")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "CLUSTER_RESTAPI_BASICAUTHCREDENTIALS: item 1 is not of the form key:value"
    );
    let e = run(&[("CLUSTER_IPFSHTTP_NODEMULTIADDRESS", "127.0.0.1:5001")])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("CLUSTER_IPFSHTTP_NODEMULTIADDRESS: invalid multiaddress"),
        "{e}"
    );
    let e = run(&[("CLUSTER_RESTAPI_MAXHEADERBYTES", "100")])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "CLUSTER_RESTAPI_MAXHEADERBYTES: api.restapi.max_header_bytes: 100 is invalid"
        ),
        "{e}"
    );

    // Empty values are ignored, except CLUSTER_SECRET="" (no private network, as in Go).
    let c = run(&[
        ("CLUSTER_PEERNAME", ""),
        ("CLUSTER_REPLICATIONFACTORMIN", ""),
    ])
    .unwrap();
    assert_eq!(c.cluster.replication_factor_min, -1);
    let c = run(&[("CLUSTER_SECRET", "")]).unwrap();
    assert!(c.cluster.secret.is_none());

    // A variable for an absent section is ignored with a warning.
    let loaded = ServiceConfig::from_json_str_with_env(
        &with(json!({})),
        &env_of(&[(
            "CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS",
            "/ip4/127.0.0.1/tcp/1",
        )]),
    )
    .unwrap();
    assert!(loaded.config.api.restapi.is_none());
    assert_eq!(
        loaded.warnings,
        vec![
            "CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS ignored: the api.restapi section is absent from the configuration (the component is disabled)"
        ]
    );
}

/// Every variable is envconfig's name for its key: prefix `CLUSTER_` + component (except for
/// the cluster section) + the Go field name, which is the JSON key without underscores.
#[test]
fn env_table_names_follow_envconfig() {
    let default: Value = serde_json::from_str(&ServiceConfig::generate().to_json()).unwrap();
    let omitted_by_default = [
        "cluster.follower_mode",
        "cluster.peerstore_file",
        "consensus.raft.data_folder",
        "consensus.raft.datastore_namespace",
        "api.ipfsproxy.node_https",
        "api.ipfsproxy.extract_headers_extra",
        "api.ipfsproxy.extract_headers_path",
        "api.ipfsproxy.extract_headers_ttl",
        "ipfs_connector.ipfshttp.unpin_disable",
        "pin_tracker.stateless.max_pin_queue_size",
    ];
    let mut names = BTreeSet::new();
    for var in env::variables() {
        assert!(names.insert(var.name), "duplicate {}", var.name);
        let segs: Vec<&str> = var.key.split('.').collect();
        let (component, fields) = if segs[0] == "cluster" {
            (None, &segs[1..])
        } else {
            (Some(segs[1]), &segs[2..])
        };
        let field = fields
            .iter()
            .map(|f| f.replace('_', "").to_uppercase())
            .collect::<Vec<_>>()
            .join("_");
        let expected = match component {
            None => format!("CLUSTER_{field}"),
            Some("embedded") => format!("CLUSTER_EMBEDDED_{field}"),
            Some(c) => format!("CLUSTER_{}_{field}", c.to_uppercase()),
        };
        assert_eq!(var.name, expected, "{}", var.key);
        let pointer = format!("/{}", var.key.replace('.', "/"));
        let is_api_omitempty = [
            "ssl_cert_file",
            "ssl_key_file",
            "libp2p_listen_multiaddress",
            "id",
            "private_key",
        ]
        .contains(fields.last().unwrap());
        assert!(
            default.pointer(&pointer).is_some()
                || omitted_by_default.contains(&var.key)
                || is_api_omitempty,
            "{} names no key of the default configuration",
            var.key
        );
    }
    for required in [
        "CLUSTER_SECRET",
        "CLUSTER_PEERNAME",
        "CLUSTER_LEAVEONSHUTDOWN",
        "CLUSTER_LISTENMULTIADDRESS",
        "CLUSTER_REPLICATIONFACTORMIN",
        "CLUSTER_REPLICATIONFACTORMAX",
        "CLUSTER_DISABLEREPINNING",
        "CLUSTER_PEERADDRESSES",
        "CLUSTER_STATESYNCINTERVAL",
        "CLUSTER_PINRECOVERINTERVAL",
        "CLUSTER_FOLLOWERMODE",
        "CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS",
        "CLUSTER_RESTAPI_BASICAUTHCREDENTIALS",
        "CLUSTER_RESTAPI_SSLCERTFILE",
        "CLUSTER_RESTAPI_SSLKEYFILE",
        "CLUSTER_PINSVCAPI_HTTPLISTENMULTIADDRESS",
        "CLUSTER_PINSVCAPI_BASICAUTHCREDENTIALS",
        "CLUSTER_IPFSPROXY_LISTENMULTIADDRESS",
        "CLUSTER_IPFSPROXY_NODEMULTIADDRESS",
        "CLUSTER_IPFSHTTP_NODEMULTIADDRESS",
        "CLUSTER_IPFSHTTP_PINTIMEOUT",
        "CLUSTER_RAFT_WAITFORLEADERTIMEOUT",
        "CLUSTER_RAFT_HEARTBEATTIMEOUT",
        "CLUSTER_RAFT_ELECTIONTIMEOUT",
        "CLUSTER_STATELESS_CONCURRENTPINS",
    ] {
        assert!(names.contains(required), "{required} missing");
    }
}

// ---------------------------------------------------------------------------------------------
// saving

#[test]
fn durations_round_trip_as_go_strings() {
    let mut c = ServiceConfig::generate();
    c.cluster.state_sync_interval = Duration::from_secs(5400);
    c.cluster.pin_recover_interval = Duration::from_millis(1500);
    c.cluster.mdns_interval = Duration::from_secs(10);
    c.consensus.raft.commit_timeout = Duration::from_micros(2500);
    c.api.ipfsproxy.as_mut().unwrap().extract_headers_ttl = Duration::ZERO;
    let text = c.to_json();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["cluster"]["state_sync_interval"], "1h30m0s");
    assert_eq!(v["cluster"]["pin_recover_interval"], "1.5s");
    assert_eq!(v["cluster"]["mdns_interval"], "10s");
    assert_eq!(v["consensus"]["raft"]["commit_timeout"], "2.5ms");
    assert_eq!(
        v["api"]["ipfsproxy"]["extract_headers_ttl"], "0s",
        "written when not the default"
    );
    let back = ServiceConfig::from_json_str(&text).unwrap().config;
    assert_eq!(back, c);
}

#[test]
fn display_form_masks_secrets() {
    let mut c = ServiceConfig::generate();
    let mut creds = BTreeMap::new();
    creds.insert("admin".to_string(), "hunter2-password".to_string());
    c.api.restapi.as_mut().unwrap().basic_auth_credentials = Some(BasicAuthCredentials::new(creds));
    let secret = c.cluster.secret.as_ref().unwrap().expose_hex();
    let shown: Value = serde_json::from_str(&c.to_display_json()).unwrap();
    assert_eq!(shown["cluster"]["secret"], HIDDEN);
    assert_eq!(shown["api"]["restapi"]["basic_auth_credentials"], HIDDEN);
    assert_eq!(shown["api"]["pinsvcapi"]["basic_auth_credentials"], HIDDEN);
    assert_eq!(shown["cluster"]["peername"], c.cluster.peername.as_str());
    let text = c.to_display_json();
    assert!(!text.contains(&secret) && !text.contains("hunter2"));
    // The real form still has them, and Debug never does.
    assert!(c.to_json().contains(&secret) && c.to_json().contains("hunter2"));
    let debug = format!("{c:?}");
    assert!(
        !debug.contains(&secret) && !debug.contains("hunter2"),
        "{debug}"
    );
}

#[test]
fn write_uses_private_modes_and_is_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("a/b");
    let path = folder.join(SERVICE_JSON);
    let c = ServiceConfig::generate();
    c.write(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&folder), 0o700);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), c.to_json());
    // Overwrite: still 0600, no temporary file left behind.
    c.write(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    let names: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from(SERVICE_JSON)]);
    let loaded = ServiceConfig::load(&path, &no_env).unwrap();
    assert_eq!(loaded.config, c);

    let ident = Identity::generate();
    ident.write(&folder.join(IDENTITY_JSON)).unwrap();
    assert_eq!(mode(&folder.join(IDENTITY_JSON)), 0o600);
}

#[test]
fn load_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SERVICE_JSON);
    std::fs::write(
        &path,
        with(json!({"cluster": {"replication_factor_min": 0}})),
    )
    .unwrap();
    let e = ServiceConfig::load(&path, &no_env).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: cluster.replication_factor_min: 0 is invalid (use -1 for everywhere, or ≥1)",
            path.display()
        )
    );
    assert_eq!(e.key(), Some("cluster.replication_factor_min"));
    // Loose permissions: loaded, with a warning.
    std::fs::write(&path, with(json!({}))).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loaded = ServiceConfig::load(&path, &no_env).unwrap();
    assert_eq!(
        loaded.warnings,
        vec![format!(
            "{} has mode 0644: other users may read the secrets it holds (chmod 600 it)",
            path.display()
        )]
    );
    std::fs::write(&path, "{ nope").unwrap();
    let e = ServiceConfig::load(&path, &no_env).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: invalid JSON", path.display())),
        "{e}"
    );
    let e = ServiceConfig::load(&dir.path().join("missing.json"), &no_env).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }));
}

// ---------------------------------------------------------------------------------------------
// init, folder, identity

#[test]
fn init_writes_the_folder_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let folder = ConfigFolder::new(dir.path().join("pinfold"));
    let report = folder.init(&InitOptions::default(), &no_env).unwrap();
    assert!(report.identity_created);
    assert_eq!(mode(folder.path()), 0o700);
    for f in [folder.service_json(), folder.identity_json()] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    // the peerstore is the swarm's to write (the CLI writes `--peers` there)
    assert_eq!(report.peerstore, folder.path().join("peerstore"));
    assert!(!report.peerstore.exists());
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(folder.service_json()).unwrap()).unwrap();
    assert_eq!(
        keys(&v["consensus"]),
        set(&["raft"]),
        "only the raft consensus section"
    );
    assert_eq!(v["cluster"]["secret"].as_str().unwrap().len(), 64);

    let loaded = folder.load(&no_env).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.service, report.config);
    let id1 = loaded.identity.id;

    let e = folder.init(&InitOptions::default(), &no_env).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{} already exists; use --force to overwrite it",
            folder.service_json().display()
        )
    );

    // --force: a new service.json (new secret), the identity kept.
    let report2 = folder
        .init(
            &InitOptions {
                force: true,
                ..Default::default()
            },
            &no_env,
        )
        .unwrap();
    assert!(!report2.identity_created);
    assert_ne!(report2.config.cluster.secret, report.config.cluster.secret);
    assert_eq!(folder.load(&no_env).unwrap().identity.id, id1);

    // --force while a daemon holds the folder: refused.
    let _lock = folder.lock().unwrap();
    let e = folder
        .init(
            &InitOptions {
                force: true,
                ..Default::default()
            },
            &no_env,
        )
        .unwrap_err();
    assert!(matches!(e, ConfigError::Locked { .. }), "{e}");
}

#[test]
fn init_with_peers_fills_init_peerset() {
    let dir = tempfile::tempdir().unwrap();
    let folder = ConfigFolder::new(dir.path());
    let (a, b) = (Identity::generate().id, Identity::generate().id);
    let peers: Vec<multiaddr::Multiaddr> = vec![
        format!("/ip4/10.0.0.1/tcp/9096/p2p/{a}").parse().unwrap(),
        format!("/dns4/b.example/tcp/9096/p2p/{b}").parse().unwrap(),
        format!("/ip4/10.0.0.3/tcp/9096/p2p/{a}").parse().unwrap(),
    ];
    let report = folder
        .init(
            &InitOptions {
                peers,
                ..Default::default()
            },
            &no_env,
        )
        .unwrap();
    assert_eq!(report.peers, 3);
    assert_eq!(report.config.consensus.raft.init_peerset, vec![a, b]);

    let bad = InitOptions {
        force: true,
        peers: vec!["/ip4/10.0.0.1/tcp/9096".parse().unwrap()],
        ..Default::default()
    };
    let e = folder.init(&bad, &no_env).unwrap_err().to_string();
    assert_eq!(
        e,
        "--peers: /ip4/10.0.0.1/tcp/9096 does not end with /p2p/<peer ID>"
    );

    let crdt = InitOptions {
        force: true,
        consensus: "crdt".parse().unwrap(),
        ..Default::default()
    };
    let e = folder.init(&crdt, &no_env).unwrap_err().to_string();
    assert!(
        e.starts_with("--consensus: Pinfold only implements raft consensus"),
        "{e}"
    );
    assert!("paxos".parse::<Consensus>().is_err());
}

#[test]
fn init_applies_env_custom_secret_and_random_ports() {
    let dir = tempfile::tempdir().unwrap();
    let folder = ConfigFolder::new(dir.path());
    let ident = Identity::generate();
    let (id, key) = (ident.id.to_string(), ident.private_key_base64());
    let env = env_of(&[
        ("CLUSTER_SECRET", SECRET),
        ("CLUSTER_PEERNAME", "p0"),
        ("CLUSTER_ID", &id),
        ("CLUSTER_PRIVATEKEY", &key),
    ]);
    let report = folder
        .init(
            &InitOptions {
                random_ports: true,
                ..Default::default()
            },
            &env,
        )
        .unwrap();
    let c = &report.config;
    assert_eq!(c.cluster.secret.as_ref().unwrap().expose_hex(), SECRET);
    assert_eq!(c.cluster.peername, "p0");
    assert_eq!(
        folder.load(&no_env).unwrap().identity,
        ident,
        "identity from CLUSTER_ID/PRIVATEKEY"
    );

    let port = |a: &multiaddr::Multiaddr| {
        a.iter()
            .find_map(|p| {
                if let multiaddr::Protocol::Tcp(p) = p {
                    Some(p)
                } else {
                    None
                }
            })
            .unwrap()
    };
    let embedded = &c
        .ipfs_node
        .embedded
        .as_ref()
        .unwrap()
        .api_listen_multiaddress;
    let ports = [
        port(&c.cluster.listen_multiaddress[0]),
        port(&c.api.restapi.as_ref().unwrap().http_listen_multiaddress[0]),
        port(&c.api.pinsvcapi.as_ref().unwrap().http_listen_multiaddress[0]),
        port(&c.api.ipfsproxy.as_ref().unwrap().listen_multiaddress[0]),
        port(embedded),
    ];
    assert_eq!(ports.iter().collect::<BTreeSet<_>>().len(), 5, "{ports:?}");
    assert!(
        ports
            .iter()
            .all(|p| ![9094, 9095, 9096, 9097, 5001].contains(p)),
        "{ports:?}"
    );
    assert_eq!(&c.ipfs_connector.ipfshttp.node_multiaddress, embedded);
    assert_eq!(
        &c.api.ipfsproxy.as_ref().unwrap().node_multiaddress,
        embedded
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    let custom = ClusterSecret::parse_hex(&"ab".repeat(32)).unwrap();
    let report = folder
        .init(
            &InitOptions {
                force: true,
                custom_secret: custom.clone(),
                ..Default::default()
            },
            &env,
        )
        .unwrap();
    assert_eq!(
        report.config.cluster.secret, custom,
        "--custom-secret wins over CLUSTER_SECRET"
    );
}

#[test]
fn folder_load_detects_identity_mismatch_and_extracts_legacy_identity() {
    let dir = tempfile::tempdir().unwrap();
    let folder = ConfigFolder::new(dir.path());
    folder.init(&InitOptions::default(), &no_env).unwrap();
    let (a, b) = (Identity::generate(), Identity::generate());
    std::fs::write(
        folder.identity_json(),
        format!(
            r#"{{"id": "{}", "private_key": "{}"}}"#,
            a.id,
            b.private_key_base64()
        ),
    )
    .unwrap();
    let e = folder.load(&no_env).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{}: id: identity ID {}",
            folder.identity_json().display(),
            a.id
        )),
        "{e}"
    );
    assert!(e.contains("does not match the private_key"), "{e}");

    // No identity.json, legacy keys in service.json: extracted and saved.
    std::fs::remove_file(folder.identity_json()).unwrap();
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(folder.service_json()).unwrap()).unwrap();
    v["cluster"]["id"] = json!(a.id.to_string());
    v["cluster"]["private_key"] = json!(a.private_key_base64());
    std::fs::write(folder.service_json(), v.to_string()).unwrap();
    let loaded = folder.load(&no_env).unwrap();
    assert_eq!(loaded.identity, a);
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert_eq!(Identity::load(&folder.identity_json(), &no_env).unwrap(), a);
    assert_eq!(mode(&folder.identity_json()), 0o600);

    // Neither: a clear error.
    let empty = ConfigFolder::new(dir.path().join("empty"));
    let e = empty.load_identity(&no_env).unwrap_err().to_string();
    assert!(e.contains("run `pinfold init`"), "{e}");
}

#[test]
fn folder_lock_is_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let folder = ConfigFolder::new(dir.path());
    let lock = folder.lock().unwrap();
    let e = folder.lock().unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "another pinfold daemon is already running with the folder {}",
            dir.path().display()
        )),
        "{e}"
    );
    drop(lock);
    folder.lock().unwrap();
}

#[test]
fn default_folder_is_pinfold_path_or_home() {
    assert_eq!(
        default_folder_from(&env_of(&[("PINFOLD_PATH", "/srv/pf"), ("HOME", "/home/u")])).unwrap(),
        Path::new("/srv/pf")
    );
    assert_eq!(
        default_folder_from(&env_of(&[("HOME", "/home/u")])).unwrap(),
        Path::new("/home/u/.pinfold")
    );
    assert!(matches!(
        default_folder_from(&no_env),
        Err(ConfigError::NoHome)
    ));
}

#[test]
fn storage_sizes_parse_and_print_like_kubo() {
    for (text, bytes, shown) in [
        ("10GB", 10_000_000_000, "10GB"),
        ("10G", 10_000_000_000, "10GB"),
        ("10 GB", 10_000_000_000, "10GB"),
        ("1.5TB", 1_500_000_000_000, "1500GB"),
        ("512MiB", 512 << 20, "512MiB"),
        ("1234", 1234, "1234B"),
        ("2kB", 2000, "2kB"),
    ] {
        let s = StorageSize::parse(text).unwrap();
        assert_eq!(s.bytes(), bytes, "{text}");
        assert_eq!(s.to_string(), shown, "{text}");
        assert_eq!(StorageSize::parse(shown).unwrap(), s);
    }
    for bad in ["", "GB", "10XB", "-1GB", "99999999999999999999TB"] {
        assert!(StorageSize::parse(bad).is_err(), "{bad}");
    }
}
