//! The access layer of the HTTP APIs: the single seam where a request meets the authorization
//! and CORS **plugins** before any handler runs, plus the headers the operator adds to every
//! answer.
//!
//! # What it owns, and what it does not
//! The policy is not here. Who may call what, and which web origins may, is decided by the
//! authorization and CORS plugins of a [`PluginSet`] (by default the built-in `authz-default`
//! and `cors-default`, which reproduce IPFS Cluster's `authHandler` and rs/cors with the
//! `api.restapi` keys — their essays say how, and where they are better than Go). This module
//! is only the **adapter**:
//!
//! * request → WIT: [`RequestInfo`] (method, path, query, the first `Authorization`, the CORS
//!   request headers, the remote address, TLS) becomes an `authz-request` (endpoint kind,
//!   operation name from [`rest_operation`], credentials parsed as the WIT `credentials`
//!   documents) or a `cors-request`;
//! * WIT → HTTP: an `allow` becomes a [`Principal`] (put in the request's extensions for the
//!   handlers: the principal and tenant the plugin granted, and how the caller
//!   authenticated); a `deny` becomes the REST API's error JSON `{"code","message"}` with the
//!   plugin's status (a status outside 400–599 is answered 403); a `challenge` becomes 401
//!   with one `WWW-Authenticate` header per value. A CORS answer becomes exactly its headers,
//!   and `preflight: true` an immediate 204.
//!
//! The HTTP plumbing that applies the decisions (answering preflights, merging headers,
//! redirects) lives in `routes.rs`. Later APIs (pinning service, IPFS proxy, the REST API over
//! libp2p) build an [`AccessLayer`] with their own [`EndpointKind`]; cluster RPC uses
//! `plugins::PluginRpcAuthorizer` over the same plugin set.
//!
//! # Calls are synchronous
//! A plugin call runs on the request's tokio worker: a resident instance answers in a few
//! microseconds, and a repeated request is answered by the plugin's decision cache without
//! entering wasm (see the `plugins` essay for figures), less than a `spawn_blocking`
//! round-trip would cost. It is bounded by the plugin's time budget (50 ms by default) and a
//! plugin that keeps failing is tripped off by its breaker, after which calls take the
//! fail-safe without entering wasm.
//!
//! # Secrets
//! Credentials are handed to the authorization plugin and nowhere else: [`RequestInfo`]'s
//! `Debug` shows the scheme only, and the layer keeps no password.
//!
//! # Response headers
//! The `headers` key (header → values) is appended to every answer, and every answer carries
//! `Content-Type: application/json` (including 204, 307, 405 and preflight answers) unless the
//! handler marked it with [`KeepContentType`] (the Prometheus text of `/plugins/metrics`).
//! Invalid configured names or values are skipped with a warning.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use base64::Engine;

use crate::config::RestApiConfig;
use crate::http::server::ConnInfo;
use crate::plugins::{
    AuthzRequest, BasicCredentials, CorsRequest, CorsResponse, Credentials, EndpointKind, PluginSet,
};

/// The libp2p peer a request came from (REST over libp2p, `/libp2p-http`): the server puts it
/// in the request's extensions beside [`ConnInfo`] (whose `remote` is then `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemotePeer(pub libp2p_identity::PeerId);

/// A response extension: keep the handler's `Content-Type` instead of `application/json`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeepContentType;

/// What the access layer may look at in a request.
#[derive(Clone)]
pub struct RequestInfo<'a> {
    pub method: &'a Method,
    /// The URL path, as received (still percent-encoded).
    pub path: &'a str,
    /// The raw query without `?` (empty when none).
    pub query: &'a str,
    /// The first `Authorization` value, if any.
    pub authorization: Option<&'a str>,
    /// The first `Origin` value, if any.
    pub origin: Option<&'a str>,
    /// The first `Access-Control-Request-Method` value, if any.
    pub request_method: Option<&'a str>,
    /// Every `Access-Control-Request-Headers` value (`None` when the header is absent).
    pub request_headers: Option<Vec<&'a str>>,
    /// The first `Access-Control-Request-Private-Network` value, if any.
    pub request_private_network: Option<&'a str>,
    pub remote: Option<SocketAddr>,
    pub tls: bool,
}

