//! UnixFS commands: `add`, `cat`, `resolve`.
//!
//! `add` streams: the multipart body is read part by part on the async side and fed, chunk by
//! chunk, through a bounded channel to one blocking import thread that owns the importers and
//! writes blocks. Network reads and hashing overlap, and memory stays bounded by the channel
//! (a few network chunks) plus the importer's own state, whatever the file size. The whole add
//! holds the shared side of the GC lock. Its outputs stream back as Kubo's NDJSON
//! (`{"Name","Hash","Size"}`, and `{"Name","Bytes"}` with `progress`); the last line is held
//! back until the blocks are flushed and the roots pinned, so a client that received the whole
//! answer holds an acknowledged, durable, pinned add.

use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::error::ApiError;
use super::multipart::{EntryKind, MultipartReader};
use super::request::RpcRequest;
use super::server::{Emitter, Input, RpcResult, bytes_stream, json, ndjson_from};
use crate::ipfs::node::{Node, NodeError};
use crate::ipfs::pins::PinMode;
use crate::ipfs::unixfs::dir::DirBuilder;
use crate::ipfs::unixfs::file::{FileImporter, ImportOptions, Metadata};
use crate::ipfs::unixfs::reader::{self, BlockSource, ReadError};

/// Reads blocks for the UnixFS reader from a blocking thread, waiting (until the request's
/// deadline) for blocks that are not stored locally, as Kubo does.
pub struct FetchingSource {
    pub node: Arc<Node>,
    pub rt: tokio::runtime::Handle,
    pub deadline: Option<Instant>,
}

impl BlockSource for FetchingSource {
    fn get_block(&self, cid: &Cid) -> Result<Bytes, ReadError> {
        self.rt
            .block_on(self.node.get_block(cid, self.deadline))
            .map_err(|e| ReadError::Source(e.to_string()))
    }
}

/// Splits `/ipfs/<cid>/a/b`, `/ipld/<cid>/a`, `<cid>/a/b` or a bare CID into the CID and the
/// segments, with boxo's error messages (`invalid path "x": …`).
pub fn parse_path(path: &str) -> Result<(Cid, Vec<String>), ApiError> {
    let invalid = |why: &str| ApiError::normal(format!("invalid path {path:?}: {why}"));
    let rest = if let Some(r) = path
        .strip_prefix("/ipfs/")
        .or_else(|| path.strip_prefix("/ipld/"))
    {
        r
    } else if path.starts_with("/ipns/") {
        return Err(ApiError::normal(format!(
            "{path}: IPNS names cannot be resolved by the embedded node"
        )));
    } else if path.starts_with('/') {
        return Err(invalid("path does not have enough components"));
    } else {
        // Kubo's PathOrCidPath: a bare CID (optionally followed by a path), else the path error
        let first = path.split('/').next().unwrap_or("");
        if Cid::try_from(first).is_err() {
            return Err(invalid("path does not have enough components"));
        }
        path
    };
    let mut segs = rest.split('/').filter(|s| !s.is_empty());
    let first = segs
        .next()
        .ok_or_else(|| invalid("path does not have enough components"))?;
    let cid = Cid::try_from(first).map_err(|e| invalid(&format!("invalid cid: {e}")))?;
    Ok((cid, segs.map(str::to_owned).collect()))
}

/// Resolves a path through UnixFS directories to the CID it names (blocking).
fn resolve_blocking(src: &FetchingSource, path: &str) -> Result<Cid, ApiError> {
    let (root, segs) = parse_path(path)?;
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    reader::resolve_path(src, &root, &segs).map_err(read_error)
}

fn read_error(e: ReadError) -> ApiError {
    ApiError::normal(e.to_string())
}

fn node_error(e: NodeError) -> ApiError {
    ApiError::normal(e.to_string())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::normal(format!("task failed: {e}")))?
}

pub async fn resolve(node: Arc<Node>, req: &RpcRequest) -> RpcResult {
    let path = req.arg(0, "name")?.to_owned();
    let src = FetchingSource {
        node,
        rt: tokio::runtime::Handle::current(),
        deadline: req.deadline()?,
    };
    let cid = blocking(move || resolve_blocking(&src, &path)).await?;
    json(&json!({ "Path": format!("/ipfs/{cid}") }))
}

