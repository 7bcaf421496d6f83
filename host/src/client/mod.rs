//! Async client for IPFS Cluster's REST API (`api/rest/client` of IPFS Cluster v1.1.6), used by
//! `pinfold-ctl` and usable by any Rust program that talks to a Pinfold or IPFS Cluster peer.
//!
//! # What it owns
//! * [`Client`] and its [`ClientConfig`]: one `reqwest` client, the base URLs in fail-over
//!   order, and the sending of a request. As Go's `Failover` load balancer, a request goes to
//!   the first address and moves to the next one only when the request could not be made at
//!   all (Go's error code 0); an answer from a server, even an error, is final. `/p2p/`
//!   addresses go through REST over libp2p: `pinfold-ctl` opens a libp2p tunnel and sets
//!   [`ClientConfig::unix_socket`]; without it they, `/dnsaddr/` and `/unix/` addresses are
//!   refused with a clear error.
//! * Authentication: HTTP basic auth (`user:pass`, sent on every request as Go does) or a bearer
//!   token; TLS with rustls (ring), optionally without certificate checks; a whole-request timeout
//!   (Go's `http.Client.Timeout`, which also covers reading the body; `None` means no limit).
//!
//! The rest is one file per job: `address` (API multiaddress → base URL), `error`
//! ([`ClientError`], Go's split between API and transport errors), `query` (route parameters as
//! Go encodes them, [`AddParams`]), `wire` ([`FromWire`]: Go's `null`s read as empty), `stream`
//! (NDJSON answers and their `X-Stream-Error` trailer), `upload` (the `/add` multipart body) and
//! `routes` (one method per REST route, §1.3 of the reference). The answers' types are the
//! shared wire types of [`crate::types`], re-exported here.
//!
//! # Trade-offs
//! * DNS names are resolved by the HTTP stack, which tries every address of a name; Go's ctl
//!   instead expands a name into one fail-over entry per address. Same effect, fewer lines.
//! * Redirects (the server's 307 for a trailing slash) are followed by reqwest; a streamed
//!   upload body cannot be replayed, which only matters for `/add/` with a slash.
//! * Times are kept as [`Timestamp`](crate::types::Timestamp) in UTC; a Go server in another
//!   time zone sends its local offset, which a re-encoding prints as UTC (same instant).

mod address;
mod error;
mod query;
mod routes;
mod stream;
pub mod tunnel;
mod upload;
mod wire;

#[cfg(test)]
mod tests;

pub use self::address::multiaddr_to_base_url;
pub use self::error::ClientError;
pub use self::query::{
    AddParams, DEFAULT_SHARD_SIZE, PinTypeFilter, ipfs_path, pin_options_to_query, query_escape,
};
pub use self::stream::{ItemStream, JsonStreamDecoder, STREAM_ERROR_TRAILER, StreamSyntaxError};
pub use self::upload::{AddSource, MultipartUpload};
pub use self::wire::FromWire;
pub use crate::types::{Alert, Bandwidth, BandwidthByProtocol, ConnectGraph, Token, Version};

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use multiaddr::{Multiaddr, Protocol};
use serde_json::Value;

use self::error::{api_error, transport_error};

/// Where `ipfs-cluster-ctl` looks for the API when `--host` is not given.
pub const DEFAULT_API_ADDR: &str = "/ip4/127.0.0.1/tcp/9094";

/// How to reach the API.
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    /// API multiaddresses; requests fail over from the first to the next (empty: the default).
    pub hosts: Vec<Multiaddr>,
    /// Use `https`.
    pub https: bool,
    /// Accept any server certificate (only meaningful with `https`).
    pub no_check_certificate: bool,
    /// HTTP basic auth (user, password); the password may be empty.
    pub basic_auth: Option<(String, String)>,
    /// A bearer token (`POST /token`), used when no basic auth is set.
    pub bearer_token: Option<String>,
    /// Limit on a whole request, body included (`None`: no limit, Go's `--timeout 0`).
    pub timeout: Option<Duration>,
    /// The 32-byte cluster secret for the libp2p endpoint (used by `pinfold-ctl` to open the
    /// libp2p tunnel).
    pub secret: Option<Vec<u8>>,
    /// Send every request through this Unix socket instead: the local end of a
    /// libp2p tunnel. The first host (`…/p2p/<peer id>`) only names the peer then.
    pub unix_socket: Option<PathBuf>,
}

#[derive(Debug, Clone)]
struct Auth {
    basic: Option<(String, String)>,
    bearer: Option<String>,
}

/// The REST API client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    bases: Vec<String>,
    auth: Auth,
}

/// An upload and its sent-bytes counter.
type Upload<'a> = (&'a MultipartUpload, Option<Arc<AtomicU64>>);

pub(super) enum ReqBody {
    None,
    Json(Vec<u8>),
}

