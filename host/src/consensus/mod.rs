//! Consensus: raft (the `raft` crate, raft-rs 0.7) over the pinset.
//!
//! # What it owns
//! * the raft log, hard state, configuration and snapshot metadata, in `<data_folder>/raft.redb`
//!   ([`storage`]), and the snapshot files in `<data_folder>/snapshots/`;
//! * one **driver thread** that alone owns the `RawNode`, ticks it every 100 ms, proposes,
//!   persists, applies committed entries to the [`State`] (it is the State's only writer while
//!   the peer runs), wakes the callers and publishes every applied op to subscribers (the pin
//!   tracker's `Track`/`Untrack`).
//!
//! A thread rather than a tokio task because every turn blocks on fsync; the async API talks to
//! it through a channel and gets answers on oneshots, so no runtime thread ever waits on disk.
//!
//! # Group commit
//! A turn of the driver loop takes every queued command (the first one wakes it, the rest are
//! whatever arrived while the previous turn was fsyncing), then:
//! 1. proposes all pending ops as **one raft entry per up to 1024 ops** (a batch entry rather
//!    than one entry per op: fewer log rows, fewer raft-rs calls, and `snapshot_threshold`
//!    still bounds the log in entries); the payload is a version byte then the JSON of
//!    `Vec<Op>` (our own encoding, never protobuf);
//! 2. persists the new entries and the hard state in **one redb write transaction** (one fsync)
//!    — before any message that depends on them is sent and before anything is applied;
//! 3. applies every committed entry in **one State transaction** (one fsync), which also
//!    records the applied index;
//! 4. answers every caller whose entry was applied.
//!
//! So a batch costs two fsyncs whatever its size: throughput grows with concurrency instead of
//! being capped at ~1/(2 × fsync latency). There is no linger timer: batching comes for free
//! from the time the previous batch spends on disk, so a lone caller is not delayed.
//! Measured figures (group commit alone, one peer, three peers against etcd) and what limits
//! them are in `docs/benchmarks.md`: in short, a pin waits for three fsyncs on its path (leader
//! log ‖ follower log, then the leader's State transaction) where etcd waits for one, and the
//! next gains are taking the State's fsync off the path and less CPU per pin.
//!
//! # Durability and crash safety
//! `log_pin` returns `Ok` only after its entry is in the durable log AND applied in the
//! durable State. The State stores the applied index in the same transaction as the pins, so
//! at startup raft is told `applied = State::applied_index()` and replays exactly the
//! committed entries after it (a crash between the log fsync and the State fsync loses
//! nothing). The stored commit index may lag (it rides on the next append, see [`storage`]);
//! it is raised to the applied index at startup. Conf changes are stored before the State's
//! index passes them, so a crash in between replays them (applying one twice is harmless).
//!
//! # Snapshots and compaction
//! When `snapshot_threshold` entries were applied since the last snapshot (and at most once per
//! `snapshot_interval`), the driver opens an MVCC read view of the State and a writer thread
//! streams it to `snap-<index>-<term>.ndjson` ([`State::snapshot_to`]'s format: temp file,
//! fsync, rename) while the driver keeps committing. When the file is durable its metadata is
//! recorded and the log is cut to `trailing_logs` entries before the snapshot index. The two
//! newest files are kept. The State database is itself durable at its applied index, so on
//! restart the snapshot file is only read when the State is behind it (lost or replaced
//! pinset file); the file's real job is feeding followers that fell behind the log.
//! Cost: a snapshot is O(pinset) — the same amplification IPFS Cluster's raft has; with the
//! defaults (8192 entries of up to 1024 ops, 2 minutes apart) it stays rare.
//!
//! # Startup
//! * New raft folder: the configuration is `voters` (plus this node); the log starts right
//!   after the State's applied index (a State imported with `state import` becomes the first
//!   snapshot, as Go's import writes a raft snapshot).
//! * Existing folder: the State is restored from the newest snapshot if it is behind it; a
//!   State *ahead* of the log (the raft folder was replaced) is refused with a clear error.
//! * A lone voter campaigns at once, so a single peer is leader before `start` returns; the
//!   replay of the log happens in the driver's first turns ([`Consensus::wait_for_sync`]
//!   waits for it, like Go's `WaitForSync`).
//! * Joining (voters given without this node): no configuration until the leader adds us.
//!
//! # Node ids
//! raft-rs wants `u64` ids: [`node_id`] = the first 8 bytes (big endian) of SHA-256 of the
//! peer ID's binary form, 0 mapped to 1. Collisions are ~2⁻⁶⁴ per pair; the multi-peer layer
//! keeps the id → PeerId table (conf change contexts can carry the PeerId).
//!
//! # Deadlines
//! Every write carries a deadline of `network_timeout` (default 10 s). A proposal that is not
//! applied by then — no leader, no quorum — fails with [`ConsensusError::Timeout`] (it may
//! still be applied later, as with any raft client). With no leader known, proposals wait for
//! one until their deadline; on a follower they fail at once with
//! [`ConsensusError::NotLeader`] naming the leader, for the RPC layer to forward. At shutdown
//! every pending proposal gets [`ConsensusError::Shutdown`].
//!
//! # Multi-peer: what works, what is left
//! The seams are exercised in-process by `consensus_three_peers_in_process_...` (peers wired
//! through a test [`RaftTransport`] that calls the others' [`Consensus::step`]): replication to
//! followers and their subscribers, `NotLeader { leader }` on a follower, a fourth peer joining
//! through [`Consensus::add_voter`] and catching up from a snapshot after the leader compacted
//! its log (a snapshot whose configuration lacks the receiver is re-taken, as raft-rs refuses
//! it), and fail-over to a new leader. Left for the swarm issue: a [`RaftTransport`] over
//! libp2p with our own serde wire format (not protobuf: RUSTSEC-2024-0437 affects protobuf
//! 2.28 parsing, which raft-proto pins); the id ↔ PeerId table (conf change contexts can carry
//! the PeerId); forwarding proposals to the leader (`commit_retries`, `commit_retry_delay`);
//! streaming large snapshots out of band (`Storage::snapshot` reads the file whole);
//! `report_unreachable` / `report_snapshot` feedback; leaving (a removed peer shutting down,
//! leadership transfer on shutdown); and tests over real processes.
//!
//! The raft-rs logger (slog) is bridged to `tracing` under the target `raft`.

