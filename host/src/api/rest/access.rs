//! The access layer of the REST API: who may call it (authentication), what browsers may do
//! with it (CORS), and the headers the operator adds to every answer.
//!
//! # What it owns
//! [`AccessLayer`] takes its decisions from a [`RequestInfo`] — method, path, the presented
//! `Authorization` value, the CORS request headers, the remote address, TLS or not — and
//! never sees the body or calls the cluster. The HTTP plumbing that applies the decisions (401
//! answers, preflight answers, header merging) lives in `routes.rs`. That split is the seam a
//! later change uses to let WASM plugins take the same decisions ([`AccessLayer::authorize`]
//! and [`AccessLayer::cors`] return plain values: [`Decision`], [`CorsDecision`]).
//!
//! # Authentication (IPFS Cluster's `authHandler`, `api/common/api.go`)
//! * Only when `basic_auth_credentials` is set (not `null`). Exempt: every `OPTIONS` request
//!   (preflight or not) and `GET /health`.
//! * `Authorization: Basic …` is parsed as Go's `Request.BasicAuth` (case-insensitive scheme,
//!   strict standard base64, split at the first `:`); an empty user or password is refused.
//!   A header that does not parse as Basic is treated as absent (Go does the same).
//! * **Constant time.** Go compares with `==` in a map loop, which leaks through timing how much
//!   of a user name or password matched. Here the SHA-256 digests of the presented user and
//!   password are compared with [`subtle`] against the digests of *every* configured pair, with
//!   no early exit: the time depends on the number of configured users only, not on whether
//!   the user exists or how much of the password is right.
//! * `Authorization: Bearer …` (JWT, `POST /token`) is not implemented yet: every token is
//!   answered as Go answers an invalid one.
//! * The 401 answers are Go's, byte for byte: `{"code":401,"message":"unauthorized: access
//!   denied"}` with `WWW-Authenticate: Basic realm="Restricted IPFS Cluster API"`;
//!   `unauthorized: invalid token` with `Bearer realm="…", error="invalid_token"`; and
//!   `unauthorized: no auth provided` with two challenges, Bearer then Basic.
//! * Secrets never reach a log: [`RequestInfo`]'s `Debug` shows the scheme only, and the layer
//!   keeps digests, not passwords.
//!
//! # CORS (rs/cors v1.11.1 with the `cors_*` keys, as IPFS Cluster configures it)
//! * A preflight is `OPTIONS` with a non-empty `Access-Control-Request-Method`; it is answered
//!   204 before routing, with `Vary: Origin, Access-Control-Request-Method,
//!   Access-Control-Request-Headers` and, when origin, method and headers are allowed,
//!   `Access-Control-Allow-Origin`, `-Allow-Methods` (the requested one), `-Allow-Headers` (the
//!   requested ones), `-Allow-Credentials`, `-Max-Age` (when > 0).
//! * Other requests get `Vary: Origin` and, when origin and method are allowed,
//!   `Access-Control-Allow-Origin`, `-Expose-Headers` (canonicalised, joined with `, `) and
//!   `-Allow-Credentials`.
//! * Empty lists take rs/cors' defaults: all origins; `GET, POST, HEAD`; the headers `accept,
//!   content-type, x-requested-with`. Origins compare case-insensitively and may hold one `*`
//!   wildcard (`https://*.example.com`). Requested headers must be lower-case, sorted and unique,
//!   as browsers send them (rs/cors' rule).
//! * **Origin and credentials.** When every origin is allowed (`*`, the default), the answer is
//!   the literal `Access-Control-Allow-Origin: *` — rs/cors v1.11.1 does the same (older rs/cors
//!   releases reflected the request's `Origin`; the reference notes describe that older
//!   behaviour). A browser never sends credentials to a `*` origin, so the default
//!   `cors_allow_credentials: true` is harmless. The request's `Origin` is echoed back only
//!   when the operator listed origins explicitly (exact or wildcard): an arbitrary site is never
//!   granted credentialed access unless the operator said so.
//!
//! # Response headers
//! The `headers` key (header → values) is appended to every answer, and every answer carries
//! `Content-Type: application/json`, including 204, 307, 405 and preflight answers. (Go adds
//! them only to the answers of its handlers and its 401/404 answers; one rule for all answers
//! is simpler to reason about.) Invalid configured names or values are skipped with a warning.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::config::RestApiConfig;

