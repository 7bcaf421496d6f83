//! The sections of `service.json`: one struct per IPFS Cluster component configuration, with
//! Go's JSON keys in Go's struct order (serde field order), Go's defaults (`Default` impls, or
//! `restapi_default`/`pinsvcapi_default` for the two HTTP APIs that differ only by port), the
//! reading of each section over its defaults (`read`) and Go's `Validate()` checks (`validate`),
//! errors naming the full key path.
//!
//! ## Sections
//! `cluster`, `consensus.raft`, `api.{ipfsproxy,pinsvcapi,restapi}`, `ipfs_connector.ipfshttp`,
//! `ipfs_node.embedded` (Pinfold's own), `pin_tracker.stateless`, `monitor.pubsubmon`,
//! `allocator.balanced`, `informer.{disk,pinqueue,tags}`, `observations.{metrics,tracing}`.
//! As in Go, **a section's presence enables its component**: `api.restapi`, `api.pinsvcapi`,
//! `api.ipfsproxy`, each informer, and here `ipfs_node.embedded`, are `Option`s. An absent
//! `allocator.balanced` means `allocate_by = ["freespace"]` (Go's legacy rule, see
//! [`ServiceConfig::allocate_by`](crate::config::ServiceConfig::allocate_by)). The other sections are always there and take their
//! defaults when absent.
//!
//! ## The embedded IPFS node
//! `"ipfs_node": {"embedded": {"repo": "ipfs", "api_listen_multiaddress":
//! "/ip4/127.0.0.1/tcp/5001", "storage_max": "10GB"}}`. Present: the daemon runs the embedded
//! node in-process (repository `repo`, relative to the configuration folder), serving the Kubo
//! RPC subset on `api_listen_multiaddress`, and the IPFS connector and the IPFS proxy talk to
//! that address ([`ServiceConfig::ipfs_api_multiaddress`](crate::config::ServiceConfig::ipfs_api_multiaddress)), whatever their own
//! `node_multiaddress` says (a warning tells when they differ). Absent: they talk to the Kubo
//! daemon at `ipfs_connector.ipfshttp.node_multiaddress` / `api.ipfsproxy.node_multiaddress`,
//! exactly as IPFS Cluster does. `pinfold init` writes the section (nothing else to install);
//! deleting it switches a peer to an external Kubo. The embedded API must be a loopback TCP
//! address: it has no authentication.
//!
//! ## Pinfold's defaults that differ from IPFS Cluster's
//! * `cluster.listen_multiaddress` = `/ip4/0.0.0.0/tcp/9096` only: no `/udp/9096/quic`, which
//!   can never work with a private network (Go silently fails to listen on it). A QUIC address
//!   in a loaded file is kept but warned about.
//! * `cluster.mdns_interval` = `0s`: no mDNS unless asked for (Go: `10s`). Announcing a peer on
//!   every LAN it joins is a surprise for a server; set e.g. `"10s"` to get Go's behaviour.
//! * `consensus` = raft (Go's init default is crdt, which Pinfold does not implement).
//! * The `ipfs_node.embedded` section exists.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use libp2p_identity::PeerId;
use multiaddr::{Multiaddr, Protocol};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::error::ConfigError;
use super::identity::PrivateKey;
use super::json::{FromJson, Obj, ser};
use super::secret::{self, BasicAuthCredentials, ClusterSecret};
use crate::gocompat::duration::serde_go;

// ---------------------------------------------------------------------------------------------
// cluster

