//! What a cluster peer needs to reach the others: [`ClusterNet`] (the swarm handle, the raft
//! node id → peer table [`RaftPeers`] and the deadline of one call to another peer,
//! `consensus.raft.network_timeout`) and [`MemberContext`], the context of a raft `AddNode`
//! entry, which names the new voter and its addresses so that every peer learns who it is and
//! dials it when it applies the change. A leaf of the façade: it imports none of its files.
//!
//! # Trade-offs
//! The id → peer table is learnt (connections, conf-change contexts, `init_peerset`, the
//! peerstore) rather than stored in the raft log: raft-rs ids are hashes of peer ids
//! ([`crate::consensus::node_id`]), so a connection alone tells which voter a peer is. A voter
//! never seen since a restart is found when it connects to us (it dials the peers in its own
//! peerstore).

use std::time::Duration;

use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};

use crate::p2p::rpc::{RaftPeers, RpcReply, RpcRequest};
use crate::p2p::swarm::{SwarmHandle, SwarmNotice};

/// What a cluster peer needs to reach the others.
#[derive(Debug, Clone)]
pub(crate) struct ClusterNet {
    pub(crate) swarm: SwarmHandle,
    pub(crate) raft_peers: RaftPeers,
    /// Deadline of one call to another peer.
    pub(crate) rpc_timeout: Duration,
}

/// The context of a raft `AddNode` entry: who the new voter is and where to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct MemberContext {
    pub(super) peer: String,
    #[serde(default)]
    pub(super) addrs: Vec<String>,
}

impl ClusterNet {
    /// Calls `peer`, bounded by the RPC deadline.
    pub(crate) async fn call(&self, peer: PeerId, request: RpcRequest) -> RpcReply {
        self.swarm.call(peer, request, self.rpc_timeout).await
    }

    /// Learns the peer id of every peer that connects, for as long as the swarm runs (raft
    /// ids are hashes of peer ids, so a connection tells which voter it is). Started before
    /// raft, so that a restarted cluster can elect: its members reconnect from their
    /// peerstores before anyone knows who is who.
    pub(crate) async fn learn_connections(&self) {
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
                    Ok(SwarmNotice::Connected { peer, .. }) => {
                        table.insert(peer);
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// Remembers a member and dials the addresses it announced (best effort).
    pub(super) fn learn(&self, ctx: &MemberContext) {
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
