//! [`ClusterHandle`]: the [`ClusterApi`] of a [`Cluster`], what the daemon hands to every API.
//!
//! A thin adapter: each call is one of the job files' methods, boxed. It owns an
//! `Arc<Cluster>` so that the streams it returns can outlive the borrow of `&self`; a stream
//! whose work is not already a stream runs in a task feeding a bounded channel
//! ([`stream_from`]), and the task's error, if any, is the stream's last item.

use std::sync::Arc;

use cid::Cid;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use libp2p_identity::PeerId;
use tokio::sync::mpsc;

use super::metrics::METRIC_NAMES;
use super::{
    AddInput, AddParams, Cluster, ClusterApi, ClusterError, ClusterResult, ClusterStream,
    PinTypeSet,
};
use crate::p2p::rpc::{RpcRequest, RpcResponse};
use crate::types::{
    AddedOutput, ConsensusStatus, GlobalPinInfo, GlobalRepoGc, Metric, PeerDescription, Pin,
    PinOptions, RepoGc, RepoGcKey, TrackerStatusFilter,
};

/// Arc-owning handle so streams can outlive the borrow of `&self`.
pub(crate) struct ClusterHandle(pub(crate) Arc<Cluster>);

/// Runs `work` in a task feeding a stream; its error, if any, ends the stream.
fn stream_from<T, F>(work: F) -> ClusterStream<T>
where
    T: Send + 'static,
    F: FnOnce(mpsc::Sender<ClusterResult<T>>) -> BoxFuture<'static, ClusterResult<()>>
        + Send
        + 'static,
{
    let (tx, rx) = mpsc::channel::<ClusterResult<T>>(64);
    let err_tx = tx.clone();
    tokio::spawn(async move {
        if let Err(e) = work(tx).await {
            let _ = err_tx.send(Err(e)).await;
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|i| (i, rx)) }).boxed()
}

impl ClusterApi for ClusterHandle {
    fn id(&self) -> BoxFuture<'_, PeerDescription> {
        self.0.describe().boxed()
    }

    fn peers(&self) -> ClusterStream<PeerDescription> {
        let c = self.0.clone();
        stream_from(move |tx| {
            async move {
                let me = c.describe().await;
                if tx.send(Ok(me)).await.is_err() {
                    return Ok(());
                }
                for (p, reply) in c.ask_others(RpcRequest::Id).await {
                    let d = match reply {
                        Ok(RpcResponse::Id(d)) => d,
                        Ok(other) => PeerDescription {
                            id: p.to_base58(),
                            error: ClusterError::UnexpectedAnswer(format!("{other:?}")).to_string(),
                            ..Default::default()
                        },
                        Err(e) => PeerDescription {
                            id: p.to_base58(),
                            error: e.to_string(),
                            ..Default::default()
                        },
                    };
                    if tx.send(Ok(d)).await.is_err() {
                        break;
                    }
                }
                Ok(())
            }
            .boxed()
        })
    }

    fn peer_remove(&self, peer: PeerId) -> BoxFuture<'_, ClusterResult<()>> {
        self.0.remove_member(peer).boxed()
    }

    fn pin(&self, cid: Cid, options: PinOptions) -> BoxFuture<'_, ClusterResult<Pin>> {
        self.0.commit_pin(Pin::new(cid, options)).boxed()
    }

    fn pin_path(&self, path: String, options: PinOptions) -> BoxFuture<'_, ClusterResult<Pin>> {
        async move {
            let cid = self.0.resolve(&path).await?;
            self.0.commit_pin(Pin::new(cid, options)).await
        }
        .boxed()
    }

    fn unpin(&self, cid: Cid) -> BoxFuture<'_, ClusterResult<Pin>> {
        self.0.remove_pin(cid).boxed()
    }

    fn unpin_path(&self, path: String) -> BoxFuture<'_, ClusterResult<Pin>> {
        async move {
            let cid = self.0.resolve(&path).await?;
            self.0.remove_pin(cid).await
        }
        .boxed()
    }

    fn allocations(&self, filter: PinTypeSet) -> ClusterStream<Pin> {
        self.0.pins_stream(filter)
    }

    fn allocation(&self, cid: Cid) -> BoxFuture<'_, ClusterResult<Pin>> {
        async move {
            self.0
                .state
                .get(&cid)
                .map_err(ClusterError::State)?
                .ok_or(ClusterError::NotFound)
        }
        .boxed()
    }

    fn status(&self, cid: Cid, local: bool) -> BoxFuture<'_, ClusterResult<GlobalPinInfo>> {
        async move {
            let pin = self.0.state.get(&cid).map_err(ClusterError::State)?;
            Ok(self.0.global_info(cid, pin, local).await)
        }
        .boxed()
    }

    fn status_all(&self, filter: TrackerStatusFilter, local: bool) -> ClusterStream<GlobalPinInfo> {
        self.0.status_stream(filter, local)
    }

    fn recover(&self, cid: Cid, local: bool) -> BoxFuture<'_, ClusterResult<GlobalPinInfo>> {
        self.0.global_recover(cid, local).boxed()
    }

    fn recover_all(&self, _local: bool) -> ClusterStream<GlobalPinInfo> {
        let c = self.0.clone();
        stream_from(move |tx| {
            async move {
                for cid in c.recover_all_local().await {
                    let pin = c.state.get(&cid).map_err(ClusterError::State)?;
                    if tx
                        .send(Ok(c.global_info(cid, pin, true).await))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                Ok(())
            }
            .boxed()
        })
    }

    fn add(&self, input: AddInput, params: AddParams) -> ClusterStream<AddedOutput> {
        let c = self.0.clone();
        stream_from(move |tx| c.add(input, params, tx).boxed())
    }

    fn repo_gc(&self, _local: bool) -> BoxFuture<'_, ClusterResult<GlobalRepoGc>> {
        async move {
            let me = self.0.peer.to_base58();
            let report = match self.0.ipfs.repo_gc().await {
                Ok(keys) => RepoGc {
                    peer: me.clone(),
                    peername: self.0.settings.peername.clone(),
                    keys: keys
                        .into_iter()
                        .map(|k| RepoGcKey {
                            key: k.key,
                            error: k.error,
                        })
                        .collect(),
                    error: String::new(),
                },
                Err(e) => RepoGc {
                    peer: me.clone(),
                    peername: self.0.settings.peername.clone(),
                    keys: Vec::new(),
                    error: e.to_string(),
                },
            };
            Ok(GlobalRepoGc {
                peer_map: [(me, report)].into_iter().collect(),
            })
        }
        .boxed()
    }

    fn consensus_status(&self) -> BoxFuture<'_, ClusterResult<ConsensusStatus>> {
        async move {
            let c = &self.0;
            Ok(ConsensusStatus {
                leader: c.leader_peer().map(|p| p.to_base58()).unwrap_or_default(),
                peers: c.members().iter().map(|p| p.to_base58()).collect(),
                term: c.consensus.term(),
                applied_index: c.consensus.applied_index(),
            })
        }
        .boxed()
    }

    fn metric_names(&self) -> BoxFuture<'_, ClusterResult<Vec<String>>> {
        async { Ok(METRIC_NAMES.iter().map(|n| n.to_string()).collect()) }.boxed()
    }

    fn metrics(&self, name: String) -> BoxFuture<'_, ClusterResult<Vec<Metric>>> {
        async move { self.0.metric_everywhere(&name).await }.boxed()
    }
}