/// The `cluster` section (`cluster_config.go`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterConfig {
    /// Human-readable name; default: the host name.
    pub peername: String,
    /// `None` = empty secret = no private network (warned about).
    #[serde(with = "secret::secret_serde")]
    pub secret: Option<ClusterSecret>,
    pub leave_on_shutdown: bool,
    #[serde(serialize_with = "ser::maddrs_strings")]
    pub listen_multiaddress: Vec<Multiaddr>,
    #[serde(serialize_with = "ser::maddrs_strings")]
    pub announce_multiaddress: Vec<Multiaddr>,
    #[serde(serialize_with = "ser::maddrs_strings")]
    pub no_announce_multiaddress: Vec<Multiaddr>,
    pub enable_relay_hop: bool,
    pub connection_manager: ConnectionManagerConfig,
    pub resource_manager: ResourceManagerConfig,
    pub pubsub: PubSubConfig,
    #[serde(with = "serde_go")]
    pub dial_peer_timeout: Duration,
    #[serde(with = "serde_go")]
    pub state_sync_interval: Duration,
    #[serde(with = "serde_go")]
    pub pin_recover_interval: Duration,
    /// -1 (with max -1) = everywhere; else ≥ 1.
    pub replication_factor_min: i32,
    pub replication_factor_max: i32,
    #[serde(with = "serde_go")]
    pub monitor_ping_interval: Duration,
    #[serde(with = "serde_go")]
    pub peer_watch_interval: Duration,
    /// 0 disables mDNS (Pinfold's default).
    #[serde(with = "serde_go")]
    pub mdns_interval: Duration,
    pub pin_only_on_trusted_peers: bool,
    pub pin_only_on_untrusted_peers: bool,
    pub disable_repinning: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub follower_mode: bool,
    /// "" = `peerstore` in the configuration folder.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub peerstore_file: String,
    #[serde(serialize_with = "ser::maddrs_list")]
    pub peer_addresses: Vec<Multiaddr>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionManagerConfig {
    pub high_water: u32,
    pub low_water: u32,
    #[serde(with = "serde_go")]
    pub grace_period: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceManagerConfig {
    pub enabled: bool,
    /// 0 = a quarter of the RAM.
    pub memory_limit_bytes: u64,
    /// 0 = half of the allowed file descriptors.
    pub file_descriptors_limit: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PubSubConfig {
    #[serde(with = "serde_go")]
    pub seen_messages_ttl: Duration,
    #[serde(with = "serde_go")]
    pub heartbeat_interval: Duration,
    pub d_factor: u32,
    pub history_gossip: u32,
    pub history_length: u32,
    pub flood_publish: bool,
}

/// The default swarm port.
pub const DEFAULT_CLUSTER_LISTEN: &str = "/ip4/0.0.0.0/tcp/9096";

impl Default for ClusterConfig {
    /// Go's defaults (with Pinfold's documented deviations) and **no secret**: a secret is
    /// generated by [`ServiceConfig::generate`](crate::config::ServiceConfig::generate), never by loading.
    fn default() -> ClusterConfig {
        ClusterConfig {
            peername: hostname(),
            secret: None,
            leave_on_shutdown: false,
            listen_multiaddress: vec![ma(DEFAULT_CLUSTER_LISTEN)],
            announce_multiaddress: vec![],
            no_announce_multiaddress: vec![],
            enable_relay_hop: true,
            connection_manager: ConnectionManagerConfig {
                high_water: 400,
                low_water: 100,
                grace_period: Duration::from_secs(120),
            },
            resource_manager: ResourceManagerConfig {
                enabled: true,
                memory_limit_bytes: 0,
                file_descriptors_limit: 0,
            },
            pubsub: PubSubConfig {
                seen_messages_ttl: Duration::from_secs(30 * 60),
                heartbeat_interval: Duration::from_secs(10),
                d_factor: 4,
                history_gossip: 2,
                history_length: 6,
                flood_publish: false,
            },
            dial_peer_timeout: Duration::from_secs(3),
            state_sync_interval: Duration::from_secs(5 * 60),
            pin_recover_interval: Duration::from_secs(12 * 60),
            replication_factor_min: -1,
            replication_factor_max: -1,
            monitor_ping_interval: Duration::from_secs(15),
            peer_watch_interval: Duration::from_secs(5),
            mdns_interval: Duration::ZERO,
            pin_only_on_trusted_peers: false,
            pin_only_on_untrusted_peers: false,
            disable_repinning: true,
            follower_mode: false,
            peerstore_file: String::new(),
            peer_addresses: vec![],
        }
    }
}

impl ClusterConfig {
    /// Where the peerstore lives: `peerstore_file` (default `peerstore`), relative to `folder`.
    pub fn peerstore_path(&self, folder: &Path) -> PathBuf {
        let name = if self.peerstore_file.is_empty() {
            "peerstore"
        } else {
            &self.peerstore_file
        };
        folder.join(name)
    }

    pub(super) fn read(
        o: &mut Obj<'_>,
        c: &mut ClusterConfig,
        w: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        // Legacy identity keys: read by identity.rs when identity.json is missing.
        o.ignore("id");
        o.ignore("private_key");
        o.read_nonzero("peername", &mut c.peername)?;
        if let Some(v) = o.value("secret") {
            let key = o.key("secret");
            let text = String::from_json(v).map_err(|r| ConfigError::invalid(&key, r))?;
            c.secret =
                ClusterSecret::parse_hex(&text).map_err(|r| ConfigError::invalid(&key, r))?;
        }
        o.read("leave_on_shutdown", &mut c.leave_on_shutdown)?;
        o.read("listen_multiaddress", &mut c.listen_multiaddress)?;
        o.read("announce_multiaddress", &mut c.announce_multiaddress)?;
        o.read("no_announce_multiaddress", &mut c.no_announce_multiaddress)?;
        o.read("enable_relay_hop", &mut c.enable_relay_hop)?;
        if let Some(mut s) = o.sub("connection_manager")? {
            let cm = &mut c.connection_manager;
            s.read("high_water", &mut cm.high_water)?;
            s.read("low_water", &mut cm.low_water)?;
            s.read("grace_period", &mut cm.grace_period)?;
            s.finish(w);
        }
        if let Some(mut s) = o.sub("resource_manager")? {
            let rm = &mut c.resource_manager;
            s.read("enabled", &mut rm.enabled)?;
            s.read("memory_limit_bytes", &mut rm.memory_limit_bytes)?;
            s.read("file_descriptors_limit", &mut rm.file_descriptors_limit)?;
            s.finish(w);
        }
        if let Some(mut s) = o.sub("pubsub")? {
            let p = &mut c.pubsub;
            s.read("seen_messages_ttl", &mut p.seen_messages_ttl)?;
            s.read("heartbeat_interval", &mut p.heartbeat_interval)?;
            s.read("d_factor", &mut p.d_factor)?;
            s.read("history_gossip", &mut p.history_gossip)?;
            s.read("history_length", &mut p.history_length)?;
            s.read("flood_publish", &mut p.flood_publish)?;
            s.finish(w);
        }
        o.read("dial_peer_timeout", &mut c.dial_peer_timeout)?;
        o.read("state_sync_interval", &mut c.state_sync_interval)?;
        o.read("pin_recover_interval", &mut c.pin_recover_interval)?;
        o.read("replication_factor_min", &mut c.replication_factor_min)?;
        o.read("replication_factor_max", &mut c.replication_factor_max)?;
        o.read("monitor_ping_interval", &mut c.monitor_ping_interval)?;
        o.read("peer_watch_interval", &mut c.peer_watch_interval)?;
        o.read("mdns_interval", &mut c.mdns_interval)?;
        o.read(
            "pin_only_on_trusted_peers",
            &mut c.pin_only_on_trusted_peers,
        )?;
        o.read(
            "pin_only_on_untrusted_peers",
            &mut c.pin_only_on_untrusted_peers,
        )?;
        o.read("disable_repinning", &mut c.disable_repinning)?;
        o.read("follower_mode", &mut c.follower_mode)?;
        o.read_nonzero("peerstore_file", &mut c.peerstore_file)?;
        o.read("peer_addresses", &mut c.peer_addresses)?;
        Ok(())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let k = |s: &str| format!("cluster.{s}");
        if self.listen_multiaddress.is_empty() {
            return Err(ConfigError::invalid(k("listen_multiaddress"), "is empty"));
        }
        let cm = &self.connection_manager;
        positive(cm.low_water, &k("connection_manager.low_water"))?;
        positive(cm.high_water, &k("connection_manager.high_water"))?;
        if cm.low_water > cm.high_water {
            return Err(ConfigError::invalid(
                k("connection_manager.low_water"),
                format!(
                    "{} is greater than high_water ({})",
                    cm.low_water, cm.high_water
                ),
            ));
        }
        nonzero(cm.grace_period, &k("connection_manager.grace_period"))?;
        let ps = &self.pubsub;
        nonzero(ps.seen_messages_ttl, &k("pubsub.seen_messages_ttl"))?;
        nonzero(ps.heartbeat_interval, &k("pubsub.heartbeat_interval"))?;
        positive(ps.d_factor, &k("pubsub.d_factor"))?;
        positive(ps.history_gossip, &k("pubsub.history_gossip"))?;
        positive(ps.history_length, &k("pubsub.history_length"))?;
        nonzero(self.dial_peer_timeout, &k("dial_peer_timeout"))?;
        nonzero(self.state_sync_interval, &k("state_sync_interval"))?;
        nonzero(self.pin_recover_interval, &k("pin_recover_interval"))?;
        nonzero(self.monitor_ping_interval, &k("monitor_ping_interval"))?;
        nonzero(self.peer_watch_interval, &k("peer_watch_interval"))?;
        if self.pin_only_on_trusted_peers && self.pin_only_on_untrusted_peers {
            return Err(ConfigError::invalid(
                k("pin_only_on_trusted_peers"),
                "pin_only_on_trusted_peers and pin_only_on_untrusted_peers cannot both be true",
            ));
        }
        validate_replication(self.replication_factor_min, self.replication_factor_max)
    }
}

/// Go's `isReplicationFactorValid`, with messages that say what to write instead.
fn validate_replication(min: i32, max: i32) -> Result<(), ConfigError> {
    const HINT: &str = "(use -1 for everywhere, or ≥1)";
    for (name, v) in [
        ("replication_factor_min", min),
        ("replication_factor_max", max),
    ] {
        if v == 0 || v < -1 {
            return Err(ConfigError::invalid(
                format!("cluster.{name}"),
                format!("{v} is invalid {HINT}"),
            ));
        }
    }
    if (min == -1) != (max == -1) {
        let (name, v) = if min == -1 {
            ("replication_factor_max", max)
        } else {
            ("replication_factor_min", min)
        };
        return Err(ConfigError::invalid(
            format!("cluster.{name}"),
            format!(
                "{v} is invalid: replication_factor_min and replication_factor_max must both be -1 (everywhere) or both be ≥1"
            ),
        ));
    }
    if min > max {
        return Err(ConfigError::invalid(
            "cluster.replication_factor_min",
            format!("{min} is larger than replication_factor_max ({max})"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// consensus

/// The `consensus` section: raft (always), plus a crdt section kept only to be written back.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ConsensusConfig {
    pub raft: RaftConfig,
    /// A `consensus.crdt` section found next to the raft one: ignored, kept verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crdt: Option<Value>,
}

/// `consensus.raft` (`consensus/raft/config.go` and the hashicorp/raft settings it exposes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RaftConfig {
    /// "" = `raft` in the configuration folder.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub data_folder: String,
    /// Voters at first bootstrap besides this peer.
    #[serde(serialize_with = "ser::peers")]
    pub init_peerset: Vec<PeerId>,
    #[serde(with = "serde_go")]
    pub wait_for_leader_timeout: Duration,
    #[serde(with = "serde_go")]
    pub network_timeout: Duration,
    pub commit_retries: u32,
    #[serde(with = "serde_go")]
    pub commit_retry_delay: Duration,
    pub backups_rotate: u32,
    /// Written only when not the default `/r`.
    #[serde(skip_serializing_if = "is_default_raft_namespace")]
    pub datastore_namespace: String,
    #[serde(with = "serde_go")]
    pub heartbeat_timeout: Duration,
    #[serde(with = "serde_go")]
    pub election_timeout: Duration,
    #[serde(with = "serde_go")]
    pub commit_timeout: Duration,
    pub max_append_entries: u32,
    pub trailing_logs: u64,
    #[serde(with = "serde_go")]
    pub snapshot_interval: Duration,
    pub snapshot_threshold: u64,
    #[serde(with = "serde_go")]
    pub leader_lease_timeout: Duration,
}

const DEFAULT_RAFT_NAMESPACE: &str = "/r";

fn is_default_raft_namespace(s: &str) -> bool {
    s == DEFAULT_RAFT_NAMESPACE
}

impl Default for RaftConfig {
    fn default() -> RaftConfig {
        RaftConfig {
            data_folder: String::new(),
            init_peerset: vec![],
            wait_for_leader_timeout: Duration::from_secs(15),
            network_timeout: Duration::from_secs(10),
            commit_retries: 1,
            commit_retry_delay: Duration::from_millis(200),
            backups_rotate: 6,
            datastore_namespace: DEFAULT_RAFT_NAMESPACE.into(),
            heartbeat_timeout: Duration::from_secs(1),
            election_timeout: Duration::from_secs(1),
            commit_timeout: Duration::from_millis(50),
            max_append_entries: 64,
            trailing_logs: 10240,
            snapshot_interval: Duration::from_secs(120),
            snapshot_threshold: 8192,
            leader_lease_timeout: Duration::from_millis(500),
        }
    }
}

impl RaftConfig {
    /// The raft data folder: `data_folder`, or `raft` in the configuration folder.
    pub fn data_path(&self, folder: &Path) -> PathBuf {
        if self.data_folder.is_empty() {
            folder.join("raft")
        } else {
            folder.join(&self.data_folder)
        }
    }

    pub(super) fn read(o: &mut Obj<'_>, r: &mut RaftConfig) -> Result<(), ConfigError> {
        o.read_nonzero("data_folder", &mut r.data_folder)?;
        o.read("init_peerset", &mut r.init_peerset)?;
        o.read("wait_for_leader_timeout", &mut r.wait_for_leader_timeout)?;
        o.read("network_timeout", &mut r.network_timeout)?;
        o.read("commit_retries", &mut r.commit_retries)?;
        o.read("commit_retry_delay", &mut r.commit_retry_delay)?;
        o.read_nonzero("backups_rotate", &mut r.backups_rotate)?;
        o.read_nonzero("datastore_namespace", &mut r.datastore_namespace)?;
        o.read("heartbeat_timeout", &mut r.heartbeat_timeout)?;
        o.read("election_timeout", &mut r.election_timeout)?;
        o.read("commit_timeout", &mut r.commit_timeout)?;
        o.read_nonzero("max_append_entries", &mut r.max_append_entries)?;
        o.read_nonzero("trailing_logs", &mut r.trailing_logs)?;
        o.read("snapshot_interval", &mut r.snapshot_interval)?;
        o.read_nonzero("snapshot_threshold", &mut r.snapshot_threshold)?;
        o.read("leader_lease_timeout", &mut r.leader_lease_timeout)?;
        Ok(())
    }

    /// Go's checks plus hashicorp/raft's `ValidateConfig`.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let k = |s: &str| format!("consensus.raft.{s}");
        nonzero(self.wait_for_leader_timeout, &k("wait_for_leader_timeout"))?;
        nonzero(self.network_timeout, &k("network_timeout"))?;
        nonzero(self.commit_retry_delay, &k("commit_retry_delay"))?;
        positive(self.backups_rotate, &k("backups_rotate"))?;
        let ms = Duration::from_millis;
        at_least(self.heartbeat_timeout, ms(5), &k("heartbeat_timeout"))?;
        at_least(self.election_timeout, ms(5), &k("election_timeout"))?;
        at_least(self.commit_timeout, ms(1), &k("commit_timeout"))?;
        if !(1..=1024).contains(&self.max_append_entries) {
            return Err(ConfigError::invalid(
                k("max_append_entries"),
                format!(
                    "{} is invalid (must be between 1 and 1024)",
                    self.max_append_entries
                ),
            ));
        }
        at_least(self.snapshot_interval, ms(5), &k("snapshot_interval"))?;
        at_least(self.leader_lease_timeout, ms(5), &k("leader_lease_timeout"))?;
        if self.leader_lease_timeout > self.heartbeat_timeout {
            return Err(ConfigError::invalid(
                k("leader_lease_timeout"),
                format!(
                    "{} cannot be larger than heartbeat_timeout ({})",
                    fmt_d(self.leader_lease_timeout),
                    fmt_d(self.heartbeat_timeout)
                ),
            ));
        }
        if self.election_timeout < self.heartbeat_timeout {
            return Err(ConfigError::invalid(
                k("election_timeout"),
                format!(
                    "{} must be equal to or greater than heartbeat_timeout ({})",
                    fmt_d(self.election_timeout),
                    fmt_d(self.heartbeat_timeout)
                ),
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// api

/// The `api` section: each API runs iff its section is present. Written in Go's (sorted) order.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ApiConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipfsproxy: Option<IpfsProxyConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinsvcapi: Option<RestApiConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restapi: Option<RestApiConfig>,
}

/// `api.restapi` and `api.pinsvcapi` (`api/common/config.go`): the same keys, other port.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestApiConfig {
    #[serde(serialize_with = "ser::maddrs_strings")]
    pub http_listen_multiaddress: Vec<Multiaddr>,
    /// Relative to the configuration folder; with `ssl_key_file`, enables TLS.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ssl_cert_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ssl_key_file: String,
    #[serde(with = "serde_go")]
    pub read_timeout: Duration,
    #[serde(with = "serde_go")]
    pub read_header_timeout: Duration,
    #[serde(with = "serde_go")]
    pub write_timeout: Duration,
    #[serde(with = "serde_go")]
    pub idle_timeout: Duration,
    /// At least 4096.
    pub max_header_bytes: usize,
    /// A dedicated libp2p host for the API (all three of these, or none).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "ser::maddrs_strings"
    )]
    pub libp2p_listen_multiaddress: Vec<Multiaddr>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser::opt_peer"
    )]
    pub id: Option<PeerId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PrivateKey>,
    /// `None` (`null`) = no authentication; never an empty map.
    #[serde(serialize_with = "secret::credentials_serde::serialize")]
    pub basic_auth_credentials: Option<BasicAuthCredentials>,
    /// "" = log through the logger; else an Apache Common Log file (relative to the folder).
    pub http_log_file: String,
    /// Added to every response.
    pub headers: BTreeMap<String, Vec<String>>,
    pub cors_allowed_origins: Vec<String>,
    pub cors_allowed_methods: Vec<String>,
    pub cors_allowed_headers: Vec<String>,
    pub cors_exposed_headers: Vec<String>,
    pub cors_allow_credentials: bool,
    #[serde(with = "serde_go")]
    pub cors_max_age: Duration,
}

pub const DEFAULT_RESTAPI_LISTEN: &str = "/ip4/127.0.0.1/tcp/9094";
pub const DEFAULT_PINSVCAPI_LISTEN: &str = "/ip4/127.0.0.1/tcp/9097";
pub const MIN_MAX_HEADER_BYTES: usize = 4096;

impl RestApiConfig {
    /// `api.restapi` defaults (listening on 127.0.0.1:9094).
    pub fn restapi_default() -> RestApiConfig {
        RestApiConfig::with_listen(DEFAULT_RESTAPI_LISTEN)
    }

    /// `api.pinsvcapi` defaults (listening on 127.0.0.1:9097).
    pub fn pinsvcapi_default() -> RestApiConfig {
        RestApiConfig::with_listen(DEFAULT_PINSVCAPI_LISTEN)
    }

    fn with_listen(addr: &str) -> RestApiConfig {
        RestApiConfig {
            http_listen_multiaddress: vec![ma(addr)],
            ssl_cert_file: String::new(),
            ssl_key_file: String::new(),
            read_timeout: Duration::ZERO,
            read_header_timeout: Duration::from_secs(5),
            write_timeout: Duration::ZERO,
            idle_timeout: Duration::from_secs(120),
            max_header_bytes: MIN_MAX_HEADER_BYTES,
            libp2p_listen_multiaddress: vec![],
            id: None,
            private_key: None,
            basic_auth_credentials: None,
            http_log_file: String::new(),
            headers: BTreeMap::new(),
            cors_allowed_origins: vec!["*".into()],
            cors_allowed_methods: vec!["GET".into()],
            cors_allowed_headers: vec![],
            cors_exposed_headers: [
                "Content-Type",
                "X-Stream-Output",
                "X-Chunked-Output",
                "X-Content-Length",
            ]
            .map(String::from)
            .to_vec(),
            cors_allow_credentials: true,
            cors_max_age: Duration::ZERO,
        }
    }

    /// The TLS certificate and key files, resolved against `folder`, if TLS is configured.
    pub fn tls_files(&self, folder: &Path) -> Option<(PathBuf, PathBuf)> {
        if self.ssl_cert_file.is_empty() || self.ssl_key_file.is_empty() {
            return None;
        }
        Some((
            in_folder(folder, &self.ssl_cert_file),
            in_folder(folder, &self.ssl_key_file),
        ))
    }

    /// The access-log file resolved against `folder`; `None` = log through `tracing`.
    pub fn http_log_path(&self, folder: &Path) -> Option<PathBuf> {
        (!self.http_log_file.is_empty()).then(|| in_folder(folder, &self.http_log_file))
    }

    pub(super) fn read(o: &mut Obj<'_>, a: &mut RestApiConfig) -> Result<(), ConfigError> {
        let mut listen = vec![];
        o.read("http_listen_multiaddress", &mut listen)?;
        if !listen.is_empty() {
            a.http_listen_multiaddress = listen;
        }
        o.read("ssl_cert_file", &mut a.ssl_cert_file)?;
        o.read("ssl_key_file", &mut a.ssl_key_file)?;
        o.read("read_timeout", &mut a.read_timeout)?;
        o.read("read_header_timeout", &mut a.read_header_timeout)?;
        o.read("write_timeout", &mut a.write_timeout)?;
        o.read("idle_timeout", &mut a.idle_timeout)?;
        o.read_nonzero("max_header_bytes", &mut a.max_header_bytes)?;
        o.read(
            "libp2p_listen_multiaddress",
            &mut a.libp2p_listen_multiaddress,
        )?;
        if let Some(v) = o.value("id").filter(|v| v.as_str() != Some("")) {
            a.id = Some(PeerId::from_json(v).map_err(|r| ConfigError::invalid(o.key("id"), r))?);
        }
        if let Some(v) = o.value("private_key").filter(|v| v.as_str() != Some("")) {
            let key = o.key("private_key");
            let text = String::from_json(v).map_err(|r| ConfigError::invalid(&key, r))?;
            a.private_key =
                Some(PrivateKey::from_base64(&text).map_err(|r| ConfigError::invalid(&key, r))?);
        }
        let mut creds: Option<BTreeMap<String, String>> = None;
        o.read_opt("basic_auth_credentials", &mut creds)?;
        a.basic_auth_credentials = creds.map(BasicAuthCredentials::new);
        o.read("http_log_file", &mut a.http_log_file)?;
        o.read("headers", &mut a.headers)?;
        o.read("cors_allowed_origins", &mut a.cors_allowed_origins)?;
        o.read("cors_allowed_methods", &mut a.cors_allowed_methods)?;
        o.read("cors_allowed_headers", &mut a.cors_allowed_headers)?;
        o.read("cors_exposed_headers", &mut a.cors_exposed_headers)?;
        o.read("cors_allow_credentials", &mut a.cors_allow_credentials)?;
        o.read("cors_max_age", &mut a.cors_max_age)?;
        Ok(())
    }

    pub(super) fn validate(&self, section: &str) -> Result<(), ConfigError> {
        let k = |s: &str| format!("{section}.{s}");
        if self.http_listen_multiaddress.is_empty() {
            return Err(ConfigError::invalid(
                k("http_listen_multiaddress"),
                "is empty",
            ));
        }
        max_header_bytes(self.max_header_bytes, &k("max_header_bytes"))?;
        if matches!(&self.basic_auth_credentials, Some(c) if c.is_empty()) {
            return Err(ConfigError::invalid(
                k("basic_auth_credentials"),
                "should be null or have at least one entry",
            ));
        }
        if self.ssl_cert_file.is_empty() != self.ssl_key_file.is_empty() {
            let missing = if self.ssl_cert_file.is_empty() {
                "ssl_cert_file"
            } else {
                "ssl_key_file"
            };
            return Err(ConfigError::invalid(
                k(missing),
                "missing TLS configuration: ssl_cert_file and ssl_key_file must be set together",
            ));
        }
        let any = self.id.is_some()
            || self.private_key.is_some()
            || !self.libp2p_listen_multiaddress.is_empty();
        let all = self.id.is_some()
            && self.private_key.is_some()
            && !self.libp2p_listen_multiaddress.is_empty();
        if any && !all {
            return Err(ConfigError::invalid(
                k("libp2p_listen_multiaddress"),
                "all of id, private_key and libp2p_listen_multiaddress should be set",
            ));
        }
        if let (Some(id), Some(key)) = (&self.id, &self.private_key)
            && key.peer_id() != *id
        {
            return Err(ConfigError::invalid(
                k("id"),
                format!("{id} does not match private_key"),
            ));
        }
        Ok(())
    }
}

/// `api.ipfsproxy` (`api/ipfsproxy/config.go`): a Kubo RPC API that intercepts pin operations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpfsProxyConfig {
    #[serde(serialize_with = "ser::maddrs_strings")]
    pub listen_multiaddress: Vec<Multiaddr>,
    /// The Kubo RPC API proxied to (ignored when `ipfs_node.embedded` is present).
    #[serde(serialize_with = "ser::maddr")]
    pub node_multiaddress: Multiaddr,
    #[serde(skip_serializing_if = "is_false")]
    pub node_https: bool,
    pub log_file: String,
    #[serde(with = "serde_go")]
    pub read_timeout: Duration,
    #[serde(with = "serde_go")]
    pub read_header_timeout: Duration,
    #[serde(with = "serde_go")]
    pub write_timeout: Duration,
    #[serde(with = "serde_go")]
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extract_headers_extra: Vec<String>,
    #[serde(skip_serializing_if = "is_default_extract_path")]
    pub extract_headers_path: String,
    #[serde(
        skip_serializing_if = "is_default_extract_ttl",
        serialize_with = "serde_go::serialize"
    )]
    pub extract_headers_ttl: Duration,
}

