//! `CLUSTER_*` environment overrides, with IPFS Cluster's names.
//!
//! IPFS Cluster runs `envconfig.Process(<section env key>, <section JSON struct>)` after loading
//! the file, so a variable is the section prefix plus the **upper-cased Go field name** of the
//! JSON struct, nested structs adding their own field name: `CLUSTER_SECRET`,
//! `CLUSTER_CONNECTIONMANAGER_HIGHWATER`, `CLUSTER_RESTAPI_HTTPLISTENMULTIADDRESS`,
//! `CLUSTER_IPFSHTTP_NODEMULTIADDRESS`, `CLUSTER_RAFT_HEARTBEATTIMEOUT`,
//! `CLUSTER_STATELESS_CONCURRENTPINS`… Prefixes: `CLUSTER` (cluster), `CLUSTER_RAFT`,
//! `CLUSTER_RESTAPI`, `CLUSTER_PINSVCAPI`, `CLUSTER_IPFSPROXY`, `CLUSTER_IPFSHTTP`,
//! `CLUSTER_STATELESS`, `CLUSTER_PUBSUBMON`, `CLUSTER_BALANCED`, `CLUSTER_DISK`, `CLUSTER_TAGS`,
//! `CLUSTER_PINQUEUE`, `CLUSTER_METRICS`, `CLUSTER_TRACING`; Pinfold's embedded node follows the
//! same scheme with `CLUSTER_EMBEDDED` (`CLUSTER_EMBEDDED_APILISTENMULTIADDRESS`, …). The
//! identity's `CLUSTER_ID`/`CLUSTER_PRIVATEKEY` live in `identity.rs`.
//!
//! Value syntax is envconfig's: lists are comma-separated (`/ip4/…/tcp/1,/ip4/…/tcp/2`), maps
//! are `k1:v1,k2:v2` (`CLUSTER_RESTAPI_BASICAUTHCREDENTIALS=u1:p1,u2:p2`,
//! `CLUSTER_RESTAPI_HEADERS=Name:value`), bools are Go's `strconv.ParseBool` words, durations
//! Go strings.
//!
//! Design: one table row per variable (name, key path, setter), so adding a variable is one
//! line; the table is applied after the file and before validation. The environment is a
//! parameter ([`Env`]) so tests never touch the process environment; [`process_env`] reads the
//! real one.
//!
//! Differences from Go, on purpose:
//! * An empty variable is ignored (Go would e.g. fail on an empty int, or turn an empty
//!   `BASICAUTHCREDENTIALS` into the invalid `{}`) — except `CLUSTER_SECRET=""`, which keeps
//!   Go's meaning "no private network" (and is warned about).
//! * In maps only the first `:` separates key and value, so passwords may contain `:`.
//! * A variable for a section absent from the file (e.g. `CLUSTER_RESTAPI_*` without
//!   `api.restapi`) is ignored with a warning; Go ignores it silently (the component is off).
//! * An invalid value fails naming the variable (`CLUSTER_REPLICATIONFACTORMIN: …`); a value
//!   that is well-formed but breaks validation also names the variable.

use std::collections::BTreeMap;
use std::time::Duration;

use libp2p_identity::PeerId;
use multiaddr::Multiaddr;

use super::error::ConfigError;
use super::identity::PrivateKey;
use super::informer::{DiskMetricType, parse_metric_type};
use super::json::{parse_multiaddr, parse_peer_id};
use super::secret::{BasicAuthCredentials, ClusterSecret};
use super::service::ServiceConfig;
use super::size::StorageSize;
use crate::gocompat::duration;

/// The environment: a lookup function (`&process_env` for the real one, a closure over a map
/// in tests).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads the process environment (for [`Env`]).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Sets the value; `Ok(false)` when the section is absent.
type Setter = fn(&mut ServiceConfig, &str) -> Result<bool, String>;

/// One overridable setting.
pub struct EnvVar {
    /// The variable, e.g. `CLUSTER_PEERNAME`.
    pub name: &'static str,
    /// The key path it overrides, e.g. `cluster.peername`.
    pub key: &'static str,
    set: Setter,
}

