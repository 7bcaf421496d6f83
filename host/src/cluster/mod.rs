//! The cluster façade: the one interface every API (REST, REST over libp2p, pinning service,
//! IPFS proxy) calls, whatever peer or backend is behind it, and [`Cluster`], the real peer
//! behind it: consensus (the shared pinset), the pin tracker (this peer's IPFS node follows
//! the pinset) and the IPFS connector.
//!
//! [`ClusterApi`] is object safe (`Arc<dyn ClusterApi>`): the APIs are written and tested
//! against it with a fake, and the daemon plugs in [`ClusterHandle`] over a [`Cluster`].
//! Streams never hold the whole pinset: they are produced lazily from the state, a page at a
//! time. Errors carry the HTTP status IPFS Cluster gives them ([`ClusterError::status`]), so
//! every API maps them the same way.
//!
//! # One file per job
//! `Cluster` and its parts are defined here; each job adds its methods to it in a file of its
//! own (its fields are private to this module, so every job file sees them, nothing outside
//! does). The arrows go one way: the files import from this one, and the only imports
//! between siblings go to `net.rs` and `metrics.rs` (its list of metric names), which import
//! no sibling:
//! * `net.rs`: what a peer needs to reach the others ([`ClusterNet`]) and the context of a
//!   membership change; a leaf.
//! * `pin.rs`: the pinset: pin/unpin (validate → allocate → commit through consensus, a
//!   follower forwarding to the leader) and the streamed listing.
//! * `members.rs`: who the members and the leader are, peers added and removed (forwarded to
//!   the leader, leadership handed over first when the leader leaves), asking every member.
//! * `status.rs`: status and recover, this peer's tracker plus every other member's answer.
//! * `identity.rs`: this peer's `/id` and its IPFS node's identity; `metrics.rs`: the
//!   informer metrics it publishes.
//! * `add.rs`: the add path (blocks into the IPFS node, then the roots pinned).
//! * `loops.rs`: the background work (applied entries fed to the tracker, membership changes,
//!   recover and expiry on timers, connecting the IPFS daemons).
//! * `rpc_server.rs`: [`ClusterRpc`], the answers to the other peers' cluster RPC calls.
//! * `handle.rs`: [`ClusterHandle`], the [`ClusterApi`] of a [`Cluster`].
//!
//! # Background work
//! [`Cluster::start`] starts it (see `loops.rs`); [`Cluster::shutdown`] stops it, the tracker
//! and consensus.

mod add;
mod handle;
mod identity;
mod loops;
mod members;
mod metrics;
mod net;
mod pin;
mod rpc_server;
mod status;

pub(crate) use handle::ClusterHandle;
pub(crate) use net::ClusterNet;
pub(crate) use rpc_server::ClusterRpc;

use std::sync::Arc;
use std::time::Duration;

use cid::Cid;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use libp2p_identity::PeerId;
use tokio_util::sync::CancellationToken;

use crate::allocate::AllocateError;
use crate::consensus::{Consensus, ConsensusError};
use crate::ipfs::car::CarError;
use crate::ipfs::hash::HashError;
use crate::ipfsconn::{ConnectorError, IpfsConnector};
use crate::p2p::rpc::RpcError;
use crate::state::{State, StateError};
use crate::tracker::{PinTracker, TrackerError};
use crate::types::{
    AddedOutput, ConsensusStatus, GlobalPinInfo, GlobalRepoGc, IpfsId, Metric, PeerDescription,
    Pin, PinOptions, PinType, TrackerStatusFilter,
};

