//! [`Cluster`]: the real [`ClusterApi`] of a peer, wiring consensus (the shared pinset), the
//! pin tracker (this peer's IPFS node follows the pinset) and the IPFS connector.
//!
//! Writes follow IPFS Cluster's `pin()`: defaults for replication 0, validation, allocation,
//! a timestamp, then one raft entry; the call returns once the entry is committed and applied
//! (durable), and every peer's tracker then queues the IPFS pin. Reads come from the state and
//! the tracker. Listings are streamed from the state a page at a time with a few IPFS status
//! checks in flight, so memory does not grow with the pinset.
//!
//! Background work: applied entries are fed to the tracker; `pin_recover_interval` re-queues
//! failed pins (and once at start, which also re-pins what a crash interrupted);
//! `state_sync_interval` unpins expired pins.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use libp2p_identity::PeerId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::net::{ClusterNet, MemberContext, STATUS_PAGE, unreachable_info};
use super::{
    AddInput, AddParams, ClusterApi, ClusterError, ClusterResult, ClusterStream, PinTypeSet,
};
use crate::allocate;
use crate::consensus::Consensus;
use crate::ipfs::adder::{self, AddError, AddEvent, AddSettings, BlockSink};
use crate::ipfs::unixfs::file::{Block, ImportOptions};
use crate::ipfsconn::IpfsConnector;
use crate::p2p::rpc::{RpcRequest, RpcResponse};
use crate::state::{Op, State};
use crate::tracker::PinTracker;
use crate::types::{
    AddedOutput, ConsensusStatus, GlobalPinInfo, GlobalRepoGc, IpfsId, Metric, PeerDescription,
    Pin, PinInfoShort, PinMode, PinOptions, PinType, RepoGc, RepoGcKey, Timestamp,
    TrackerStatusFilter,
};

/// The settings of the `cluster` section that the façade uses.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    pub peername: String,
    pub replication_factor_min: i32,
    pub replication_factor_max: i32,
    pub follower_mode: bool,
    pub state_sync_interval: Duration,
    pub pin_recover_interval: Duration,
    /// Addresses this peer listens on for the cluster swarm (shown by `/id`).
    pub addresses: Vec<String>,
    /// With Kubo as the backend: connect the peers' IPFS daemons to each other this long
    /// after start (`ipfs_connector.ipfshttp.connect_swarms_delay`), as IPFS Cluster does.
    /// `None` with the embedded node, whose blocks travel on the cluster swarm instead.
    pub connect_swarms_delay: Option<Duration>,
}

/// What [`Cluster::start`] wires together.
pub struct ClusterParts {
    pub peer: PeerId,
    pub settings: ClusterSettings,
    pub consensus: Arc<Consensus>,
    /// The swarm to the other peers; `None` runs a peer alone.
    pub net: Option<ClusterNet>,
    pub state: Arc<State>,
    pub tracker: PinTracker,
    pub ipfs: IpfsConnector,
}

/// A running cluster peer.
pub struct Cluster {
    pub(super) peer: PeerId,
    pub(super) settings: ClusterSettings,
    pub(super) consensus: Arc<Consensus>,
    pub(super) net: Option<ClusterNet>,
    pub(super) state: Arc<State>,
    pub(super) tracker: PinTracker,
    pub(super) ipfs: IpfsConnector,
    ipfs_id: tokio::sync::OnceCell<IpfsId>,
    stop: CancellationToken,
    /// Cancelled when this peer learns it was removed from the cluster.
    pub(super) removed: CancellationToken,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("peer", &self.peer).finish()
    }
}

/// How many IPFS status checks a listing keeps in flight.
pub(super) const STATUS_CONCURRENCY: usize = 16;
/// Blocks per `block/put` request of an add.
const BLOCK_BATCH_BYTES: usize = 1 << 20;

fn state_error(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Internal(format!("state: {e}"))
}

