//! Pin and repo commands: `pin/add|rm|ls|update`, `repo/stat`, `repo/gc`.
//!
//! Output shapes are Kubo's: `{"Pins":[...]}`, `pin/add` progress lines `{"Progress":n}`,
//! `pin/ls` as `{"Keys":{cid:{"Type","Name"}}}` or, with `stream`, one `{"Cid","Type","Name"}`
//! per line; `repo/gc` streams `{"Key":{"/":cid}}` per removed block and, with
//! `stream-errors`, `{"Error":msg}` lines.

use std::sync::Arc;

use cid::Cid;
use serde_json::{Map, Value, json};

use super::cmd_files::{FetchingSource, parse_path};
use super::error::ApiError;
use super::request::RpcRequest;
use super::server::{Emitter, RpcResult, json, ndjson_from};
use crate::ipfs::node::{ListedPin, Node, PinFilter};
use crate::ipfs::pins::PinMode;
use crate::ipfs::unixfs::reader;

/// Resolves every path argument to a CID (through UnixFS directories).
async fn resolve_args(
    node: &Arc<Node>,
    req: &RpcRequest,
    deadline: Option<tokio::time::Instant>,
) -> Result<Vec<Cid>, ApiError> {
    req.arg(0, "ipfs-path")?;
    let mut out = Vec::with_capacity(req.args.len());
    for path in &req.args {
        let (root, segs) = parse_path(path)?;
        if segs.is_empty() {
            out.push(root);
            continue;
        }
        let src = FetchingSource {
            node: node.clone(),
            rt: tokio::runtime::Handle::current(),
            deadline,
        };
        let cid = tokio::task::spawn_blocking(move || {
            let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
            reader::resolve_path(&src, &root, &segs)
        })
        .await
        .map_err(|e| ApiError::normal(e.to_string()))?
        .map_err(|e| ApiError::normal(e.to_string()))?;
        out.push(cid);
    }
    Ok(out)
}

fn pins_json(cids: &[Cid]) -> Value {
    json!({ "Pins": cids.iter().map(Cid::to_string).collect::<Vec<_>>() })
}

pub async fn pin_add(node: Arc<Node>, req: RpcRequest) -> RpcResult {
    let deadline = req.deadline()?;
    let recursive = req.bool(["recursive", "r"], true)?;
    let progress = req.bool("progress", false)?;
    let name = req.string("name")?.unwrap_or("").to_owned();
    let cids = resolve_args(&node, &req, deadline).await?;
    let mode = if recursive {
        PinMode::Recursive
    } else {
        PinMode::Direct
    };
    if !progress {
        node.pin_add(&cids, mode, &name, deadline, |_| {})
            .await
            .map_err(|e| ApiError::normal(format!("pin: {e}")))?;
        return json(&pins_json(&cids));
    }
    ndjson_from(move |tx: Emitter| async move {
        let (ptx, mut prx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let ticker = {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut last = 0;
                while let Some(n) = prx.recv().await {
                    // coalesce: report at most one line per batch of visited blocks
                    let mut n = n;
                    while let Ok(m) = prx.try_recv() {
                        n = m;
                    }
                    if n != last {
                        last = n;
                        let _ = tx.send(Ok(json!({ "Progress": n }))).await;
                    }
                }
            })
        };
        let pinning = node.pin_add(&cids, mode, &name, deadline, |n| {
            let _ = ptx.send(n);
        });
        // a client that goes away (e.g. the cluster's stall timeout) cancels the pin
        let result = tokio::select! {
            r = pinning => r,
            _ = tx.closed() => return,
        };
        drop(ptx);
        let _ = ticker.await;
        let _ = match result {
            Ok(()) => tx.send(Ok(pins_json(&cids))).await,
            Err(e) => tx.send(Err(ApiError::normal(format!("pin: {e}")))).await,
        };
    })
    .await
}

pub async fn pin_rm(node: Arc<Node>, req: &RpcRequest) -> RpcResult {
    let recursive = req.bool(["recursive", "r"], true)?;
    let cids = resolve_args(&node, req, req.deadline()?).await?;
    node.pin_rm(&cids, recursive)
        .await
        .map_err(|e| ApiError::normal(e.to_string()))?;
    json(&pins_json(&cids))
}

pub async fn pin_update(node: Arc<Node>, req: &RpcRequest) -> RpcResult {
    let deadline = req.deadline()?;
    let from = parse_path(req.arg(0, "from-path")?)?.0;
    let to = parse_path(req.arg(1, "to-path")?)?.0;
    let unpin = req.bool("unpin", true)?;
    node.pin_update(&from, &to, unpin, deadline)
        .await
        .map_err(|e| ApiError::normal(e.to_string()))?;
    json(&pins_json(&[from, to]))
}

