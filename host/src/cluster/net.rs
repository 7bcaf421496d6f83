//! The cluster across peers: what a [`Cluster`] does with the other peers of its swarm.
//!
//! # What it owns
//! * [`ClusterNet`]: the swarm handle, the raft node id → peer table ([`RaftPeers`]) and the
//!   deadline of one call to another peer (`consensus.raft.network_timeout`).
//! * [`ClusterRpc`]: the [`RpcHandler`] that answers the other peers' calls (status, recover,
//!   ids, metrics, forwarded writes, membership, raft messages). It is bound late: the swarm
//!   must run before raft can elect and before the cluster exists, so calls that arrive first
//!   are answered "starting" — except raft messages, which only need the consensus.
//! * Forwarding: a write on a follower is prepared there (validation, allocation, timestamp,
//!   as Go's `pin()`), then sent whole to the leader (`Consensus.LogPin`), which commits it.
//!   The follower then waits, bounded by the write deadline, until it has applied the entry
//!   itself, so a read on the same peer right after the answer sees the write. When the
//!   leader changes in between, the write is retried on the new one until the deadline (a
//!   pin or unpin is idempotent, so a retry after an unanswered attempt is harmless).
//! * Membership: `PeerAdd` on the leader proposes a raft `AddNode` whose context names the new
//!   peer and its addresses, so every peer learns who the new voter is and dials it when it
//!   applies the change; followers forward `PeerAdd`/`PeerRemove` to the leader. Removing
//!   the leader first hands leadership to another voter. The removed peer is told so by the
//!   leader (a best-effort call) and also notices it in its own configuration; either way it
//!   stops.
//! * Gathering: `/peers`, status and recover ask every member concurrently, each call bounded
//!   by the deadline; a peer that does not answer appears with its error (`cluster_error` in a
//!   status) instead of failing the whole answer. A pinset listing asks each peer once per page
//!   of [`STATUS_PAGE`] pins, so memory is bounded by the page, not by the pinset.
//!
//! # Cost of a forwarded write (measured)
//! `scripts/bench-cluster.sh`, 3 peers on one 2-core VM shared with another engineer's
//! builds (noisy), release build, 10,000 pins at C=256 spread over the three REST APIs (two
//! thirds forwarded): **2,415 pins/s** before, **3,496 pins/s** after two changes (the
//! leader-only figure in the same runs: 4,612 and 5,007 pins/s, same code path, i.e. noise):
//! * a follower that knows the leader (`Consensus::leader`, an atomic) forwards at once;
//!   before, every write first went to its own raft driver only to learn `NotLeader`, which
//!   costs a driver turn — up to two fsyncs — per write. After any failure the driver is
//!   asked again, so a stale leader view costs one retry.
//! * the wait for the local apply uses the applied-index watch (one wake per applied batch)
//!   instead of the broadcast of applied ops: with C forwarded writes waiting, every applied
//!   op was received and compared C times (256 × 10,000 receives per run). Best effort as
//!   before: if a later write to the same CID lands first, the wait ends at the deadline.
//!
//! Still one RPC call (one request/response stream) per forwarded write; batching forwarded
//! writes into one call per driver turn is the next step (left).
//!
//! # Trade-offs
//! The id → peer table is learnt (connections, conf-change contexts, `init_peerset`, the
//! peerstore) rather than stored in the raft log: raft-rs ids are hashes of peer ids
//! ([`node_id`]), so a connection alone tells which voter a peer is. A voter never seen since a
//! restart is found when it connects to us (it dials the peers in its own peerstore).

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use cid::Cid;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::peer::Cluster;
use super::{ClusterError, ClusterResult};
use crate::consensus::{Consensus, ConsensusError, node_id};
use crate::p2p::rpc::{RaftPeers, RpcError, RpcHandler, RpcReply, RpcRequest, RpcResponse};
use crate::p2p::swarm::SwarmHandle;
use crate::state::Op;
use crate::types::{PinInfoShort, Timestamp, TrackerStatus};

