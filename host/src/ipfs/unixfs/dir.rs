//! Directory builder: turns imported files (and explicit directories) into UnixFS directory
//! nodes, the way `ipfs add -r` / `--wrap-with-directory` lay them out.
//!
//! Callers import each file with `unixfs::file::FileImporter`, register its [`FileRoot`] under a
//! relative path with [`DirBuilder::add_file`], declare empty directories or directory metadata
//! with [`DirBuilder::add_dir`], and call [`DirBuilder::build`], which returns every directory
//! block in post-order (children before parents, the root — path `""` — last) with its
//! cumulative size.
//!
//! Encoding (as boxo's `BasicDirectory`/MFS produce it): `PBNode{Links, Data}` with Data =
//! UnixFS `{Type: Directory}` (`08 01`) plus `mode`/`mtime` when given, links sorted by name
//! bytes (Go's `strings.Compare`; `BTreeMap<String, _>` order is the same), each link carrying
//! `Name` and `Tsize` = the child's cumulative size (a file's [`FileRoot::size`], a directory's
//! block length plus its links' Tsizes). The CID version and hash follow the [`ImportOptions`];
//! CIDv1 gives dag-pb CIDv1 directories.
//!
//! Paths are relative, `/`-separated, and are rejected ([`ImportError::InvalidPath`]) when
//! absolute, empty, or containing empty (`a//b`, trailing `/`), `.` or `..` segments. Parent
//! directories are created implicitly (without metadata; call `add_dir` for them to carry
//! mode/mtime, before or after their children). Kubo's `--mode`/`--mtime`/`--preserve-*` apply
//! to every entry of an add, the top-level directory included: to match it, pass the metadata
//! to every `FileImporter` and call `add_dir` for every directory, `""` included. Adding the
//! same path twice, or a path below a file, is an error rather than a silent replace.
//!
//! Known gap — HAMT sharding: Kubo (boxo `io.DynamicDirectory`, default
//! `Import.UnixFSHAMTDirectorySizeThreshold` = 256 KiB with the legacy "links" estimate) turns a
//! directory into a HAMT shard when the sum over its entries of `len(name) + len(cid bytes)`
//! exceeds 262 144 bytes (strictly greater). This builder only writes flat directories; rather
//! than silently producing a CID Kubo would not, [`DirBuilder::build`] returns
//! [`ImportError::ShardingRequired`] for such directories (roughly 4 000+ entries with typical
//! names). The `unixfs-v1-2025` profile's "block" estimate (exact serialized block size) and
//! `disabled` are selectable with [`DirBuilder::with_size_estimation`]. The reader does resolve
//! paths through HAMT shards produced by Kubo.
//!
//! The traversal in `build` uses an explicit stack, so deep trees cannot overflow the call stack.

use std::collections::BTreeMap;
use std::collections::btree_map::{self, IntoIter};

use bytes::Bytes;
use cid::Cid;

use super::data::{DataType, Metadata, UnixFsData};
use super::file::{Block, FileRoot, ImportError, ImportOptions};
use crate::ipfs::dagpb::{PbLink, PbNode};

/// Kubo's HAMT sharding threshold, in bytes of estimated directory size.
pub const HAMT_SHARDING_THRESHOLD: u64 = 256 * 1024;

/// How Kubo estimates a directory's size for the sharding decision
/// (`Import.UnixFSHAMTDirectorySizeEstimation`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HamtSizeEstimation {
    /// Kubo's default (and the `unixfs-v0-2015` profile): sum of name lengths plus CID byte
    /// lengths.
    #[default]
    Links,
    /// The `unixfs-v1-2025` profile: the exact serialized dag-pb block size.
    Block,
    /// Never shard (`disabled`).
    Disabled,
}

#[derive(Debug)]
enum Entry {
    File(FileRoot),
    Dir(DirNode),
}

#[derive(Debug, Default)]
struct DirNode {
    meta: Metadata,
    /// Declared with `add_dir` (as opposed to created as a parent).
    explicit: bool,
    entries: BTreeMap<String, Entry>,
}

/// Collects files and directories, then encodes the directory nodes.
#[derive(Debug)]
pub struct DirBuilder {
    opts: ImportOptions,
    estimation: HamtSizeEstimation,
    root: DirNode,
}

/// Validates a relative path and splits it into segments; `""` is the root (no segments).
pub fn split_path(path: &str) -> Result<Vec<&str>, ImportError> {
    let bad = |reason| ImportError::InvalidPath {
        path: path.to_owned(),
        reason,
    };
    if path.is_empty() {
        return Ok(Vec::new());
    }
    if path.starts_with('/') {
        return Err(bad("absolute paths are not allowed"));
    }
    let segments: Vec<&str> = path.split('/').collect();
    for s in &segments {
        match *s {
            "" => return Err(bad("empty path segment")),
            "." => return Err(bad("'.' segments are not allowed")),
            ".." => return Err(bad("'..' segments are not allowed")),
            _ => {}
        }
    }
    Ok(segments)
}

