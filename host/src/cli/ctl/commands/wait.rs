//! `--wait` of `pin add|rm|update` and `add`: poll `GET /pins/<cid>` every second (first poll
//! after one second) until the target status is reached on enough peers, as Go's
//! `waitFor`/`statusReached`. `--wait-timeout` only applies when longer than the one-second
//! poll, as in Go; a peer in an error state ends the wait with an error (exit 1), a deadline
//! with exit 62.

use std::time::Duration;

use cid::Cid;

use crate::cli::ctl::{Ctl, Exit};
use crate::client::ClientError;
use crate::types::{GlobalPinInfo, TrackerStatus};

/// Why a wait ended without the target status.
enum WaitError {
    Deadline,
    Client(ClientError),
    Unreached(String),
}

impl Ctl<'_, '_> {
    /// Go's `waitFor`: polls the status of `cid` until `target` is reached on `limit` peers
    /// (all when `limit` ≤ 0) and returns it, or the exit code of a failed wait.
    pub(crate) async fn wait_for(
        &mut self,
        cid: &Cid,
        target: TrackerStatus,
        timeout: Duration,
        limit: i64,
    ) -> Result<Option<GlobalPinInfo>, Exit> {
        let client = self.client.clone();
        let poll = async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let st = client.status(cid, false).await.map_err(WaitError::Client)?;
                let done = status_reached(target, &st, limit).map_err(WaitError::Unreached)?;
                if done {
                    return Ok(st);
                }
            }
        };
        let res = if timeout > Duration::from_secs(1) {
            tokio::time::timeout(timeout, poll)
                .await
                .unwrap_or(Err(WaitError::Deadline))
        } else {
            poll.await
        };
        match res {
            Ok(st) => Ok(Some(st)),
            Err(WaitError::Deadline) => {
                Err(self.check_err("waiting for pin status", "context deadline exceeded", 62))
            }
            Err(WaitError::Client(e)) => {
                Err(self.check_err("waiting for pin status", &e.to_string(), 1))
            }
            Err(WaitError::Unreached(m)) => Err(self.check_err("waiting for pin status", &m, 1)),
        }
    }
}

/// Go's `statusReached`: has `gpi` reached `target` on `limit` peers (all when `limit` ≤ 0)?
pub(crate) fn status_reached(
    target: TrackerStatus,
    gpi: &GlobalPinInfo,
    limit: i64,
) -> Result<bool, String> {
    for pi in gpi.peer_map.values() {
        if matches!(
            pi.status,
            TrackerStatus::Undefined
                | TrackerStatus::ClusterError
                | TrackerStatus::PinError
                | TrackerStatus::UnpinError
        ) {
            return Err(format!(
                "error has occurred while attempting to reach status: {}",
                target.as_str()
            ));
        }
    }
    let limit = limit.min(gpi.peer_map.len() as i64);
    if limit > 0 {
        let n = gpi
            .peer_map
            .values()
            .filter(|pi| pi.status == target)
            .count() as i64;
        return Ok(n >= limit);
    }
    Ok(gpi.peer_map.values().all(|pi| {
        pi.status == target
            || (pi.status == TrackerStatus::Remote && target == TrackerStatus::Pinned)
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::types::{PinInfoShort, Timestamp};

    fn gpi(statuses: &[TrackerStatus]) -> GlobalPinInfo {
        GlobalPinInfo {
            cid: Cid::try_from("QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY").unwrap(),
            name: String::new(),
            allocations: vec![],
            origins: vec![],
            created: Timestamp::ZERO,
            metadata: None,
            peer_map: statuses
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    (
                        format!("peer{i}"),
                        PinInfoShort {
                            peername: String::new(),
                            ipfs_peer_id: String::new(),
                            ipfs_peer_addresses: vec![],
                            status: *s,
                            timestamp: Timestamp::ZERO,
                            error: String::new(),
                            attempt_count: 0,
                            priority_pin: false,
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn wait_conditions_like_go() {
        use TrackerStatus::*;
        let g = gpi(&[Pinned, Remote, Pinning]);
        assert_eq!(status_reached(Pinned, &g, 0), Ok(false));
        assert_eq!(status_reached(Pinned, &g, 1), Ok(true));
        assert_eq!(status_reached(Pinned, &g, 2), Ok(false));
        assert_eq!(status_reached(Pinned, &gpi(&[Pinned, Remote]), 0), Ok(true));
        assert_eq!(
            status_reached(Pinned, &gpi(&[Pinned, Remote]), -1),
            Ok(true)
        );
        assert_eq!(
            status_reached(Unpinned, &gpi(&[Unpinned, Remote]), 0),
            Ok(false)
        );
        // a limit above the number of peers is capped
        assert_eq!(status_reached(Pinned, &gpi(&[Pinned]), 5), Ok(true));
        assert_eq!(
            status_reached(Pinned, &gpi(&[Pinned, PinError]), 1),
            Err("error has occurred while attempting to reach status: pinned".into())
        );
        assert!(status_reached(Unpinned, &gpi(&[Undefined]), 0).is_err());
        assert_eq!(status_reached(Pinned, &gpi(&[]), 3), Ok(true));
    }
}
