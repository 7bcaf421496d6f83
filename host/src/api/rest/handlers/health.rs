//! `/health`, `/health/graph`, `/health/alerts`, `/health/bandwidth`, `/health/consensus`
//! and `/monitor/metrics`.
//!
//! `/health/graph` is derived from `/peers` (each peer's cluster peers and IPFS ID; IPFS swarm
//! links are unknown and left empty; every member trusted, as in raft). `/health/alerts` is
//! `[]` and `/health/bandwidth` `{}`: the façade exposes neither yet. `/health/consensus` is
//! Pinfold's own: this peer's raft view (leader, voters, term, applied index) as JSON, for
//! operators and tests that must know who leads.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use futures::StreamExt;

use super::{AppState, bad_request, cluster_error, empty, ok_json};
use crate::client::{Alert, BandwidthByProtocol, ConnectGraph};
use crate::http::ndjson::json_response;
use crate::types::PeerDescription;

/// Adds one peer's description to the graph (Go's `recordClusterLinks`/`recordIPFSLinks`,
/// from the descriptions `/peers` gives).
fn graph_peer(g: &mut ConnectGraph, p: &PeerDescription) {
    g.cluster_trust_links.insert(p.id.clone(), true);
    if !p.error.is_empty() {
        g.cluster_links.insert(p.id.clone(), vec![]);
        return;
    }
    let links = p
        .cluster_peers
        .iter()
        .filter(|x| **x != p.id)
        .cloned()
        .collect();
    g.cluster_links.insert(p.id.clone(), links);
    g.id_to_peername.insert(p.id.clone(), p.peername.clone());
    if p.ipfs.error.is_empty() && !p.ipfs.id.is_empty() {
        g.cluster_to_ipfs.insert(p.id.clone(), p.ipfs.id.clone());
        g.ipfs_links.entry(p.ipfs.id.clone()).or_default();
    }
}

pub(crate) async fn graph(State(st): State<AppState>) -> Response {
    let me = st.cluster.id().await;
    let mut g = ConnectGraph {
        cluster_id: me.id.clone(),
        ..Default::default()
    };
    let mut peers = st.cluster.peers();
    while let Some(p) = peers.next().await {
        match p {
            Ok(p) => graph_peer(&mut g, &p),
            Err(e) => return cluster_error(e),
        }
    }
    if !g.cluster_links.contains_key(&me.id) {
        graph_peer(&mut g, &me);
    }
    json_response(StatusCode::OK, &g)
}

pub(crate) async fn alerts() -> Response {
    json_response(StatusCode::OK, &Vec::<Alert>::new())
}

pub(crate) async fn bandwidth() -> Response {
    json_response(StatusCode::OK, &BandwidthByProtocol::new())
}

pub(crate) async fn consensus_status(State(st): State<AppState>) -> Response {
    ok_json(st.cluster.consensus_status().await)
}

pub(crate) async fn metric_names(State(st): State<AppState>) -> Response {
    ok_json(st.cluster.metric_names().await)
}

pub(crate) async fn metrics(
    State(st): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Response {
    match name {
        Ok(Path(n)) => ok_json(st.cluster.metrics(n).await),
        Err(e) => bad_request(e.body_text()),
    }
}

pub(crate) async fn health() -> Response {
    empty(StatusCode::NO_CONTENT)
}
