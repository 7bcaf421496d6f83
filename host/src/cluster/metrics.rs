//! The informer metrics this peer publishes (`freespace`, `ping`, `pinqueue`), computed when
//! asked rather than pushed on a timer, each valid for 30 s; `/monitor/metrics/{name}`
//! gathers every member's value through the `Metrics` RPC.

use std::time::Duration;

use super::{Cluster, ClusterError, ClusterResult};
use crate::p2p::rpc::{RpcRequest, RpcResponse};
use crate::types::{Metric, Timestamp};

/// The names of the metrics a peer publishes (`GET /monitor/metrics`).
pub(super) const METRIC_NAMES: [&str; 3] = ["freespace", "ping", "pinqueue"];

impl Cluster {
    /// This peer's current value of an informer metric (`None`: not a metric we publish).
    pub(super) async fn local_metric(&self, name: &str) -> ClusterResult<Option<Metric>> {
        let m = match name {
            "freespace" => {
                let stat = self.ipfs.repo_stat().await.map_err(ClusterError::Ipfs)?;
                let free = stat.storage_max.saturating_sub(stat.repo_size);
                self.metric("freespace", free.to_string(), free as i64, false)
            }
            "ping" => {
                let ipfs = self.ipfs_identity().await.unwrap_or_default();
                let value = serde_json::json!({
                    "peer_name": self.settings.peername,
                    "ipfs_id": ipfs.id,
                    "ipfs_addresses": ipfs.addresses,
                });
                self.metric("ping", value.to_string(), 0, false)
            }
            "pinqueue" => {
                let n = self.tracker.queue_size();
                self.metric("pinqueue", n.to_string(), -((n / 100_000) as i64), false)
            }
            _ => return Ok(None),
        };
        Ok(Some(m))
    }

    /// Every metric this peer publishes (another peer's `Metrics` call); failures left out.
    pub(super) async fn local_metrics(&self) -> Vec<Metric> {
        let mut out = Vec::new();
        for name in METRIC_NAMES {
            if let Ok(Some(m)) = self.local_metric(name).await {
                out.push(m);
            }
        }
        out
    }

    /// The latest value of metric `name` on every member, this peer first; empty when it is
    /// not a metric we publish.
    pub(super) async fn metric_everywhere(&self, name: &str) -> ClusterResult<Vec<Metric>> {
        let mut out = match self.local_metric(name).await? {
            Some(m) => vec![m],
            None => return Ok(Vec::new()),
        };
        for (p, reply) in self.ask_others(RpcRequest::Metrics).await {
            match reply {
                Ok(RpcResponse::Metrics(ms)) => {
                    out.extend(ms.into_iter().filter(|m| m.name == name))
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(peer = %p, "metrics: {e}"),
            }
        }
        Ok(out)
    }

    fn metric(&self, name: &str, value: String, weight: i64, partitionable: bool) -> Metric {
        let now = Timestamp::now();
        Metric {
            name: name.to_string(),
            peer: self.peer.to_base58(),
            value,
            expire: (now.plus(Duration::from_secs(30)).unix_nanos()) as i64,
            valid: true,
            weight,
            partitionable,
            received_at: now.unix_nanos() as i64,
        }
    }
}
