//! Cluster RPC: typed request/response calls between cluster peers over the private swarm.
//!
//! # What it owns
//! * The wire types: [`RpcEnvelope`] (a deadline plus an [`RpcRequest`]) and
//!   `Result<RpcResponse, RpcError>`, CBOR-encoded (libp2p's `request_response::cbor` codec, one
//!   stream per call) under the versioned protocol id [`crate::RPC_PROTOCOL`]
//!   (`/pinfold/rpc/0.1.0`). A peer speaking another version is simply not offered the protocol:
//!   the call fails with `UnsupportedProtocols` instead of misreading bytes.
//! * Authorization of every inbound call ([`RpcAuthorizer`]; default [`IpfsClusterPolicy`],
//!   IPFS Cluster's open/trusted/closed table from `rpc_policy.go`, transcribed below).
//! * The server side ([`RpcServer`]): authorize, then run the [`RpcHandler`] under the
//!   caller's deadline; answers `Unauthorized` / `UnknownMethod` / `DeadlineExceeded` clearly.
//!   The client side is [`crate::p2p::swarm::SwarmHandle::call`].
//! * The raft message mirror and the libp2p [`crate::consensus::RaftTransport`] ([`raft`]).
//!
//! # Methods and their policy names
//! Each method carries the `Service.Method` name IPFS Cluster's policy uses, so the table can
//! be transcribed as it is (and the authz plugin later sees familiar names):
//!
//! | request | policy name | policy |
//! |---|---|---|
//! | `Id` | `Cluster.ID` | open |
//! | `Version` | `Cluster.Version` | open |
//! | `PeerAdd` | `Cluster.PeerAdd` | open |
//! | `PeerRemove` | `Cluster.PeerRemove` | trusted |
//! | `Status` | `PinTracker.Status` | trusted |
//! | `StatusAll` | `PinTracker.StatusAll` | trusted |
//! | `Recover` | `PinTracker.Recover` | trusted |
//! | `RepoStat` | `IPFSConnector.RepoStat` | trusted |
//! | `ForwardPin` / `ForwardUnpin` | `Consensus.LogPin` / `Consensus.LogUnpin` | trusted |
//! | `Raft` | `Consensus.Raft` (Pinfold) | trusted |
//! | `Metrics` | `Cluster.Metrics` (Pinfold) | trusted |
//! | `IpfsId` | `IPFSConnector.ID` | closed (as Go: another peer's IPFS id comes with `Cluster.ID`) |
//!
//! Go carries raft on its own libp2p protocol and metrics on pubsub, so those two names are
//! Pinfold's; they are trusted (in raft mode every cluster peer is trusted anyway, and the pnet
//! secret already keeps everyone else off the swarm). A name missing from the table is closed.
//! Closed methods are answered only when the caller is this peer itself (Go's local calls);
//! over the swarm that never happens, so a closed method is refused to every remote peer.
//!
//! # Deadlines, cancellation, sizes
//! The caller's timeout travels in the envelope (`deadline_ms`, capped at
//! [`MAX_DEADLINE`]); the server runs the handler under it and answers `DeadlineExceeded`
//! when it passes, so a slow handler does not hold a stream forever. On the client, dropping
//! the `call` future cancels the wait (the late answer is discarded); the libp2p request
//! timeout ([`MAX_DEADLINE`] plus a margin) is only a backstop. Requests are bounded to
//! [`MAX_REQUEST_BYTES`] (32 MiB; appends are batched to [`raft::BATCH_BYTES`], and raft
//! messages above [`raft::INLINE_BYTES`] — snapshots — go on their own stream, see [`raft`])
//! and responses to [`MAX_RESPONSE_BYTES`]; bulk data does not ride on RPC: blocks travel on
//! the block exchange's own protocol ([`crate::p2p::exchange`]), pinset listings a page per call
//! (`StatusAll`).
//!
//! # Unknown methods
//! The request enum is tagged by `method` (`params` beside it); the envelope decodes it
//! leniently, so a newer peer's method becomes [`RpcRequest::Unknown`] and is answered
//! `UnknownMethod { method }` (or `Invalid` when a known method's parameters do not decode)
//! instead of the stream failing with a decode error. Cost: the lenient decode buffers the
//! request once (serde's untagged path) before decoding it; requests are bounded, and bulk
//! data does not travel here.

