//! Membership: who the members and the leader are, peers added and removed, and asking every
//! other member something.
//!
//! `PeerAdd` on the leader proposes a raft `AddNode` whose context ([`MemberContext`]) names
//! the new peer and its addresses, so every peer learns who the new voter is and dials it
//! when it applies the change; followers forward `PeerAdd`/`PeerRemove` to the leader.
//! Removing the leader first hands leadership to another voter. The removed peer is told so
//! by the leader (a best-effort call) and also notices it in its own configuration (see
//! `loops.rs`); either way it stops.
//!
//! Gathering (`/peers`, status, recover, metrics) asks every other member concurrently
//! ([`Cluster::ask_others`]), each call bounded by the RPC deadline; a peer that does not
//! answer appears with its error instead of failing the whole answer.

use std::time::Duration;

use libp2p_identity::PeerId;
use tokio::time::Instant;

use super::net::MemberContext;
use super::{Cluster, ClusterError, ClusterResult};
use crate::consensus::node_id;
use crate::p2p::rpc::{RpcReply, RpcRequest};

impl Cluster {
    /// The cluster's members whose peer id is known, this peer first.
    pub(super) fn members(&self) -> Vec<PeerId> {
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
    pub(super) fn leader_peer(&self) -> Option<PeerId> {
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
                _ if Instant::now() >= deadline => return Err(ClusterError::NoLeader),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Adds `peer` as a voter (on the leader; forwarded from a follower).
    pub(super) async fn add_member(&self, peer: PeerId, addrs: Vec<String>) -> ClusterResult<()> {
        let net = self.net.as_ref().ok_or(ClusterError::NoSwarm)?;
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
            .map_err(ClusterError::Consensus)
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
            .map_err(ClusterError::Consensus)?;
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
        verb: &'static str,
        peer: PeerId,
    ) -> ClusterResult<()> {
        let net = self.net.as_ref().ok_or(ClusterError::NoSwarm)?;
        let leader = self.wait_other_leader().await?;
        net.call(leader, request)
            .await
            .map(|_| ())
            .map_err(|source| ClusterError::MembershipForward {
                verb,
                peer: peer.to_base58(),
                leader: leader.to_base58(),
                source,
            })
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
            .map_err(ClusterError::Consensus)?;
        let mut asked = Instant::now();
        loop {
            match self.leader_peer() {
                Some(l) if l != self.peer => return Ok(()),
                _ if Instant::now() >= deadline => return Err(ClusterError::Handover),
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
}
