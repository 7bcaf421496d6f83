//! The persistent raft log: a `raft::Storage` in its own redb file (`<data_folder>/raft.redb`).
//!
//! Tables: `entries` (index → encoded entry) and `meta` (hard state, conf state, the last
//! compacted entry, the latest snapshot's metadata). Entries are encoded by us, not as
//! protobuf: `[type u8][term u64 BE][context length u32 BE][context][data]`, the index being
//! the key — so reading our own log never goes through protobuf 2 parsing.
//!
//! raft-rs only reads through the `Storage` trait; every write happens in the driver's Ready
//! loop through the methods below, each ONE redb write transaction (one fsync). Small
//! metadata (hard state, conf state, first/last index and term) is cached in memory, so `term()`
//! of the last entry and the index queries raft makes on every step cost no disk access.
//!
//! The commit index inside the stored hard state may lag: it is written with the next append
//! rather than in a transaction of its own (which would add a second fsync per batch). That is
//! safe because the commit index is only a hint to raft, and at startup it is raised to the
//! state's applied index (entries are applied only once committed).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use raft::eraftpb::{ConfState, Entry, EntryType, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, Storage, StorageError};
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::ConsensusError;

const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const HARD_STATE: &str = "hard_state";
const CONF_STATE: &str = "conf_state";
const TRUNCATED: &str = "truncated";
const SNAPSHOT: &str = "snapshot";

/// The ConfState as stored (JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct ConfRepr {
    voters: Vec<u64>,
    learners: Vec<u64>,
    voters_outgoing: Vec<u64>,
    learners_next: Vec<u64>,
    auto_leave: bool,
}

impl From<&ConfState> for ConfRepr {
    fn from(c: &ConfState) -> Self {
        ConfRepr {
            voters: c.voters.clone(),
            learners: c.learners.clone(),
            voters_outgoing: c.voters_outgoing.clone(),
            learners_next: c.learners_next.clone(),
            auto_leave: c.auto_leave,
        }
    }
}

impl From<&ConfRepr> for ConfState {
    fn from(c: &ConfRepr) -> Self {
        ConfState {
            voters: c.voters.clone(),
            learners: c.learners.clone(),
            voters_outgoing: c.voters_outgoing.clone(),
            learners_next: c.learners_next.clone(),
            auto_leave: c.auto_leave,
            ..Default::default()
        }
    }
}

/// Metadata of the latest snapshot (its data is a file in the snapshot folder).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct SnapRepr {
    index: u64,
    term: u64,
    conf: ConfRepr,
}

fn encode_entry(e: &Entry) -> Vec<u8> {
    let mut v = Vec::with_capacity(13 + e.context.len() + e.data.len());
    v.push(e.get_entry_type() as u8);
    v.extend_from_slice(&e.term.to_be_bytes());
    v.extend_from_slice(&(e.context.len() as u32).to_be_bytes());
    v.extend_from_slice(&e.context);
    v.extend_from_slice(&e.data);
    v
}

fn decode_entry(index: u64, b: &[u8]) -> Result<Entry, String> {
    let bad = || format!("malformed raft log entry {index}");
    if b.len() < 13 {
        return Err(bad());
    }
    let ty = match b[0] {
        0 => EntryType::EntryNormal,
        1 => EntryType::EntryConfChange,
        2 => EntryType::EntryConfChangeV2,
        _ => return Err(bad()),
    };
    let term = u64::from_be_bytes(b[1..9].try_into().expect("8 bytes"));
    let clen = u32::from_be_bytes(b[9..13].try_into().expect("4 bytes")) as usize;
    let ctx = b.get(13..13 + clen).ok_or_else(bad)?;
    let mut e = Entry::default();
    e.set_entry_type(ty);
    e.term = term;
    e.index = index;
    e.context = ctx.to_vec().into();
    e.data = b[13 + clen..].to_vec().into();
    Ok(e)
}

fn encode_hs(hs: &HardState) -> [u8; 24] {
    let mut b = [0u8; 24];
    b[..8].copy_from_slice(&hs.term.to_be_bytes());
    b[8..16].copy_from_slice(&hs.vote.to_be_bytes());
    b[16..].copy_from_slice(&hs.commit.to_be_bytes());
    b
}

