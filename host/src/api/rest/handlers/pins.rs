//! Pins: `/pins` (status of all or of `?cids=`, NDJSON), `/pins/{cid}` (status, pin, unpin),
//! `/pins/{cid}/recover`, `/pins/recover`, `/pins/{ipfs,ipns,ipld}/{path}`, and
//! `/allocations`.
//!
//! `POST /pins/{cid}?mode=direct` pins **direct** (Go forces recursive: its `MaxDepth` bug).
//! `GET|DELETE /pins/recover` reach the status/unpin handlers with the CID `recover` (400), as
//! gorilla's route order gives in Go. Statuses of `?cids=` are asked concurrently (at most
//! [`STATUS_CIDS_CONCURRENCY`]); the CIDs that fail are reported in the trailer, as Go does.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use cid::Cid;
use futures::{StreamExt, stream};

use super::{AppState, bad_request, ok_json};
use crate::api::rest::extract::{
    first, local, params, parse_hash, parse_pin_path, path_param, pin_type_filter, stream_opts,
};
use crate::http::ndjson::{StreamOptions, ndjson};
use crate::types::TrackerStatusFilter;

/// Per-CID status lookups of `GET /pins?cids=` run at most this many at a time.
const STATUS_CIDS_CONCURRENCY: usize = 32;

pub(crate) async fn allocations(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let p = params(&q);
    let Some(filter) = pin_type_filter(first(&p, "filter").unwrap_or("")) else {
        return bad_request("invalid filter value");
    };
    ndjson(st.cluster.allocations(filter), stream_opts(&headers)).await
}

pub(crate) async fn allocation(
    State(st): State<AppState>,
    hash: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Response {
    let hash = match path_param(hash) {
        Ok(h) => h,
        Err(m) => return bad_request(m),
    };
    match parse_hash(&hash, &params(&q)) {
        Ok((cid, _)) => ok_json(st.cluster.allocation(cid).await),
        Err(m) => bad_request(m),
    }
}

pub(crate) async fn status_all(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let p = params(&q);
    let local = local(&p);
    if let Some(cids) = first(&p, "cids").filter(|c| !c.is_empty()) {
        let mut list = Vec::new();
        for c in cids.split(',') {
            match Cid::try_from(c) {
                Ok(c) => list.push(c),
                Err(e) => return bad_request(format!("error decoding Cid: {e}")),
            }
        }
        let cluster = st.cluster.clone();
        let statuses = stream::iter(list)
            .map(move |c| {
                let cluster = cluster.clone();
                async move { cluster.status(c, local).await }
            })
            .buffer_unordered(STATUS_CIDS_CONCURRENCY)
            .boxed();
        let opts = StreamOptions {
            keep_going: true,
            ..stream_opts(&headers)
        };
        return ndjson(statuses, opts).await;
    }
    let filter_str = first(&p, "filter").unwrap_or("").replace(' ', "");
    let filter = TrackerStatusFilter::parse(&filter_str);
    if filter.is_all() && !filter_str.is_empty() {
        return bad_request("invalid filter value");
    }
    ndjson(st.cluster.status_all(filter, local), stream_opts(&headers)).await
}

pub(crate) async fn recover_all(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let local = local(&params(&q));
    ndjson(st.cluster.recover_all(local), stream_opts(&headers)).await
}

pub(crate) async fn recover(
    State(st): State<AppState>,
    hash: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Response {
    let hash = match path_param(hash) {
        Ok(h) => h,
        Err(m) => return bad_request(m),
    };
    let p = params(&q);
    match parse_hash(&hash, &p) {
        Ok((cid, _)) => ok_json(st.cluster.recover(cid, local(&p)).await),
        Err(m) => bad_request(m),
    }
}

async fn status_of(st: AppState, hash: &str, q: Option<String>) -> Response {
    let p = params(&q);
    match parse_hash(hash, &p) {
        Ok((cid, _)) => ok_json(st.cluster.status(cid, local(&p)).await),
        Err(m) => bad_request(m),
    }
}

pub(crate) async fn status(
    State(st): State<AppState>,
    hash: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Response {
    match path_param(hash) {
        Ok(h) => status_of(st, &h, q).await,
        Err(m) => bad_request(m),
    }
}

pub(crate) async fn status_of_recover(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> Response {
    status_of(st, "recover", q).await
}

pub(crate) async fn pin(
    State(st): State<AppState>,
    hash: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Response {
    let hash = match path_param(hash) {
        Ok(h) => h,
        Err(m) => return bad_request(m),
    };
    match parse_hash(&hash, &params(&q)) {
        Ok((cid, opts)) => ok_json(st.cluster.pin(cid, opts).await),
        Err(m) => bad_request(m),
    }
}

async fn unpin_of(st: AppState, hash: &str, q: Option<String>) -> Response {
    match parse_hash(hash, &params(&q)) {
        Ok((cid, _)) => ok_json(st.cluster.unpin(cid).await),
        Err(m) => bad_request(m),
    }
}

pub(crate) async fn unpin(
    State(st): State<AppState>,
    hash: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Response {
    match path_param(hash) {
        Ok(h) => unpin_of(st, &h, q).await,
        Err(m) => bad_request(m),
    }
}

pub(crate) async fn unpin_of_recover(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> Response {
    unpin_of(st, "recover", q).await
}

async fn pin_path(
    st: AppState,
    key: &str,
    rest: Result<Path<String>, PathRejection>,
    q: Option<String>,
    unpin: bool,
) -> Response {
    let rest = match rest {
        Ok(Path(r)) => r,
        Err(e) => return bad_request(format!("error parsing path: {}", e.body_text())),
    };
    let (path, opts) = match parse_pin_path(key, &rest, &params(&q)) {
        Ok(x) => x,
        Err(m) => return bad_request(m),
    };
    if unpin {
        ok_json(st.cluster.unpin_path(path).await)
    } else {
        ok_json(st.cluster.pin_path(path, opts).await)
    }
}

macro_rules! path_handlers {
    ($($name:ident, $key:literal, $unpin:literal;)*) => {$(
        pub(crate) async fn $name(
            State(st): State<AppState>,
            rest: Result<Path<String>, PathRejection>,
            RawQuery(q): RawQuery,
        ) -> Response {
            pin_path(st, $key, rest, q, $unpin).await
        }
    )*};
}

path_handlers! {
    pin_ipfs, "ipfs", false;
    pin_ipns, "ipns", false;
    pin_ipld, "ipld", false;
    unpin_ipfs, "ipfs", true;
    unpin_ipns, "ipns", true;
    unpin_ipld, "ipld", true;
}