pub mod config;
mod driver;
pub mod storage;
pub mod transport;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[cfg(test)]
use cid::Cid;
use libp2p_identity::PeerId;
use raft::RawNode;
use raft::eraftpb::{ConfChange, ConfChangeType, Message};
use sha2::Digest;
use tokio::sync::{broadcast, oneshot, watch};

pub use config::RaftConfig;
#[cfg(test)]
pub use transport::NoTransport;
pub use transport::RaftTransport;

use crate::state::{Op, State, StateError};
#[cfg(test)]
use crate::types::Pin;
use driver::{Command, Driver, Shared};
use storage::RaftStore;

/// Capacity of the applied-ops broadcast; a slower subscriber gets `Lagged` and must resync
/// from the State.
pub const APPLIED_CHANNEL: usize = 16_384;

/// Errors of the consensus. `Clone` so one failure can answer many callers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsensusError {
    #[error("this peer is not the raft leader{}", match .leader { Some(l) => format!(" (leader: {l})"), None => String::new() })]
    NotLeader { leader: Option<u64> },
    #[error("no raft leader within {}", crate::gocompat::duration::format(*.0))]
    NoLeader(Duration),
    #[error(
        "commit not confirmed within {} (no leader or no quorum); the operation may still be applied",
        crate::gocompat::duration::format(*.0)
    )]
    Timeout(Duration),
    #[error("proposal dropped by raft (leadership changed); retry")]
    Dropped,
    #[error("consensus is shut down")]
    Shutdown,
    #[error("state: {0}")]
    State(String),
    #[error("raft storage: {0}")]
    Storage(String),
    #[error("raft: {0}")]
    Raft(String),
    #[error("consensus.raft configuration: {0}")]
    Config(String),
    #[error("i/o: {0}")]
    Io(String),
}

impl From<StateError> for ConsensusError {
    fn from(e: StateError) -> Self {
        ConsensusError::State(e.to_string())
    }
}
impl From<std::io::Error> for ConsensusError {
    fn from(e: std::io::Error) -> Self {
        ConsensusError::Io(e.to_string())
    }
}
impl From<raft::Error> for ConsensusError {
    fn from(e: raft::Error) -> Self {
        ConsensusError::Raft(e.to_string())
    }
}
crate::state::from_redb_errors!(ConsensusError, |e| ConsensusError::Storage(e.to_string()));

/// An op applied to the State, as published to subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedOp {
    /// Raft index of the entry that carried it.
    pub index: u64,
    pub op: Op,
}

