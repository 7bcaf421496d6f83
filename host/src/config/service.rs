//! `service.json`: the typed configuration of a Pinfold peer, with IPFS Cluster v1.1.6's exact
//! sections, keys, key order, defaults and duration format, so an IPFS Cluster `service.json`
//! loads unchanged and a Pinfold one reads like IPFS Cluster's.
//!
//! ## Sections
//! `cluster`, `consensus.raft`, `api.{ipfsproxy,pinsvcapi,restapi}`, `ipfs_connector.ipfshttp`,
//! `ipfs_node.embedded` (Pinfold's own), `pin_tracker.stateless`, `monitor.pubsubmon`,
//! `allocator.balanced`, `informer.{disk,pinqueue,tags}`, `observations.{metrics,tracing}`.
//! As in Go, **a section's presence enables its component**: `api.restapi`, `api.pinsvcapi`,
//! `api.ipfsproxy`, each informer, and here `ipfs_node.embedded`, are `Option`s. An absent
//! `allocator.balanced` means `allocate_by = ["freespace"]` (Go's legacy rule, see
//! [`ServiceConfig::allocate_by`]). The other sections are always there and take their
//! defaults when absent.
//!
//! ## The embedded IPFS node
//! `"ipfs_node": {"embedded": {"repo": "ipfs", "api_listen_multiaddress":
//! "/ip4/127.0.0.1/tcp/5001", "storage_max": "10GB"}}`. Present: the daemon runs the embedded
//! node in-process (repository `repo`, relative to the configuration folder), serving the Kubo
//! RPC subset on `api_listen_multiaddress`, and the IPFS connector and the IPFS proxy talk to
//! that address ([`ServiceConfig::ipfs_api_multiaddress`]), whatever their own
//! `node_multiaddress` says (a warning tells when they differ). Absent: they talk to the Kubo
//! daemon at `ipfs_connector.ipfshttp.node_multiaddress` / `api.ipfsproxy.node_multiaddress`,
//! exactly as IPFS Cluster does. `pinfold init` writes the section (nothing else to install);
//! deleting it switches a peer to an external Kubo. The embedded API must be a loopback TCP
//! address: it has no authentication.
//!
//! ## Loading rules (and where they differ from Go)
//! * Defaults first, then the file: **an omitted key (or `null`) keeps its default.** Go assigns
//!   several bools, maps and lists directly, so there an omitted `disable_repinning`,
//!   `leave_on_shutdown`, `enable_relay_hop`, `pin_only_on_*`, `headers`, `cors_*`, `tags`
//!   becomes false/nil. Pinfold's rule is uniform and what a reader of the docs expects.
//! * Go leniencies kept: `""` durations and multiaddrs keep the default; a listen list may be a
//!   string; `0` keeps the default where Go uses `SetIfNotDefault` (`max_header_bytes`,
//!   `raft.backups_rotate`, `max_append_entries`, `trailing_logs`, `snapshot_threshold`, all
//!   `pin_tracker.stateless` numbers); an empty `allocate_by` or REST listen list keeps the
//!   default; `replication_factor_*` are checked as in Go's `Validate()`.
//! * Stricter than Go: an explicit `replication_factor_min/max` of 0 is an error (Go silently
//!   keeps -1); bad raft durations are errors (Go warns and keeps the default); bad
//!   `init_peerset` IDs are errors (Go drops them); `tracing.sampling_prob` must be within 0..1.
//! * Unknown keys (e.g. the old `replication_factor`, `monbasic`, `informer.numpin`) are
//!   ignored with a warning returned to the caller. `datastore` (crdt only) is ignored with a
//!   warning. `source` (remote configuration) is refused: Pinfold has no HTTP config loader.
//! * `consensus.crdt` alone is refused with a clear error (Pinfold implements raft only);
//!   next to a raft section it is kept verbatim (so saving does not lose it) and ignored with
//!   a warning. A file with no consensus section gets raft defaults (Go refuses it).
//! * An empty or absent `secret` means no private network, as in Go, with a loud warning.
//! * Legacy `cluster.id`/`cluster.private_key` are accepted (see `identity.rs`) and dropped on
//!   save, as Go does once identity.json exists.
//!
//! ## Pinfold's defaults that differ from IPFS Cluster's
//! * `cluster.listen_multiaddress` = `/ip4/0.0.0.0/tcp/9096` only: no `/udp/9096/quic`, which
//!   can never work with a private network (Go silently fails to listen on it). A QUIC address
//!   in a loaded file is kept but warned about.
//! * `cluster.mdns_interval` = `0s`: no mDNS unless asked for (Go: `10s`). Announcing a peer on
//!   every LAN it joins is a surprise for a server; set e.g. `"10s"` to get Go's behaviour.
//! * `consensus` = raft (Go's init default is crdt, which Pinfold does not implement).
//! * The `ipfs_node.embedded` section exists.
//!
//! ## Saving
//! [`ServiceConfig::to_json`] writes Go's key order (struct order; maps sorted) with 2-space
//! indentation, durations as Go strings, Go's `omitempty`/"omitted when default" rules, and
//! single-address lists as a plain string (Go's `config.Strings`). Absent optional sections stay
//! absent (Go would write all of them back with defaults, silently enabling components).
//! [`ServiceConfig::to_display_json`] masks `secret`, `basic_auth_credentials` and private keys
//! as `"XXX_hidden_XXX"`.
//!
//! Validation ([`ServiceConfig::validate`]) follows each Go `Validate()` and names the key path.
//! TLS files are not opened here: the API reports a missing certificate when it starts.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use libp2p_identity::PeerId;
use multiaddr::{Multiaddr, Protocol};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::duration::serde_go;
use super::env::{self, Env};
use super::error::ConfigError;
use super::identity::PrivateKey;
use super::json::{FromJson, Obj, ser};
use super::secret::{self, BasicAuthCredentials, ClusterSecret};

