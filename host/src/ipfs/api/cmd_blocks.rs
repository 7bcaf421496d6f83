//! Block and DAG commands: `block/put|get|stat|rm`, `refs`, `refs/local`,
//! `dag/put|get|export|import`.
//!
//! Blocks larger than 1 MiB are refused unless `allow-big-block` is set, as in Kubo (such
//! blocks cannot travel between peers). Every stored block is verified against its CID.
//! `dag/export` streams a CAR v1 in depth-first order without holding the DAG in memory;
//! `dag/import` streams CARs in, verifying each block, and pins the roots when every block
//! under them is present.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use futures::TryStreamExt;
use ipld_core::ipld::Ipld;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::cmd_files::parse_path;
use super::error::ApiError;
use super::request::RpcRequest;
use super::server::{Emitter, Input, RpcResult, bytes_stream, json, ndjson_from};
use crate::http::multipart::{EntryKind, MultipartReader};
use crate::ipfs::car;
use crate::ipfs::dagpb::PbNode;
use crate::ipfs::hash::{self, HashFn};
use crate::ipfs::node::{Node, NodeError};
use crate::ipfs::pins::PinMode;

/// Kubo's limit for a block that can be exchanged with other peers.
pub const MAX_BLOCK_SIZE: usize = 1 << 20;

/// Multicodec codes by the names Kubo accepts.
pub fn codec_by_name(name: &str) -> Option<u64> {
    Some(match name {
        "raw" => hash::RAW,
        "dag-pb" | "protobuf" => hash::DAG_PB,
        "dag-cbor" | "cbor" => hash::DAG_CBOR,
        "dag-json" => hash::DAG_JSON,
        "json" => 0x0200,
        _ => return None,
    })
}

fn node_err(e: NodeError) -> ApiError {
    ApiError::normal(e.to_string())
}

fn hash_fn(req: &RpcRequest, key: &str) -> Result<HashFn, ApiError> {
    let name = req.string(key)?.unwrap_or("sha2-256");
    HashFn::from_name(name)
        .ok_or_else(|| ApiError::client(format!("unrecognized multihash function: {name}")))
}