fn decode_u64s<const N: usize>(b: &[u8]) -> Option<[u64; N]> {
    if b.len() != N * 8 {
        return None;
    }
    let mut out = [0u64; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u64::from_be_bytes(b[i * 8..i * 8 + 8].try_into().ok()?);
    }
    Some(out)
}

/// `<dir>/snap-<index, 20 digits>-<term>.ndjson`: names sort by index.
pub fn snapshot_path(dir: &Path, index: u64, term: u64) -> PathBuf {
    dir.join(format!("snap-{index:020}-{term}.ndjson"))
}

fn other(e: impl std::fmt::Display) -> raft::Error {
    raft::Error::Store(StorageError::Other(e.to_string().into()))
}

/// The raft log, hard state, conf state and snapshot metadata, durable in redb.
pub struct RaftStore {
    db: Database,
    snap_dir: PathBuf,
    hard_state: HardState,
    conf: ConfState,
    /// Index and term of the last compacted entry (the entry before `first_index`).
    truncated: (u64, u64),
    /// Index and term of the last entry (`truncated` when the log is empty).
    last: (u64, u64),
    snapshot: SnapRepr,
    /// Set when raft asked for a snapshot newer than the latest one (a follower needs it).
    snapshot_wanted: AtomicBool,
}

impl std::fmt::Debug for RaftStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftStore")
            .field("hard_state", &self.hard_state)
            .field("truncated", &self.truncated)
            .field("last", &self.last)
            .field("snapshot", &self.snapshot)
            .finish_non_exhaustive()
    }
}

impl RaftStore {
    /// Opens (or creates) `<dir>/raft.redb`; snapshots go to `<dir>/snapshots/`.
    pub fn open(dir: &Path) -> Result<RaftStore, ConsensusError> {
        std::fs::create_dir_all(dir.join("snapshots"))?;
        let db = Database::create(dir.join("raft.redb"))?;
        let tx = db.begin_write()?;
        tx.open_table(ENTRIES)?;
        tx.open_table(META)?;
        tx.commit()?;
        let tx = db.begin_read()?;
        let meta = tx.open_table(META)?;
        let bad = |what: &str| ConsensusError::Storage(format!("raft.redb: malformed {what}"));
        let hard_state = match meta.get(HARD_STATE)? {
            Some(v) => {
                let [term, vote, commit] =
                    decode_u64s::<3>(v.value()).ok_or_else(|| bad("hard state"))?;
                HardState {
                    term,
                    vote,
                    commit,
                    ..Default::default()
                }
            }
            None => HardState::default(),
        };
        let conf: ConfRepr = match meta.get(CONF_STATE)? {
            Some(v) => serde_json::from_slice(v.value()).map_err(|_| bad("conf state"))?,
            None => ConfRepr::default(),
        };
        let truncated = match meta.get(TRUNCATED)? {
            Some(v) => {
                let [i, t] = decode_u64s::<2>(v.value()).ok_or_else(|| bad("truncation mark"))?;
                (i, t)
            }
            None => (0, 0),
        };
        let snapshot: SnapRepr = match meta.get(SNAPSHOT)? {
            Some(v) => serde_json::from_slice(v.value()).map_err(|_| bad("snapshot metadata"))?,
            None => SnapRepr::default(),
        };
        let entries = tx.open_table(ENTRIES)?;
        let last = match entries.last()? {
            Some((k, v)) => {
                let e = decode_entry(k.value(), v.value()).map_err(ConsensusError::Storage)?;
                (e.index, e.term)
            }
            None => truncated,
        };
        drop(entries);
        drop(meta);
        drop(tx);
        Ok(RaftStore {
            db,
            snap_dir: dir.join("snapshots"),
            hard_state,
            conf: (&conf).into(),
            truncated,
            last,
            snapshot,
            snapshot_wanted: AtomicBool::new(false),
        })
    }

    /// True once a configuration was stored (the node was bootstrapped or joined).
    pub fn is_initialized(&self) -> bool {
        !self.conf.voters.is_empty() || !self.conf.learners.is_empty()
    }

