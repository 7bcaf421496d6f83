//! Answers of IPFS Cluster's REST API that are not pins or peers: `GET /version`, the health
//! routes (`/health/alerts`, `/health/graph`, `/health/bandwidth`) and `POST /token`, with Go's
//! JSON field names (`api/types.go` of v1.1.6). The REST server writes them and the client reads
//! them, so both sides share one definition.
//!
//! Go writes nil maps as `null`; the connection graph reads such a `null` (and a `null` link
//! list) as empty instead of failing, so a Go server's graph decodes. Bandwidth figures default
//! to zero when absent, as Go's zero values.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::{Metric, Timestamp};

/// `GET /version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub version: String,
}

/// An expired metric (`GET /health/alerts`): the metric's fields plus `triggered_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    #[serde(flatten)]
    pub metric: Metric,
    pub triggered_at: Timestamp,
}

/// Traffic of one libp2p protocol (`GET /health/bandwidth`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Bandwidth {
    #[serde(default)]
    pub total_in: i64,
    #[serde(default)]
    pub total_out: i64,
    #[serde(default)]
    pub rate_in: f64,
    #[serde(default)]
    pub rate_out: f64,
}

/// Bandwidth per protocol ID.
pub type BandwidthByProtocol = BTreeMap<String, Bandwidth>;

/// The cluster's connectivity (`GET /health/graph`); peer IDs as strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ConnectGraph {
    #[serde(default)]
    pub cluster_id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub id_to_peername: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_links")]
    pub ipfs_links: BTreeMap<String, Vec<String>>,
    #[serde(default, deserialize_with = "null_links")]
    pub cluster_links: BTreeMap<String, Vec<String>>,
    #[serde(default, deserialize_with = "null_default")]
    pub cluster_trust_links: BTreeMap<String, bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub cluster_to_ipfs: BTreeMap<String, String>,
}

fn null_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn null_links<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    let m = Option::<BTreeMap<String, Option<Vec<String>>>>::deserialize(d)?.unwrap_or_default();
    Ok(m.into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

/// `POST /token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub token: String,
}