pub const DEFAULT_IPFSPROXY_LISTEN: &str = "/ip4/127.0.0.1/tcp/9095";
pub const DEFAULT_IPFS_API: &str = "/ip4/127.0.0.1/tcp/5001";
const DEFAULT_EXTRACT_PATH: &str = "/api/v0/version";
const DEFAULT_EXTRACT_TTL: Duration = Duration::from_secs(300);

fn is_default_extract_path(s: &str) -> bool {
    s == DEFAULT_EXTRACT_PATH
}

fn is_default_extract_ttl(d: &Duration) -> bool {
    *d == DEFAULT_EXTRACT_TTL
}

impl Default for IpfsProxyConfig {
    fn default() -> IpfsProxyConfig {
        IpfsProxyConfig {
            listen_multiaddress: vec![ma(DEFAULT_IPFSPROXY_LISTEN)],
            node_multiaddress: ma(DEFAULT_IPFS_API),
            node_https: false,
            log_file: String::new(),
            read_timeout: Duration::ZERO,
            read_header_timeout: Duration::from_secs(5),
            write_timeout: Duration::ZERO,
            idle_timeout: Duration::from_secs(60),
            max_header_bytes: MIN_MAX_HEADER_BYTES,
            extract_headers_extra: vec![],
            extract_headers_path: DEFAULT_EXTRACT_PATH.into(),
            extract_headers_ttl: DEFAULT_EXTRACT_TTL,
        }
    }
}