/// A voter added or removed, as applied on this peer (published to
/// [`Consensus::membership`] subscribers). Changes that arrive inside a snapshot are not
/// published: a peer that catches up from a snapshot learns the members from the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipChange {
    /// Raft index of the entry.
    pub index: u64,
    pub node_id: u64,
    /// `true` for an addition, `false` for a removal.
    pub added: bool,
    /// What the proposer attached ([`Consensus::add_voter_with_context`]): for cluster peers,
    /// the peer's identity and addresses.
    pub context: Vec<u8>,
}

/// The raft id of a peer (see the module notes).
pub fn node_id(peer: &PeerId) -> u64 {
    let digest = sha2::Sha256::digest(peer.to_bytes());
    let id = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    id.max(1)
}

/// Go's `CleanupRaft`: moves the raft data folder aside as `<folder>.old.0`, shifting older
/// backups up and keeping at most `backups_rotate` of them (0 = delete the folder).
pub fn cleanup_data_folder(folder: &Path, backups_rotate: u32) -> std::io::Result<()> {
    if !folder.exists() {
        return Ok(());
    }
    if backups_rotate == 0 {
        return std::fs::remove_dir_all(folder);
    }
    let backup = |i: u32| {
        let mut name = folder.as_os_str().to_owned();
        name.push(format!(".old.{i}"));
        std::path::PathBuf::from(name)
    };
    let oldest = backup(backups_rotate - 1);
    if oldest.exists() {
        std::fs::remove_dir_all(&oldest)?;
    }
    for i in (0..backups_rotate - 1).rev() {
        if backup(i).exists() {
            std::fs::rename(backup(i), backup(i + 1))?;
        }
    }
    std::fs::rename(folder, backup(0))
}

/// slog → tracing (target `raft`).
struct TracingDrain;

struct KvText(String);

impl slog::Serializer for KvText {
    fn emit_arguments(&mut self, key: slog::Key, val: &std::fmt::Arguments<'_>) -> slog::Result {
        use std::fmt::Write;
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}

impl slog::Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &slog::Record<'_>,
        values: &slog::OwnedKVList,
    ) -> Result<(), slog::Never> {
        let level = match record.level() {
            slog::Level::Critical | slog::Level::Error => tracing::Level::ERROR,
            slog::Level::Warning => tracing::Level::WARN,
            slog::Level::Info => tracing::Level::DEBUG,
            slog::Level::Debug | slog::Level::Trace => tracing::Level::TRACE,
        };
        let enabled = match level {
            tracing::Level::ERROR => tracing::enabled!(target: "raft", tracing::Level::ERROR),
            tracing::Level::WARN => tracing::enabled!(target: "raft", tracing::Level::WARN),
            tracing::Level::DEBUG => tracing::enabled!(target: "raft", tracing::Level::DEBUG),
            _ => tracing::enabled!(target: "raft", tracing::Level::TRACE),
        };
        if !enabled {
            return Ok(());
        }
        let mut kv = KvText(String::new());
        let _ = slog::KV::serialize(&record.kv(), record, &mut kv);
        let _ = slog::KV::serialize(values, record, &mut kv);
        let msg = format!("{}{}", record.msg(), kv.0);
        match level {
            tracing::Level::ERROR => tracing::error!(target: "raft", "{msg}"),
            tracing::Level::WARN => tracing::warn!(target: "raft", "{msg}"),
            tracing::Level::DEBUG => tracing::debug!(target: "raft", "{msg}"),
            _ => tracing::trace!(target: "raft", "{msg}"),
        }
        Ok(())
    }
}

/// A running raft peer over the pinset. Dropping it stops the driver (pending writes fail
/// with `Shutdown`); [`Consensus::shutdown`] does the same without blocking the runtime.
pub struct Consensus {
    id: u64,
    tx: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    leader_rx: watch::Receiver<Option<u64>>,
    applied_tx: broadcast::Sender<AppliedOp>,
    membership_tx: broadcast::Sender<MembershipChange>,
    restored_rx: watch::Receiver<u64>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    write_timeout: Duration,
}

impl std::fmt::Debug for Consensus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consensus")
            .field("id", &self.id)
            .field("leader", &self.leader())
            .field("applied", &self.applied_index())
            .finish_non_exhaustive()
    }
}