/// Reads a whole part, refusing more than `limit` bytes.
async fn read_part(parts: &mut MultipartReader, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut data = Vec::new();
    while let Some(chunk) = parts.next_chunk().await? {
        if data.len() + chunk.len() > limit {
            return Err(ApiError::client(
                "produced block is over 1MiB: big blocks can't be exchanged with other peers. consider using UnixFS for automatic chunking of bigger files, or pass --allow-big-block to override",
            ));
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

fn block_limit(req: &RpcRequest) -> Result<usize, ApiError> {
    Ok(if req.bool("allow-big-block", false)? {
        usize::MAX
    } else {
        MAX_BLOCK_SIZE
    })
}

pub async fn block_put(node: Arc<Node>, req: RpcRequest, input: Input) -> RpcResult {
    let (version, codec) = match req.string("format")? {
        Some("v0") => (cid::Version::V0, hash::DAG_PB),
        Some(f) => (
            cid::Version::V1,
            codec_by_name(f)
                .ok_or_else(|| ApiError::client(format!("unrecognized format: {f}")))?,
        ),
        None => {
            let name = req.string("cid-codec")?.unwrap_or("raw");
            (
                cid::Version::V1,
                codec_by_name(name)
                    .ok_or_else(|| ApiError::client(format!("unrecognized codec: {name}")))?,
            )
        }
    };
    let hash = hash_fn(&req, "mhtype")?;
    if version == cid::Version::V0 && hash != HashFn::Sha2_256 {
        return Err(ApiError::client("CIDv0 only supports sha2-256"));
    }
    let pin = req.bool("pin", false)?;
    let limit = block_limit(&req)?;
    let mut parts = MultipartReader::new(input.content_type.as_deref(), input.body, "data")?;
    let _gc = node.gc_guard().await;
    let mut out = Vec::new();
    while let Some(entry) = parts.next_entry().await? {
        if !matches!(entry.kind, EntryKind::File) {
            continue;
        }
        let data = read_part(&mut parts, limit).await?;
        let mh = hash.digest(&data);
        let cid = if version == cid::Version::V0 {
            Cid::new_v0(mh).map_err(|e| ApiError::client(e.to_string()))?
        } else {
            Cid::new_v1(codec, mh)
        };
        node.put_block_trusted(&cid, &data).map_err(node_err)?;
        out.push((cid, data.len()));
    }
    if out.is_empty() {
        return Err(ApiError::client("file argument 'data' is required"));
    }
    node.flush().map_err(node_err)?;
    if pin {
        let cids: Vec<Cid> = out.iter().map(|(c, _)| *c).collect();
        node.pins()
            .add(&cids, PinMode::Recursive, "")
            .map_err(|e| ApiError::normal(e.to_string()))?;
    }
    ndjson_from(move |tx: Emitter| async move {
        for (cid, size) in out {
            let _ = tx
                .send(Ok(json!({ "Key": cid.to_string(), "Size": size })))
                .await;
        }
    })
    .await
}

fn cid_arg(req: &RpcRequest, i: usize, name: &str) -> Result<Cid, ApiError> {
    let (cid, segs) = parse_path(req.arg(i, name)?)?;
    if !segs.is_empty() {
        return Err(ApiError::normal(format!(
            "{}: block commands take a CID, not a path",
            req.args[i]
        )));
    }
    Ok(cid)
}

pub async fn block_get(node: Arc<Node>, req: &RpcRequest) -> RpcResult {
    let cid = cid_arg(req, 0, "cid")?;
    let data = node
        .get_block(&cid, req.deadline()?)
        .await
        .map_err(node_err)?;
    let (tx, rx) = mpsc::channel(1);
    let len = data.len() as u64;
    let _ = tx.send(Ok(data)).await;
    drop(tx);
    bytes_stream("application/vnd.ipld.raw", Some(len), rx).await
}

pub async fn block_stat(node: Arc<Node>, req: &RpcRequest) -> RpcResult {
    let cid = cid_arg(req, 0, "cid")?;
    let data = node
        .get_block(&cid, req.deadline()?)
        .await
        .map_err(node_err)?;
    json(&json!({ "Key": cid.to_string(), "Size": data.len() }))
}

pub async fn block_rm(node: Arc<Node>, req: &RpcRequest) -> RpcResult {
    req.arg(0, "cid")?;
    let cids = (0..req.args.len())
        .map(|i| cid_arg(req, i, "cid"))
        .collect::<Result<Vec<_>, _>>()?;
    let force = req.bool(["force", "f"], false)?;
    let quiet = req.bool(["quiet", "q"], false)?;
    let results = node.remove_blocks(cids, force).await;
    ndjson_from(move |tx: Emitter| async move {
        for (cid, err) in results {
            if quiet && err.is_none() {
                continue;
            }
            let mut line = json!({ "Hash": cid.to_string() });
            if let Some(e) = err {
                line["Error"] = json!(e);
            }
            if tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
    })
    .await
}

/// Named links of a block: dag-pb link names, none for other codecs.
fn named_links(cid: &Cid, data: &[u8]) -> Result<Vec<(String, Cid)>, ApiError> {
    if cid.codec() == hash::DAG_PB {
        let node = PbNode::decode(data).map_err(|e| ApiError::normal(format!("{cid}: {e}")))?;
        return Ok(node
            .links
            .into_iter()
            .map(|l| (l.name.unwrap_or_default(), l.cid))
            .collect());
    }
    Ok(Node::links(cid, data)
        .map_err(node_err)?
        .into_iter()
        .map(|c| (String::new(), c))
        .collect())
}

pub async fn refs(node: Arc<Node>, req: &RpcRequest) -> RpcResult {
    let roots = {
        req.arg(0, "ipfs-path")?;
        let mut v = Vec::new();
        for a in &req.args {
            let (cid, segs) = parse_path(a)?;
            if !segs.is_empty() {
                return Err(ApiError::normal(
                    "refs of a path inside a DAG: resolve it first",
                ));
            }
            v.push(cid);
        }
        v
    };
    let deadline = req.deadline()?;
    let recursive = req.bool(["recursive", "r"], false)?;
    let unique = req.bool(["unique", "u"], false)?;
    let edges = req.bool(["edges", "e"], false)?;
    let format = req.string("format")?.map(str::to_owned);
    if edges && format.is_some() {
        return Err(ApiError::client(
            "using format argument with edges is not allowed",
        ));
    }
    let max_depth = match req.int64("max-depth")? {
        Some(d) => d,
        None if recursive => -1,
        None => 1,
    };
    let fmt = format.unwrap_or_else(|| {
        if edges {
            "<src> -> <dst>".into()
        } else {
            "<dst>".into()
        }
    });
    ndjson_from(move |tx: Emitter| async move {
        let mut printed = HashSet::new();
        for root in roots {
            let mut stack = vec![(root, 0i64)];
            while let Some((cid, depth)) = stack.pop() {
                if max_depth >= 0 && depth >= max_depth {
                    continue;
                }
                let data = match node.get_block(&cid, deadline).await {
                    Ok(d) => d,
                    Err(e) => {
                        let _ = tx.send(Err(node_err(e))).await;
                        return;
                    }
                };
                let links = match named_links(&cid, &data) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                for (name, child) in links.iter() {
                    if unique && !printed.insert(*child.hash()) {
                        continue;
                    }
                    let line = fmt
                        .replace("<src>", &cid.to_string())
                        .replace("<dst>", &child.to_string())
                        .replace("<linkname>", name);
                    if tx
                        .send(Ok(json!({ "Ref": line, "Err": "" })))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                stack.extend(links.into_iter().rev().map(|(_, c)| (c, depth + 1)));
            }
        }
    })
    .await
}

pub async fn refs_local(node: Arc<Node>) -> RpcResult {
    let n = node.clone();
    let keys = tokio::task::spawn_blocking(move || n.blocks().keys())
        .await
        .map_err(|e| ApiError::normal(e.to_string()))?
        .map_err(|e| ApiError::normal(e.to_string()))?;
    ndjson_from(move |tx: Emitter| async move {
        for mh in keys {
            let line = json!({ "Ref": Cid::new_v1(hash::RAW, mh).to_string(), "Err": "" });
            if tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
    })
    .await
}

/// The IPLD data model view of a block, for `dag/get` (dag-pb as `{"Data","Links"}`).
fn block_to_ipld(cid: &Cid, data: &[u8]) -> Result<Ipld, ApiError> {
    let bad = |e: String| ApiError::normal(format!("cannot decode {cid}: {e}"));
    match cid.codec() {
        hash::RAW => Ok(Ipld::Bytes(data.to_vec())),
        hash::DAG_CBOR => serde_ipld_dagcbor::from_slice(data).map_err(|e| bad(e.to_string())),
        hash::DAG_JSON => serde_ipld_dagjson::from_slice(data).map_err(|e| bad(e.to_string())),
        hash::DAG_PB => {
            let node = PbNode::decode(data).map_err(|e| bad(e.to_string()))?;
            let links = node
                .links
                .into_iter()
                .map(|l| {
                    let mut m = std::collections::BTreeMap::new();
                    m.insert("Hash".to_string(), Ipld::Link(l.cid));
                    if let Some(n) = l.name {
                        m.insert("Name".to_string(), Ipld::String(n));
                    }
                    if let Some(t) = l.tsize {
                        m.insert("Tsize".to_string(), Ipld::Integer(t.into()));
                    }
                    Ipld::Map(m)
                })
                .collect();
            let mut m = std::collections::BTreeMap::new();
            if let Some(d) = node.data {
                m.insert("Data".to_string(), Ipld::Bytes(d));
            }
            m.insert("Links".to_string(), Ipld::List(links));
            Ok(Ipld::Map(m))
        }
        c => Err(ApiError::normal(format!(
            "cannot decode {cid}: unsupported codec 0x{c:x}"
        ))),
    }
}

pub async fn dag_get(node: Arc<Node>, req: &RpcRequest) -> RpcResult {
    let (root, segs) = parse_path(req.arg(0, "ref")?)?;
    let deadline = req.deadline()?;
    let output = req.string("output-codec")?.unwrap_or("dag-json").to_owned();
    let mut cid = root;
    let mut value = block_to_ipld(
        &cid,
        &node.get_block(&cid, deadline).await.map_err(node_err)?,
    )?;
    for seg in &segs {
        // crossing a link continues in the linked block
        if let Ipld::Link(next) = value {
            cid = next;
            value = block_to_ipld(
                &cid,
                &node.get_block(&cid, deadline).await.map_err(node_err)?,
            )?;
        }
        let next = match &value {
            Ipld::Map(m) => m.get(seg.as_str()).cloned(),
            Ipld::List(l) => seg.parse::<usize>().ok().and_then(|i| l.get(i).cloned()),
            _ => None,
        };
        value =
            next.ok_or_else(|| ApiError::normal(format!("no link named {seg:?} under {cid}")))?;
    }
    let body = match output.as_str() {
        "dag-json" | "json" => {
            serde_ipld_dagjson::to_vec(&value).map_err(|e| ApiError::normal(e.to_string()))?
        }
        "dag-cbor" | "cbor" => {
            serde_ipld_dagcbor::to_vec(&value).map_err(|e| ApiError::normal(e.to_string()))?
        }
        "raw" => match value {
            Ipld::Bytes(b) => b,
            _ => return Err(ApiError::client("output-codec raw needs a bytes value")),
        },
        other => {
            return Err(ApiError::client(format!(
                "unsupported output-codec: {other}"
            )));
        }
    };
    let (tx, rx) = mpsc::channel(1);
    let len = body.len() as u64;
    let _ = tx.send(Ok(Bytes::from(body))).await;
    drop(tx);
    bytes_stream("application/json", Some(len), rx).await
}

pub async fn dag_put(node: Arc<Node>, req: RpcRequest, input: Input) -> RpcResult {
    let store = req.string("store-codec")?.unwrap_or("dag-cbor").to_owned();
    let input_codec = req.string("input-codec")?.unwrap_or("dag-json").to_owned();
    let hash = hash_fn(&req, "hash")?;
    let pin = req.bool("pin", false)?;
    let limit = block_limit(&req)?;
    let store_code = match store.as_str() {
        "dag-cbor" | "dag-json" | "raw" => codec_by_name(&store).expect("known codec"),
        other => {
            return Err(ApiError::client(format!(
                "unsupported store-codec: {other}"
            )));
        }
    };
    let mut parts = MultipartReader::new(input.content_type.as_deref(), input.body, "object data")?;
    let _gc = node.gc_guard().await;
    let mut cids = Vec::new();
    while let Some(entry) = parts.next_entry().await? {
        if !matches!(entry.kind, EntryKind::File) {
            continue;
        }
        let raw = read_part(&mut parts, limit).await?;
        let decode_err =
            |e: String| ApiError::client(format!("failed to decode {input_codec} input: {e}"));
        let bytes = if input_codec == "raw" || store == "raw" {
            if input_codec != store {
                return Err(ApiError::client(
                    "raw input can only be stored as raw and vice versa",
                ));
            }
            raw
        } else {
            let value: Ipld =
                match input_codec.as_str() {
                    "dag-json" | "json" => serde_ipld_dagjson::from_slice(&raw)
                        .map_err(|e| decode_err(e.to_string()))?,
                    "dag-cbor" | "cbor" => serde_ipld_dagcbor::from_slice(&raw)
                        .map_err(|e| decode_err(e.to_string()))?,
                    other => {
                        return Err(ApiError::client(format!(
                            "unsupported input-codec: {other}"
                        )));
                    }
                };
            match store.as_str() {
                "dag-cbor" => serde_ipld_dagcbor::to_vec(&value)
                    .map_err(|e| ApiError::normal(e.to_string()))?,
                _ => serde_ipld_dagjson::to_vec(&value)
                    .map_err(|e| ApiError::normal(e.to_string()))?,
            }
        };
        let cid = Cid::new_v1(store_code, hash.digest(&bytes));
        node.put_block_trusted(&cid, &bytes).map_err(node_err)?;
        cids.push(cid);
    }
    if cids.is_empty() {
        return Err(ApiError::client("file argument 'object data' is required"));
    }
    node.flush().map_err(node_err)?;
    if pin {
        node.pins()
            .add(&cids, PinMode::Recursive, "")
            .map_err(|e| ApiError::normal(e.to_string()))?;
    }
    ndjson_from(move |tx: Emitter| async move {
        for cid in cids {
            let _ = tx
                .send(Ok(json!({ "Cid": { "/": cid.to_string() } })))
                .await;
        }
    })
    .await
}

pub async fn dag_export(node: Arc<Node>, req: &RpcRequest) -> RpcResult {
    let root = cid_arg(req, 0, "root")?;
    let deadline = req.deadline()?;
    let (tx, rx) = mpsc::channel::<Result<Bytes, ApiError>>(8);
    tokio::spawn(async move {
        if tx
            .send(Ok(Bytes::from(car::encode_header(&[root]))))
            .await
            .is_err()
        {
            return;
        }
        let walked = node
            .walk_dag(&root, deadline, |cid, data, _| {
                let tx = tx.clone();
                async move {
                    tx.send(Ok(Bytes::from(car::encode_block(&cid, &data))))
                        .await
                        .is_ok()
                }
            })
            .await;
        if let Err(e) = walked {
            let _ = tx.send(Err(node_err(e))).await;
        }
    });
    bytes_stream("application/vnd.ipld.car", None, rx).await
}

pub async fn dag_import(node: Arc<Node>, req: RpcRequest, input: Input) -> RpcResult {
    let pin_roots = req.bool("pin-roots", true)?;
    let stats = req.bool("stats", false)?;
    let limit = block_limit(&req)?;
    let mut parts = MultipartReader::new(input.content_type.as_deref(), input.body, "path")?;
    let gc = node.gc_guard().await;
    let mut roots = Vec::new();
    let (mut count, mut bytes) = (0u64, 0u64);
    while let Some(entry) = parts.next_entry().await? {
        if !matches!(entry.kind, EntryKind::File) {
            continue;
        }
        let chunks = futures::stream::unfold(&mut parts, |p| async move {
            match p.next_chunk().await {
                Ok(Some(c)) => Some((Ok(c), p)),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), p)),
            }
        });
        let reader = tokio_util::io::StreamReader::new(Box::pin(chunks.map_err(|e| e)));
        let (mut car, header) = car::CarReader::new(reader)
            .await
            .map_err(|e| ApiError::client(e.to_string()))?;
        roots.extend(header.roots);
        while let Some((cid, data)) = car
            .next_block()
            .await
            .map_err(|e| ApiError::client(e.to_string()))?
        {
            if data.len() > limit {
                return Err(ApiError::client(format!(
                    "block {cid} is over 1MiB; pass allow-big-block to import it"
                )));
            }
            node.put_block(&cid, &data)
                .map_err(|e| ApiError::client(e.to_string()))?;
            count += 1;
            bytes += data.len() as u64;
        }
    }
    node.flush().map_err(node_err)?;
    let mut results = Vec::new();
    if pin_roots {
        for root in roots {
            // the DAG must be complete locally: a past deadline means "no fetching"
            let pinned = node
                .pin_add_holding(
                    &gc,
                    &[root],
                    PinMode::Recursive,
                    "",
                    Some(Instant::now()),
                    |_| {},
                )
                .await;
            results.push((
                root,
                pinned.err().map(|e| e.to_string()).unwrap_or_default(),
            ));
        }
    }
    ndjson_from(move |tx: Emitter| async move {
        for (root, err) in results {
            let _ = tx
                .send(Ok(
                    json!({ "Root": { "Cid": { "/": root.to_string() }, "PinErrorMsg": err } }),
                ))
                .await;
        }
        if stats {
            let _ = tx
                .send(Ok(
                    json!({ "Stats": { "BlockCount": count, "BlockBytesCount": bytes } }),
                ))
                .await;
        }
    })
    .await
}