/// The whole `service.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceConfig {
    pub cluster: ClusterConfig,
    pub consensus: ConsensusConfig,
    pub api: ApiConfig,
    pub ipfs_connector: IpfsConnectorConfig,
    #[serde(skip_serializing_if = "IpfsNodeConfig::is_empty")]
    pub ipfs_node: IpfsNodeConfig,
    pub pin_tracker: PinTrackerConfig,
    pub monitor: MonitorConfig,
    #[serde(skip_serializing_if = "AllocatorConfig::is_empty")]
    pub allocator: AllocatorConfig,
    #[serde(skip_serializing_if = "InformerConfig::is_empty")]
    pub informer: InformerConfig,
    pub observations: ObservationsConfig,
}

/// A configuration with the warnings found while reading it (unknown keys, ignored sections,
/// risky values). The warnings have also been logged with `tracing::warn!`.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: ServiceConfig,
    pub warnings: Vec<String>,
}

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
    /// generated by [`ServiceConfig::generate`], never by loading.
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

    fn read(
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

    fn validate(&self) -> Result<(), ConfigError> {
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

    fn read(o: &mut Obj<'_>, r: &mut RaftConfig) -> Result<(), ConfigError> {
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
    fn validate(&self) -> Result<(), ConfigError> {
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

    fn read(o: &mut Obj<'_>, a: &mut RestApiConfig) -> Result<(), ConfigError> {
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

    fn validate(&self, section: &str) -> Result<(), ConfigError> {
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
        serialize_with = "ser::duration"
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
    fn read(o: &mut Obj<'_>, p: &mut IpfsProxyConfig) -> Result<(), ConfigError> {
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

    fn validate(&self) -> Result<(), ConfigError> {
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
    fn read(o: &mut Obj<'_>, c: &mut IpfsHttpConfig) -> Result<(), ConfigError> {
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
    fn is_empty(&self) -> bool {
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

    fn read(o: &mut Obj<'_>, e: &mut EmbeddedNodeConfig) -> Result<(), ConfigError> {
        let mut repo = String::new();
        o.read("repo", &mut repo)?;
        if !repo.is_empty() {
            e.repo = PathBuf::from(repo);
        }
        o.read("api_listen_multiaddress", &mut e.api_listen_multiaddress)?;
        o.read("storage_max", &mut e.storage_max)?;
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut it = self.api_listen_multiaddress.iter();
        let loopback = match (it.next(), it.next(), it.next()) {
            (Some(Protocol::Ip4(ip)), Some(Protocol::Tcp(_)), None) => ip.is_loopback(),
            (Some(Protocol::Ip6(ip)), Some(Protocol::Tcp(_)), None) => ip.is_loopback(),
            _ => false,
        };
        if !loopback {
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
    /// Absent: `allocate_by = ["freespace"]` (see [`ServiceConfig::allocate_by`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balanced: Option<BalancedAllocatorConfig>,
}

impl AllocatorConfig {
    fn is_empty(&self) -> bool {
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
    fn is_empty(&self) -> bool {
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
// the whole file

impl Default for ServiceConfig {
    /// What `pinfold init` writes, minus the secret: every section present, raft consensus,
    /// the embedded node enabled.
    fn default() -> ServiceConfig {
        ServiceConfig {
            cluster: ClusterConfig::default(),
            consensus: ConsensusConfig::default(),
            api: ApiConfig {
                ipfsproxy: Some(IpfsProxyConfig::default()),
                pinsvcapi: Some(RestApiConfig::pinsvcapi_default()),
                restapi: Some(RestApiConfig::restapi_default()),
            },
            ipfs_connector: IpfsConnectorConfig::default(),
            ipfs_node: IpfsNodeConfig {
                embedded: Some(EmbeddedNodeConfig::default()),
            },
            pin_tracker: PinTrackerConfig::default(),
            monitor: MonitorConfig::default(),
            allocator: AllocatorConfig {
                balanced: Some(BalancedAllocatorConfig::default()),
            },
            informer: InformerConfig {
                disk: Some(DiskInformerConfig::default()),
                pinqueue: Some(PinQueueInformerConfig::default()),
                tags: Some(TagsInformerConfig::default()),
            },
            observations: ObservationsConfig::default(),
        }
    }
}

impl ServiceConfig {
    /// The configuration `init` starts from: [`ServiceConfig::default`] with a fresh random
    /// 32-byte secret.
    pub fn generate() -> ServiceConfig {
        let mut c = ServiceConfig::default();
        c.cluster.secret = Some(ClusterSecret::generate());
        c
    }

    /// The base a file is laid over: defaults for the always-present sections, optional
    /// sections absent (a file enables a component by having its section).
    fn base() -> ServiceConfig {
        ServiceConfig {
            api: ApiConfig::default(),
            ipfs_node: IpfsNodeConfig::default(),
            allocator: AllocatorConfig::default(),
            informer: InformerConfig::default(),
            ..ServiceConfig::default()
        }
    }

    /// Parses and validates `service.json` text; no environment overrides.
    pub fn from_json_str(text: &str) -> Result<Loaded, ConfigError> {
        ServiceConfig::from_json_str_with_env(text, &|_| None)
    }

    /// Parses `service.json` text, applies the `CLUSTER_*` overrides from `env`, validates.
    pub fn from_json_str_with_env(text: &str, env: Env<'_>) -> Result<Loaded, ConfigError> {
        let value: Value = serde_json::from_str(text).map_err(|source| ConfigError::Json {
            path: PathBuf::from("service.json"),
            source,
        })?;
        let mut warnings = vec![];
        let config = ServiceConfig::from_value(&value, &mut warnings)?;
        config.finish_load(env, warnings)
    }

    /// Reads `path`, applies the `CLUSTER_*` overrides from `env` (after the file, as Go does),
    /// validates. Errors name the file (or the variable, for a value that came from `env`).
    pub fn load(path: &Path, env: Env<'_>) -> Result<Loaded, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, e))?;
        let value: Value = serde_json::from_str(&text).map_err(|source| ConfigError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let mut warnings = vec![];
        let config =
            ServiceConfig::from_value(&value, &mut warnings).map_err(|e| e.in_file(path))?;
        config.finish_load(env, warnings).map_err(|e| match e {
            ConfigError::Env { .. } => e,
            other => other.in_file(path),
        })
    }

    fn finish_load(
        mut self,
        env: Env<'_>,
        mut warnings: Vec<String>,
    ) -> Result<Loaded, ConfigError> {
        self.apply_env_and_validate(env, &mut warnings)?;
        for w in &warnings {
            tracing::warn!("{w}");
        }
        Ok(Loaded {
            config: self,
            warnings,
        })
    }

    /// Applies the `CLUSTER_*` overrides, validates (blaming a variable for a bad value it
    /// set), and appends the warnings about risky values.
    pub(crate) fn apply_env_and_validate(
        &mut self,
        env: Env<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        let overridden = env::apply(self, env, warnings)?;
        if let Err(e) = self.validate() {
            if let Some((_, var)) = overridden.iter().find(|(key, _)| Some(*key) == e.key()) {
                return Err(ConfigError::env(*var, e.to_string()));
            }
            return Err(e);
        }
        warnings.extend(self.risk_warnings());
        Ok(())
    }

    /// Lays a parsed `service.json` over the defaults; does not validate.
    fn from_value(root: &Value, w: &mut Vec<String>) -> Result<ServiceConfig, ConfigError> {
        let mut c = ServiceConfig::base();
        let mut top = Obj::new("", root)?;
        if let Some(src) = top
            .value("source")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            return Err(ConfigError::Unsupported {
                key: "source".into(),
                reason: format!(
                    "loading the configuration from a URL ({src}) is not supported by Pinfold; download it and use it as service.json"
                ),
            });
        }
        if let Some(mut o) = top.sub("cluster")? {
            ClusterConfig::read(&mut o, &mut c.cluster, w)?;
            o.finish(w);
        }

        match top.sub("consensus")? {
            Some(mut cons) => {
                let crdt = cons.value("crdt").cloned();
                match cons.sub("raft")? {
                    Some(mut raft) => {
                        RaftConfig::read(&mut raft, &mut c.consensus.raft)?;
                        raft.finish(w);
                        if crdt.is_some() {
                            w.push(
                                "consensus.crdt ignored: Pinfold only implements raft consensus (consensus.raft is used)".into(),
                            );
                        }
                        c.consensus.crdt = crdt;
                    }
                    None if crdt.is_some() => {
                        return Err(ConfigError::CrdtNotSupported {
                            key: "consensus.crdt".into(),
                        });
                    }
                    None => w.push(
                        "no consensus.raft section: raft with default settings is used".into(),
                    ),
                }
                cons.finish(w);
            }
            None => w.push("no consensus section: raft with default settings is used".into()),
        }

        if let Some(mut api) = top.sub("api")? {
            if let Some(mut o) = api.sub("restapi")? {
                let mut r = RestApiConfig::restapi_default();
                RestApiConfig::read(&mut o, &mut r)?;
                o.finish(w);
                c.api.restapi = Some(r);
            }
            if let Some(mut o) = api.sub("pinsvcapi")? {
                let mut r = RestApiConfig::pinsvcapi_default();
                RestApiConfig::read(&mut o, &mut r)?;
                o.finish(w);
                c.api.pinsvcapi = Some(r);
            }
            if let Some(mut o) = api.sub("ipfsproxy")? {
                let mut p = IpfsProxyConfig::default();
                IpfsProxyConfig::read(&mut o, &mut p)?;
                o.finish(w);
                c.api.ipfsproxy = Some(p);
            }
            api.finish(w);
        }

        if let Some(mut conn) = top.sub("ipfs_connector")? {
            if let Some(mut o) = conn.sub("ipfshttp")? {
                IpfsHttpConfig::read(&mut o, &mut c.ipfs_connector.ipfshttp)?;
                o.finish(w);
            }
            conn.finish(w);
        }

        if let Some(mut node) = top.sub("ipfs_node")? {
            if let Some(mut o) = node.sub("embedded")? {
                let mut e = EmbeddedNodeConfig::default();
                EmbeddedNodeConfig::read(&mut o, &mut e)?;
                o.finish(w);
                c.ipfs_node.embedded = Some(e);
            }
            node.finish(w);
        }

        if let Some(mut pt) = top.sub("pin_tracker")? {
            if let Some(mut o) = pt.sub("stateless")? {
                let s = &mut c.pin_tracker.stateless;
                o.read_nonzero("max_pin_queue_size", &mut s.max_pin_queue_size)?;
                o.read_nonzero("concurrent_pins", &mut s.concurrent_pins)?;
                o.read("priority_pin_max_age", &mut s.priority_pin_max_age)?;
                o.read_nonzero("priority_pin_max_retries", &mut s.priority_pin_max_retries)?;
                o.finish(w);
            }
            pt.finish(w);
        }

        if let Some(mut mon) = top.sub("monitor")? {
            if let Some(mut o) = mon.sub("pubsubmon")? {
                o.read("check_interval", &mut c.monitor.pubsubmon.check_interval)?;
                o.finish(w);
            }
            mon.finish(w);
        }

        if let Some(mut alloc) = top.sub("allocator")? {
            if let Some(mut o) = alloc.sub("balanced")? {
                let mut b = BalancedAllocatorConfig::default();
                let mut by = vec![];
                o.read("allocate_by", &mut by)?;
                if !by.is_empty() {
                    b.allocate_by = by;
                }
                o.finish(w);
                c.allocator.balanced = Some(b);
            }
            alloc.finish(w);
        }

        if let Some(mut inf) = top.sub("informer")? {
            if let Some(mut o) = inf.sub("disk")? {
                let mut d = DiskInformerConfig::default();
                o.read("metric_ttl", &mut d.metric_ttl)?;
                o.read("metric_type", &mut d.metric_type)?;
                o.finish(w);
                c.informer.disk = Some(d);
            }
            if let Some(mut o) = inf.sub("pinqueue")? {
                let mut p = PinQueueInformerConfig::default();
                o.read("metric_ttl", &mut p.metric_ttl)?;
                o.read("weight_bucket_size", &mut p.weight_bucket_size)?;
                o.finish(w);
                c.informer.pinqueue = Some(p);
            }
            if let Some(mut o) = inf.sub("tags")? {
                let mut t = TagsInformerConfig::default();
                o.read("metric_ttl", &mut t.metric_ttl)?;
                o.read("tags", &mut t.tags)?;
                o.finish(w);
                c.informer.tags = Some(t);
            }
            inf.finish(w);
        }

        if let Some(mut obs) = top.sub("observations")? {
            if let Some(mut o) = obs.sub("metrics")? {
                let m = &mut c.observations.metrics;
                o.read("enable_stats", &mut m.enable_stats)?;
                o.read("prometheus_endpoint", &mut m.prometheus_endpoint)?;
                o.read("reporting_interval", &mut m.reporting_interval)?;
                o.finish(w);
            }
            if let Some(mut o) = obs.sub("tracing")? {
                let t = &mut c.observations.tracing;
                o.read("enable_tracing", &mut t.enable_tracing)?;
                o.read("jaeger_agent_endpoint", &mut t.jaeger_agent_endpoint)?;
                o.read("sampling_prob", &mut t.sampling_prob)?;
                o.read("service_name", &mut t.service_name)?;
                o.finish(w);
            }
            obs.finish(w);
        }

        if top.value("datastore").is_some() {
            top.ignore("datastore");
            w.push("datastore section ignored: it configures crdt consensus, which Pinfold does not implement".into());
        }
        top.finish(w);
        Ok(c)
    }

    /// Every check of IPFS Cluster's `Validate()` methods; the error names the key path.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.cluster.validate()?;
        self.consensus.raft.validate()?;
        if let Some(r) = &self.api.restapi {
            r.validate("api.restapi")?;
        }
        if let Some(r) = &self.api.pinsvcapi {
            r.validate("api.pinsvcapi")?;
        }
        if let Some(p) = &self.api.ipfsproxy {
            p.validate()?;
        }
        if let Some(e) = &self.ipfs_node.embedded {
            e.validate()?;
        }
        let s = &self.pin_tracker.stateless;
        positive(
            s.max_pin_queue_size,
            "pin_tracker.stateless.max_pin_queue_size",
        )?;
        positive(s.concurrent_pins, "pin_tracker.stateless.concurrent_pins")?;
        nonzero(
            s.priority_pin_max_age,
            "pin_tracker.stateless.priority_pin_max_age",
        )?;
        positive(
            s.priority_pin_max_retries,
            "pin_tracker.stateless.priority_pin_max_retries",
        )?;
        nonzero(
            self.monitor.pubsubmon.check_interval,
            "monitor.pubsubmon.check_interval",
        )?;
        if let Some(b) = &self.allocator.balanced
            && b.allocate_by.is_empty()
        {
            return Err(ConfigError::invalid(
                "allocator.balanced.allocate_by",
                "is empty",
            ));
        }
        if let Some(d) = &self.informer.disk {
            nonzero(d.metric_ttl, "informer.disk.metric_ttl")?;
        }
        if let Some(p) = &self.informer.pinqueue {
            nonzero(p.metric_ttl, "informer.pinqueue.metric_ttl")?;
        }
        if let Some(t) = &self.informer.tags {
            nonzero(t.metric_ttl, "informer.tags.metric_ttl")?;
        }
        let t = &self.observations.tracing;
        if t.enable_tracing && !(0.0..=1.0).contains(&t.sampling_prob) {
            return Err(ConfigError::invalid(
                "observations.tracing.sampling_prob",
                format!("{} is invalid (must be between 0 and 1)", t.sampling_prob),
            ));
        }
        Ok(())
    }

    /// Valid but risky settings, reported at load.
    fn risk_warnings(&self) -> Vec<String> {
        let mut w = vec![];
        if self.cluster.secret.is_none() {
            w.push(
                "cluster.secret is empty: the cluster swarm runs WITHOUT a private network and anyone can connect to it"
                    .into(),
            );
        }
        for a in &self.cluster.listen_multiaddress {
            if a.iter()
                .any(|p| matches!(p, Protocol::Quic | Protocol::QuicV1))
            {
                w.push(format!(
                    "cluster.listen_multiaddress: {a} will not be used: QUIC cannot carry a private network (pnet)"
                ));
            }
        }
        if let Some(e) = &self.ipfs_node.embedded {
            let api = &e.api_listen_multiaddress;
            if self.ipfs_connector.ipfshttp.node_multiaddress != *api {
                w.push(format!(
                    "ipfs_connector.ipfshttp.node_multiaddress ({}) is not used: ipfs_node.embedded is present and the connector talks to the embedded node at {api}",
                    self.ipfs_connector.ipfshttp.node_multiaddress
                ));
            }
            if let Some(p) = &self.api.ipfsproxy
                && p.node_multiaddress != *api
            {
                w.push(format!(
                    "api.ipfsproxy.node_multiaddress ({}) is not used: ipfs_node.embedded is present and the proxy forwards to the embedded node at {api}",
                    p.node_multiaddress
                ));
            }
        }
        w
    }

    /// The Kubo RPC API the connector and the proxy use: the embedded node's when
    /// `ipfs_node.embedded` is present, else `ipfs_connector.ipfshttp.node_multiaddress`.
    pub fn ipfs_api_multiaddress(&self) -> &Multiaddr {
        match &self.ipfs_node.embedded {
            Some(e) => &e.api_listen_multiaddress,
            None => &self.ipfs_connector.ipfshttp.node_multiaddress,
        }
    }

    /// The address the IPFS proxy forwards to (the embedded node's API when present).
    pub fn ipfsproxy_node_multiaddress(&self) -> Option<&Multiaddr> {
        let p = self.api.ipfsproxy.as_ref()?;
        Some(match &self.ipfs_node.embedded {
            Some(e) => &e.api_listen_multiaddress,
            None => &p.node_multiaddress,
        })
    }

    /// The metrics the allocator ranks by: `allocator.balanced.allocate_by`, or `["freespace"]`
    /// when the section is absent (IPFS Cluster's rule for legacy configurations).
    pub fn allocate_by(&self) -> Vec<String> {
        match &self.allocator.balanced {
            Some(b) => b.allocate_by.clone(),
            None => vec!["freespace".into()],
        }
    }

    /// `service.json` text: Go's key order, 2-space indentation, Go durations.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("configuration serializes")
    }

    /// [`ServiceConfig::to_json`] with the secret, the API credentials and private keys
    /// replaced by `"XXX_hidden_XXX"` (for logs and `config show`-like output).
    pub fn to_display_json(&self) -> String {
        secret::masked(|| self.to_json())
    }

    /// Writes `path` atomically with mode 0600, creating its folder with mode 0700.
    pub fn write(&self, path: &Path) -> Result<(), ConfigError> {
        super::folder::write_private(path, self.to_json().as_bytes())
    }
}

// ---------------------------------------------------------------------------------------------
// helpers

fn ma(s: &str) -> Multiaddr {
    s.parse().expect("built-in multiaddress")
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn fmt_d(d: Duration) -> String {
    super::duration::format(d)
}

fn nonzero(d: Duration, key: &str) -> Result<(), ConfigError> {
    if d.is_zero() {
        return Err(ConfigError::invalid(
            key,
            "0s is invalid (must be larger than 0)",
        ));
    }
    Ok(())
}

fn at_least(d: Duration, min: Duration, key: &str) -> Result<(), ConfigError> {
    if d < min {
        return Err(ConfigError::invalid(
            key,
            format!("{} is too low (must be at least {})", fmt_d(d), fmt_d(min)),
        ));
    }
    Ok(())
}

fn positive<T: PartialEq + Default + fmt::Display>(n: T, key: &str) -> Result<(), ConfigError> {
    if n == T::default() {
        return Err(ConfigError::invalid(
            key,
            "0 is invalid (must be larger than 0)",
        ));
    }
    Ok(())
}

fn max_header_bytes(n: usize, key: &str) -> Result<(), ConfigError> {
    if n < MIN_MAX_HEADER_BYTES {
        return Err(ConfigError::invalid(
            key,
            format!("{n} is invalid (must be at least {MIN_MAX_HEADER_BYTES})"),
        ));
    }
    Ok(())
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