impl Consensus {
    #[cfg(test)]
    /// Opens the raft data in `data_dir` and starts a raft node with id `node_id` (see
    /// [`node_id`]). `voters` matters only while the folder is new: empty = this node alone;
    /// a list containing this node = the initial configuration (every initial peer must be
    /// started with the same list); a list *without* this node = join an existing cluster:
    /// start with no configuration and wait for its leader to add us ([`Consensus::add_voter`])
    /// and send the log or a snapshot. Blocking (opens files, may restore a snapshot): from
    /// async code call it inside `spawn_blocking`.
    pub fn start(
        data_dir: &Path,
        node_id: u64,
        voters: &[u64],
        config: RaftConfig,
        state: Arc<State>,
    ) -> Result<Consensus, ConsensusError> {
        Self::start_with_transport(
            data_dir,
            node_id,
            voters,
            config,
            state,
            Box::new(NoTransport),
        )
    }

    /// [`Consensus::start`] with a transport to other peers.
    pub fn start_with_transport(
        data_dir: &Path,
        node_id: u64,
        voters: &[u64],
        config: RaftConfig,
        state: Arc<State>,
        transport: Box<dyn RaftTransport>,
    ) -> Result<Consensus, ConsensusError> {
        config.check_raft_limits().map_err(ConsensusError::Config)?;
        if node_id == 0 {
            return Err(ConsensusError::Config(
                "node id 0 is reserved by raft".into(),
            ));
        }
        let mut store = RaftStore::open(data_dir)?;
        let mut applied = state.applied_index()?;
        let joining = !voters.is_empty() && !voters.contains(&node_id);
        if !store.is_initialized() && joining {
            // Joining: no configuration until the leader adds us and sends its log or a
            // snapshot; the pinset must start empty (Go's `--bootstrap` wipes it too).
            if applied.index > 0 || !state.is_empty()? {
                return Err(ConsensusError::Config(
                    "a peer joining an existing cluster must start with an empty pinset \
                     (run state cleanup)"
                        .into(),
                ));
            }
        } else if !store.is_initialized() {
            let mut voters = voters.to_vec();
            voters.push(node_id);
            voters.sort_unstable();
            voters.dedup();
            if applied.index == 0 {
                // The first configuration lives in a snapshot at index 1, never in the log: a
                // peer that joins later (with an empty log) must then receive a snapshot, which
                // carries the configuration, instead of entries from index 1, which do not —
                // it would otherwise believe the cluster is only the voters added since.
                state.apply(&[crate::state::OpBatch {
                    index: 1,
                    term: 1,
                    ops: Vec::new(),
                }])?;
                applied = state.applied_index()?;
            }
            driver::write_snapshot_file(&state.view()?, store.snapshot_dir())?;
            store.bootstrap(&voters, applied.index, applied.term)?;
        } else {
            let (si, st) = store.snapshot_position();
            if applied.index < si {
                let path = store.snapshot_file(si, st);
                tracing::info!(
                    applied = applied.index,
                    snapshot = si,
                    "pinset behind the raft snapshot: restoring it"
                );
                let file = std::fs::File::open(&path).map_err(|e| {
                    ConsensusError::Storage(format!(
                        "the pinset (applied index {}) is behind the raft snapshot {si} and {} cannot be read: {e}",
                        applied.index,
                        path.display()
                    ))
                })?;
                state.restore_from(file)?;
                applied = state.applied_index()?;
            }
            let last = raft::Storage::last_index(&store)?;
            if applied.index > last {
                return Err(ConsensusError::Storage(format!(
                    "the pinset (applied index {}) is ahead of the raft log (last index {last}) in {}: \
                     the raft folder was replaced; clean the state or restore the folder",
                    applied.index,
                    data_dir.display()
                )));
            }
        }
        store.raise_commit(applied.index);
        let lone_voter = store.conf_state().voters == [node_id];
        let voters_now = store.conf_state().voters.clone();

        let (election_tick, heartbeat_tick) = config.ticks();
        let cfg = raft::Config {
            id: node_id,
            election_tick,
            heartbeat_tick,
            applied: applied.index,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            check_quorum: true,
            pre_vote: true,
            ..Default::default()
        };
        cfg.validate()?;
        let logger = slog::Logger::root(TracingDrain, slog::o!()); // raft-rs adds raft_id itself
        let mut raw = RawNode::new(&cfg, store, &logger)?;
        if lone_voter {
            raw.campaign()?;
        }

        let (tx, rx) = mpsc::channel();
        let (applied_tx, _) = broadcast::channel(APPLIED_CHANNEL);
        let (leader_tx, leader_rx) = watch::channel(None);
        let (membership_tx, _) = broadcast::channel(256);
        let (restored_tx, restored_rx) = watch::channel(0);
        let shared = Arc::new(Shared::default());
        *shared.voters.lock().expect("lock") = voters_now;
        let write_timeout = config.network_timeout;
        let driver = Driver::new(
            raw,
            state,
            transport,
            rx,
            config,
            applied_tx.clone(),
            leader_tx,
            membership_tx.clone(),
            restored_tx,
            shared.clone(),
            applied.index,
        );
        let thread = std::thread::Builder::new()
            .name(format!("pinfold-raft-{node_id:x}"))
            .spawn(move || driver.run())?;
        Ok(Consensus {
            id: node_id,
            tx,
            shared,
            leader_rx,
            applied_tx,
            membership_tx,
            restored_rx,
            thread: Mutex::new(Some(thread)),
            write_timeout,
        })
    }