impl std::fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} -> {}", self.name, self.key)
    }
}

/// `var!(NAME, "key.path", parser, |c| Option<&mut field>)`
macro_rules! var {
    ($name:expr, $key:expr, $parse:path, |$c:ident| $dst:expr) => {
        EnvVar {
            name: $name,
            key: $key,
            set: |$c: &mut ServiceConfig, v: &str| -> Result<bool, String> {
                let parsed = $parse(v)?;
                match $dst {
                    Some(d) => {
                        *d = parsed;
                        Ok(true)
                    }
                    None => Ok(false),
                }
            },
        }
    };
}

#[rustfmt::skip]
static CLUSTER: &[EnvVar] = &[
    var!("CLUSTER_PEERNAME", "cluster.peername", string, |c| Some(&mut c.cluster.peername)),
    var!("CLUSTER_SECRET", "cluster.secret", secret, |c| Some(&mut c.cluster.secret)),
    var!("CLUSTER_LEAVEONSHUTDOWN", "cluster.leave_on_shutdown", boolean, |c| Some(&mut c.cluster.leave_on_shutdown)),
    var!("CLUSTER_LISTENMULTIADDRESS", "cluster.listen_multiaddress", maddrs, |c| Some(&mut c.cluster.listen_multiaddress)),
    var!("CLUSTER_ANNOUNCEMULTIADDRESS", "cluster.announce_multiaddress", maddrs, |c| Some(&mut c.cluster.announce_multiaddress)),
    var!("CLUSTER_NOANNOUNCEMULTIADDRESS", "cluster.no_announce_multiaddress", maddrs, |c| Some(&mut c.cluster.no_announce_multiaddress)),
    var!("CLUSTER_ENABLERELAYHOP", "cluster.enable_relay_hop", boolean, |c| Some(&mut c.cluster.enable_relay_hop)),
    var!("CLUSTER_CONNECTIONMANAGER_HIGHWATER", "cluster.connection_manager.high_water", int, |c| Some(&mut c.cluster.connection_manager.high_water)),
    var!("CLUSTER_CONNECTIONMANAGER_LOWWATER", "cluster.connection_manager.low_water", int, |c| Some(&mut c.cluster.connection_manager.low_water)),
    var!("CLUSTER_CONNECTIONMANAGER_GRACEPERIOD", "cluster.connection_manager.grace_period", dur, |c| Some(&mut c.cluster.connection_manager.grace_period)),
    var!("CLUSTER_RESOURCEMANAGER_ENABLED", "cluster.resource_manager.enabled", boolean, |c| Some(&mut c.cluster.resource_manager.enabled)),
    var!("CLUSTER_RESOURCEMANAGER_MEMORYLIMITBYTES", "cluster.resource_manager.memory_limit_bytes", int, |c| Some(&mut c.cluster.resource_manager.memory_limit_bytes)),
    var!("CLUSTER_RESOURCEMANAGER_FILEDESCRIPTORSLIMIT", "cluster.resource_manager.file_descriptors_limit", int, |c| Some(&mut c.cluster.resource_manager.file_descriptors_limit)),
    var!("CLUSTER_PUBSUB_SEENMESSAGESTTL", "cluster.pubsub.seen_messages_ttl", dur, |c| Some(&mut c.cluster.pubsub.seen_messages_ttl)),
    var!("CLUSTER_PUBSUB_HEARTBEATINTERVAL", "cluster.pubsub.heartbeat_interval", dur, |c| Some(&mut c.cluster.pubsub.heartbeat_interval)),
    var!("CLUSTER_PUBSUB_DFACTOR", "cluster.pubsub.d_factor", int, |c| Some(&mut c.cluster.pubsub.d_factor)),
    var!("CLUSTER_PUBSUB_HISTORYGOSSIP", "cluster.pubsub.history_gossip", int, |c| Some(&mut c.cluster.pubsub.history_gossip)),
    var!("CLUSTER_PUBSUB_HISTORYLENGTH", "cluster.pubsub.history_length", int, |c| Some(&mut c.cluster.pubsub.history_length)),
    var!("CLUSTER_PUBSUB_FLOODPUBLISH", "cluster.pubsub.flood_publish", boolean, |c| Some(&mut c.cluster.pubsub.flood_publish)),
    var!("CLUSTER_DIALPEERTIMEOUT", "cluster.dial_peer_timeout", dur, |c| Some(&mut c.cluster.dial_peer_timeout)),
    var!("CLUSTER_STATESYNCINTERVAL", "cluster.state_sync_interval", dur, |c| Some(&mut c.cluster.state_sync_interval)),
    var!("CLUSTER_PINRECOVERINTERVAL", "cluster.pin_recover_interval", dur, |c| Some(&mut c.cluster.pin_recover_interval)),
    var!("CLUSTER_REPLICATIONFACTORMIN", "cluster.replication_factor_min", int, |c| Some(&mut c.cluster.replication_factor_min)),
    var!("CLUSTER_REPLICATIONFACTORMAX", "cluster.replication_factor_max", int, |c| Some(&mut c.cluster.replication_factor_max)),
    var!("CLUSTER_MONITORPINGINTERVAL", "cluster.monitor_ping_interval", dur, |c| Some(&mut c.cluster.monitor_ping_interval)),
    var!("CLUSTER_PEERWATCHINTERVAL", "cluster.peer_watch_interval", dur, |c| Some(&mut c.cluster.peer_watch_interval)),
    var!("CLUSTER_MDNSINTERVAL", "cluster.mdns_interval", dur, |c| Some(&mut c.cluster.mdns_interval)),
    var!("CLUSTER_PINONLYONTRUSTEDPEERS", "cluster.pin_only_on_trusted_peers", boolean, |c| Some(&mut c.cluster.pin_only_on_trusted_peers)),
    var!("CLUSTER_PINONLYONUNTRUSTEDPEERS", "cluster.pin_only_on_untrusted_peers", boolean, |c| Some(&mut c.cluster.pin_only_on_untrusted_peers)),
    var!("CLUSTER_DISABLEREPINNING", "cluster.disable_repinning", boolean, |c| Some(&mut c.cluster.disable_repinning)),
    var!("CLUSTER_FOLLOWERMODE", "cluster.follower_mode", boolean, |c| Some(&mut c.cluster.follower_mode)),
    var!("CLUSTER_PEERSTOREFILE", "cluster.peerstore_file", string, |c| Some(&mut c.cluster.peerstore_file)),
    var!("CLUSTER_PEERADDRESSES", "cluster.peer_addresses", maddrs, |c| Some(&mut c.cluster.peer_addresses)),
];

