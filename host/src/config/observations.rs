//! The `observations` section: `observations.metrics` (the Prometheus endpoint) and
//! `observations.tracing` (the Jaeger agent), with Go's keys and defaults (both disabled) so
//! that a file round-trips; `sampling_prob` is checked as Go checks it.

use std::time::Duration;

use multiaddr::Multiaddr;
use serde::Serialize;

use super::checks::ma;
use super::json::ser;
use crate::gocompat::duration::serde_go;

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ObservationsConfig {
    pub metrics: MetricsConfig,
    pub tracing: TracingConfig,
}

/// `observations.metrics`: the Prometheus endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsConfig {
    pub enable_stats: bool,
    #[serde(serialize_with = "ser::maddr")]
    pub prometheus_endpoint: Multiaddr,
    #[serde(with = "serde_go")]
    pub reporting_interval: Duration,
}

impl Default for MetricsConfig {
    fn default() -> MetricsConfig {
        MetricsConfig {
            enable_stats: false,
            prometheus_endpoint: ma("/ip4/127.0.0.1/tcp/8888"),
            reporting_interval: Duration::from_secs(30),
        }
    }
}

/// `observations.tracing` (kept for compatibility; Pinfold traces through `tracing`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TracingConfig {
    pub enable_tracing: bool,
    #[serde(serialize_with = "ser::maddr")]
    pub jaeger_agent_endpoint: Multiaddr,
    pub sampling_prob: f64,
    pub service_name: String,
}

impl Default for TracingConfig {
    fn default() -> TracingConfig {
        TracingConfig {
            enable_tracing: false,
            jaeger_agent_endpoint: ma("/ip4/0.0.0.0/udp/6831"),
            sampling_prob: 0.3,
            service_name: "cluster-daemon".into(),
        }
    }
}