impl fmt::Debug for RequestInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print credentials: only the scheme of the Authorization header.
        let scheme = self
            .authorization
            .map(|a| a.split(' ').next().unwrap_or("").to_string());
        f.debug_struct("RequestInfo")
            .field("method", self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("authorization_scheme", &scheme)
            .field("origin", &self.origin)
            .field("request_method", &self.request_method)
            .field("request_headers", &self.request_headers)
            .field("remote", &self.remote)
            .field("tls", &self.tls)
            .finish()
    }
}

impl<'a> RequestInfo<'a> {
    /// Collects what the access layer needs from a request's head.
    pub fn new(
        method: &'a Method,
        path: &'a str,
        query: Option<&'a str>,
        headers: &'a HeaderMap,
        conn: Option<&ConnInfo>,
    ) -> RequestInfo<'a> {
        let first = |name: HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        let request_headers = headers
            .contains_key(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .then(|| {
                headers
                    .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect()
            });
        RequestInfo {
            method,
            path,
            query: query.unwrap_or(""),
            authorization: first(header::AUTHORIZATION),
            origin: first(header::ORIGIN),
            request_method: first(header::ACCESS_CONTROL_REQUEST_METHOD),
            request_headers,
            request_private_network: headers
                .get("access-control-request-private-network")
                .and_then(|v| v.to_str().ok()),
            remote: conn.and_then(|c| c.remote),
            tls: conn.is_some_and(|c| c.tls),
        }
    }

    /// The credentials, parsed as the WIT `credentials` variant documents.
    pub fn credentials(&self) -> Credentials {
        parse_credentials(self.authorization.unwrap_or(""))
    }
}

/// How an allowed caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    None,
    Basic,
    Bearer,
    Other,
}

/// Who made an allowed request, as the authorization plugin granted it; handlers find it in
/// the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The authenticated principal (a user name); `None` = anonymous.
    pub user: Option<String>,
    /// The tenant the handler must act for, when the plugin named one.
    pub tenant: Option<String>,
    /// The credentials the request presented.
    pub scheme: AuthScheme,
}

impl Principal {
    /// No one in particular (open API, exempt route, or the allow-all layer).
    pub fn anonymous() -> Principal {
        Principal {
            user: None,
            tenant: None,
            scheme: AuthScheme::None,
        }
    }
}

/// Why a request is refused, and the answer it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub status: StatusCode,
    /// The `message` of the `{"code","message"}` body.
    pub message: String,
    /// `WWW-Authenticate` values, in order.
    pub challenges: Vec<String>,
}

/// The authorization decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(Principal),
    Deny(Denial),
}

/// The CORS decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsDecision {
    /// A preflight: answer 204 with these headers, without routing.
    Preflight(HeaderMap),
    /// Any other request: route it and add these headers to the answer.
    Actual(HeaderMap),
}

#[derive(Clone)]
enum Policy {
    Plugins(Arc<PluginSet>),
    /// Everything allowed, no CORS header: the baseline of the throughput benchmark.
    AllowAll,
}

/// Authorization, CORS and response headers of one API (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct AccessLayer {
    endpoint: EndpointKind,
    policy: Policy,
    headers: HeaderMap,
    auth_configured: bool,
}

impl fmt::Debug for AccessLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessLayer")
            .field("endpoint", &self.endpoint)
            .field("plugins", &matches!(self.policy, Policy::Plugins(_)))
            .field("headers", &self.headers)
            .finish()
    }
}

impl AccessLayer {
    /// The layer of an API of kind `endpoint` whose section is `config`, deciding with the
    /// plugins of `plugins`.
    pub fn new(
        endpoint: EndpointKind,
        plugins: Arc<PluginSet>,
        config: &RestApiConfig,
    ) -> AccessLayer {
        AccessLayer {
            endpoint,
            auth_configured: config.basic_auth_credentials.is_some() || plugins.restricts_access(),
            policy: Policy::Plugins(plugins),
            headers: configured_headers(config),
        }
    }

