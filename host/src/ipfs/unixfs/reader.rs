//! Reading UnixFS DAGs back: file bytes (with offset/length), file sizes, path resolution
//! through directories, and the links of any block.
//!
//! Everything works over a synchronous [`BlockSource`] (the block store, or a test map). Blocks
//! are trusted as stored — hashes are not re-verified here (the store verifies on write;
//! `hash::verify` exists for untrusted input) — but their *contents* are not: every block is
//! decoded strictly and structural inconsistencies become [`ReadError::Malformed`], never a
//! panic or a silently wrong byte stream.
//!
//! # Files ([`file_reader`])
//! A file is a raw block, or a dag-pb node whose UnixFS type is `File` or `Raw` and whose
//! content is its own `Data` followed by its children's content, in link order (this covers
//! balanced and trickle DAGs, raw or dag-pb leaves, any depth). `blocksizes[i]` says how many
//! file bytes live under link `i`, which lets the reader skip whole subtrees before `offset`
//! without fetching them, and stop fetching once `length` bytes have been produced. The reader
//! checks as it goes that each node's data plus blocksizes equals the size its parent promised
//! (and its `filesize`, when present), so a lying DAG is an error. Data is handed out as
//! zero-copy `Bytes` slices of the blocks. Traversal uses an explicit stack (bounded by
//! [`MAX_DEPTH`]), so memory is O(depth × links per node). An offset past the end gives an
//! empty stream, as `ipfs cat --offset` does. Directories fail with Kubo's message
//! `this dag node is a directory`, symlinks with `cannot currently read symlinks`; the legacy
//! UnixFS `Metadata` wrapper is followed to its first link, as boxo does.
//!
//! # Paths ([`resolve_path`])
//! Each segment is looked up among the current dag-pb node's link names (first match, as
//! go-merkledag's `ResolveLink`), so it works for UnixFS directories and plain dag-pb alike.
//! HAMT-sharded directories (what Kubo makes of large directories) are followed properly:
//! the name is hashed with murmur3-x64-64, `log2(fanout)` bits per level select a bucket, whose
//! link is either a sub-shard (name = the bucket's hex prefix) or the entry (prefix + name).
//! Misses give Kubo's `no link named "x" under <cid>`. Empty segments are skipped.
//!
//! # Links ([`links`])
//! dag-pb links as `(name, cid, tsize)`; raw blocks have none; other codecs (dag-cbor, …) are
//! [`ReadError::UnsupportedCodec`] here — they are handled elsewhere.
//!
//! Identity CIDs (inlined blocks) are resolved locally from the multihash, without asking the
//! source.

use bytes::Bytes;
use cid::Cid;

use super::data::{DataType, UnixFsData, UnixFsDataError};
use crate::ipfs::dagpb::{DagPbError, PbLink, decode_parts};
use crate::ipfs::hash::{DAG_PB, IDENTITY, RAW};

/// Deepest DAG the reader will descend into.
pub const MAX_DEPTH: usize = 4096;
/// How many legacy `Metadata` wrappers are followed before giving up.
const MAX_METADATA_WRAPPERS: usize = 16;
/// The only HAMT hash function Kubo uses (murmur3-x64-64).
const HAMT_MURMUR3: u64 = 0x22;

/// Where blocks come from.
pub trait BlockSource {
    /// Returns the block's bytes, or [`ReadError::NotFound`] (or another error).
    fn get_block(&self, cid: &Cid) -> Result<Bytes, ReadError>;
}

