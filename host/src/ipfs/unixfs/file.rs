//! Streaming UnixFS file importer: bytes in, Kubo-identical blocks and root CID out.
//!
//! This module owns chunking (fixed-size, Kubo's `size-N`), leaf encoding, the two DAG layouts
//! Kubo offers (balanced, trickle), the option rules of `ipfs add`, and the errors of the import
//! path ([`ImportError`], shared with `unixfs::dir`).
//!
//! # Defaults (Kubo's)
//! CIDv0, sha2-256, dag-pb leaves (UnixFS `File` nodes for balanced, UnixFS `Raw` nodes for
//! trickle), chunks of 262 144 bytes, balanced layout, at most 174 links per node.
//! [`ImportOptions::resolve`] applies `ipfs add`'s rules: a hash other than sha2-256 forces
//! CIDv1 (an explicit `--cid-version=0` is then an error), CIDv1 implies raw leaves unless
//! `--raw-leaves` was given, and UnixFS metadata (mode/mtime) disables raw leaves (an explicit
//! `--raw-leaves=true` is then an error), because a raw block cannot carry metadata.
//!
//! # Layouts (as boxo's `importer/balanced` and `importer/trickle` build them)
//! - **Balanced**: every leaf sits at the same depth; nodes are filled left to right with up to
//!   `max_links` children; the tree only grows a level when the root is full and more data
//!   follows. A one-chunk file is its own root (leaf = root); the trailing partial subtree is a
//!   chain of stems, so with 175 chunks the root is `[stem(174 leaves), stem(1 leaf)]`. Built
//!   here bottom-up with one pending link list per level, each flushed into a stem *lazily*, when
//!   a new link needs room or at `finish` — which gives exactly boxo's shape because boxo also
//!   only learns that the data ended when it asks for the next chunk.
//! - **Trickle**: a root node always exists (even for an empty or one-chunk file). Each node
//!   first takes up to `max_links` leaves, then, for depth d = 1, 2, … (unbounded for the root,
//!   `< max_depth` for a subtree built with `max_depth`), up to 4 subtrees of max depth d
//!   (boxo's `depthRepeat`). Built here with an explicit stack of open frames; a frame is
//!   completed when the next leaf does not fit in it, or at `finish`.
//!
//! # Encodings that decide CIDs
//! dag-pb leaf: `PBNode{Data: UnixFS{Type, Data: chunk, filesize: len}}`; raw leaf: the chunk
//! itself (multicodec raw, always CIDv1 even when stems are CIDv0, as boxo's `V0Builder` does);
//! stem: `PBNode{Links: [{Hash, Name: "", Tsize}], Data: UnixFS{File, filesize, blocksizes}}`.
//! A link's Tsize is the child's block length plus its own links' Tsizes. Empty file: balanced
//! gives a raw empty block (raw leaves) or `UnixFS{File, filesize: 0}`; trickle always gives the
//! latter (its root is a stem with no links). Metadata goes on the root only: the single leaf
//! of a one-chunk balanced file, otherwise the root stem.
//!
//! # Memory and speed
//! State is one chunk buffer plus, per tree level, at most `max_links` pending links:
//! O(chunk_size + depth × max_links) whatever the file size. Input is copied once, into the
//! chunk buffer, which reserves room in front for the leaf's protobuf header so a dag-pb leaf is
//! finished in place (header written backwards, trailer appended) and handed out as a `Bytes`
//! slice with no further copy; a raw leaf *is* the chunk buffer. Every block byte is hashed
//! exactly once. [`FileImporter::push`] returns finished blocks immediately; the caller owns
//! storing them.
//!
//! Measured throughput against `sha256sum`: `docs/benchmarks.md`.
//!
//! # Metadata and raw leaves
//! A raw block cannot carry mode/mtime. boxo, if asked for raw leaves *and* metadata, silently
//! drops the metadata of a one-chunk file (`SetFileAttributes` only touches dag-pb nodes); Kubo
//! never gets there because `ipfs add` switches raw leaves off when mode/mtime are given (and
//! refuses an explicit `--raw-leaves=true`). We follow Kubo: `resolve_with_metadata` applies the
//! rule and [`FileImporter::new`] enforces it, so a one-chunk file with metadata is a dag-pb
//! `File` leaf carrying the data and the metadata, never a raw block.
//!
//! # What is pinned by Kubo vectors, what only follows boxo's code
//! Pinned (tests/all/cid_vectors.rs): defaults, CIDv1 with and without raw leaves, empty files,
//! one-chunk trickle, the 256 KiB chunk and 174-link thresholds, the `unixfs-v1-2025` profile
//! (1 MiB chunks, 1024 links, 1 GiB files). Following boxo's code, checked by shape tests but
//! without a Kubo CID: trickle DAGs of more than one chunk, mode/mtime encoding and placement,
//! hash functions other than sha2-256.
//!
//! # Gaps
//! Only fixed-size chunking: `rabin-*` and `buzhash` are rejected with an explicit error. No
//! `--inline` (identity CIDs for tiny blocks) and no filestore (`--nocopy`).

