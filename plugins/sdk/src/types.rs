//! Plain Rust mirrors of the WIT types (`pinfold:plugin/types@0.1.0`).
//!
//! They are ordinary owned structs and enums with `Debug`, `Clone` and `PartialEq`, available
//! on every target, so a policy written against them is unit-tested with a plain `cargo test`
//! on the build machine. The export macros convert from and to the generated bindings at the
//! component boundary; the field names and meanings are those of the WIT, documented there
//! (`wit/pinfold-plugin@0.1.0/types.wit`).

/// A libp2p peer ID in its canonical text form.
pub type PeerId = String;

/// Which API of the daemon a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointKind {
    /// The REST API.
    Rest,
    /// The IPFS Pinning Service API.
    PinningService,
    /// The IPFS (Kubo RPC) proxy.
    IpfsProxy,
    /// The REST API over libp2p (`/libp2p-http`).
    Libp2pApi,
    /// Cluster RPC between peers.
    ClusterRpc,
}

/// A user name and password from `Authorization: Basic`.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The credentials presented with a request (see the WIT for how the host parses them).
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// No `Authorization` header.
    None,
    /// `Authorization: Basic …` with UTF-8 user and password.
    Basic(BasicCredentials),
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// Any other `Authorization` value, raw.
    Other(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::Basic(b) => f.debug_tuple("Basic").field(b).finish(),
            Credentials::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Credentials::Other(_) => f.write_str("Other(<redacted>)"),
        }
    }
}

/// How the cluster regards the peer that made an RPC call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerTrust {
    /// This peer itself.
    Local,
    /// A trusted peer.
    Trusted,
    /// Any other connected peer.
    Untrusted,
}

/// The libp2p peer behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePeer {
    /// Its peer ID.
    pub id: PeerId,
    /// How far it is trusted.
    pub trust: PeerTrust,
}

/// Everything an authorization policy may look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzRequest {
    /// The API the request arrived on.
    pub endpoint: EndpointKind,
    /// The operation (`pin.add`, `Cluster.Pin` …).
    pub operation: String,
    /// The HTTP method; empty for cluster RPC.
    pub method: String,
    /// The URL path as received; empty for cluster RPC.
    pub path: String,
    /// The raw query string without `?`.
    pub query: String,
    /// The remote socket address, when known.
    pub remote_addr: Option<String>,
    /// True over TLS.
    pub tls: bool,
    /// The presented credentials.
    pub credentials: Credentials,
    /// The libp2p peer that sent the request.
    pub remote_peer: Option<RemotePeer>,
    /// The tenant, when known.
    pub tenant: Option<String>,
    /// Headers the operator forwards to plugins (lower-case names).
    pub headers: Vec<(String, String)>,
}

impl AuthzRequest {
    /// A request on `endpoint` with the given method and path and everything else empty: a
    /// starting point for tests.
    pub fn new(endpoint: EndpointKind, method: &str, path: &str) -> AuthzRequest {
        AuthzRequest {
            endpoint,
            operation: String::new(),
            method: method.to_string(),
            path: path.to_string(),
            query: String::new(),
            remote_addr: None,
            tls: false,
            credentials: Credentials::None,
            remote_peer: None,
            tenant: None,
            headers: Vec::new(),
        }
    }
}

/// Who is acting, when a request is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grant {
    /// The authenticated principal; `None` = anonymous.
    pub principal: Option<String>,
    /// The tenant the handler must act for.
    pub tenant: Option<String>,
}

/// A refusal that does not ask for credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The HTTP status.
    pub status: u16,
    /// Why (the error body's `message`).
    pub reason: String,
}

/// A refusal that asks for credentials (401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthChallenge {
    /// Every `WWW-Authenticate` value, in order.
    pub www_authenticate: Vec<String>,
    /// Why (the error body's `message`).
    pub reason: String,
}

/// The outcome of an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead, as this principal and tenant.
    Allow(Grant),
    /// Refuse.
    Deny(Denial),
    /// Refuse with 401 and challenges.
    Challenge(AuthChallenge),
}

impl Decision {
    /// Allow anonymously.
    pub fn allow_anonymous() -> Decision {
        Decision::Allow(Grant::default())
    }

    /// Allow as `principal`.
    pub fn allow_as(principal: impl Into<String>) -> Decision {
        Decision::Allow(Grant {
            principal: Some(principal.into()),
            tenant: None,
        })
    }

    /// Deny with `status` and `reason`.
    pub fn deny(status: u16, reason: impl Into<String>) -> Decision {
        Decision::Deny(Denial {
            status,
            reason: reason.into(),
        })
    }

    /// True for [`Decision::Allow`].
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }
}

/// What a CORS policy may look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsRequest {
    /// The API the request arrived on.
    pub endpoint: EndpointKind,
    /// The HTTP method.
    pub method: String,
    /// The URL path as received.
    pub path: String,
    /// The first `Origin` value.
    pub origin: Option<String>,
    /// The first `Access-Control-Request-Method` value.
    pub request_method: Option<String>,
    /// Every `Access-Control-Request-Headers` value; `None` when absent.
    pub request_headers: Option<Vec<String>>,
    /// The first `Access-Control-Request-Private-Network` value.
    pub request_private_network: Option<String>,
}

impl CorsRequest {
    /// A request on `endpoint` with the given method and path and no CORS headers.
    pub fn new(endpoint: EndpointKind, method: &str, path: &str) -> CorsRequest {
        CorsRequest {
            endpoint,
            method: method.to_string(),
            path: path.to_string(),
            origin: None,
            request_method: None,
            request_headers: None,
            request_private_network: None,
        }
    }
}

/// The CORS headers of an answer; the default adds nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsResponse {
    /// Answer now as a preflight (204, no body).
    pub preflight: bool,
    /// `Vary` values.
    pub vary: Vec<String>,
    /// `Access-Control-Allow-Origin`.
    pub allow_origin: Option<String>,
    /// `Access-Control-Allow-Methods`.
    pub allow_methods: Option<String>,
    /// `Access-Control-Allow-Headers` values.
    pub allow_headers: Vec<String>,
    /// `Access-Control-Allow-Credentials: true`.
    pub allow_credentials: bool,
    /// `Access-Control-Allow-Private-Network: true`.
    pub allow_private_network: bool,
    /// `Access-Control-Expose-Headers`.
    pub expose_headers: Option<String>,
    /// `Access-Control-Max-Age` in seconds.
    pub max_age_seconds: Option<u32>,
}

/// A metric published by a peer's informer (IPFS Cluster's `api.Metric`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    /// The metric name.
    pub name: String,
    /// The peer it describes.
    pub peer: PeerId,
    /// The value as text.
    pub value: String,
    /// The weight (higher is better).
    pub weight: i64,
    /// Peers with equal values form one group.
    pub partitionable: bool,
    /// False when the informer could not measure.
    pub valid: bool,
    /// Expiry, Unix nanoseconds.
    pub expire: i64,
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed.
    Trace,
    /// Debugging.
    Debug,
    /// Normal operation.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}
