//! The durable pinset: the cluster's shared state, as the consensus applies it.
//!
//! # What it owns
//! One redb database (its path is the caller's choice; the daemon keeps it beside the raft log)
//! with two tables:
//! * `pins`: key = the CID's binary form (as IPFS Cluster's `dsstate` keys by CID bytes, so a
//!   CIDv0 and a CIDv1 of the same DAG are two pins), value = the [`Pin`] as IPFS Cluster's
//!   JSON (`serde_json` of [`crate::types::Pin`]). Every stored value starts with `{`; a future
//!   compact encoding would start with another byte, so both can live in one file.
//! * `meta`: the raft index and term of the last applied entry (`applied_index`,
//!   `applied_term`).
//!
//! # Why these choices
//! * **redb**: a pure-Rust, single-file, copy-on-write B-tree with ACID transactions and MVCC
//!   readers. A commit is durable when it returns (one `fsync` with the default 1-phase commit
//!   and checksums), and a reader sees a consistent snapshot without blocking the writer — which
//!   is what lets [`State::snapshot_to`] run while the consensus keeps applying.
//! * **JSON values**: the export format *is* the storage format, so `state export` cannot drift
//!   from what is stored, a corrupt row names itself in readable text, and there is no second
//!   schema to migrate. It costs ~350 bytes a pin (Go's protobuf rows are ~100) and a few µs of
//!   parsing per read; both are small next to an fsync and next to what kubo spends per pin.
//! * **The applied index lives in the same transaction as the pins** ([`State::apply`]): after
//!   a crash the state is exactly "everything up to `applied_index`", so replaying the raft
//!   log is idempotent — entries at or below the stored index are skipped. The consensus starts
//!   raft with `applied = applied_index`, so only later committed entries are replayed.
//! * **Streaming reads**: [`State::list`] walks the pinset in pages of [`LIST_PAGE`] keys, each
//!   page in its own read transaction, so memory stays bounded by one page whatever the pinset
//!   size, and a long listing does not pin an old MVCC snapshot (which would keep redb from
//!   reusing freed pages while the consensus writes). The price: a listing is not one
//!   snapshot — a pin added or removed while listing may or may not appear, every pin appears
//!   at most once, in CID-byte order. Exports and raft snapshots need one consistent view, so
//!   [`State::export`] and [`State::snapshot_to`] use a single read transaction instead.
//!
//! # Formats
//! * `export` / `import`: IPFS Cluster's `state export` format, NDJSON of `Pin` JSON, one per
//!   line. Import reads any whitespace-separated stream of JSON objects (as Go's
//!   `json.Decoder` does) and missing fields take Go's zero values, so Go exports import.
//! * `snapshot_to` / `restore_from` (raft snapshots): a header line
//!   `{"pinfold_snapshot":1,"index":I,"term":T,"pins":N}` followed by `N` pin lines in the
//!   export format. Restoring checks the count, so a truncated snapshot is refused rather than
//!   silently applied.
//!
//! # Semantics kept from IPFS Cluster
//! `Op::Pin` of an existing CID replaces it (re-pinning updates options and allocations);
//! `Op::Unpin` of an absent CID is a no-op. `import` cleans the pinset first (in the same
//! transaction as the writes, so a bad line leaves the old pinset untouched, where Go would have
//! half-imported); `cleanup` removes every pin and forgets the applied index.

use std::io::{BufRead, BufReader, Read, Write};
use std::ops::Bound;
use std::path::Path;