    /// The REST API's layer (`api.restapi`).
    pub fn rest(plugins: Arc<PluginSet>, config: &RestApiConfig) -> AccessLayer {
        AccessLayer::new(EndpointKind::Rest, plugins, config)
    }

    /// A layer that allows every request and adds no CORS header (the configured `headers`
    /// still apply). For measurements and tests only: never what a daemon serves.
    pub fn allow_all(config: &RestApiConfig) -> AccessLayer {
        AccessLayer {
            endpoint: EndpointKind::Rest,
            policy: Policy::AllowAll,
            headers: configured_headers(config),
            auth_configured: false,
        }
    }

    /// The plugin set behind the layer (`None` for [`AccessLayer::allow_all`]).
    pub fn plugins(&self) -> Option<&Arc<PluginSet>> {
        match &self.policy {
            Policy::Plugins(p) => Some(p),
            Policy::AllowAll => None,
        }
    }

    /// True when requests are expected to authenticate (credentials or a custom authorizer
    /// are configured); used for the exposure warnings.
    pub fn auth_enabled(&self) -> bool {
        self.auth_configured
    }

    /// The request the authorization plugin sees.
    pub fn authz_request(&self, req: &RequestInfo<'_>) -> AuthzRequest {
        AuthzRequest {
            endpoint: self.endpoint,
            operation: rest_operation(req.method, req.path).to_string(),
            method: req.method.as_str().to_string(),
            path: req.path.to_string(),
            query: req.query.to_string(),
            remote_addr: req.remote.map(|a| a.to_string()),
            tls: req.tls,
            credentials: req.credentials(),
            remote_peer: None,
            tenant: None,
            headers: Vec::new(),
        }
    }

    /// Decides whether the request may proceed.
    pub fn authorize(&self, req: &RequestInfo<'_>) -> Decision {
        let Policy::Plugins(set) = &self.policy else {
            return Decision::Allow(Principal::anonymous());
        };
        let request = self.authz_request(req);
        let scheme = match &request.credentials {
            Credentials::None => AuthScheme::None,
            Credentials::Basic(_) => AuthScheme::Basic,
            Credentials::Bearer(_) => AuthScheme::Bearer,
            Credentials::Other(_) => AuthScheme::Other,
        };
        decision_from_wit(set.authorizer().authorize(&request), scheme)
    }

    /// The request the CORS plugin sees.
    pub fn cors_request(&self, req: &RequestInfo<'_>) -> CorsRequest {
        CorsRequest {
            endpoint: self.endpoint,
            method: req.method.as_str().to_string(),
            path: req.path.to_string(),
            origin: req.origin.map(str::to_string),
            request_method: req.request_method.map(str::to_string),
            request_headers: req
                .request_headers
                .as_ref()
                .map(|v| v.iter().map(|s| s.to_string()).collect()),
            request_private_network: req.request_private_network.map(str::to_string),
        }
    }

    /// Decides the CORS headers of the request's answer (and whether it is a preflight).
    pub fn cors(&self, req: &RequestInfo<'_>) -> CorsDecision {
        let Policy::Plugins(set) = &self.policy else {
            return CorsDecision::Actual(HeaderMap::new());
        };
        cors_from_wit(set.cors().decide(&self.cors_request(req)))
    }

    /// The configured `headers`, added to every answer.
    pub fn response_headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Adds the configured headers and `Content-Type: application/json` to an answer.
    pub fn finish_headers(&self, headers: &mut HeaderMap, keep_content_type: bool) {
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        if !keep_content_type || !headers.contains_key(header::CONTENT_TYPE) {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
    }
}

fn configured_headers(config: &RestApiConfig) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, values) in &config.headers {
        let Ok(name) = HeaderName::try_from(name.as_str()) else {
            tracing::warn!("restapi.headers: {name:?} is not a valid header name; ignored");
            continue;
        };
        for v in values {
            match HeaderValue::try_from(v.as_str()) {
                Ok(v) => {
                    headers.append(name.clone(), v);
                }
                Err(_) => tracing::warn!(
                    "restapi.headers: a value of {name} is not a valid header value; ignored"
                ),
            }
        }
    }
    headers
}