/// Errors while reading DAGs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The block source does not have the block.
    #[error("block was not found locally: {0}")]
    NotFound(Cid),
    /// The block source failed.
    #[error("block source error: {0}")]
    Source(String),
    /// Tried to read a directory as a file.
    #[error("this dag node is a directory")]
    IsDirectory,
    /// Tried to read a symlink as a file.
    #[error("cannot currently read symlinks")]
    Symlink,
    /// A path segment that does not exist.
    #[error("no link named {name:?} under {cid}")]
    NoLink {
        /// The missing name.
        name: String,
        /// The node searched.
        cid: Box<Cid>,
    },
    /// A block codec this reader does not handle.
    #[error("unsupported codec 0x{0:x}")]
    UnsupportedCodec(u64),
    /// A dag-pb block that does not decode.
    #[error("incorrectly formatted merkledag node {cid}: {err}")]
    DagPb {
        /// The block.
        cid: Box<Cid>,
        /// Why.
        err: DagPbError,
    },
    /// A dag-pb block whose Data is not UnixFS.
    #[error("incorrectly formatted unixfs data in {cid}: {err}")]
    UnixFs {
        /// The block.
        cid: Box<Cid>,
        /// Why.
        err: UnixFsDataError,
    },
    /// A structurally inconsistent DAG.
    #[error("malformed unixfs dag at {cid}: {reason}")]
    Malformed {
        /// The offending block.
        cid: Box<Cid>,
        /// What is wrong.
        reason: String,
    },
    /// The DAG is deeper than [`MAX_DEPTH`].
    #[error("dag is deeper than {0} levels")]
    TooDeep(usize),
}

fn malformed(cid: &Cid, reason: impl Into<String>) -> ReadError {
    ReadError::Malformed {
        cid: Box::new(*cid),
        reason: reason.into(),
    }
}

/// Fetches a block, answering identity CIDs from the CID itself.
fn load(src: &dyn BlockSource, cid: &Cid) -> Result<Bytes, ReadError> {
    if cid.hash().code() == IDENTITY {
        return Ok(Bytes::copy_from_slice(cid.hash().digest()));
    }
    src.get_block(cid)
}

/// A decoded dag-pb UnixFS node; `data` is a slice of the block.
struct FsNode {
    links: Vec<PbLink>,
    unixfs: UnixFsData,
    data: Bytes,
}

fn decode_pb(cid: &Cid, block: &Bytes) -> Result<(Vec<PbLink>, Bytes), ReadError> {
    let (links, range) = decode_parts(block).map_err(|err| ReadError::DagPb {
        cid: Box::new(*cid),
        err,
    })?;
    Ok((links, range.map_or_else(Bytes::new, |r| block.slice(r))))
}

fn decode_fs(cid: &Cid, block: &Bytes) -> Result<FsNode, ReadError> {
    let (links, pb_data) = decode_pb(cid, block)?;
    let (unixfs, range) = UnixFsData::decode_parts(&pb_data).map_err(|err| ReadError::UnixFs {
        cid: Box::new(*cid),
        err,
    })?;
    let data = range.map_or_else(Bytes::new, |r| pb_data.slice(r));
    Ok(FsNode {
        links,
        unixfs,
        data,
    })
}

/// A file node's content: its own bytes, its children with their sizes, and its total size.
struct FileParts {
    data: Bytes,
    children: Vec<(Cid, u64)>,
    size: u64,
}

/// Interprets a block as (part of) a file. `top` allows directories/symlinks/metadata wrappers
/// to be reported as such; below the top only File/Raw nodes and raw blocks are valid.
fn file_parts(cid: &Cid, block: Bytes, top: bool) -> Result<Result<FileParts, Cid>, ReadError> {
    match cid.codec() {
        RAW => {
            let size = block.len() as u64;
            Ok(Ok(FileParts {
                data: block,
                children: Vec::new(),
                size,
            }))
        }
        DAG_PB => {
            let node = decode_fs(cid, &block)?;
            match node.unixfs.data_type {
                DataType::File | DataType::Raw => {}
                DataType::Directory | DataType::HAMTShard if top => {
                    return Err(ReadError::IsDirectory);
                }
                DataType::Symlink if top => return Err(ReadError::Symlink),
                DataType::Metadata if top => {
                    let first = node
                        .links
                        .first()
                        .ok_or_else(|| malformed(cid, "incorrectly formatted metadata object"))?;
                    return Ok(Err(first.cid));
                }
                other => {
                    return Err(malformed(
                        cid,
                        format!("found {} node in unexpected place", other.name()),
                    ));
                }
            }
            if node.unixfs.blocksizes.len() != node.links.len() {
                return Err(malformed(
                    cid,
                    format!(
                        "{} links but {} blocksizes",
                        node.links.len(),
                        node.unixfs.blocksizes.len()
                    ),
                ));
            }
            let mut size = node.data.len() as u64;
            for &b in &node.unixfs.blocksizes {
                size = size
                    .checked_add(b)
                    .ok_or_else(|| malformed(cid, "file size overflow"))?;
            }
            if let Some(fs) = node.unixfs.filesize
                && fs != size
            {
                return Err(malformed(
                    cid,
                    format!("filesize {fs} does not match data + blocksizes ({size})"),
                ));
            }
            let children = node
                .links
                .iter()
                .zip(&node.unixfs.blocksizes)
                .map(|(l, &b)| (l.cid, b))
                .collect();
            Ok(Ok(FileParts {
                data: node.data,
                children,
                size,
            }))
        }
        other => Err(ReadError::UnsupportedCodec(other)),
    }
}

