//! The pin tracker: makes this peer's IPFS node hold what the shared pinset says it should,
//! and reports how far each pin got (IPFS Cluster's *stateless* tracker).
//!
//! "Stateless" means the tracker keeps no copy of the pinset: the truth is the consensus state
//! and the IPFS node's own pins. The tracker only remembers *operations* in flight or failed:
//! a pin or unpin that is queued, running, or ended in error. A finished pin is forgotten; its
//! status (`pinned`, or `unexpectedly_unpinned` when the node lost it) is read from the node
//! when asked. So memory grows with the work in flight, never with the pinset.
//!
//! Queues: a *priority* queue for recent pins that have not failed too often
//! (`priority_pin_max_age`, `priority_pin_max_retries`), a normal queue, and an unpin queue,
//! each holding at most `max_pin_queue_size` operations. `concurrent_pins` workers serve the
//! priority queue first; one worker serves unpins. A new operation on a CID that has one of
//! the same kind queued or running only refreshes its pin; one of the other kind cancels it.
//! A pin stalls out after `pin_timeout` without progress (the connector's job) and ends in
//! `pin_error`; `recover` (by hand or every `pin_recover_interval`) re-queues failed items and
//! pins the node lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cid::Cid;
use libp2p_identity::PeerId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ipfsconn::{ConnectorError, IpfsConnector};
use crate::types::{Pin, PinInfoShort, PinMode, PinType, Timestamp, TrackerStatus};

/// The tracker's settings (`pin_tracker.stateless`).
#[derive(Debug, Clone)]
pub(crate) struct TrackerConfig {
    pub(crate) concurrent_pins: usize,
    pub(crate) priority_pin_max_age: Duration,
    pub(crate) priority_pin_max_retries: u32,
    pub(crate) max_pin_queue_size: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            concurrent_pins: 10,
            priority_pin_max_age: Duration::from_secs(24 * 3600),
            priority_pin_max_retries: 5,
            max_pin_queue_size: 1_000_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Pin,
    Unpin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    InProgress,
    Error,
}

#[derive(Debug, Clone)]
struct Operation {
    kind: OpKind,
    phase: Phase,
    pin: Pin,
    error: String,
    attempts: u32,
    priority: bool,
    timestamp: Timestamp,
    /// Identifies this operation: a queue entry whose generation differs is stale.
    generation: u64,
    cancel: CancellationToken,
}

impl Operation {
    fn status(&self) -> TrackerStatus {
        match (self.kind, self.phase) {
            (OpKind::Pin, Phase::Queued) => TrackerStatus::PinQueued,
            (OpKind::Pin, Phase::InProgress) => TrackerStatus::Pinning,
            (OpKind::Pin, Phase::Error) => TrackerStatus::PinError,
            (OpKind::Unpin, Phase::Queued) => TrackerStatus::UnpinQueued,
            (OpKind::Unpin, Phase::InProgress) => TrackerStatus::Unpinning,
            (OpKind::Unpin, Phase::Error) => TrackerStatus::UnpinError,
        }
    }
}

/// Errors of tracker requests.
#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    #[error("pin/unpin operation queue is full. Try increasing max_pin_queue_size")]
    QueueFull,
}

type QueueEntry = (Cid, u64);

struct Queues {
    priority: mpsc::Receiver<QueueEntry>,
    normal: mpsc::Receiver<QueueEntry>,
}

struct Inner {
    ops: Mutex<HashMap<Cid, Operation>>,
    ipfs: IpfsConnector,
    peer: PeerId,
    peername: String,
    config: TrackerConfig,
    priority_tx: mpsc::Sender<QueueEntry>,
    normal_tx: mpsc::Sender<QueueEntry>,
    unpin_tx: mpsc::Sender<QueueEntry>,
    next_generation: std::sync::atomic::AtomicU64,
    shutdown: CancellationToken,
}

/// The pin tracker of one peer. Cheap to clone.
#[derive(Clone)]
pub(crate) struct PinTracker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PinTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinTracker")
            .field("peer", &self.inner.peer)
            .finish()
    }
}

