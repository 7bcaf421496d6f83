//! The REST API's routes (IPFS Cluster v1.1.6 `api/rest/restapi.go`) and the handler chain in
//! front of them (`api/common/api.go`), as one [`axum::Router`] that any transport can serve:
//! the TCP/TLS server in `server.rs` today, REST over libp2p later.
//!
//! # The chain
//! Every request, matched or not, passes the access middleware first:
//! 1. **CORS** ([`AccessLayer::cors`], the CORS plugin): a preflight is answered 204 here,
//!    without authorization or routing (the WIT contract: preflights are not authorized; IPFS
//!    Cluster exempts every `OPTIONS` from authentication, so the answers are Go's);
//! 2. **authorization** ([`AccessLayer::authorize`], the authorization plugin): a refusal is
//!    answered at once (401 with its challenges, or the plugin's status) **without** the CORS
//!    headers (Go's order: auth is outside CORS); an allow puts its [`Principal`] in the
//!    request's extensions, and the CORS headers are added to whatever answer follows;
//! 3. **paths**: a path ending in `/` is redirected with **307** (method and body kept,
//!    query kept) to the path without it; an unclean path (`//`, `.`, `..` segments) is
//!    redirected with **301** to its clean form (gorilla/mux does both). `/` alone is not
//!    redirected (Go loops on it) and answers 404;
//! 4. the **router**: unknown path → 404 `{"code":404,"message":"not found"}`; known path,
//!    other method → 405 with an empty body;
//! 5. every answer then gets the configured `headers` and `Content-Type: application/json`.
//!
//! # Answers
//! JSON bodies end with a newline (Go's `json.Encoder`); errors are `{"code","message"}` with
//! the status of [`ClusterError::status`]; success without a body is 204; streams follow
//! `stream.rs`. Request parsing follows Go: `local` is on only for the exact value `true`;
//! query values are read first-wins (`url.Values.Get`); a `{hash}` that is not a CID gives 400
//! `error decoding Cid: <err>`; bad pin options give 400 with the option's error, on every
//! `{hash}` route (Go parses them everywhere too).
//!
//! serde_json leaves `<`, `>` and `&` as they are where Go's encoder writes `\u003c`…; both
//! are the same JSON.
//!
//! # Decisions where Go is odd or Pinfold lacks a piece
//! * `POST /pins/{cid}?mode=direct` pins **direct** (Go forces recursive: its `MaxDepth` bug).
//! * `/version` reports `1.1.6`, the IPFS Cluster release whose API this is: clients and
//!   scripts compare it with `ipfs-cluster-ctl --version`; Pinfold's own version is not an
//!   API version.
//! * `POST /peers` validates its body as Go does (400 `error decoding request body` / `error
//!   decoding peer_id`), then answers 501: the cluster façade has no peer-add operation yet.
//! * `POST /token` (see `plugins/tokens.rs`): 401 `unauthorized` when the request is anonymous
//!   (no credentials configured: Go's answer); with Basic credentials, `{"token","id",
//!   "expires_at"}` — Go answers `{"token"}` only; its clients ignore the extra keys. Go also
//!   issues tokens to token-authenticated requests; Pinfold answers those 403, or a stolen
//!   token could be renewed forever. `DELETE /token/{id}` revokes one (Go cannot).
//! * Pinfold's own routes: `GET /plugins` (the loaded plugins and their counters as JSON),
//!   `GET /plugins/metrics` (the same counters as Prometheus text) and `POST /plugins/reload`
//!   (reload every plugin from `service.json`; 500 with the reason, old plugins kept, on
//!   failure). They pass the authorization plugin like every route.
//! * `/health/graph` is derived from `/peers` (each peer's cluster peers and IPFS ID; IPFS
//!   swarm links are unknown and left empty; every member trusted, as in raft).
//!   `/health/alerts` is `[]` and `/health/bandwidth` `{}`: the façade exposes neither yet.
//! * `/health/consensus` is Pinfold's own: this peer's raft view (leader, voters, term, applied
//!   index) as JSON, for operators and tests that must know who leads.
//! * `/add`: `shard=true` and `nocopy=true` are refused with 400 (no sharding, no filestore);
//!   `recursive` and `hidden` are client-side options, checked and ignored. In stream mode an
//!   add that fails before its first output answers 500 with the error JSON (Go always answers
//!   200 and reports it in the trailer) — clearer for clients that cannot read trailers.
//! * `GET|DELETE /pins/recover` reach the status/unpin handlers with the CID `recover` (400), as
//!   gorilla's route order gives in Go. `HEAD` is answered like `GET` without a body (axum);
//!   gorilla answers 405.