use bytes::{BufMut, Bytes, BytesMut};
use cid::{Cid, Version};

use super::data::{DataType, UnixFsData};
use crate::ipfs::dagpb::{PbLink, PbNode, put_varint, varint_len, write_varint};
use crate::ipfs::hash::{DAG_PB, HashFn, RAW};

pub use super::data::Metadata;

/// Kubo's default chunk size (`size-262144`).
pub const DEFAULT_CHUNK_SIZE: usize = 262_144;
/// Largest accepted chunk: boxo's `ChunkSizeLimit`, 2 MiB minus 256 bytes of framing budget.
pub const MAX_CHUNK_SIZE: usize = 2 * 1024 * 1024 - 256;
/// Kubo's default maximum number of links in a file node.
pub const DEFAULT_MAX_LINKS: usize = 174;
/// Subtrees of each depth in a trickle node (boxo's `depthRepeat`).
const TRICKLE_REPEAT: usize = 4;
/// Bytes reserved in front of a dag-pb leaf's chunk for its protobuf header.
const LEAF_HEADER_ROOM: usize = 24;

/// DAG layout for files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// Kubo's default: all leaves at the same depth.
    #[default]
    Balanced,
    /// `--trickle`: leaves first, then growing subtrees; good for sequential streaming.
    Trickle,
}

/// Options of a file (or directory) import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportOptions {
    /// CID version of dag-pb nodes (raw leaves are always CIDv1).
    pub cid_version: Version,
    /// Store leaves as raw blocks instead of UnixFS dag-pb nodes.
    pub raw_leaves: bool,
    /// Fixed chunk size in bytes.
    pub chunk_size: usize,
    /// File DAG layout.
    pub layout: Layout,
    /// Multihash function of every block.
    pub hash: HashFn,
    /// Maximum links per file node.
    pub max_links: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            cid_version: Version::V0,
            raw_leaves: false,
            chunk_size: DEFAULT_CHUNK_SIZE,
            layout: Layout::Balanced,
            hash: HashFn::Sha2_256,
            max_links: DEFAULT_MAX_LINKS,
        }
    }
}

/// Errors of the import path (options, files, directories).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// `--hash` names a function we do not know.
    #[error("unrecognized hash function: {0:?}")]
    UnknownHash(String),
    /// `--cid-version=0` with a hash other than sha2-256.
    #[error("CIDv0 only supports sha2-256")]
    CidV0RequiresSha256,
    /// `--cid-version` other than 0 or 1.
    #[error("unknown CID version: {0}")]
    UnknownCidVersion(u32),
    /// A `--chunker` value we cannot honour.
    #[error("{0}")]
    InvalidChunker(String),
    /// `--raw-leaves=true` together with mode/mtime.
    #[error("raw-leaves can't be used with UnixFS metadata like mode or modification time")]
    RawLeavesWithMetadata,
    /// A directory-entry path that is empty, absolute, or has empty, `.` or `..` segments.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The offending path.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The same path was added twice.
    #[error("duplicate path {0:?}")]
    DuplicatePath(String),
    /// A path goes through (or re-declares as a directory) something that is a file.
    #[error("path {0:?} is a file, not a directory")]
    NotADirectory(String),
    /// A directory so large that Kubo would shard it (HAMT), which this importer cannot do yet.
    #[error(
        "directory {path:?} would be HAMT-sharded by Kubo (estimated {estimated} bytes > \
         {limit}), which is not supported yet"
    )]
    ShardingRequired {
        /// Directory path ("" for the root).
        path: String,
        /// Kubo's size estimate: sum of entry name lengths and CID byte lengths.
        estimated: u64,
        /// The threshold (256 KiB).
        limit: u64,
    },
}

impl ImportOptions {
    /// Resolves `ipfs add` options the way Kubo does (see the module docs). `chunker` accepts
    /// `None`, `""`, `"default"` or `"size-N"` with 1 ≤ N ≤ [`MAX_CHUNK_SIZE`].
    pub fn resolve(
        cid_version: Option<u32>,
        raw_leaves: Option<bool>,
        chunker: Option<&str>,
        trickle: bool,
        hash: Option<&str>,
    ) -> Result<ImportOptions, ImportError> {
        Self::resolve_with_metadata(cid_version, raw_leaves, chunker, trickle, hash, false)
    }