    /// First start: the log begins after `index`/`term` (the state's applied position, which
    /// becomes the first snapshot), with `voters` as the configuration.
    pub fn bootstrap(
        &mut self,
        voters: &[u64],
        index: u64,
        term: u64,
    ) -> Result<(), ConsensusError> {
        let conf = ConfState {
            voters: voters.to_vec(),
            ..Default::default()
        };
        let hs = HardState {
            term,
            commit: index,
            ..Default::default()
        };
        let snap = SnapRepr {
            index,
            term,
            conf: (&conf).into(),
        };
        let tx = self.db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            meta.insert(HARD_STATE, encode_hs(&hs).as_slice())?;
            meta.insert(
                CONF_STATE,
                serde_json::to_vec(&snap.conf).expect("json").as_slice(),
            )?;
            meta.insert(
                TRUNCATED,
                [index.to_be_bytes(), term.to_be_bytes()]
                    .concat()
                    .as_slice(),
            )?;
            meta.insert(
                SNAPSHOT,
                serde_json::to_vec(&snap).expect("json").as_slice(),
            )?;
            tx.open_table(ENTRIES)?.retain(|_, _| false)?;
        }
        tx.commit()?;
        self.hard_state = hs;
        self.conf = conf;
        self.truncated = (index, term);
        self.last = (index, term);
        self.snapshot = snap;
        Ok(())
    }

    /// Raises the cached commit index (written with the next [`RaftStore::persist`]).
    pub fn raise_commit(&mut self, commit: u64) {
        let commit = commit.min(self.last.0);
        if commit > self.hard_state.commit {
            self.hard_state.commit = commit;
        }
    }

    /// Appends `entries` (replacing any conflicting suffix) and stores the hard state, in one
    /// durable transaction. Nothing is written when there is nothing new.
    pub fn persist(
        &mut self,
        entries: &[Entry],
        hs: Option<&HardState>,
    ) -> Result<(), ConsensusError> {
        if entries.is_empty() && hs.is_none() {
            return Ok(());
        }
        // A follower's commit index moves with every heartbeat: keep it in memory (it rides on
        // the next append) instead of paying an fsync for a hint.
        if entries.is_empty()
            && let Some(hs) = hs
            && hs.term == self.hard_state.term
            && hs.vote == self.hard_state.vote
        {
            self.raise_commit(hs.commit);
            return Ok(());
        }
        let mut new_hs = self.hard_state.clone();
        if let Some(hs) = hs {
            new_hs.term = hs.term;
            new_hs.vote = hs.vote;
            new_hs.commit = new_hs.commit.max(hs.commit);
        }
        let mut last = self.last;
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(ENTRIES)?;
            if let Some(first) = entries.first() {
                if first.index <= self.truncated.0 {
                    return Err(ConsensusError::Storage(format!(
                        "append at {} overwrites compacted log (compacted to {})",
                        first.index, self.truncated.0
                    )));
                }
                if first.index > self.last.0 + 1 {
                    return Err(ConsensusError::Storage(format!(
                        "append at {} leaves a gap after {}",
                        first.index, self.last.0
                    )));
                }
                if first.index <= self.last.0 {
                    table.retain_in(first.index.., |_, _| false)?;
                }
                for e in entries {
                    table.insert(e.index, encode_entry(e).as_slice())?;
                }
                let e = entries.last().expect("not empty");
                last = (e.index, e.term);
            }
            new_hs.commit = new_hs.commit.min(last.0);
            tx.open_table(META)?
                .insert(HARD_STATE, encode_hs(&new_hs).as_slice())?;
        }
        tx.commit()?;
        self.last = last;
        self.hard_state = new_hs;
        Ok(())
    }

    /// Stores the configuration that applying a conf change produced (durable).
    pub fn set_conf_state(&mut self, cs: ConfState) -> Result<(), ConsensusError> {
        let tx = self.db.begin_write()?;
        tx.open_table(META)?.insert(
            CONF_STATE,
            serde_json::to_vec(&ConfRepr::from(&cs))
                .expect("json")
                .as_slice(),
        )?;
        tx.commit()?;
        self.conf = cs;
        Ok(())
    }

    /// Records a snapshot written to `snapshot_file(index, term)` and drops the log up to
    /// `compact_to` (inclusive; at most `index`), in one transaction.
    pub fn record_snapshot(
        &mut self,
        index: u64,
        term: u64,
        conf: &ConfState,
        compact_to: u64,
    ) -> Result<(), ConsensusError> {
        let compact_to = compact_to.min(index).min(self.last.0);
        let snap = SnapRepr {
            index,
            term,
            conf: conf.into(),
        };
        let mut truncated = self.truncated;
        if compact_to > self.truncated.0 {
            truncated = (
                compact_to,
                self.term(compact_to)
                    .map_err(|e| ConsensusError::Storage(e.to_string()))?,
            );
        }
        let tx = self.db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            meta.insert(
                SNAPSHOT,
                serde_json::to_vec(&snap).expect("json").as_slice(),
            )?;
            if truncated != self.truncated {
                meta.insert(
                    TRUNCATED,
                    [truncated.0.to_be_bytes(), truncated.1.to_be_bytes()]
                        .concat()
                        .as_slice(),
                )?;
                tx.open_table(ENTRIES)?
                    .retain_in(..=truncated.0, |_, _| false)?;
            }
        }
        tx.commit()?;
        self.snapshot = snap;
        self.truncated = truncated;
        self.snapshot_wanted.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Installs a snapshot received from the leader (its data already restored into the
    /// state and saved as a file): the whole log is replaced by it.
    pub fn install_snapshot(&mut self, meta: &SnapshotMetadata) -> Result<(), ConsensusError> {
        let snap = SnapRepr {
            index: meta.index,
            term: meta.term,
            conf: meta.get_conf_state().into(),
        };
        let mut hs = self.hard_state.clone();
        hs.term = hs.term.max(meta.term);
        hs.commit = meta.index;
        let tx = self.db.begin_write()?;
        {
            let mut m = tx.open_table(META)?;
            m.insert(
                SNAPSHOT,
                serde_json::to_vec(&snap).expect("json").as_slice(),
            )?;
            m.insert(
                CONF_STATE,
                serde_json::to_vec(&snap.conf).expect("json").as_slice(),
            )?;
            m.insert(
                TRUNCATED,
                [meta.index.to_be_bytes(), meta.term.to_be_bytes()]
                    .concat()
                    .as_slice(),
            )?;
            m.insert(HARD_STATE, encode_hs(&hs).as_slice())?;
            tx.open_table(ENTRIES)?.retain(|_, _| false)?;
        }
        tx.commit()?;
        self.conf = meta.get_conf_state().clone();
        self.snapshot = snap;
        self.truncated = (meta.index, meta.term);
        self.last = self.truncated;
        self.hard_state = hs;
        Ok(())
    }

    /// The file holding the snapshot data at `index`/`term`.
    pub fn snapshot_file(&self, index: u64, term: u64) -> PathBuf {
        snapshot_path(&self.snap_dir, index, term)
    }

    /// The snapshot folder.
    pub fn snapshot_dir(&self) -> &Path {
        &self.snap_dir
    }

    /// Index and term of the latest snapshot (0, 0 when none).
    pub fn snapshot_position(&self) -> (u64, u64) {
        (self.snapshot.index, self.snapshot.term)
    }

    /// True when raft asked for a snapshot newer than the latest one.
    pub fn snapshot_wanted(&self) -> bool {
        self.snapshot_wanted.load(Ordering::Relaxed)
    }

    /// The stored configuration.
    pub fn conf_state(&self) -> &ConfState {
        &self.conf
    }

    #[cfg(test)]
    /// Number of entries in the log.
    pub fn log_len(&self) -> u64 {
        self.last.0 - self.truncated.0
    }
}

