//! `POST /token` and `DELETE /token/{id}` (tokens are issued by `plugins/tokens.rs`).
//!
//! `POST /token`: 401 `unauthorized` when the request is anonymous (no credentials
//! configured: Go's answer); with Basic credentials, `{"token","id","expires_at"}` — Go
//! answers `{"token"}` only; its clients ignore the extra keys. Go also issues tokens to
//! token-authenticated requests; Pinfold answers those 403, or a stolen token could be
//! renewed forever. `DELETE /token/{id}` revokes one (Go cannot).

use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::{AppState, bad_request, empty};
use crate::api::rest::access::{AuthScheme, Principal};
use crate::api::rest::extract::path_param;
use crate::http::goerror::error_response;
use crate::http::ndjson::json_response;

/// `POST /token`: a token for the user the request authenticated as with Basic auth.
pub(crate) async fn token(
    State(st): State<AppState>,
    principal: Option<Extension<Principal>>,
) -> Response {
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
pub(crate) async fn token_revoke(
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
