//! The background work of a peer, started by [`Cluster::start`] and ended by
//! [`Cluster::shutdown`] (or when the `Cluster` is dropped: the tasks hold it weakly).
//!
//! * Applied entries are fed to the tracker; a raft snapshot that replaces the pinset, or a
//!   feed that fell behind, makes the tracker recover the whole pinset instead.
//! * Membership (with a swarm): members learnt from applied conf changes are remembered and
//!   dialed; a peer that finds itself no longer in the configuration (checked every 500 ms)
//!   stops (`removed`).
//! * `pin_recover_interval` re-queues failed pins, once at start too (which also re-pins what
//!   a crash interrupted); `state_sync_interval` unpins expired pins. Zero disables either.
//! * With Kubo as the backend, `connect_swarms_delay` after start, this peer's IPFS daemon is
//!   connected to the other members' (IPFS Cluster's `ConnectSwarms`).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::net::MemberContext;
use super::{Cluster, PinTypeSet};
use crate::p2p::rpc::{RpcRequest, RpcResponse};
use crate::state::Op;
use crate::types::{Pin, PinOptions, Timestamp};

impl Cluster {
    /// Starts every background task (see the module notes).
    pub(super) fn spawn_loops(self: &Arc<Self>) {
        self.spawn_apply_feed();
        if self.net.is_some() {
            self.spawn_membership();
            if let Some(delay) = self.settings.connect_swarms_delay {
                self.spawn_connect_ipfs_swarms(delay);
            }
        }
        self.spawn_every(self.settings.pin_recover_interval, true, |c| async move {
            c.recover_all_local().await;
        });
        self.spawn_every(self.settings.state_sync_interval, false, |c| async move {
            c.unpin_expired().await;
        });
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

    /// Connects the IPFS daemons `delay` after start (see the module notes).
    fn spawn_connect_ipfs_swarms(self: &Arc<Self>, delay: Duration) {
        let weak = Arc::downgrade(self);
        let stop = self.stop.clone();
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

    /// Runs `work` every `every` (and at once with `at_start`) until the peer stops.
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
}
