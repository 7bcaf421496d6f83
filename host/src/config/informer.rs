//! The `informer` section: `informer.disk` (free or used repository space), `informer.pinqueue`
//! (queued pins) and `informer.tags` (operator tags), Go's `disk`, `pinqueue` and `tags`
//! informers. As in Go, each informer runs iff its section is present.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::json::FromJson;
use crate::gocompat::duration::serde_go;

/// The informers; each runs iff its section is present.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct InformerConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<DiskInformerConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinqueue: Option<PinQueueInformerConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<TagsInformerConfig>,
}

impl InformerConfig {
    pub(super) fn is_empty(&self) -> bool {
        self.disk.is_none() && self.pinqueue.is_none() && self.tags.is_none()
    }
}

/// `informer.disk`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiskInformerConfig {
    #[serde(with = "serde_go")]
    pub metric_ttl: Duration,
    pub metric_type: DiskMetricType,
}

/// What the disk informer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskMetricType {
    /// Space left in the IPFS repository (`freespace`).
    Freespace,
    /// Space used by the IPFS repository (`reposize`).
    Reposize,
}

impl FromJson for DiskMetricType {
    fn from_json(v: &Value) -> Result<DiskMetricType, String> {
        parse_metric_type(&String::from_json(v)?)
    }
}

pub(crate) fn parse_metric_type(s: &str) -> Result<DiskMetricType, String> {
    match s {
        "freespace" => Ok(DiskMetricType::Freespace),
        "reposize" => Ok(DiskMetricType::Reposize),
        other => Err(format!(
            "{other:?} is invalid (use \"freespace\" or \"reposize\")"
        )),
    }
}

impl Default for DiskInformerConfig {
    fn default() -> DiskInformerConfig {
        DiskInformerConfig {
            metric_ttl: Duration::from_secs(30),
            metric_type: DiskMetricType::Freespace,
        }
    }
}

/// `informer.pinqueue`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PinQueueInformerConfig {
    #[serde(with = "serde_go")]
    pub metric_ttl: Duration,
    pub weight_bucket_size: u64,
}

impl Default for PinQueueInformerConfig {
    fn default() -> PinQueueInformerConfig {
        PinQueueInformerConfig {
            metric_ttl: Duration::from_secs(30),
            weight_bucket_size: 100_000,
        }
    }
}

/// `informer.tags`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagsInformerConfig {
    #[serde(with = "serde_go")]
    pub metric_ttl: Duration,
    pub tags: BTreeMap<String, String>,
}

impl Default for TagsInformerConfig {
    fn default() -> TagsInformerConfig {
        TagsInformerConfig {
            metric_ttl: Duration::from_secs(30),
            tags: BTreeMap::from([("group".to_string(), "default".to_string())]),
        }
    }
}