    /// [`ImportOptions::resolve`], plus Kubo's rule for adds carrying mode/mtime
    /// (`has_metadata`): raw leaves are switched off, or refused if explicitly requested.
    pub fn resolve_with_metadata(
        cid_version: Option<u32>,
        raw_leaves: Option<bool>,
        chunker: Option<&str>,
        trickle: bool,
        hash: Option<&str>,
        has_metadata: bool,
    ) -> Result<ImportOptions, ImportError> {
        let mut raw_leaves = raw_leaves;
        if has_metadata {
            if raw_leaves == Some(true) {
                return Err(ImportError::RawLeavesWithMetadata);
            }
            raw_leaves = Some(false);
        }
        let hash = match hash {
            None | Some("") => HashFn::Sha2_256,
            Some(name) => HashFn::from_name(name)
                .ok_or_else(|| ImportError::UnknownHash(name.to_ascii_lowercase()))?,
        };
        let cid_version = match (cid_version, hash) {
            (Some(v), _) if v > 1 => return Err(ImportError::UnknownCidVersion(v)),
            (Some(0), HashFn::Sha2_256) | (None, HashFn::Sha2_256) => Version::V0,
            (Some(0), _) => return Err(ImportError::CidV0RequiresSha256),
            _ => Version::V1,
        };
        let raw_leaves = raw_leaves.unwrap_or(cid_version == Version::V1);
        Ok(ImportOptions {
            cid_version,
            raw_leaves,
            chunk_size: parse_chunker(chunker)?,
            layout: if trickle {
                Layout::Trickle
            } else {
                Layout::Balanced
            },
            hash,
            max_links: DEFAULT_MAX_LINKS,
        })
    }

    /// CID of a dag-pb block under these options.
    pub(crate) fn dag_pb_cid(&self, block: &[u8]) -> Cid {
        let mh = self.hash.digest(block);
        match self.cid_version {
            // `new_v0` only fails for non-sha2-256 hashes, which the importer maps to CIDv1.
            Version::V0 => Cid::new_v0(mh).unwrap_or_else(|_| Cid::new_v1(DAG_PB, mh)),
            Version::V1 => Cid::new_v1(DAG_PB, mh),
        }
    }
}

fn parse_chunker(chunker: Option<&str>) -> Result<usize, ImportError> {
    let spec = match chunker {
        None | Some("") | Some("default") => return Ok(DEFAULT_CHUNK_SIZE),
        Some(s) => s,
    };
    let name = spec.split('-').next().unwrap_or_default();
    match name {
        "size" => {}
        "rabin" | "buzhash" => {
            return Err(ImportError::InvalidChunker(format!(
                "chunker {spec:?} is not supported: only fixed-size chunking (size-N) is \
                 implemented"
            )));
        }
        _ => {
            return Err(ImportError::InvalidChunker(format!(
                "unrecognized chunker option: {spec}"
            )));
        }
    }
    let parts: Vec<&str> = spec.split('-').collect();
    if parts.len() != 2 {
        return Err(ImportError::InvalidChunker(format!(
            "incorrect chunker string format {spec:?} (expected size-{{size}})"
        )));
    }
    let size: i64 = parts[1].parse().map_err(|_| {
        ImportError::InvalidChunker(format!(
            "invalid chunk size {:?} in chunker {spec:?}",
            parts[1]
        ))
    })?;
    if size <= 0 {
        return Err(ImportError::InvalidChunker(
            "chunker size must be greater than 0".into(),
        ));
    }
    if size > MAX_CHUNK_SIZE as i64 {
        return Err(ImportError::InvalidChunker(format!(
            "chunker parameters may not exceed the maximum chunk size of {MAX_CHUNK_SIZE}"
        )));
    }
    Ok(size as usize)
}

/// A finished block: write it to the block store under `cid`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The block's CID.
    pub cid: Cid,
    /// The block's bytes.
    pub data: Bytes,
}

/// The root of an imported file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRoot {
    /// Root CID.
    pub cid: Cid,
    /// Cumulative size of the DAG (the Tsize a parent directory link carries; Kubo's `Size`).
    pub size: u64,
    /// Number of file bytes.
    pub file_size: u64,
}

/// A link waiting to be placed in a stem.
#[derive(Clone, Copy, Debug)]
struct Pending {
    cid: Cid,
    /// Cumulative DAG size (link Tsize).
    tsize: u64,
    /// File bytes below (blocksizes entry).
    filesize: u64,
}

/// An open trickle node.
#[derive(Debug)]
struct Frame {
    /// `None` for the root (unbounded depth).
    max_depth: Option<usize>,
    links: Vec<Pending>,
    /// 0 while taking leaves, then the depth of the subtrees being added.
    depth: usize,
    /// Subtrees of `depth` already added.
    repeat: usize,
}

