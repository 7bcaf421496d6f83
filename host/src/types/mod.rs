//! The cluster's shared vocabulary: pins, pin options, tracker statuses, peer descriptions,
//! with exactly IPFS Cluster's JSON field names (`api/types.go` of v1.1.6), so REST clients,
//! `state export` files and scripts written for IPFS Cluster read and write them unchanged.
//!
//! Conventions kept from Go: CIDs are JSON strings and an undefined CID is `null`; times are
//! RFC 3339 with nanoseconds trimmed (`0001-01-01T00:00:00Z` is the zero time, i.e. "never");
//! `PinOptions` fields are flattened into `Pin`; the mode is `recursive` or `direct`.
//!
//! Deliberate differences: `mode=direct` on `POST /pins/{cid}` really pins direct (Go forces
//! recursive there); `max_depth` is derived from the mode rather than the other way round.

/// The IPFS Cluster release whose REST API and wire types Pinfold reproduces (`GET /version`,
/// `--version`).
pub const API_VERSION: &str = "1.1.6";

mod rest;
mod status;
mod time_json;

pub use rest::{Alert, Bandwidth, BandwidthByProtocol, ConnectGraph, Token, Version};
pub use status::{TrackerStatus, TrackerStatusFilter};
pub use time_json::{Timestamp, format_rfc3339, parse_rfc3339};

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use cid::Cid;
use libp2p_identity::PeerId;
use multiaddr::Multiaddr;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Errors in user-supplied pin options and objects (REST answers 400 with the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypeError {
    #[error("parameter {0} invalid")]
    InvalidParameter(String),
    #[error("parameter shard_size is invalid")]
    InvalidShardSize,
    #[error("invalid expire-at: {0}")]
    InvalidExpireAt(String),
    #[error("invalid expire-in: {0}")]
    InvalidExpireIn(String),
    #[error("invalid pin-update CID: {0}")]
    InvalidPinUpdate(String),
    #[error("invalid origin {0}: {1}")]
    InvalidOrigin(String, String),
    #[error("error decoding Cid: {0}")]
    InvalidCid(String),
    #[error("unknown pin type {0:?}")]
    UnknownPinType(String),
}

/// What a pin is for (IPFS Cluster's `PinType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PinType {
    Bad,
    /// A normal pin: the DAG is pinned on its allocations.
    #[default]
    Data,
    /// The original root of a sharded add (never pinned in IPFS).
    Meta,
    ClusterDag,
    Shard,
}

impl PinType {
    pub fn as_str(self) -> &'static str {
        match self {
            PinType::Bad => "bad",
            PinType::Data => "pin",
            PinType::Meta => "meta-pin",
            PinType::ClusterDag => "clusterdag-pin",
            PinType::Shard => "shard-pin",
        }
    }
}

impl FromStr for PinType {
    type Err = TypeError;
    fn from_str(s: &str) -> Result<Self, TypeError> {
        Ok(match s {
            "pin" => PinType::Data,
            "meta-pin" => PinType::Meta,
            "clusterdag-pin" => PinType::ClusterDag,
            "shard-pin" => PinType::Shard,
            "bad" => PinType::Bad,
            other => return Err(TypeError::UnknownPinType(other.to_string())),
        })
    }
}

/// How IPFS pins the DAG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PinMode {
    #[default]
    Recursive,
    Direct,
}

impl PinMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PinMode::Recursive => "recursive",
            PinMode::Direct => "direct",
        }
    }

    /// IPFS Cluster's reading of the `mode` parameter: `direct`, else recursive.
    pub fn from_param(s: &str) -> PinMode {
        if s == "direct" {
            PinMode::Direct
        } else {
            PinMode::Recursive
        }
    }

    /// The `max_depth` that goes with the mode.
    pub fn max_depth(self) -> i32 {
        match self {
            PinMode::Recursive => -1,
            PinMode::Direct => 0,
        }
    }
}

macro_rules! string_serde {
    ($t:ty, $parse:expr) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                #[allow(clippy::redundant_closure_call)]
                ($parse)(s.as_str()).map_err(serde::de::Error::custom)
            }
        }
    };
}
string_serde!(PinType, PinType::from_str);
string_serde!(PinMode, |s: &str| Ok::<_, TypeError>(PinMode::from_param(
    s
)));

