//! The REST API's route table (IPFS Cluster v1.1.6 `api/rest/restapi.go`) and the middleware
//! chain in front of it (`api/common/api.go`), as one [`axum::Router`] that any transport
//! serves: the TCP/TLS server (`server.rs`) and REST over libp2p (`crate::api::libp2p_http`).
//! The handlers are in `handlers/`, one file per group of routes; request parsing is in
//! `extract.rs`.
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
//! `HEAD` is answered like `GET` without a body (axum); gorilla answers 405.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};

use super::access::{AccessLayer, CorsDecision, Decision, Denial, KeepContentType, RequestInfo};
use super::handlers::{
    AppState, add, append_all, empty, health, node, peers, pins, plugins, tokens,
};
use crate::cluster::ClusterApi;
use crate::http::goerror::error_response;
use crate::http::server::ConnInfo;

/// The REST API as a router, access layer included (see the module docs). Requests may carry
/// a [`ConnInfo`] extension (remote address, TLS) for the access layer.
pub(crate) fn router(cluster: Arc<dyn ClusterApi>, access: AccessLayer) -> Router {
    let state = AppState {
        cluster,
        access: Arc::new(access),
    };
    Router::new()
        .route("/id", get(node::id))
        .route("/version", get(node::version))
        .route("/peers", get(peers::peers).post(peers::peer_add))
        .route("/peers/{peer}", delete(peers::peer_remove))
        .route("/add", post(add::add))
        .route("/allocations", get(pins::allocations))
        .route("/allocations/{hash}", get(pins::allocation))
        .route("/pins", get(pins::status_all))
        .route(
            "/pins/recover",
            post(pins::recover_all)
                .get(pins::status_of_recover)
                .delete(pins::unpin_of_recover),
        )
        .route("/pins/{hash}/recover", post(pins::recover))
        .route(
            "/pins/{hash}",
            get(pins::status).post(pins::pin).delete(pins::unpin),
        )
        .route(
            "/pins/ipfs/{*path}",
            post(pins::pin_ipfs).delete(pins::unpin_ipfs),
        )
        .route(
            "/pins/ipns/{*path}",
            post(pins::pin_ipns).delete(pins::unpin_ipns),
        )
        .route(
            "/pins/ipld/{*path}",
            post(pins::pin_ipld).delete(pins::unpin_ipld),
        )
        .route("/ipfs/gc", post(node::repo_gc))
        .route("/health/graph", get(health::graph))
        .route("/health/alerts", get(health::alerts))
        .route("/health/bandwidth", get(health::bandwidth))
        .route("/health/consensus", get(health::consensus_status))
        .route("/monitor/metrics", get(health::metric_names))
        .route("/monitor/metrics/{name}", get(health::metrics))
        .route("/token", post(tokens::token))
        .route("/token/{id}", delete(tokens::token_revoke))
        .route("/plugins", get(plugins::plugins_status))
        .route("/plugins/metrics", get(plugins::plugins_metrics))
        .route("/plugins/reload", post(plugins::plugins_reload))
        .route("/health", get(health::health))
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
        let clean = crate::gocompat::path::clean(path);
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

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not found")
}

async fn method_not_allowed() -> Response {
    empty(StatusCode::METHOD_NOT_ALLOWED)
}