/// The realm of every `WWW-Authenticate` challenge (IPFS Cluster's text).
pub const REALM: &str = "Restricted IPFS Cluster API";

/// How a request reached the server; the server puts it in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnInfo {
    pub remote: Option<SocketAddr>,
    pub tls: bool,
}

/// The libp2p peer a request came from (REST over libp2p, `/libp2p-http`): the server puts it
/// in the request's extensions beside [`ConnInfo`] (whose `remote` is then `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemotePeer(pub libp2p_identity::PeerId);

/// What the access layer may look at in a request.
#[derive(Clone)]
pub struct RequestInfo<'a> {
    pub method: &'a Method,
    /// The URL path, as received (still percent-encoded).
    pub path: &'a str,
    /// The first `Authorization` value, if any.
    pub authorization: Option<&'a str>,
    /// The first `Origin` value, if any.
    pub origin: Option<&'a str>,
    /// The first `Access-Control-Request-Method` value, if any.
    pub request_method: Option<&'a str>,
    /// Every `Access-Control-Request-Headers` value (`None` when the header is absent).
    pub request_headers: Option<Vec<&'a str>>,
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
            authorization: first(header::AUTHORIZATION),
            origin: first(header::ORIGIN),
            request_method: first(header::ACCESS_CONTROL_REQUEST_METHOD),
            request_headers,
            remote: conn.and_then(|c| c.remote),
            tls: conn.is_some_and(|c| c.tls),
        }
    }

    /// A CORS preflight: `OPTIONS` with a non-empty `Access-Control-Request-Method`.
    pub fn is_preflight(&self) -> bool {
        *self.method == Method::OPTIONS && self.request_method.is_some_and(|m| !m.is_empty())
    }
}

/// Who made an allowed request; handlers find it in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Authentication is off, or the request is exempt (`OPTIONS`, `GET /health`).
    Anonymous,
    /// A configured user, authenticated with HTTP basic auth.
    User(String),
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

/// The authentication decision for one request.
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

/// Authentication, CORS and response headers of one API (see the module docs).
#[derive(Clone)]
pub struct AccessLayer {
    credentials: Option<CredentialStore>,
    cors: CorsPolicy,
    headers: HeaderMap,
}

impl fmt::Debug for AccessLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessLayer")
            .field("users", &self.credentials.as_ref().map(|c| c.users.clone()))
            .field("cors", &self.cors)
            .field("headers", &self.headers)
            .finish()
    }
}

impl AccessLayer {
    /// The layer `api.restapi` (or `api.pinsvcapi`) describes.
    pub fn from_config(config: &RestApiConfig) -> AccessLayer {
        let credentials = config.basic_auth_credentials.as_ref().map(|creds| {
            let mut store = CredentialStore::default();
            for (user, password) in creds.expose() {
                store.users.push(user.clone());
                store
                    .digests
                    .push((sha256(user.as_bytes()), sha256(password.as_bytes())));
            }
            store
        });
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
        AccessLayer {
            credentials,
            cors: CorsPolicy::from_config(config),
            headers,
        }
    }

    /// True when requests must authenticate.
    pub fn auth_enabled(&self) -> bool {
        self.credentials.is_some()
    }

    /// Decides whether the request may proceed.
    pub fn authorize(&self, req: &RequestInfo<'_>) -> Decision {
        let Some(store) = &self.credentials else {
            return Decision::Allow(Principal::Anonymous);
        };
        if *req.method == Method::OPTIONS || (*req.method == Method::GET && req.path == "/health") {
            return Decision::Allow(Principal::Anonymous);
        }
        let auth = req.authorization.unwrap_or("");
        if let Some((user, password)) = parse_basic(auth) {
            return match store.verify(&user, &password) {
                Some(i) => Decision::Allow(Principal::User(store.users[i].clone())),
                None => Decision::Deny(Denial {
                    status: StatusCode::UNAUTHORIZED,
                    message: "unauthorized: access denied".into(),
                    challenges: vec![challenge("Basic", "")],
                }),
            };
        }
        if parse_bearer(auth).is_some() {
            // Tokens are not issued yet, so none can be valid.
            return Decision::Deny(Denial {
                status: StatusCode::UNAUTHORIZED,
                message: "unauthorized: invalid token".into(),
                challenges: vec![challenge("Bearer", "invalid_token")],
            });
        }
        Decision::Deny(Denial {
            status: StatusCode::UNAUTHORIZED,
            message: "unauthorized: no auth provided".into(),
            challenges: vec![challenge("Bearer", ""), challenge("Basic", "")],
        })
    }