/// Serde for CIDs as strings, `null` when undefined.
pub mod opt_cid {
    use super::*;
    pub fn serialize<S: Serializer>(c: &Option<Cid>, s: S) -> Result<S::Ok, S::Error> {
        match c {
            Some(c) => s.serialize_str(&c.to_string()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cid>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => Cid::try_from(s.as_str())
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Serde for a CID as a string.
pub mod cid_str {
    use super::*;
    pub fn serialize<S: Serializer>(c: &Cid, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&c.to_string())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cid, D::Error> {
        let s = String::deserialize(d)?;
        Cid::try_from(s.as_str()).map_err(serde::de::Error::custom)
    }
}

/// Serde for a list of CIDs as strings.
pub mod cids_str {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[Cid], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|c| c.to_string()))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Cid>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| Cid::try_from(s.as_str()).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// Serde for a peer ID as its base58 string.
pub mod peer_str {
    use super::*;
    pub fn serialize<S: Serializer>(p: &PeerId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&p.to_base58())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PeerId, D::Error> {
        let s = String::deserialize(d)?;
        PeerId::from_str(&s).map_err(serde::de::Error::custom)
    }
}

/// Serde for lists of peer IDs (`null` when absent, as Go's nil slices).
pub mod peers_str {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[PeerId], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|p| p.to_base58()))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PeerId>, D::Error> {
        let v = Option::<Vec<String>>::deserialize(d)?.unwrap_or_default();
        v.iter()
            .map(|s| PeerId::from_str(s).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// Serde for `Option<Vec<PeerId>>` (`null` when `None`).
pub mod opt_peers_str {
    use super::*;
    pub fn serialize<S: Serializer>(v: &Option<Vec<PeerId>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_seq(v.iter().map(|p| p.to_base58())),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<PeerId>>, D::Error> {
        match Option::<Vec<String>>::deserialize(d)? {
            None => Ok(None),
            Some(v) => v
                .iter()
                .map(|s| PeerId::from_str(s).map_err(serde::de::Error::custom))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
        }
    }
}

/// Options a user gives with a pin (flattened into [`Pin`] in JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinOptions {
    #[serde(default)]
    pub replication_factor_min: i32,
    #[serde(default)]
    pub replication_factor_max: i32,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub mode: PinMode,
    #[serde(default)]
    pub shard_size: u64,
    #[serde(default, with = "opt_peers_str")]
    pub user_allocations: Option<Vec<PeerId>>,
    #[serde(default)]
    pub expire_at: Timestamp,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default, with = "opt_cid")]
    pub pin_update: Option<Cid>,
    #[serde(default)]
    pub origins: Option<Vec<Multiaddr>>,
}

impl Default for PinOptions {
    fn default() -> Self {
        PinOptions {
            replication_factor_min: 0,
            replication_factor_max: 0,
            name: String::new(),
            mode: PinMode::Recursive,
            shard_size: 0,
            user_allocations: None,
            expire_at: Timestamp::ZERO,
            metadata: None,
            pin_update: None,
            origins: None,
        }
    }
}

impl PinOptions {
    /// Parses IPFS Cluster's pin query parameters (`PinOptions.FromQuery`): `name`, `mode`,
    /// `replication`, `replication-min|max`, `shard-size`, `user-allocations`, `expire-at`,
    /// `expire-in`, `meta-<key>`, `pin-update`, `origins`. Unknown parameters are ignored.
    pub fn from_query(pairs: &[(String, String)], now: Timestamp) -> Result<PinOptions, TypeError> {
        let get = |k: &str| {
            pairs
                .iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        let int = |k: &str| -> Result<Option<i32>, TypeError> {
            get(k)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse::<i32>()
                        .map_err(|_| TypeError::InvalidParameter(k.to_string()))
                })
                .transpose()
        };
        let mut o = PinOptions {
            name: get("name").unwrap_or("").to_string(),
            ..Default::default()
        };
        if let Some(m) = get("mode") {
            o.mode = PinMode::from_param(m);
        }
        if let Some(r) = int("replication")? {
            o.replication_factor_min = r;
            o.replication_factor_max = r;
        } else {
            o.replication_factor_min = int("replication-min")?.unwrap_or(0);
            o.replication_factor_max = int("replication-max")?.unwrap_or(0);
        }
        if let Some(s) = get("shard-size").filter(|v| !v.is_empty()) {
            o.shard_size = s.parse().map_err(|_| TypeError::InvalidShardSize)?;
        }
        if let Some(a) = get("user-allocations").filter(|v| !v.is_empty()) {
            // as Go: invalid IDs are dropped silently
            o.user_allocations = Some(
                a.split(',')
                    .filter_map(|p| PeerId::from_str(p.trim()).ok())
                    .collect(),
            );
        }
        if let Some(e) = get("expire-at").filter(|v| !v.is_empty()) {
            o.expire_at = parse_rfc3339(e).map_err(TypeError::InvalidExpireAt)?;
        } else if let Some(e) = get("expire-in").filter(|v| !v.is_empty()) {
            let d = crate::gocompat::duration::parse(e)
                .map_err(|e| TypeError::InvalidExpireIn(e.to_string()))?;
            if d < Duration::from_secs(1) {
                return Err(TypeError::InvalidExpireIn(format!(
                    "{e}: must be at least 1s"
                )));
            }
            o.expire_at = now.plus(d);
        }
        let meta: BTreeMap<String, String> = pairs
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("meta-")
                    .filter(|k| !k.is_empty())
                    .map(|k| (k.to_string(), v.clone()))
            })
            .collect();
        if !meta.is_empty() {
            o.metadata = Some(meta);
        }
        if let Some(u) = get("pin-update").filter(|v| !v.is_empty()) {
            o.pin_update =
                Some(Cid::try_from(u).map_err(|e| TypeError::InvalidPinUpdate(e.to_string()))?);
        }
        if let Some(list) = get("origins").filter(|v| !v.is_empty()) {
            let mut origins = Vec::new();
            for s in list.split(',') {
                let ma: Multiaddr = s.parse().map_err(|e: multiaddr::Error| {
                    TypeError::InvalidOrigin(s.into(), e.to_string())
                })?;
                if !ma.iter().any(|p| matches!(p, multiaddr::Protocol::P2p(_))) {
                    return Err(TypeError::InvalidOrigin(s.into(), "no /p2p/ part".into()));
                }
                origins.push(ma);
            }
            o.origins = Some(origins);
        }
        Ok(o)
    }

    /// True when the pin goes to every peer (min = max = -1).
    pub fn is_everywhere(&self) -> bool {
        self.replication_factor_min == -1 && self.replication_factor_max == -1
    }
}