/// Errors of cluster operations, each with the status the HTTP APIs answer.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// IPFS Cluster's `state.ErrNotFound`: 404.
    #[error("pin is not part of the pinset")]
    NotFound,
    /// Bad input from the user: 400.
    #[error("{0}")]
    BadRequest(String),
    /// A CAR upload that cannot be read: 400.
    #[error("{0}")]
    Car(#[source] CarError),
    /// A block of a CAR upload whose hash cannot be checked: 400.
    #[error("{0}")]
    BlockHash(#[source] HashError),
    /// The operation is refused in this configuration (follower mode…): 500, as Go.
    #[error("{0}")]
    Refused(String),
    /// Consensus could not commit (not the leader, no quorum, shutting down): 500.
    #[error("consensus: {0}")]
    Consensus(#[source] ConsensusError),
    /// No leader is known (an election in progress): 500.
    #[error("consensus: no raft leader is known; retry")]
    NoLeader,
    /// A write was neither committed nor refused before its deadline: 500.
    #[error(
        "consensus: the write was not committed within {} (no leader or no quorum){}",
        crate::gocompat::duration::format(*.within),
        .last_error.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
    )]
    NotCommitted {
        within: Duration,
        /// Why the last attempt failed, when one did.
        last_error: Option<String>,
    },
    /// The leader answered a forwarded write with an error: 500.
    #[error("consensus: the leader {leader} refused the write: {source}")]
    LeaderRefused {
        leader: String,
        #[source]
        source: RpcError,
    },
    /// A membership change forwarded to the leader failed: 500.
    #[error("consensus: {verb} {peer} via {leader}: {source}")]
    MembershipForward {
        verb: &'static str,
        peer: String,
        leader: String,
        #[source]
        source: RpcError,
    },
    /// The leader could not hand its leadership over in time: 500.
    #[error("consensus: leadership transfer did not complete; retry")]
    Handover,
    /// A membership operation on a peer that runs alone: 400.
    #[error("this peer runs without a cluster swarm")]
    NoSwarm,
    /// The IPFS node failed: 500.
    #[error("{0}")]
    Ipfs(#[source] ConnectorError),
    /// The IPFS node did not store the blocks of an add: 500.
    #[error("{0}")]
    IpfsStore(String),
    /// The shared state could not be read: 500.
    #[error("state: {0}")]
    State(#[source] StateError),
    /// The pin tracker failed: 500.
    #[error("{0}")]
    Tracker(#[source] TrackerError),
    /// No allocation satisfies the replication factors: 500.
    #[error("{0}")]
    Allocate(#[source] AllocateError),
    /// Another peer's call failed: 500.
    #[error("{0}")]
    Rpc(#[source] RpcError),
    /// Another peer answered with something else than asked: 500.
    #[error("unexpected answer {0}")]
    UnexpectedAnswer(String),
    /// A task of the operation died: 500.
    #[error("{0}")]
    Task(#[source] tokio::task::JoinError),
    /// Anything else: 500.
    #[error("{0}")]
    Internal(String),
}

impl ClusterError {
    /// The HTTP status for this error.
    pub(crate) fn status(&self) -> u16 {
        match self {
            ClusterError::NotFound => 404,
            ClusterError::BadRequest(_)
            | ClusterError::Car(_)
            | ClusterError::BlockHash(_)
            | ClusterError::NoSwarm => 400,
            _ => 500,
        }
    }
}

pub type ClusterResult<T> = Result<T, ClusterError>;

/// Which pin types `/allocations` lists (`filter=pin,meta-pin,clusterdag-pin,shard-pin,all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinTypeSet {
    pub(crate) data: bool,
    pub(crate) meta: bool,
    pub(crate) cluster_dag: bool,
    pub(crate) shard: bool,
}

impl PinTypeSet {
    pub(crate) const ALL: PinTypeSet = PinTypeSet {
        data: true,
        meta: true,
        cluster_dag: true,
        shard: true,
    };

    pub(crate) fn contains(self, t: PinType) -> bool {
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
    pub(crate) pin_options: PinOptions,
    pub(crate) local: bool,
    pub(crate) wrap_with_directory: bool,
    pub(crate) progress: bool,
    pub(crate) cid_version: Option<u32>,
    pub(crate) raw_leaves: Option<bool>,
    pub(crate) layout_trickle: bool,
    pub(crate) chunker: Option<String>,
    pub(crate) hash: Option<String>,
    /// `format=car`: the body is a CAR with exactly one root.
    pub(crate) car: bool,
    pub(crate) no_pin: bool,
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

/// The settings of the `cluster` section that the façade uses.
#[derive(Debug, Clone)]
pub(crate) struct ClusterSettings {
    pub(crate) peername: String,
    pub(crate) replication_factor_min: i32,
    pub(crate) replication_factor_max: i32,
    pub(crate) follower_mode: bool,
    pub(crate) state_sync_interval: Duration,
    pub(crate) pin_recover_interval: Duration,
    /// Addresses this peer listens on for the cluster swarm (shown by `/id`).
    pub(crate) addresses: Vec<String>,
    /// With Kubo as the backend: connect the peers' IPFS daemons to each other this long
    /// after start (`ipfs_connector.ipfshttp.connect_swarms_delay`), as IPFS Cluster does.
    /// `None` with the embedded node, whose blocks travel on the cluster swarm instead.
    pub(crate) connect_swarms_delay: Option<Duration>,
}

/// What [`Cluster::start`] wires together.
pub(crate) struct ClusterParts {
    pub(crate) peer: PeerId,
    pub(crate) settings: ClusterSettings,
    pub(crate) consensus: Arc<Consensus>,
    /// The swarm to the other peers; `None` runs a peer alone.
    pub(crate) net: Option<ClusterNet>,
    pub(crate) state: Arc<State>,
    pub(crate) tracker: PinTracker,
    pub(crate) ipfs: IpfsConnector,
}

/// A running cluster peer. Its fields are private to this module, the job files included.
pub(crate) struct Cluster {
    peer: PeerId,
    settings: ClusterSettings,
    consensus: Arc<Consensus>,
    net: Option<ClusterNet>,
    state: Arc<State>,
    tracker: PinTracker,
    ipfs: IpfsConnector,
    /// The IPFS node's identity once known (see `identity.rs`).
    ipfs_id: tokio::sync::OnceCell<IpfsId>,
    /// Cancelled by [`Cluster::shutdown`]: ends the background work.
    stop: CancellationToken,
    /// Cancelled when this peer learns it was removed from the cluster.
    removed: CancellationToken,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("peer", &self.peer).finish()
    }
}

impl Cluster {
    /// Starts the background work and returns the façade.
    pub(crate) fn start(parts: ClusterParts) -> Arc<Cluster> {
        let cluster = Arc::new(Cluster {
            peer: parts.peer,
            settings: parts.settings,
            consensus: parts.consensus,
            net: parts.net,
            state: parts.state,
            tracker: parts.tracker,
            ipfs: parts.ipfs,
            ipfs_id: tokio::sync::OnceCell::new(),
            stop: CancellationToken::new(),
            removed: CancellationToken::new(),
        });
        cluster.spawn_loops();
        cluster
    }

    /// Resolves when this peer was removed from the cluster (the daemon then stops).
    pub(crate) fn removed(&self) -> CancellationToken {
        self.removed.clone()
    }

    /// Leaves the cluster (`leave_on_shutdown`): asks the leader to remove this peer.
    pub(crate) async fn leave(&self) -> ClusterResult<()> {
        self.remove_member(self.peer).await
    }

    /// Stops background work, the tracker and consensus.
    pub(crate) async fn shutdown(&self) {
        self.stop.cancel();
        self.tracker.shutdown();
        if let Err(e) = self.consensus.shutdown().await {
            tracing::warn!(error = %e, "consensus shutdown");
        }
    }
}

#[cfg(test)]
mod tests;