#[rustfmt::skip]
static RAFT: &[EnvVar] = &[
    var!("CLUSTER_RAFT_DATAFOLDER", "consensus.raft.data_folder", string, |c| Some(&mut c.consensus.raft.data_folder)),
    var!("CLUSTER_RAFT_INITPEERSET", "consensus.raft.init_peerset", peers, |c| Some(&mut c.consensus.raft.init_peerset)),
    var!("CLUSTER_RAFT_WAITFORLEADERTIMEOUT", "consensus.raft.wait_for_leader_timeout", dur, |c| Some(&mut c.consensus.raft.wait_for_leader_timeout)),
    var!("CLUSTER_RAFT_NETWORKTIMEOUT", "consensus.raft.network_timeout", dur, |c| Some(&mut c.consensus.raft.network_timeout)),
    var!("CLUSTER_RAFT_COMMITRETRIES", "consensus.raft.commit_retries", int, |c| Some(&mut c.consensus.raft.commit_retries)),
    var!("CLUSTER_RAFT_COMMITRETRYDELAY", "consensus.raft.commit_retry_delay", dur, |c| Some(&mut c.consensus.raft.commit_retry_delay)),
    var!("CLUSTER_RAFT_BACKUPSROTATE", "consensus.raft.backups_rotate", int, |c| Some(&mut c.consensus.raft.backups_rotate)),
    var!("CLUSTER_RAFT_DATASTORENAMESPACE", "consensus.raft.datastore_namespace", string, |c| Some(&mut c.consensus.raft.datastore_namespace)),
    var!("CLUSTER_RAFT_HEARTBEATTIMEOUT", "consensus.raft.heartbeat_timeout", dur, |c| Some(&mut c.consensus.raft.heartbeat_timeout)),
    var!("CLUSTER_RAFT_ELECTIONTIMEOUT", "consensus.raft.election_timeout", dur, |c| Some(&mut c.consensus.raft.election_timeout)),
    var!("CLUSTER_RAFT_COMMITTIMEOUT", "consensus.raft.commit_timeout", dur, |c| Some(&mut c.consensus.raft.commit_timeout)),
    var!("CLUSTER_RAFT_MAXAPPENDENTRIES", "consensus.raft.max_append_entries", int, |c| Some(&mut c.consensus.raft.max_append_entries)),
    var!("CLUSTER_RAFT_TRAILINGLOGS", "consensus.raft.trailing_logs", int, |c| Some(&mut c.consensus.raft.trailing_logs)),
    var!("CLUSTER_RAFT_SNAPSHOTINTERVAL", "consensus.raft.snapshot_interval", dur, |c| Some(&mut c.consensus.raft.snapshot_interval)),
    var!("CLUSTER_RAFT_SNAPSHOTTHRESHOLD", "consensus.raft.snapshot_threshold", int, |c| Some(&mut c.consensus.raft.snapshot_threshold)),
    var!("CLUSTER_RAFT_LEADERLEASETIMEOUT", "consensus.raft.leader_lease_timeout", dur, |c| Some(&mut c.consensus.raft.leader_lease_timeout)),
];