/// A pin in the shared state (IPFS Cluster's `Pin`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    #[serde(flatten)]
    pub options: PinOptions,
    #[serde(with = "cid_str")]
    pub cid: Cid,
    #[serde(rename = "type", default)]
    pub pin_type: PinType,
    #[serde(default, with = "peers_str")]
    pub allocations: Vec<PeerId>,
    #[serde(default)]
    pub max_depth: i32,
    #[serde(default, with = "opt_cid")]
    pub reference: Option<Cid>,
    #[serde(default)]
    pub timestamp: Timestamp,
}

impl Pin {
    /// A data pin of `cid` with `options`, its depth following the mode.
    pub fn new(cid: Cid, options: PinOptions) -> Pin {
        let max_depth = options.mode.max_depth();
        Pin {
            options,
            cid,
            pin_type: PinType::Data,
            allocations: Vec::new(),
            max_depth,
            reference: None,
            timestamp: Timestamp::ZERO,
        }
    }

    /// True when the pin has expired at `now`.
    pub fn expired(&self, now: Timestamp) -> bool {
        !self.options.expire_at.is_zero() && self.options.expire_at <= now
    }
}

/// One peer's view of a pin (`PinInfoShort`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinInfoShort {
    pub peername: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ipfs_peer_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ipfs_peer_addresses: Vec<String>,
    pub status: TrackerStatus,
    pub timestamp: Timestamp,
    pub error: String,
    pub attempt_count: u32,
    pub priority_pin: bool,
}

/// The status of a pin across peers (`GlobalPinInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalPinInfo {
    #[serde(with = "cid_str")]
    pub cid: Cid,
    pub name: String,
    #[serde(with = "peers_str")]
    pub allocations: Vec<PeerId>,
    pub origins: Vec<Multiaddr>,
    pub created: Timestamp,
    pub metadata: Option<BTreeMap<String, String>>,
    pub peer_map: BTreeMap<String, PinInfoShort>,
}

/// The IPFS side of a peer's description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IpfsId {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub error: String,
}

/// The raft view of one peer (`GET /health/consensus`, Pinfold's own route): who leads, the
/// voters, how far this peer has applied the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusStatus {
    /// The leader's peer id (`""` while none is known).
    pub leader: String,
    /// The voters whose peer id is known, this peer first.
    pub peers: Vec<String>,
    pub term: u64,
    pub applied_index: u64,
}

