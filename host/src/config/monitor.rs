//! The `monitor` section: `monitor.pubsubmon` (Go's `pubsubmon/config.go`) and its
//! `check_interval` (default `15s`), kept with Go's key and default so a file round-trips.

use std::time::Duration;

use serde::Serialize;

use crate::gocompat::duration::serde_go;

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct MonitorConfig {
    pub pubsubmon: PubsubMonConfig,
}

/// `monitor.pubsubmon`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PubsubMonConfig {
    #[serde(with = "serde_go")]
    pub check_interval: Duration,
}

impl Default for PubsubMonConfig {
    fn default() -> PubsubMonConfig {
        PubsubMonConfig {
            check_interval: Duration::from_secs(15),
        }
    }
}