impl Frame {
    fn new(max_depth: Option<usize>) -> Self {
        Frame {
            max_depth,
            links: Vec::new(),
            depth: 0,
            repeat: 0,
        }
    }
}

/// Streaming importer of one file. Feed it with [`push`](Self::push), end with
/// [`finish`](Self::finish).
pub struct FileImporter {
    opts: ImportOptions,
    meta: Metadata,
    /// Bytes reserved in front of each chunk (0 for raw leaves).
    header_room: usize,
    /// The chunk being filled (`header_room` reserved bytes, then data). Empty when unallocated.
    cur: BytesMut,
    leaves: u64,
    file_size: u64,
    /// Balanced: pending links per level (0 = leaves).
    levels: Vec<Vec<Pending>>,
    /// Trickle: open nodes, root first.
    frames: Vec<Frame>,
    out: Vec<Block>,
}

impl std::fmt::Debug for FileImporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not derived: the chunk buffer would print up to 2 MiB of file bytes.
        f.debug_struct("FileImporter")
            .field("opts", &self.opts)
            .field("meta", &self.meta)
            .field("buffered", &self.chunk_len())
            .field("leaves", &self.leaves)
            .field("file_size", &self.file_size)
            .field("levels", &self.levels.len())
            .field("frames", &self.frames.len())
            .finish()
    }
}

impl FileImporter {
    /// Starts an import. Options are normalised defensively: a hash other than sha2-256 uses
    /// CIDv1, non-empty metadata disables raw leaves (as Kubo does), `chunk_size` is clamped to
    /// 1..=[`MAX_CHUNK_SIZE`] and `max_links` to at least 2 (balanced) or 1 (trickle).
    pub fn new(opts: ImportOptions, meta: Metadata) -> Self {
        let mut opts = opts;
        if opts.hash != HashFn::Sha2_256 {
            opts.cid_version = Version::V1;
        }
        if !meta.is_empty() {
            opts.raw_leaves = false;
        }
        opts.chunk_size = opts.chunk_size.clamp(1, MAX_CHUNK_SIZE);
        let min_links = if opts.layout == Layout::Balanced {
            2
        } else {
            1
        };
        opts.max_links = opts.max_links.max(min_links);
        let header_room = if opts.raw_leaves { 0 } else { LEAF_HEADER_ROOM };
        FileImporter {
            opts,
            meta,
            header_room,
            cur: BytesMut::new(),
            leaves: 0,
            file_size: 0,
            levels: Vec::new(),
            frames: Vec::new(),
            out: Vec::new(),
        }
    }

    /// The (normalised) options in use.
    pub fn options(&self) -> &ImportOptions {
        &self.opts
    }