impl IpfsProxyConfig {
    /// The access-log file resolved against `folder`; `None` = log through `tracing`.
    pub fn log_path(&self, folder: &Path) -> Option<PathBuf> {
        (!self.log_file.is_empty()).then(|| in_folder(folder, &self.log_file))
    }

    pub(super) fn read(o: &mut Obj<'_>, p: &mut IpfsProxyConfig) -> Result<(), ConfigError> {
        let mut listen = vec![];
        o.read("listen_multiaddress", &mut listen)?;
        if !listen.is_empty() {
            p.listen_multiaddress = listen;
        }
        o.read("node_multiaddress", &mut p.node_multiaddress)?;
        o.read("node_https", &mut p.node_https)?;
        o.read("log_file", &mut p.log_file)?;
        o.read("read_timeout", &mut p.read_timeout)?;
        o.read("read_header_timeout", &mut p.read_header_timeout)?;
        o.read("write_timeout", &mut p.write_timeout)?;
        o.read("idle_timeout", &mut p.idle_timeout)?;
        o.read_nonzero("max_header_bytes", &mut p.max_header_bytes)?;
        o.read("extract_headers_extra", &mut p.extract_headers_extra)?;
        o.read_nonzero("extract_headers_path", &mut p.extract_headers_path)?;
        o.read("extract_headers_ttl", &mut p.extract_headers_ttl)?;
        Ok(())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.listen_multiaddress.is_empty() {
            return Err(ConfigError::invalid(
                "api.ipfsproxy.listen_multiaddress",
                "is empty",
            ));
        }
        if self.extract_headers_path.is_empty() {
            return Err(ConfigError::invalid(
                "api.ipfsproxy.extract_headers_path",
                "should not be empty",
            ));
        }
        max_header_bytes(self.max_header_bytes, "api.ipfsproxy.max_header_bytes")
    }
}