impl PinTracker {
    /// Starts the workers. They stop when [`PinTracker::shutdown`] is called.
    pub(crate) fn start(
        ipfs: IpfsConnector,
        peer: PeerId,
        peername: String,
        config: TrackerConfig,
    ) -> PinTracker {
        let cap = config.max_pin_queue_size.max(1);
        let (priority_tx, priority) = mpsc::channel(cap);
        let (normal_tx, normal) = mpsc::channel(cap);
        let (unpin_tx, mut unpins) = mpsc::channel(cap);
        let inner = Arc::new(Inner {
            ops: Mutex::new(HashMap::new()),
            ipfs,
            peer,
            peername,
            config: config.clone(),
            priority_tx,
            normal_tx,
            unpin_tx,
            next_generation: std::sync::atomic::AtomicU64::new(1),
            shutdown: CancellationToken::new(),
        });
        let queues = Arc::new(tokio::sync::Mutex::new(Queues { priority, normal }));
        for _ in 0..config.concurrent_pins.max(1) {
            let (inner, queues) = (inner.clone(), queues.clone());
            tokio::spawn(async move {
                loop {
                    let next = {
                        let mut q = queues.lock().await;
                        let q = &mut *q;
                        tokio::select! {
                            biased;
                            _ = inner.shutdown.cancelled() => None,
                            e = q.priority.recv() => e,
                            e = q.normal.recv() => e,
                        }
                    };
                    let Some((cid, generation)) = next else {
                        return;
                    };
                    run_operation(&inner, cid, generation).await;
                }
            });
        }
        let unpin_inner = inner.clone();
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    _ = unpin_inner.shutdown.cancelled() => None,
                    e = unpins.recv() => e,
                };
                let Some((cid, generation)) = next else {
                    return;
                };
                run_operation(&unpin_inner, cid, generation).await;
            }
        });
        PinTracker { inner }
    }

    /// Stops the workers and cancels running operations.
    pub(crate) fn shutdown(&self) {
        self.inner.shutdown.cancel();
        for op in self.inner.ops.lock().expect("ops lock").values() {
            op.cancel.cancel();
        }
    }

    /// A pin was committed: make the node hold it (or drop it when it is allocated elsewhere).
    pub(crate) fn track(&self, pin: Pin) -> Result<(), TrackerError> {
        match pin.pin_type {
            PinType::Meta => Ok(()), // never pinned in IPFS
            _ if self.is_remote(&pin) => self.enqueue(pin, OpKind::Unpin),
            _ => self.enqueue(pin, OpKind::Pin),
        }
    }

    /// A pin was removed from the shared state: unpin it from the node.
    pub(crate) fn untrack(&self, pin: Pin) -> Result<(), TrackerError> {
        self.enqueue(pin, OpKind::Unpin)
    }

    fn is_remote(&self, pin: &Pin) -> bool {
        !pin.options.is_everywhere()
            && !pin.allocations.is_empty()
            && !pin.allocations.contains(&self.inner.peer)
    }

    fn enqueue(&self, pin: Pin, kind: OpKind) -> Result<(), TrackerError> {
        let cid = pin.cid;
        let generation = self
            .inner
            .next_generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = Timestamp::now();
        let tx = {
            let mut ops = self.inner.ops.lock().expect("ops lock");
            let mut attempts = 0;
            if let Some(old) = ops.get_mut(&cid) {
                if old.kind == kind && old.phase != Phase::Error {
                    old.pin = pin; // same operation already queued or running: refresh it
                    return Ok(());
                }
                old.cancel.cancel();
                if old.kind == kind {
                    attempts = old.attempts;
                }
            }
            let recent = pin.timestamp.is_zero()
                || now.since(pin.timestamp) <= self.inner.config.priority_pin_max_age;
            let priority = kind == OpKind::Pin
                && recent
                && attempts <= self.inner.config.priority_pin_max_retries;
            ops.insert(
                cid,
                Operation {
                    kind,
                    phase: Phase::Queued,
                    pin,
                    error: String::new(),
                    attempts,
                    priority,
                    timestamp: now,
                    generation,
                    cancel: CancellationToken::new(),
                },
            );
            let tx = match (kind, priority) {
                (OpKind::Unpin, _) => &self.inner.unpin_tx,
                (OpKind::Pin, true) => &self.inner.priority_tx,
                (OpKind::Pin, false) => &self.inner.normal_tx,
            };
            tx.clone()
        };
        if tx.try_send((cid, generation)).is_err() {
            let mut ops = self.inner.ops.lock().expect("ops lock");
            if let Some(op) = ops.get_mut(&cid)
                && op.generation == generation
            {
                op.phase = Phase::Error;
                op.error = TrackerError::QueueFull.to_string();
            }
            return Err(TrackerError::QueueFull);
        }
        Ok(())
    }

    /// The status of `cid` on this peer, given its pin in the shared state (`None`: not in
    /// the pinset).
    pub(crate) async fn status(&self, cid: &Cid, in_state: Option<&Pin>) -> PinInfoShort {
        if let Some(op) = self.inner.ops.lock().expect("ops lock").get(cid) {
            return self.info(
                op.status(),
                &op.error,
                op.attempts,
                op.priority,
                op.timestamp,
            );
        }
        let Some(pin) = in_state else {
            return self.info(TrackerStatus::Unpinned, "", 0, false, Timestamp::now());
        };
        if pin.pin_type == PinType::Meta {
            return self.info(TrackerStatus::Sharded, "", 0, false, Timestamp::now());
        }
        if self.is_remote(pin) {
            return self.info(TrackerStatus::Remote, "", 0, false, Timestamp::now());
        }
        match self.inner.ipfs.pin_ls_cid(cid).await {
            Ok(s) if s.satisfies(pin.options.mode) => {
                self.info(TrackerStatus::Pinned, "", 0, false, Timestamp::now())
            }
            Ok(_) => self.info(
                TrackerStatus::UnexpectedlyUnpinned,
                "the item should be pinned but it is not",
                0,
                false,
                Timestamp::now(),
            ),
            Err(e) => self.info(
                TrackerStatus::ClusterError,
                &e.to_string(),
                0,
                false,
                Timestamp::now(),
            ),
        }
    }

    fn info(
        &self,
        status: TrackerStatus,
        error: &str,
        attempts: u32,
        priority: bool,
        ts: Timestamp,
    ) -> PinInfoShort {
        PinInfoShort {
            peername: self.inner.peername.clone(),
            ipfs_peer_id: String::new(),
            ipfs_peer_addresses: Vec::new(),
            status,
            timestamp: ts,
            error: error.to_string(),
            attempt_count: attempts,
            priority_pin: priority,
        }
    }

    /// Re-queues `cid` if its last operation failed or the node lost it. Returns whether
    /// something was re-queued.
    pub(crate) async fn recover(
        &self,
        cid: &Cid,
        in_state: Option<&Pin>,
    ) -> Result<bool, TrackerError> {
        let failed = {
            let ops = self.inner.ops.lock().expect("ops lock");
            ops.get(cid)
                .filter(|op| op.phase == Phase::Error)
                .map(|op| (op.kind, op.pin.clone()))
        };
        match failed {
            Some((OpKind::Pin, _)) if in_state.is_some() => self
                .enqueue(in_state.cloned().expect("checked"), OpKind::Pin)
                .map(|_| true),
            Some((OpKind::Pin, pin)) | Some((OpKind::Unpin, pin)) => {
                let kind = if in_state.is_some() {
                    OpKind::Pin
                } else {
                    OpKind::Unpin
                };
                self.enqueue(in_state.cloned().unwrap_or(pin), kind)
                    .map(|_| true)
            }
            None => {
                let Some(pin) = in_state else {
                    return Ok(false);
                };
                if self.status(cid, Some(pin)).await.status == TrackerStatus::UnexpectedlyUnpinned {
                    self.enqueue(pin.clone(), OpKind::Pin).map(|_| true)
                } else {
                    Ok(false)
                }
            }
        }
    }

    /// CIDs with a failed operation (for `recover` of everything).
    pub(crate) fn failed(&self) -> Vec<Cid> {
        self.inner
            .ops
            .lock()
            .expect("ops lock")
            .iter()
            .filter(|(_, op)| op.phase == Phase::Error)
            .map(|(c, _)| *c)
            .collect()
    }

    /// Operations queued or running (the `pinqueue` metric).
    pub(crate) fn queue_size(&self) -> usize {
        self.inner
            .ops
            .lock()
            .expect("ops lock")
            .values()
            .filter(|op| op.phase != Phase::Error)
            .count()
    }
}

