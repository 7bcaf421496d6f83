//! `/peers`: list (NDJSON), add and remove cluster peers.
//!
//! `POST /peers` validates its body as Go does (400 `error decoding request body` / `error
//! decoding peer_id`), then answers 501: the cluster façade has no peer-add operation yet.

use std::str::FromStr;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use libp2p_identity::PeerId;
use serde::Deserialize;

use super::{AppState, bad_request, cluster_error, empty};
use crate::api::rest::extract::stream_opts;
use crate::http::goerror::error_response;
use crate::http::ndjson::ndjson;

/// Largest `POST /peers` body read.
const PEER_ADD_BODY_LIMIT: usize = 64 * 1024;

pub(crate) async fn peers(State(st): State<AppState>, headers: HeaderMap) -> Response {
    ndjson(st.cluster.peers(), stream_opts(&headers)).await
}

pub(crate) async fn peer_add(body: Body) -> Response {
    #[derive(Deserialize)]
    struct PeerAddBody {
        #[serde(default)]
        peer_id: String,
    }
    let Ok(bytes) = axum::body::to_bytes(body, PEER_ADD_BODY_LIMIT).await else {
        return bad_request("error decoding request body");
    };
    // Go's json.Decoder reads the first value and ignores what follows.
    let parsed = serde_json::Deserializer::from_slice(&bytes)
        .into_iter::<PeerAddBody>()
        .next();
    let Some(Ok(body)) = parsed else {
        return bad_request("error decoding request body");
    };
    if PeerId::from_str(&body.peer_id).is_err() {
        return bad_request("error decoding peer_id");
    }
    error_response(
        StatusCode::NOT_IMPLEMENTED,
        "peer add is not available through the REST API yet: start the new peer with the address of a cluster peer to join it",
    )
}

pub(crate) async fn peer_remove(
    State(st): State<AppState>,
    peer: Result<Path<String>, PathRejection>,
) -> Response {
    let peer = match peer {
        Ok(Path(p)) => p,
        Err(e) => return bad_request(format!("error decoding Peer ID: {}", e.body_text())),
    };
    let pid = match PeerId::from_str(&peer) {
        Ok(p) => p,
        Err(e) => return bad_request(format!("error decoding Peer ID: {e}")),
    };
    match st.cluster.peer_remove(pid).await {
        Ok(()) => empty(StatusCode::NO_CONTENT),
        Err(e) => cluster_error(e),
    }
}