// ---------------------------------------------------------------------------------------------
// ipfs_connector, ipfs_node

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct IpfsConnectorConfig {
    pub ipfshttp: IpfsHttpConfig,
}

/// `ipfs_connector.ipfshttp` (`ipfsconn/ipfshttp/config.go`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpfsHttpConfig {
    /// The Kubo RPC API (ignored when `ipfs_node.embedded` is present).
    #[serde(serialize_with = "ser::maddr")]
    pub node_multiaddress: Multiaddr,
    /// After the node is ready, connect it to the other peers' nodes (0 = never).
    #[serde(with = "serde_go")]
    pub connect_swarms_delay: Duration,
    #[serde(with = "serde_go")]
    pub ipfs_request_timeout: Duration,
    /// Stall timeout of `pin/add`: cancelled when progress has not moved for this long.
    #[serde(with = "serde_go")]
    pub pin_timeout: Duration,
    #[serde(with = "serde_go")]
    pub unpin_timeout: Duration,
    #[serde(with = "serde_go")]
    pub repogc_timeout: Duration,
    /// Push informer metrics every N pin/unpin/block-put operations (0 = off).
    pub informer_trigger_interval: u32,
    #[serde(skip_serializing_if = "is_false")]
    pub unpin_disable: bool,
}

impl Default for IpfsHttpConfig {
    fn default() -> IpfsHttpConfig {
        IpfsHttpConfig {
            node_multiaddress: ma(DEFAULT_IPFS_API),
            connect_swarms_delay: Duration::from_secs(30),
            ipfs_request_timeout: Duration::from_secs(300),
            pin_timeout: Duration::from_secs(120),
            unpin_timeout: Duration::from_secs(3 * 3600),
            repogc_timeout: Duration::from_secs(24 * 3600),
            informer_trigger_interval: 0,
            unpin_disable: false,
        }
    }
}