/// Runs one queued operation, unless it was replaced or cancelled meanwhile.
async fn run_operation(inner: &Arc<Inner>, cid: Cid, generation: u64) {
    let (kind, pin, cancel) = {
        let mut ops = inner.ops.lock().expect("ops lock");
        let Some(op) = ops.get_mut(&cid) else { return };
        if op.generation != generation || op.phase != Phase::Queued {
            return;
        }
        op.phase = Phase::InProgress;
        op.timestamp = Timestamp::now();
        (op.kind, op.pin.clone(), op.cancel.clone())
    };
    let work = async {
        match kind {
            OpKind::Pin => {
                let mode = if pin.max_depth == 0 {
                    PinMode::Direct
                } else {
                    pin.options.mode
                };
                inner
                    .ipfs
                    .pin(&cid, mode, pin.options.pin_update.as_ref(), |_| {})
                    .await
            }
            OpKind::Unpin => inner.ipfs.unpin(&cid).await,
        }
    };
    let result: Result<(), ConnectorError> = tokio::select! {
        r = work => r,
        _ = cancel.cancelled() => return,
    };
    let mut ops = inner.ops.lock().expect("ops lock");
    let Some(op) = ops.get_mut(&cid) else { return };
    if op.generation != generation {
        return;
    }
    match result {
        Ok(()) => {
            ops.remove(&cid);
        }
        Err(e) => {
            tracing::warn!(%cid, error = %e, "{} failed", if kind == OpKind::Pin { "pin" } else { "unpin" });
            op.phase = Phase::Error;
            op.error = e.to_string();
            op.attempts += 1;
            op.timestamp = Timestamp::now();
        }
    }
}