pub async fn cat(node: Arc<Node>, req: &RpcRequest) -> RpcResult {
    let path = req.arg(0, "ipfs-path")?.to_owned();
    let offset = req.int64("offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::normal(format!(
            "cannot specify negative offset: {offset}"
        )));
    }
    let length = req.int64("length")?;
    if let Some(l) = length
        && l < 0
    {
        return Err(ApiError::normal(format!(
            "cannot specify negative length: {l}"
        )));
    }
    let (offset, length) = (offset as u64, length.map(|l| l as u64));
    let src = FetchingSource {
        node,
        rt: tokio::runtime::Handle::current(),
        deadline: req.deadline()?,
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, ApiError>>(4);
    let (len_tx, len_rx) = tokio::sync::oneshot::channel();
    tokio::task::spawn_blocking(move || {
        let run = || -> Result<(), ApiError> {
            let cid = resolve_blocking(&src, &path)?;
            let size = reader::file_size(&src, &cid).map_err(read_error)?;
            let avail = size.saturating_sub(offset);
            let _ = len_tx.send(Some(length.map_or(avail, |l| l.min(avail))));
            for chunk in reader::file_reader(&src, &cid, offset, length).map_err(read_error)? {
                if tx.blocking_send(Ok(chunk.map_err(read_error)?)).is_err() {
                    break; // the client went away
                }
            }
            Ok(())
        };
        if let Err(e) = run() {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let len = len_rx.await.ok().flatten();
    bytes_stream("text/plain", len, rx).await
}

/// What the import thread receives.
enum Feed {
    File { path: String, meta: Metadata },
    Data(Bytes),
    EndFile,
    Dir { path: String, meta: Metadata },
}

/// What the import thread reports.
enum Added {
    Progress {
        name: String,
        bytes: u64,
    },
    Entry {
        name: String,
        cid: Cid,
        size: u64,
        top_level: bool,
    },
}

struct AddSettings {
    opts: ImportOptions,
    only_hash: bool,
    wrap: bool,
    progress: bool,
}

/// The blocking side of an add: imports the fed files, builds the directories, writes blocks.
fn import_thread(
    node: Arc<Node>,
    s: AddSettings,
    mut feed: mpsc::Receiver<Feed>,
    out: mpsc::Sender<Added>,
) -> Result<(), ApiError> {
    let store = |blocks: Vec<crate::ipfs::unixfs::file::Block>| -> Result<(), ApiError> {
        if s.only_hash {
            return Ok(());
        }
        for b in blocks {
            node.put_block_trusted(&b.cid, &b.data)
                .map_err(node_error)?;
        }
        Ok(())
    };
    let mut dirs = DirBuilder::new(&s.opts);
    let mut in_dir = s.wrap;
    let mut current: Option<(String, FileImporter, u64, u64)> = None;
    const PROGRESS_STEP: u64 = 256 * 1024;
    while let Some(item) = feed.blocking_recv() {
        match item {
            Feed::File { path, meta } => {
                current = Some((path, FileImporter::new(s.opts.clone(), meta), 0, 0));
            }
            Feed::Data(data) => {
                let (name, importer, bytes, reported) =
                    current.as_mut().expect("data follows a file");
                store(importer.push(&data))?;
                *bytes += data.len() as u64;
                if s.progress && *bytes - *reported >= PROGRESS_STEP {
                    *reported = *bytes;
                    let _ = out.blocking_send(Added::Progress {
                        name: name.clone(),
                        bytes: *bytes,
                    });
                }
            }
            Feed::EndFile => {
                let (path, importer, bytes, _) = current.take().expect("end follows a file");
                let (blocks, root) = importer.finish();
                store(blocks)?;
                if s.progress {
                    let _ = out.blocking_send(Added::Progress {
                        name: path.clone(),
                        bytes,
                    });
                }
                let name = if path.is_empty() {
                    root.cid.to_string()
                } else {
                    path.clone()
                };
                let nested = path.contains('/');
                in_dir |= nested;
                dirs.add_file(&name, &root)
                    .map_err(|e| ApiError::client(e.to_string()))?;
                let _ = out.blocking_send(Added::Entry {
                    name,
                    cid: root.cid,
                    size: root.size,
                    top_level: !nested && !s.wrap,
                });
            }
            Feed::Dir { path, meta } => {
                in_dir = true;
                dirs.add_dir(&path, meta)
                    .map_err(|e| ApiError::client(e.to_string()))?;
            }
        }
    }
    if !in_dir {
        return Ok(());
    }
    for (path, block, size) in dirs.build().map_err(|e| ApiError::client(e.to_string()))? {
        if path.is_empty() && !s.wrap {
            continue; // the implicit root of unwrapped top-level entries is not output
        }
        let top_level = if s.wrap {
            path.is_empty()
        } else {
            !path.contains('/')
        };
        store(vec![block.clone()])?;
        let _ = out.blocking_send(Added::Entry {
            name: path,
            cid: block.cid,
            size,
            top_level,
        });
    }
    Ok(())
}

fn metadata(
    req: &RpcRequest,
    mode: Option<u32>,
    mtime: Option<(i64, Option<u32>)>,
) -> Result<Metadata, ApiError> {
    let req_mode =
        match req.string("mode")? {
            Some(m) => Some(u32::from_str_radix(m, 8).map_err(|_| {
                ApiError::client(format!("invalid mode {m:?}: not an octal number"))
            })?),
            None => None,
        };
    let req_mtime = match req.int64("mtime")? {
        Some(secs) => Some((secs, req.uint("mtime-nsecs")?)),
        None => None,
    };
    Ok(Metadata {
        mode: mode.or(req_mode),
        mtime: mtime.or(req_mtime),
    })
}

pub async fn add(node: Arc<Node>, req: RpcRequest, input: Input) -> RpcResult {
    if req.bool("nocopy", false)? {
        return Err(ApiError::client(
            "nocopy (filestore) is not supported by the embedded node",
        ));
    }
    if req.string("to-files")?.is_some() {
        return Err(ApiError::client(
            "to-files (MFS) is not supported by the embedded node",
        ));
    }
    let cid_version = req.uint("cid-version")?;
    let raw_leaves = match req.string("raw-leaves")? {
        Some(_) => Some(req.bool("raw-leaves", false)?),
        None => None,
    };
    let trickle = req.bool(["trickle", "t"], false)? || req.string("layout")? == Some("trickle");
    let opts = ImportOptions::resolve(
        cid_version,
        raw_leaves,
        req.string("chunker")?,
        trickle,
        req.string("hash")?,
    )
    .map_err(|e| ApiError::client(e.to_string()))?;
    let settings = AddSettings {
        opts,
        only_hash: req.bool(["only-hash", "n"], false)?,
        wrap: req.bool(["wrap-with-directory", "w"], false)?,
        progress: req.bool(["progress", "p"], false)?,
    };
    let pin = req.bool("pin", true)? && !settings.only_hash;
    let pin_name = req.string("pin-name")?.unwrap_or("").to_owned();
    let quieter = req.bool(["quieter", "Q"], false)?;
    let silent = req.bool("silent", false)?;
    let mut parts = MultipartReader::new(input.content_type.as_deref(), input.body, "path")?;
    // check request-level metadata once, before any work
    metadata(&req, None, None)?;

    ndjson_from(move |tx: Emitter| async move {
        let _gc = node.gc_guard().await;
        let (feed_tx, feed_rx) = mpsc::channel::<Feed>(8);
        let (out_tx, mut out_rx) = mpsc::channel::<Added>(64);
        let only_hash = settings.only_hash;
        let worker = {
            let node = node.clone();
            tokio::task::spawn_blocking(move || import_thread(node, settings, feed_rx, out_tx))
        };
        // Forward outputs, holding back the last entry until the add is durable.
        let forward = {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut roots = Vec::new();
                let mut held: Option<serde_json::Value> = None;
                while let Some(a) = out_rx.recv().await {
                    let line = match a {
                        Added::Progress { name, bytes } => json!({ "Name": name, "Bytes": bytes }),
                        Added::Entry { name, cid, size, top_level } => {
                            if top_level {
                                roots.push(cid);
                            }
                            json!({ "Name": name, "Hash": cid.to_string(), "Size": size.to_string() })
                        }
                    };
                    if let Some(prev) = held.replace(line) {
                        let is_entry = prev.get("Hash").is_some();
                        if !(quieter || silent) || !is_entry {
                            let _ = tx.send(Ok(prev)).await;
                        }
                    }
                }
                (roots, held)
            })
        };
        let feeding = async {
            while let Some(entry) = parts.next_entry().await? {
                let meta = metadata(&req, entry.mode, entry.mtime)?;
                match entry.kind {
                    EntryKind::Directory => {
                        let _ = feed_tx.send(Feed::Dir { path: entry.path, meta }).await;
                    }
                    EntryKind::Symlink(_) => {
                        return Err(ApiError::client("symlinks are not supported by the embedded node's add"));
                    }
                    EntryKind::File => {
                        if feed_tx.send(Feed::File { path: entry.path, meta }).await.is_err() {
                            return Ok(());
                        }
                        while let Some(chunk) = parts.next_chunk().await? {
                            if feed_tx.send(Feed::Data(chunk)).await.is_err() {
                                return Ok(());
                            }
                        }
                        let _ = feed_tx.send(Feed::EndFile).await;
                    }
                }
            }
            Ok(())
        };
        let fed: Result<(), ApiError> = feeding.await;
        drop(feed_tx);
        let imported = worker.await.map_err(|e| ApiError::normal(format!("import task failed: {e}")));
        let (roots, held) = forward.await.expect("forwarder");
        let finish = async {
            fed?;
            imported??;
            if !only_hash {
                node.flush().map_err(node_error)?;
            }
            if pin && !roots.is_empty() {
                let node2 = node.clone();
                blocking(move || {
                    node2.pins().add(&roots, PinMode::Recursive, &pin_name).map_err(|e| ApiError::normal(e.to_string()))
                })
                .await?;
            }
            Ok::<_, ApiError>(())
        };
        match finish.await {
            Ok(()) => {
                if let Some(last) = held
                    && !silent
                {
                    let _ = tx.send(Ok(last)).await;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(e)).await;
            }
        }
    })
    .await
}