impl IpfsHttpConfig {
    pub(super) fn read(o: &mut Obj<'_>, c: &mut IpfsHttpConfig) -> Result<(), ConfigError> {
        o.read("node_multiaddress", &mut c.node_multiaddress)?;
        o.read("connect_swarms_delay", &mut c.connect_swarms_delay)?;
        o.read("ipfs_request_timeout", &mut c.ipfs_request_timeout)?;
        o.read("pin_timeout", &mut c.pin_timeout)?;
        o.read("unpin_timeout", &mut c.unpin_timeout)?;
        o.read("repogc_timeout", &mut c.repogc_timeout)?;
        o.read(
            "informer_trigger_interval",
            &mut c.informer_trigger_interval,
        )?;
        o.read("unpin_disable", &mut c.unpin_disable)?;
        Ok(())
    }
}

/// Pinfold's `ipfs_node` section.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct IpfsNodeConfig {
    /// Present: run the embedded IPFS node and use it instead of an external Kubo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded: Option<EmbeddedNodeConfig>,
}

impl IpfsNodeConfig {
    pub(super) fn is_empty(&self) -> bool {
        self.embedded.is_none()
    }
}

/// `ipfs_node.embedded`: the in-process IPFS node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddedNodeConfig {
    /// The node's repository (blocks, pins); relative paths are inside the config folder.
    pub repo: PathBuf,
    /// Where the node serves its Kubo RPC subset; loopback TCP only (no authentication).
    #[serde(serialize_with = "ser::maddr")]
    pub api_listen_multiaddress: Multiaddr,
    /// Storage limit reported as `StorageMax` (Kubo's `Datastore.StorageMax`), e.g. "10GB".
    pub storage_max: StorageSize,
}

