//! The driver thread: the only owner of the `RawNode`, the only writer of the raft log and of
//! the State. See the module notes of `consensus` for the loop's shape and its durability order.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use protobuf::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeType, ConfChangeV2, Entry, EntryType, Message, Snapshot,
};
use raft::{RawNode, StateRole, Storage};
use tokio::sync::{broadcast, oneshot, watch};

use super::config::{RaftConfig, TICK};
use super::storage::RaftStore;
use super::transport::RaftTransport;
use super::{AppliedOp, ConsensusError, MembershipChange};
use crate::state::{Op, OpBatch, SnapshotHeader, State, StateView};

/// Most ops carried by one raft entry; a larger drain is split over several entries.
pub(crate) const MAX_OPS_PER_ENTRY: usize = 1024;
/// Commands handled per loop turn at most, so ticks are never starved.
const MAX_DRAIN: usize = 65_536;
/// Snapshot files kept (the newest and the one before).
const SNAPSHOTS_KEPT: usize = 2;
/// Version byte of the entry payload (JSON of `Vec<Op>` follows).
const OPS_V1: u8 = 1;

pub(crate) type Reply = oneshot::Sender<Result<(), ConsensusError>>;

pub(crate) enum Command {
    Propose {
        ops: Vec<Op>,
        reply: Reply,
        deadline: Instant,
    },
    ConfChange {
        cc: ConfChange,
        reply: Reply,
        deadline: Instant,
    },
    Step(Box<Message>),
    TransferLeader(u64),
    #[cfg(test)]
    Snapshot {
        reply: oneshot::Sender<Result<u64, ConsensusError>>,
    },
    /// Wakes the loop (status refresh).
    Nop,
    Shutdown,
}

/// What the handle reads without asking the driver.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub leader: AtomicU64,
    pub term: AtomicU64,
    pub applied: AtomicU64,
    pub first_index: AtomicU64,
    pub last_index: AtomicU64,
    pub snapshot_index: AtomicU64,
    pub voters: Mutex<Vec<u64>>,
    pub failure: Mutex<Option<String>>,
    /// The applied index again, for waiters: changes once per applied batch (not per op), so
    /// a caller waiting for "my op is applied here" wakes once per State transaction instead
    /// of receiving every op on the `applied` broadcast.
    pub applied_watch: watch::Sender<u64>,
}

pub(crate) fn encode_ops(ops: &[Op]) -> Vec<u8> {
    let mut v = vec![OPS_V1];
    serde_json::to_writer(&mut v, ops).expect("ops always serialise");
    v
}

pub(crate) fn decode_ops(data: &[u8]) -> Result<Vec<Op>, String> {
    match data.split_first() {
        None => Ok(Vec::new()),
        Some((&OPS_V1, rest)) => serde_json::from_slice(rest).map_err(|e| e.to_string()),
        Some((v, _)) => Err(format!("unknown entry payload version {v}")),
    }
}

/// Writes the snapshot of `view` to `<dir>/snap-<index>-<term>.ndjson` durably (temporary
/// file, fsync, rename, fsync of the folder) and returns its header.
pub(crate) fn write_snapshot_file(
    view: &StateView,
    dir: &Path,
) -> Result<SnapshotHeader, ConsensusError> {
    let applied = view.applied_index()?;
    let path = super::storage::snapshot_path(dir, applied.index, applied.term);
    let tmp = path.with_extension("tmp");
    let file = std::fs::File::create(&tmp)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let header = view.write_snapshot(&mut w)?;
    w.flush()?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(header)
}

fn write_file_durably(path: &Path, data: &[u8]) -> Result<(), ConsensusError> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

struct Waiter {
    term: u64,
    reply: Reply,
    deadline: Instant,
}

struct SnapJob {
    handle: JoinHandle<Result<SnapshotHeader, ConsensusError>>,
    conf: raft::eraftpb::ConfState,
}