    /// Decides the CORS headers of the request's answer (and whether it is a preflight).
    pub fn cors(&self, req: &RequestInfo<'_>) -> CorsDecision {
        if req.is_preflight() {
            CorsDecision::Preflight(self.cors.preflight(req))
        } else {
            CorsDecision::Actual(self.cors.actual(req))
        }
    }

    /// The configured `headers`, added to every answer.
    pub fn response_headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Adds the configured headers and `Content-Type: application/json` to an answer.
    pub fn finish_headers(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
}

/// `Basic realm="…"[, error="…"]` (Go's `wwwAuthenticate`).
fn challenge(scheme: &str, error: &str) -> String {
    let mut s = format!("{scheme} realm=\"{REALM}\"");
    if !error.is_empty() {
        s.push_str(&format!(", error=\"{error}\""));
    }
    s
}

/// Go's `Request.BasicAuth`: `Basic <std base64 of user:pass>`, scheme case-insensitive.
/// Bytes, not strings: Go compares bytes, and a password need not be UTF-8.
fn parse_basic(auth: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    const PREFIX: &str = "Basic ";
    let head = auth.get(..PREFIX.len())?;
    if !head.eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&auth[PREFIX.len()..])
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

/// Go's `parseBearerToken`: `Bearer <token>`, scheme case-insensitive.
fn parse_bearer(auth: &str) -> Option<&str> {
    const PREFIX: &str = "Bearer ";
    let head = auth.get(..PREFIX.len())?;
    head.eq_ignore_ascii_case(PREFIX)
        .then(|| &auth[PREFIX.len()..])
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// User names and the digests of (user, password); no password is kept.
#[derive(Clone, Default)]
struct CredentialStore {
    users: Vec<String>,
    digests: Vec<([u8; 32], [u8; 32])>,
}

impl CredentialStore {
    /// The index of the matching user, compared in constant time against every entry.
    fn verify(&self, user: &[u8], password: &[u8]) -> Option<usize> {
        if user.is_empty() || password.is_empty() {
            return None;
        }
        let (u, p) = (sha256(user), sha256(password));
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for (i, (du, dp)) in self.digests.iter().enumerate() {
            let hit = du.ct_eq(&u) & dp.ct_eq(&p);
            index.conditional_assign(&(i as u64), hit);
            found |= hit;
        }
        bool::from(found).then_some(index as usize)
    }
}

/// rs/cors' options, normalised once.
#[derive(Debug, Clone)]
struct CorsPolicy {
    all_origins: bool,
    /// Lower-cased exact origins.
    origins: Vec<String>,
    /// Lower-cased (prefix, suffix) of origins with one `*`.
    wildcards: Vec<(String, String)>,
    methods: Vec<String>,
    all_headers: bool,
    /// Lower-cased allowed request headers.
    headers: BTreeSet<String>,
    exposed: Option<HeaderValue>,
    credentials: bool,
    max_age: Option<HeaderValue>,
}

const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

impl CorsPolicy {
    fn from_config(c: &RestApiConfig) -> CorsPolicy {
        let mut all_origins = c.cors_allowed_origins.is_empty();
        let mut origins = vec![];
        let mut wildcards = vec![];
        for o in &c.cors_allowed_origins {
            let o = o.to_ascii_lowercase();
            if o == "*" {
                all_origins = true;
                origins.clear();
                wildcards.clear();
                break;
            } else if let Some(i) = o.find('*') {
                wildcards.push((o[..i].to_string(), o[i + 1..].to_string()));
            } else {
                origins.push(o);
            }
        }
        let methods = if c.cors_allowed_methods.is_empty() {
            vec!["GET".into(), "POST".into(), "HEAD".into()]
        } else {
            c.cors_allowed_methods.clone()
        };
        let all_headers = c.cors_allowed_headers.iter().any(|h| h == "*");
        let headers: BTreeSet<String> = if c.cors_allowed_headers.is_empty() {
            ["accept", "content-type", "x-requested-with"]
                .map(String::from)
                .into()
        } else if all_headers {
            BTreeSet::new()
        } else {
            c.cors_allowed_headers
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect()
        };
        let exposed = (!c.cors_exposed_headers.is_empty())
            .then(|| {
                let joined = c
                    .cors_exposed_headers
                    .iter()
                    .map(|h| canonical_header_key(h))
                    .collect::<Vec<_>>()
                    .join(", ");
                HeaderValue::try_from(joined).ok()
            })
            .flatten();
        let secs = c.cors_max_age.as_secs();
        CorsPolicy {
            all_origins,
            origins,
            wildcards,
            methods,
            all_headers,
            headers,
            exposed,
            credentials: c.cors_allow_credentials,
            max_age: (secs > 0).then(|| HeaderValue::from(secs)),
        }
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        if self.all_origins {
            return true;
        }
        let origin = origin.to_ascii_lowercase();
        self.origins.contains(&origin)
            || self.wildcards.iter().any(|(pre, suf)| {
                origin.len() >= pre.len() + suf.len()
                    && origin.starts_with(pre.as_str())
                    && origin.ends_with(suf.as_str())
            })
    }

    fn method_allowed(&self, method: &str) -> bool {
        if self.methods.is_empty() {
            return false;
        }
        method == "OPTIONS" || self.methods.iter().any(|m| m == method)
    }

    /// rs/cors' `SortedSet.Accepts`: every listed name allowed, sorted, unique; at most one
    /// byte of optional whitespace around each; a few empty elements tolerated.
    fn headers_accepted(&self, values: &[&str]) -> bool {
        const MAX_EMPTY: usize = 16;
        let mut empty = 0;
        let mut last: Option<&str> = None;
        for v in values {
            for name in v.split(',') {
                let Some(name) = trim_ows(name, 1) else {
                    return false;
                };
                if name.is_empty() {
                    empty += 1;
                    if empty > MAX_EMPTY {
                        return false;
                    }
                    continue;
                }
                if !self.headers.contains(name) || last.is_some_and(|l| name <= l) {
                    return false;
                }
                last = Some(name);
            }
        }
        true
    }

    fn allow_origin_value(&self, req: &RequestInfo<'_>) -> HeaderValue {
        if self.all_origins {
            HeaderValue::from_static("*")
        } else {
            HeaderValue::try_from(req.origin.unwrap_or(""))
                .unwrap_or_else(|_| HeaderValue::from_static(""))
        }
    }

    fn preflight(&self, req: &RequestInfo<'_>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.append(header::VARY, HeaderValue::from_static(PREFLIGHT_VARY));
        let origin = req.origin.unwrap_or("");
        if origin.is_empty() || !self.origin_allowed(origin) {
            return h;
        }
        let method = req.request_method.unwrap_or("");
        if !self.method_allowed(method) {
            return h;
        }
        if let Some(values) = &req.request_headers
            && !self.all_headers
            && !self.headers_accepted(values)
        {
            return h;
        }
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            self.allow_origin_value(req),
        );
        if let Ok(m) = HeaderValue::try_from(method) {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, m);
        }
        if let Some(values) = &req.request_headers
            && values.first().is_some_and(|v| !v.is_empty())
        {
            for v in values {
                if let Ok(v) = HeaderValue::try_from(*v) {
                    h.append(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
                }
            }
        }
        if self.credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(age) = &self.max_age {
            h.insert(header::ACCESS_CONTROL_MAX_AGE, age.clone());
        }
        h
    }

    fn actual(&self, req: &RequestInfo<'_>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        let origin = req.origin.unwrap_or("");
        if origin.is_empty() || !self.origin_allowed(origin) {
            return h;
        }
        if !self.method_allowed(req.method.as_str()) {
            return h;
        }
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            self.allow_origin_value(req),
        );
        if let Some(e) = &self.exposed {
            h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, e.clone());
        }
        if self.credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        h
    }
}