pub mod raft;

#[cfg(test)]
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use cid::Cid;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::types::{IpfsId, Metric, PeerDescription, Pin, PinInfoShort};
use libp2p_identity::PeerId;
#[cfg(test)]
pub use raft::RaftEntry;
pub use raft::{RaftMessage, RaftPeers, SwarmRaftTransport};

/// Largest request accepted (and sent).
pub const MAX_REQUEST_BYTES: u64 = 32 << 20;
/// Largest response accepted.
pub const MAX_RESPONSE_BYTES: u64 = 16 << 20;
/// Longest deadline a caller may ask for.
pub const MAX_DEADLINE: Duration = Duration::from_secs(300);

/// What travels on the wire for a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcEnvelope {
    /// The caller's deadline in milliseconds from receipt (capped at [`MAX_DEADLINE`]).
    pub deadline_ms: u64,
    #[serde(deserialize_with = "lenient_request")]
    pub request: RpcRequest,
}

/// Decodes a request; a method this version does not know (or whose parameters do not decode)
/// becomes [`RpcRequest::Unknown`] with its name, so the server can answer it.
fn lenient_request<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RpcRequest, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    #[allow(clippy::large_enum_variant)] // transient
    enum Lenient {
        Known(RpcRequest),
        Other { method: String },
    }
    Ok(match Lenient::deserialize(d)? {
        Lenient::Known(r) => r,
        Lenient::Other { method } => RpcRequest::Unknown { method },
    })
}

/// The wire names (`method` tags) of the requests this version knows.
pub const WIRE_METHODS: &[&str] = &[
    "Id",
    "IpfsId",
    "Version",
    "RepoStat",
    "Status",
    "StatusAll",
    "Recover",
    "PeerAdd",
    "PeerRemove",
    "ForwardPin",
    "ForwardUnpin",
    "Raft",
    "Metrics",
];

/// A cluster RPC request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params")]
#[allow(clippy::large_enum_variant)] // ForwardPin carries a Pin; boxing buys nothing on a network path
pub enum RpcRequest {
    /// The peer's cluster description (`Cluster.ID`).
    Id,
    /// The peer's IPFS daemon identity (`IPFSConnector.ID`).
    IpfsId,
    /// The peer's version (`Cluster.Version`).
    Version,
    /// The peer's IPFS repository size (`IPFSConnector.RepoStat`).
    RepoStat,
    /// The peer's local status of a pin (`PinTracker.Status`).
    Status {
        #[serde(with = "crate::types::cid_str")]
        cid: Cid,
    },
    /// The peer's local status of a page of pins (`PinTracker.StatusAll`), in the order
    /// asked; a listing asks each peer once per page instead of once per pin.
    StatusAll {
        #[serde(with = "crate::types::cids_str")]
        cids: Vec<Cid>,
    },
    /// Re-queue a pin on the peer (`PinTracker.Recover`).
    Recover {
        #[serde(with = "crate::types::cid_str")]
        cid: Cid,
    },
    /// Ask the (leader) peer to add `peer` as a raft voter (`Cluster.PeerAdd`); `addrs` are
    /// where the other peers can reach it (`<multiaddr>/p2p/<id>`).
    PeerAdd {
        peer: String,
        #[serde(default)]
        addrs: Vec<String>,
    },
    /// Ask the (leader) peer to remove `peer` (`Cluster.PeerRemove`).
    PeerRemove { peer: String },
    /// A write forwarded to the leader (`Consensus.LogPin`).
    ForwardPin { pin: Pin },
    /// An unpin forwarded to the leader (`Consensus.LogUnpin`).
    ForwardUnpin {
        #[serde(with = "crate::types::cid_str")]
        cid: Cid,
    },
    /// A batch of raft messages, all from the caller (`Consensus.Raft`).
    Raft { messages: Vec<RaftMessage> },
    /// The peer's current informer metrics (`Cluster.Metrics`).
    Metrics,
    /// A method this version does not know (decoded from a newer peer), or one whose
    /// parameters did not decode. Never sent.
    #[serde(skip)]
    Unknown { method: String },
}