use cid::Cid;
use libp2p_identity::PeerId;
use redb::{Database, ReadTransaction, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::types::Pin;

const PINS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("pins");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const APPLIED_INDEX: &str = "applied_index";
const APPLIED_TERM: &str = "applied_term";

/// Keys read per read transaction by [`State::list`].
pub const LIST_PAGE: usize = 1024;

/// Errors of the state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database: {0}")]
    Db(Box<redb::Error>),
    #[error("state holds a malformed pin under key {key}: {error}")]
    Malformed { key: String, error: String },
    #[error("bad pin in import stream (item {item}): {error}")]
    BadImport { item: u64, error: String },
    #[error("bad snapshot: {0}")]
    BadSnapshot(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Implements `From<E>` for `$target` for every redb error type `E` (`redb::Error` and the
/// five it is made of), through `$make`, a function of the `redb::Error` each converts into.
/// One copy for the three redb users: the state, the raft log (`consensus`) and the embedded
/// node's pin store (`ipfs`), which may all import the state (and `ipfs` nothing above it).
macro_rules! from_redb_errors {
    ($target:ty, $make:expr) => {
        $crate::state::from_redb_errors!(@each $target, $make;
            redb::Error,
            redb::DatabaseError,
            redb::TransactionError,
            redb::TableError,
            redb::StorageError,
            redb::CommitError
        );
    };
    (@each $target:ty, $make:expr; $($t:ty),*) => {$(
        impl From<$t> for $target {
            fn from(e: $t) -> Self {
                let make: fn(redb::Error) -> $target = $make;
                make(redb::Error::from(e))
            }
        }
    )*};
}
pub(crate) use from_redb_errors;

from_redb_errors!(StateError, |e| StateError::Db(Box::new(e)));

/// One change to the pinset, as carried by a raft log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // ops are mostly pins; boxing would add an allocation each
pub enum Op {
    /// Adds or replaces the pin of `pin.cid`.
    Pin(Pin),
    /// Removes the pin of this CID (no-op when absent).
    Unpin(#[serde(with = "crate::types::cid_str")] Cid),
}

impl Op {
    #[cfg(test)]
    /// The CID the operation is about.
    pub fn cid(&self) -> &Cid {
        match self {
            Op::Pin(p) => &p.cid,
            Op::Unpin(c) => c,
        }
    }
}

/// The operations of one raft log entry, with the entry's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpBatch {
    /// Raft index of the entry (> 0).
    pub index: u64,
    /// Raft term of the entry.
    pub term: u64,
    /// What the entry does; empty for entries that only move the index (no-ops, conf changes).
    pub ops: Vec<Op>,
}

/// Position of the last applied raft entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AppliedIndex {
    pub index: u64,
    pub term: u64,
}

/// Overrides given to `state import` (`--rmin`, `--rmax`, `--allocations`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOverrides {
    pub replication_factor_min: Option<i32>,
    pub replication_factor_max: Option<i32>,
    pub allocations: Option<Vec<PeerId>>,
}

impl ImportOverrides {
    fn apply(&self, pin: &mut Pin) {
        if let Some(m) = self.replication_factor_min {
            pin.options.replication_factor_min = m;
        }
        if let Some(m) = self.replication_factor_max {
            pin.options.replication_factor_max = m;
        }
        if let Some(a) = &self.allocations {
            pin.allocations = a.clone();
        }
    }
}

/// First line of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    /// Format version (1).
    pub pinfold_snapshot: u32,
    pub index: u64,
    pub term: u64,
    /// Number of pin lines that follow.
    pub pins: u64,
}

/// The durable pinset. Cheap to share (`Arc<State>`); every method is safe to call from any
/// thread. Writers are serialised by redb; readers never wait.
#[derive(Debug)]
pub struct State {
    db: Database,
}

fn encode_pin(pin: &Pin) -> Vec<u8> {
    serde_json::to_vec(pin).expect("a Pin always serialises")
}

fn decode_pin(key: &[u8], value: &[u8]) -> Result<Pin, StateError> {
    serde_json::from_slice(value).map_err(|e| StateError::Malformed {
        key: Cid::try_from(key)
            .map(|c| c.to_string())
            .unwrap_or_else(|_| format!("{key:02x?}")),
        error: e.to_string(),
    })
}

fn read_applied(tx: &ReadTransaction) -> Result<AppliedIndex, StateError> {
    let meta = tx.open_table(META)?;
    let get = |k| -> Result<u64, StateError> { Ok(meta.get(k)?.map(|v| v.value()).unwrap_or(0)) };
    Ok(AppliedIndex {
        index: get(APPLIED_INDEX)?,
        term: get(APPLIED_TERM)?,
    })
}

