//! # allocator-balanced: IPFS Cluster's balanced allocator
//!
//! The default allocator plugin of Pinfold (world `allocator`), IPFS Cluster's
//! `allocator/balanced` with `allocate_by` (default `["tag:group", "freespace"]`):
//!
//! 1. **Partition** the peers by the first metric of `allocate_by`: a *partitionable* metric
//!    (tags) makes one partition per distinct value, whose weight is the sum of its metrics'
//!    weights; any other metric (free space) makes one partition per peer. Each partition is
//!    partitioned again by the remaining metrics, among its own peers only; a partition's
//!    *aggregated weight* is its weight plus the aggregated weights of its sub-partitions.
//!    Peers lacking a metric of a deeper level drop out, as in Go.
//! 2. **Sort** the partitions of each level by weight (descending), then aggregated weight
//!    (descending), then value (ascending).
//! 3. **Pick round-robin**: one peer from the first partition (recursively, from its own
//!    first sub-partition), then one from the next partition, and so on, wrapping around and
//!    skipping exhausted partitions until every peer is listed. With the defaults: spread
//!    across groups, and inside a group the peers with most free space first.
//!
//! The answer lists the `priority` peers (ordered this way) and then the `candidates`;
//! `current` is not used (as in Go). Metrics marked invalid are ignored.
//!
//! **Deterministic ties.** Where Go's order is left to chance — the peers of one leaf
//! partition (a Go map) and partitions equal in weight, aggregated weight and value (an
//! unstable sort) — this plugin orders by `sha256(cid "/" peer)` (rendezvous hashing), then
//! by peer ID. The same CID always gets the same answer, and different CIDs still spread over
//! equal peers as Go's random order does.
//!
//! ## Configuration (JSON)
//! `{"allocate_by": ["tag:group", "freespace"]}` — absent or empty: the default.

use std::collections::BTreeMap;

use pinfold_plugin_sdk::types::{Metric, PeerId};
use pinfold_plugin_sdk::{Allocator, Plugin};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// `allocate_by` when the configuration has none (IPFS Cluster's default).
pub const DEFAULT_ALLOCATE_BY: [&str; 2] = ["tag:group", "freespace"];

const SCHEMA: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "allocator-balanced configuration",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "allocate_by": {
      "type": "array",
      "items": { "type": "string", "minLength": 1 },
      "default": ["tag:group", "freespace"]
    }
  }
}"##;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    allocate_by: Vec<String>,
}

/// The balanced allocator (see the crate docs).
#[derive(Debug, Clone)]
pub struct Balanced {
    allocate_by: Vec<String>,
}

impl Balanced {
    /// An allocator ranking by these metrics.
    pub fn new(allocate_by: Vec<String>) -> Balanced {
        Balanced { allocate_by }
    }

    /// The balanced order of the peers of `metrics` for `cid`.
    pub fn sorted_peers(&self, cid: &str, metrics: &[Metric]) -> Vec<PeerId> {
        let mut set: BTreeMap<&str, Vec<&Metric>> = BTreeMap::new();
        for m in metrics.iter().filter(|m| m.valid) {
            set.entry(m.name.as_str()).or_default().push(m);
        }
        let by: Vec<&str> = self.allocate_by.iter().map(String::as_str).collect();
        let mut root = partition_metrics(cid, &set, &by);
        let mut out = Vec::new();
        while let Some(p) = root.choose_next() {
            out.push(p);
        }
        out
    }
}

impl Plugin for Balanced {
    fn config_schema() -> String {
        SCHEMA.to_string()
    }

    fn init(config_json: &str) -> Result<Self, String> {
        let text = if config_json.trim().is_empty() {
            "{}"
        } else {
            config_json
        };
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("allocator-balanced configuration: {e}"))?;
        if !value.is_object() {
            return Err("allocator-balanced configuration: expected a JSON object".into());
        }
        let raw: RawConfig = serde_json::from_value(value)
            .map_err(|e| format!("allocator-balanced configuration: {e}"))?;
        if raw.allocate_by.iter().any(|m| m.is_empty()) {
            return Err("allocate_by: a metric name is empty".into());
        }
        Ok(Balanced::new(if raw.allocate_by.is_empty() {
            DEFAULT_ALLOCATE_BY.map(String::from).into()
        } else {
            raw.allocate_by
        }))
    }
}

impl Allocator for Balanced {
    fn metrics(&self) -> Vec<String> {
        self.allocate_by.clone()
    }

    fn allocate(
        &self,
        cid: &str,
        _current: &[Metric],
        candidates: &[Metric],
        priority: &[Metric],
    ) -> Result<Vec<PeerId>, String> {
        let mut out = self.sorted_peers(cid, priority);
        out.extend(self.sorted_peers(cid, candidates));
        Ok(out)
    }
}