impl RpcRequest {
    /// The policy name (`Service.Method`) of this request.
    pub fn method(&self) -> &'static str {
        match self {
            RpcRequest::Id => "Cluster.ID",
            RpcRequest::IpfsId => "IPFSConnector.ID",
            RpcRequest::Version => "Cluster.Version",
            RpcRequest::RepoStat => "IPFSConnector.RepoStat",
            RpcRequest::Status { .. } => "PinTracker.Status",
            RpcRequest::StatusAll { .. } => "PinTracker.StatusAll",
            RpcRequest::Recover { .. } => "PinTracker.Recover",
            RpcRequest::PeerAdd { .. } => "Cluster.PeerAdd",
            RpcRequest::PeerRemove { .. } => "Cluster.PeerRemove",
            RpcRequest::ForwardPin { .. } => "Consensus.LogPin",
            RpcRequest::ForwardUnpin { .. } => "Consensus.LogUnpin",
            RpcRequest::Raft { .. } => "Consensus.Raft",
            RpcRequest::Metrics => "Cluster.Metrics",
            RpcRequest::Unknown { .. } => "Unknown",
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value")]
pub enum RpcResponse {
    Id(PeerDescription),
    IpfsId(IpfsId),
    Version {
        version: String,
    },
    RepoStat {
        repo_size: u64,
        storage_max: u64,
    },
    PinInfo(PinInfoShort),
    PinInfos(Vec<PinInfoShort>),
    Metrics(Vec<Metric>),
    /// The call was carried out and has nothing to return.
    Done,
}

/// Why a call failed; what the server answers, plus the client's own failures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RpcError {
    #[error("unauthorized: {method} is not allowed from peer {caller}")]
    Unauthorized { method: String, caller: String },
    #[error("unknown RPC method {method:?} (the peer runs another Pinfold version)")]
    UnknownMethod { method: String },
    #[error("the RPC deadline passed before {method} finished")]
    DeadlineExceeded { method: String },
    #[error("not the raft leader{}", match .leader { Some(l) => format!(" (leader: {l})"), None => String::new() })]
    NotLeader { leader: Option<String> },
    #[error("{0}")]
    Failed(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    // client-side failures (never sent by a server)
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot reach peer {peer}: {reason}")]
    Unreachable { peer: String, reason: String },
    #[error("the peer does not speak {}", crate::RPC_PROTOCOL)]
    UnsupportedProtocol,
    #[error("RPC stream failed: {0}")]
    Transport(String),
    #[error("the swarm is shut down")]
    Shutdown,
}

/// The server's answer on the wire.
pub type RpcReply = Result<RpcResponse, RpcError>;

/// Who is calling, as the authorizer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub peer: PeerId,
    /// The caller is this peer itself (a local call).
    pub is_self: bool,
    /// The caller is trusted ([`Trust`]).
    pub trusted: bool,
}

/// Decides every inbound call. Called on the swarm's task for each request: keep it quick.
pub trait RpcAuthorizer: Send + Sync + 'static {
    /// `true` lets the call run.
    fn authorize(&self, method: &str, caller: &Caller) -> bool;
}

/// How a method is exposed to other peers (`RPCOpen`, `RPCTrusted`, `RPCClosed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    Open,
    Trusted,
    Closed,
}

/// IPFS Cluster's `rpc_policy.go`: the `Open` entries.
pub const GO_OPEN: &[&str] = &[
    "Cluster.ID",
    "Cluster.IDStream",
    "Cluster.PeerAdd",
    "Cluster.Version",
];

/// IPFS Cluster's `rpc_policy.go`: the `Trusted` entries (plus Pinfold's two, last).
pub const GO_TRUSTED: &[&str] = &[
    "Cluster.PeerRemove",
    "Cluster.Peers",
    "Cluster.RecoverAllLocal",
    "Cluster.RecoverLocal",
    "Cluster.RepoGCLocal",
    "PinTracker.Recover",
    "PinTracker.Status",
    "PinTracker.StatusAll",
    "IPFSConnector.BlockStream",
    "IPFSConnector.RepoStat",
    "IPFSConnector.SwarmPeers",
    "Consensus.AddPeer",
    "Consensus.LogPin",
    "Consensus.LogUnpin",
    "Consensus.RmPeer",
    // Pinfold: raft messages (Go uses a separate libp2p protocol) and metrics pulls (Go: pubsub)
    "Consensus.Raft",
    "Cluster.Metrics",
];

