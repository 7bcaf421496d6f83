//! The `pin_tracker` section: `pin_tracker.stateless` (Go's `stateless/config.go`): how many
//! pins run at once (`concurrent_pins`), the queue's size (written only when not the default
//! 1000000) and which pins are retried first (`priority_pin_max_age`, `…_max_retries`).

use std::time::Duration;

use serde::Serialize;

use crate::gocompat::duration::serde_go;

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PinTrackerConfig {
    pub stateless: StatelessTrackerConfig,
}

/// `pin_tracker.stateless`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatelessTrackerConfig {
    /// Written only when not the default 1000000.
    #[serde(skip_serializing_if = "is_default_queue_size")]
    pub max_pin_queue_size: usize,
    pub concurrent_pins: usize,
    #[serde(with = "serde_go")]
    pub priority_pin_max_age: Duration,
    pub priority_pin_max_retries: u32,
}

const DEFAULT_MAX_PIN_QUEUE_SIZE: usize = 1_000_000;

fn is_default_queue_size(n: &usize) -> bool {
    *n == DEFAULT_MAX_PIN_QUEUE_SIZE
}

impl Default for StatelessTrackerConfig {
    fn default() -> StatelessTrackerConfig {
        StatelessTrackerConfig {
            max_pin_queue_size: DEFAULT_MAX_PIN_QUEUE_SIZE,
            concurrent_pins: 10,
            priority_pin_max_age: Duration::from_secs(24 * 3600),
            priority_pin_max_retries: 5,
        }
    }
}