/// The rendezvous key of `peer` for `cid`: the deterministic tie-break.
fn rendezvous(cid: &str, peer: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(cid.as_bytes());
    h.update(b"/");
    h.update(peer.as_bytes());
    h.finalize().into()
}

struct Partition<'a> {
    value: &'a str,
    weight: i64,
    aggregated_weight: i64,
    /// Peers in tie-break order, with whether each was picked already.
    peers: Vec<(&'a str, bool)>,
    /// The smallest rendezvous key of its peers (ties between partitions).
    key: ([u8; 32], &'a str),
    sub: Option<Partitioned<'a>>,
}

struct Partitioned<'a> {
    partitions: Vec<Partition<'a>>,
    next: usize,
    exhausted: bool,
}

fn partition_metrics<'a>(
    cid: &str,
    set: &BTreeMap<&'a str, Vec<&'a Metric>>,
    by: &[&str],
) -> Partitioned<'a> {
    let Some((root, rest)) = by.split_first() else {
        return Partitioned {
            partitions: Vec::new(),
            next: 0,
            exhausted: true,
        };
    };
    let mut partitions = partition_values(cid, set.get(root).map(Vec::as_slice).unwrap_or(&[]));
    if !rest.is_empty() {
        for p in &mut partitions {
            let filtered: BTreeMap<&'a str, Vec<&'a Metric>> = set
                .iter()
                .filter(|(name, _)| *name != root)
                .map(|(name, ms)| {
                    let kept = ms
                        .iter()
                        .copied()
                        .filter(|m| p.peers.iter().any(|(peer, _)| *peer == m.peer))
                        .collect();
                    (*name, kept)
                })
                .collect();
            let sub = partition_metrics(cid, &filtered, rest);
            for s in &sub.partitions {
                p.aggregated_weight = p.aggregated_weight.saturating_add(s.aggregated_weight);
            }
            p.sub = Some(sub);
        }
    }
    partitions.sort_by(|a, b| {
        b.weight
            .cmp(&a.weight)
            .then(b.aggregated_weight.cmp(&a.aggregated_weight))
            .then(a.value.cmp(b.value))
            .then(a.key.cmp(&b.key))
    });
    Partitioned {
        partitions,
        next: 0,
        exhausted: false,
    }
}

fn partition_values<'a>(cid: &str, metrics: &[&'a Metric]) -> Vec<Partition<'a>> {
    let mut partitions: Vec<Partition<'a>> = Vec::new();
    let mut by_value: BTreeMap<&'a str, usize> = BTreeMap::new();
    for m in metrics {
        let existing = if m.partitionable {
            by_value.get(m.value.as_str()).copied()
        } else {
            None
        };
        match existing {
            Some(i) => {
                let p = &mut partitions[i];
                if !p.peers.iter().any(|(peer, _)| *peer == m.peer) {
                    p.peers.push((m.peer.as_str(), false));
                }
                p.weight = p.weight.saturating_add(m.weight);
                p.aggregated_weight = p.aggregated_weight.saturating_add(m.weight);
            }
            None => {
                if m.partitionable {
                    by_value.insert(m.value.as_str(), partitions.len());
                }
                partitions.push(Partition {
                    value: m.value.as_str(),
                    weight: m.weight,
                    aggregated_weight: m.weight,
                    peers: vec![(m.peer.as_str(), false)],
                    key: ([0; 32], ""),
                    sub: None,
                });
            }
        }
    }
    for p in &mut partitions {
        p.peers
            .sort_by_cached_key(|(peer, _)| (rendezvous(cid, peer), *peer));
        let first = p.peers[0].0;
        p.key = (rendezvous(cid, first), first);
    }
    partitions
}

impl Partitioned<'_> {
    /// The next peer, never twice from one partition while another has peers left.
    fn choose_next(&mut self) -> Option<PeerId> {
        let len = self.partitions.len();
        if len == 0 || self.exhausted {
            return None;
        }
        for _ in 0..len {
            let current = &mut self.partitions[self.next];
            let picked = match &mut current.sub {
                Some(sub) => sub.choose_next(),
                None => current
                    .peers
                    .iter_mut()
                    .find(|(_, used)| !*used)
                    .map(|(peer, used)| {
                        *used = true;
                        peer.to_string()
                    }),
            };
            self.next = (self.next + 1) % len;
            if picked.is_some() {
                return picked;
            }
        }
        self.exhausted = true;
        None
    }
}

pinfold_plugin_sdk::export_allocator!(Balanced);

#[cfg(test)]
mod tests;