/// Loads the top node of a file, following legacy Metadata wrappers.
fn open_file(src: &dyn BlockSource, root: &Cid) -> Result<(Cid, FileParts), ReadError> {
    let mut cid = *root;
    for _ in 0..=MAX_METADATA_WRAPPERS {
        let block = load(src, &cid)?;
        match file_parts(&cid, block, true)? {
            Ok(parts) => return Ok((cid, parts)),
            Err(next) => cid = next,
        }
    }
    Err(malformed(root, "too many nested metadata wrappers"))
}

/// Size in bytes of the file at `cid` (for a symlink: the length of its target).
pub fn file_size(src: &dyn BlockSource, cid: &Cid) -> Result<u64, ReadError> {
    match open_file(src, cid) {
        Ok((_, parts)) => Ok(parts.size),
        Err(ReadError::Symlink) => {
            let block = load(src, cid)?;
            Ok(decode_fs(cid, &block)?.data.len() as u64)
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug)]
struct Frame {
    children: Vec<(Cid, u64)>,
    next: usize,
    /// File offset at which this node's content must end.
    end: u64,
    cid: Cid,
}

/// Streams the bytes of a UnixFS file; see [`file_reader`].
pub struct FileReader<'a> {
    src: &'a dyn BlockSource,
    stack: Vec<Frame>,
    /// File offset of the next byte visited (read or skipped).
    pos: u64,
    start: u64,
    end: u64,
    size: u64,
    queued: Option<Bytes>,
    failed: bool,
}

impl std::fmt::Debug for FileReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReader")
            .field("pos", &self.pos)
            .field("start", &self.start)
            .field("end", &self.end)
            .field("size", &self.size)
            .field("depth", &self.stack.len())
            .finish()
    }
}

/// Opens the UnixFS file at `root` for reading `length` bytes (all when `None`) from `offset`.
/// Fails immediately if `root` is not a file; later errors (missing or malformed blocks) come
/// through the iterator, after which it ends.
pub fn file_reader<'a>(
    src: &'a dyn BlockSource,
    root: &Cid,
    offset: u64,
    length: Option<u64>,
) -> Result<FileReader<'a>, ReadError> {
    let (cid, parts) = open_file(src, root)?;
    let size = parts.size;
    let start = offset.min(size);
    let end = start.saturating_add(length.unwrap_or(u64::MAX)).min(size);
    let mut reader = FileReader {
        src,
        stack: Vec::new(),
        pos: 0,
        start,
        end,
        size,
        queued: None,
        failed: false,
    };
    reader.enter(cid, parts)?;
    Ok(reader)
}

