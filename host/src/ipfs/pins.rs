//! The pin store: which CIDs the node keeps, how (recursive or direct), under which name.
//!
//! Pins are kept in a redb database (`<repo>/pins.redb`), one row per pinned CID (keyed by
//! the CID's bytes, as Kubo's pinner keys by CID: a CIDv0 and a CIDv1 of the same DAG are two
//! pins). Every change is one redb write transaction committed with immediate durability, so a
//! pin that was acknowledged survives `kill -9` and power loss.
//!
//! Only recursive and direct pins are stored. *Indirect* pins (blocks below a recursive pin)
//! are derived by walking the DAGs when asked (`pin/ls`, GC): storing them would make every
//! pin and unpin proportional to the DAG size and could drift from the blocks.
//!
//! The rules are Kubo's: pinning recursively replaces a direct pin of the same CID; a direct
//! pin of a CID that is pinned recursively is refused; `pin rm` without `recursive` refuses a
//! recursive pin.

use std::path::Path;

use cid::Cid;
use redb::{Database, ReadableTable, TableDefinition};

const PINS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("pins");

/// Errors of the pin store. Messages are Kubo's where Kubo has one.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("{0} already pinned recursively")]
    AlreadyRecursive(Cid),
    #[error("{0} is pinned recursively")]
    IsRecursive(Cid),
    #[error("'from' cid was not recursively pinned already")]
    NotRecursive,
    #[error("not pinned or pinned indirectly")]
    NotPinned,
    #[error("pin store: {0}")]
    Db(String),
    #[error("pin store holds a malformed entry: {0}")]
    Malformed(String),
}

crate::state::from_redb_errors!(PinError, |e| PinError::Db(e.to_string()));

/// How a CID is pinned (the cluster's pin mode: recursive or direct).
pub use crate::types::PinMode;

/// A stored pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub cid: Cid,
    pub mode: PinMode,
    pub name: String,
}

/// Durable recursive and direct pins.
#[derive(Debug)]
pub struct PinStore {
    db: Database,
}

// Row value: one mode byte ('r' or 'd') followed by the UTF-8 name.
fn encode(mode: PinMode, name: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + name.len());
    v.push(match mode {
        PinMode::Recursive => b'r',
        PinMode::Direct => b'd',
    });
    v.extend_from_slice(name.as_bytes());
    v
}

fn decode(key: &[u8], value: &[u8]) -> Result<Pin, PinError> {
    let cid = Cid::try_from(key).map_err(|e| PinError::Malformed(e.to_string()))?;
    let (mode, name) = value
        .split_first()
        .ok_or_else(|| PinError::Malformed(cid.to_string()))?;
    let mode = match mode {
        b'r' => PinMode::Recursive,
        b'd' => PinMode::Direct,
        _ => return Err(PinError::Malformed(cid.to_string())),
    };
    let name = String::from_utf8(name.to_vec()).map_err(|e| PinError::Malformed(e.to_string()))?;
    Ok(Pin { cid, mode, name })
}

impl PinStore {
    /// Opens or creates the pin database at `path`.
    pub fn open(path: &Path) -> Result<Self, PinError> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tx.open_table(PINS)?;
        tx.commit()?;
        Ok(PinStore { db })
    }

    /// Reads one pin.
    pub fn get(&self, cid: &Cid) -> Result<Option<Pin>, PinError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(PINS)?;
        let key = cid.to_bytes();
        match table.get(key.as_slice())? {
            Some(v) => Ok(Some(decode(&key, v.value())?)),
            None => Ok(None),
        }
    }

    /// Pins `cids` in one durable transaction, following Kubo's rules.
    pub fn add(&self, cids: &[Cid], mode: PinMode, name: &str) -> Result<(), PinError> {
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(PINS)?;
            for cid in cids {
                let key = cid.to_bytes();
                let existing = table
                    .get(key.as_slice())?
                    .map(|v| decode(&key, v.value()))
                    .transpose()?;
                if mode == PinMode::Direct && existing.is_some_and(|p| p.mode == PinMode::Recursive)
                {
                    return Err(PinError::AlreadyRecursive(*cid));
                }
                table.insert(key.as_slice(), encode(mode, name).as_slice())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Unpins `cids` in one durable transaction; nothing changes if any of them fails.
    pub fn remove(&self, cids: &[Cid], recursive: bool) -> Result<(), PinError> {
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(PINS)?;
            for cid in cids {
                let key = cid.to_bytes();
                let existing = table
                    .get(key.as_slice())?
                    .map(|v| decode(&key, v.value()))
                    .transpose()?;
                match existing {
                    None => return Err(PinError::NotPinned),
                    Some(p) if p.mode == PinMode::Recursive && !recursive => {
                        return Err(PinError::IsRecursive(*cid));
                    }
                    Some(_) => {
                        table.remove(key.as_slice())?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Replaces the recursive pin `from` by a recursive pin `to` (keeping its name), and drops
    /// `from` when `unpin`; one durable transaction.
    pub fn update(&self, from: &Cid, to: &Cid, unpin: bool) -> Result<(), PinError> {
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(PINS)?;
            let key = from.to_bytes();
            let existing = table
                .get(key.as_slice())?
                .map(|v| decode(&key, v.value()))
                .transpose()?;
            let name = match existing {
                Some(p) if p.mode == PinMode::Recursive => p.name,
                _ => return Err(PinError::NotRecursive),
            };
            if unpin {
                table.remove(key.as_slice())?;
            }
            table.insert(
                to.to_bytes().as_slice(),
                encode(PinMode::Recursive, &name).as_slice(),
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every stored pin (recursive and direct), in key order.
    pub fn list(&self) -> Result<Vec<Pin>, PinError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(PINS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push(decode(k.value(), v.value())?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipfs::hash::{HashFn, RAW};

    fn cid(s: &str) -> Cid {
        Cid::new_v1(RAW, HashFn::Sha2_256.digest(s.as_bytes()))
    }

    #[test]
    fn kubo_rules_and_durability() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pins.redb");
        let (a, b) = (cid("a"), cid("b"));
        {
            let store = PinStore::open(&path).unwrap();
            store.add(&[a], PinMode::Recursive, "first").unwrap();
            assert!(matches!(
                store.add(&[a], PinMode::Direct, ""),
                Err(PinError::AlreadyRecursive(_))
            ));
            assert!(matches!(
                store.remove(&[a], false),
                Err(PinError::IsRecursive(_))
            ));
            store.add(&[b], PinMode::Direct, "").unwrap();
            store.add(&[b], PinMode::Recursive, "up").unwrap();
            assert_eq!(store.get(&b).unwrap().unwrap().mode, PinMode::Recursive);
            // a failing batch changes nothing
            assert!(matches!(
                store.remove(&[a, cid("zz")], true),
                Err(PinError::NotPinned)
            ));
            assert!(store.get(&a).unwrap().is_some());
        }
        let store = PinStore::open(&path).unwrap();
        let pins = store.list().unwrap();
        assert_eq!(pins.len(), 2);
        assert_eq!(store.get(&a).unwrap().unwrap().name, "first");
        store.update(&a, &cid("c"), true).unwrap();
        assert!(store.get(&a).unwrap().is_none());
        assert_eq!(store.get(&cid("c")).unwrap().unwrap().name, "first");
        assert!(store.update(&a, &b, false).is_err());
    }
}
