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
use super::request::RpcRequest;
use super::server::{Emitter, Input, RpcResult, bytes_stream, json, ndjson_from};
use crate::http::multipart::MultipartReader;
use crate::ipfs::adder::{self, AddError, AddEvent, AddSettings, BlockSink, Discard};
use crate::ipfs::node::Node;
use crate::ipfs::pins::PinMode;
use crate::ipfs::unixfs::file::{Block, ImportOptions, Metadata};
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

/// The embedded node's sink: blocks go to its block store, made durable at the end.
struct NodeSink(Arc<Node>);

impl BlockSink for NodeSink {
    fn put(&mut self, blocks: Vec<Block>) -> Result<(), String> {
        for b in blocks {
            self.0
                .put_block_trusted(&b.cid, &b.data)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        self.0.flush().map_err(|e| e.to_string())
    }
}

/// The `mode` / `mtime` / `mtime-nsecs` options of an add (they win over the parts' own).
fn request_metadata(req: &RpcRequest) -> Result<Metadata, ApiError> {
    let mode =
        match req.string("mode")? {
            Some(m) => Some(u32::from_str_radix(m, 8).map_err(|_| {
                ApiError::client(format!("invalid mode {m:?}: not an octal number"))
            })?),
            None => None,
        };
    let mtime = match req.int64("mtime")? {
        Some(secs) => Some((secs, req.uint("mtime-nsecs")?)),
        None => None,
    };
    Ok(Metadata { mode, mtime })
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
    let only_hash = req.bool(["only-hash", "n"], false)?;
    let wrap = req.bool(["wrap-with-directory", "w"], false)?;
    let progress = req.bool(["progress", "p"], false)?;
    let pin = req.bool("pin", true)? && !only_hash;
    let pin_name = req.string("pin-name")?.unwrap_or("").to_owned();
    let quieter = req.bool(["quieter", "Q"], false)?;
    let silent = req.bool("silent", false)?;
    let settings = AddSettings {
        import: opts,
        wrap,
        progress,
        default_meta: request_metadata(&req)?,
        preserve_mode: req.bool("preserve-mode", false)?,
        preserve_mtime: req.bool("preserve-mtime", false)?,
    };
    let mut parts = MultipartReader::new(input.content_type.as_deref(), input.body, "path")?;

    ndjson_from(move |tx: Emitter| async move {
        let _gc = node.gc_guard().await;
        let (out_tx, mut out_rx) = mpsc::channel::<AddEvent>(64);
        // Forward outputs, holding back the last entry until the add is durable and pinned.
        let forward = {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut roots = Vec::new();
                let mut held: Option<serde_json::Value> = None;
                while let Some(event) = out_rx.recv().await {
                    let line = match event {
                        AddEvent::Progress { name, bytes } => json!({ "Name": name, "Bytes": bytes }),
                        AddEvent::Entry { name, cid, size, top_level } => {
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
        let added = if only_hash {
            adder::add(&mut parts, settings, Discard, out_tx).await
        } else {
            adder::add(&mut parts, settings, NodeSink(node.clone()), out_tx).await
        };
        let (roots, held) = forward.await.expect("forwarder");
        let finish = async {
            added.map_err(|e| match e {
                AddError::Input(e) => e,
                AddError::Store(m) => ApiError::normal(m),
            })?;
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
