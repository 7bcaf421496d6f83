//! Commands about the node itself: `id`, `version`, `config/show`, `swarm/*`.
//!
//! The embedded node has no IPFS swarm of its own: peers of a Pinfold cluster exchange blocks
//! over the cluster's private swarm (see the fetch seam in `ipfs::fetch`). So `swarm/peers`
//! answers an empty list and `swarm/connect` explains that instead of pretending to connect.

use std::sync::Arc;

use serde_json::json;

use super::error::ApiError;
use super::request::RpcRequest;
use super::server::{RpcResult, json};
use crate::ipfs::node::{AGENT_VERSION, KUBO_VERSION, Node};

pub fn id(node: &Arc<Node>, req: &RpcRequest) -> RpcResult {
    let me = node.peer_id().to_string();
    if let Some(other) = req.args.first()
        && *other != me
    {
        return Err(ApiError::normal(format!(
            "cannot look up peer {other}: the embedded node only knows itself"
        )));
    }
    json(&json!({
        "ID": me,
        "PublicKey": node.public_key_base64(),
        "Addresses": [],
        "AgentVersion": AGENT_VERSION,
        "Protocols": [],
    }))
}

pub fn version(_req: &RpcRequest) -> RpcResult {
    json(&json!({
        "Version": KUBO_VERSION,
        "Commit": "",
        "Repo": "16",
        "System": format!("{}/{}", go_arch(), std::env::consts::OS),
        "Golang": AGENT_VERSION,
    }))
}

/// Go's name for the CPU architecture (`GOARCH`), which Kubo reports.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64",
        other => other,
    }
}

pub fn config_show(node: &Arc<Node>) -> RpcResult {
    let c = node.config();
    json(&json!({
        "Identity": { "PeerID": c.identity.peer_id },
        "Datastore": { "StorageMax": c.datastore.storage_max, "Sync": c.datastore.sync },
        "Addresses": { "API": c.addresses.api, "Swarm": [] },
    }))
}

pub fn swarm_peers(_req: &RpcRequest) -> RpcResult {
    json(&json!({ "Peers": [] }))
}

pub fn swarm_connect(req: &RpcRequest) -> RpcResult {
    let addr = req.arg(0, "address")?;
    let ma: multiaddr::Multiaddr = addr
        .parse()
        .map_err(|e| ApiError::client(format!("invalid multiaddr {addr:?}: {e}")))?;
    if !ma.iter().any(|p| matches!(p, multiaddr::Protocol::P2p(_))) {
        return Err(ApiError::client(format!(
            "{addr}: invalid p2p multiaddr: no /p2p/ part"
        )));
    }
    Err(ApiError::normal(format!(
        "connect {addr} failure: the embedded IPFS node has no IPFS swarm; cluster peers exchange blocks over the cluster swarm"
    )))
}
