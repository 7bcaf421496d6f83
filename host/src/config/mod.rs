//! Configuration: everything a Pinfold peer reads from its configuration folder, in IPFS
//! Cluster v1.1.6's formats, so an operator can point Pinfold at an `~/.ipfs-cluster` folder's
//! files (or keep their habits) and get the same behaviour.
//!
//! | file | here |
//! |---|---|
//! | `service.json` | [`ServiceConfig`] (`service.rs`): the whole file, Go's keys, order, defaults |
//! | its sections | one file each: `cluster.rs`, `consensus.rs`, `api.rs`, `ipfs_connector.rs`, `ipfs_node.rs`, `tracker.rs`, `monitor.rs`, `allocator.rs`, `informer.rs`, `observations.rs` |
//! | `CLUSTER_*` variables | [`mod@env`] (`env.rs`): one table row per variable, applied after the file |
//! | `identity.json` | [`Identity`] (`identity.rs`): peer ID + Ed25519 key, checked to match |
//! | `init`, the folder | [`ConfigFolder`] (`folder.rs`): init, load, atomic 0600 writes (the `peerstore` file is the swarm's) |
//! | `cluster.lock` | [`FolderLock`] (`lock.rs`): one daemon per folder |
//! | `plugins` section | [`plugins`] (`plugins.rs`): Pinfold's WASM plugins, strictly checked |
//!
//! The default folder is `~/.pinfold` (`PINFOLD_PATH` overrides it; IPFS Cluster's is
//! `~/.ipfs-cluster` / `IPFS_CLUSTER_PATH`).
//!
//! As in Go, **a section's presence enables its component**: `api.restapi`, `api.pinsvcapi`,
//! `api.ipfsproxy`, each informer, and Pinfold's `ipfs_node.embedded` are `Option`s; the other
//! sections are always there and take their defaults when absent. Go durations, strconv and
//! hex come from [`crate::gocompat`]; this module imports no component of the crate (a
//! component reads its own section, never the other way round).
//!
//! Principles: a value that cannot be used fails the load with a message naming the file, the
//! key path or the variable and the reason; a key Pinfold does not know is ignored with a
//! warning (returned to the caller and logged); secrets never reach `Debug`, `Display`, error
//! messages or logs, and the display form masks them as IPFS Cluster does (`XXX_hidden_XXX`).
//! Where Pinfold deliberately differs from IPFS Cluster, the module that owns the behaviour
//! says so in its essay (omitted keys take their defaults, raft only, no QUIC, no mDNS by
//! default, the embedded IPFS node).

mod allocator;
mod api;
mod checks;
mod cluster;
mod consensus;
pub mod env;
mod error;
mod folder;
mod identity;
mod informer;
mod ipfs_connector;
mod ipfs_node;
mod json;
mod lock;
mod monitor;
mod observations;
pub mod plugins;
mod secret;
mod service;
mod size;
#[cfg(test)]
mod tests;
mod tracker;

pub use allocator::{AllocatorConfig, BalancedAllocatorConfig};
pub use api::{
    ApiConfig, DEFAULT_IPFS_API, DEFAULT_IPFSPROXY_LISTEN, DEFAULT_PINSVCAPI_LISTEN,
    DEFAULT_RESTAPI_LISTEN, IpfsProxyConfig, MIN_MAX_HEADER_BYTES, RestApiConfig,
};
pub use cluster::{
    ClusterConfig, ConnectionManagerConfig, DEFAULT_CLUSTER_LISTEN, PubSubConfig,
    ResourceManagerConfig,
};
pub use consensus::{ConsensusConfig, RaftConfig};
pub use env::{Env, EnvVar, process_env};
pub use error::ConfigError;
pub use folder::{
    ConfigFolder, Consensus, DEFAULT_FOLDER_NAME, IDENTITY_JSON, InitOptions, InitReport,
    LoadedFolder, PATH_ENV, SERVICE_JSON, default_folder, default_folder_from,
};
pub use identity::{Identity, KeyError, PrivateKey};
pub use informer::{
    DiskInformerConfig, DiskMetricType, InformerConfig, PinQueueInformerConfig, TagsInformerConfig,
};
pub use ipfs_connector::{IpfsConnectorConfig, IpfsHttpConfig};
pub use ipfs_node::{EmbeddedNodeConfig, IpfsNodeConfig};
pub use lock::{FolderLock, LOCK_FILE};
pub use monitor::{MonitorConfig, PubsubMonConfig};
pub use observations::{MetricsConfig, ObservationsConfig, TracingConfig};
pub use secret::{BasicAuthCredentials, ClusterSecret, HIDDEN};
pub use service::{Loaded, ServiceConfig};
pub use size::{SizeError, StorageSize};
pub use tracker::{PinTrackerConfig, StatelessTrackerConfig};