/// Pins per `StatusAll` call of a listing.
pub const STATUS_PAGE: usize = 256;
/// Pause between two attempts of a forwarded write while the leader changes.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// What a cluster peer needs to reach the others.
#[derive(Debug, Clone)]
pub struct ClusterNet {
    pub swarm: SwarmHandle,
    pub raft_peers: RaftPeers,
    /// Deadline of one call to another peer.
    pub rpc_timeout: Duration,
}

/// The context of a raft `AddNode` entry: who the new voter is and where to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberContext {
    pub peer: String,
    #[serde(default)]
    pub addrs: Vec<String>,
}

impl ClusterNet {
    /// Calls `peer`, bounded by the RPC deadline.
    pub async fn call(&self, peer: PeerId, request: RpcRequest) -> RpcReply {
        self.swarm.call(peer, request, self.rpc_timeout).await
    }

    /// Learns the peer id of every peer that connects, for as long as the swarm runs (raft
    /// ids are hashes of peer ids, so a connection tells which voter it is). Started before
    /// raft, so that a restarted cluster can elect: its members reconnect from their
    /// peerstores before anyone knows who is who.
    pub async fn learn_connections(&self) {
        let mut notices = self.swarm.subscribe();
        if let Ok(peers) = self.swarm.connected_peers().await {
            for p in peers {
                self.raft_peers.insert(p);
            }
        }
        let table = self.raft_peers.clone();
        tokio::spawn(async move {
            loop {
                match notices.recv().await {
                    Ok(crate::p2p::swarm::SwarmNotice::Connected { peer, .. }) => {
                        table.insert(peer);
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// Remembers a member and dials the addresses it announced (best effort).
    pub fn learn(&self, ctx: &MemberContext) {
        let Ok(peer) = ctx.peer.parse::<PeerId>() else {
            tracing::warn!(
                peer = ctx.peer,
                "membership change names an invalid peer id"
            );
            return;
        };
        self.raft_peers.insert(peer);
        if peer == self.swarm.local_peer_id() {
            return;
        }
        for a in &ctx.addrs {
            let Ok(addr) = a.parse() else { continue };
            let swarm = self.swarm.clone();
            tokio::spawn(async move {
                if let Err(e) = swarm.dial(addr).await {
                    tracing::debug!(%peer, "dialing a new member: {e}");
                }
            });
        }
    }
}

/// The answer of a peer that did not answer, as a status line (`cluster_error`).
pub fn unreachable_info(peer: &PeerId, error: impl std::fmt::Display) -> PinInfoShort {
    PinInfoShort {
        peername: peer.to_base58(),
        ipfs_peer_id: String::new(),
        ipfs_peer_addresses: Vec::new(),
        status: TrackerStatus::ClusterError,
        timestamp: Timestamp::now(),
        error: error.to_string(),
        attempt_count: 0,
        priority_pin: false,
    }
}

fn rpc_failed(e: impl std::fmt::Display) -> RpcError {
    RpcError::Failed(e.to_string())
}

fn cluster_rpc_error(e: ClusterError) -> RpcError {
    match e {
        ClusterError::BadRequest(m) => RpcError::Invalid(m),
        e => rpc_failed(e),
    }
}

impl Cluster {
    /// The cluster's members whose peer id is known, this peer first.
    pub fn members(&self) -> Vec<PeerId> {
        let mut out = vec![self.peer];
        if let Some(net) = &self.net {
            let me = self.consensus.id();
            for id in self.consensus.peers() {
                if id == me {
                    continue;
                }
                match net.raft_peers.get(id) {
                    Some(p) => out.push(p),
                    None => tracing::debug!(node = id, "member whose peer id is not known yet"),
                }
            }
        }
        out
    }

    /// The leader's peer id, if known.
    pub fn leader_peer(&self) -> Option<PeerId> {
        let id = self.consensus.leader()?;
        if id == self.consensus.id() {
            return Some(self.peer);
        }
        self.net.as_ref()?.raft_peers.get(id)
    }

    /// Another peer's id as leader, waiting for one to be known (an election, or a handover
    /// from this peer, in progress) until the RPC deadline.
    async fn wait_other_leader(&self) -> ClusterResult<PeerId> {
        let wait = self.net.as_ref().map_or(Duration::ZERO, |n| n.rpc_timeout);
        let deadline = Instant::now() + wait;
        loop {
            match self.leader_peer() {
                Some(l) if l != self.peer => return Ok(l),
                _ if Instant::now() >= deadline => return Err(no_leader()),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Commits one op: locally on the leader, forwarded to it from a follower (see the module
    /// notes). Returns once this peer has applied it (or the deadline passed after the leader
    /// committed it).
    pub(super) async fn log_op(&self, op: Op) -> ClusterResult<()> {
        let Some(net) = &self.net else {
            return self
                .consensus
                .log_ops(vec![op])
                .await
                .map_err(consensus_error);
        };
        let deadline = Instant::now() + net.rpc_timeout;
        let mut last_error: Option<String> = None;
        // A follower that knows the leader forwards at once: asking its own driver first
        // costs a turn of the driver (which may be fsyncing) per write only to learn
        // `NotLeader`. After any failure, the driver is asked again (fresh leader view).
        let mut direct = true;
        loop {
            if Instant::now() >= deadline {
                return Err(ClusterError::Consensus(format!(
                    "the write was not committed within {} (no leader or no quorum){}",
                    crate::gocompat::duration::format(net.rpc_timeout),
                    last_error.map(|e| format!(": {e}")).unwrap_or_default()
                )));
            }
            let known = self
                .consensus
                .leader()
                .filter(|l| direct && *l != self.consensus.id());
            direct = false;
            let leader = match known {
                Some(l) => l,
                None => match self.consensus.log_ops(vec![op.clone()]).await {
                    Ok(()) => return Ok(()),
                    Err(ConsensusError::NotLeader { leader: Some(l) }) => l,
                    Err(ConsensusError::Dropped)
                    | Err(ConsensusError::NotLeader { leader: None }) => {
                        tokio::time::sleep(RETRY_PAUSE).await;
                        continue;
                    }
                    Err(e) => return Err(consensus_error(e)),
                },
            };
            let Some(peer) = net.raft_peers.get(leader) else {
                last_error = Some(format!(
                    "the leader (raft node {leader:x}) is not known yet"
                ));
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            };
            let applied = self.consensus.applied_watch();
            let request = match &op {
                Op::Pin(p) => RpcRequest::ForwardPin { pin: p.clone() },
                Op::Unpin(c) => RpcRequest::ForwardUnpin { cid: *c },
            };
            let left = deadline.saturating_duration_since(Instant::now());
            match net.swarm.call(peer, request, left).await {
                Ok(_) => {
                    self.wait_applied(applied, &op, deadline).await;
                    return Ok(());
                }
                Err(e @ RpcError::NotLeader { .. })
                | Err(e @ RpcError::Unreachable { .. })
                | Err(e @ RpcError::Transport(_)) => {
                    last_error = Some(format!("forwarding to {peer}: {e}"));
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(RpcError::Timeout(_)) | Err(RpcError::DeadlineExceeded { .. }) => {
                    last_error = Some(format!("the leader {peer} did not answer"));
                }
                Err(RpcError::Invalid(m)) => return Err(ClusterError::BadRequest(m)),
                Err(e) => {
                    return Err(ClusterError::Consensus(format!(
                        "the leader {peer} refused the write: {e}"
                    )));
                }
            }
        }
    }

    /// Waits until this peer applied `op` (best effort, until `deadline`). Wakes once per
    /// applied batch (the applied-index watch), not once per applied op: with C forwarded
    /// writes waiting, a broadcast of every op cost C receives and comparisons per op.
    async fn wait_applied(
        &self,
        mut applied: tokio::sync::watch::Receiver<u64>,
        op: &Op,
        deadline: Instant,
    ) {
        let done = |s: &Self| match op {
            Op::Pin(p) => s.state.get(&p.cid).ok().flatten().as_ref() == Some(p),
            Op::Unpin(c) => !s.state.has(c).unwrap_or(true),
        };
        loop {
            applied.borrow_and_update();
            if done(self) {
                return;
            }
            match tokio::time::timeout_at(deadline, applied.changed()).await {
                Err(_) | Ok(Err(_)) => return,
                Ok(Ok(())) => {}
            }
        }
    }

    /// Adds `peer` as a voter (on the leader; forwarded from a follower).
    pub(super) async fn add_member(&self, peer: PeerId, addrs: Vec<String>) -> ClusterResult<()> {
        let net = self.net.as_ref().ok_or_else(no_swarm)?;
        let id = node_id(&peer);
        if self.consensus.peers().contains(&id) {
            net.raft_peers.insert(peer);
            return Ok(());
        }
        if !self.consensus.is_leader() {
            let request = RpcRequest::PeerAdd {
                peer: peer.to_base58(),
                addrs,
            };
            return self.forward_membership(request, "adding", peer).await;
        }
        let ctx = MemberContext {
            peer: peer.to_base58(),
            addrs,
        };
        net.learn(&ctx);
        let context = serde_json::to_vec(&ctx).expect("serialises");
        tracing::info!(%peer, "adding a peer to the cluster");
        self.consensus
            .add_voter_with_context(id, context)
            .await
            .map_err(consensus_error)
    }

    /// Removes `peer` from the cluster (see the module notes).
    pub(super) async fn remove_member(&self, peer: PeerId) -> ClusterResult<()> {
        let net = self.net.as_ref().ok_or_else(|| {
            if peer == self.peer {
                ClusterError::BadRequest("cannot remove ourselves from a 1-peer cluster".into())
            } else {
                ClusterError::NotFound
            }
        })?;
        let id = node_id(&peer);
        let voters = self.consensus.peers();
        if !voters.contains(&id) {
            return Err(ClusterError::NotFound);
        }
        if voters.len() == 1 {
            return Err(ClusterError::BadRequest(
                "cannot remove the last peer of a cluster".into(),
            ));
        }
        if peer == self.peer && self.consensus.is_leader() {
            // the leader leaves: hand leadership over, then let the new leader remove us
            self.hand_over_leadership(&voters, id, net.rpc_timeout)
                .await?;
        }
        if !self.consensus.is_leader() {
            let request = RpcRequest::PeerRemove {
                peer: peer.to_base58(),
            };
            return self.forward_membership(request, "removing", peer).await;
        }
        tracing::info!(%peer, "removing a peer from the cluster");
        self.consensus
            .remove_voter(id)
            .await
            .map_err(consensus_error)?;
        // tell it (it may not learn the commit otherwise), then forget it
        let notice = RpcRequest::PeerRemove {
            peer: peer.to_base58(),
        };
        if let Err(e) = net.call(peer, notice).await {
            tracing::debug!(%peer, "telling the removed peer: {e}");
        }
        let _ = net.swarm.forget_peer(peer).await;
        Ok(())
    }

    /// Sends a membership change to the leader (this peer is not it).
    async fn forward_membership(
        &self,
        request: RpcRequest,
        verb: &str,
        peer: PeerId,
    ) -> ClusterResult<()> {
        let net = self.net.as_ref().ok_or_else(no_swarm)?;
        let leader = self.wait_other_leader().await?;
        net.call(leader, request)
            .await
            .map(|_| ())
            .map_err(|e| ClusterError::Consensus(format!("{verb} {peer} via {leader}: {e}")))
    }

    /// Makes another voter the leader; returns once a leader other than this peer is known.
    async fn hand_over_leadership(
        &self,
        voters: &[u64],
        me: u64,
        within: Duration,
    ) -> ClusterResult<()> {
        let deadline = Instant::now() + within;
        let target = voters
            .iter()
            .copied()
            .find(|v| *v != me)
            .expect("two voters at least");
        self.consensus
            .transfer_leader(target)
            .map_err(consensus_error)?;
        let mut asked = Instant::now();
        loop {
            match self.leader_peer() {
                Some(l) if l != self.peer => return Ok(()),
                _ if Instant::now() >= deadline => {
                    return Err(ClusterError::Consensus(
                        "leadership transfer did not complete; retry".into(),
                    ));
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
            if self.consensus.is_leader() && asked.elapsed() > Duration::from_secs(1) {
                let _ = self.consensus.transfer_leader(target);
                asked = Instant::now();
            }
        }
    }

    /// Every other member's answer to `request`, concurrently; `(peer, reply)` in member order.
    pub(super) async fn ask_others(&self, request: RpcRequest) -> Vec<(PeerId, RpcReply)> {
        let Some(net) = &self.net else {
            return Vec::new();
        };
        let others: Vec<PeerId> = self.members().into_iter().skip(1).collect();
        futures::future::join_all(others.into_iter().map(|p| {
            let request = request.clone();
            async move { (p, net.call(p, request).await) }
        }))
        .await
    }

    /// The status of a page of pins on every other member, keyed by peer.
    pub(super) async fn others_status_page(
        &self,
        cids: &[Cid],
    ) -> Vec<(PeerId, Result<Vec<PinInfoShort>, String>)> {
        self.ask_others(RpcRequest::StatusAll {
            cids: cids.to_vec(),
        })
        .await
        .into_iter()
        .map(|(p, r)| {
            let r = match r {
                Ok(RpcResponse::PinInfos(v)) if v.len() == cids.len() => Ok(v),
                Ok(other) => Err(format!("unexpected answer {other:?}")),
                Err(e) => Err(e.to_string()),
            };
            (p, r)
        })
        .collect()
    }
}

fn consensus_error(e: ConsensusError) -> ClusterError {
    ClusterError::Consensus(e.to_string())
}

fn no_leader() -> ClusterError {
    ClusterError::Consensus("no raft leader is known; retry".into())
}

fn no_swarm() -> ClusterError {
    ClusterError::BadRequest("this peer runs without a cluster swarm".into())
}

/// The [`RpcHandler`] of a cluster peer (see the module notes), bound late.
#[derive(Debug, Default)]
pub struct ClusterRpc {
    consensus: OnceLock<Arc<Consensus>>,
    cluster: OnceLock<Weak<Cluster>>,
}

impl ClusterRpc {
    pub fn new() -> Arc<ClusterRpc> {
        Arc::new(ClusterRpc::default())
    }

    /// Raft messages can be delivered from now on.
    pub fn bind_consensus(&self, consensus: Arc<Consensus>) {
        let _ = self.consensus.set(consensus);
    }

    /// Every call can be answered from now on.
    pub fn bind_cluster(&self, cluster: &Arc<Cluster>) {
        let _ = self.cluster.set(Arc::downgrade(cluster));
    }
}

impl RpcHandler for ClusterRpc {
    fn handle(&self, caller: PeerId, request: RpcRequest) -> BoxFuture<'static, RpcReply> {
        if let RpcRequest::Raft { messages } = request {
            let reply = match self.consensus.get() {
                Some(c) => {
                    crate::p2p::rpc::raft::deliver(c, &caller, messages).map(|()| RpcResponse::Done)
                }
                None => Err(RpcError::Failed("raft is starting".into())),
            };
            return Box::pin(async move { reply });
        }
        let Some(cluster) = self.cluster.get().and_then(Weak::upgrade) else {
            return Box::pin(async { Err(RpcError::Failed("the peer is starting".into())) });
        };
        async move { serve(cluster, caller, request).await }.boxed()
    }
}

async fn serve(c: Arc<Cluster>, caller: PeerId, request: RpcRequest) -> RpcReply {
    match request {
        RpcRequest::Id => Ok(RpcResponse::Id(c.describe().await)),
        RpcRequest::IpfsId => c
            .ipfs_identity()
            .await
            .map(RpcResponse::IpfsId)
            .map_err(RpcError::Failed),
        RpcRequest::Version => Ok(RpcResponse::Version {
            version: crate::types::API_VERSION.to_string(),
        }),
        RpcRequest::RepoStat => {
            let s = c.ipfs.repo_stat().await.map_err(rpc_failed)?;
            Ok(RpcResponse::RepoStat {
                repo_size: s.repo_size,
                storage_max: s.storage_max,
            })
        }
        RpcRequest::Status { cid } => {
            let pin = c.state.get(&cid).map_err(rpc_failed)?;
            Ok(RpcResponse::PinInfo(c.local_info(&cid, pin.as_ref()).await))
        }
        RpcRequest::StatusAll { cids } => {
            let infos = futures::stream::iter(cids)
                .map(|cid| {
                    let c = c.clone();
                    async move {
                        let pin = c.state.get(&cid).ok().flatten();
                        c.local_info(&cid, pin.as_ref()).await
                    }
                })
                .buffered(super::peer::STATUS_CONCURRENCY)
                .collect()
                .await;
            Ok(RpcResponse::PinInfos(infos))
        }
        RpcRequest::Recover { cid } => {
            let pin = c.state.get(&cid).map_err(rpc_failed)?;
            c.tracker
                .recover(&cid, pin.as_ref())
                .await
                .map_err(rpc_failed)?;
            Ok(RpcResponse::PinInfo(c.local_info(&cid, pin.as_ref()).await))
        }
        RpcRequest::PeerAdd { peer, addrs } => {
            let peer: PeerId = peer
                .parse()
                .map_err(|e| RpcError::Invalid(format!("peer id: {e}")))?;
            c.add_member(peer, addrs)
                .await
                .map(|()| RpcResponse::Done)
                .map_err(cluster_rpc_error)
        }
        RpcRequest::PeerRemove { peer } => {
            let peer: PeerId = peer
                .parse()
                .map_err(|e| RpcError::Invalid(format!("peer id: {e}")))?;
            if peer == c.peer
                && (!c.consensus.peers().contains(&c.consensus.id())
                    || c.leader_peer() == Some(caller))
            {
                tracing::warn!(%caller, "this peer was removed from the cluster; stopping");
                c.removed.cancel();
                return Ok(RpcResponse::Done);
            }
            c.remove_member(peer)
                .await
                .map(|()| RpcResponse::Done)
                .map_err(cluster_rpc_error)
        }
        RpcRequest::ForwardPin { pin } => forwarded(&c, Op::Pin(pin)).await,
        RpcRequest::ForwardUnpin { cid } => forwarded(&c, Op::Unpin(cid)).await,
        RpcRequest::Metrics => {
            let mut out = Vec::new();
            for name in ["freespace", "ping", "pinqueue"] {
                if let Ok(Some(m)) = c.local_metric(name).await {
                    out.push(m);
                }
            }
            Ok(RpcResponse::Metrics(out))
        }
        RpcRequest::Raft { .. } => unreachable!("handled before"),
        RpcRequest::Unknown { method } => Err(RpcError::UnknownMethod { method }),
    }
}

/// A write forwarded by a follower: committed here if this peer leads.
async fn forwarded(c: &Cluster, op: Op) -> RpcReply {
    match c.consensus.log_ops(vec![op]).await {
        Ok(()) => Ok(RpcResponse::Done),
        Err(ConsensusError::NotLeader { leader }) => Err(RpcError::NotLeader {
            leader: leader
                .and_then(|l| c.net.as_ref()?.raft_peers.get(l))
                .map(|p| p.to_base58()),
        }),
        Err(e) => Err(rpc_failed(e)),
    }
}