pub(crate) struct Driver {
    pub raw: RawNode<RaftStore>,
    pub state: Arc<State>,
    pub transport: Box<dyn RaftTransport>,
    pub rx: Receiver<Command>,
    pub config: RaftConfig,
    pub applied_tx: broadcast::Sender<AppliedOp>,
    pub leader_tx: watch::Sender<Option<u64>>,
    pub membership_tx: broadcast::Sender<MembershipChange>,
    pub restored_tx: watch::Sender<u64>,
    pub shared: Arc<Shared>,
    pub applied: u64,
    pending: Vec<(Vec<Op>, Reply, Instant)>,
    pending_cc: Vec<(ConfChange, Reply, Instant)>,
    waiters: BTreeMap<u64, Vec<Waiter>>,
    conf_errors: HashMap<u64, String>,
    last_snapshot_at: Instant,
    snapshot_job: Option<SnapJob>,
    /// Forced snapshot requests, with the applied index they must cover.
    snapshot_replies: Vec<(u64, oneshot::Sender<Result<u64, ConsensusError>>)>,
}

impl Driver {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        raw: RawNode<RaftStore>,
        state: Arc<State>,
        transport: Box<dyn RaftTransport>,
        rx: Receiver<Command>,
        config: RaftConfig,
        applied_tx: broadcast::Sender<AppliedOp>,
        leader_tx: watch::Sender<Option<u64>>,
        membership_tx: broadcast::Sender<MembershipChange>,
        restored_tx: watch::Sender<u64>,
        shared: Arc<Shared>,
        applied: u64,
    ) -> Driver {
        Driver {
            raw,
            state,
            transport,
            rx,
            config,
            applied_tx,
            leader_tx,
            membership_tx,
            restored_tx,
            shared,
            applied,
            pending: Vec::new(),
            pending_cc: Vec::new(),
            waiters: BTreeMap::new(),
            conf_errors: HashMap::new(),
            last_snapshot_at: Instant::now(),
            snapshot_job: None,
            snapshot_replies: Vec::new(),
        }
    }

    /// Runs until shutdown, a dropped handle, or a fatal storage error.
    pub fn run(mut self) {
        self.publish_status();
        let mut next_tick = Instant::now() + TICK;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            let mut shutdown = match self.rx.recv_timeout(wait) {
                Ok(cmd) => self.handle(cmd),
                Err(RecvTimeoutError::Timeout) => false,
                Err(RecvTimeoutError::Disconnected) => true,
            };
            // Group commit: everything queued while we were busy joins this turn.
            for _ in 0..MAX_DRAIN {
                match self.rx.try_recv() {
                    Ok(cmd) => shutdown |= self.handle(cmd),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        shutdown = true;
                        break;
                    }
                }
            }
            if Instant::now() >= next_tick {
                self.raw.tick();
                next_tick = Instant::now() + TICK;
            }
            if let Err(e) = self.turn() {
                tracing::error!(error = %e, "consensus stopped on a storage error");
                *self.shared.failure.lock().expect("lock") = Some(e.to_string());
                self.stop(e);
                return;
            }
            if shutdown {
                self.stop(ConsensusError::Shutdown);
                return;
            }
        }
    }

    /// Returns true on shutdown.
    fn handle(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Propose {
                ops,
                reply,
                deadline,
            } => self.pending.push((ops, reply, deadline)),
            Command::ConfChange {
                cc,
                reply,
                deadline,
            } => self.pending_cc.push((cc, reply, deadline)),
            Command::Step(msg) => {
                if let Err(e) = self.raw.step(*msg) {
                    tracing::debug!(error = %e, "raft message refused");
                }
            }
            #[cfg(test)]
            Command::Snapshot { reply } => self.snapshot_replies.push((self.applied, reply)),
            Command::TransferLeader(id) => self.raw.transfer_leader(id),
            Command::Nop => {}
            Command::Shutdown => return true,
        }
        false
    }

    /// One turn: propose what is pending, process every Ready, expire, snapshot.
    fn turn(&mut self) -> Result<(), ConsensusError> {
        self.propose_pending();
        while self.raw.has_ready() {
            self.on_ready()?;
            self.propose_pending();
        }
        self.publish_status();
        self.expire(Instant::now());
        self.maybe_snapshot()
    }

    fn stop(&mut self, why: ConsensusError) {
        for (_, reply, _) in self.pending.drain(..) {
            let _ = reply.send(Err(why.clone()));
        }
        for (_, reply, _) in self.pending_cc.drain(..) {
            let _ = reply.send(Err(why.clone()));
        }
        for (_, ws) in std::mem::take(&mut self.waiters) {
            for w in ws {
                let _ = w.reply.send(Err(why.clone()));
            }
        }
        // Let a snapshot being written finish, so no read transaction outlives the driver.
        if let Some(job) = self.snapshot_job.take()
            && let Ok(Ok(h)) = job.handle.join()
            && let Err(e) = self.finish_snapshot(h, &job.conf)
        {
            tracing::warn!(error = %e, "snapshot not recorded at shutdown");
        }
        for (_, r) in self.snapshot_replies.drain(..) {
            let _ = r.send(Err(why.clone()));
        }
        self.leader_tx.send_replace(None);
        self.shared.leader.store(0, Ordering::Relaxed);
    }

    fn propose_pending(&mut self) {
        if self.pending.is_empty() && self.pending_cc.is_empty() {
            return;
        }
        if self.raw.raft.state != StateRole::Leader {
            let leader = self.raw.raft.leader_id;
            if leader != raft::INVALID_ID {
                let err = ConsensusError::NotLeader {
                    leader: Some(leader),
                };
                for (_, reply, _) in self.pending.drain(..) {
                    let _ = reply.send(Err(err.clone()));
                }
                for (_, reply, _) in self.pending_cc.drain(..) {
                    let _ = reply.send(Err(err.clone()));
                }
            }
            // No leader known: keep them until one is elected or their deadline passes.
            return;
        }
        for (cc, reply, deadline) in std::mem::take(&mut self.pending_cc) {
            match self.raw.propose_conf_change(Vec::new(), cc) {
                Ok(()) => self.register(vec![(reply, deadline)]),
                Err(e) => {
                    let _ = reply.send(Err(ConsensusError::Raft(e.to_string())));
                }
            }
        }
        let mut ops = Vec::new();
        let mut replies = Vec::new();
        for (o, reply, deadline) in std::mem::take(&mut self.pending) {
            ops.extend(o);
            replies.push((reply, deadline));
            if ops.len() >= MAX_OPS_PER_ENTRY {
                self.propose_entry(std::mem::take(&mut ops), std::mem::take(&mut replies));
            }
        }
        if !replies.is_empty() {
            self.propose_entry(ops, replies);
        }
    }

    fn propose_entry(&mut self, ops: Vec<Op>, replies: Vec<(Reply, Instant)>) {
        match self.raw.propose(Vec::new(), encode_ops(&ops)) {
            Ok(()) => self.register(replies),
            Err(e) => {
                let err = match e {
                    raft::Error::ProposalDropped => ConsensusError::Dropped,
                    e => ConsensusError::Raft(e.to_string()),
                };
                for (reply, _) in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }

    /// Waiters of the entry just appended by the leader (the last one of its log).
    fn register(&mut self, replies: Vec<(Reply, Instant)>) {
        let index = self.raw.raft.raft_log.last_index();
        let term = self.raw.raft.term;
        let ws = self.waiters.entry(index).or_default();
        for (reply, deadline) in replies {
            ws.push(Waiter {
                term,
                reply,
                deadline,
            });
        }
    }

    fn on_ready(&mut self) -> Result<(), ConsensusError> {
        let mut rd = self.raw.ready();
        // A leader may send appends before its own fsync (raft thesis §10.2.1): it counts
        // itself towards the quorum only once its entries are persisted.
        if !rd.messages().is_empty() {
            self.transport.send(rd.take_messages());
        }
        if !rd.snapshot().is_empty() {
            self.install_snapshot(rd.snapshot().clone())?;
        }
        let mut committed = rd.take_committed_entries();
        // Entries and hard state: one redb transaction, one fsync, before any vote or append
        // response leaves and before anything is applied.
        self.raw.mut_store().persist(rd.entries(), rd.hs())?;
        let persisted = rd.take_persisted_messages();
        if !persisted.is_empty() {
            self.transport.send(persisted);
        }
        let mut light = self.raw.advance_append(rd);
        if let Some(commit) = light.commit_index() {
            self.raw.mut_store().raise_commit(commit);
        }
        let msgs = light.take_messages();
        if !msgs.is_empty() {
            self.transport.send(msgs);
        }
        committed.extend(light.take_committed_entries());
        if !committed.is_empty() {
            self.apply(committed)?;
        }
        self.raw.advance_apply();
        Ok(())
    }

    fn install_snapshot(&mut self, snap: Snapshot) -> Result<(), ConsensusError> {
        let meta = snap.get_metadata().clone();
        tracing::info!(
            index = meta.index,
            term = meta.term,
            "installing raft snapshot"
        );
        let path = self.raw.store().snapshot_file(meta.index, meta.term);
        write_file_durably(&path, &snap.data)?;
        let header = self.state.restore_from(&snap.data[..])?;
        if header.index != meta.index {
            return Err(ConsensusError::Storage(format!(
                "snapshot data is at index {}, its metadata at {}",
                header.index, meta.index
            )));
        }
        self.raw.mut_store().install_snapshot(&meta)?;
        self.applied = meta.index;
        self.shared.applied_watch.send_replace(self.applied);
        *self.shared.voters.lock().expect("lock") = meta.get_conf_state().voters.clone();
        self.restored_tx.send_replace(meta.index);
        Ok(())
    }

    fn apply(&mut self, entries: Vec<Entry>) -> Result<(), ConsensusError> {
        let mut batches = Vec::with_capacity(entries.len());
        for e in entries {
            if e.index <= self.applied {
                continue;
            }
            match e.get_entry_type() {
                EntryType::EntryNormal => {
                    let ops = decode_ops(&e.data).map_err(|err| {
                        ConsensusError::Storage(format!("raft entry {}: {err}", e.index))
                    })?;
                    batches.push(OpBatch {
                        index: e.index,
                        term: e.term,
                        ops,
                    });
                }
                EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                    // Everything before it first; the conf state is stored (durably) before the
                    // state's index passes the entry, so a crash in between replays it.
                    self.apply_batches(&mut batches)?;
                    self.apply_conf_change(&e)?;
                    batches.push(OpBatch {
                        index: e.index,
                        term: e.term,
                        ops: Vec::new(),
                    });
                    self.apply_batches(&mut batches)?;
                }
            }
        }
        self.apply_batches(&mut batches)
    }

    fn apply_conf_change(&mut self, e: &Entry) -> Result<(), ConsensusError> {
        let mut change = None;
        let result = if e.get_entry_type() == EntryType::EntryConfChange {
            ConfChange::parse_from_bytes(&e.data)
                .map_err(|err| err.to_string())
                .and_then(|cc| {
                    change = Some(MembershipChange {
                        index: e.index,
                        node_id: cc.node_id,
                        added: cc.get_change_type() != ConfChangeType::RemoveNode,
                        context: cc.context.to_vec(),
                    });
                    self.raw
                        .apply_conf_change(&cc)
                        .map_err(|err| err.to_string())
                })
        } else {
            ConfChangeV2::parse_from_bytes(&e.data)
                .map_err(|err| err.to_string())
                .and_then(|cc| {
                    self.raw
                        .apply_conf_change(&cc)
                        .map_err(|err| err.to_string())
                })
        };
        match result {
            Ok(cs) => {
                tracing::info!(index = e.index, voters = ?cs.voters, "raft configuration changed");
                *self.shared.voters.lock().expect("lock") = cs.voters.clone();
                self.raw.mut_store().set_conf_state(cs)?;
                if let Some(c) = change {
                    let _ = self.membership_tx.send(c);
                }
            }
            Err(err) => {
                tracing::warn!(index = e.index, error = %err, "conf change refused");
                self.conf_errors.insert(e.index, err);
            }
        }
        Ok(())
    }

    /// Applies `batches` in one State transaction, publishes the ops, wakes the waiters.
    fn apply_batches(&mut self, batches: &mut Vec<OpBatch>) -> Result<(), ConsensusError> {
        let Some(last) = batches.last().map(|b| b.index) else {
            return Ok(());
        };
        let done = self.state.apply(batches)?;
        for b in done {
            for op in &b.ops {
                // no receiver is fine; a lagging one learns it missed ops (Lagged) and resyncs
                let _ = self.applied_tx.send(AppliedOp {
                    index: b.index,
                    op: op.clone(),
                });
            }
        }
        self.applied = self.applied.max(last);
        self.shared.applied.store(self.applied, Ordering::Relaxed);
        self.shared.applied_watch.send_replace(self.applied);
        let terms: HashMap<u64, u64> = batches.iter().map(|b| (b.index, b.term)).collect();
        while let Some(entry) = self.waiters.first_entry() {
            if *entry.key() > last {
                break;
            }
            let (index, ws) = entry.remove_entry();
            let conf_error = self.conf_errors.remove(&index);
            for w in ws {
                let result = match (&conf_error, terms.get(&index)) {
                    (Some(err), _) => Err(ConsensusError::Raft(err.clone())),
                    (None, Some(t)) if *t == w.term => Ok(()),
                    _ => Err(ConsensusError::Dropped),
                };
                let _ = w.reply.send(result);
            }
        }
        self.conf_errors.retain(|i, _| *i > last);
        batches.clear();
        Ok(())
    }

    fn expire(&mut self, now: Instant) {
        let err = ConsensusError::Timeout(self.config.network_timeout);
        let mut keep = Vec::new();
        for (ops, reply, deadline) in self.pending.drain(..) {
            if deadline <= now {
                let _ = reply.send(Err(err.clone()));
            } else {
                keep.push((ops, reply, deadline));
            }
        }
        self.pending = keep;
        let mut keep = Vec::new();
        for (cc, reply, deadline) in self.pending_cc.drain(..) {
            if deadline <= now {
                let _ = reply.send(Err(err.clone()));
            } else {
                keep.push((cc, reply, deadline));
            }
        }
        self.pending_cc = keep;
        // Waiters are registered in index order with one timeout, so the oldest come first.
        while let Some(mut entry) = self.waiters.first_entry() {
            if entry.get().iter().all(|w| w.deadline > now) {
                break;
            }
            let (expired, kept): (Vec<Waiter>, Vec<Waiter>) = std::mem::take(entry.get_mut())
                .into_iter()
                .partition(|w| w.deadline <= now);
            for w in expired {
                let _ = w.reply.send(Err(err.clone()));
            }
            if kept.is_empty() {
                entry.remove();
            } else {
                *entry.get_mut() = kept;
                break;
            }
        }
    }

    fn publish_status(&mut self) {
        let leader = self.raw.raft.leader_id;
        self.shared.leader.store(leader, Ordering::Relaxed);
        self.shared
            .term
            .store(self.raw.raft.term, Ordering::Relaxed);
        self.shared.applied.store(self.applied, Ordering::Relaxed);
        let applied = self.applied;
        self.shared.applied_watch.send_if_modified(|a| {
            let changed = *a != applied;
            *a = applied;
            changed
        });
        let store = self.raw.store();
        self.shared
            .first_index
            .store(store.first_index().unwrap_or(0), Ordering::Relaxed);
        self.shared
            .last_index
            .store(store.last_index().unwrap_or(0), Ordering::Relaxed);
        self.shared
            .snapshot_index
            .store(store.snapshot_position().0, Ordering::Relaxed);
        let leader = (leader != raft::INVALID_ID).then_some(leader);
        self.leader_tx.send_if_modified(|l| {
            let changed = *l != leader;
            *l = leader;
            changed
        });
    }

    fn maybe_snapshot(&mut self) -> Result<(), ConsensusError> {
        if let Some(job) = &self.snapshot_job {
            if !job.handle.is_finished() {
                return Ok(());
            }
            let job = self.snapshot_job.take().expect("job");
            match job.handle.join() {
                Ok(Ok(header)) => self.finish_snapshot(header, &job.conf)?,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "raft snapshot failed; will retry");
                    for (_, r) in self.snapshot_replies.drain(..) {
                        let _ = r.send(Err(e.clone()));
                    }
                }
                Err(_) => {
                    return Err(ConsensusError::Storage(
                        "the snapshot writer panicked".into(),
                    ));
                }
            }
        }
        let (snap_index, _) = self.raw.store().snapshot_position();
        let due = self.applied.saturating_sub(snap_index) >= self.config.snapshot_threshold
            && self.last_snapshot_at.elapsed() >= self.config.snapshot_interval;
        let asked = !self.snapshot_replies.is_empty() || self.raw.store().snapshot_wanted();
        if !due && !asked {
            return Ok(());
        }
        if self.applied <= snap_index {
            for (_, r) in self.snapshot_replies.drain(..) {
                let _ = r.send(Ok(snap_index));
            }
            return Ok(());
        }
        // The view and the configuration are taken at the same point of the loop: both are
        // exactly as of `self.applied`.
        let view = self.state.view()?;
        let conf = self.raw.raft.prs().conf().to_conf_state();
        let dir: PathBuf = self.raw.store().snapshot_dir().to_owned();
        let handle = std::thread::Builder::new()
            .name("pinfold-raft-snapshot".into())
            .spawn(move || write_snapshot_file(&view, &dir))?;
        self.snapshot_job = Some(SnapJob { handle, conf });
        self.last_snapshot_at = Instant::now();
        Ok(())
    }

    fn finish_snapshot(
        &mut self,
        header: SnapshotHeader,
        conf: &raft::eraftpb::ConfState,
    ) -> Result<(), ConsensusError> {
        let compact_to = header.index.saturating_sub(self.config.trailing_logs);
        let store = self.raw.mut_store();
        store.record_snapshot(header.index, header.term, conf, compact_to)?;
        tracing::info!(
            index = header.index,
            pins = header.pins,
            first_index = store.first_index().unwrap_or(0),
            "raft snapshot taken, log compacted"
        );
        prune_snapshots(store.snapshot_dir(), SNAPSHOTS_KEPT);
        self.publish_status();
        // answer the requests this snapshot covers; later ones start another
        let (covered, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.snapshot_replies)
            .into_iter()
            .partition(|(min, _)| *min <= header.index);
        self.snapshot_replies = later;
        for (_, r) in covered {
            let _ = r.send(Ok(header.index));
        }
        Ok(())
    }
}

/// Removes all but the newest `keep` snapshot files (names sort by index).
fn prune_snapshots(dir: &Path, keep: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("snap-") && n.ends_with(".ndjson"))
        })
        .collect();
    files.sort();
    let n = files.len().saturating_sub(keep);
    for f in &files[..n] {
        if let Err(e) = std::fs::remove_file(f) {
            tracing::warn!(file = %f.display(), error = %e, "old snapshot not removed");
        }
    }
}
