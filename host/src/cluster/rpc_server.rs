//! [`ClusterRpc`]: the [`RpcHandler`] that answers the other peers' cluster RPC calls
//! (status, recover, ids, metrics, forwarded writes, membership, raft messages).
//!
//! It is bound late: the swarm must run before raft can elect and before the cluster exists,
//! so calls that arrive first are answered "starting" — except raft messages, which only need
//! the consensus. A forwarded write is committed here if this peer leads; otherwise the
//! answer names the leader, so the caller retries there (see `pin.rs`).

use std::sync::{Arc, OnceLock, Weak};

use futures::FutureExt;
use futures::future::BoxFuture;
use libp2p_identity::PeerId;

use super::{Cluster, ClusterError};
use crate::consensus::{Consensus, ConsensusError};
use crate::p2p::rpc::{RpcError, RpcHandler, RpcReply, RpcRequest, RpcResponse};
use crate::state::Op;

/// The [`RpcHandler`] of a cluster peer (see the module notes), bound late.
#[derive(Debug, Default)]
pub(crate) struct ClusterRpc {
    consensus: OnceLock<Arc<Consensus>>,
    cluster: OnceLock<Weak<Cluster>>,
}

impl ClusterRpc {
    pub(crate) fn new() -> Arc<ClusterRpc> {
        Arc::new(ClusterRpc::default())
    }

    /// Raft messages can be delivered from now on.
    pub(crate) fn bind_consensus(&self, consensus: Arc<Consensus>) {
        let _ = self.consensus.set(consensus);
    }

    /// Every call can be answered from now on.
    pub(crate) fn bind_cluster(&self, cluster: &Arc<Cluster>) {
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

fn rpc_failed(e: impl std::fmt::Display) -> RpcError {
    RpcError::Failed(e.to_string())
}

/// A client error stays one on the caller's side (`Invalid`); anything else failed.
fn cluster_rpc_error(e: ClusterError) -> RpcError {
    match e {
        ClusterError::BadRequest(m) => RpcError::Invalid(m),
        e if e.status() == 400 => RpcError::Invalid(e.to_string()),
        e => rpc_failed(e),
    }
}

async fn serve(c: Arc<Cluster>, caller: PeerId, request: RpcRequest) -> RpcReply {
    match request {
        RpcRequest::Id => Ok(RpcResponse::Id(c.describe().await)),
        RpcRequest::IpfsId => c
            .ipfs_identity()
            .await
            .map(RpcResponse::IpfsId)
            .map_err(rpc_failed),
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
        RpcRequest::StatusAll { cids } => Ok(RpcResponse::PinInfos(c.local_infos(cids).await)),
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
        RpcRequest::Metrics => Ok(RpcResponse::Metrics(c.local_metrics().await)),
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