impl Default for EmbeddedNodeConfig {
    fn default() -> EmbeddedNodeConfig {
        EmbeddedNodeConfig {
            repo: PathBuf::from("ipfs"),
            api_listen_multiaddress: ma(DEFAULT_IPFS_API),
            storage_max: StorageSize(10_000_000_000),
        }
    }
}

impl EmbeddedNodeConfig {
    /// The repository path, resolved against the configuration folder.
    pub fn repo_path(&self, folder: &Path) -> PathBuf {
        folder.join(&self.repo)
    }

    pub(super) fn read(o: &mut Obj<'_>, e: &mut EmbeddedNodeConfig) -> Result<(), ConfigError> {
        let mut repo = String::new();
        o.read("repo", &mut repo)?;
        if !repo.is_empty() {
            e.repo = PathBuf::from(repo);
        }
        o.read("api_listen_multiaddress", &mut e.api_listen_multiaddress)?;
        o.read("storage_max", &mut e.storage_max)?;
        Ok(())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let mut it = self.api_listen_multiaddress.iter();
        let tcp = matches!((it.nth(1), it.next()), (Some(Protocol::Tcp(_)), None));
        if !(tcp && is_loopback(&self.api_listen_multiaddress)) {
            return Err(ConfigError::invalid(
                "ipfs_node.embedded.api_listen_multiaddress",
                format!(
                    "{} is not allowed: the embedded node's RPC API has no authentication and must listen on a loopback TCP address such as {DEFAULT_IPFS_API}",
                    self.api_listen_multiaddress
                ),
            ));
        }
        if self.storage_max.0 == 0 {
            return Err(ConfigError::invalid(
                "ipfs_node.embedded.storage_max",
                "must be larger than 0",
            ));
        }
        Ok(())
    }
}

/// A byte size written like Kubo's `StorageMax`: `"10GB"`, `"500MB"`, `"1.5TB"`, `"512MiB"`,
/// or a plain number of bytes. Decimal units are powers of 1000, `…iB` units of 1024.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StorageSize(pub u64);

impl StorageSize {
    pub fn bytes(self) -> u64 {
        self.0
    }

    pub fn parse(s: &str) -> Result<StorageSize, String> {
        let err = || format!("invalid size {s:?} (write e.g. \"10GB\", \"500MB\" or \"512MiB\")");
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = (&t[..split], t[split..].trim());
        if num.is_empty() {
            return Err(err());
        }
        let mult: u64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "m" | "mb" => 1_000_000,
            "g" | "gb" => 1_000_000_000,
            "t" | "tb" => 1_000_000_000_000,
            "p" | "pb" => 1_000_000_000_000_000,
            "ki" | "kib" => 1 << 10,
            "mi" | "mib" => 1 << 20,
            "gi" | "gib" => 1 << 30,
            "ti" | "tib" => 1 << 40,
            "pi" | "pib" => 1 << 50,
            _ => return Err(err()),
        };
        let bytes = if let Ok(n) = num.parse::<u64>() {
            n.checked_mul(mult).ok_or_else(err)?
        } else {
            let f: f64 = num.parse().map_err(|_| err())?;
            let b = (f * mult as f64).round();
            if !b.is_finite() || b >= u64::MAX as f64 {
                return Err(err());
            }
            b as u64
        };
        Ok(StorageSize(bytes))
    }
}

impl fmt::Display for StorageSize {
    /// The largest unit that divides the size exactly (`10GB`, `512MiB`, `1234B`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 10] = [
            (1_000_000_000_000_000, "PB"),
            (1 << 50, "PiB"),
            (1_000_000_000_000, "TB"),
            (1 << 40, "TiB"),
            (1_000_000_000, "GB"),
            (1 << 30, "GiB"),
            (1_000_000, "MB"),
            (1 << 20, "MiB"),
            (1_000, "kB"),
            (1 << 10, "KiB"),
        ];
        for (m, u) in UNITS {
            if self.0 >= m && self.0.is_multiple_of(m) {
                return write!(f, "{}{u}", self.0 / m);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl fmt::Debug for StorageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorageSize({self})")
    }
}

