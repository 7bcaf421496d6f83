//! `service.json`: the typed configuration of a Pinfold peer, with IPFS Cluster v1.1.6's exact
//! sections, keys, key order, defaults and duration format, so an IPFS Cluster `service.json`
//! loads unchanged and a Pinfold one reads like IPFS Cluster's.
//!
//! This file owns the whole-file operations: laying a file over the defaults (the sections
//! themselves are in one file each: `cluster.rs`, `consensus.rs`, `api.rs`, …), applying the environment, validating, writing, and the
//! display form.
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

use std::path::{Path, PathBuf};

use multiaddr::{Multiaddr, Protocol};
use serde::Serialize;
use serde_json::Value;

use super::allocator::{AllocatorConfig, BalancedAllocatorConfig};
use super::api::{ApiConfig, IpfsProxyConfig, RestApiConfig};
use super::checks::{is_loopback, nonzero, positive};
use super::cluster::ClusterConfig;
use super::consensus::{ConsensusConfig, RaftConfig};
use super::env::{self, Env};
use super::error::ConfigError;
use super::informer::{
    DiskInformerConfig, InformerConfig, PinQueueInformerConfig, TagsInformerConfig,
};
use super::ipfs_connector::{IpfsConnectorConfig, IpfsHttpConfig};
use super::ipfs_node::{EmbeddedNodeConfig, IpfsNodeConfig};
use super::json::Obj;
use super::monitor::MonitorConfig;
use super::observations::ObservationsConfig;
use super::plugins::PluginsConfig;
use super::secret::{self, ClusterSecret};
use super::tracker::PinTrackerConfig;

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
    /// Pinfold's own section: the WASM plugins (`plugins.rs`); absent = the built-in ones.
    #[serde(skip_serializing_if = "PluginsConfig::is_absent")]
    pub plugins: PluginsConfig,
}

/// A configuration with the warnings found while reading it (unknown keys, ignored sections,
/// risky values). The warnings have also been logged with `tracing::warn!`.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: ServiceConfig,
    pub warnings: Vec<String>,
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
            plugins: PluginsConfig::default(),
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
        let mut warnings: Vec<String> = super::folder::loose_mode_warning(path)
            .into_iter()
            .collect();
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

        if let Some(v) = top.value("plugins") {
            c.plugins = PluginsConfig::read(v)?;
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
        self.plugins.validate()?;
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
        for (section, api) in [
            ("api.restapi", &self.api.restapi),
            ("api.pinsvcapi", &self.api.pinsvcapi),
        ] {
            let Some(api) = api else { continue };
            if api.basic_auth_credentials.is_none()
                && let Some(a) = api
                    .http_listen_multiaddress
                    .iter()
                    .find(|a| !is_loopback(a))
            {
                w.push(format!(
                    "{section} listens on {a} without basic_auth_credentials: anyone who can reach it controls the cluster"
                ));
            }
        }
        if let Some(p) = &self.api.ipfsproxy
            && let Some(a) = p.listen_multiaddress.iter().find(|a| !is_loopback(a))
        {
            w.push(format!(
                "api.ipfsproxy listens on {a}: the IPFS proxy has no authentication; anyone who can reach it controls the cluster and the IPFS node"
            ));
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

    /// Validates (as Go's `SaveJSON` does: an invalid configuration is never saved), then
    /// writes `path` atomically with mode 0600, creating its folder with mode 0700.
    pub fn write(&self, path: &Path) -> Result<(), ConfigError> {
        self.validate()?;
        super::folder::write_private(path, self.to_json().as_bytes())
    }
}
