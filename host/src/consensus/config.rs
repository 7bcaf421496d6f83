//! The `consensus.raft` section of `service.json`: IPFS Cluster's keys (`consensus/raft/config.go`,
//! v1.1.6), in Go's order, with Go's defaults and Go duration strings. Missing keys take the
//! defaults, as in Go. How each key maps onto raft-rs is written on the field.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::duration::serde_go;

/// The raft ticker period: every timeout below is counted in ticks of this length.
pub const TICK: Duration = Duration::from_millis(100);

/// `consensus.raft`. Self-contained (`Default` = Go's defaults), to be embedded in the
/// service configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RaftConfig {
    /// Folder of the raft log and snapshots; empty = `<config folder>/raft`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub data_folder: String,
    /// Peer IDs (besides this peer) that are voters at the very first start. Ignored once the
    /// raft log exists.
    pub init_peerset: Vec<String>,
    /// How long startup waits for a leader.
    #[serde(with = "serde_go")]
    pub wait_for_leader_timeout: Duration,
    /// Deadline of a write: a proposal not committed and applied by then fails (no quorum,
    /// no leader) instead of hanging.
    #[serde(with = "serde_go")]
    pub network_timeout: Duration,
    /// Retries of a failed commit (used by the RPC layer that forwards to the leader).
    pub commit_retries: u32,
    /// Pause between those retries.
    #[serde(with = "serde_go")]
    pub commit_retry_delay: Duration,
    /// How many old copies of the data folder `state cleanup` keeps (renamed `.old.N`).
    pub backups_rotate: u32,
    /// Kept for compatibility with Go's files (the pinset has its own database here).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datastore_namespace: String,
    /// hashicorp: time without contact from a leader before a follower campaigns. raft-rs:
    /// `election_tick = max(heartbeat_timeout, election_timeout) / TICK` (randomised by
    /// raft-rs in `[election_tick, 2 × election_tick)`), and the leader heartbeats every
    /// `election_tick / 10` ticks (at least 1), as hashicorp heartbeats at a tenth of it.
    #[serde(with = "serde_go")]
    pub heartbeat_timeout: Duration,
    /// hashicorp: time a candidate waits before a new election; folded into `election_tick`.
    #[serde(with = "serde_go")]
    pub election_timeout: Duration,
    /// hashicorp: idle time before a heartbeat that carries the commit index. raft-rs sends the
    /// commit index with every append and heartbeat, so this is accepted and unused.
    #[serde(with = "serde_go")]
    pub commit_timeout: Duration,
    /// hashicorp: entries per AppendEntries. raft-rs limits messages by bytes instead
    /// (`max_size_per_msg`, set to 1 MiB here) and one entry carries a whole batch of ops, so
    /// this is accepted and unused.
    pub max_append_entries: u32,
    /// Log entries kept before the snapshot index when compacting, so a follower slightly behind
    /// catches up from the log rather than from a whole snapshot.
    pub trailing_logs: u64,
    /// Snapshots are taken at most once per interval (hashicorp checks the threshold once per
    /// interval, which has the same effect). `0s` = check after every applied batch.
    #[serde(with = "serde_go")]
    pub snapshot_interval: Duration,
    /// Raft entries applied since the last snapshot that trigger a new one. An entry carries a
    /// batch of ops (see the module notes), so this counts batches, not pins.
    pub snapshot_threshold: u64,
    /// hashicorp: how long a leader stays leader without quorum contact. raft-rs uses
    /// `check_quorum` (a leader steps down after an election timeout without quorum), so this
    /// is accepted and unused.
    #[serde(with = "serde_go")]
    pub leader_lease_timeout: Duration,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            data_folder: String::new(),
            init_peerset: Vec::new(),
            wait_for_leader_timeout: Duration::from_secs(15),
            network_timeout: Duration::from_secs(10),
            commit_retries: 1,
            commit_retry_delay: Duration::from_millis(200),
            backups_rotate: 6,
            datastore_namespace: "/r".into(),
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
    /// The raft data folder: `data_folder`, or `<config_dir>/raft` when empty; a relative
    /// `data_folder` is taken relative to `config_dir`.
    pub fn data_folder(&self, config_dir: &Path) -> PathBuf {
        if self.data_folder.is_empty() {
            config_dir.join("raft")
        } else {
            config_dir.join(&self.data_folder)
        }
    }

    /// raft-rs `(election_tick, heartbeat_tick)`.
    pub fn ticks(&self) -> (usize, usize) {
        let longest = self.heartbeat_timeout.max(self.election_timeout);
        let election = (longest.as_millis() / TICK.as_millis()).max(2) as usize;
        let heartbeat = (election / 10).max(1);
        (election, heartbeat)
    }

    /// Checks values raft cannot run with.
    pub fn validate(&self) -> Result<(), String> {
        if self.heartbeat_timeout.max(self.election_timeout) < 2 * TICK {
            return Err(format!(
                "consensus.raft: heartbeat_timeout/election_timeout must be at least {}",
                crate::config::duration::format(2 * TICK)
            ));
        }
        if self.network_timeout.is_zero() {
            return Err("consensus.raft: network_timeout must be positive".into());
        }
        if self.snapshot_threshold == 0 {
            return Err("consensus.raft: snapshot_threshold must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consensus_config_defaults_and_go_json() {
        let c = RaftConfig::default();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["wait_for_leader_timeout"], "15s");
        assert_eq!(v["snapshot_interval"], "2m0s");
        assert_eq!(v["commit_retry_delay"], "200ms");
        assert_eq!(v["snapshot_threshold"], 8192);
        assert!(v.get("data_folder").is_none(), "omitempty");
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 15, "{keys:?}");
        // a Go file with a few keys: the others keep their defaults
        let c: RaftConfig = serde_json::from_str(
            r#"{"init_peerset":[],"network_timeout":"3s","snapshot_threshold":10,"data_folder":"r2"}"#,
        )
        .unwrap();
        assert_eq!(c.network_timeout, Duration::from_secs(3));
        assert_eq!(c.snapshot_threshold, 10);
        assert_eq!(c.trailing_logs, 10240);
        assert_eq!(c.data_folder(Path::new("/cfg")), PathBuf::from("/cfg/r2"));
        assert_eq!(
            RaftConfig::default().data_folder(Path::new("/cfg")),
            PathBuf::from("/cfg/raft")
        );
        assert_eq!(RaftConfig::default().ticks(), (10, 1));
        assert!(RaftConfig::default().validate().is_ok());
        assert!(serde_json::from_str::<RaftConfig>(r#"{"network_timeout":"x"}"#).is_err());
    }
}