/// The same variables for `api.restapi` and `api.pinsvcapi` (`api/common/config.go`).
macro_rules! http_api_vars {
    ($p:literal, $k:literal, $sec:ident) => {
        [
            var!(
                concat!($p, "HTTPLISTENMULTIADDRESS"),
                concat!($k, ".http_listen_multiaddress"),
                maddrs,
                |c| c.api.$sec.as_mut().map(|s| &mut s.http_listen_multiaddress)
            ),
            var!(
                concat!($p, "SSLCERTFILE"),
                concat!($k, ".ssl_cert_file"),
                string,
                |c| c.api.$sec.as_mut().map(|s| &mut s.ssl_cert_file)
            ),
            var!(
                concat!($p, "SSLKEYFILE"),
                concat!($k, ".ssl_key_file"),
                string,
                |c| c.api.$sec.as_mut().map(|s| &mut s.ssl_key_file)
            ),
            var!(
                concat!($p, "READTIMEOUT"),
                concat!($k, ".read_timeout"),
                dur,
                |c| c.api.$sec.as_mut().map(|s| &mut s.read_timeout)
            ),
            var!(
                concat!($p, "READHEADERTIMEOUT"),
                concat!($k, ".read_header_timeout"),
                dur,
                |c| c.api.$sec.as_mut().map(|s| &mut s.read_header_timeout)
            ),
            var!(
                concat!($p, "WRITETIMEOUT"),
                concat!($k, ".write_timeout"),
                dur,
                |c| c.api.$sec.as_mut().map(|s| &mut s.write_timeout)
            ),
            var!(
                concat!($p, "IDLETIMEOUT"),
                concat!($k, ".idle_timeout"),
                dur,
                |c| c.api.$sec.as_mut().map(|s| &mut s.idle_timeout)
            ),
            var!(
                concat!($p, "MAXHEADERBYTES"),
                concat!($k, ".max_header_bytes"),
                int,
                |c| c.api.$sec.as_mut().map(|s| &mut s.max_header_bytes)
            ),
            var!(
                concat!($p, "LIBP2PLISTENMULTIADDRESS"),
                concat!($k, ".libp2p_listen_multiaddress"),
                maddrs,
                |c| c
                    .api
                    .$sec
                    .as_mut()
                    .map(|s| &mut s.libp2p_listen_multiaddress)
            ),
            var!(concat!($p, "ID"), concat!($k, ".id"), opt_peer, |c| c
                .api
                .$sec
                .as_mut()
                .map(|s| &mut s.id)),
            var!(
                concat!($p, "PRIVATEKEY"),
                concat!($k, ".private_key"),
                opt_key,
                |c| c.api.$sec.as_mut().map(|s| &mut s.private_key)
            ),
            var!(
                concat!($p, "BASICAUTHCREDENTIALS"),
                concat!($k, ".basic_auth_credentials"),
                credentials,
                |c| c.api.$sec.as_mut().map(|s| &mut s.basic_auth_credentials)
            ),
            var!(
                concat!($p, "HTTPLOGFILE"),
                concat!($k, ".http_log_file"),
                string,
                |c| c.api.$sec.as_mut().map(|s| &mut s.http_log_file)
            ),
            var!(
                concat!($p, "HEADERS"),
                concat!($k, ".headers"),
                headers,
                |c| c.api.$sec.as_mut().map(|s| &mut s.headers)
            ),
            var!(
                concat!($p, "CORSALLOWEDORIGINS"),
                concat!($k, ".cors_allowed_origins"),
                strings,
                |c| c.api.$sec.as_mut().map(|s| &mut s.cors_allowed_origins)
            ),
            var!(
                concat!($p, "CORSALLOWEDMETHODS"),
                concat!($k, ".cors_allowed_methods"),
                strings,
                |c| c.api.$sec.as_mut().map(|s| &mut s.cors_allowed_methods)
            ),
            var!(
                concat!($p, "CORSALLOWEDHEADERS"),
                concat!($k, ".cors_allowed_headers"),
                strings,
                |c| c.api.$sec.as_mut().map(|s| &mut s.cors_allowed_headers)
            ),
            var!(
                concat!($p, "CORSEXPOSEDHEADERS"),
                concat!($k, ".cors_exposed_headers"),
                strings,
                |c| c.api.$sec.as_mut().map(|s| &mut s.cors_exposed_headers)
            ),
            var!(
                concat!($p, "CORSALLOWCREDENTIALS"),
                concat!($k, ".cors_allow_credentials"),
                boolean,
                |c| c.api.$sec.as_mut().map(|s| &mut s.cors_allow_credentials)
            ),
            var!(
                concat!($p, "CORSMAXAGE"),
                concat!($k, ".cors_max_age"),
                dur,
                |c| c.api.$sec.as_mut().map(|s| &mut s.cors_max_age)
            ),
        ]
    };
}