fn pin_line(p: &ListedPin, names: bool, stream: bool) -> (String, Value) {
    let mut o = Map::new();
    if stream {
        o.insert("Cid".into(), Value::String(p.cid.to_string()));
    }
    let kind = if p.kind == "indirect" && !p.name.is_empty() {
        format!("indirect through {}", p.name)
    } else {
        p.kind.to_string()
    };
    o.insert("Type".into(), Value::String(kind));
    if names && p.kind != "indirect" && !p.name.is_empty() {
        o.insert("Name".into(), Value::String(p.name.clone()));
    }
    (p.cid.to_string(), Value::Object(o))
}

pub async fn pin_ls(node: Arc<Node>, req: &RpcRequest) -> RpcResult {
    let kind = req.string(["type", "t"])?.unwrap_or("all").to_owned();
    let filter = match kind.as_str() {
        "all" => PinFilter {
            recursive: true,
            direct: true,
            indirect: true,
        },
        "recursive" => PinFilter {
            recursive: true,
            direct: false,
            indirect: false,
        },
        "direct" => PinFilter {
            recursive: false,
            direct: true,
            indirect: false,
        },
        "indirect" => PinFilter {
            recursive: false,
            direct: false,
            indirect: true,
        },
        other => {
            return Err(ApiError::client(format!(
                "invalid type '{other}', must be one of {{direct, indirect, recursive, all}}"
            )));
        }
    };
    // `name` filters by a substring of the pin name and implies `names`
    let name_filter = req.string("name")?.map(str::to_owned);
    let names = req.bool("names", false)? || name_filter.is_some();
    let stream = req.bool("stream", false)?;
    let listed: Vec<ListedPin> = if req.args.is_empty() {
        let n = node.clone();
        tokio::task::spawn_blocking(move || n.list_pins(filter))
            .await
            .map_err(|e| ApiError::normal(e.to_string()))?
            .map_err(|e| ApiError::normal(e.to_string()))?
    } else {
        let cids = resolve_args(&node, req, req.deadline()?).await?;
        let mut out = Vec::new();
        for (cid, arg) in cids.into_iter().zip(&req.args) {
            let n = node.clone();
            let status = tokio::task::spawn_blocking(move || n.pin_status(&cid))
                .await
                .map_err(|e| ApiError::normal(e.to_string()))?
                .map_err(|e| ApiError::normal(e.to_string()))?;
            match status {
                Some(p) if kind == "all" || p.kind == kind => out.push(p),
                Some(p) => {
                    return Err(ApiError::normal(format!(
                        "path '{arg}' is not pinned as {kind} (it is {})",
                        p.kind
                    )));
                }
                None => return Err(ApiError::normal(format!("path '{arg}' is not pinned"))),
            }
        }
        out
    };
    let listed: Vec<ListedPin> = match &name_filter {
        Some(f) => listed
            .into_iter()
            .filter(|p| p.kind != "indirect" && p.name.contains(f.as_str()))
            .collect(),
        None => listed,
    };
    if stream {
        return ndjson_from(move |tx: Emitter| async move {
            for p in &listed {
                if tx.send(Ok(pin_line(p, names, true).1)).await.is_err() {
                    return;
                }
            }
        })
        .await;
    }
    let keys: Map<String, Value> = listed.iter().map(|p| pin_line(p, names, false)).collect();
    json(&json!({ "Keys": keys }))
}

pub fn repo_stat(node: Arc<Node>, req: &RpcRequest) -> RpcResult {
    let stat = node.blocks().stat();
    let size = node.repo_size();
    if req.bool("size-only", false)? {
        return json(&json!({ "RepoSize": size, "StorageMax": stat.storage_max }));
    }
    json(&json!({
        "RepoSize": size,
        "StorageMax": stat.storage_max,
        "NumObjects": stat.count,
        "RepoPath": node.repo().display().to_string(),
        "Version": crate::ipfs::node::REPO_VERSION,
    }))
}

pub async fn repo_gc(node: Arc<Node>, req: &RpcRequest) -> RpcResult {
    let stream_errors = req.bool("stream-errors", false)?;
    let quiet = req.bool(["quiet", "q"], false)?;
    ndjson_from(move |tx: Emitter| async move {
        let (removed, problems) = match node.gc().await {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(Err(ApiError::normal(e.to_string()))).await;
                return;
            }
        };
        for cid in removed {
            if !quiet
                && tx
                    .send(Ok(json!({ "Key": { "/": cid.to_string() } })))
                    .await
                    .is_err()
            {
                return;
            }
        }
        if problems.is_empty() {
            return;
        }
        if stream_errors {
            for p in problems {
                let _ = tx.send(Ok(json!({ "Error": p }))).await;
            }
        } else {
            let _ = tx
                .send(Err(ApiError::normal(format!(
                    "encountered errors during gc run: {}",
                    problems.join("; ")
                ))))
                .await;
        }
    })
    .await
}