impl Cluster {
    /// Starts the background work and returns the façade.
    pub fn start(parts: ClusterParts) -> Arc<Cluster> {
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
        cluster.spawn_apply_feed();
        if cluster.net.is_some() {
            cluster.spawn_membership();
            if let Some(delay) = cluster.settings.connect_swarms_delay {
                let weak = Arc::downgrade(&cluster);
                let stop = cluster.stop.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::time::sleep(delay) => {
                            if let Some(c) = weak.upgrade() {
                                c.connect_ipfs_swarms().await;
                            }
                        }
                    }
                });
            }
        }
        cluster.spawn_every(
            cluster.settings.pin_recover_interval,
            true,
            |c| async move {
                c.recover_all_local().await;
            },
        );
        cluster.spawn_every(
            cluster.settings.state_sync_interval,
            false,
            |c| async move {
                c.unpin_expired().await;
            },
        );
        cluster
    }

    /// Connects this peer's IPFS daemon to the other members' (IPFS Cluster's
    /// `ConnectSwarms`): their IPFS addresses come with their `Cluster.ID`.
    async fn connect_ipfs_swarms(&self) {
        for (p, reply) in self.ask_others(RpcRequest::Id).await {
            let Ok(RpcResponse::Id(d)) = reply else {
                continue;
            };
            for addr in &d.ipfs.addresses {
                let addr = if addr.contains("/p2p/") || d.ipfs.id.is_empty() {
                    addr.clone()
                } else {
                    format!("{addr}/p2p/{}", d.ipfs.id)
                };
                match self.ipfs.swarm_connect(&addr).await {
                    Ok(()) => {
                        tracing::debug!(peer = %p, addr, "IPFS daemons connected");
                        break;
                    }
                    Err(e) => tracing::debug!(peer = %p, addr, "ipfs swarm connect: {e}"),
                }
            }
        }
    }

    /// Resolves when this peer was removed from the cluster (the daemon then stops).
    pub fn removed(&self) -> CancellationToken {
        self.removed.clone()
    }

    /// This peer's id.
    pub fn peer_id(&self) -> PeerId {
        self.peer
    }

    /// Leaves the cluster (`leave_on_shutdown`): asks the leader to remove this peer.
    pub async fn leave(&self) -> ClusterResult<()> {
        self.remove_member(self.peer).await
    }

    /// Learns members from applied conf changes; notices its own removal.
    fn spawn_membership(self: &Arc<Self>) {
        let net = self.net.clone().expect("net");
        let mut changes = self.consensus.membership();
        let weak = Arc::downgrade(self);
        let stop = self.stop.clone();
        let me = self.consensus.id();
        tokio::spawn(async move {
            let mut check = tokio::time::interval(Duration::from_millis(500));
            let mut was_member = false;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    c = changes.recv() => match c {
                        Ok(c) if c.added => {
                            match serde_json::from_slice::<MemberContext>(&c.context) {
                                Ok(ctx) => net.learn(&ctx),
                                Err(_) => tracing::debug!(node = c.node_id, "voter added without a context"),
                            }
                        }
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => return,
                    },
                    _ = check.tick() => {
                        let Some(c) = weak.upgrade() else { return };
                        let member = c.consensus.peers().contains(&me);
                        if member {
                            was_member = true;
                        } else if was_member {
                            tracing::warn!("this peer is no longer in the cluster's configuration; stopping");
                            c.removed.cancel();
                            return;
                        }
                    }
                }
            }
        });
    }

    /// Stops background work, the tracker and consensus.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tracker.shutdown();
        if let Err(e) = self.consensus.shutdown().await {
            tracing::warn!(error = %e, "consensus shutdown");
        }
    }

    /// Feeds every applied pin/unpin to the tracker.
    fn spawn_apply_feed(self: &Arc<Self>) {
        let mut applied = self.consensus.subscribe();
        let mut restored = self.consensus.restored();
        let weak = Arc::downgrade(self);
        let stop = self.stop.clone();
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    _ = stop.cancelled() => return,
                    n = applied.recv() => n,
                    r = restored.changed() => {
                        if r.is_err() {
                            return;
                        }
                        let Some(c) = weak.upgrade() else { return };
                        tracing::info!("pinset replaced by a raft snapshot; tracking it");
                        c.recover_all_local().await;
                        continue;
                    }
                };
                let Some(c) = weak.upgrade() else { return };
                match next {
                    Ok(a) => {
                        let tracked = match a.op {
                            Op::Pin(pin) => c.tracker.track(pin),
                            Op::Unpin(cid) => {
                                c.tracker.untrack(Pin::new(cid, PinOptions::default()))
                            }
                        };
                        if let Err(e) = tracked {
                            tracing::error!(error = %e, "tracker");
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(
                            missed = n,
                            "tracker fell behind the applied entries; recovering"
                        );
                        c.recover_all_local().await;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    fn spawn_every<F, Fut>(self: &Arc<Self>, every: Duration, at_start: bool, work: F)
    where
        F: Fn(Arc<Cluster>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        if every.is_zero() {
            return;
        }
        let weak = Arc::downgrade(self);
        let stop = self.stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            if !at_start {
                tick.tick().await;
            }
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let Some(c) = weak.upgrade() else { return };
                work(c).await;
            }
        });
    }

    /// Re-queues every failed item and every pin the node lost; returns what was re-queued.
    async fn recover_all_local(self: &Arc<Self>) -> Vec<Cid> {
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

    /// Unpins every pin whose `expire_at` has passed.
    async fn unpin_expired(self: &Arc<Self>) {
        let now = Timestamp::now();
        let mut pins = self.pins_stream(PinTypeSet::ALL);
        while let Some(Ok(pin)) = pins.next().await {
            if pin.expired(now) {
                match self.log_op(Op::Unpin(pin.cid)).await {
                    Ok(()) => tracing::info!(cid = %pin.cid, "expired pin removed"),
                    Err(e) => {
                        tracing::warn!(cid = %pin.cid, error = %e, "cannot remove expired pin")
                    }
                }
            }
        }
    }

    /// The pinset, streamed from a blocking reader a page at a time (bounded channel).
    fn pins_stream(&self, filter: PinTypeSet) -> ClusterStream<Pin> {
        let state = self.state.clone();
        let (tx, rx) = mpsc::channel::<ClusterResult<Pin>>(256);
        tokio::task::spawn_blocking(move || {
            for pin in state.list() {
                let item = pin.map_err(state_error);
                if let Ok(p) = &item
                    && !filter.contains(p.pin_type)
                {
                    continue;
                }
                if tx.blocking_send(item).is_err() {
                    return;
                }
            }
        });
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|i| (i, rx)) })
            .boxed()
    }

    fn check_writable(&self) -> ClusterResult<()> {
        if self.settings.follower_mode {
            return Err(ClusterError::Refused(
                "this peer is configured to be in follower mode. Write operations are disabled"
                    .into(),
            ));
        }
        Ok(())
    }

    /// IPFS Cluster's `pin()`: defaults, validation, allocation, commit.
    async fn commit_pin(&self, mut pin: Pin) -> ClusterResult<Pin> {
        self.check_writable()?;
        let o = &mut pin.options;
        if o.replication_factor_min == 0 {
            o.replication_factor_min = self.settings.replication_factor_min;
        }
        if o.replication_factor_max == 0 {
            o.replication_factor_max = self.settings.replication_factor_max;
        }
        let (min, max) = (o.replication_factor_min, o.replication_factor_max);
        if min * max < 0 {
            return Err(ClusterError::BadRequest(
                "replication factors should be both -1 or both positive".into(),
            ));
        }
        if max > 0 && min > max {
            return Err(ClusterError::BadRequest(
                "replication_factor_min is greater than replication_factor_max".into(),
            ));
        }
        let now = Timestamp::now();
        if !o.expire_at.is_zero() && o.expire_at <= now {
            return Err(ClusterError::BadRequest(
                "pin.ExpireAt set before current time".into(),
            ));
        }
        pin.max_depth = pin.options.mode.max_depth();
        let existing = self.state.get(&pin.cid).map_err(state_error)?;
        if let Some(old) = &existing {
            if old.pin_type != pin.pin_type {
                return Err(ClusterError::BadRequest(format!(
                    "cannot repin CID with different tracking method, clear state with pin rm to proceed. New: {}. Was: {}",
                    pin.pin_type.as_str(),
                    old.pin_type.as_str()
                )));
            }
            if old.options.mode == PinMode::Recursive && pin.options.mode == PinMode::Direct {
                return Err(ClusterError::BadRequest(
                    "cannot repin a CID which is already pinned in recursive mode (new pin is pinned as direct). Unpin it first."
                        .into(),
                ));
            }
        }
        pin.timestamp = now;
        if pin.allocations.is_empty() {
            let current: Vec<PeerId> = existing.map(|p| p.allocations).unwrap_or_default();
            let priority = pin.options.user_allocations.clone().unwrap_or_default();
            // every member is a candidate, in member order (ranking by metrics is the
            // allocator's seam, a later step)
            pin.allocations = allocate::allocate(
                min,
                max,
                &current,
                &priority,
                &self.members(),
                &allocate::as_given,
            )
            .map_err(|e| ClusterError::Internal(e.to_string()))?;
        }
        self.log_op(Op::Pin(pin.clone())).await?;
        // queue it here at once, so a status read right after the answer says pin_queued
        // (the applied-entry feed also tracks it; the tracker merges the two)
        self.track_now(|t| t.track(pin.clone()));
        Ok(pin)
    }

    async fn remove_pin(&self, cid: Cid) -> ClusterResult<Pin> {
        self.check_writable()?;
        let pin = self
            .state
            .get(&cid)
            .map_err(state_error)?
            .ok_or(ClusterError::NotFound)?;
        match pin.pin_type {
            PinType::Shard => {
                return Err(ClusterError::BadRequest(
                    "cannot unpin a shard directly. Unpin content root CID instead".into(),
                ));
            }
            PinType::ClusterDag => {
                return Err(ClusterError::BadRequest(
                    "cannot unpin a Cluster DAG directly. Unpin content root CID instead".into(),
                ));
            }
            _ => {}
        }
        self.log_op(Op::Unpin(cid)).await?;
        self.track_now(|t| t.untrack(pin.clone()));
        Ok(pin)
    }

    fn track_now(&self, f: impl FnOnce(&PinTracker) -> Result<(), crate::tracker::TrackerError>) {
        if let Err(e) = f(&self.tracker) {
            tracing::error!(error = %e, "tracker");
        }
    }

    async fn resolve(&self, path: &str) -> ClusterResult<Cid> {
        self.ipfs
            .resolve(path)
            .await
            .map_err(|e| ClusterError::Ipfs(e.to_string()))
    }

    /// This peer's entry of a status.
    pub(super) async fn local_info(&self, cid: &Cid, pin: Option<&Pin>) -> PinInfoShort {
        let mut info = self.tracker.status(cid, pin).await;
        if let Ok(id) = self.ipfs_identity().await {
            info.ipfs_peer_id = id.id;
            info.ipfs_peer_addresses = id.addresses;
        }
        info
    }

    /// The status of `cid` on this peer and, unless `local`, on every other member.
    async fn global_info(&self, cid: Cid, pin: Option<Pin>, local: bool) -> GlobalPinInfo {
        self.gather(cid, pin, local, RpcRequest::Status { cid })
            .await
    }

    /// Recovers `cid` on this peer and, unless `local`, on every other member.
    async fn global_recover(&self, cid: Cid, local: bool) -> ClusterResult<GlobalPinInfo> {
        let pin = self.state.get(&cid).map_err(state_error)?;
        self.tracker
            .recover(&cid, pin.as_ref())
            .await
            .map_err(|e| ClusterError::Internal(e.to_string()))?;
        Ok(self
            .gather(cid, pin, local, RpcRequest::Recover { cid })
            .await)
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
        let mut peer_map = std::collections::BTreeMap::new();
        peer_map.insert(self.peer.to_base58(), info);
        for (p, reply) in others {
            let i = match reply {
                Ok(RpcResponse::PinInfo(i)) => i,
                Ok(other) => unreachable_info(&p, format!("unexpected answer {other:?}")),
                Err(e) => unreachable_info(&p, e),
            };
            peer_map.insert(p.to_base58(), i);
        }
        Self::global(cid, pin, peer_map)
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
            let mut peer_map = std::collections::BTreeMap::new();
            peer_map.insert(self.peer.to_base58(), info);
            for (p, infos) in &others {
                let i = match infos {
                    Ok(v) => v[i].clone(),
                    Err(e) => unreachable_info(p, e),
                };
                peer_map.insert(p.to_base58(), i);
            }
            out.push(Ok(Self::global(pin.cid, Some(pin), peer_map)));
        }
        out
    }

    fn global(
        cid: Cid,
        pin: Option<Pin>,
        peer_map: std::collections::BTreeMap<String, PinInfoShort>,
    ) -> GlobalPinInfo {
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

    /// The IPFS node's identity, asked once and then remembered (a node's id and listen
    /// addresses do not change while it runs; every status line carries them). A failure is
    /// not remembered: the next call asks again.
    pub(super) async fn ipfs_identity(&self) -> Result<IpfsId, String> {
        self.ipfs_id
            .get_or_try_init(|| async {
                let id = self.ipfs.id().await.map_err(|e| e.to_string())?;
                Ok(IpfsId {
                    id: id.id,
                    addresses: id.addresses.unwrap_or_default(),
                    error: String::new(),
                })
            })
            .await
            .cloned()
    }

    pub(super) async fn describe(&self) -> PeerDescription {
        let ipfs = self.ipfs_identity().await.unwrap_or_else(|e| IpfsId {
            id: String::new(),
            addresses: Vec::new(),
            error: e,
        });
        let members = self.members();
        let mut cluster_peers_addresses = Vec::new();
        if let Some(net) = &self.net
            && let Ok(known) = net.swarm.peer_addresses().await
        {
            for p in members.iter().skip(1) {
                for a in known.get(p).into_iter().flatten() {
                    cluster_peers_addresses.push(format!("{a}/p2p/{p}"));
                }
            }
        }
        PeerDescription {
            id: self.peer.to_base58(),
            addresses: self.settings.addresses.clone(),
            cluster_peers: members.iter().map(|p| p.to_base58()).collect(),
            cluster_peers_addresses,
            version: crate::types::API_VERSION.to_string(),
            commit: String::new(),
            rpc_protocol_version: crate::RPC_PROTOCOL.to_string(),
            error: String::new(),
            ipfs,
            peername: self.settings.peername.clone(),
        }
    }

    /// This peer's current value of an informer metric (`None`: not a metric we publish).
    pub(super) async fn local_metric(&self, name: &str) -> ClusterResult<Option<Metric>> {
        let c = self;
        let m = match name {
            "freespace" => {
                let stat = c
                    .ipfs
                    .repo_stat()
                    .await
                    .map_err(|e| ClusterError::Ipfs(e.to_string()))?;
                let free = stat.storage_max.saturating_sub(stat.repo_size);
                c.metric("freespace", free.to_string(), free as i64, false)
            }
            "ping" => {
                let ipfs = c.ipfs_identity().await.unwrap_or_default();
                let value = serde_json::json!({
                    "peer_name": c.settings.peername,
                    "ipfs_id": ipfs.id,
                    "ipfs_addresses": ipfs.addresses,
                });
                c.metric("ping", value.to_string(), 0, false)
            }
            "pinqueue" => {
                let n = c.tracker.queue_size();
                c.metric("pinqueue", n.to_string(), -((n / 100_000) as i64), false)
            }
            _ => return Ok(None),
        };
        Ok(Some(m))
    }

    fn metric(&self, name: &str, value: String, weight: i64, partitionable: bool) -> Metric {
        let now = Timestamp::now();
        Metric {
            name: name.to_string(),
            peer: self.peer.to_base58(),
            value,
            expire: (now.plus(Duration::from_secs(30)).unix_nanos()) as i64,
            valid: true,
            weight,
            partitionable,
            received_at: now.unix_nanos() as i64,
        }
    }

    /// Adds a CAR upload: every block verified and stored, then the single root pinned.
    async fn add_car(
        self: Arc<Self>,
        mut input: AddInput,
        params: AddParams,
        tx: mpsc::Sender<ClusterResult<AddedOutput>>,
    ) -> ClusterResult<()> {
        let Some(_) = input
            .next_entry()
            .await
            .map_err(|e| ClusterError::BadRequest(e.message))?
        else {
            return Err(ClusterError::BadRequest("no file in the upload".into()));
        };
        let chunks = futures::stream::unfold(&mut input, |p| async move {
            match p.next_chunk().await {
                Ok(Some(c)) => Some((Ok::<_, std::io::Error>(c), p)),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e.message)), p)),
            }
        });
        let reader = tokio_util::io::StreamReader::new(Box::pin(chunks));
        let (mut car, header) = crate::ipfs::car::CarReader::new(reader)
            .await
            .map_err(|e| ClusterError::BadRequest(e.to_string()))?;
        if header.roots.len() != 1 {
            return Err(ClusterError::BadRequest(format!(
                "the CAR must have exactly one root (it has {})",
                header.roots.len()
            )));
        }
        let root = header.roots[0];
        let mut batch: Vec<(Cid, Bytes)> = Vec::new();
        let (mut bytes, mut batch_bytes) = (0u64, 0usize);
        while let Some((cid, data)) = car
            .next_block()
            .await
            .map_err(|e| ClusterError::BadRequest(e.to_string()))?
        {
            if !crate::ipfs::hash::verify(&cid, &data)
                .map_err(|e| ClusterError::BadRequest(e.to_string()))?
            {
                return Err(ClusterError::BadRequest(format!(
                    "block {cid} does not match its CID"
                )));
            }
            bytes += data.len() as u64;
            batch_bytes += data.len();
            batch.push((cid, data));
            if batch_bytes >= BLOCK_BATCH_BYTES {
                self.ipfs
                    .block_put(std::mem::take(&mut batch))
                    .await
                    .map_err(|e| ClusterError::Ipfs(e.to_string()))?;
                batch_bytes = 0;
            }
        }
        self.ipfs
            .block_put(batch)
            .await
            .map_err(|e| ClusterError::Ipfs(e.to_string()))?;
        let mut allocations = Vec::new();
        if !params.no_pin {
            allocations = self
                .commit_pin(Pin::new(root, params.pin_options.clone()))
                .await?
                .allocations;
        }
        let name = if params.pin_options.name.is_empty() {
            root.to_string()
        } else {
            params.pin_options.name.clone()
        };
        let _ = tx
            .send(Ok(AddedOutput {
                name,
                cid: Some(root),
                bytes,
                size: 0,
                allocations,
            }))
            .await;
        Ok(())
    }

    /// Adds a UnixFS upload: imported here, blocks sent to the IPFS node, roots pinned.
    async fn add_unixfs(
        self: Arc<Self>,
        mut input: AddInput,
        params: AddParams,
        tx: mpsc::Sender<ClusterResult<AddedOutput>>,
    ) -> ClusterResult<()> {
        let import = ImportOptions::resolve(
            params.cid_version,
            params.raw_leaves,
            params.chunker.as_deref(),
            params.layout_trickle,
            params.hash.as_deref(),
        )
        .map_err(|e| ClusterError::BadRequest(e.to_string()))?;
        let settings = AddSettings {
            import,
            wrap: params.wrap_with_directory,
            progress: params.progress,
            default_meta: Default::default(),
            // IPFS Cluster's add keeps no file metadata (its AddParams have no preserve options)
            preserve_mode: false,
            preserve_mtime: false,
        };
        let sink = ConnectorSink {
            ipfs: self.ipfs.clone(),
            rt: tokio::runtime::Handle::current(),
            batch: Vec::new(),
            bytes: 0,
        };
        let (events_tx, mut events) = mpsc::channel::<AddEvent>(64);
        let forward = {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut roots: Vec<(String, Cid, u64)> = Vec::new();
                while let Some(e) = events.recv().await {
                    match e {
                        AddEvent::Progress { name, bytes } => {
                            let _ = tx
                                .send(Ok(AddedOutput {
                                    name,
                                    cid: None,
                                    bytes,
                                    size: 0,
                                    allocations: Vec::new(),
                                }))
                                .await;
                        }
                        AddEvent::Entry {
                            name,
                            cid,
                            size,
                            top_level,
                        } => {
                            if top_level {
                                roots.push((name, cid, size)); // output after pinning, with allocations
                            } else {
                                let _ = tx
                                    .send(Ok(AddedOutput {
                                        name,
                                        cid: Some(cid),
                                        bytes: 0,
                                        size,
                                        allocations: Vec::new(),
                                    }))
                                    .await;
                            }
                        }
                    }
                }
                roots
            })
        };
        let added = adder::add(&mut input, settings, sink, events_tx).await;
        let roots = forward
            .await
            .map_err(|e| ClusterError::Internal(e.to_string()))?;
        added.map_err(|e| match e {
            AddError::Input(e) => ClusterError::BadRequest(e.message),
            AddError::Store(m) => ClusterError::Ipfs(m),
        })?;
        for (name, cid, size) in roots {
            let mut allocations = Vec::new();
            if !params.no_pin {
                let mut opts = params.pin_options.clone();
                if opts.name.is_empty() {
                    opts.name = name.clone();
                }
                allocations = self.commit_pin(Pin::new(cid, opts)).await?.allocations;
            }
            let _ = tx
                .send(Ok(AddedOutput {
                    name,
                    cid: Some(cid),
                    bytes: 0,
                    size,
                    allocations,
                }))
                .await;
        }
        Ok(())
    }
}