static RESTAPI: [EnvVar; 20] = http_api_vars!("CLUSTER_RESTAPI_", "api.restapi", restapi);
static PINSVCAPI: [EnvVar; 20] = http_api_vars!("CLUSTER_PINSVCAPI_", "api.pinsvcapi", pinsvcapi);

#[rustfmt::skip]
static OTHERS: &[EnvVar] = &[
    var!("CLUSTER_IPFSPROXY_LISTENMULTIADDRESS", "api.ipfsproxy.listen_multiaddress", maddrs, |c| c.api.ipfsproxy.as_mut().map(|s| &mut s.listen_multiaddress)),
    var!("CLUSTER_IPFSPROXY_NODEMULTIADDRESS", "api.ipfsproxy.node_multiaddress", maddr, |c| c.api.ipfsproxy.as_mut().map(|s| &mut s.node_multiaddress)),
    var!("CLUSTER_IPFSPROXY_NODEHTTPS", "api.ipfsproxy.node_https", boolean, |c| c.api.ipfsproxy.as_mut().map(|s| &mut s.node_https)),
    var!("CLUSTER_IPFSPROXY_LOGFILE", "api.ipfsproxy.log_file", string, |c| c.api.ipfsproxy.as_mut().map(|s| &mut s.log_file)),
    var!("CLUSTER_IPFSPROXY_READTIMEOUT", "api.ipfsproxy.read_timeout", dur, |c| c.api.ipfsproxy.as_mut().map(|s| &mut s.read_timeout)),
    var!("CLUSTER_IPFSPROXY_READHEADERTIMEOUT", "api.ipfsproxy.read_header_timeout", dur, |c| c.api.ipfsproxy.as_mut().map(|s| &mut s.read_header_timeout)),
    var!("CLUSTER_IPFSPROXY_WRITETIMEOUT", "api.ipfsproxy.write_timeout", dur, |c| c.api.ipfsproxy.as_mut().map(|s| &mut s.write_timeout)),
    var!("CLUSTER_IPFSPROXY_IDLETIMEOUT", "api.ipfsproxy.idle_timeout", dur, |c| c.api.ipfsproxy.as_mut().map(|s| &mut s.idle_timeout)),
    var!("CLUSTER_IPFSPROXY_MAXHEADERBYTES", "api.ipfsproxy.max_header_bytes", int, |c| c.api.ipfsproxy.as_mut().map(|s| &mut s.max_header_bytes)),
    var!("CLUSTER_IPFSPROXY_EXTRACTHEADERSEXTRA", "api.ipfsproxy.extract_headers_extra", strings, |c| c.api.ipfsproxy.as_mut().map(|s| &mut s.extract_headers_extra)),
    var!("CLUSTER_IPFSPROXY_EXTRACTHEADERSPATH", "api.ipfsproxy.extract_headers_path", string, |c| c.api.ipfsproxy.as_mut().map(|s| &mut s.extract_headers_path)),
    var!("CLUSTER_IPFSPROXY_EXTRACTHEADERSTTL", "api.ipfsproxy.extract_headers_ttl", dur, |c| c.api.ipfsproxy.as_mut().map(|s| &mut s.extract_headers_ttl)),
    var!("CLUSTER_IPFSHTTP_NODEMULTIADDRESS", "ipfs_connector.ipfshttp.node_multiaddress", maddr, |c| Some(&mut c.ipfs_connector.ipfshttp.node_multiaddress)),
    var!("CLUSTER_IPFSHTTP_CONNECTSWARMSDELAY", "ipfs_connector.ipfshttp.connect_swarms_delay", dur, |c| Some(&mut c.ipfs_connector.ipfshttp.connect_swarms_delay)),
    var!("CLUSTER_IPFSHTTP_IPFSREQUESTTIMEOUT", "ipfs_connector.ipfshttp.ipfs_request_timeout", dur, |c| Some(&mut c.ipfs_connector.ipfshttp.ipfs_request_timeout)),
    var!("CLUSTER_IPFSHTTP_PINTIMEOUT", "ipfs_connector.ipfshttp.pin_timeout", dur, |c| Some(&mut c.ipfs_connector.ipfshttp.pin_timeout)),
    var!("CLUSTER_IPFSHTTP_UNPINTIMEOUT", "ipfs_connector.ipfshttp.unpin_timeout", dur, |c| Some(&mut c.ipfs_connector.ipfshttp.unpin_timeout)),
    var!("CLUSTER_IPFSHTTP_REPOGCTIMEOUT", "ipfs_connector.ipfshttp.repogc_timeout", dur, |c| Some(&mut c.ipfs_connector.ipfshttp.repogc_timeout)),
    var!("CLUSTER_IPFSHTTP_INFORMERTRIGGERINTERVAL", "ipfs_connector.ipfshttp.informer_trigger_interval", int, |c| Some(&mut c.ipfs_connector.ipfshttp.informer_trigger_interval)),
    var!("CLUSTER_IPFSHTTP_UNPINDISABLE", "ipfs_connector.ipfshttp.unpin_disable", boolean, |c| Some(&mut c.ipfs_connector.ipfshttp.unpin_disable)),
    var!("CLUSTER_EMBEDDED_REPO", "ipfs_node.embedded.repo", path, |c| c.ipfs_node.embedded.as_mut().map(|s| &mut s.repo)),
    var!("CLUSTER_EMBEDDED_APILISTENMULTIADDRESS", "ipfs_node.embedded.api_listen_multiaddress", maddr, |c| c.ipfs_node.embedded.as_mut().map(|s| &mut s.api_listen_multiaddress)),
    var!("CLUSTER_EMBEDDED_STORAGEMAX", "ipfs_node.embedded.storage_max", storage, |c| c.ipfs_node.embedded.as_mut().map(|s| &mut s.storage_max)),
    var!("CLUSTER_STATELESS_MAXPINQUEUESIZE", "pin_tracker.stateless.max_pin_queue_size", int, |c| Some(&mut c.pin_tracker.stateless.max_pin_queue_size)),
    var!("CLUSTER_STATELESS_CONCURRENTPINS", "pin_tracker.stateless.concurrent_pins", int, |c| Some(&mut c.pin_tracker.stateless.concurrent_pins)),
    var!("CLUSTER_STATELESS_PRIORITYPINMAXAGE", "pin_tracker.stateless.priority_pin_max_age", dur, |c| Some(&mut c.pin_tracker.stateless.priority_pin_max_age)),
    var!("CLUSTER_STATELESS_PRIORITYPINMAXRETRIES", "pin_tracker.stateless.priority_pin_max_retries", int, |c| Some(&mut c.pin_tracker.stateless.priority_pin_max_retries)),
    var!("CLUSTER_PUBSUBMON_CHECKINTERVAL", "monitor.pubsubmon.check_interval", dur, |c| Some(&mut c.monitor.pubsubmon.check_interval)),
    var!("CLUSTER_BALANCED_ALLOCATEBY", "allocator.balanced.allocate_by", strings, |c| c.allocator.balanced.as_mut().map(|s| &mut s.allocate_by)),
    var!("CLUSTER_DISK_METRICTTL", "informer.disk.metric_ttl", dur, |c| c.informer.disk.as_mut().map(|s| &mut s.metric_ttl)),
    var!("CLUSTER_DISK_METRICTYPE", "informer.disk.metric_type", metric_type, |c| c.informer.disk.as_mut().map(|s| &mut s.metric_type)),
    var!("CLUSTER_TAGS_METRICTTL", "informer.tags.metric_ttl", dur, |c| c.informer.tags.as_mut().map(|s| &mut s.metric_ttl)),
    var!("CLUSTER_TAGS_TAGS", "informer.tags.tags", string_map, |c| c.informer.tags.as_mut().map(|s| &mut s.tags)),
    var!("CLUSTER_PINQUEUE_METRICTTL", "informer.pinqueue.metric_ttl", dur, |c| c.informer.pinqueue.as_mut().map(|s| &mut s.metric_ttl)),
    var!("CLUSTER_PINQUEUE_WEIGHTBUCKETSIZE", "informer.pinqueue.weight_bucket_size", int, |c| c.informer.pinqueue.as_mut().map(|s| &mut s.weight_bucket_size)),
    var!("CLUSTER_METRICS_ENABLESTATS", "observations.metrics.enable_stats", boolean, |c| Some(&mut c.observations.metrics.enable_stats)),
    var!("CLUSTER_METRICS_PROMETHEUSENDPOINT", "observations.metrics.prometheus_endpoint", maddr, |c| Some(&mut c.observations.metrics.prometheus_endpoint)),
    var!("CLUSTER_METRICS_REPORTINGINTERVAL", "observations.metrics.reporting_interval", dur, |c| Some(&mut c.observations.metrics.reporting_interval)),
    var!("CLUSTER_TRACING_ENABLETRACING", "observations.tracing.enable_tracing", boolean, |c| Some(&mut c.observations.tracing.enable_tracing)),
    var!("CLUSTER_TRACING_JAEGERAGENTENDPOINT", "observations.tracing.jaeger_agent_endpoint", maddr, |c| Some(&mut c.observations.tracing.jaeger_agent_endpoint)),
    var!("CLUSTER_TRACING_SAMPLINGPROB", "observations.tracing.sampling_prob", float, |c| Some(&mut c.observations.tracing.sampling_prob)),
    var!("CLUSTER_TRACING_SERVICENAME", "observations.tracing.service_name", string, |c| Some(&mut c.observations.tracing.service_name)),
];

