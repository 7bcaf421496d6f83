//! The cluster façade: the one interface every API (REST, REST over libp2p, pinning service,
//! IPFS proxy) calls, whatever peer or backend is behind it.
//!
//! [`ClusterApi`] is object safe (`Arc<dyn ClusterApi>`): the APIs are written and tested
//! against it with a fake, and the daemon plugs in the real [`crate::cluster::Cluster`]
//! (consensus + pin tracker + IPFS connector). Streams never hold the whole pinset: they are
//! produced lazily from the state, a page at a time.
//!
//! Errors carry the HTTP status IPFS Cluster gives them ([`ClusterError::status`]), so every
//! API maps them the same way.

pub mod net;
mod peer;

pub use net::{ClusterNet, ClusterRpc, MemberContext};
pub use peer::{Cluster, ClusterHandle, ClusterParts, ClusterSettings};

use cid::Cid;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use libp2p_identity::PeerId;

use crate::types::{
    AddedOutput, ConsensusStatus, GlobalPinInfo, GlobalRepoGc, Metric, PeerDescription, Pin,
    PinOptions, PinType, TrackerStatusFilter,
};

/// Errors of cluster operations, each with the status the HTTP APIs answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// IPFS Cluster's `state.ErrNotFound`: 404.
    #[error("pin is not part of the pinset")]
    NotFound,
    /// Bad input from the user: 400.
    #[error("{0}")]
    BadRequest(String),
    /// The operation is refused in this configuration (follower mode…): 500, as Go.
    #[error("{0}")]
    Refused(String),
    /// Consensus could not commit (no leader, no quorum, shutting down): 500.
    #[error("consensus: {0}")]
    Consensus(String),
    /// The IPFS node failed: 500.
    #[error("{0}")]
    Ipfs(String),
    /// Anything else: 500.
    #[error("{0}")]
    Internal(String),
}

impl ClusterError {
    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            ClusterError::NotFound => 404,
            ClusterError::BadRequest(_) => 400,
            _ => 500,
        }
    }
}

pub type ClusterResult<T> = Result<T, ClusterError>;

/// Which pin types `/allocations` lists (`filter=pin,meta-pin,clusterdag-pin,shard-pin,all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinTypeSet {
    pub data: bool,
    pub meta: bool,
    pub cluster_dag: bool,
    pub shard: bool,
}

impl PinTypeSet {
    pub const ALL: PinTypeSet = PinTypeSet {
        data: true,
        meta: true,
        cluster_dag: true,
        shard: true,
    };

    /// Parses a comma list; `None` for an unknown name ("invalid filter value").
    pub fn parse(filter: &str) -> Option<PinTypeSet> {
        if filter.is_empty() {
            return Some(Self::ALL);
        }
        let mut set = PinTypeSet {
            data: false,
            meta: false,
            cluster_dag: false,
            shard: false,
        };
        for f in filter.split(',') {
            match f.trim() {
                "all" => return Some(Self::ALL),
                "pin" => set.data = true,
                "meta-pin" => set.meta = true,
                "clusterdag-pin" => set.cluster_dag = true,
                "shard-pin" => set.shard = true,
                _ => return None,
            }
        }
        Some(set)
    }

    pub fn contains(self, t: PinType) -> bool {
        match t {
            PinType::Data => self.data,
            PinType::Meta => self.meta,
            PinType::ClusterDag => self.cluster_dag,
            PinType::Shard => self.shard,
            PinType::Bad => false,
        }
    }
}

/// Parameters of `/add` beyond the pin options (IPFS Cluster's `AddParams`, §1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddParams {
    pub pin_options: PinOptions,
    pub local: bool,
    pub wrap_with_directory: bool,
    pub progress: bool,
    pub cid_version: Option<u32>,
    pub raw_leaves: Option<bool>,
    pub layout_trickle: bool,
    pub chunker: Option<String>,
    pub hash: Option<String>,
    /// `format=car`: the body is a CAR with exactly one root.
    pub car: bool,
    pub no_pin: bool,
}