    /// Consumes bytes; returns the blocks finished so far (leaves and completed stems), in an
    /// order where children precede their parents. Chunk boundaries do not depend on how the
    /// input is split across calls.
    pub fn push(&mut self, mut data: &[u8]) -> Vec<Block> {
        while !data.is_empty() {
            if self.chunk_len() == self.opts.chunk_size {
                // More data follows, so this full chunk is not the last one.
                self.flush_chunk(false);
            }
            if self.cur.capacity() == 0 {
                self.cur = BytesMut::with_capacity(
                    self.header_room + self.opts.chunk_size + 16 + self.meta.encoded_len(),
                );
                self.cur.put_bytes(0, self.header_room);
            }
            let take = (self.opts.chunk_size - self.chunk_len()).min(data.len());
            self.cur.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        std::mem::take(&mut self.out)
    }

    /// Ends the file: returns the remaining blocks (the root last) and the root.
    pub fn finish(mut self) -> (Vec<Block>, FileRoot) {
        if self.chunk_len() > 0 {
            self.flush_chunk(true);
        }
        let root = match self.opts.layout {
            Layout::Balanced => self.finish_balanced(),
            Layout::Trickle => self.finish_trickle(),
        };
        let root = FileRoot {
            cid: root.cid,
            size: root.tsize,
            file_size: self.file_size,
        };
        (self.out, root)
    }

    fn chunk_len(&self) -> usize {
        self.cur.len().saturating_sub(self.header_room)
    }

    /// Turns the current chunk into a leaf block and places it in the layout.
    fn flush_chunk(&mut self, is_last: bool) {
        let buf = std::mem::take(&mut self.cur);
        let n = buf.len() - self.header_room;
        let leaf = if self.opts.raw_leaves {
            let data = buf.freeze();
            let cid = Cid::new_v1(RAW, self.opts.hash.digest(&data));
            self.out.push(Block { cid, data });
            Pending {
                cid,
                tsize: n as u64,
                filesize: n as u64,
            }
        } else {
            // The only leaf of a balanced file is the root and carries the metadata.
            let is_root = is_last && self.leaves == 0 && self.opts.layout == Layout::Balanced;
            let ty = match self.opts.layout {
                Layout::Balanced => DataType::File,
                Layout::Trickle => DataType::Raw,
            };
            let data = self.finish_leaf(buf, n, ty, is_root);
            let cid = self.opts.dag_pb_cid(&data);
            let tsize = data.len() as u64;
            self.out.push(Block { cid, data });
            Pending {
                cid,
                tsize,
                filesize: n as u64,
            }
        };
        self.leaves += 1;
        self.file_size += n as u64;
        match self.opts.layout {
            Layout::Balanced => self.push_link(0, leaf),
            Layout::Trickle => self.place_trickle_leaf(leaf),
        }
    }

    /// Wraps the `n` chunk bytes in `buf` (after the reserved header room) into
    /// `PBNode{Data: UnixFS{Type: ty, Data: chunk, filesize: n [, mode, mtime]}}` in place.
    fn finish_leaf(&self, mut buf: BytesMut, n: usize, ty: DataType, is_root: bool) -> Bytes {
        let n64 = n as u64;
        let meta_len = if is_root { self.meta.encoded_len() } else { 0 };
        let unixfs_len = 2 + 1 + varint_len(n64) + n + 1 + varint_len(n64) + meta_len;
        let mut header = [0u8; LEAF_HEADER_ROOM];
        let mut h = 0;
        header[h] = 0x0a;
        h += 1;
        h += write_varint(&mut header[h..], unixfs_len as u64);
        header[h..h + 3].copy_from_slice(&[0x08, ty as u8, 0x12]);
        h += 3;
        h += write_varint(&mut header[h..], n64);
        let start = self.header_room - h;
        buf[start..self.header_room].copy_from_slice(&header[..h]);
        let mut trailer = Vec::with_capacity(11 + meta_len);
        trailer.push(0x18);
        put_varint(&mut trailer, n64);
        if is_root {
            self.meta.put(&mut trailer);
        }
        buf.extend_from_slice(&trailer);
        buf.freeze().slice(start..)
    }

    /// Encodes a file stem over `links`, emits it, and returns its link.
    fn make_stem(&mut self, links: &[Pending], is_root: bool) -> Pending {
        let mut unixfs = UnixFsData::new(DataType::File);
        unixfs.filesize = Some(links.iter().map(|l| l.filesize).sum());
        unixfs.blocksizes = links.iter().map(|l| l.filesize).collect();
        if is_root {
            self.meta.apply(&mut unixfs);
        }
        let node = PbNode {
            links: links
                .iter()
                .map(|l| PbLink {
                    cid: l.cid,
                    name: Some(String::new()),
                    tsize: Some(l.tsize),
                })
                .collect(),
            data: Some(unixfs.encode()),
        };
        let data = Bytes::from(node.encode());
        let cid = self.opts.dag_pb_cid(&data);
        let tsize = data.len() as u64 + links.iter().map(|l| l.tsize).sum::<u64>();
        self.out.push(Block { cid, data });
        Pending {
            cid,
            tsize,
            filesize: unixfs.filesize.unwrap_or(0),
        }
    }

    /// The root of an empty file (balanced layout): an empty raw block, or a UnixFS File node
    /// with `filesize: 0` and no `Data`.
    fn empty_root(&mut self) -> Pending {
        if self.opts.raw_leaves {
            let cid = Cid::new_v1(RAW, self.opts.hash.digest(&[]));
            self.out.push(Block {
                cid,
                data: Bytes::new(),
            });
            return Pending {
                cid,
                tsize: 0,
                filesize: 0,
            };
        }
        self.make_stem(&[], true)
    }

    // ---- balanced ----

    /// Adds a link at `level`, first turning a full level into a stem one level up.
    fn push_link(&mut self, level: usize, link: Pending) {
        if self.levels.len() == level {
            self.levels.push(Vec::with_capacity(self.opts.max_links));
        }
        if self.levels[level].len() == self.opts.max_links {
            let full = std::mem::take(&mut self.levels[level]);
            let stem = self.make_stem(&full, false);
            self.push_link(level + 1, stem);
            self.levels[level] = full;
            self.levels[level].clear();
        }
        self.levels[level].push(link);
    }

    fn finish_balanced(&mut self) -> Pending {
        if self.levels.is_empty() {
            return self.empty_root();
        }
        let mut level = 0;
        loop {
            let top = level + 1 == self.levels.len();
            if top && self.levels[level].len() == 1 {
                return self.levels[level][0];
            }
            if self.levels[level].is_empty() {
                // Cannot happen (every level up to the top holds a link), but never emit an
                // empty stem for it.
                if top {
                    return self.empty_root();
                }
                level += 1;
                continue;
            }
            let links = std::mem::take(&mut self.levels[level]);
            // A stem made from the top level is the new (and final) root.
            let stem = self.make_stem(&links, top);
            self.push_link(level + 1, stem);
            level += 1;
        }
    }

    // ---- trickle ----

    fn place_trickle_leaf(&mut self, leaf: Pending) {
        if self.frames.is_empty() {
            self.frames.push(Frame::new(None));
        }
        let max_links = self.opts.max_links;
        loop {
            let Some(top) = self.frames.last_mut() else {
                return;
            };
            if top.depth == 0 {
                if top.links.len() < max_links {
                    top.links.push(leaf);
                    return;
                }
                top.depth = 1;
                top.repeat = 0;
            }
            if top.max_depth.is_none_or(|m| top.depth < m) {
                // Open the next subtree (of max depth `top.depth`); the leaf goes there.
                let child = Frame::new(Some(top.depth));
                self.frames.push(child);
                continue;
            }
            // This subtree is complete: close it and move its parent to the next slot.
            let Some(done) = self.frames.pop() else {
                return;
            };
            let link = self.make_stem(&done.links, false);
            if let Some(parent) = self.frames.last_mut() {
                parent.links.push(link);
                parent.repeat += 1;
                if parent.repeat == TRICKLE_REPEAT {
                    parent.depth += 1;
                    parent.repeat = 0;
                }
            }
        }
    }

    fn finish_trickle(&mut self) -> Pending {
        if self.frames.is_empty() {
            self.frames.push(Frame::new(None));
        }
        loop {
            let Some(frame) = self.frames.pop() else {
                unreachable!("the loop returns when the root frame is popped")
            };
            let is_root = self.frames.is_empty();
            let link = self.make_stem(&frame.links, is_root);
            match self.frames.last_mut() {
                Some(parent) => parent.links.push(link),
                None => return link,
            }
        }
    }
}

/// Imports a whole in-memory file (convenience for tests and small adds).
pub fn import_bytes(opts: ImportOptions, meta: Metadata, data: &[u8]) -> (Vec<Block>, FileRoot) {
    let mut imp = FileImporter::new(opts, meta);
    let mut blocks = imp.push(data);
    let (rest, root) = imp.finish();
    blocks.extend(rest);
    (blocks, root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn root_of(opts: ImportOptions, data: &[u8]) -> String {
        import_bytes(opts, Metadata::default(), data)
            .1
            .cid
            .to_string()
    }

    #[test]
    fn resolve_defaults() {
        let o = ImportOptions::resolve(None, None, None, false, None).unwrap();
        assert_eq!(o, ImportOptions::default());
        let o = ImportOptions::resolve(Some(0), None, Some("default"), false, Some("sha2-256"))
            .unwrap();
        assert_eq!(o, ImportOptions::default());
    }

    #[test]
    fn resolve_cid_version_and_raw_leaves() {
        let o = ImportOptions::resolve(Some(1), None, None, false, None).unwrap();
        assert_eq!((o.cid_version, o.raw_leaves), (Version::V1, true));
        let o = ImportOptions::resolve(Some(1), Some(false), None, false, None).unwrap();
        assert_eq!((o.cid_version, o.raw_leaves), (Version::V1, false));
        let o = ImportOptions::resolve(None, Some(true), None, false, None).unwrap();
        assert_eq!((o.cid_version, o.raw_leaves), (Version::V0, true));
        assert_eq!(
            ImportOptions::resolve(Some(2), None, None, false, None),
            Err(ImportError::UnknownCidVersion(2))
        );
    }

    #[test]
    fn resolve_hash_rules() {
        let o = ImportOptions::resolve(None, None, None, false, Some("blake2b-256")).unwrap();
        assert_eq!(
            (o.cid_version, o.raw_leaves, o.hash),
            (Version::V1, true, HashFn::Blake2b256)
        );
        let o = ImportOptions::resolve(None, Some(false), None, false, Some("SHA3-512")).unwrap();
        assert_eq!(
            (o.cid_version, o.raw_leaves, o.hash),
            (Version::V1, false, HashFn::Sha3_512)
        );
        assert_eq!(
            ImportOptions::resolve(Some(0), None, None, false, Some("sha2-512")),
            Err(ImportError::CidV0RequiresSha256)
        );
        let e = ImportOptions::resolve(None, None, None, false, Some("md5")).unwrap_err();
        assert_eq!(e, ImportError::UnknownHash("md5".into()));
        assert_eq!(e.to_string(), "unrecognized hash function: \"md5\"");
    }

    #[test]
    fn resolve_chunker_and_layout() {
        let o = ImportOptions::resolve(None, None, Some("size-1024"), true, None).unwrap();
        assert_eq!((o.chunk_size, o.layout), (1024, Layout::Trickle));
        let o = ImportOptions::resolve(
            None,
            None,
            Some(&format!("size-{MAX_CHUNK_SIZE}")),
            false,
            None,
        );
        assert_eq!(o.unwrap().chunk_size, MAX_CHUNK_SIZE);
        for bad in [
            "size-0",
            "size--5",
            "size-",
            "size-abc",
            "size-1-2",
            "size",
            "rabin",
            "rabin-16-32-64",
            "buzhash",
            "fancy-12",
            "size-2096897",
        ] {
            let r = ImportOptions::resolve(None, None, Some(bad), false, None);
            assert!(
                matches!(r, Err(ImportError::InvalidChunker(_))),
                "{bad}: {r:?}"
            );
        }
    }

    #[test]
    fn resolve_metadata_rules() {
        let o =
            ImportOptions::resolve_with_metadata(Some(1), None, None, false, None, true).unwrap();
        assert_eq!((o.cid_version, o.raw_leaves), (Version::V1, false));
        assert_eq!(
            ImportOptions::resolve_with_metadata(None, Some(true), None, false, None, true),
            Err(ImportError::RawLeavesWithMetadata)
        );
    }

    #[test]
    fn small_vectors() {
        let d = ImportOptions::default();
        assert_eq!(
            root_of(d.clone(), b"hello world"),
            "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"
        );
        assert_eq!(
            root_of(d.clone(), b""),
            "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
        );
        let t = ImportOptions {
            layout: Layout::Trickle,
            ..d
        };
        assert_eq!(
            root_of(t, b"Hello Worlds!\n"),
            "QmUkUQgxXeggyaD5Ckv8ZqfW8wHBX6cYyeiyqvVZYzq5Bi"
        );
    }

    /// Sizes of every stem, by walking the emitted blocks from the root.
    fn shape(blocks: &[Block], cid: &Cid) -> String {
        let Some(b) = blocks.iter().find(|b| &b.cid == cid) else {
            return "?".into();
        };
        if cid.codec() == RAW {
            return "r".into();
        }
        let node = PbNode::decode(&b.data).unwrap();
        if node.links.is_empty() {
            return "l".into();
        }
        let inner: Vec<String> = node.links.iter().map(|l| shape(blocks, &l.cid)).collect();
        format!("[{}]", inner.join(","))
    }

    #[test]
    fn balanced_shapes() {
        let opts = ImportOptions {
            chunk_size: 1,
            max_links: 3,
            ..Default::default()
        };
        let cases = [
            (1, "l"),
            (2, "[l,l]"),
            (3, "[l,l,l]"),
            (4, "[[l,l,l],[l]]"),
            (9, "[[l,l,l],[l,l,l],[l,l,l]]"),
            (10, "[[[l,l,l],[l,l,l],[l,l,l]],[[l]]]"),
        ];
        for (n, want) in cases {
            let (blocks, root) = import_bytes(opts.clone(), Metadata::default(), &vec![7u8; n]);
            assert_eq!(shape(&blocks, &root.cid), want, "{n} chunks");
        }
    }

    #[test]
    fn trickle_shapes() {
        // max_links 2: root takes 2 leaves, then 4 depth-1 subtrees of 2 leaves, then 4 depth-2
        // subtrees (2 leaves + 4 depth-1 subtrees each), ...
        let opts = ImportOptions {
            chunk_size: 1,
            max_links: 2,
            layout: Layout::Trickle,
            ..Default::default()
        };
        let cases = [
            (0, "?"),
            (1, "[l]"),
            (2, "[l,l]"),
            (3, "[l,l,[l]]"),
            (10, "[l,l,[l,l],[l,l],[l,l],[l,l]]"),
            (11, "[l,l,[l,l],[l,l],[l,l],[l,l],[l]]"),
            (13, "[l,l,[l,l],[l,l],[l,l],[l,l],[l,l,[l]]]"),
        ];
        for (n, want) in cases {
            let (blocks, root) = import_bytes(opts.clone(), Metadata::default(), &vec![7u8; n]);
            if n == 0 {
                // Empty trickle file: a stem without links.
                assert_eq!(blocks.len(), 1);
                assert_eq!(&blocks[0].data[..], &[0x0a, 0x04, 0x08, 0x02, 0x18, 0x00]);
                continue;
            }
            assert_eq!(shape(&blocks, &root.cid), want, "{n} chunks");
        }
    }

    /// boxo's `VerifyTrickleDagStructure` rule: the first `max_links` children of a node are
    /// leaves (UnixFS Raw, or raw blocks); child `i` after them is a subtree of depth
    /// `(i - max_links) / 4 + 1`, which must be shallower than its parent.
    fn check_trickle(
        blocks: &HashMap<Cid, Bytes>,
        cid: &Cid,
        depth: i64,
        max_links: usize,
        raw: bool,
    ) {
        let data = &blocks[cid];
        if depth == 0 {
            if raw {
                assert_eq!(cid.codec(), RAW);
            } else {
                let node = PbNode::decode(data).unwrap();
                assert!(node.links.is_empty());
                let d = UnixFsData::decode(node.data.as_deref().unwrap()).unwrap();
                assert_eq!(d.data_type, DataType::Raw);
            }
            return;
        }
        let node = PbNode::decode(data).unwrap();
        let d = UnixFsData::decode(node.data.as_deref().unwrap()).unwrap();
        assert_eq!((d.data_type, d.data.as_ref()), (DataType::File, None));
        assert_eq!(d.blocksizes.len(), node.links.len());
        for (i, link) in node.links.iter().enumerate() {
            let child_depth = if i < max_links {
                0
            } else {
                ((i - max_links) / 4 + 1) as i64
            };
            assert!(
                depth < 0 || child_depth < depth,
                "child {i} too deep under depth {depth}"
            );
            check_trickle(blocks, &link.cid, child_depth, max_links, raw);
        }
    }

    #[test]
    fn trickle_structure_like_boxo_verifier() {
        for raw in [false, true] {
            for max_links in [1, 2, 3, 5] {
                for n in 0..250 {
                    let opts = ImportOptions {
                        chunk_size: 1,
                        max_links,
                        raw_leaves: raw,
                        layout: Layout::Trickle,
                        ..Default::default()
                    };
                    let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
                    let (blocks, root) = import_bytes(opts, Metadata::default(), &data);
                    let map: HashMap<Cid, Bytes> =
                        blocks.into_iter().map(|b| (b.cid, b.data)).collect();
                    check_trickle(&map, &root.cid, -1, max_links, raw);
                }
            }
        }
    }

    #[test]
    fn metadata_on_root_only() {
        let meta = Metadata {
            mode: Some(0o644),
            mtime: Some((1_700_000_000, Some(5))),
        };
        let opts = ImportOptions {
            chunk_size: 4,
            raw_leaves: true,
            ..Default::default()
        };
        // Raw leaves are switched off when metadata is present.
        let (blocks, root) = import_bytes(opts.clone(), meta, b"abc");
        assert_eq!(blocks.len(), 1);
        assert_eq!(root.cid.codec(), DAG_PB);
        let node = PbNode::decode(&blocks[0].data).unwrap();
        let d = UnixFsData::decode(node.data.as_deref().unwrap()).unwrap();
        assert_eq!(
            (d.data_type, d.data.as_deref(), d.filesize),
            (DataType::File, Some(&b"abc"[..]), Some(3))
        );
        assert_eq!(d.mode, Some(0o644));
        assert_eq!(
            d.mtime.map(|t| (t.seconds, t.fractional_nanoseconds)),
            Some((1_700_000_000, Some(5)))
        );
        assert_eq!(root.size, blocks[0].data.len() as u64);
        // Multi-chunk: only the root stem carries metadata.
        let (blocks, root) = import_bytes(opts, meta, b"abcdefghij");
        for b in &blocks {
            let node = PbNode::decode(&b.data).unwrap();
            let d = UnixFsData::decode(node.data.as_deref().unwrap()).unwrap();
            assert_eq!(d.mode.is_some(), b.cid == root.cid);
            assert_eq!(d.mtime.is_some(), b.cid == root.cid);
        }
        // Empty file.
        let (blocks, _) = import_bytes(ImportOptions::default(), meta, b"");
        let node = PbNode::decode(&blocks[0].data).unwrap();
        let d = UnixFsData::decode(node.data.as_deref().unwrap()).unwrap();
        assert_eq!((d.data, d.filesize, d.mode), (None, Some(0), Some(0o644)));
    }

    #[test]
    fn sizes_are_cumulative() {
        for layout in [Layout::Balanced, Layout::Trickle] {
            for raw in [false, true] {
                let opts = ImportOptions {
                    chunk_size: 5,
                    max_links: 3,
                    layout,
                    raw_leaves: raw,
                    ..Default::default()
                };
                let (blocks, root) = import_bytes(opts, Metadata::default(), &[1u8; 97]);
                let total: u64 = blocks.iter().map(|b| b.data.len() as u64).sum();
                assert_eq!(root.size, total, "{layout:?} raw={raw}");
                assert_eq!(root.file_size, 97);
            }
        }
    }
}