/// The exposure of a policy name: everything not open or trusted is closed (Go denies a
/// missing entry too).
pub fn exposure(method: &str) -> Exposure {
    if GO_OPEN.contains(&method) {
        Exposure::Open
    } else if GO_TRUSTED.contains(&method) {
        Exposure::Trusted
    } else {
        Exposure::Closed
    }
}

/// The default authorizer: IPFS Cluster's table ([`exposure`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct IpfsClusterPolicy;

impl RpcAuthorizer for IpfsClusterPolicy {
    fn authorize(&self, method: &str, caller: &Caller) -> bool {
        if caller.is_self {
            return true; // local calls bypass the policy, as in Go
        }
        match exposure(method) {
            Exposure::Open => true,
            Exposure::Trusted => caller.trusted,
            Exposure::Closed => false,
        }
    }
}

/// Which peers are trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Every peer on the swarm (raft mode: holding the secret makes you a cluster peer).
    All,
    #[cfg(test)]
    /// Only these (crdt's `trusted_peers`; kept for later).
    Peers(HashSet<PeerId>),
}

/// Runs the calls that passed authorization.
pub trait RpcHandler: Send + Sync + 'static {
    fn handle(&self, caller: PeerId, request: RpcRequest) -> BoxFuture<'static, RpcReply>;
}

/// The server side: authorization, then the handler under the caller's deadline.
#[derive(Clone)]
pub struct RpcServer {
    local: PeerId,
    trust: Trust,
    authorizer: Arc<dyn RpcAuthorizer>,
    handler: Arc<dyn RpcHandler>,
}

impl std::fmt::Debug for RpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcServer")
            .field("local", &self.local)
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}

impl RpcServer {
    /// A server for the peer `local` with IPFS Cluster's policy and raft's trust (everyone).
    pub fn new(local: PeerId, handler: Arc<dyn RpcHandler>) -> RpcServer {
        RpcServer {
            local,
            trust: Trust::All,
            authorizer: Arc::new(IpfsClusterPolicy),
            handler,
        }
    }

    /// Replaces the authorizer (the authz plugin's `cluster-rpc` endpoint, later).
    pub fn with_authorizer(mut self, authorizer: Arc<dyn RpcAuthorizer>) -> RpcServer {
        self.authorizer = authorizer;
        self
    }

    #[cfg(test)]
    /// Replaces the trust rule.
    pub fn with_trust(mut self, trust: Trust) -> RpcServer {
        self.trust = trust;
        self
    }

    /// The caller as the authorizer sees it.
    pub fn caller(&self, peer: PeerId) -> Caller {
        let trusted = match &self.trust {
            Trust::All => true,
            #[cfg(test)]
            Trust::Peers(set) => set.contains(&peer) || peer == self.local,
        };
        Caller {
            is_self: peer == self.local,
            trusted,
            peer,
        }
    }

    /// Answers one call. The returned future owns everything it needs.
    pub fn serve(&self, caller: PeerId, envelope: RpcEnvelope) -> BoxFuture<'static, RpcReply> {
        let method = envelope.request.method();
        if let RpcRequest::Unknown { method } = envelope.request {
            tracing::debug!(%caller, method, "RPC: unknown method or bad parameters");
            let err = if WIRE_METHODS.contains(&method.as_str()) {
                RpcError::Invalid(format!("the parameters of {method} do not decode"))
            } else {
                RpcError::UnknownMethod { method }
            };
            return Box::pin(async move { Err(err) });
        }
        if !self.authorizer.authorize(method, &self.caller(caller)) {
            tracing::warn!(%caller, method, "RPC refused by the policy");
            let err = RpcError::Unauthorized {
                method: method.to_owned(),
                caller: caller.to_string(),
            };
            return Box::pin(async move { Err(err) });
        }
        let deadline = Duration::from_millis(envelope.deadline_ms).min(MAX_DEADLINE);
        let fut = self.handler.handle(caller, envelope.request);
        Box::pin(async move {
            match tokio::time::timeout(deadline, fut).await {
                Ok(reply) => reply,
                Err(_) => Err(RpcError::DeadlineExceeded {
                    method: method.to_owned(),
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests;
