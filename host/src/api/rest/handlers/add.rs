//! `POST /add`: a multipart upload added to the cluster, its outputs streamed as NDJSON (or
//! one JSON array with `stream-channels=false`).
//!
//! In stream mode an add that fails before its first output answers 500 with the error JSON
//! (Go always answers 200 and reports it in the trailer): clearer for clients that cannot
//! read trailers.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use super::{AppState, append_all, bad_request};
use crate::api::rest::extract::{add_params, check_multipart, params};
use crate::http::multipart::MultipartReader;
use crate::http::ndjson::{StreamOptions, accepts_trailers, json_array, ndjson};

pub(crate) async fn add(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if let Err(m) = check_multipart(ct) {
        return bad_request(m);
    }
    let reader = match MultipartReader::new(ct, body, "path") {
        Ok(r) => r,
        Err(e) => return bad_request(e.message),
    };
    let (params, stream_channels) = match add_params(&params(&q)) {
        Ok(x) => x,
        Err(m) => return bad_request(m),
    };
    let outputs = st.cluster.add(reader, params);
    let mut extra = HeaderMap::new();
    extra.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    extra.insert(header::CONNECTION, HeaderValue::from_static("close"));
    if stream_channels {
        extra.insert("x-chunked-output", HeaderValue::from_static("1"));
        let opts = StreamOptions {
            trailers: accepts_trailers(&headers),
            keep_going: false,
            extra_headers: extra,
        };
        ndjson(outputs, opts).await
    } else {
        let mut r = json_array(outputs).await;
        append_all(r.headers_mut(), &extra);
        r
    }
}