impl Storage for RaftStore {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(self.hard_state.clone(), self.conf.clone()))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low <= self.truncated.0 {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last.0 + 1 {
            panic!("raft asked entries up to {high}, last is {}", self.last.0);
        }
        let max = max_size.into().unwrap_or(u64::MAX);
        let tx = self.db.begin_read().map_err(other)?;
        let table = tx.open_table(ENTRIES).map_err(other)?;
        let mut out = Vec::with_capacity((high - low).min(1024) as usize);
        let mut size = 0u64;
        for row in table.range(low..high).map_err(other)? {
            let (k, v) = row.map_err(other)?;
            size += v.value().len() as u64;
            if !out.is_empty() && size > max {
                break;
            }
            out.push(decode_entry(k.value(), v.value()).map_err(other)?);
        }
        if out.is_empty() && high > low {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.truncated.0 {
            return Ok(self.truncated.1);
        }
        if idx < self.truncated.0 {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > self.last.0 {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        if idx == self.last.0 {
            return Ok(self.last.1);
        }
        let tx = self.db.begin_read().map_err(other)?;
        let table = tx.open_table(ENTRIES).map_err(other)?;
        let v = table
            .get(idx)
            .map_err(other)?
            .ok_or(raft::Error::Store(StorageError::Unavailable))?;
        Ok(decode_entry(idx, v.value()).map_err(other)?.term)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.truncated.0 + 1)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last.0)
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        // The data is read whole: fine for the sizes a single message can carry; streaming
        // large snapshots out of band is left to the multi-peer transport.
        let s = &self.snapshot;
        let data = if s.index == 0 {
            Vec::new()
        } else {
            std::fs::read(self.snapshot_file(s.index, s.term))
                .ok()
                .unwrap_or_default()
        };
        // raft-rs refuses a snapshot whose configuration lacks the receiver (a peer added
        // after it was taken): make a newer one instead.
        let c = &s.conf;
        let knows_to = [&c.voters, &c.learners, &c.voters_outgoing, &c.learners_next]
            .iter()
            .any(|ids| ids.contains(&to));
        if s.index < request_index || !knows_to || (s.index > 0 && data.is_empty()) {
            self.snapshot_wanted.store(true, Ordering::Relaxed);
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        let mut snap = Snapshot {
            data: data.into(),
            ..Default::default()
        };
        let m = snap.mut_metadata();
        m.index = s.index;
        m.term = s.term;
        m.set_conf_state((&s.conf).into());
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
        Entry {
            index,
            term,
            data: data.to_vec().into(),
            ..Default::default()
        }
    }

    #[test]
    fn consensus_storage_appends_compacts_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = RaftStore::open(dir.path()).unwrap();
            assert!(!s.is_initialized());
            s.bootstrap(&[7], 0, 0).unwrap();
            assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (1, 0));
            let ents: Vec<Entry> = (1..=10).map(|i| entry(i, 1, &[i as u8])).collect();
            let hs = HardState {
                term: 1,
                vote: 7,
                ..Default::default()
            };
            s.persist(&ents, Some(&hs)).unwrap();
            s.raise_commit(10);
            // a conflicting suffix is replaced
            s.persist(
                &[entry(9, 2, b"x"), entry(10, 2, b"y"), entry(11, 2, b"z")],
                None,
            )
            .unwrap();
            assert_eq!(s.last_index().unwrap(), 11);
            assert_eq!(s.term(9).unwrap(), 2);
            let got = s
                .entries(3, 12, None, GetEntriesContext::empty(false))
                .unwrap();
            assert_eq!(got.len(), 9);
            assert_eq!(&got[6].data[..], b"x");
            // max_size still returns at least one entry
            assert_eq!(
                s.entries(3, 12, Some(1), GetEntriesContext::empty(false))
                    .unwrap()
                    .len(),
                1
            );
            let conf = s.conf_state().clone();
            s.record_snapshot(8, 1, &conf, 5).unwrap();
            assert_eq!(s.first_index().unwrap(), 6);
            assert_eq!(s.term(5).unwrap(), 1);
            assert!(matches!(
                s.term(4),
                Err(raft::Error::Store(StorageError::Compacted))
            ));
            assert!(matches!(
                s.entries(5, 7, None, GetEntriesContext::empty(false)),
                Err(raft::Error::Store(StorageError::Compacted))
            ));
        }
        let s = RaftStore::open(dir.path()).unwrap();
        assert!(s.is_initialized());
        assert_eq!(s.conf_state().voters, vec![7]);
        assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (6, 11));
        assert_eq!(s.term(11).unwrap(), 2);
        assert_eq!(s.term(7).unwrap(), 1);
        let hs = s.initial_state().unwrap().hard_state;
        assert_eq!((hs.term, hs.vote, hs.commit), (1, 7, 10));
        assert_eq!(s.snapshot_position(), (8, 1));
        assert_eq!(s.log_len(), 6);
    }
}
