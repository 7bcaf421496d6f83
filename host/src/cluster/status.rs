//! Status and recover: this peer's tracker plus every other member's answer.
//!
//! One CID's status (or recover) asks every other member concurrently and merges the answers
//! into one `GlobalPinInfo` ([`Cluster::gather`]); a peer that does not answer appears with
//! its error (`cluster_error`) instead of failing the whole answer. A pinset listing asks
//! each peer once per page of [`STATUS_PAGE`] pins (`StatusAll`), so memory is bounded by the
//! page, not by the pinset; this peer's own entries are computed [`STATUS_CONCURRENCY`] at a
//! time (each may ask the IPFS node).

use std::collections::BTreeMap;
use std::sync::Arc;

use cid::Cid;
use futures::StreamExt;
use libp2p_identity::PeerId;

use super::{Cluster, ClusterError, ClusterResult, ClusterStream, PinTypeSet};
use crate::p2p::rpc::{RpcRequest, RpcResponse};
use crate::types::{
    GlobalPinInfo, Pin, PinInfoShort, Timestamp, TrackerStatus, TrackerStatusFilter,
};

/// Pins per `StatusAll` call of a listing.
const STATUS_PAGE: usize = 256;
/// How many IPFS status checks a listing keeps in flight.
const STATUS_CONCURRENCY: usize = 16;