/// Trims at most `n` spaces or tabs from each end; `None` when there are more.
fn trim_ows(s: &str, n: usize) -> Option<&str> {
    let is_ows = |c: char| c == ' ' || c == '\t';
    let left = s.len() - s.trim_start_matches(is_ows).len();
    let right = s.len() - s.trim_end_matches(is_ows).len();
    if s.chars().all(is_ows) {
        return (s.len() <= 2 * n).then_some("");
    }
    (left <= n && right <= n).then(|| s.trim_matches(is_ows))
}

/// Go's `http.CanonicalHeaderKey`: `x-stream-output` → `X-Stream-Output`; keys with bytes that
/// are not header token characters are returned unchanged.
pub fn canonical_header_key(key: &str) -> String {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !key.bytes().all(token) {
        return key.to_string();
    }
    let mut upper = true;
    key.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BasicAuthCredentials;
    use std::collections::BTreeMap;

    fn layer(users: &[(&str, &str)]) -> AccessLayer {
        let mut cfg = RestApiConfig::restapi_default();
        cfg.basic_auth_credentials = Some(BasicAuthCredentials::new(
            users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ));
        AccessLayer::from_config(&cfg)
    }

    fn basic(u: &str, p: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    }

    fn decide(l: &AccessLayer, method: Method, path: &str, auth: Option<&str>) -> Decision {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, HeaderValue::try_from(a).unwrap());
        }
        l.authorize(&RequestInfo::new(&method, path, &h, None))
    }

    #[test]
    fn basic_auth_decisions() {
        let l = layer(&[("alice", "wonderland"), ("bob", "builder")]);
        let ok = basic("bob", "builder");
        assert_eq!(
            decide(&l, Method::GET, "/id", Some(&ok)),
            Decision::Allow(Principal::User("bob".into()))
        );
        for bad in [
            basic("bob", "wonderland"),
            basic("carol", "builder"),
            basic("bob", ""),
            basic("", "builder"),
        ] {
            let Decision::Deny(d) = decide(&l, Method::GET, "/id", Some(&bad)) else {
                panic!("{bad} allowed");
            };
            assert_eq!(d.message, "unauthorized: access denied");
            assert_eq!(
                d.challenges,
                vec![r#"Basic realm="Restricted IPFS Cluster API""#]
            );
        }
        // scheme is case-insensitive; malformed base64 counts as no auth
        let lower = ok.replacen("Basic", "bASIC", 1);
        assert!(matches!(
            decide(&l, Method::GET, "/id", Some(&lower)),
            Decision::Allow(_)
        ));
        let Decision::Deny(d) = decide(&l, Method::GET, "/id", Some("Basic !!!")) else {
            panic!()
        };
        assert_eq!(d.message, "unauthorized: no auth provided");
        assert_eq!(d.challenges.len(), 2);
        let Decision::Deny(d) = decide(&l, Method::GET, "/id", Some("bearer abc")) else {
            panic!()
        };
        assert_eq!(d.message, "unauthorized: invalid token");
        assert_eq!(
            d.challenges,
            vec![r#"Bearer realm="Restricted IPFS Cluster API", error="invalid_token""#]
        );
        // exemptions
        assert!(matches!(
            decide(&l, Method::OPTIONS, "/pins", None),
            Decision::Allow(Principal::Anonymous)
        ));
        assert!(matches!(
            decide(&l, Method::GET, "/health", None),
            Decision::Allow(_)
        ));
        assert!(matches!(
            decide(&l, Method::POST, "/health", None),
            Decision::Deny(_)
        ));
        assert!(matches!(
            decide(&l, Method::GET, "/health/graph", None),
            Decision::Deny(_)
        ));
    }

    #[test]
    fn password_may_contain_colons_and_debug_hides_secrets() {
        let l = layer(&[("u", "p:a:ss")]);
        assert!(matches!(
            decide(&l, Method::GET, "/id", Some(&basic("u", "p:a:ss"))),
            Decision::Allow(_)
        ));
        let dbg = format!("{l:?}");
        assert!(!dbg.contains("p:a:ss"), "{dbg}");
        let m = Method::GET;
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::try_from(basic("u", "p:a:ss")).unwrap(),
        );
        let dbg = format!("{:?}", RequestInfo::new(&m, "/", &h, None));
        assert!(!dbg.contains(&basic("u", "p:a:ss")[6..]), "{dbg}");
    }

    #[test]
    fn requested_headers_rule() {
        let p = CorsPolicy::from_config(&RestApiConfig::restapi_default());
        assert!(p.headers_accepted(&["content-type"]));
        assert!(p.headers_accepted(&["accept,content-type"]));
        assert!(p.headers_accepted(&["accept, content-type"]));
        assert!(!p.headers_accepted(&["content-type,accept"])); // unsorted
        assert!(!p.headers_accepted(&["x-custom"]));
        assert!(!p.headers_accepted(&["accept,  content-type"])); // two spaces
        assert!(p.headers_accepted(&[""]));
    }

    #[test]
    fn canonical_keys() {
        assert_eq!(canonical_header_key("x-stream-output"), "X-Stream-Output");
        assert_eq!(canonical_header_key("CONTENT-TYPE"), "Content-Type");
        assert_eq!(canonical_header_key("bad header"), "bad header");
    }
}
