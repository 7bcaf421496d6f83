//! Pinfold's own routes: `GET /plugins` (the loaded plugins and their counters as JSON),
//! `GET /plugins/metrics` (the same counters as Prometheus text) and `POST /plugins/reload`
//! (reload every plugin from `service.json`; 500 with the reason, old plugins kept, on
//! failure). They pass the authorization plugin like every route.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::AppState;
use crate::api::rest::access::KeepContentType;
use crate::http::goerror::error_response;
use crate::http::ndjson::json_response;

/// `GET /plugins`: the loaded plugins and their counters.
pub(crate) async fn plugins_status(State(st): State<AppState>) -> Response {
    match st.access.plugins() {
        Some(set) => json_response(StatusCode::OK, &set.status()),
        None => error_response(StatusCode::NOT_IMPLEMENTED, "no plugins on this API"),
    }
}

/// `GET /plugins/metrics`: the counters as Prometheus text.
pub(crate) async fn plugins_metrics(State(st): State<AppState>) -> Response {
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
pub(crate) async fn plugins_reload(State(st): State<AppState>) -> Response {
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