impl Client {
    /// Builds the client; fails on addresses it cannot use (libp2p, unix sockets).
    pub fn new(cfg: &ClientConfig) -> Result<Client, ClientError> {
        let hosts = if cfg.hosts.is_empty() {
            vec![DEFAULT_API_ADDR.parse().expect("valid default address")]
        } else {
            cfg.hosts.clone()
        };
        let mut b = reqwest::Client::builder().use_rustls_tls();
        let bases = match &cfg.unix_socket {
            // REST over libp2p: one peer, behind the tunnel's socket; the host part of the URL
            // only fills the Host header (go-libp2p-http puts the peer id there too)
            Some(path) => {
                b = b.unix_socket(path.as_path());
                let peer = hosts[0].iter().find_map(|p| match p {
                    Protocol::P2p(id) => Some(id.to_string()),
                    _ => None,
                });
                vec![format!(
                    "http://{}",
                    peer.unwrap_or_else(|| "libp2p".into())
                )]
            }
            None => hosts
                .iter()
                .map(|h| multiaddr_to_base_url(h, cfg.https))
                .collect::<Result<Vec<_>, _>>()?,
        };
        if cfg.no_check_certificate {
            b = b.danger_accept_invalid_certs(true);
        }
        if let Some(t) = cfg.timeout.filter(|t| !t.is_zero()) {
            b = b.timeout(t);
        }
        let http = b
            .build()
            .map_err(|e| ClientError::Local(format!("creating API client: {e}")))?;
        Ok(Client {
            http,
            bases,
            auth: Auth {
                basic: cfg.basic_auth.clone(),
                bearer: cfg.bearer_token.clone(),
            },
        })
    }

    /// The base URLs requests go to, in fail-over order.
    pub fn base_urls(&self) -> &[String] {
        &self.bases
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &ReqBody,
        upload: Option<Upload<'_>>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut last = None;
        for base in &self.bases {
            let url = format!("{base}/{}", path.trim_start_matches('/'));
            let mut rb = self
                .http
                .request(method.clone(), &url)
                .header("TE", "trailers");
            if let Some((u, p)) = &self.auth.basic {
                rb = rb.basic_auth(u, Some(p));
            } else if let Some(t) = &self.auth.bearer {
                rb = rb.bearer_auth(t);
            }
            match body {
                ReqBody::None => {}
                ReqBody::Json(b) => rb = rb.body(b.clone()),
            }
            if let Some((up, sent)) = &upload {
                rb = rb
                    .header("Content-Type", up.content_type())
                    .body((*up).clone().into_body(sent.clone()));
            }
            match rb.send().await {
                Ok(resp) => return Ok(resp),
                Err(e) => last = Some(transport_error(method.as_str(), &url, &e)),
            }
        }
        Err(last.expect("at least one base URL"))
    }

    /// Go's `handleResponse`: error statuses → [`ClientError::Api`], 202/204 → `None`.
    async fn finish<T: FromWire>(resp: reqwest::Response) -> Result<Option<T>, ClientError> {
        let status = resp.status().as_u16();
        let url = resp.url().to_string();
        let body = resp
            .bytes()
            .await
            .map_err(|e| match transport_error("", &url, &e) {
                ClientError::Transport { message, .. } => ClientError::Api {
                    code: status as i64,
                    message,
                },
                other => other,
            })?;
        if status == 202 || status == 204 {
            return Ok(None);
        }
        if (400..600).contains(&status) {
            return Err(api_error(status, &body));
        }
        T::from_wire(&body).map(Some).map_err(|e| ClientError::Api {
            code: status as i64,
            message: e.to_string(),
        })
    }

    async fn call<T: FromWire>(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<T, ClientError> {
        let resp = self.send(method, path, &ReqBody::None, None).await?;
        Self::finish::<T>(resp)
            .await?
            .ok_or_else(|| ClientError::Decode(format!("empty answer (no content) from {path}")))
    }

    async fn call_empty(&self, method: reqwest::Method, path: &str) -> Result<(), ClientError> {
        let resp = self.send(method, path, &ReqBody::None, None).await?;
        Self::finish::<Value>(resp).await.map(|_| ())
    }

    async fn stream<T: FromWire>(
        &self,
        method: reqwest::Method,
        path: &str,
        upload: Option<Upload<'_>>,
    ) -> Result<ItemStream<T>, ClientError> {
        let resp = self.send(method, path, &ReqBody::None, upload).await?;
        Self::open_stream(resp).await
    }

    async fn open_stream<T: FromWire>(
        resp: reqwest::Response,
    ) -> Result<ItemStream<T>, ClientError> {
        let status = resp.status().as_u16();
        if (400..600).contains(&status) {
            Self::finish::<Value>(resp).await?;
            return Err(ClientError::Api {
                code: status as i64,
                message: String::new(),
            });
        }
        if status != 200 && status != 204 {
            return Err(ClientError::Api {
                code: status as i64,
                message: "expected streaming response with code 200/204".into(),
            });
        }
        let resp: hyper::Response<reqwest::Body> = resp.into();
        Ok(ItemStream::new(Some(resp.into_body())))
    }
}