/// A stream of results the APIs forward as NDJSON.
pub type ClusterStream<T> = BoxStream<'static, ClusterResult<T>>;

/// The source of an add: the parts of a multipart upload, as the APIs parse them.
pub type AddInput = crate::http::multipart::MultipartReader;

/// Everything the APIs may ask of the cluster.
pub trait ClusterApi: Send + Sync + 'static {
    /// This peer's description (`GET /id`).
    fn id(&self) -> BoxFuture<'_, PeerDescription>;
    /// Every cluster peer's description, unreachable ones with their error (`GET /peers`).
    fn peers(&self) -> ClusterStream<PeerDescription>;
    /// Removes a peer from the cluster (`DELETE /peers/{id}`).
    fn peer_remove(&self, peer: PeerId) -> BoxFuture<'_, ClusterResult<()>>;

    /// Pins a CID with options; returns the pin as committed (`POST /pins/{cid}`).
    fn pin(&self, cid: Cid, options: PinOptions) -> BoxFuture<'_, ClusterResult<Pin>>;
    /// Resolves an IPFS path (`/ipfs/...`, `/ipld/...`) and pins the result.
    fn pin_path(&self, path: String, options: PinOptions) -> BoxFuture<'_, ClusterResult<Pin>>;
    /// Unpins; [`ClusterError::NotFound`] when not in the pinset.
    fn unpin(&self, cid: Cid) -> BoxFuture<'_, ClusterResult<Pin>>;
    fn unpin_path(&self, path: String) -> BoxFuture<'_, ClusterResult<Pin>>;

    /// The shared state (`GET /allocations`), streamed.
    fn allocations(&self, filter: PinTypeSet) -> ClusterStream<Pin>;
    /// One pin of the state (`GET /allocations/{cid}`).
    fn allocation(&self, cid: Cid) -> BoxFuture<'_, ClusterResult<Pin>>;

    /// Status of one CID on every peer (or only this one with `local`).
    fn status(&self, cid: Cid, local: bool) -> BoxFuture<'_, ClusterResult<GlobalPinInfo>>;
    /// Status of the whole pinset, streamed, filtered (`GET /pins`).
    fn status_all(&self, filter: TrackerStatusFilter, local: bool) -> ClusterStream<GlobalPinInfo>;
    /// Re-queues a failed pin or unpin (`POST /pins/{cid}/recover`).
    fn recover(&self, cid: Cid, local: bool) -> BoxFuture<'_, ClusterResult<GlobalPinInfo>>;
    /// Re-queues every failed item; streams only what was re-queued (`POST /pins/recover`).
    fn recover_all(&self, local: bool) -> ClusterStream<GlobalPinInfo>;

    /// Adds content: imports the upload, stores its blocks on the allocated peers' IPFS nodes
    /// and pins the root unless `no_pin` (`POST /add`), streaming outputs (and progress).
    fn add(&self, input: AddInput, params: AddParams) -> ClusterStream<AddedOutput>;

    /// Runs IPFS garbage collection (`POST /ipfs/gc`).
    fn repo_gc(&self, local: bool) -> BoxFuture<'_, ClusterResult<GlobalRepoGc>>;

    /// This peer's view of the consensus (`GET /health/consensus`).
    fn consensus_status(&self) -> BoxFuture<'_, ClusterResult<ConsensusStatus>>;

    /// Names of the metrics the peers publish (`GET /monitor/metrics`).
    fn metric_names(&self) -> BoxFuture<'_, ClusterResult<Vec<String>>>;
    /// Latest valid value of a metric per peer (`GET /monitor/metrics/{name}`).
    fn metrics(&self, name: String) -> BoxFuture<'_, ClusterResult<Vec<Metric>>>;
}

#[cfg(test)]
mod tests;
