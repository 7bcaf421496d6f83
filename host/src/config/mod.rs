//! Configuration: everything a Pinfold peer reads from its configuration folder, in IPFS
//! Cluster v1.1.6's formats, so an operator can point Pinfold at an `~/.ipfs-cluster` folder's
//! files (or keep their habits) and get the same behaviour.
//!
//! | file | here |
//! |---|---|
//! | `service.json` | [`ServiceConfig`] (`service.rs`): typed sections, Go's keys, order, defaults |
//! | `CLUSTER_*` variables | [`mod@env`] (`env.rs`): one table row per variable, applied after the file |
//! | `identity.json` | [`Identity`] (`identity.rs`): peer ID + Ed25519 key, checked to match |
//! | `peerstore`, `init` | [`ConfigFolder`] (`folder.rs`): init, load, atomic 0600 writes |
//! | `cluster.lock` | [`FolderLock`] (`lock.rs`): one daemon per folder |
//! | `plugins` section | [`plugins`] (`plugins.rs`): Pinfold's WASM plugins, strictly checked |
//!
//! The default folder is `~/.pinfold` (`PINFOLD_PATH` overrides it; IPFS Cluster's is
//! `~/.ipfs-cluster` / `IPFS_CLUSTER_PATH`).
//!
//! Principles: a value that cannot be used fails the load with a message naming the file, the
//! key path or the variable and the reason; a key Pinfold does not know is ignored with a
//! warning (returned to the caller and logged); secrets never reach `Debug`, `Display`, error
//! messages or logs, and the display form masks them as IPFS Cluster does (`XXX_hidden_XXX`).
//! Where Pinfold deliberately differs from IPFS Cluster, the module that owns the behaviour
//! says so in its essay (omitted keys take their defaults, raft only, no QUIC, no mDNS by
//! default, the embedded IPFS node).

pub mod env;
mod error;
mod folder;
mod identity;
mod json;
mod lock;
pub mod plugins;
mod secret;
mod sections;
mod service;
#[cfg(test)]
mod tests;

pub use env::{Env, EnvVar, process_env};
pub use error::ConfigError;
pub use folder::{
    ConfigFolder, Consensus, DEFAULT_FOLDER_NAME, IDENTITY_JSON, InitOptions, InitReport,
    LoadedFolder, PATH_ENV, SERVICE_JSON, default_folder, default_folder_from,
};
pub use identity::{Identity, PrivateKey};
pub use lock::{FolderLock, LOCK_FILE};
pub use secret::{BasicAuthCredentials, ClusterSecret, HIDDEN};
pub use service::{
    AllocatorConfig, ApiConfig, BalancedAllocatorConfig, ClusterConfig, ConnectionManagerConfig,
    ConsensusConfig, DEFAULT_CLUSTER_LISTEN, DEFAULT_IPFS_API, DEFAULT_IPFSPROXY_LISTEN,
    DEFAULT_PINSVCAPI_LISTEN, DEFAULT_RESTAPI_LISTEN, DiskInformerConfig, DiskMetricType,
    EmbeddedNodeConfig, InformerConfig, IpfsConnectorConfig, IpfsHttpConfig, IpfsNodeConfig,
    IpfsProxyConfig, Loaded, MIN_MAX_HEADER_BYTES, MetricsConfig, MonitorConfig,
    ObservationsConfig, PinQueueInformerConfig, PinTrackerConfig, PubSubConfig, PubsubMonConfig,
    RaftConfig, ResourceManagerConfig, RestApiConfig, ServiceConfig, StatelessTrackerConfig,
    StorageSize, TagsInformerConfig, TracingConfig,
};