/// The answer of a peer that did not answer, as a status line (`cluster_error`).
fn unreachable_info(peer: &PeerId, error: impl std::fmt::Display) -> PinInfoShort {
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

impl Cluster {
    /// This peer's entry of a status.
    pub(super) async fn local_info(&self, cid: &Cid, pin: Option<&Pin>) -> PinInfoShort {
        let mut info = self.tracker.status(cid, pin).await;
        if let Ok(id) = self.ipfs_identity().await {
            info.ipfs_peer_id = id.id;
            info.ipfs_peer_addresses = id.addresses;
        }
        info
    }

    /// This peer's entries for `cids` (another peer's `StatusAll`), in order.
    pub(super) async fn local_infos(self: Arc<Self>, cids: Vec<Cid>) -> Vec<PinInfoShort> {
        futures::stream::iter(cids)
            .map(|cid| {
                let c = self.clone();
                async move {
                    let pin = c.state.get(&cid).ok().flatten();
                    c.local_info(&cid, pin.as_ref()).await
                }
            })
            .buffered(STATUS_CONCURRENCY)
            .collect()
            .await
    }

    /// The status of `cid` on this peer and, unless `local`, on every other member.
    pub(super) async fn global_info(
        &self,
        cid: Cid,
        pin: Option<Pin>,
        local: bool,
    ) -> GlobalPinInfo {
        self.gather(cid, pin, local, RpcRequest::Status { cid })
            .await
    }

    /// Recovers `cid` on this peer and, unless `local`, on every other member.
    pub(super) async fn global_recover(
        &self,
        cid: Cid,
        local: bool,
    ) -> ClusterResult<GlobalPinInfo> {
        let pin = self.state.get(&cid).map_err(ClusterError::State)?;
        self.tracker
            .recover(&cid, pin.as_ref())
            .await
            .map_err(ClusterError::Tracker)?;
        Ok(self
            .gather(cid, pin, local, RpcRequest::Recover { cid })
            .await)
    }

    /// Re-queues every failed item and every pin the node lost; returns what was re-queued.
    pub(super) async fn recover_all_local(self: &Arc<Self>) -> Vec<Cid> {
        let mut requeued = Vec::new();
        for cid in self.tracker.failed() {
            let pin = self.state.get(&cid).ok().flatten();
            if let Ok(true) = self.tracker.recover(&cid, pin.as_ref()).await {
                requeued.push(cid);
            }
        }
        let mut pins = self.pins_stream(PinTypeSet::ALL);
        while let Some(Ok(pin)) = pins.next().await {
            if requeued.contains(&pin.cid) {
                continue;
            }
            if let Ok(true) = self.tracker.recover(&pin.cid, Some(&pin)).await {
                requeued.push(pin.cid);
            }
        }
        requeued
    }

    /// This peer's status of `cid` and, unless `local`, every other member's answer to
    /// `request` (one that answers a `PinInfo`), as one `GlobalPinInfo`.
    async fn gather(
        &self,
        cid: Cid,
        pin: Option<Pin>,
        local: bool,
        request: RpcRequest,
    ) -> GlobalPinInfo {
        let mine = self.local_info(&cid, pin.as_ref());
        let (info, others) = if local {
            (mine.await, Vec::new())
        } else {
            futures::join!(mine, self.ask_others(request))
        };
        let mut peer_map = BTreeMap::new();
        peer_map.insert(self.peer.to_base58(), info);
        for (p, reply) in others {
            let i = match reply {
                Ok(RpcResponse::PinInfo(i)) => i,
                Ok(other) => {
                    unreachable_info(&p, ClusterError::UnexpectedAnswer(format!("{other:?}")))
                }
                Err(e) => unreachable_info(&p, e),
            };
            peer_map.insert(p.to_base58(), i);
        }
        global(cid, pin, peer_map)
    }

    /// The status of the whole pinset, a page at a time, filtered (`GET /pins`).
    pub(super) fn status_stream(
        self: &Arc<Self>,
        filter: TrackerStatusFilter,
        local: bool,
    ) -> ClusterStream<GlobalPinInfo> {
        let c = self.clone();
        self.pins_stream(PinTypeSet::ALL)
            .chunks(STATUS_PAGE)
            .then(move |page| {
                let c = c.clone();
                async move { c.page_status(page, local).await }
            })
            .flat_map(futures::stream::iter)
            .filter(move |info: &ClusterResult<GlobalPinInfo>| {
                let keep = match info {
                    Ok(i) => i.peer_map.values().any(|p| filter.matches(p.status)),
                    Err(_) => true,
                };
                futures::future::ready(keep)
            })
            .boxed()
    }

    /// The status of a page of pins on every member (one `StatusAll` call per other peer).
    async fn page_status(
        self: &Arc<Self>,
        page: Vec<ClusterResult<Pin>>,
        local: bool,
    ) -> Vec<ClusterResult<GlobalPinInfo>> {
        let mut out = Vec::with_capacity(page.len());
        let mut pins = Vec::with_capacity(page.len());
        for p in page {
            match p {
                Ok(p) => pins.push(p),
                Err(e) => out.push(Err(e)),
            }
        }
        let cids: Vec<Cid> = pins.iter().map(|p| p.cid).collect();
        let mine = futures::stream::iter(pins.clone())
            .map(|p| {
                let c = self.clone();
                async move { c.local_info(&p.cid, Some(&p)).await }
            })
            .buffered(STATUS_CONCURRENCY)
            .collect::<Vec<_>>();
        let (mine, others) = if local || cids.is_empty() {
            (mine.await, Vec::new())
        } else {
            futures::join!(mine, self.others_status_page(&cids))
        };
        for (i, (pin, info)) in pins.into_iter().zip(mine).enumerate() {
            let mut peer_map = BTreeMap::new();
            peer_map.insert(self.peer.to_base58(), info);
            for (p, infos) in &others {
                let i = match infos {
                    Ok(v) => v[i].clone(),
                    Err(e) => unreachable_info(p, e),
                };
                peer_map.insert(p.to_base58(), i);
            }
            out.push(Ok(global(pin.cid, Some(pin), peer_map)));
        }
        out
    }

    /// The status of a page of pins on every other member, keyed by peer.
    async fn others_status_page(
        &self,
        cids: &[Cid],
    ) -> Vec<(PeerId, ClusterResult<Vec<PinInfoShort>>)> {
        self.ask_others(RpcRequest::StatusAll {
            cids: cids.to_vec(),
        })
        .await
        .into_iter()
        .map(|(p, r)| {
            let r = match r {
                Ok(RpcResponse::PinInfos(v)) if v.len() == cids.len() => Ok(v),
                Ok(other) => Err(ClusterError::UnexpectedAnswer(format!("{other:?}"))),
                Err(e) => Err(ClusterError::Rpc(e)),
            };
            (p, r)
        })
        .collect()
    }
}

/// One CID's `GlobalPinInfo`: the pin's fields (when in the pinset) and every peer's entry.
fn global(cid: Cid, pin: Option<Pin>, peer_map: BTreeMap<String, PinInfoShort>) -> GlobalPinInfo {
    match pin {
        Some(p) => GlobalPinInfo {
            cid,
            name: p.options.name,
            allocations: p.allocations,
            origins: p.options.origins.unwrap_or_default(),
            created: p.timestamp,
            metadata: p.options.metadata,
            peer_map,
        },
        None => GlobalPinInfo {
            cid,
            name: String::new(),
            allocations: Vec::new(),
            origins: Vec::new(),
            created: Timestamp::ZERO,
            metadata: None,
            peer_map,
        },
    }
}