impl FileReader<'_> {
    /// Total size of the file (not of the requested range).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Visits a node whose content starts at `self.pos`: queues the wanted part of its own data
    /// and pushes its children.
    fn enter(&mut self, cid: Cid, parts: FileParts) -> Result<(), ReadError> {
        let node_end = self
            .pos
            .checked_add(parts.size)
            .ok_or_else(|| malformed(&cid, "overflow"))?;
        let dlen = parts.data.len() as u64;
        let data_end = self.pos + dlen;
        let lo = self.start.max(self.pos);
        let hi = self.end.min(data_end);
        if lo < hi {
            self.queued = Some(
                parts
                    .data
                    .slice((lo - self.pos) as usize..(hi - self.pos) as usize),
            );
        }
        self.pos = data_end;
        if !parts.children.is_empty() {
            if self.stack.len() >= MAX_DEPTH {
                return Err(ReadError::TooDeep(MAX_DEPTH));
            }
            self.stack.push(Frame {
                children: parts.children,
                next: 0,
                end: node_end,
                cid,
            });
        } else if self.pos != node_end {
            return Err(malformed(&cid, "node size mismatch"));
        }
        Ok(())
    }

    fn advance(&mut self) -> Result<Option<Bytes>, ReadError> {
        loop {
            if let Some(b) = self.queued.take() {
                return Ok(Some(b));
            }
            if self.pos >= self.end {
                return Ok(None);
            }
            let Some(frame) = self.stack.last_mut() else {
                return Err(ReadError::Malformed {
                    cid: Box::default(),
                    reason: "dag ended before its declared size".into(),
                });
            };
            let Some(&(cid, expected)) = frame.children.get(frame.next) else {
                let done = self.stack.pop();
                if let Some(done) = done
                    && self.pos != done.end
                {
                    return Err(malformed(&done.cid, "blocksizes do not match children"));
                }
                continue;
            };
            frame.next += 1;
            let child_end = self
                .pos
                .checked_add(expected)
                .ok_or_else(|| malformed(&cid, "overflow"))?;
            if child_end <= self.start {
                // Entirely before the wanted range: skip without fetching.
                self.pos = child_end;
                continue;
            }
            let block = load(self.src, &cid)?;
            let parts = match file_parts(&cid, block, false)? {
                Ok(p) => p,
                Err(_) => return Err(malformed(&cid, "unexpected metadata node")),
            };
            if parts.size != expected {
                return Err(malformed(
                    &cid,
                    format!("holds {} bytes but its parent says {expected}", parts.size),
                ));
            }
            self.enter(cid, parts)?;
        }
    }
}