/// Every variable `service.json` settings can be overridden with.
pub fn variables() -> impl Iterator<Item = &'static EnvVar> {
    CLUSTER
        .iter()
        .chain(RAFT)
        .chain(RESTAPI.iter())
        .chain(PINSVCAPI.iter())
        .chain(OTHERS)
}

/// Applies every set variable to `cfg`. Returns the (key path, variable) pairs applied, so that
/// a validation error on one of those keys can be blamed on its variable.
pub(crate) fn apply(
    cfg: &mut ServiceConfig,
    env: Env<'_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<(&'static str, &'static str)>, ConfigError> {
    let mut applied = vec![];
    for var in variables() {
        let Some(value) = env(var.name) else { continue };
        if value.is_empty() && var.name != "CLUSTER_SECRET" {
            continue;
        }
        match (var.set)(cfg, &value) {
            Ok(true) => applied.push((var.key, var.name)),
            Ok(false) => {
                let section = var.key.rsplit_once('.').map_or(var.key, |(s, _)| s);
                warnings.push(format!(
                    "{} ignored: the {section} section is absent from the configuration (the component is disabled)",
                    var.name
                ));
            }
            Err(reason) => return Err(ConfigError::env(var.name, reason)),
        }
    }
    Ok(applied)
}

// Parsers with envconfig's syntax. They never echo secret values.