impl State {
    /// Opens (or creates) the pinset database at `path`.
    pub fn open(path: &Path) -> Result<State, StateError> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tx.open_table(PINS)?;
        tx.open_table(META)?;
        tx.commit()?;
        Ok(State { db })
    }

    /// The pin of `cid`, if pinned.
    pub fn get(&self, cid: &Cid) -> Result<Option<Pin>, StateError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(PINS)?;
        let key = cid.to_bytes();
        match table.get(key.as_slice())? {
            Some(v) => Ok(Some(decode_pin(&key, v.value())?)),
            None => Ok(None),
        }
    }

    /// True when `cid` is in the pinset.
    pub fn has(&self, cid: &Cid) -> Result<bool, StateError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(PINS)?;
        Ok(table.get(cid.to_bytes().as_slice())?.is_some())
    }

    /// Number of pins.
    pub fn len(&self) -> Result<u64, StateError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(PINS)?.len()?)
    }

    /// True when there is no pin.
    pub fn is_empty(&self) -> Result<bool, StateError> {
        Ok(self.len()? == 0)
    }

    /// Every pin, in CID-byte order, read [`LIST_PAGE`] at a time (see the module notes).
    pub fn list(&self) -> PinIter<'_> {
        self.list_paged(LIST_PAGE)
    }

    /// [`State::list`] with another page size (at least 1).
    pub fn list_paged(&self, page: usize) -> PinIter<'_> {
        PinIter {
            state: self,
            page: page.max(1),
            buf: std::collections::VecDeque::new(),
            after: None,
            done: false,
        }
    }

    /// The last applied raft entry (zero for a new or cleaned state).
    pub fn applied_index(&self) -> Result<AppliedIndex, StateError> {
        read_applied(&self.db.begin_read()?)
    }

    /// Applies log entries in order, in ONE durable write transaction that also records the
    /// last entry's index and term. Entries at or below the stored applied index are skipped
    /// (replay after a crash is idempotent). Returns the batches that were applied.
    pub fn apply<'a>(&self, batches: &'a [OpBatch]) -> Result<Vec<&'a OpBatch>, StateError> {
        let tx = self.db.begin_write()?;
        let mut done = Vec::with_capacity(batches.len());
        {
            let mut pins = tx.open_table(PINS)?;
            let mut meta = tx.open_table(META)?;
            let mut applied = meta.get(APPLIED_INDEX)?.map(|v| v.value()).unwrap_or(0);
            let mut term = None;
            for b in batches {
                if b.index <= applied {
                    continue;
                }
                for op in &b.ops {
                    match op {
                        Op::Pin(p) => {
                            pins.insert(p.cid.to_bytes().as_slice(), encode_pin(p).as_slice())?;
                        }
                        Op::Unpin(c) => {
                            pins.remove(c.to_bytes().as_slice())?;
                        }
                    }
                }
                applied = b.index;
                term = Some(b.term);
                done.push(b);
            }
            if let Some(term) = term {
                meta.insert(APPLIED_INDEX, applied)?;
                meta.insert(APPLIED_TERM, term)?;
            }
        }
        if done.is_empty() {
            tx.abort()?;
        } else {
            tx.commit()?;
        }
        Ok(done)
    }

    #[cfg(test)]
    /// Writes a raft snapshot of one consistent view: the header line, then every pin.
    pub fn snapshot_to(&self, w: impl Write) -> Result<SnapshotHeader, StateError> {
        self.view()?.write_snapshot(w)
    }

    /// Opens a consistent read-only view (an MVCC snapshot) that can be written out later,
    /// e.g. on another thread while the consensus keeps applying.
    pub fn view(&self) -> Result<StateView, StateError> {
        Ok(StateView {
            tx: self.db.begin_read()?,
        })
    }

    /// Replaces the whole state with a snapshot written by [`State::snapshot_to`], in one
    /// transaction (a bad or truncated snapshot changes nothing).
    pub fn restore_from(&self, r: impl Read) -> Result<SnapshotHeader, StateError> {
        let mut r = BufReader::new(r);
        let mut line = String::new();
        r.read_line(&mut line)?;
        let header: SnapshotHeader = serde_json::from_str(line.trim())
            .map_err(|e| StateError::BadSnapshot(format!("header: {e}")))?;
        if header.pinfold_snapshot != 1 {
            return Err(StateError::BadSnapshot(format!(
                "unknown snapshot version {}",
                header.pinfold_snapshot
            )));
        }
        let tx = self.db.begin_write()?;
        let mut count = 0u64;
        {
            tx.delete_table(PINS)?;
            let mut pins = tx.open_table(PINS)?;
            for pin in serde_json::Deserializer::from_reader(r).into_iter::<Pin>() {
                let pin = pin.map_err(|e| StateError::BadSnapshot(format!("pin {count}: {e}")))?;
                pins.insert(pin.cid.to_bytes().as_slice(), encode_pin(&pin).as_slice())?;
                count += 1;
            }
            if count != header.pins {
                return Err(StateError::BadSnapshot(format!(
                    "header announces {} pins, found {count}",
                    header.pins
                )));
            }
            let mut meta = tx.open_table(META)?;
            meta.insert(APPLIED_INDEX, header.index)?;
            meta.insert(APPLIED_TERM, header.term)?;
        }
        tx.commit()?;
        Ok(header)
    }

    /// Writes IPFS Cluster's `state export`: one `Pin` JSON per line, from one consistent view.
    /// Returns the number of pins written.
    pub fn export(&self, w: impl Write) -> Result<u64, StateError> {
        self.view()?.write_pins(w)
    }

    /// IPFS Cluster's `state import`: removes every pin, then writes the pins read from `r`
    /// (with `overrides` applied), all in one transaction. The applied index is kept, so a raft
    /// log beside the state is not replayed over the imported pins. Returns the number imported.
    pub fn import(&self, r: impl Read, overrides: &ImportOverrides) -> Result<u64, StateError> {
        let tx = self.db.begin_write()?;
        let mut count = 0u64;
        {
            tx.delete_table(PINS)?;
            let mut pins = tx.open_table(PINS)?;
            let stream =
                serde_json::Deserializer::from_reader(BufReader::new(r)).into_iter::<Pin>();
            for pin in stream {
                let mut pin = pin.map_err(|e| StateError::BadImport {
                    item: count + 1,
                    error: e.to_string(),
                })?;
                overrides.apply(&mut pin);
                pins.insert(pin.cid.to_bytes().as_slice(), encode_pin(&pin).as_slice())?;
                count += 1;
            }
        }
        tx.commit()?;
        Ok(count)
    }

    #[cfg(test)]
    /// Removes every pin and resets the applied index to zero.
    pub fn cleanup(&self) -> Result<(), StateError> {
        let tx = self.db.begin_write()?;
        tx.delete_table(PINS)?;
        tx.delete_table(META)?;
        tx.open_table(PINS)?;
        tx.open_table(META)?;
        tx.commit()?;
        Ok(())
    }
}