    /// This node's raft id.
    pub fn id(&self) -> u64 {
        self.id
    }

    #[cfg(test)]
    /// Commits a pin: returns once it is in the durable log and applied to the State.
    pub async fn log_pin(&self, pin: Pin) -> Result<(), ConsensusError> {
        self.log_ops(vec![Op::Pin(pin)]).await
    }

    #[cfg(test)]
    /// Commits an unpin: returns once it is in the durable log and applied to the State.
    pub async fn log_unpin(&self, cid: Cid) -> Result<(), ConsensusError> {
        self.log_ops(vec![Op::Unpin(cid)]).await
    }

    /// Commits several ops atomically (one raft entry, one State transaction).
    pub async fn log_ops(&self, ops: Vec<Op>) -> Result<(), ConsensusError> {
        if ops.is_empty() {
            return Ok(());
        }
        let (reply, rx) = oneshot::channel();
        let deadline = Instant::now() + self.write_timeout;
        self.send(Command::Propose {
            ops,
            reply,
            deadline,
        })?;
        rx.await.unwrap_or_else(|_| Err(self.stopped()))
    }

    /// Every op applied from now on, in log order, on this peer (leader or follower).
    pub fn subscribe(&self) -> broadcast::Receiver<AppliedOp> {
        self.applied_tx.subscribe()
    }

    /// Changes each time a snapshot from the leader replaced the State (its raft index):
    /// the pins it brought were not published as [`AppliedOp`]s, so followers of the pinset
    /// (the pin tracker) must re-read it.
    pub fn restored(&self) -> watch::Receiver<u64> {
        self.restored_rx.clone()
    }

    /// The applied index, changing once per applied batch: cheaper than [`Self::subscribe`]
    /// for a caller that only waits until something it knows about is in the State.
    pub fn applied_watch(&self) -> watch::Receiver<u64> {
        self.shared.applied_watch.subscribe()
    }

    /// Every voter added or removed from now on, on this peer.
    pub fn membership(&self) -> broadcast::Receiver<MembershipChange> {
        self.membership_tx.subscribe()
    }

    /// The leader's id, if one is known.
    pub fn leader(&self) -> Option<u64> {
        match self.shared.leader.load(Ordering::Relaxed) {
            0 => None,
            l => Some(l),
        }
    }

    /// True when this node is the leader.
    pub fn is_leader(&self) -> bool {
        self.leader() == Some(self.id)
    }

    /// The voters of the current configuration, sorted.
    pub fn peers(&self) -> Vec<u64> {
        let mut v = self.shared.voters.lock().expect("lock").clone();
        v.sort_unstable();
        v
    }

    /// The index of the last entry applied to the State.
    pub fn applied_index(&self) -> u64 {
        self.shared.applied.load(Ordering::Relaxed)
    }

    /// The current raft term.
    pub fn term(&self) -> u64 {
        self.shared.term.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    /// `(first_index, last_index, snapshot_index)` of the raft log, as of the last loop turn.
    pub fn log_bounds(&self) -> (u64, u64, u64) {
        (
            self.shared.first_index.load(Ordering::Relaxed),
            self.shared.last_index.load(Ordering::Relaxed),
            self.shared.snapshot_index.load(Ordering::Relaxed),
        )
    }

    /// Waits until a leader is known.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<u64, ConsensusError> {
        let mut rx = self.leader_rx.clone();
        match tokio::time::timeout(timeout, rx.wait_for(|l| l.is_some())).await {
            Ok(Ok(l)) => Ok(l.expect("some")),
            Ok(Err(_)) => Err(self.stopped()),
            Err(_) => Err(ConsensusError::NoLeader(timeout)),
        }
    }