impl Serialize for StorageSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromJson for StorageSize {
    fn from_json(v: &Value) -> Result<StorageSize, String> {
        match v {
            Value::String(s) => StorageSize::parse(s),
            Value::Number(_) => u64::from_json(v).map(StorageSize),
            other => Err(format!("expected a size such as \"10GB\", found {other}")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// pin_tracker, monitor, allocator, informer, observations

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PinTrackerConfig {
    pub stateless: StatelessTrackerConfig,
}

/// `pin_tracker.stateless`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatelessTrackerConfig {
    /// Written only when not the default 1000000.
    #[serde(skip_serializing_if = "is_default_queue_size")]
    pub max_pin_queue_size: usize,
    pub concurrent_pins: usize,
    #[serde(with = "serde_go")]
    pub priority_pin_max_age: Duration,
    pub priority_pin_max_retries: u32,
}

const DEFAULT_MAX_PIN_QUEUE_SIZE: usize = 1_000_000;

fn is_default_queue_size(n: &usize) -> bool {
    *n == DEFAULT_MAX_PIN_QUEUE_SIZE
}

impl Default for StatelessTrackerConfig {
    fn default() -> StatelessTrackerConfig {
        StatelessTrackerConfig {
            max_pin_queue_size: DEFAULT_MAX_PIN_QUEUE_SIZE,
            concurrent_pins: 10,
            priority_pin_max_age: Duration::from_secs(24 * 3600),
            priority_pin_max_retries: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct MonitorConfig {
    pub pubsubmon: PubsubMonConfig,
}

/// `monitor.pubsubmon`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PubsubMonConfig {
    #[serde(with = "serde_go")]
    pub check_interval: Duration,
}

impl Default for PubsubMonConfig {
    fn default() -> PubsubMonConfig {
        PubsubMonConfig {
            check_interval: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct AllocatorConfig {
    /// Absent: `allocate_by = ["freespace"]` (see [`ServiceConfig::allocate_by`](crate::config::ServiceConfig::allocate_by)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balanced: Option<BalancedAllocatorConfig>,
}

impl AllocatorConfig {
    pub(super) fn is_empty(&self) -> bool {
        self.balanced.is_none()
    }
}

/// `allocator.balanced`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BalancedAllocatorConfig {
    pub allocate_by: Vec<String>,
}

impl Default for BalancedAllocatorConfig {
    fn default() -> BalancedAllocatorConfig {
        BalancedAllocatorConfig {
            allocate_by: vec!["tag:group".into(), "freespace".into()],
        }
    }
}

/// The informers; each runs iff its section is present.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct InformerConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<DiskInformerConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinqueue: Option<PinQueueInformerConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<TagsInformerConfig>,
}

impl InformerConfig {
    pub(super) fn is_empty(&self) -> bool {
        self.disk.is_none() && self.pinqueue.is_none() && self.tags.is_none()
    }
}

/// `informer.disk`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiskInformerConfig {
    #[serde(with = "serde_go")]
    pub metric_ttl: Duration,
    pub metric_type: DiskMetricType,
}

/// What the disk informer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskMetricType {
    /// Space left in the IPFS repository (`freespace`).
    Freespace,
    /// Space used by the IPFS repository (`reposize`).
    Reposize,
}

impl FromJson for DiskMetricType {
    fn from_json(v: &Value) -> Result<DiskMetricType, String> {
        parse_metric_type(&String::from_json(v)?)
    }
}

pub(crate) fn parse_metric_type(s: &str) -> Result<DiskMetricType, String> {
    match s {
        "freespace" => Ok(DiskMetricType::Freespace),
        "reposize" => Ok(DiskMetricType::Reposize),
        other => Err(format!(
            "{other:?} is invalid (use \"freespace\" or \"reposize\")"
        )),
    }
}

impl Default for DiskInformerConfig {
    fn default() -> DiskInformerConfig {
        DiskInformerConfig {
            metric_ttl: Duration::from_secs(30),
            metric_type: DiskMetricType::Freespace,
        }
    }
}

/// `informer.pinqueue`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PinQueueInformerConfig {
    #[serde(with = "serde_go")]
    pub metric_ttl: Duration,
    pub weight_bucket_size: u64,
}

impl Default for PinQueueInformerConfig {
    fn default() -> PinQueueInformerConfig {
        PinQueueInformerConfig {
            metric_ttl: Duration::from_secs(30),
            weight_bucket_size: 100_000,
        }
    }
}

/// `informer.tags`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagsInformerConfig {
    #[serde(with = "serde_go")]
    pub metric_ttl: Duration,
    pub tags: BTreeMap<String, String>,
}

impl Default for TagsInformerConfig {
    fn default() -> TagsInformerConfig {
        TagsInformerConfig {
            metric_ttl: Duration::from_secs(30),
            tags: BTreeMap::from([("group".to_string(), "default".to_string())]),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ObservationsConfig {
    pub metrics: MetricsConfig,
    pub tracing: TracingConfig,
}

/// `observations.metrics`: the Prometheus endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsConfig {
    pub enable_stats: bool,
    #[serde(serialize_with = "ser::maddr")]
    pub prometheus_endpoint: Multiaddr,
    #[serde(with = "serde_go")]
    pub reporting_interval: Duration,
}

impl Default for MetricsConfig {
    fn default() -> MetricsConfig {
        MetricsConfig {
            enable_stats: false,
            prometheus_endpoint: ma("/ip4/127.0.0.1/tcp/8888"),
            reporting_interval: Duration::from_secs(30),
        }
    }
}

/// `observations.tracing` (kept for compatibility; Pinfold traces through `tracing`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TracingConfig {
    pub enable_tracing: bool,
    #[serde(serialize_with = "ser::maddr")]
    pub jaeger_agent_endpoint: Multiaddr,
    pub sampling_prob: f64,
    pub service_name: String,
}

impl Default for TracingConfig {
    fn default() -> TracingConfig {
        TracingConfig {
            enable_tracing: false,
            jaeger_agent_endpoint: ma("/ip4/0.0.0.0/udp/6831"),
            sampling_prob: 0.3,
            service_name: "cluster-daemon".into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// helpers

pub(super) fn ma(s: &str) -> Multiaddr {
    s.parse().expect("built-in multiaddress")
}

pub(super) fn is_false(b: &bool) -> bool {
    !*b
}

pub(super) fn fmt_d(d: Duration) -> String {
    crate::gocompat::duration::format(d)
}

pub(super) fn nonzero(d: Duration, key: &str) -> Result<(), ConfigError> {
    if d.is_zero() {
        return Err(ConfigError::invalid(
            key,
            "0s is invalid (must be larger than 0)",
        ));
    }
    Ok(())
}

pub(super) fn at_least(d: Duration, min: Duration, key: &str) -> Result<(), ConfigError> {
    if d < min {
        return Err(ConfigError::invalid(
            key,
            format!("{} is too low (must be at least {})", fmt_d(d), fmt_d(min)),
        ));
    }
    Ok(())
}

pub(super) fn positive<T: PartialEq + Default + fmt::Display>(
    n: T,
    key: &str,
) -> Result<(), ConfigError> {
    if n == T::default() {
        return Err(ConfigError::invalid(
            key,
            "0 is invalid (must be larger than 0)",
        ));
    }
    Ok(())
}

pub(super) fn max_header_bytes(n: usize, key: &str) -> Result<(), ConfigError> {
    if n < MIN_MAX_HEADER_BYTES {
        return Err(ConfigError::invalid(
            key,
            format!("{n} is invalid (must be at least {MIN_MAX_HEADER_BYTES})"),
        ));
    }
    Ok(())
}

/// Whether `addr` starts with a loopback IP (`/ip4/127.x`, `/ip6/::1`) or is a unix socket.
pub(super) fn is_loopback(addr: &Multiaddr) -> bool {
    match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => ip.is_loopback(),
        Some(Protocol::Ip6(ip)) => ip.is_loopback(),
        Some(Protocol::Unix(_)) => true,
        _ => false,
    }
}

/// A file name of the configuration resolved against the configuration folder (absolute
/// names are kept), as Go does for TLS and log files.
pub(super) fn in_folder(folder: &Path, file: &str) -> PathBuf {
    folder.join(file)
}

/// The host name, IPFS Cluster's default peer name ("" if it cannot be read).
pub(crate) fn hostname() -> String {
    for file in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(s) = std::fs::read_to_string(file) {
            let s = s.trim();
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    std::env::var("HOSTNAME").unwrap_or_default()
}
