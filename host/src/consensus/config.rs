//! How the `consensus.raft` keys of `service.json` (the [`RaftConfig`] section, owned by the
//! config module) map onto raft-rs: raft-rs counts time in ticks of [`TICK`], so every timeout
//! becomes a number of ticks; the other keys are used as they are.

use std::time::Duration;

pub use crate::config::RaftConfig;

/// The raft ticker period: every timeout below is counted in ticks of this length.
pub const TICK: Duration = Duration::from_millis(100);

impl RaftConfig {
    /// raft-rs `(election_tick, heartbeat_tick)`.
    pub fn ticks(&self) -> (usize, usize) {
        let longest = self.heartbeat_timeout.max(self.election_timeout);
        let election = (longest.as_millis() / TICK.as_millis()).max(2) as usize;
        let heartbeat = (election / 10).max(1);
        (election, heartbeat)
    }

    /// Checks values raft-rs cannot run with.
    pub fn check_raft_limits(&self) -> Result<(), String> {
        if self.heartbeat_timeout.max(self.election_timeout) < 2 * TICK {
            return Err(format!(
                "consensus.raft: heartbeat_timeout/election_timeout must be at least {}",
                crate::gocompat::duration::format(2 * TICK)
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
    fn ticks_and_limits() {
        assert_eq!(RaftConfig::default().ticks(), (10, 1));
        assert!(RaftConfig::default().check_raft_limits().is_ok());
        let fast = RaftConfig {
            heartbeat_timeout: Duration::from_millis(100),
            election_timeout: Duration::from_millis(100),
            ..Default::default()
        };
        assert!(fast.check_raft_limits().is_err());
    }
}