    /// Waits until a leader is known and this peer has applied every entry of its log (Go's
    /// `WaitForSync`): after a restart, the replay of the log is then complete.
    pub async fn wait_for_sync(&self, timeout: Duration) -> Result<(), ConsensusError> {
        let deadline = tokio::time::Instant::now() + timeout;
        self.wait_for_leader(timeout).await?;
        loop {
            let last = self.shared.last_index.load(Ordering::Relaxed);
            if last > 0 && self.applied_index() >= last {
                return Ok(());
            }
            // the send fails once the driver is gone
            if self.tx.send(Command::Nop).is_err() {
                return Err(self.stopped());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ConsensusError::Timeout(timeout));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Feeds a raft message received from another peer.
    pub fn step(&self, msg: Message) -> Result<(), ConsensusError> {
        self.send(Command::Step(Box::new(msg)))
    }

    #[cfg(test)]
    /// Adds a voter (through the log; only on the leader).
    pub async fn add_voter(&self, id: u64) -> Result<(), ConsensusError> {
        self.conf_change(id, ConfChangeType::AddNode, Vec::new())
            .await
    }

    /// Adds a voter with `context` carried in the entry (every peer sees it in
    /// [`MembershipChange::context`] when it applies the change).
    pub async fn add_voter_with_context(
        &self,
        id: u64,
        context: Vec<u8>,
    ) -> Result<(), ConsensusError> {
        self.conf_change(id, ConfChangeType::AddNode, context).await
    }

    /// Removes a voter (through the log; only on the leader).
    pub async fn remove_voter(&self, id: u64) -> Result<(), ConsensusError> {
        if self.peers() == [id] {
            return Err(ConsensusError::Raft(
                "cannot remove ourselves from a 1-peer cluster".into(),
            ));
        }
        self.conf_change(id, ConfChangeType::RemoveNode, Vec::new())
            .await
    }

    /// Hands leadership to `id` (a voter that is up to date); returns at once, the transfer
    /// happens within an election timeout or is abandoned.
    pub fn transfer_leader(&self, id: u64) -> Result<(), ConsensusError> {
        self.send(Command::TransferLeader(id))
    }

    async fn conf_change(
        &self,
        id: u64,
        ty: ConfChangeType,
        context: Vec<u8>,
    ) -> Result<(), ConsensusError> {
        let mut cc = ConfChange::default();
        cc.set_change_type(ty);
        cc.node_id = id;
        cc.context = context.into();
        let (reply, rx) = oneshot::channel();
        let deadline = Instant::now() + self.write_timeout;
        self.send(Command::ConfChange {
            cc,
            reply,
            deadline,
        })?;
        rx.await.unwrap_or_else(|_| Err(self.stopped()))
    }

    #[cfg(test)]
    /// Takes a snapshot now (if anything was applied since the last one) and compacts the
    /// log; returns the snapshot's index.
    pub async fn snapshot(&self) -> Result<u64, ConsensusError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Snapshot { reply })?;
        rx.await.unwrap_or_else(|_| Err(self.stopped()))
    }

    /// Stops the driver: pending writes fail with `Shutdown`; returns when the files are
    /// closed.
    pub async fn shutdown(&self) -> Result<(), ConsensusError> {
        let _ = self.tx.send(Command::Shutdown);
        let handle = self.thread.lock().expect("lock").take();
        if let Some(h) = handle {
            tokio::task::spawn_blocking(move || h.join())
                .await
                .map_err(|e| ConsensusError::Io(e.to_string()))?
                .map_err(|_| ConsensusError::Storage("the raft driver panicked".into()))?;
        }
        match self.shared.failure.lock().expect("lock").clone() {
            Some(f) => Err(ConsensusError::Storage(f)),
            None => Ok(()),
        }
    }

    fn send(&self, cmd: Command) -> Result<(), ConsensusError> {
        self.tx.send(cmd).map_err(|_| self.stopped())
    }

    fn stopped(&self) -> ConsensusError {
        match self.shared.failure.lock().expect("lock").clone() {
            Some(f) => ConsensusError::Storage(f),
            None => ConsensusError::Shutdown,
        }
    }
}

impl Drop for Consensus {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Shutdown);
        if let Some(h) = self.thread.lock().expect("lock").take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests;