fn string(v: &str) -> Result<String, String> {
    Ok(v.to_string())
}

fn path(v: &str) -> Result<std::path::PathBuf, String> {
    Ok(std::path::PathBuf::from(v))
}

fn secret(v: &str) -> Result<Option<ClusterSecret>, String> {
    ClusterSecret::parse_hex(v)
}

/// Go's `strconv.ParseBool`.
pub(crate) fn boolean(v: &str) -> Result<bool, String> {
    match v.trim() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        other => Err(format!("{other:?} is not a boolean (use true or false)")),
    }
}

fn int<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{v:?} is not a valid integer here"))
}

fn float(v: &str) -> Result<f64, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{v:?} is not a number"))
}

fn dur(v: &str) -> Result<Duration, String> {
    duration::parse(v).map_err(|e| e.to_string())
}

fn maddr(v: &str) -> Result<Multiaddr, String> {
    parse_multiaddr(v)
}

fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn maddrs(v: &str) -> Result<Vec<Multiaddr>, String> {
    list(v).map(parse_multiaddr).collect()
}

fn strings(v: &str) -> Result<Vec<String>, String> {
    Ok(list(v).map(str::to_string).collect())
}

fn peers(v: &str) -> Result<Vec<PeerId>, String> {
    list(v).map(parse_peer_id).collect()
}

