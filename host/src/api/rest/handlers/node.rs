//! `/id`, `/version` and `/ipfs/gc`: this peer and its IPFS daemon.
//!
//! `/version` reports `1.1.6` ([`API_VERSION`]), the IPFS Cluster release whose API this is:
//! clients and scripts compare it with `ipfs-cluster-ctl --version`; Pinfold's own version is
//! not an API version.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{AppState, ok_json};
use crate::api::rest::extract::{local, params};
use crate::client::Version;
use crate::http::ndjson::json_response;
use crate::types::API_VERSION;

pub(crate) async fn id(State(st): State<AppState>) -> Response {
    json_response(StatusCode::OK, &st.cluster.id().await)
}

pub(crate) async fn version() -> Response {
    json_response(
        StatusCode::OK,
        &Version {
            version: API_VERSION.into(),
        },
    )
}

pub(crate) async fn repo_gc(State(st): State<AppState>, RawQuery(q): RawQuery) -> Response {
    ok_json(st.cluster.repo_gc(local(&params(&q))).await)
}
