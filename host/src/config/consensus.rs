//! The `consensus` section: `consensus.raft` (Go's `raft/config.go`: data folder, initial
//! peerset, timeouts, snapshot thresholds), with Go's keys, defaults and `Validate()` checks.
//!
//! Pinfold implements raft only (Go's `init` default is crdt): a `consensus.crdt` section
//! found next to the raft one is ignored but kept verbatim so that writing the file back does
//! not lose it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use libp2p_identity::PeerId;
use serde::Serialize;
use serde_json::Value;

use super::checks::{at_least, nonzero, positive};
use super::error::ConfigError;
use super::json::{Obj, ser};
use crate::gocompat::duration::{self, serde_go};

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
                    duration::format(self.leader_lease_timeout),
                    duration::format(self.heartbeat_timeout)
                ),
            ));
        }
        if self.election_timeout < self.heartbeat_timeout {
            return Err(ConfigError::invalid(
                k("election_timeout"),
                format!(
                    "{} must be equal to or greater than heartbeat_timeout ({})",
                    duration::format(self.election_timeout),
                    duration::format(self.heartbeat_timeout)
                ),
            ));
        }
        Ok(())
    }
}
