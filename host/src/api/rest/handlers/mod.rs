//! The REST API's handlers, one file per group of routes (IPFS Cluster v1.1.6
//! `api/rest/restapi.go`): `node` (`/id`, `/version`, `/ipfs/gc`), `peers`, `add`, `pins`
//! (pins, allocations, status, recover, pin paths), `health` (`/health/*`, `/monitor/*`),
//! `tokens` and `plugins` (Pinfold's own).
//!
//! # Answers
//! JSON bodies end with a newline (Go's `json.Encoder`); errors are IPFS Cluster's
//! `{"code","message"}` with the status of [`ClusterError::status`]; success without a body is
//! 204; streams are NDJSON with the `X-Stream-Error` trailer (`crate::http::ndjson`). The
//! helpers below are the answers every handler shares.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::access::AccessLayer;
use crate::cluster::{ClusterApi, ClusterError};
use crate::http::goerror::error_response;
use crate::http::ndjson::json_response;

pub(crate) mod add;
pub(crate) mod health;
pub(crate) mod node;
pub(crate) mod peers;
pub(crate) mod pins;
pub(crate) mod plugins;
pub(crate) mod tokens;

/// What every handler reaches: the cluster façade and the access layer.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) cluster: Arc<dyn ClusterApi>,
    pub(crate) access: Arc<AccessLayer>,
}

pub(crate) fn cluster_error(e: ClusterError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error_response(status, e.to_string())
}

pub(crate) fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

pub(crate) fn ok_json<T: Serialize>(result: Result<T, ClusterError>) -> Response {
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => cluster_error(e),
    }
}

pub(crate) fn bad_request(message: impl std::fmt::Display) -> Response {
    error_response(StatusCode::BAD_REQUEST, message.to_string())
}

/// Appends every header of `from` to `to`.
pub(crate) fn append_all(to: &mut HeaderMap, from: &HeaderMap) {
    for (k, v) in from {
        to.append(k.clone(), v.clone());
    }
}