fn opt_peer(v: &str) -> Result<Option<PeerId>, String> {
    parse_peer_id(v).map(Some)
}

fn opt_key(v: &str) -> Result<Option<PrivateKey>, String> {
    PrivateKey::from_base64(v)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn pairs(v: &str) -> Result<Vec<(String, String)>, String> {
    list(v)
        .enumerate()
        .map(|(i, item)| {
            item.split_once(':')
                .map(|(k, val)| (k.to_string(), val.to_string()))
                .ok_or_else(|| format!("item {} is not of the form key:value", i + 1))
        })
        .collect()
}

fn credentials(v: &str) -> Result<Option<BasicAuthCredentials>, String> {
    let mut c = BasicAuthCredentials::default();
    for (user, password) in pairs(v)? {
        c.insert(user, password);
    }
    Ok(Some(c))
}

fn headers(v: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut h: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in pairs(v)? {
        h.entry(name).or_default().push(value);
    }
    Ok(h)
}

fn string_map(v: &str) -> Result<BTreeMap<String, String>, String> {
    Ok(pairs(v)?.into_iter().collect())
}

fn metric_type(v: &str) -> Result<DiskMetricType, String> {
    parse_metric_type(v.trim())
}

fn storage(v: &str) -> Result<StorageSize, String> {
    StorageSize::parse(v).map_err(|e| e.to_string())
}