/// The plugin's decision as the HTTP layer applies it.
pub(crate) fn decision_from_wit(d: crate::plugins::Decision, scheme: AuthScheme) -> Decision {
    use crate::plugins::Decision as W;
    match d {
        W::Allow(g) => Decision::Allow(Principal {
            user: g.principal,
            tenant: g.tenant,
            scheme,
        }),
        W::Deny(d) => {
            let status = StatusCode::from_u16(d.status)
                .ok()
                .filter(|s| s.is_client_error() || s.is_server_error())
                .unwrap_or(StatusCode::FORBIDDEN);
            Decision::Deny(Denial {
                status,
                message: d.reason,
                challenges: Vec::new(),
            })
        }
        W::Challenge(c) => Decision::Deny(Denial {
            status: StatusCode::UNAUTHORIZED,
            message: c.reason,
            challenges: c.www_authenticate,
        }),
    }
}

/// The CORS plugin's answer as headers.
pub(crate) fn cors_from_wit(c: CorsResponse) -> CorsDecision {
    let mut h = HeaderMap::new();
    let mut put = |name: HeaderName, value: &str, append: bool| {
        if let Ok(v) = HeaderValue::try_from(value) {
            if append {
                h.append(name, v);
            } else {
                h.insert(name, v);
            }
        }
    };
    for v in &c.vary {
        put(header::VARY, v, true);
    }
    if let Some(o) = &c.allow_origin {
        put(header::ACCESS_CONTROL_ALLOW_ORIGIN, o, false);
    }
    if let Some(m) = &c.allow_methods {
        put(header::ACCESS_CONTROL_ALLOW_METHODS, m, false);
    }
    for v in &c.allow_headers {
        put(header::ACCESS_CONTROL_ALLOW_HEADERS, v, true);
    }
    if c.allow_credentials {
        put(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true", false);
    }
    if c.allow_private_network {
        put(
            HeaderName::from_static("access-control-allow-private-network"),
            "true",
            false,
        );
    }
    if let Some(e) = &c.expose_headers {
        put(header::ACCESS_CONTROL_EXPOSE_HEADERS, e, false);
    }
    if let Some(age) = c.max_age_seconds {
        put(header::ACCESS_CONTROL_MAX_AGE, &age.to_string(), false);
    }
    if c.preflight {
        CorsDecision::Preflight(h)
    } else {
        CorsDecision::Actual(h)
    }
}

/// The WIT `credentials` of an `Authorization` value: `Basic` (scheme case-insensitive,
/// standard base64, split at the first `:`, both halves UTF-8), `Bearer <token>`, any other
/// non-empty value as `other`, nothing as `none`.
pub(crate) fn parse_credentials(auth: &str) -> Credentials {
    if auth.is_empty() {
        return Credentials::None;
    }
    let scheme_is = |prefix: &str| {
        auth.get(..prefix.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
    };
    if scheme_is("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&auth["Basic ".len()..])
            .ok();
        if let Some(d) = decoded
            && let Some(colon) = d.iter().position(|&b| b == b':')
            && let (Ok(user), Ok(password)) = (
                std::str::from_utf8(&d[..colon]),
                std::str::from_utf8(&d[colon + 1..]),
            )
        {
            return Credentials::Basic(BasicCredentials {
                user: user.to_string(),
                password: password.to_string(),
            });
        }
        return Credentials::Other(auth.to_string());
    }
    if scheme_is("Bearer ") {
        return Credentials::Bearer(auth["Bearer ".len()..].to_string());
    }
    Credentials::Other(auth.to_string())
}

/// The operation name of a REST request, as the authorization plugin sees it (empty for an
/// unknown route). The table:
///
/// | route | operation |
/// |---|---|
/// | `GET /id`, `GET /version`, `GET /health` | `id`, `version`, `health` |
/// | `GET /peers`, `POST /peers`, `DELETE /peers/{id}` | `peers.ls`, `peers.add`, `peers.rm` |
/// | `POST /add` | `add` |
/// | `GET /allocations`, `GET /allocations/{cid}` | `allocations.ls`, `allocations.get` |
/// | `GET /pins`, `GET /pins/{cid}` | `status.all`, `status` |
/// | `POST /pins/{cid}`, `POST /pins/{ipfs,ipns,ipld}/…` | `pin.add` |
/// | `DELETE /pins/{cid}`, `DELETE /pins/{ipfs,ipns,ipld}/…` | `pin.rm` |
/// | `POST /pins/recover`, `POST /pins/{cid}/recover` | `recover.all`, `recover` |
/// | `POST /ipfs/gc` | `ipfs.gc` |
/// | `GET /health/graph`, `/health/alerts`, `/health/bandwidth` | `health.graph`, `health.alerts`, `health.bandwidth` |
/// | `GET /monitor/metrics`, `GET /monitor/metrics/{name}` | `metrics.names`, `metrics.get` |
/// | `POST /token`, `DELETE /token/{id}` | `token.issue`, `token.revoke` |
/// | `GET /plugins`, `GET /plugins/metrics`, `POST /plugins/reload` | `plugins.status`, `plugins.metrics`, `plugins.reload` |
/// | `OPTIONS` anything | `options` |
pub(crate) fn rest_operation(method: &Method, path: &str) -> &'static str {
    if *method == Method::OPTIONS {
        return "options";
    }
    let trimmed = path.trim_end_matches('/');
    let segs: Vec<&str> = trimmed.split('/').skip(1).collect();
    let m = method.as_str();
    let get_like = m == "GET" || m == "HEAD";
    match (segs.as_slice(), m) {
        (["id"], _) if get_like => "id",
        (["version"], _) if get_like => "version",
        (["health"], _) if get_like => "health",
        (["peers"], _) if get_like => "peers.ls",
        (["peers"], "POST") => "peers.add",
        (["peers", _], "DELETE") => "peers.rm",
        (["add"], "POST") => "add",
        (["allocations"], _) if get_like => "allocations.ls",
        (["allocations", _], _) if get_like => "allocations.get",
        (["pins"], _) if get_like => "status.all",
        (["pins", "recover"], "POST") => "recover.all",
        (["pins", _, "recover"], "POST") => "recover",
        (["pins", "ipfs" | "ipns" | "ipld", _, ..], "POST") => "pin.add",
        (["pins", "ipfs" | "ipns" | "ipld", _, ..], "DELETE") => "pin.rm",
        (["pins", _], _) if get_like => "status",
        (["pins", _], "POST") => "pin.add",
        (["pins", _], "DELETE") => "pin.rm",
        (["ipfs", "gc"], "POST") => "ipfs.gc",
        (["health", "graph"], _) if get_like => "health.graph",
        (["health", "alerts"], _) if get_like => "health.alerts",
        (["health", "bandwidth"], _) if get_like => "health.bandwidth",
        (["monitor", "metrics"], _) if get_like => "metrics.names",
        (["monitor", "metrics", _], _) if get_like => "metrics.get",
        (["token"], "POST") => "token.issue",
        (["token", _], "DELETE") => "token.revoke",
        (["plugins"], _) if get_like => "plugins.status",
        (["plugins", "metrics"], _) if get_like => "plugins.metrics",
        (["plugins", "reload"], "POST") => "plugins.reload",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(u: &str, p: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    }

    #[test]
    fn credentials_follow_the_wit() {
        assert_eq!(parse_credentials(""), Credentials::None);
        assert_eq!(
            parse_credentials(&basic("u", "p:a:ss")),
            Credentials::Basic(BasicCredentials {
                user: "u".into(),
                password: "p:a:ss".into()
            })
        );
        let lower = basic("u", "p").replacen("Basic", "bASIC", 1);
        assert!(matches!(parse_credentials(&lower), Credentials::Basic(_)));
        assert_eq!(
            parse_credentials("Basic !!!"),
            Credentials::Other("Basic !!!".into())
        );
        let no_colon = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("nocolon")
        );
        assert!(matches!(
            parse_credentials(&no_colon),
            Credentials::Other(_)
        ));
        let not_utf8 = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(b"u:\xff")
        );
        assert!(matches!(
            parse_credentials(&not_utf8),
            Credentials::Other(_)
        ));
        assert_eq!(
            parse_credentials("bearer abc"),
            Credentials::Bearer("abc".into())
        );
        assert_eq!(
            parse_credentials("Digest x"),
            Credentials::Other("Digest x".into())
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let m = Method::GET;
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::try_from(basic("u", "p:a:ss")).unwrap(),
        );
        let dbg = format!("{:?}", RequestInfo::new(&m, "/", None, &h, None));
        assert!(!dbg.contains(&basic("u", "p:a:ss")[6..]), "{dbg}");
    }

    #[test]
    fn operations() {
        let op = |m: Method, p: &str| rest_operation(&m, p);
        assert_eq!(op(Method::GET, "/id"), "id");
        assert_eq!(op(Method::HEAD, "/version"), "version");
        assert_eq!(op(Method::POST, "/pins/QmX"), "pin.add");
        assert_eq!(op(Method::DELETE, "/pins/ipfs/QmX/a/b"), "pin.rm");
        assert_eq!(op(Method::POST, "/pins/recover"), "recover.all");
        assert_eq!(op(Method::POST, "/pins/QmX/recover"), "recover");
        assert_eq!(op(Method::GET, "/pins/QmX"), "status");
        assert_eq!(op(Method::DELETE, "/peers/12D3"), "peers.rm");
        assert_eq!(op(Method::POST, "/token"), "token.issue");
        assert_eq!(op(Method::DELETE, "/token/abc"), "token.revoke");
        assert_eq!(op(Method::POST, "/plugins/reload"), "plugins.reload");
        assert_eq!(op(Method::OPTIONS, "/whatever"), "options");
        assert_eq!(op(Method::PUT, "/pins"), "");
        assert_eq!(op(Method::GET, "/nope"), "");
    }

    #[test]
    fn wit_decisions_become_http() {
        use crate::plugins::{AuthChallenge, Decision as W, Denial as WD, Grant};
        assert_eq!(
            decision_from_wit(
                W::Allow(Grant {
                    principal: Some("a".into()),
                    tenant: Some("t".into())
                }),
                AuthScheme::Basic
            ),
            Decision::Allow(Principal {
                user: Some("a".into()),
                tenant: Some("t".into()),
                scheme: AuthScheme::Basic
            })
        );
        let Decision::Deny(d) = decision_from_wit(
            W::Deny(WD {
                status: 200,
                reason: "odd".into(),
            }),
            AuthScheme::None,
        ) else {
            panic!()
        };
        assert_eq!(d.status, StatusCode::FORBIDDEN);
        let Decision::Deny(d) = decision_from_wit(
            W::Challenge(AuthChallenge {
                www_authenticate: vec!["Basic realm=\"x\"".into(), "Bearer".into()],
                reason: "who?".into(),
            }),
            AuthScheme::None,
        ) else {
            panic!()
        };
        assert_eq!(d.status, StatusCode::UNAUTHORIZED);
        assert_eq!(d.challenges.len(), 2);
    }

    #[test]
    fn cors_answers_become_headers() {
        let mut c = crate::plugins::failsafe_cors();
        assert_eq!(
            cors_from_wit(c.clone()),
            CorsDecision::Actual(HeaderMap::new())
        );
        c.preflight = true;
        c.vary = vec!["Origin".into(), "Access-Control-Request-Method".into()];
        c.allow_origin = Some("*".into());
        c.allow_headers = vec!["a".into(), "b".into()];
        c.allow_credentials = true;
        c.max_age_seconds = Some(600);
        let CorsDecision::Preflight(h) = cors_from_wit(c) else {
            panic!()
        };
        assert_eq!(h.get_all(header::VARY).iter().count(), 2);
        assert_eq!(
            h.get_all(header::ACCESS_CONTROL_ALLOW_HEADERS)
                .iter()
                .count(),
            2
        );
        assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "600");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    }
}