/// Sends the blocks of an add to the IPFS node in `block/put` batches of about 1 MiB.
struct ConnectorSink {
    ipfs: IpfsConnector,
    rt: tokio::runtime::Handle,
    batch: Vec<(Cid, Bytes)>,
    bytes: usize,
}

impl ConnectorSink {
    fn send(&mut self) -> Result<(), String> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.bytes = 0;
        self.rt
            .block_on(self.ipfs.block_put(batch))
            .map_err(|e| e.to_string())
    }
}

impl BlockSink for ConnectorSink {
    fn put(&mut self, blocks: Vec<Block>) -> Result<(), String> {
        for b in blocks {
            // one request carries blocks of one CID kind (version, codec, hash)
            if let Some((first, _)) = self.batch.first()
                && (first.version() != b.cid.version() || first.codec() != b.cid.codec())
            {
                self.send()?;
            }
            self.bytes += b.data.len();
            self.batch.push((b.cid, b.data));
            if self.bytes >= BLOCK_BATCH_BYTES {
                self.send()?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        self.send()
    }
}

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

/// Arc-owning handle so streams can outlive the borrow of `&self`.
pub struct ClusterHandle(pub Arc<Cluster>);

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
                            error: format!("unexpected answer {other:?}"),
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
                .map_err(state_error)?
                .ok_or(ClusterError::NotFound)
        }
        .boxed()
    }

    fn status(&self, cid: Cid, local: bool) -> BoxFuture<'_, ClusterResult<GlobalPinInfo>> {
        async move {
            let pin = self.0.state.get(&cid).map_err(state_error)?;
            Ok(self.0.global_info(cid, pin, local).await)
        }
        .boxed()
    }

    fn status_all(&self, filter: TrackerStatusFilter, local: bool) -> ClusterStream<GlobalPinInfo> {
        let c = self.0.clone();
        self.0
            .pins_stream(PinTypeSet::ALL)
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

    fn recover(&self, cid: Cid, local: bool) -> BoxFuture<'_, ClusterResult<GlobalPinInfo>> {
        self.0.global_recover(cid, local).boxed()
    }

    fn recover_all(&self, _local: bool) -> ClusterStream<GlobalPinInfo> {
        let c = self.0.clone();
        stream_from(move |tx| {
            async move {
                for cid in c.recover_all_local().await {
                    let pin = c.state.get(&cid).map_err(state_error)?;
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
        stream_from(move |tx| {
            async move {
                c.check_writable()?;
                if params.car {
                    c.add_car(input, params, tx).await
                } else {
                    c.add_unixfs(input, params, tx).await
                }
            }
            .boxed()
        })
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
        async {
            Ok(vec![
                "freespace".to_string(),
                "ping".to_string(),
                "pinqueue".to_string(),
            ])
        }
        .boxed()
    }

    fn metrics(&self, name: String) -> BoxFuture<'_, ClusterResult<Vec<Metric>>> {
        async move {
            let c = &self.0;
            let mut out = match c.local_metric(&name).await? {
                Some(m) => vec![m],
                None => return Ok(Vec::new()),
            };
            for (p, reply) in c.ask_others(RpcRequest::Metrics).await {
                match reply {
                    Ok(RpcResponse::Metrics(ms)) => {
                        out.extend(ms.into_iter().filter(|m| m.name == name))
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(peer = %p, "metrics: {e}"),
                }
            }
            Ok(out)
        }
        .boxed()
    }
}