impl Iterator for FileReader<'_> {
    type Item = Result<Bytes, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.advance() {
            Ok(b) => b.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Resolves `segments` from `root` through dag-pb links (UnixFS directories, HAMT shards).
pub fn resolve_path(
    src: &dyn BlockSource,
    root: &Cid,
    segments: &[&str],
) -> Result<Cid, ReadError> {
    let mut cur = *root;
    for &seg in segments.iter().filter(|s| !s.is_empty()) {
        let no_link = |cid: &Cid| ReadError::NoLink {
            name: seg.to_owned(),
            cid: Box::new(*cid),
        };
        match cur.codec() {
            DAG_PB => {
                let block = load(src, &cur)?;
                let (links, data) = decode_pb(&cur, &block)?;
                let shard = UnixFsData::decode_parts(&data)
                    .ok()
                    .filter(|(u, _)| u.data_type == DataType::HAMTShard);
                let found = match shard {
                    Some((u, _)) => hamt_find(src, &cur, links, &u, seg)?,
                    None => links
                        .into_iter()
                        .find(|l| l.name.as_deref() == Some(seg))
                        .map(|l| l.cid),
                };
                cur = found.ok_or_else(|| no_link(&cur))?;
            }
            RAW => return Err(no_link(&cur)),
            other => return Err(ReadError::UnsupportedCodec(other)),
        }
    }
    Ok(cur)
}

/// Looks `name` up in the HAMT shard `cid` (whose links and UnixFS data are given).
fn hamt_find(
    src: &dyn BlockSource,
    cid: &Cid,
    mut links: Vec<PbLink>,
    unixfs: &UnixFsData,
    name: &str,
) -> Result<Option<Cid>, ReadError> {
    if unixfs.hash_type != Some(HAMT_MURMUR3) {
        return Err(malformed(cid, "only murmur3 supported as hash function"));
    }
    let fanout = unixfs.fanout.unwrap_or(0);
    if fanout < 2 || !fanout.is_power_of_two() || fanout > 1 << 16 {
        return Err(malformed(cid, format!("invalid HAMT fanout {fanout}")));
    }
    let bits = fanout.trailing_zeros();
    let width = format!("{:X}", fanout - 1).len();
    let hash = murmur3_x64_64(name.as_bytes());
    let mut consumed = 0u32;
    let mut shard = *cid;
    loop {
        if consumed + bits > 64 {
            return Err(malformed(&shard, "sharded directory too deep"));
        }
        let index = (hash << consumed) >> (64 - bits);
        consumed += bits;
        let prefix = format!("{index:0width$X}");
        let hit = links.iter().find_map(|l| {
            let n = l.name.as_deref()?;
            let rest = n.strip_prefix(prefix.as_str())?;
            if rest.is_empty() {
                Some((true, l.cid))
            } else if rest == name {
                Some((false, l.cid))
            } else {
                None
            }
        });
        match hit {
            None => return Ok(None),
            Some((false, found)) => return Ok(Some(found)),
            Some((true, sub)) => {
                if sub.codec() != DAG_PB {
                    return Err(malformed(&sub, "HAMT sub-shard is not dag-pb"));
                }
                let block = load(src, &sub)?;
                let node = decode_fs(&sub, &block)?;
                if node.unixfs.data_type != DataType::HAMTShard
                    || node.unixfs.fanout != Some(fanout)
                    || node.unixfs.hash_type != Some(HAMT_MURMUR3)
                {
                    return Err(malformed(&sub, "HAMT sub-shard does not match its parent"));
                }
                links = node.links;
                shard = sub;
            }
        }
    }
}

/// The first 64 bits (h1) of MurmurHash3 x64/128 with seed 0, as go's `murmur3.Sum64` and
/// boxo's HAMT use it.
fn murmur3_x64_64(data: &[u8]) -> u64 {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    fn fmix(mut k: u64) -> u64 {
        k ^= k >> 33;
        k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
        k ^= k >> 33;
        k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        k ^ (k >> 33)
    }
    let mix1 = |k: u64| k.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
    let mix2 = |k: u64| k.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
    let (mut h1, mut h2) = (0u64, 0u64);
    let mut blocks = data.chunks_exact(16);
    for b in &mut blocks {
        let mut k1 = [0u8; 8];
        let mut k2 = [0u8; 8];
        k1.copy_from_slice(&b[..8]);
        k2.copy_from_slice(&b[8..]);
        h1 ^= mix1(u64::from_le_bytes(k1));
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        h2 ^= mix2(u64::from_le_bytes(k2));
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    let mut buf = [0u8; 16];
    buf[..tail.len()].copy_from_slice(tail);
    let (lo, hi) = buf.split_at(8);
    let mut k1 = [0u8; 8];
    let mut k2 = [0u8; 8];
    k1.copy_from_slice(lo);
    k2.copy_from_slice(hi);
    if tail.len() > 8 {
        h2 ^= mix2(u64::from_le_bytes(k2));
    }
    if !tail.is_empty() {
        h1 ^= mix1(u64::from_le_bytes(k1));
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1.wrapping_add(h2)
}

/// A link as [`links`] returns it: `(name, target, tsize)`.
pub type Link = (Option<String>, Cid, Option<u64>);

/// The links of any block: dag-pb links as `(name, cid, tsize)`, none for raw blocks.
pub fn links(src: &dyn BlockSource, cid: &Cid) -> Result<Vec<Link>, ReadError> {
    match cid.codec() {
        DAG_PB => {
            let block = load(src, cid)?;
            let (links, _) = decode_pb(cid, &block)?;
            Ok(links
                .into_iter()
                .map(|l| (l.name, l.cid, l.tsize))
                .collect())
        }
        RAW => Ok(Vec::new()),
        other => Err(ReadError::UnsupportedCodec(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipfs::dagpb::PbNode;
    use crate::ipfs::hash::HashFn;
    use crate::ipfs::unixfs::data::Metadata;
    use crate::ipfs::unixfs::dir::DirBuilder;
    use crate::ipfs::unixfs::file::{Block, FileImporter, FileRoot, ImportOptions, Layout};
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Mem(HashMap<Cid, Bytes>);

    impl Mem {
        fn put(&mut self, blocks: impl IntoIterator<Item = Block>) {
            for b in blocks {
                assert_eq!(crate::ipfs::hash::verify(&b.cid, &b.data), Ok(true));
                self.0.insert(b.cid, b.data);
            }
        }
        fn put_raw(&mut self, codec: u64, data: Vec<u8>) -> Cid {
            let cid = Cid::new_v1(codec, HashFn::Sha2_256.digest(&data));
            self.0.insert(cid, Bytes::from(data));
            cid
        }
    }

    impl BlockSource for Mem {
        fn get_block(&self, cid: &Cid) -> Result<Bytes, ReadError> {
            self.0.get(cid).cloned().ok_or(ReadError::NotFound(*cid))
        }
    }

    fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        let mut s = seed ^ 0x9e37_79b9_7f4a_7c15;
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            out.extend_from_slice(&s.to_le_bytes());
        }
        out.truncate(len);
        out
    }

    fn import(mem: &mut Mem, opts: &ImportOptions, data: &[u8], push: usize) -> FileRoot {
        let mut imp = FileImporter::new(opts.clone(), Metadata::default());
        for piece in data.chunks(push.max(1)) {
            mem.put(imp.push(piece));
        }
        let (rest, root) = imp.finish();
        mem.put(rest);
        root
    }

    fn read_all(
        mem: &Mem,
        cid: &Cid,
        offset: u64,
        length: Option<u64>,
    ) -> Result<Vec<u8>, ReadError> {
        let mut out = Vec::new();
        for piece in file_reader(mem, cid, offset, length)? {
            out.extend_from_slice(&piece?);
        }
        Ok(out)
    }

    #[test]
    fn murmur3_matches_kubo_hamt_bucket() {
        // IPIP-550 fixture: "hello.txt" sits in bucket 0xDF of a fanout-256 shard.
        assert_eq!(murmur3_x64_64(b"hello.txt") >> 56, 0xDF);
        assert_eq!(murmur3_x64_64(b""), 0);
    }

    #[test]
    fn hamt_fixture_resolves() {
        let mut mem = Mem::default();
        let hello = mem.put_raw(RAW, b"hello\n".to_vec());
        let shard_hex = "12350a24015512205891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\
                         120b444668656c6c6f2e74787418060a250805121c80000000000000000000000000000000000000\
                         0000000000000000002822308002";
        let shard: Vec<u8> = (0..shard_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&shard_hex[i..i + 2], 16).unwrap())
            .collect();
        let root = mem.put_raw(DAG_PB, shard);
        assert_eq!(resolve_path(&mem, &root, &["hello.txt"]).unwrap(), hello);
        assert_eq!(read_all(&mem, &hello, 0, None).unwrap(), b"hello\n");
        let e = resolve_path(&mem, &root, &["nope.txt"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("no link named \"nope.txt\" under {root}")
        );
        assert_eq!(
            file_reader(&mem, &root, 0, None).unwrap_err(),
            ReadError::IsDirectory
        );
    }

    #[test]
    fn hamt_sub_shards() {
        // A two-level shard (fanout 16, 4 bits per level) for "hello.txt".
        let mut mem = Mem::default();
        let hello = mem.put_raw(RAW, b"hello\n".to_vec());
        let h = murmur3_x64_64(b"hello.txt");
        let (i0, i1) = (h >> 60, (h >> 56) & 0xf);
        let shard = |links: Vec<PbLink>| {
            let mut u = UnixFsData::new(DataType::HAMTShard);
            u.data = Some(vec![0, 0]);
            u.hash_type = Some(0x22);
            u.fanout = Some(16);
            PbNode {
                links,
                data: Some(u.encode()),
            }
            .encode()
        };
        let leaf = mem.put_raw(
            DAG_PB,
            shard(vec![PbLink {
                cid: hello,
                name: Some(format!("{i1:X}hello.txt")),
                tsize: Some(6),
            }]),
        );
        let root = mem.put_raw(
            DAG_PB,
            shard(vec![PbLink {
                cid: leaf,
                name: Some(format!("{i0:X}")),
                tsize: Some(0),
            }]),
        );
        assert_eq!(resolve_path(&mem, &root, &["hello.txt"]).unwrap(), hello);
        assert!(matches!(
            resolve_path(&mem, &root, &["other"]),
            Err(ReadError::NoLink { .. })
        ));
    }

    #[test]
    fn directories_paths_and_links() {
        let mut mem = Mem::default();
        let opts = ImportOptions::default();
        let mars = import(&mut mem, &opts, b"Hello Mars!\n", 3);
        let venus = import(&mut mem, &opts, b"Hello Venus!\n", 5);
        let mut dir = DirBuilder::new(&opts);
        dir.add_file("planets/mars.txt", &mars).unwrap();
        dir.add_file("planets/venus.txt", &venus).unwrap();
        let built = dir.build().unwrap();
        let root = built.last().unwrap().1.cid;
        mem.put(built.into_iter().map(|(_, b, _)| b));
        assert_eq!(
            resolve_path(&mem, &root, &["planets", "mars.txt"]).unwrap(),
            mars.cid
        );
        assert_eq!(
            resolve_path(&mem, &root, &["", "planets", "", "venus.txt"]).unwrap(),
            venus.cid
        );
        let planets = resolve_path(&mem, &root, &["planets"]).unwrap();
        let e = resolve_path(&mem, &root, &["planets", "pluto"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("no link named \"pluto\" under {planets}")
        );
        assert_eq!(
            file_reader(&mem, &planets, 0, None)
                .unwrap_err()
                .to_string(),
            "this dag node is a directory"
        );
        assert_eq!(file_size(&mem, &planets), Err(ReadError::IsDirectory));
        assert_eq!(file_size(&mem, &mars.cid), Ok(12));
        assert_eq!(read_all(&mem, &mars.cid, 6, Some(4)).unwrap(), b"Mars");
        assert_eq!(read_all(&mem, &mars.cid, 100, None).unwrap(), b"");
        let l = links(&mem, &planets).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0], (Some("mars.txt".into()), mars.cid, Some(mars.size)));
        let raw = mem.put_raw(RAW, b"x".to_vec());
        assert_eq!(links(&mem, &raw).unwrap(), vec![]);
        let cbor = Cid::new_v1(0x71, HashFn::Sha2_256.digest(b"x"));
        assert_eq!(links(&mem, &cbor), Err(ReadError::UnsupportedCodec(0x71)));
        assert!(matches!(
            resolve_path(&mem, &raw, &["a"]),
            Err(ReadError::NoLink { .. })
        ));
        // Missing blocks surface through the iterator.
        let digits: Vec<u8> = (0..40u8).collect();
        let big = import(
            &mut mem,
            &ImportOptions {
                chunk_size: 4,
                ..opts.clone()
            },
            &digits,
            7,
        );
        let first_leaf = links(&mem, &big.cid).unwrap()[1].1;
        mem.0.remove(&first_leaf);
        assert_eq!(
            read_all(&mem, &big.cid, 0, None),
            Err(ReadError::NotFound(first_leaf))
        );
        // ... but not when skipped.
        assert_eq!(read_all(&mem, &big.cid, 8, None).unwrap(), digits[8..]);
        assert_eq!(read_all(&mem, &big.cid, 0, Some(4)).unwrap(), digits[..4]);
    }

    #[test]
    fn symlink_and_identity() {
        let mut mem = Mem::default();
        let mut u = UnixFsData::new(DataType::Symlink);
        u.data = Some(b"target/file".to_vec());
        let link = mem.put_raw(
            DAG_PB,
            PbNode {
                links: vec![],
                data: Some(u.encode()),
            }
            .encode(),
        );
        assert_eq!(
            file_reader(&mem, &link, 0, None).unwrap_err(),
            ReadError::Symlink
        );
        assert_eq!(file_size(&mem, &link), Ok(11));
        let id = Cid::new_v1(
            RAW,
            crate::ipfs::hash::Multihash::wrap(IDENTITY, b"inline").unwrap(),
        );
        assert_eq!(read_all(&mem, &id, 2, None).unwrap(), b"line");
    }

    #[test]
    fn lying_blocksizes_are_errors() {
        let mut mem = Mem::default();
        let a = mem.put_raw(RAW, b"aaaa".to_vec());
        let b = mem.put_raw(RAW, b"bb".to_vec());
        let stem = |sizes: Vec<u64>, filesize: Option<u64>| {
            let mut u = UnixFsData::new(DataType::File);
            u.filesize = filesize;
            u.blocksizes = sizes;
            PbNode {
                links: vec![
                    PbLink {
                        cid: a,
                        name: Some(String::new()),
                        tsize: Some(4),
                    },
                    PbLink {
                        cid: b,
                        name: Some(String::new()),
                        tsize: Some(2),
                    },
                ],
                data: Some(u.encode()),
            }
            .encode()
        };
        let good = mem.put_raw(DAG_PB, stem(vec![4, 2], Some(6)));
        assert_eq!(read_all(&mem, &good, 1, Some(4)).unwrap(), b"aaab");
        let lie = mem.put_raw(DAG_PB, stem(vec![3, 3], Some(6)));
        assert!(matches!(
            read_all(&mem, &lie, 0, None),
            Err(ReadError::Malformed { .. })
        ));
        let wrong_total = mem.put_raw(DAG_PB, stem(vec![4, 2], Some(7)));
        assert!(matches!(
            file_reader(&mem, &wrong_total, 0, None),
            Err(ReadError::Malformed { .. })
        ));
        let missing = mem.put_raw(DAG_PB, stem(vec![4], None));
        assert!(matches!(
            file_reader(&mem, &missing, 0, None),
            Err(ReadError::Malformed { .. })
        ));
        let overflow = mem.put_raw(DAG_PB, stem(vec![u64::MAX, 2], None));
        assert!(matches!(
            file_reader(&mem, &overflow, 0, None),
            Err(ReadError::Malformed { .. })
        ));
        let garbage = mem.put_raw(DAG_PB, vec![0xff, 0xff]);
        assert!(matches!(
            file_reader(&mem, &garbage, 0, None),
            Err(ReadError::DagPb { .. })
        ));
    }

    fn length_strategy() -> impl Strategy<Value = usize> {
        prop_oneof![0usize..5_000, 0usize..3_000_000]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

        #[test]
        fn import_then_read_back(
            len in length_strategy(),
            seed in any::<u64>(),
            chunk_size in 256usize..4096,
            max_links in 3usize..10,
            trickle in any::<bool>(),
            raw_leaves in any::<bool>(),
            v1 in any::<bool>(),
            push in 1usize..70_000,
            ranges in prop::collection::vec((0.0f64..1.1, prop::option::of(0.0f64..0.3)), 1..4),
        ) {
            let data = pseudo_random(len, seed);
            let opts = ImportOptions {
                cid_version: if v1 { cid::Version::V1 } else { cid::Version::V0 },
                raw_leaves,
                chunk_size,
                layout: if trickle { Layout::Trickle } else { Layout::Balanced },
                max_links,
                ..ImportOptions::default()
            };
            let mut mem = Mem::default();
            let root = import(&mut mem, &opts, &data, push);
            prop_assert_eq!(root.file_size, len as u64);
            prop_assert_eq!(file_size(&mem, &root.cid).unwrap(), len as u64);
            let stored: u64 = mem.0.values().map(|b| b.len() as u64).sum();
            // Identical leaves dedupe in the map, so the DAG can only be larger than the store.
            prop_assert!(root.size >= stored);
            prop_assert_eq!(read_all(&mem, &root.cid, 0, None).unwrap(), data.clone());
            for (off, l) in ranges {
                let offset = (off * len as f64) as u64;
                let length = l.map(|f| (f * len as f64) as u64);
                let got = read_all(&mem, &root.cid, offset, length).unwrap();
                let s = (offset as usize).min(len);
                let e = length.map_or(len, |l| (s + l as usize).min(len));
                prop_assert_eq!(got, data[s..e].to_vec());
            }
        }
    }
}