use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};
use cid::Cid;
use futures::{StreamExt, stream};
use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};

use super::access::{
    AccessLayer, AuthScheme, CorsDecision, Decision, Denial, KeepContentType, Principal,
    RequestInfo,
};
use crate::client::{Alert, BandwidthByProtocol, ConnectGraph, Version};
use crate::cluster::{AddParams, ClusterApi, ClusterError, PinTypeSet};
use crate::http::goerror::error_response;
use crate::http::goerror::go_quote;
use crate::http::multipart::{MultipartReader, parse_media_type};
use crate::http::ndjson::{StreamOptions, accepts_trailers, json_array, json_response, ndjson};
use crate::http::server::ConnInfo;
use crate::types::{PeerDescription, PinOptions, Timestamp, TrackerStatusFilter};

use crate::types::API_VERSION;

/// Per-CID status lookups of `GET /pins?cids=` run at most this many at a time.
const STATUS_CIDS_CONCURRENCY: usize = 32;

/// Largest `POST /peers` body read.
const PEER_ADD_BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
struct AppState {
    cluster: Arc<dyn ClusterApi>,
    access: Arc<AccessLayer>,
}

/// The REST API as a router, access layer included (see the module docs). Requests may carry
/// a [`ConnInfo`] extension (remote address, TLS) for the access layer.
pub fn router(cluster: Arc<dyn ClusterApi>, access: AccessLayer) -> Router {
    let state = AppState {
        cluster,
        access: Arc::new(access),
    };
    Router::new()
        .route("/id", get(id))
        .route("/version", get(version))
        .route("/peers", get(peers).post(peer_add))
        .route("/peers/{peer}", delete(peer_remove))
        .route("/add", post(add))
        .route("/allocations", get(allocations))
        .route("/allocations/{hash}", get(allocation))
        .route("/pins", get(status_all))
        .route(
            "/pins/recover",
            post(recover_all)
                .get(status_of_recover)
                .delete(unpin_of_recover),
        )
        .route("/pins/{hash}/recover", post(recover))
        .route("/pins/{hash}", get(status).post(pin).delete(unpin))
        .route("/pins/ipfs/{*path}", post(pin_ipfs).delete(unpin_ipfs))
        .route("/pins/ipns/{*path}", post(pin_ipns).delete(unpin_ipns))
        .route("/pins/ipld/{*path}", post(pin_ipld).delete(unpin_ipld))
        .route("/ipfs/gc", post(repo_gc))
        .route("/health/graph", get(graph))
        .route("/health/alerts", get(alerts))
        .route("/health/bandwidth", get(bandwidth))
        .route("/health/consensus", get(consensus_status))
        .route("/monitor/metrics", get(metric_names))
        .route("/monitor/metrics/{name}", get(metrics))
        .route("/token", post(token))
        .route("/token/{id}", delete(token_revoke))
        .route("/plugins", get(plugins_status))
        .route("/plugins/metrics", get(plugins_metrics))
        .route("/plugins/reload", post(plugins_reload))
        .route("/health", get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), access_chain))
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// The chain

async fn access_chain(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let conn = req.extensions().get::<ConnInfo>().copied();
    // CORS first: a preflight is answered at once, without authorization (the WIT contract;
    // IPFS Cluster exempts OPTIONS from authentication, so the answers are the same).
    let decision = {
        let info = RequestInfo::new(
            req.method(),
            req.uri().path(),
            req.uri().query(),
            req.headers(),
            conn.as_ref(),
        );
        match st.access.cors(&info) {
            CorsDecision::Preflight(h) => Err(Ok(h)),
            CorsDecision::Actual(h) => match st.access.authorize(&info) {
                Decision::Deny(d) => Err(Err(d)),
                Decision::Allow(p) => Ok((p, h)),
            },
        }
    };
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let (mut resp, user) = match decision {
        Err(Ok(preflight)) => {
            let mut r = empty(StatusCode::NO_CONTENT);
            append_all(r.headers_mut(), &preflight);
            (r, None)
        }
        // refused: no CORS header (Go's order, authentication outside CORS)
        Err(Err(denial)) => (denial_response(denial), None),
        Ok((principal, cors)) => {
            let user = principal.user.clone();
            req.extensions_mut().insert(principal);
            let mut r = match redirect_for(req.uri()) {
                Some(r) => r,
                None => next.run(req).await,
            };
            append_all(r.headers_mut(), &cors);
            (r, user)
        }
    };
    let keep = resp.extensions().get::<KeepContentType>().is_some();
    st.access.finish_headers(resp.headers_mut(), keep);
    tracing::debug!(
        target: "restapilog",
        remote = ?conn.and_then(|c| c.remote),
        user = user.as_deref().unwrap_or("-"),
        "{method} {path} {}",
        resp.status().as_u16()
    );
    resp
}

