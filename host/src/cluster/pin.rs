//! The pinset: writes (pin, unpin) and the streamed listing.
//!
//! Writes follow IPFS Cluster's `pin()`: defaults for replication 0, validation, allocation,
//! a timestamp, then one raft entry ([`Cluster::commit_pin`]); the call returns once the
//! entry is committed and applied (durable), and every peer's tracker then queues the IPFS
//! pin. Every write of the façade (pins, unpins, the add path's roots, expired pins) goes
//! through [`Cluster::log_op`], the one place an op meets consensus.
//!
//! # Forwarding
//! A write on a follower is prepared there (validation, allocation, timestamp, as Go's
//! `pin()`), then sent whole to the leader (`Consensus.LogPin`), which commits it. The
//! follower then waits, bounded by the write deadline, until it has applied the entry itself,
//! so a read on the same peer right after the answer sees the write. When the leader changes
//! in between, the write is retried on the new one until the deadline (a pin or unpin is
//! idempotent, so a retry after an unanswered attempt is harmless).
//!
//! # Cost of a forwarded write
//! * A follower that knows the leader (`Consensus::leader`, an atomic) forwards at once,
//!   instead of asking its own raft driver first only to learn `NotLeader` (a driver turn, up
//!   to two fsyncs, per write). After any failure the driver is asked again, so a stale leader
//!   view costs one retry.
//! * The wait for the local apply uses the applied-index watch (one wake per applied batch),
//!   not the broadcast of applied ops (which made every waiting write compare every op). Best
//!   effort: if a later write to the same CID lands first, the wait ends at the deadline.
//!
//! The measured effect of both (forwarded writes at C=256) is in `docs/benchmarks.md`.
//! Still one RPC call (one request/response stream) per forwarded write; batching forwarded
//! writes into one call per driver turn is the next step (left).
//!
//! # Listing
//! The pinset is streamed from a blocking reader a page at a time through a bounded channel,
//! so memory does not grow with the pinset.

use std::time::Duration;

use cid::Cid;
use futures::StreamExt;
use libp2p_identity::PeerId;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Cluster, ClusterError, ClusterResult, ClusterStream, PinTypeSet};
use crate::allocate;
use crate::consensus::ConsensusError;
use crate::p2p::rpc::{RpcError, RpcRequest};
use crate::state::Op;
use crate::tracker::{PinTracker, TrackerError};
use crate::types::{Pin, PinMode, PinType, Timestamp};

/// Pause between two attempts of a forwarded write while the leader changes.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

impl Cluster {
    /// Refuses writes on a peer in follower mode.
    pub(super) fn check_writable(&self) -> ClusterResult<()> {
        if self.settings.follower_mode {
            return Err(ClusterError::Refused(
                "this peer is configured to be in follower mode. Write operations are disabled"
                    .into(),
            ));
        }
        Ok(())
    }

    /// IPFS Cluster's `pin()`: defaults, validation, allocation, commit.
    pub(super) async fn commit_pin(&self, mut pin: Pin) -> ClusterResult<Pin> {
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
        let existing = self.state.get(&pin.cid).map_err(ClusterError::State)?;
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
            .map_err(ClusterError::Allocate)?;
        }
        self.log_op(Op::Pin(pin.clone())).await?;
        // queue it here at once, so a status read right after the answer says pin_queued
        // (the applied-entry feed also tracks it; the tracker merges the two)
        self.track_now(|t| t.track(pin.clone()));
        Ok(pin)
    }

    /// Unpins `cid`; [`ClusterError::NotFound`] when it is not in the pinset.
    pub(super) async fn remove_pin(&self, cid: Cid) -> ClusterResult<Pin> {
        self.check_writable()?;
        let pin = self
            .state
            .get(&cid)
            .map_err(ClusterError::State)?
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

    fn track_now(&self, f: impl FnOnce(&PinTracker) -> Result<(), TrackerError>) {
        if let Err(e) = f(&self.tracker) {
            tracing::error!(error = %e, "tracker");
        }
    }

    /// Resolves an IPFS path (`/ipfs/...`, `/ipld/...`) to the CID it names.
    pub(super) async fn resolve(&self, path: &str) -> ClusterResult<Cid> {
        self.ipfs.resolve(path).await.map_err(ClusterError::Ipfs)
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
                .map_err(ClusterError::Consensus);
        };
        let deadline = Instant::now() + net.rpc_timeout;
        let mut last_error: Option<String> = None;
        // A follower that knows the leader forwards at once: asking its own driver first
        // costs a turn of the driver (which may be fsyncing) per write only to learn
        // `NotLeader`. After any failure, the driver is asked again (fresh leader view).
        let mut direct = true;
        loop {
            if Instant::now() >= deadline {
                return Err(ClusterError::NotCommitted {
                    within: net.rpc_timeout,
                    last_error,
                });
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
                    Err(e) => return Err(ClusterError::Consensus(e)),
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
                Err(source) => {
                    return Err(ClusterError::LeaderRefused {
                        leader: peer.to_base58(),
                        source,
                    });
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

    /// The pinset, streamed from a blocking reader a page at a time (bounded channel).
    pub(super) fn pins_stream(&self, filter: PinTypeSet) -> ClusterStream<Pin> {
        let state = self.state.clone();
        let (tx, rx) = mpsc::channel::<ClusterResult<Pin>>(256);
        tokio::task::spawn_blocking(move || {
            for pin in state.list() {
                let item = pin.map_err(ClusterError::State);
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
}