/// A consistent read-only view of the state (see [`State::view`]).
pub struct StateView {
    tx: ReadTransaction,
}

impl std::fmt::Debug for StateView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateView").finish_non_exhaustive()
    }
}

impl StateView {
    /// The applied index of this view.
    pub fn applied_index(&self) -> Result<AppliedIndex, StateError> {
        read_applied(&self.tx)
    }

    /// Number of pins in this view.
    pub fn len(&self) -> Result<u64, StateError> {
        Ok(self.tx.open_table(PINS)?.len()?)
    }

    /// Writes the snapshot format (header + pins).
    pub fn write_snapshot(&self, mut w: impl Write) -> Result<SnapshotHeader, StateError> {
        let applied = self.applied_index()?;
        let header = SnapshotHeader {
            pinfold_snapshot: 1,
            index: applied.index,
            term: applied.term,
            pins: self.len()?,
        };
        serde_json::to_writer(&mut w, &header).map_err(std::io::Error::from)?;
        w.write_all(b"\n")?;
        let n = self.write_pins(&mut w)?;
        debug_assert_eq!(n, header.pins);
        Ok(header)
    }

    /// Writes every pin as one JSON line (the export format).
    pub fn write_pins(&self, w: impl Write) -> Result<u64, StateError> {
        let mut w = std::io::BufWriter::new(w);
        let table = self.tx.open_table(PINS)?;
        let mut n = 0;
        for row in table.iter()? {
            let (k, v) = row?;
            // decode and re-encode: the output follows today's Pin JSON even for old rows
            let pin = decode_pin(k.value(), v.value())?;
            serde_json::to_writer(&mut w, &pin).map_err(std::io::Error::from)?;
            w.write_all(b"\n")?;
            n += 1;
        }
        w.flush()?;
        Ok(n)
    }
}

/// Iterator over the pinset, a page at a time (see [`State::list`]).
pub struct PinIter<'a> {
    state: &'a State,
    page: usize,
    buf: std::collections::VecDeque<Result<Pin, StateError>>,
    after: Option<Vec<u8>>,
    done: bool,
}

impl std::fmt::Debug for PinIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinIter")
            .field("page", &self.page)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl PinIter<'_> {
    fn fill(&mut self) -> Result<(), StateError> {
        let tx = self.state.db.begin_read()?;
        let table = tx.open_table(PINS)?;
        let lower = match &self.after {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Unbounded,
        };
        let range = table.range::<&[u8]>((lower, Bound::Unbounded))?;
        let mut n = 0;
        for row in range {
            let (k, v) = row?;
            self.buf.push_back(decode_pin(k.value(), v.value()));
            self.after = Some(k.value().to_vec());
            n += 1;
            if n == self.page {
                break;
            }
        }
        if n < self.page {
            self.done = true;
        }
        Ok(())
    }
}

impl Iterator for PinIter<'_> {
    type Item = Result<Pin, StateError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty()
            && !self.done
            && let Err(e) = self.fill()
        {
            self.done = true;
            return Some(Err(e));
        }
        self.buf.pop_front()
    }
}

#[cfg(test)]
pub(crate) mod tests;

// The consensus writes snapshots from a view on another thread.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<StateView>();
    send::<State>();
};