fn append_all(to: &mut HeaderMap, from: &HeaderMap) {
    for (k, v) in from {
        to.append(k.clone(), v.clone());
    }
}

fn denial_response(d: Denial) -> Response {
    let mut r = error_response(d.status, d.message);
    for c in d.challenges {
        if let Ok(v) = HeaderValue::try_from(c) {
            r.headers_mut().append(header::WWW_AUTHENTICATE, v);
        }
    }
    r
}

/// The 307 (trailing slash) or 301 (unclean path) redirect a path calls for, if any.
fn redirect_for(uri: &Uri) -> Option<Response> {
    let path = uri.path();
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let (status, target) = if path.len() > 1 && path.ends_with('/') {
        (
            StatusCode::TEMPORARY_REDIRECT,
            path[..path.len() - 1].to_string(),
        )
    } else {
        let clean = clean_path(path);
        if clean == path {
            return None;
        }
        (StatusCode::MOVED_PERMANENTLY, clean)
    };
    let mut r = empty(status);
    if let Ok(v) = HeaderValue::try_from(format!("{target}{query}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Some(r)
}

/// Go's `path.Clean` of a rooted path (gorilla/mux keeps a trailing slash; callers have
/// removed it already).
fn clean_path(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not found")
}

async fn method_not_allowed() -> Response {
    empty(StatusCode::METHOD_NOT_ALLOWED)
}

// ---------------------------------------------------------------------------------------------
// Answers

fn cluster_error(e: ClusterError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error_response(status, e.to_string())
}

fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

fn ok_json<T: Serialize>(result: Result<T, ClusterError>) -> Response {
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => cluster_error(e),
    }
}

fn bad_request(message: impl Into<String>) -> Response {
    error_response(StatusCode::BAD_REQUEST, message)
}

// ---------------------------------------------------------------------------------------------
// Request parsing

type Params = Vec<(String, String)>;

fn params(q: &Option<String>) -> Params {
    form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Go's `url.Values.Get`: the first value.
fn first<'a>(p: &'a Params, key: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn local(p: &Params) -> bool {
    first(p, "local") == Some("true")
}

fn stream_opts(headers: &HeaderMap) -> StreamOptions {
    StreamOptions {
        trailers: accepts_trailers(headers),
        ..Default::default()
    }
}

/// Go's `ParseCidOrFail`: the CID of `{hash}` and the pin options of the query; an error is
/// the message of a 400.
fn parse_hash(hash: &str, p: &Params) -> Result<(Cid, PinOptions), String> {
    let cid = Cid::try_from(hash).map_err(|e| format!("error decoding Cid: {e}"))?;
    let opts = PinOptions::from_query(p, Timestamp::now()).map_err(|e| e.to_string())?;
    Ok((cid, opts))
}

/// The `{hash}` of a route; an error is the message of a 400.
fn path_param(p: Result<Path<String>, PathRejection>) -> Result<String, String> {
    p.map(|Path(s)| s)
        .map_err(|e| format!("error decoding Cid: {}", e.body_text()))
}

/// Go's `ParsePinPathOrFail` with boxo's `path.NewPath`: `/<key>/<rest>` cleaned, its root a
/// CID for `ipfs`/`ipld`; an error is the message of a 400 (`error parsing path: invalid path
/// "…": …`, or the pin option's error).
fn parse_pin_path(key: &str, rest: &str, p: &Params) -> Result<(String, PinOptions), String> {
    let raw = format!("/{key}/{}", rest.strip_suffix('/').unwrap_or(rest));
    let invalid =
        |why: String| format!("error parsing path: invalid path {}: {why}", go_quote(&raw));
    let cleaned = clean_path(&raw);
    let segs: Vec<&str> = cleaned.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() < 2 {
        return Err(invalid("path does not have enough components".into()));
    }
    if key != "ipns" {
        Cid::try_from(segs[1]).map_err(|e| invalid(e.to_string()))?;
    }
    let opts = PinOptions::from_query(p, Timestamp::now()).map_err(|e| e.to_string())?;
    Ok((cleaned, opts))
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `parseBoolParam`: absent or empty → `None`; unparsable → `parameter <name> invalid`.
fn bool_param(p: &Params, name: &str) -> Result<Option<bool>, String> {
    match first(p, name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse_go_bool(v)
            .map(Some)
            .ok_or_else(|| format!("parameter {name} invalid")),
    }
}

/// Go's `AddParamsFromQuery` (same checks, same order, same messages); returns the parameters
/// and `stream-channels`.
fn add_params(p: &Params) -> Result<(AddParams, bool), String> {
    let mut pin_options = PinOptions::from_query(p, Timestamp::now()).map_err(|e| e.to_string())?;
    pin_options.pin_update = None;
    let layout_trickle = match first(p, "layout").unwrap_or("") {
        "trickle" => true,
        "balanced" | "" => false,
        _ => return Err("layout parameter is invalid".into()),
    };
    let nonempty = |k: &str| first(p, k).filter(|v| !v.is_empty()).map(String::from);
    let chunker = nonempty("chunker");
    let hash = nonempty("hash");
    let car = match first(p, "format").unwrap_or("") {
        "car" => true,
        "unixfs" | "" => false,
        _ => return Err("format parameter is invalid".into()),
    };
    let local = bool_param(p, "local")?.unwrap_or(false);
    bool_param(p, "recursive")?;
    bool_param(p, "hidden")?;
    let wrap_with_directory = bool_param(p, "wrap-with-directory")?.unwrap_or(false);
    let shard = bool_param(p, "shard")?.unwrap_or(false);
    let progress = bool_param(p, "progress")?.unwrap_or(false);
    let cid_version = match first(p, "cid-version").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(
            v.parse::<u32>()
                .map_err(|_| "parameter cid-version invalid".to_string())?,
        ),
    };
    let raw_leaves = bool_param(p, "raw-leaves")?;
    let stream_channels = bool_param(p, "stream-channels")?.unwrap_or(true);
    let nocopy = bool_param(p, "nocopy")?.unwrap_or(false);
    let no_pin = bool_param(p, "no-pin")?.unwrap_or(false);
    if shard {
        return Err("shard=true: sharded adds are not supported by Pinfold".into());
    }
    if nocopy {
        return Err("nocopy=true: filestore adds are not supported by Pinfold".into());
    }
    Ok((
        AddParams {
            pin_options,
            local,
            wrap_with_directory,
            progress,
            cid_version,
            raw_leaves,
            layout_trickle,
            chunker,
            hash,
            car,
            no_pin,
        },
        stream_channels,
    ))
}

/// `/allocations?filter=`: Go ORs the names; the filter is refused only when no name is known.
fn pin_type_filter(filter: &str) -> Option<PinTypeSet> {
    let mut set = PinTypeSet {
        data: false,
        meta: false,
        cluster_dag: false,
        shard: false,
    };
    let mut known = false;
    for f in filter.split(',') {
        match f {
            "" | "all" => set = PinTypeSet::ALL,
            "pin" => set.data = true,
            "meta-pin" => set.meta = true,
            "clusterdag-pin" => set.cluster_dag = true,
            "shard-pin" => set.shard = true,
            _ => continue,
        }
        known = true;
    }
    known.then_some(set)
}

const NOT_MULTIPART: &str = "request Content-Type isn't multipart/form-data";

/// Go's `Request.MultipartReader` checks, with its messages.
fn check_multipart(content_type: Option<&str>) -> Result<(), &'static str> {
    let ct = content_type
        .filter(|c| !c.is_empty())
        .ok_or(NOT_MULTIPART)?;
    match parse_media_type(ct) {
        Ok((mt, params)) if mt == "multipart/form-data" => {
            if params.iter().any(|(k, _)| k == "boundary") {
                Ok(())
            } else {
                Err("no multipart boundary param in Content-Type")
            }
        }
        _ => Err(NOT_MULTIPART),
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn id(State(st): State<AppState>) -> Response {
    json_response(StatusCode::OK, &st.cluster.id().await)
}

async fn version() -> Response {
    json_response(
        StatusCode::OK,
        &Version {
            version: API_VERSION.into(),
        },
    )
}

async fn peers(State(st): State<AppState>, headers: HeaderMap) -> Response {
    ndjson(st.cluster.peers(), stream_opts(&headers)).await
}

async fn peer_add(body: Body) -> Response {
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

async fn peer_remove(
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

async fn add(
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

async fn allocations(
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

async fn allocation(
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

async fn status_all(
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

async fn recover_all(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let local = local(&params(&q));
    ndjson(st.cluster.recover_all(local), stream_opts(&headers)).await
}

async fn recover(
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

async fn status(
    State(st): State<AppState>,
    hash: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Response {
    match path_param(hash) {
        Ok(h) => status_of(st, &h, q).await,
        Err(m) => bad_request(m),
    }
}

async fn status_of_recover(State(st): State<AppState>, RawQuery(q): RawQuery) -> Response {
    status_of(st, "recover", q).await
}

async fn pin(
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

async fn unpin(
    State(st): State<AppState>,
    hash: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Response {
    match path_param(hash) {
        Ok(h) => unpin_of(st, &h, q).await,
        Err(m) => bad_request(m),
    }
}

async fn unpin_of_recover(State(st): State<AppState>, RawQuery(q): RawQuery) -> Response {
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
        async fn $name(
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

async fn repo_gc(State(st): State<AppState>, RawQuery(q): RawQuery) -> Response {
    ok_json(st.cluster.repo_gc(local(&params(&q))).await)
}

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

async fn graph(State(st): State<AppState>) -> Response {
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

async fn alerts() -> Response {
    json_response(StatusCode::OK, &Vec::<Alert>::new())
}

async fn bandwidth() -> Response {
    json_response(StatusCode::OK, &BandwidthByProtocol::new())
}

async fn consensus_status(State(st): State<AppState>) -> Response {
    ok_json(st.cluster.consensus_status().await)
}

async fn metric_names(State(st): State<AppState>) -> Response {
    ok_json(st.cluster.metric_names().await)
}

async fn metrics(
    State(st): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Response {
    match name {
        Ok(Path(n)) => ok_json(st.cluster.metrics(n).await),
        Err(e) => bad_request(e.body_text()),
    }
}

/// `POST /token`: a token for the user the request authenticated as with Basic auth.
async fn token(State(st): State<AppState>, principal: Option<Extension<Principal>>) -> Response {
    let principal = principal.map(|Extension(p)| p);
    let (Some(set), Some(p)) = (st.access.plugins(), principal) else {
        return error_response(StatusCode::UNAUTHORIZED, "unauthorized");
    };
    let Some(user) = p.user.as_deref() else {
        // Go's answer when no credentials are configured.
        return error_response(StatusCode::UNAUTHORIZED, "unauthorized");
    };
    if p.scheme != AuthScheme::Basic {
        return error_response(
            StatusCode::FORBIDDEN,
            "tokens are issued to basic-auth credentials only: a token cannot issue tokens",
        );
    }
    #[derive(Serialize)]
    struct TokenAnswer {
        token: String,
        id: String,
        expires_at: i64,
    }
    let issued = set.issue_token(user, p.tenant.as_deref());
    tracing::info!(user, id = %issued.claims.jti, exp = issued.claims.exp, "token issued");
    json_response(
        StatusCode::OK,
        &TokenAnswer {
            token: issued.token,
            id: issued.claims.jti,
            expires_at: issued.claims.exp,
        },
    )
}

/// `DELETE /token/{id}`: revokes a token by its id (`jti`).
async fn token_revoke(
    State(st): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = match path_param(id) {
        Ok(id) => id,
        Err(e) => return bad_request(e),
    };
    if id.is_empty()
        || id.len() > 128
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return bad_request("invalid token id");
    }
    let Some(set) = st.access.plugins().cloned() else {
        return error_response(StatusCode::NOT_IMPLEMENTED, "no plugins on this API");
    };
    match tokio::task::spawn_blocking(move || set.revoke_token(&id)).await {
        Ok(Ok(_)) => empty(StatusCode::NO_CONTENT),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "token revocation failed");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("revocation failed: {e}"),
            )
        }
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /plugins`: the loaded plugins and their counters.
async fn plugins_status(State(st): State<AppState>) -> Response {
    match st.access.plugins() {
        Some(set) => json_response(StatusCode::OK, &set.status()),
        None => error_response(StatusCode::NOT_IMPLEMENTED, "no plugins on this API"),
    }
}

/// `GET /plugins/metrics`: the counters as Prometheus text.
async fn plugins_metrics(State(st): State<AppState>) -> Response {
    let Some(set) = st.access.plugins() else {
        return error_response(StatusCode::NOT_IMPLEMENTED, "no plugins on this API");
    };
    let mut r = Response::new(Body::from(set.prometheus()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r.extensions_mut().insert(KeepContentType);
    r
}

/// `POST /plugins/reload`: reloads every plugin from `service.json`; on failure the old ones
/// stay and the answer says why.
async fn plugins_reload(State(st): State<AppState>) -> Response {
    let Some(set) = st.access.plugins().cloned() else {
        return error_response(StatusCode::NOT_IMPLEMENTED, "no plugins on this API");
    };
    match tokio::task::spawn_blocking(move || set.reload_from_disk()).await {
        Ok(Ok(report)) => json_response(StatusCode::OK, &report),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "plugin reload failed; the previous plugins stay");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("plugin reload failed, the previous plugins stay: {e}"),
            )
        }
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn health() -> Response {
    empty(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Params {
        params(&Some(s.to_string()))
    }

    #[test]
    fn allocation_filters_follow_go() {
        assert_eq!(pin_type_filter(""), Some(PinTypeSet::ALL));
        assert_eq!(pin_type_filter("all,xyz"), Some(PinTypeSet::ALL));
        let s = pin_type_filter("pin,xyz").unwrap();
        assert!(s.data && !s.meta && !s.shard && !s.cluster_dag);
        assert_eq!(pin_type_filter("xyz"), None);
        assert_eq!(pin_type_filter("xyz,abc"), None);
        let s = pin_type_filter("meta-pin,shard-pin").unwrap();
        assert!(s.meta && s.shard && !s.data);
    }

    #[test]
    fn add_params_follow_go() {
        let (p, sc) = add_params(&q("")).unwrap();
        assert!(sc && !p.local && !p.car && !p.layout_trickle && p.cid_version.is_none());
        assert_eq!(p.raw_leaves, None);
        let (p, sc) = add_params(&q(
            "stream-channels=false&layout=trickle&format=car&cid-version=1&raw-leaves=F&chunker=size-10&hash=blake2b-256&local=T&no-pin=1&wrap-with-directory=true&progress=true&name=x&pin-update=QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY",
        ))
        .unwrap();
        assert!(!sc && p.layout_trickle && p.car && p.local && p.no_pin);
        assert!(p.wrap_with_directory && p.progress);
        assert_eq!(p.cid_version, Some(1));
        assert_eq!(p.raw_leaves, Some(false));
        assert_eq!(p.chunker.as_deref(), Some("size-10"));
        assert_eq!(p.hash.as_deref(), Some("blake2b-256"));
        assert_eq!(p.pin_options.name, "x");
        assert_eq!(p.pin_options.pin_update, None);
        for (query, err) in [
            ("layout=zigzag", "layout parameter is invalid"),
            ("format=tar", "format parameter is invalid"),
            ("local=yes", "parameter local invalid"),
            ("cid-version=x", "parameter cid-version invalid"),
            ("recursive=maybe", "parameter recursive invalid"),
            ("replication-min=x", "parameter replication-min invalid"),
        ] {
            assert_eq!(add_params(&q(query)).unwrap_err(), err, "{query}");
        }
        assert!(add_params(&q("shard=true")).unwrap_err().contains("shard"));
        assert!(
            add_params(&q("nocopy=true"))
                .unwrap_err()
                .contains("nocopy")
        );
    }

    #[test]
    fn paths() {
        assert_eq!(clean_path("//id"), "/id");
        assert_eq!(clean_path("/pins/./a/../b"), "/pins/b");
        let (p, _) = parse_pin_path(
            "ipfs",
            "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY/a//b/",
            &vec![],
        )
        .unwrap();
        assert_eq!(
            p,
            "/ipfs/QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY/a/b"
        );
        assert!(parse_pin_path("ipfs", "invalidhash", &vec![]).is_err());
        assert!(parse_pin_path("ipns", "example.com/x", &vec![]).is_ok());
        assert_eq!(parse_go_bool("True"), Some(true));
        assert_eq!(parse_go_bool("yes"), None);
    }
}