/// A cluster peer's description (`ID`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerDescription {
    pub id: String,
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub cluster_peers: Vec<String>,
    #[serde(default)]
    pub cluster_peers_addresses: Vec<String>,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub commit: String,
    #[serde(default)]
    pub rpc_protocol_version: String,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub ipfs: IpfsId,
    #[serde(default)]
    pub peername: String,
}

/// One line of `/add` output (`AddedOutput`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedOutput {
    pub name: String,
    /// `null` on progress lines (only `name` and `bytes` are set).
    #[serde(default, with = "opt_cid")]
    pub cid: Option<Cid>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "peers_str")]
    pub allocations: Vec<PeerId>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A metric published by a peer's informer (`Metric`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    pub peer: String,
    pub value: String,
    /// Unix nanoseconds.
    pub expire: i64,
    pub valid: bool,
    pub weight: i64,
    pub partitionable: bool,
    pub received_at: i64,
}

/// IPFS Cluster's error body (`{"code","message"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub code: u16,
    pub message: String,
}

/// One removed key of a GC run (`IPFSRepoGC` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoGcKey {
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_cid")]
    pub key: Option<Cid>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// A peer's GC report (`RepoGC`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoGc {
    pub peer: String,
    pub peername: String,
    pub keys: Vec<RepoGcKey>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// GC reports of every peer (`GlobalRepoGC`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalRepoGc {
    pub peer_map: BTreeMap<String, RepoGc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn pin_json_has_go_field_names_and_round_trips() {
        let cid = Cid::try_from("QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY").unwrap();
        let pin = Pin::new(
            cid,
            PinOptions {
                name: "n".into(),
                replication_factor_min: -1,
                replication_factor_max: -1,
                ..Default::default()
            },
        );
        let v = serde_json::to_value(&pin).unwrap();
        for key in [
            "replication_factor_min",
            "replication_factor_max",
            "name",
            "mode",
            "shard_size",
            "user_allocations",
            "expire_at",
            "metadata",
            "pin_update",
            "origins",
            "cid",
            "type",
            "allocations",
            "max_depth",
            "reference",
            "timestamp",
        ] {
            assert!(v.get(key).is_some(), "missing {key} in {v}");
        }
        assert_eq!(v["type"], "pin");
        assert_eq!(v["mode"], "recursive");
        assert_eq!(v["expire_at"], "0001-01-01T00:00:00Z");
        assert_eq!(v["pin_update"], serde_json::Value::Null);
        let back: Pin = serde_json::from_value(v).unwrap();
        assert_eq!(back, pin);
    }

    #[test]
    fn go_export_lines_import() {
        // the sharness importState line, with most fields missing
        let line = r#"{"cid":"QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY","name":"","allocations":[],"replication_factor_min":-1,"replication_factor_max":-1}"#;
        let pin: Pin = serde_json::from_str(line).unwrap();
        assert!(pin.options.is_everywhere());
        assert_eq!(pin.pin_type, PinType::Data);
    }

    #[test]
    fn pin_options_from_query() {
        let now = parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        let o = PinOptions::from_query(
            &q(&[
                ("name", "mypin"),
                ("mode", "direct"),
                ("replication-min", "1"),
                ("replication-max", "3"),
                ("meta-a", "b"),
                ("meta-", "ignored"),
                ("expire-in", "1h"),
                (
                    "user-allocations",
                    "12D3KooWJxNtxhvCnBq8PZX7C93ZNFzGsvKXg4VnXMi9Hso5mCKE,bad",
                ),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(o.name, "mypin");
        assert_eq!(o.mode, PinMode::Direct);
        assert_eq!((o.replication_factor_min, o.replication_factor_max), (1, 3));
        assert_eq!(o.metadata.unwrap().len(), 1);
        assert_eq!(format_rfc3339(o.expire_at), "2026-01-01T01:00:00Z");
        assert_eq!(o.user_allocations.unwrap().len(), 1);
        let o = PinOptions::from_query(&q(&[("replication", "2"), ("replication-min", "5")]), now)
            .unwrap();
        assert_eq!((o.replication_factor_min, o.replication_factor_max), (2, 2));
        assert_eq!(
            PinOptions::from_query(&q(&[("replication-min", "x")]), now)
                .unwrap_err()
                .to_string(),
            "parameter replication-min invalid"
        );
        assert!(PinOptions::from_query(&q(&[("expire-in", "10ms")]), now).is_err());
        assert!(PinOptions::from_query(&q(&[("origins", "/ip4/1.2.3.4/tcp/1")]), now).is_err());
        assert!(PinOptions::from_query(&q(&[("shard-size", "-1")]), now).is_err());
    }
}