impl DirBuilder {
    /// A builder whose directory nodes use `opts`' CID version and hash.
    pub fn new(opts: &ImportOptions) -> Self {
        DirBuilder {
            opts: opts.clone(),
            estimation: HamtSizeEstimation::default(),
            root: DirNode::default(),
        }
    }

    /// Uses another size estimate for the "would Kubo shard this directory" check.
    pub fn with_size_estimation(mut self, estimation: HamtSizeEstimation) -> Self {
        self.estimation = estimation;
        self
    }

    /// Walks to the directory holding `segments`' last element, creating parents as needed.
    fn parent_of<'a>(&'a mut self, segments: &[&str]) -> Result<&'a mut DirNode, ImportError> {
        let mut dir = &mut self.root;
        let parents = &segments[..segments.len().saturating_sub(1)];
        for (i, seg) in parents.iter().enumerate() {
            let entry = dir
                .entries
                .entry((*seg).to_owned())
                .or_insert_with(|| Entry::Dir(DirNode::default()));
            dir = match entry {
                Entry::Dir(d) => d,
                Entry::File(_) => {
                    return Err(ImportError::NotADirectory(segments[..=i].join("/")));
                }
            };
        }
        Ok(dir)
    }

    /// Adds an imported file at `path` (relative, `/`-separated, not the root).
    pub fn add_file(&mut self, path: &str, root: &FileRoot) -> Result<(), ImportError> {
        let segments = split_path(path)?;
        let Some(name) = segments.last() else {
            return Err(ImportError::InvalidPath {
                path: path.to_owned(),
                reason: "a file cannot be the root directory",
            });
        };
        let name = (*name).to_owned();
        let dir = self.parent_of(&segments)?;
        match dir.entries.entry(name) {
            btree_map::Entry::Occupied(_) => Err(ImportError::DuplicatePath(path.to_owned())),
            btree_map::Entry::Vacant(v) => {
                v.insert(Entry::File(*root));
                Ok(())
            }
        }
    }

    /// Declares the directory at `path` (`""` for the root) with its metadata; this is how empty
    /// directories are kept and how directories get mode/mtime.
    pub fn add_dir(&mut self, path: &str, meta: Metadata) -> Result<(), ImportError> {
        let segments = split_path(path)?;
        let Some(name) = segments.last() else {
            if self.root.explicit {
                return Err(ImportError::DuplicatePath(String::new()));
            }
            self.root.explicit = true;
            self.root.meta = meta;
            return Ok(());
        };
        let name = (*name).to_owned();
        let dir = self.parent_of(&segments)?;
        let entry = dir
            .entries
            .entry(name)
            .or_insert_with(|| Entry::Dir(DirNode::default()));
        match entry {
            Entry::File(_) => Err(ImportError::NotADirectory(path.to_owned())),
            Entry::Dir(d) if d.explicit => Err(ImportError::DuplicatePath(path.to_owned())),
            Entry::Dir(d) => {
                d.explicit = true;
                d.meta = meta;
                Ok(())
            }
        }
    }

    /// Encodes every directory: `(path, block, cumulative size)` in post-order, root (`""`)
    /// last.
    pub fn build(self) -> Result<Vec<(String, Block, u64)>, ImportError> {
        struct Work {
            path: String,
            name: String,
            meta: Metadata,
            entries: IntoIter<String, Entry>,
            links: Vec<PbLink>,
            children_size: u64,
            estimate: u64,
        }
        impl Work {
            fn new(path: String, name: String, dir: DirNode) -> Work {
                Work {
                    path,
                    name,
                    meta: dir.meta,
                    entries: dir.entries.into_iter(),
                    links: Vec::new(),
                    children_size: 0,
                    estimate: 0,
                }
            }
            fn link(&mut self, name: String, cid: Cid, size: u64) {
                self.estimate += (name.len() + cid.encoded_len()) as u64;
                self.children_size += size;
                self.links.push(PbLink {
                    cid,
                    name: Some(name),
                    tsize: Some(size),
                });
            }
        }

        let mut out = Vec::new();
        let mut stack = vec![Work::new(String::new(), String::new(), self.root)];
        while let Some(top) = stack.last_mut() {
            match top.entries.next() {
                Some((name, Entry::File(f))) => top.link(name, f.cid, f.size),
                Some((name, Entry::Dir(d))) => {
                    let path = if top.path.is_empty() {
                        name.clone()
                    } else {
                        format!("{}/{name}", top.path)
                    };
                    stack.push(Work::new(path, name, d));
                }
                None => {
                    let Some(w) = stack.pop() else { break };
                    let mut unixfs = UnixFsData::new(DataType::Directory);
                    w.meta.apply(&mut unixfs);
                    let node = PbNode {
                        links: w.links,
                        data: Some(unixfs.encode()),
                    };
                    let estimated = match self.estimation {
                        HamtSizeEstimation::Links => w.estimate,
                        HamtSizeEstimation::Block => node.encoded_len() as u64,
                        HamtSizeEstimation::Disabled => 0,
                    };
                    if estimated > HAMT_SHARDING_THRESHOLD {
                        return Err(ImportError::ShardingRequired {
                            path: w.path,
                            estimated,
                            limit: HAMT_SHARDING_THRESHOLD,
                        });
                    }
                    let data = Bytes::from(node.encode());
                    let cid = self.opts.dag_pb_cid(&data);
                    let size = data.len() as u64 + w.children_size;
                    out.push((w.path, Block { cid, data }, size));
                    if let Some(parent) = stack.last_mut() {
                        parent.link(w.name, cid, size);
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipfs::unixfs::file::import_bytes;

    fn file(data: &[u8]) -> FileRoot {
        import_bytes(ImportOptions::default(), Metadata::default(), data).1
    }

    #[test]
    fn rejects_bad_paths() {
        let mut b = DirBuilder::new(&ImportOptions::default());
        let f = file(b"x");
        for bad in ["/a", "a//b", "a/", "../a", "a/../b", "./a", "a/.", ""] {
            let r = b.add_file(bad, &f);
            assert!(
                matches!(r, Err(ImportError::InvalidPath { .. })),
                "{bad}: {r:?}"
            );
        }
        for bad in ["/", "a//b", "..", "x/"] {
            let r = b.add_dir(bad, Metadata::default());
            assert!(
                matches!(r, Err(ImportError::InvalidPath { .. })),
                "{bad}: {r:?}"
            );
        }
        b.add_file("a/b", &f).unwrap();
        assert_eq!(
            b.add_file("a/b", &f),
            Err(ImportError::DuplicatePath("a/b".into()))
        );
        assert_eq!(
            b.add_file("a/b/c", &f),
            Err(ImportError::NotADirectory("a/b".into()))
        );
        assert_eq!(
            b.add_dir("a/b", Metadata::default()),
            Err(ImportError::NotADirectory("a/b".into()))
        );
        // An implicit parent may be declared once, explicitly.
        b.add_dir("a", Metadata::default()).unwrap();
        assert_eq!(
            b.add_dir("a", Metadata::default()),
            Err(ImportError::DuplicatePath("a".into()))
        );
        b.add_dir("", Metadata::default()).unwrap();
        assert_eq!(
            b.add_dir("", Metadata::default()),
            Err(ImportError::DuplicatePath("".into()))
        );
    }

    #[test]
    fn post_order_sorted_and_sized() {
        let mut b = DirBuilder::new(&ImportOptions::default());
        let f1 = file(b"one");
        let f2 = file(b"two");
        b.add_file("z", &f1).unwrap();
        b.add_file("d/b", &f2).unwrap();
        b.add_file("d/a", &f1).unwrap();
        b.add_dir(
            "empty",
            Metadata {
                mode: Some(0o755),
                mtime: None,
            },
        )
        .unwrap();
        let out = b.build().unwrap();
        let paths: Vec<&str> = out.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(paths, vec!["d", "empty", ""]);
        let root = PbNode::decode(&out[2].1.data).unwrap();
        let names: Vec<&str> = root
            .links
            .iter()
            .map(|l| l.name.as_deref().unwrap())
            .collect();
        assert_eq!(names, vec!["d", "empty", "z"]);
        assert_eq!(root.links[0].cid, out[0].1.cid);
        assert_eq!(root.links[0].tsize, Some(out[0].2));
        assert_eq!(root.links[2].tsize, Some(f1.size));
        assert_eq!(
            out[2].2,
            out[2].1.data.len() as u64 + out[0].2 + out[1].2 + f1.size
        );
        let empty = PbNode::decode(&out[1].1.data).unwrap();
        assert!(empty.links.is_empty());
        let d = UnixFsData::decode(empty.data.as_deref().unwrap()).unwrap();
        assert_eq!((d.data_type, d.mode), (DataType::Directory, Some(0o755)));
        // Empty root.
        let out = DirBuilder::new(&ImportOptions::default()).build().unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(&out[0].1.data[..], &[0x0a, 0x02, 0x08, 0x01]);
        assert_eq!(
            out[0].1.cid.to_string(),
            "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
        );
    }

    #[test]
    fn refuses_to_need_sharding() {
        let mut b = DirBuilder::new(&ImportOptions::default());
        let f = file(b"x");
        // 34-byte CIDv0 + 66-byte names = 100 bytes per entry; 2622 entries > 262144.
        for i in 0..2622 {
            b.add_file(&format!("{i:066}"), &f).unwrap();
        }
        assert!(matches!(
            b.build(),
            Err(ImportError::ShardingRequired { .. })
        ));
        // Exactly at the threshold stays flat.
        let mut b = DirBuilder::new(&ImportOptions::default());
        for i in 0..2621 {
            b.add_file(&format!("{i:066}"), &f).unwrap();
        }
        b.add_file(&format!("{:010}", 7), &f).unwrap(); // 2621*100 + 44 = 262144
        assert!(b.build().is_ok());
    }
}
