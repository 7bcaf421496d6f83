//! Async client for IPFS Cluster's REST API (`api/rest/client` of IPFS Cluster v1.1.6), used by
//! `pinfold-ctl` and usable by any Rust program that talks to a Pinfold or IPFS Cluster peer.
//!
//! # What it owns
//! * Turning an API multiaddress (`/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>`) into a base URL,
//!   `http` or `https`. Several addresses give **fail-over**: as Go's `Failover` load balancer,
//!   a request goes to the first address and moves to the next one only when the request could
//!   not be made at all (Go's error code 0); an answer from a server, even an error, is final.
//!   `/p2p/` addresses go through REST over libp2p: `pinfold-ctl` opens a
//!   [`crate::api::rest::libp2p::Tunnel`] and sets [`ClientConfig::unix_socket`]; without it they, `/dnsaddr/`
//!   and `/unix/` addresses are refused with a clear error.
//! * Authentication: HTTP basic auth (`user:pass`, sent on every request as Go does) or a bearer
//!   token; TLS with rustls (ring), optionally without certificate checks; a whole-request timeout
//!   (Go's `http.Client.Timeout`, which also covers reading the body; `None` means no limit).
//! * One method per REST route (§1.3 of the reference): plain JSON answers, NDJSON streams
//!   ([`ItemStream`], decoded incrementally with [`JsonStreamDecoder`], so a value split across
//!   network chunks is fine and a huge pinset is never held in memory), and `/add` uploads that
//!   stream files and directories from disk with go-ipfs-files' multipart encoding
//!   ([`MultipartUpload`]).
//! * Errors as [`ClientError`], which keeps Go's split: the server's `{"code","message"}` (or, for
//!   a body that is not that JSON, the HTTP status and the body text) is an [`ClientError::Api`];
//!   a request that could not be made is [`ClientError::Transport`] (Go reports it as code 0);
//!   a broken stream or a local problem (missing file) is neither, which `pinfold-ctl` prints
//!   differently and with another exit code, exactly as `ipfs-cluster-ctl` does.
//!
//! # Streams and trailers
//! Streaming routes answer 200 with one JSON object per line, or 204 when empty, and always set
//! the HTTP trailer `X-Stream-Error` (empty when all went well). The body is read as
//! `http_body` frames, so the trailer frame is seen: a non-empty value ends the stream with
//! `ClientError::Api { code: 500, .. }`, several values joined with `"; "` as Go's `multierr`.
//! Requests carry `TE: trailers`, without which a hyper-based server (Pinfold's) does not send
//! trailers; Go's server sends them regardless and ignores the header.
//!
//! # JSON shapes
//! Answers decode into the shared types of [`crate::types`]. Go writes nil slices and maps as
//! `null` where those types expect lists (`addresses` of an unreachable peer, `origins` of a
//! status, `keys` of a GC report); such nulls are read as empty before decoding
//! ([`FromWire`]), so a Go server's answers are accepted. Types the shared module lacks and only
//! clients need (alerts, version, connection graph, bandwidth, add parameters) are defined here.
//!
//! # Trade-offs
//! * DNS names are resolved by the HTTP stack, which tries every address of a name; Go's ctl
//!   instead expands a name into one fail-over entry per address. Same effect, fewer lines.
//! * Redirects (the server's 307 for a trailing slash) are followed by reqwest; a streamed
//!   upload body cannot be replayed, which only matters for `/add/` with a slash.
//! * Times are kept as [`Timestamp`] in UTC; a Go server in another time zone sends its local
//!   offset, which a re-encoding prints as UTC (same instant).

pub mod tunnel;

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use http_body_util::BodyExt;
use libp2p_identity::PeerId;
use multiaddr::{Multiaddr, Protocol};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::types::{
    AddedOutput, GlobalPinInfo, GlobalRepoGc, Metric, PeerDescription, Pin, PinOptions, PinType,
    Timestamp, format_rfc3339,
};

/// Where `ipfs-cluster-ctl` looks for the API when `--host` is not given.
pub const DEFAULT_API_ADDR: &str = "/ip4/127.0.0.1/tcp/9094";

/// Go's `DefaultShardSize` (100 MiB), the `shard-size` an add sends by default.
pub const DEFAULT_SHARD_SIZE: u64 = 100 * 1024 * 1024;

/// The trailer streaming endpoints set (empty, or the error that cut the stream short).
pub const STREAM_ERROR_TRAILER: &str = "x-stream-error";

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
    /// tunnel of [`crate::api::rest::libp2p::Tunnel`]).
    pub secret: Option<Vec<u8>>,
    /// Send every request through this Unix socket instead: the local end of a
    /// [`crate::api::rest::libp2p::Tunnel`]. The first host (`…/p2p/<peer id>`) only names the peer then.
    pub unix_socket: Option<PathBuf>,
}

/// Everything that can go wrong in a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error: its `{"code","message"}`, or the HTTP status and the
    /// body when that is not JSON; also an unreadable success body (code = HTTP status) and an
    /// `X-Stream-Error` trailer (code 500). Go's `api.Error`; its text is Go's `"msg (code)"`.
    #[error("{message} ({code})")]
    Api { code: i64, message: String },
    /// The request could not be made or its answer not read (refused, timed out, TLS). Go
    /// wraps these as `api.Error` with code 0.
    #[error("{message} (0)")]
    Transport { message: String, timeout: bool },
    /// A stream item that is not valid JSON of the expected shape (Go returns the decoder's
    /// error as is, not as an `api.Error`).
    #[error("{0}")]
    Decode(String),
    /// A stream whose body broke off while being read (also not an `api.Error` in Go);
    /// `timeout` when the configured timeout cut it.
    #[error("{message}")]
    Stream { message: String, timeout: bool },
    /// A problem before anything was sent: bad argument, unreadable file.
    #[error("{0}")]
    Local(String),
}

impl ClientError {
    /// The code Go's `api.Error` would carry, or `None` for errors that are not API errors.
    pub fn api_code(&self) -> Option<i64> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            ClientError::Transport { .. } => Some(0),
            ClientError::Decode(_) | ClientError::Local(_) | ClientError::Stream { .. } => None,
        }
    }

    /// The message without the code.
    pub fn message(&self) -> &str {
        match self {
            ClientError::Api { message, .. }
            | ClientError::Transport { message, .. }
            | ClientError::Stream { message, .. } => message,
            ClientError::Decode(m) | ClientError::Local(m) => m,
        }
    }

    /// True when the request hit the configured timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            ClientError::Transport { timeout: true, .. }
                | ClientError::Stream { timeout: true, .. }
        )
    }
}

/// `GET /version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub version: String,
}

/// An expired metric (`GET /health/alerts`): the metric's fields plus `triggered_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    #[serde(flatten)]
    pub metric: Metric,
    pub triggered_at: Timestamp,
}

/// Traffic of one libp2p protocol (`GET /health/bandwidth`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Bandwidth {
    #[serde(default)]
    pub total_in: i64,
    #[serde(default)]
    pub total_out: i64,
    #[serde(default)]
    pub rate_in: f64,
    #[serde(default)]
    pub rate_out: f64,
}

/// Bandwidth per protocol ID.
pub type BandwidthByProtocol = BTreeMap<String, Bandwidth>;

/// The cluster's connectivity (`GET /health/graph`); peer IDs as strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ConnectGraph {
    #[serde(default)]
    pub cluster_id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub id_to_peername: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_links")]
    pub ipfs_links: BTreeMap<String, Vec<String>>,
    #[serde(default, deserialize_with = "null_links")]
    pub cluster_links: BTreeMap<String, Vec<String>>,
    #[serde(default, deserialize_with = "null_default")]
    pub cluster_trust_links: BTreeMap<String, bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub cluster_to_ipfs: BTreeMap<String, String>,
}

fn null_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn null_links<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    let m = Option::<BTreeMap<String, Option<Vec<String>>>>::deserialize(d)?.unwrap_or_default();
    Ok(m.into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

/// `POST /token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub token: String,
}

/// Parameters of `/add` (Go's `api.AddParams`); [`Default`] is Go's `DefaultAddParams()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddParams {
    /// Pin options: name, replication, user allocations, expiry, metadata, shard size.
    pub pin: PinOptions,
    pub local: bool,
    pub recursive: bool,
    pub hidden: bool,
    pub wrap: bool,
    pub shard: bool,
    pub layout: String,
    pub chunker: String,
    pub raw_leaves: bool,
    pub progress: bool,
    pub cid_version: i64,
    pub hash_fun: String,
    pub no_copy: bool,
    pub format: String,
    pub no_pin: bool,
}

impl Default for AddParams {
    fn default() -> Self {
        AddParams {
            pin: PinOptions {
                shard_size: DEFAULT_SHARD_SIZE,
                ..PinOptions::default()
            },
            local: false,
            recursive: false,
            hidden: false,
            wrap: false,
            shard: false,
            layout: String::new(),
            chunker: "size-262144".into(),
            raw_leaves: false,
            progress: false,
            cid_version: 0,
            hash_fun: "sha2-256".into(),
            no_copy: false,
            format: "unixfs".into(),
            no_pin: false,
        }
    }
}

impl AddParams {
    /// The query string Go's `AddParams.ToQueryString` builds (always `stream-channels=true`,
    /// as the client reads a stream).
    pub fn to_query(&self) -> String {
        let mut q = pin_options_query(&self.pin);
        let b = |v: bool| v.to_string();
        q.insert("shard".into(), b(self.shard));
        q.insert("local".into(), b(self.local));
        q.insert("recursive".into(), b(self.recursive));
        q.insert("layout".into(), self.layout.clone());
        q.insert("chunker".into(), self.chunker.clone());
        q.insert("raw-leaves".into(), b(self.raw_leaves));
        q.insert("hidden".into(), b(self.hidden));
        q.insert("wrap-with-directory".into(), b(self.wrap));
        q.insert("progress".into(), b(self.progress));
        q.insert("cid-version".into(), self.cid_version.to_string());
        q.insert("hash".into(), self.hash_fun.clone());
        q.insert("stream-channels".into(), "true".into());
        q.insert("nocopy".into(), b(self.no_copy));
        q.insert("format".into(), self.format.clone());
        q.insert("no-pin".into(), b(self.no_pin));
        encode_query(&q)
    }
}

/// Go's `url.QueryEscape`: everything but `[A-Za-z0-9-_.~]` is %-escaped, spaces become `+`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.Values.Encode` for single values: keys sorted, both sides query-escaped.
fn encode_query(q: &BTreeMap<String, String>) -> String {
    q.iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn pin_options_query(po: &PinOptions) -> BTreeMap<String, String> {
    let mut q = BTreeMap::new();
    q.insert(
        "replication-min".into(),
        po.replication_factor_min.to_string(),
    );
    q.insert(
        "replication-max".into(),
        po.replication_factor_max.to_string(),
    );
    q.insert("name".into(), po.name.clone());
    q.insert("mode".into(), po.mode.as_str().into());
    q.insert("shard-size".into(), po.shard_size.to_string());
    q.insert(
        "user-allocations".into(),
        po.user_allocations
            .iter()
            .flatten()
            .map(|p| p.to_base58())
            .collect::<Vec<_>>()
            .join(","),
    );
    if !po.expire_at.is_zero() {
        q.insert("expire-at".into(), format_rfc3339(po.expire_at));
    }
    for (k, v) in po.metadata.iter().flatten() {
        if !k.is_empty() {
            q.insert(format!("meta-{k}"), v.clone());
        }
    }
    if let Some(u) = &po.pin_update {
        q.insert("pin-update".into(), u.to_string());
    }
    if let Some(o) = po.origins.as_ref().filter(|o| !o.is_empty()) {
        q.insert(
            "origins".into(),
            o.iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    q
}

/// Go's `PinOptions.ToQuery()` (every option spelled out, keys sorted).
pub fn pin_options_to_query(po: &PinOptions) -> String {
    encode_query(&pin_options_query(po))
}

/// Which pin types `GET /allocations` lists (Go's `PinType` bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinTypeFilter {
    pub data: bool,
    pub meta: bool,
    pub cluster_dag: bool,
    pub shard: bool,
}

impl PinTypeFilter {
    /// Every type (`filter=all`).
    pub const ALL: PinTypeFilter = PinTypeFilter {
        data: true,
        meta: true,
        cluster_dag: true,
        shard: true,
    };

    /// Parses `ctl pin ls --filter` as Go: names OR-ed, `all` and the empty name mean all,
    /// unknown names add nothing.
    pub fn parse(s: &str) -> PinTypeFilter {
        let mut f = PinTypeFilter::default();
        for name in s.split(',') {
            match name {
                "" | "all" => f = PinTypeFilter::ALL,
                "pin" => f.data = true,
                "meta-pin" => f.meta = true,
                "clusterdag-pin" => f.cluster_dag = true,
                "shard-pin" => f.shard = true,
                _ => {}
            }
        }
        f
    }

    /// The `filter` query value Go's client sends.
    pub fn to_param(self) -> String {
        if self == PinTypeFilter::ALL {
            return "all".into();
        }
        let mut v = Vec::new();
        for (on, t) in [
            (self.data, PinType::Data),
            (self.meta, PinType::Meta),
            (self.cluster_dag, PinType::ClusterDag),
            (self.shard, PinType::Shard),
        ] {
            if on {
                v.push(t.as_str());
            }
        }
        v.join(",")
    }
}

/// Turns one API multiaddress into `scheme://host:port`.
pub fn multiaddr_to_base_url(addr: &Multiaddr, https: bool) -> Result<String, ClientError> {
    let bad = |why: &str| ClientError::Local(format!("{why}: {addr}"));
    if addr
        .iter()
        .any(|p| matches!(p, Protocol::P2p(_) | Protocol::Dnsaddr(_)))
    {
        return Err(ClientError::Local(format!(
            "REST over libp2p is not available yet (address {addr}); use the HTTP API address \
             (/ip4/<ip>/tcp/<port>)"
        )));
    }
    let mut it = addr.iter();
    let host = match it.next() {
        Some(Protocol::Ip4(ip)) => ip.to_string(),
        Some(Protocol::Ip6(ip)) => format!("[{ip}]"),
        Some(Protocol::Dns(n) | Protocol::Dns4(n) | Protocol::Dns6(n)) => n.to_string(),
        Some(Protocol::Unix(_)) => return Err(bad("unix socket API addresses are not supported")),
        _ => return Err(bad("unsupported API multiaddress")),
    };
    let port = match it.next() {
        Some(Protocol::Tcp(p)) => p,
        _ => return Err(bad("API multiaddress needs a /tcp/ port")),
    };
    if it.next().is_some() {
        return Err(bad("unsupported API multiaddress"));
    }
    let scheme = if https { "https" } else { "http" };
    Ok(format!("{scheme}://{host}:{port}"))
}

/// Decoding of a shared type from a Go server's JSON, which writes nil lists and maps as `null`.
pub trait FromWire: DeserializeOwned {
    /// Replaces `null`s the Rust type cannot take by empty values.
    fn fix_nulls(_v: &mut Value) {}

    /// Decodes after [`FromWire::fix_nulls`].
    fn from_wire(bytes: &[u8]) -> Result<Self, String> {
        let mut v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        Self::fix_nulls(&mut v);
        serde_json::from_value(v).map_err(|e| e.to_string())
    }
}

fn null_to(v: &mut Value, key: &str, empty: Value) {
    if let Some(o) = v.as_object_mut()
        && let Some(x) = o.get_mut(key)
        && x.is_null()
    {
        *x = empty;
    }
}

impl FromWire for PeerDescription {
    fn fix_nulls(v: &mut Value) {
        for k in ["addresses", "cluster_peers", "cluster_peers_addresses"] {
            null_to(v, k, Value::Array(vec![]));
        }
        null_to(v, "ipfs", Value::Object(Default::default()));
        if let Some(ipfs) = v.get_mut("ipfs") {
            null_to(ipfs, "addresses", Value::Array(vec![]));
        }
    }
}

impl FromWire for GlobalPinInfo {
    fn fix_nulls(v: &mut Value) {
        null_to(v, "origins", Value::Array(vec![]));
        null_to(v, "name", Value::String(String::new()));
        null_to(v, "peer_map", Value::Object(Default::default()));
        if let Some(Value::Object(m)) = v.get_mut("peer_map") {
            for pi in m.values_mut() {
                if let Some(o) = pi.as_object_mut()
                    && o.get("ipfs_peer_addresses").is_some_and(Value::is_null)
                {
                    o.remove("ipfs_peer_addresses");
                }
            }
        }
    }
}

impl FromWire for GlobalRepoGc {
    fn fix_nulls(v: &mut Value) {
        null_to(v, "peer_map", Value::Object(Default::default()));
        if let Some(Value::Object(m)) = v.get_mut("peer_map") {
            for r in m.values_mut() {
                null_to(r, "keys", Value::Array(vec![]));
            }
        }
    }
}

impl FromWire for Pin {}
impl FromWire for AddedOutput {}
impl FromWire for Metric {}
impl FromWire for Version {}
impl FromWire for Alert {}
impl FromWire for ConnectGraph {}
impl FromWire for Token {}
impl FromWire for BandwidthByProtocol {}

/// Lists: a `null` list is empty.
impl<T: FromWire> FromWire for Vec<T> {
    fn fix_nulls(v: &mut Value) {
        if v.is_null() {
            *v = Value::Array(vec![]);
        }
        if let Value::Array(items) = v {
            items.iter_mut().for_each(T::fix_nulls);
        }
    }
}

impl FromWire for String {}
impl FromWire for Value {}

/// Splits a byte stream into concatenated JSON values (what Go's `json.Decoder` reads: NDJSON,
/// but any whitespace between values works), keeping scan state across chunks.
#[derive(Debug, Default)]
pub struct JsonStreamDecoder {
    buf: Vec<u8>,
    scan: usize,
    start: Option<usize>,
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl JsonStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete value, `Ok(None)` when more bytes are needed. Only objects and arrays
    /// are accepted at the top level (every stream of the API is made of objects).
    pub fn next_value(&mut self) -> Result<Option<Vec<u8>>, String> {
        while self.scan < self.buf.len() {
            let c = self.buf[self.scan];
            if self.start.is_none() {
                match c {
                    b' ' | b'\t' | b'\r' | b'\n' => {}
                    b'{' | b'[' => {
                        self.start = Some(self.scan);
                        self.depth = 1;
                    }
                    other => {
                        return Err(format!(
                            "invalid character '{}' looking for beginning of value",
                            other as char
                        ));
                    }
                }
                self.scan += 1;
                continue;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if c == b'\\' {
                    self.escaped = true;
                } else if c == b'"' {
                    self.in_string = false;
                }
            } else {
                match c {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth -= 1;
                        if self.depth == 0 {
                            let start = self.start.take().expect("value started");
                            let value = self.buf[start..=self.scan].to_vec();
                            self.buf.drain(..=self.scan);
                            self.scan = 0;
                            return Ok(Some(value));
                        }
                    }
                    _ => {}
                }
            }
            self.scan += 1;
        }
        Ok(None)
    }

    /// Checks that nothing but whitespace is left once the body has ended.
    pub fn finish(&self) -> Result<(), String> {
        if self.start.is_some()
            || self.buf[self.scan.min(self.buf.len())..]
                .iter()
                .any(|c| !c.is_ascii_whitespace())
        {
            return Err("unexpected EOF".into());
        }
        Ok(())
    }
}

/// Items of a streaming answer, decoded as they arrive.
pub struct ItemStream<T> {
    body: Option<reqwest::Body>,
    decoder: JsonStreamDecoder,
    trailer_errors: Vec<String>,
    done: bool,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for ItemStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemStream")
            .field("done", &self.done)
            .finish()
    }
}

impl<T: FromWire> ItemStream<T> {
    fn new(body: Option<reqwest::Body>) -> Self {
        ItemStream {
            body,
            decoder: JsonStreamDecoder::new(),
            trailer_errors: Vec::new(),
            done: false,
            _t: std::marker::PhantomData,
        }
    }

    /// The next item; after the last one, the `X-Stream-Error` trailer as an error if set.
    pub async fn next(&mut self) -> Option<Result<T, ClientError>> {
        if self.done {
            return None;
        }
        loop {
            match self.decoder.next_value() {
                Ok(Some(v)) => {
                    return Some(T::from_wire(&v).map_err(|e| self.fail(ClientError::Decode(e))));
                }
                Ok(None) => {}
                Err(e) => return Some(Err(self.fail(ClientError::Decode(e)))),
            }
            let Some(body) = self.body.as_mut() else {
                return self.end();
            };
            match body.frame().await {
                None => {
                    self.body = None;
                    return self.end();
                }
                Some(Err(e)) => {
                    let (message, timeout) = match transport_error("", "", &e) {
                        ClientError::Transport { message, timeout } => (message, timeout),
                        other => (other.to_string(), false),
                    };
                    return Some(Err(self.fail(ClientError::Stream { message, timeout })));
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.decoder.push(&data),
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            for v in trailers.get_all(STREAM_ERROR_TRAILER) {
                                let s = String::from_utf8_lossy(v.as_bytes()).into_owned();
                                if !s.is_empty() {
                                    self.trailer_errors.push(s);
                                }
                            }
                        }
                    }
                },
            }
        }
    }

    fn fail(&mut self, e: ClientError) -> ClientError {
        self.done = true;
        self.body = None;
        e
    }

    fn end(&mut self) -> Option<Result<T, ClientError>> {
        self.done = true;
        if let Err(e) = self.decoder.finish() {
            return Some(Err(ClientError::Decode(e)));
        }
        if self.trailer_errors.is_empty() {
            None
        } else {
            Some(Err(ClientError::Api {
                code: 500,
                message: self.trailer_errors.join("; "),
            }))
        }
    }

    /// Reads everything (stopping at the first error).
    pub async fn collect_all(mut self) -> Result<Vec<T>, ClientError> {
        let mut v = Vec::new();
        while let Some(item) = self.next().await {
            v.push(item?);
        }
        Ok(v)
    }

    /// As a `futures::Stream`.
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<T, ClientError>> {
        futures::stream::unfold(self, |mut s| async move { s.next().await.map(|i| (i, s)) })
    }
}

/// Go's `url.Error` text: `Get "http://…": <cause>`, timeouts worded as Go's client.
fn transport_error(method: &str, url: &str, e: &reqwest::Error) -> ClientError {
    let timeout = e.is_timeout();
    let cause = if timeout {
        if e.is_body() || e.is_decode() {
            "context deadline exceeded (Client.Timeout or context cancellation while reading body)"
                .to_string()
        } else {
            "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".to_string()
        }
    } else if let Some(dial) = e.is_connect().then(|| go_dial_error(url, e)).flatten() {
        dial
    } else {
        let mut parts = Vec::new();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = src {
            let t = s.to_string();
            if !parts.contains(&t) {
                parts.push(t);
            }
            src = s.source();
        }
        if parts.is_empty() {
            e.to_string()
        } else {
            parts.join(": ")
        }
    };
    let message = if method.is_empty() {
        cause
    } else {
        let op = format!("{}{}", &method[..1], method[1..].to_lowercase());
        format!("{op} \"{url}\": {cause}")
    };
    ClientError::Transport { message, timeout }
}

/// Go's wording of a refused or unreachable connection: `dial tcp 127.0.0.1:9094: connect:
/// connection refused`.
fn go_dial_error(url: &str, e: &reqwest::Error) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let host = u.host_str()?.to_string(); // IPv6 comes bracketed
    let port = u.port_or_known_default()?;
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            let why = match io.kind() {
                io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                io::ErrorKind::TimedOut => "i/o timeout".to_string(),
                _ => {
                    let t = io.to_string();
                    let t = t.split(" (os error").next().unwrap_or(&t).to_string();
                    let mut c = t.chars();
                    match c.next() {
                        Some(f) => f.to_lowercase().chain(c).collect(),
                        None => t,
                    }
                }
            };
            return Some(format!("dial tcp {host}:{port}: connect: {why}"));
        }
        src = s.source();
    }
    None
}

/// A source for `add`: a local path or an `http(s)://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddSource {
    Path(PathBuf),
    Url(String),
}

impl AddSource {
    /// As Go's ctl reads an argument: URLs with an `http`/`https` scheme, else a path.
    pub fn parse(arg: &str) -> AddSource {
        let lower = arg.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            AddSource::Url(arg.to_string())
        } else {
            AddSource::Path(PathBuf::from(arg))
        }
    }
}

/// One entry of the upload, in the order go-ipfs-files' `MultiFileReader` writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum UploadNode {
    File {
        name: String,
        path: PathBuf,
        meta: FileMeta,
    },
    Dir {
        name: String,
        path: PathBuf,
        meta: FileMeta,
    },
    Symlink {
        name: String,
        target: String,
        meta: FileMeta,
    },
    Web {
        name: String,
        url: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileMeta {
    /// Go `os.FileMode` bits.
    mode: u32,
    mtime_secs: i64,
    mtime_nsecs: i64,
}

const GO_MODE_DIR: u32 = 1 << 31;
const GO_MODE_SYMLINK: u32 = 1 << 27;
const GO_MODE_SETUID: u32 = 1 << 23;
const GO_MODE_SETGID: u32 = 1 << 22;
const GO_MODE_STICKY: u32 = 1 << 20;

fn file_meta(md: &fs::Metadata) -> FileMeta {
    let unix = md.permissions().mode();
    let mut mode = unix & 0o777;
    if md.is_dir() {
        mode |= GO_MODE_DIR;
    }
    if md.file_type().is_symlink() {
        mode |= GO_MODE_SYMLINK;
    }
    if unix & 0o4000 != 0 {
        mode |= GO_MODE_SETUID;
    }
    if unix & 0o2000 != 0 {
        mode |= GO_MODE_SETGID;
    }
    if unix & 0o1000 != 0 {
        mode |= GO_MODE_STICKY;
    }
    FileMeta {
        mode,
        mtime_secs: md.mtime(),
        mtime_nsecs: md.mtime_nsec(),
    }
}

/// Go's wording of common I/O errors (`lstat x: no such file or directory`).
fn go_io_error(op: &str, path: &Path, e: &io::Error) -> ClientError {
    let why = match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    ClientError::Local(format!("{op} {}: {why}", path.display()))
}

/// Go's `path.Clean` for slash-separated paths.
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn base_name(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() { ".".into() } else { "/".into() };
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// A multipart upload of files and directories (go-ipfs-files' `MultiFileReader` in form mode):
/// checked eagerly (as Go's client does before sending), streamed lazily.
#[derive(Debug, Clone)]
pub struct MultipartUpload {
    boundary: String,
    roots: Vec<UploadNode>,
    hidden: bool,
    total_file_bytes: u64,
}

impl MultipartUpload {
    /// Checks the sources like Go's `Add`: a directory needs `recursive`; `nocopy` is for URLs
    /// only; `.` is the working directory with symlinks resolved.
    pub fn new(sources: &[AddSource], params: &AddParams) -> Result<MultipartUpload, ClientError> {
        let mut roots = Vec::new();
        let mut total = 0u64;
        for src in sources {
            match src {
                AddSource::Url(u) => {
                    let parsed = reqwest::Url::parse(u)
                        .map_err(|e| ClientError::Local(format!("error parsing path: {e}")))?;
                    roots.push(UploadNode::Web {
                        name: base_name(parsed.path()),
                        url: u.clone(),
                    });
                }
                AddSource::Path(p) => {
                    if params.no_copy {
                        return Err(ClientError::Local(
                            "nocopy option is only valid for URLs".into(),
                        ));
                    }
                    let mut fpath = p.to_string_lossy().into_owned();
                    if fpath == "." {
                        let cwd = std::env::current_dir()
                            .and_then(fs::canonicalize)
                            .map_err(|e| ClientError::Local(e.to_string()))?;
                        fpath = cwd.to_string_lossy().into_owned();
                    }
                    let fpath = clean_path(&fpath);
                    let path = PathBuf::from(&fpath);
                    let md =
                        fs::symlink_metadata(&path).map_err(|e| go_io_error("lstat", &path, &e))?;
                    if md.is_dir() && !params.recursive {
                        return Err(ClientError::Local(format!(
                            "{fpath} is a directory, but Recursive option is not set"
                        )));
                    }
                    let name = base_name(&fpath);
                    let node = make_node(name, path.clone(), &md)?;
                    total += tree_size(&node, params.hidden);
                    roots.push(node);
                }
            }
        }
        let mut raw = [0u8; 30];
        rand::Rng::fill(&mut rand::thread_rng(), &mut raw);
        let boundary = raw.iter().map(|b| format!("{b:02x}")).collect();
        Ok(MultipartUpload {
            boundary,
            roots,
            hidden: params.hidden,
            total_file_bytes: total,
        })
    }

    /// Uses a fixed boundary (tests).
    pub fn with_boundary(mut self, boundary: &str) -> Self {
        self.boundary = boundary.to_string();
        self
    }

    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// `multipart/form-data; boundary=…`.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// Sum of the sizes of local files to send (for a progress bar; URLs count 0).
    pub fn total_file_bytes(&self) -> u64 {
        self.total_file_bytes
    }

    /// Writes the whole body into `out` synchronously (chunks of at most 256 KiB); `out`
    /// returning `false` stops early. Web files are fetched through `fetch_web`.
    fn write_body(
        &self,
        out: &mut dyn FnMut(Bytes) -> bool,
        fetch_web: &mut WebFetcher<'_>,
    ) -> io::Result<()> {
        let mut first = true;
        // stack of (directory part name, remaining entries)
        let mut stack: Vec<(String, std::vec::IntoIter<UploadNode>)> =
            vec![(String::new(), self.roots.clone().into_iter())];
        while let Some((prefix, iter)) = stack.last_mut() {
            let Some(node) = iter.next() else {
                stack.pop();
                continue;
            };
            let prefix = prefix.clone();
            let join = |n: &str| {
                if prefix.is_empty() {
                    n.to_string()
                } else {
                    format!("{prefix}/{n}")
                }
            };
            let mut head = String::new();
            head.push_str(if first { "--" } else { "\r\n--" });
            first = false;
            head.push_str(&self.boundary);
            head.push_str("\r\n");
            let (name, meta, ctype, abspath) = match &node {
                UploadNode::File { name, path, meta } => {
                    let abs = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                    (
                        join(name),
                        Some(*meta),
                        "application/octet-stream",
                        Some(abs.to_string_lossy().into_owned()),
                    )
                }
                UploadNode::Dir { name, meta, .. } => {
                    (join(name), Some(*meta), "application/x-directory", None)
                }
                UploadNode::Symlink { name, meta, .. } => {
                    (join(name), Some(*meta), "application/symlink", None)
                }
                UploadNode::Web { name, url } => (
                    join(name),
                    None,
                    "application/octet-stream",
                    Some(url.clone()),
                ),
            };
            // Go's multipart writer sorts header keys.
            if let Some(abs) = abspath {
                head.push_str(&format!("Abspath-Encoded: {}\r\n", query_escape(&abs)));
            }
            head.push_str(&format!(
                "Content-Disposition: {}\r\n",
                content_disposition(&name, meta)
            ));
            head.push_str(&format!("Content-Type: {ctype}\r\n\r\n"));
            if !out(Bytes::from(head)) {
                return Ok(());
            }
            match node {
                UploadNode::File { path, .. } => {
                    let mut f = fs::File::open(&path)?;
                    let mut buf = vec![0u8; 256 * 1024];
                    loop {
                        let n = f.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        if !out(Bytes::copy_from_slice(&buf[..n])) {
                            return Ok(());
                        }
                    }
                }
                UploadNode::Symlink { target, .. } => {
                    if !out(Bytes::from(target)) {
                        return Ok(());
                    }
                }
                UploadNode::Web { url, .. } => fetch_web(&url, out)?,
                UploadNode::Dir { path, name, .. } => {
                    let children = read_dir_nodes(&path, self.hidden)?;
                    let full = join(&name);
                    stack.push((full, children.into_iter()));
                }
            }
        }
        let tail = if first {
            format!("--{}--\r\n", self.boundary)
        } else {
            format!("\r\n--{}--\r\n", self.boundary)
        };
        out(Bytes::from(tail));
        Ok(())
    }

    /// The whole body in memory (tests, small uploads; URLs are not fetched).
    pub fn to_bytes(&self) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        self.write_body(
            &mut |b| {
                v.extend_from_slice(&b);
                true
            },
            &mut |_, _| Err(io::Error::other("web files are not fetched here")),
        )?;
        Ok(v)
    }

    /// A streaming request body: a blocking thread walks the tree and reads files; `sent`
    /// counts body bytes as the HTTP stack takes them.
    fn into_body(self, sent: Option<Arc<AtomicU64>>) -> reqwest::Body {
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(8);
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let web = reqwest::Client::new();
            let tx2 = tx.clone();
            let mut send = |b: Bytes| tx2.blocking_send(Ok(b)).is_ok();
            let mut fetch = |url: &str, out: &mut dyn FnMut(Bytes) -> bool| -> io::Result<()> {
                handle.block_on(async {
                    let mut resp = web.get(url).send().await.map_err(io::Error::other)?;
                    let st = resp.status().as_u16();
                    if !(200..=299).contains(&st) {
                        return Err(io::Error::other(format!(
                            "got non-2XX status code {st}: {url}"
                        )));
                    }
                    while let Some(chunk) = resp.chunk().await.map_err(io::Error::other)? {
                        if !out(chunk) {
                            break;
                        }
                    }
                    Ok(())
                })
            };
            if let Err(e) = self.write_body(&mut send, &mut fetch) {
                let _ = tx.blocking_send(Err(e));
            }
        });
        let stream = futures::stream::unfold(rx, move |mut rx| {
            let sent = sent.clone();
            async move {
                let item = rx.recv().await?;
                if let (Ok(b), Some(sent)) = (&item, &sent) {
                    sent.fetch_add(b.len() as u64, Ordering::Relaxed);
                }
                Some((item, rx))
            }
        });
        reqwest::Body::wrap_stream(stream)
    }
}

/// Streams a URL's body into a part (`out` returns `false` to stop).
type WebFetcher<'a> = dyn FnMut(&str, &mut dyn FnMut(Bytes) -> bool) -> io::Result<()> + 'a;

fn content_disposition(name: &str, meta: Option<FileMeta>) -> String {
    let mut params: Vec<(String, String)> = Vec::new();
    if let Some(m) = meta {
        if m.mode != 0 {
            params.push(("mode".into(), format!("0{:o}", m.mode)));
        }
        // Go checks `!mtime.IsZero()`; a file's mtime is never Go's zero time.
        params.push(("mtime".into(), m.mtime_secs.to_string()));
        if m.mtime_nsecs > 0 {
            params.push(("mtime-nsecs".into(), m.mtime_nsecs.to_string()));
        }
    }
    let mut s = String::from("form-data; name=\"file");
    if !params.is_empty() {
        let q: BTreeMap<String, String> = params.into_iter().collect();
        s.push('?');
        s.push_str(&encode_query(&q));
    }
    s.push('"');
    s.push_str(&format!("; filename=\"{}\"", query_escape(name)));
    s
}

fn make_node(name: String, path: PathBuf, md: &fs::Metadata) -> Result<UploadNode, ClientError> {
    let meta = file_meta(md);
    let ft = md.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(&path).map_err(|e| go_io_error("readlink", &path, &e))?;
        Ok(UploadNode::Symlink {
            name,
            target: target.to_string_lossy().into_owned(),
            meta,
        })
    } else if ft.is_dir() {
        Ok(UploadNode::Dir { name, path, meta })
    } else if ft.is_file() {
        Ok(UploadNode::File { name, path, meta })
    } else {
        Err(ClientError::Local(format!(
            "unrecognized file type for {}",
            path.display()
        )))
    }
}

/// A directory's entries as go-ipfs-files lists them: sorted by name, hidden ones (`.x`)
/// skipped unless asked for.
fn read_dir_nodes(dir: &Path, hidden: bool) -> io::Result<Vec<UploadNode>> {
    let mut entries: Vec<(String, PathBuf)> = fs::read_dir(dir)?
        .map(|e| e.map(|e| (e.file_name().to_string_lossy().into_owned(), e.path())))
        .collect::<io::Result<_>>()?;
    entries.sort();
    let mut out = Vec::new();
    for (name, path) in entries {
        if !hidden && name.starts_with('.') {
            continue;
        }
        let md = fs::symlink_metadata(&path)?;
        out.push(make_node(name, path, &md).map_err(|e| io::Error::other(e.to_string()))?);
    }
    Ok(out)
}

fn tree_size(node: &UploadNode, hidden: bool) -> u64 {
    match node {
        UploadNode::File { path, .. } => fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        UploadNode::Dir { path, .. } => read_dir_nodes(path, hidden)
            .map(|v| v.iter().map(|n| tree_size(n, hidden)).sum())
            .unwrap_or(0),
        _ => 0,
    }
}

/// Checks an IPFS path as boxo's `path.NewPath` (`/ipfs/<cid>…`, `/ipld/<cid>…`, `/ipns/<name>…`),
/// trying `/ipfs/<arg>` when the argument alone is not a path; returns the cleaned path.
pub fn ipfs_path(arg: &str) -> Result<String, ClientError> {
    fn parse(s: &str) -> Result<String, String> {
        let cleaned = clean_path(s);
        let segs: Vec<&str> = cleaned
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        if !s.starts_with('/') || segs.len() < 2 {
            return Err(format!(
                "invalid path {s:?}: path does not have enough components"
            ));
        }
        let mut out = format!("/{}", segs.join("/"));
        if s.ends_with('/') {
            out.push('/');
        }
        match segs[0] {
            "ipfs" | "ipld" => {
                Cid::try_from(segs[1]).map_err(|e| format!("invalid path {s:?}: {e}"))?;
                Ok(out)
            }
            "ipns" => Ok(out),
            ns => Err(format!("invalid path {s:?}: unknown namespace: {ns:?}")),
        }
    }
    parse(arg)
        .or_else(|_| parse(&format!("/ipfs/{arg}")))
        .map_err(ClientError::Local)
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

enum ReqBody {
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
            message: e,
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

    /// `GET /id`: the contacted peer.
    pub async fn id(&self) -> Result<PeerDescription, ClientError> {
        self.call(reqwest::Method::GET, "/id").await
    }

    /// `GET /version`.
    pub async fn version(&self) -> Result<Version, ClientError> {
        self.call(reqwest::Method::GET, "/version").await
    }

    /// `GET /peers` (stream): every cluster peer; unreachable ones carry `error`.
    pub async fn peers(&self) -> Result<ItemStream<PeerDescription>, ClientError> {
        self.stream(reqwest::Method::GET, "/peers", None).await
    }

    /// `POST /peers` with `{"peer_id": …}`.
    pub async fn peer_add(&self, pid: &PeerId) -> Result<PeerDescription, ClientError> {
        let mut body = serde_json::to_vec(&serde_json::json!({ "peer_id": pid.to_base58() }))
            .expect("serializable");
        body.push(b'\n');
        let resp = self
            .send(reqwest::Method::POST, "/peers", &ReqBody::Json(body), None)
            .await?;
        Self::finish(resp)
            .await?
            .ok_or_else(|| ClientError::Decode("empty answer (no content) from /peers".into()))
    }

    /// `DELETE /peers/{peer}`.
    pub async fn peer_rm(&self, pid: &PeerId) -> Result<(), ClientError> {
        self.call_empty(
            reqwest::Method::DELETE,
            &format!("/peers/{}", pid.to_base58()),
        )
        .await
    }

    /// `POST /add` (stream of [`AddedOutput`]): uploads `upload` with `params`; `sent`, when
    /// given, counts body bytes sent. With several API addresses the upload is retried on the
    /// next one only if the request could not be made.
    pub async fn add(
        &self,
        upload: &MultipartUpload,
        params: &AddParams,
        sent: Option<Arc<AtomicU64>>,
    ) -> Result<ItemStream<AddedOutput>, ClientError> {
        let path = format!("/add?{}", params.to_query());
        self.stream(reqwest::Method::POST, &path, Some((upload, sent)))
            .await
    }

    /// `GET /allocations?filter=…` (stream): the shared pinset.
    pub async fn allocations(&self, filter: PinTypeFilter) -> Result<ItemStream<Pin>, ClientError> {
        let path = format!("/allocations?filter={}", query_escape(&filter.to_param()));
        self.stream(reqwest::Method::GET, &path, None).await
    }

    /// `GET /allocations/{cid}`.
    pub async fn allocation(&self, cid: &Cid) -> Result<Pin, ClientError> {
        self.call(reqwest::Method::GET, &format!("/allocations/{cid}"))
            .await
    }

    /// `GET /pins/{cid}?local=…`.
    pub async fn status(&self, cid: &Cid, local: bool) -> Result<GlobalPinInfo, ClientError> {
        self.call(reqwest::Method::GET, &format!("/pins/{cid}?local={local}"))
            .await
    }

    /// `GET /pins?local=…&filter=…&cids=…` (stream). `filter` is a comma-separated list of
    /// tracker status names (empty: all); `cids` restricts to those CIDs.
    pub async fn status_all(
        &self,
        filter: &str,
        cids: &[Cid],
        local: bool,
    ) -> Result<ItemStream<GlobalPinInfo>, ClientError> {
        let filter: String = filter.chars().filter(|c| *c != ' ').collect();
        let cids = cids
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let path = format!(
            "/pins?local={local}&filter={}&cids={cids}",
            query_escape(&filter)
        );
        self.stream(reqwest::Method::GET, &path, None).await
    }

    /// `POST /pins/{cid}/recover?local=…`.
    pub async fn recover(&self, cid: &Cid, local: bool) -> Result<GlobalPinInfo, ClientError> {
        self.call(
            reqwest::Method::POST,
            &format!("/pins/{cid}/recover?local={local}"),
        )
        .await
    }

    /// `POST /pins/recover?local=…` (stream).
    pub async fn recover_all(&self, local: bool) -> Result<ItemStream<GlobalPinInfo>, ClientError> {
        self.stream(
            reqwest::Method::POST,
            &format!("/pins/recover?local={local}"),
            None,
        )
        .await
    }

    /// `POST /pins/{cid}?<options>`.
    pub async fn pin(&self, cid: &Cid, opts: &PinOptions) -> Result<Pin, ClientError> {
        let path = format!("/pins/{cid}?{}", pin_options_to_query(opts));
        self.call(reqwest::Method::POST, &path).await
    }

    /// `DELETE /pins/{cid}`.
    pub async fn unpin(&self, cid: &Cid) -> Result<Pin, ClientError> {
        self.call(reqwest::Method::DELETE, &format!("/pins/{cid}"))
            .await
    }

    /// `POST /pins/{ipfs|ipns|ipld}/…?<options>`; a bare CID is taken as `/ipfs/<cid>`.
    pub async fn pin_path(&self, path: &str, opts: &PinOptions) -> Result<Pin, ClientError> {
        let p = ipfs_path(path)?;
        let path = format!("/pins{p}?{}", pin_options_to_query(opts));
        self.call(reqwest::Method::POST, &path).await
    }

    /// `DELETE /pins/{ipfs|ipns|ipld}/…`.
    pub async fn unpin_path(&self, path: &str) -> Result<Pin, ClientError> {
        let p = ipfs_path(path)?;
        self.call(reqwest::Method::DELETE, &format!("/pins{p}"))
            .await
    }

    /// `POST /ipfs/gc?local=…`.
    pub async fn repo_gc(&self, local: bool) -> Result<GlobalRepoGc, ClientError> {
        self.call(reqwest::Method::POST, &format!("/ipfs/gc?local={local}"))
            .await
    }

    /// `GET /monitor/metrics`: metric names.
    pub async fn metric_names(&self) -> Result<Vec<String>, ClientError> {
        self.call(reqwest::Method::GET, "/monitor/metrics").await
    }

    /// `GET /monitor/metrics/{name}`: the latest metric of each peer.
    pub async fn metrics(&self, name: &str) -> Result<Vec<Metric>, ClientError> {
        if name.is_empty() {
            return Err(ClientError::Local("bad metric name".into()));
        }
        self.call(
            reqwest::Method::GET,
            &format!("/monitor/metrics/{}", query_escape(name)),
        )
        .await
    }

    /// `GET /health/alerts`.
    pub async fn alerts(&self) -> Result<Vec<Alert>, ClientError> {
        self.call(reqwest::Method::GET, "/health/alerts").await
    }

    /// `GET /health/bandwidth`.
    pub async fn bandwidth(&self) -> Result<BandwidthByProtocol, ClientError> {
        self.call(reqwest::Method::GET, "/health/bandwidth").await
    }

    /// `GET /health/graph`.
    pub async fn health_graph(&self) -> Result<ConnectGraph, ClientError> {
        self.call(reqwest::Method::GET, "/health/graph").await
    }

    /// `GET /health` (204 when the peer is up).
    pub async fn health(&self) -> Result<(), ClientError> {
        self.call_empty(reqwest::Method::GET, "/health").await
    }

    /// `POST /token`: a bearer token for the authenticated user.
    pub async fn token(&self) -> Result<Token, ClientError> {
        self.call(reqwest::Method::POST, "/token").await
    }
}

/// Go's reading of an error answer: a JSON object gives its `code`/`message` (missing ones
/// zero), anything else the HTTP status and the body text.
fn api_error(status: u16, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => ClientError::Api {
            code: o.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: o
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        },
        Ok(Value::Null) => ClientError::Api {
            code: 0,
            message: String::new(),
        },
        _ => ClientError::Api {
            code: status as i64,
            message: String::from_utf8_lossy(body).into_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ma(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    #[test]
    fn multiaddr_to_url() {
        assert_eq!(
            multiaddr_to_base_url(&ma("/ip4/127.0.0.1/tcp/9094"), false).unwrap(),
            "http://127.0.0.1:9094"
        );
        assert_eq!(
            multiaddr_to_base_url(&ma("/ip6/::1/tcp/9094"), true).unwrap(),
            "https://[::1]:9094"
        );
        for d in ["dns", "dns4", "dns6"] {
            assert_eq!(
                multiaddr_to_base_url(&ma(&format!("/{d}/example.com/tcp/443")), true).unwrap(),
                "https://example.com:443"
            );
        }
        let e = multiaddr_to_base_url(
            &ma("/ip4/1.2.3.4/tcp/9096/p2p/12D3KooWJxNtxhvCnBq8PZX7C93ZNFzGsvKXg4VnXMi9Hso5mCKE"),
            false,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("REST over libp2p is not available yet"),
            "{e}"
        );
        assert!(
            multiaddr_to_base_url(&ma("/dnsaddr/example.com"), false)
                .unwrap_err()
                .to_string()
                .contains("libp2p")
        );
        assert!(multiaddr_to_base_url(&ma("/ip4/1.2.3.4/udp/1"), false).is_err());
        assert!(multiaddr_to_base_url(&ma("/ip4/1.2.3.4"), false).is_err());
        assert!(multiaddr_to_base_url(&ma("/unix/tmp%2Fsock"), false).is_err());
    }

    #[test]
    fn decoder_splits_values_across_chunks() {
        let input = b"{\"a\":\"}{\\\"\"}\n{\"b\":[1,{\"c\":2}]}\n  \n{\"d\":3}\n";
        // every split point, including inside strings and escapes
        for cut in 0..input.len() {
            let mut d = JsonStreamDecoder::new();
            let mut got = Vec::new();
            d.push(&input[..cut]);
            while let Some(v) = d.next_value().unwrap() {
                got.push(v);
            }
            d.push(&input[cut..]);
            while let Some(v) = d.next_value().unwrap() {
                got.push(v);
            }
            d.finish().unwrap();
            let got: Vec<String> = got
                .iter()
                .map(|v| String::from_utf8_lossy(v).into())
                .collect();
            assert_eq!(
                got,
                vec![r#"{"a":"}{\""}"#, r#"{"b":[1,{"c":2}]}"#, r#"{"d":3}"#],
                "cut at {cut}"
            );
        }
        // byte by byte, values without separators
        let mut d = JsonStreamDecoder::new();
        let mut n = 0;
        for b in b"{}{\"x\":1}[]" {
            d.push(&[*b]);
            while d.next_value().unwrap().is_some() {
                n += 1;
            }
        }
        assert_eq!(n, 3);
        let mut d = JsonStreamDecoder::new();
        d.push(b"{\"a\":1");
        assert!(d.next_value().unwrap().is_none());
        assert_eq!(d.finish().unwrap_err(), "unexpected EOF");
        let mut d = JsonStreamDecoder::new();
        d.push(b" x");
        assert!(
            d.next_value()
                .unwrap_err()
                .contains("invalid character 'x'")
        );
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            api_error(404, br#"{"code":404,"message":"not found"}"#),
            ClientError::Api {
                code: 404,
                message: "not found".into()
            }
        );
        assert_eq!(
            api_error(405, b""),
            ClientError::Api {
                code: 405,
                message: "".into()
            }
        );
        assert_eq!(
            api_error(502, b"Bad Gateway"),
            ClientError::Api {
                code: 502,
                message: "Bad Gateway".into()
            }
        );
        assert_eq!(
            ClientError::Api {
                code: 500,
                message: "boom".into()
            }
            .to_string(),
            "boom (500)"
        );
    }

    #[test]
    fn go_nulls_are_accepted() {
        let id = br#"{"id":"QmX","addresses":null,"cluster_peers":null,"cluster_peers_addresses":null,"version":"","commit":"","rpc_protocol_version":"","error":"dial backoff","ipfs":{"addresses":null,"error":""},"peername":""}"#;
        let p = PeerDescription::from_wire(id).unwrap();
        assert_eq!(p.error, "dial backoff");
        assert!(p.addresses.is_empty());
        let gpi = br#"{"cid":"QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY","name":"","allocations":null,"origins":null,"created":"0001-01-01T00:00:00Z","metadata":null,"peer_map":null}"#;
        let g = GlobalPinInfo::from_wire(gpi).unwrap();
        assert!(g.peer_map.is_empty() && g.origins.is_empty());
        let gc = br#"{"peer_map":{"QmA":{"peer":"QmA","peername":"a","keys":null}}}"#;
        assert!(
            GlobalRepoGc::from_wire(gc).unwrap().peer_map["QmA"]
                .keys
                .is_empty()
        );
        assert!(Vec::<Alert>::from_wire(b"null").unwrap().is_empty());
        let g = ConnectGraph::from_wire(br#"{"cluster_id":"a","ipfs_links":{"x":null},"cluster_links":null,"id_to_peername":null,"cluster_trust_links":null,"cluster_to_ipfs":null}"#).unwrap();
        assert_eq!(g.ipfs_links["x"], Vec::<String>::new());
    }

    #[test]
    fn queries_like_go() {
        assert_eq!(query_escape("a b/c~*"), "a+b%2Fc~%2A");
        let mut po = PinOptions {
            name: "my pin".into(),
            replication_factor_min: 1,
            replication_factor_max: 2,
            ..Default::default()
        };
        po.metadata = Some([("k".to_string(), "v".to_string())].into_iter().collect());
        assert_eq!(
            pin_options_to_query(&po),
            "meta-k=v&mode=recursive&name=my+pin&replication-max=2&replication-min=1&shard-size=0&user-allocations="
        );
        assert_eq!(
            AddParams::default().to_query(),
            "chunker=size-262144&cid-version=0&format=unixfs&hash=sha2-256&hidden=false&layout=&local=false\
             &mode=recursive&name=&no-pin=false&nocopy=false&progress=false&raw-leaves=false&recursive=false\
             &replication-max=0&replication-min=0&shard=false&shard-size=104857600&stream-channels=true\
             &user-allocations=&wrap-with-directory=false"
        );
        assert_eq!(PinTypeFilter::parse("all").to_param(), "all");
        assert_eq!(PinTypeFilter::parse("").to_param(), "all");
        assert_eq!(
            PinTypeFilter::parse("shard-pin,pin").to_param(),
            "pin,shard-pin"
        );
        assert_eq!(PinTypeFilter::parse("nonsense").to_param(), "");
    }

    #[test]
    fn ipfs_paths_like_boxo() {
        let c = "QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY";
        assert_eq!(ipfs_path(c).unwrap(), format!("/ipfs/{c}"));
        assert_eq!(
            ipfs_path(&format!("/ipfs/{c}/a/../b/")).unwrap(),
            format!("/ipfs/{c}/b/")
        );
        assert_eq!(ipfs_path("/ipns/example.com").unwrap(), "/ipns/example.com");
        assert!(ipfs_path("nonsense").is_err());
        assert!(ipfs_path("").is_err());
        assert_eq!(clean_path("a//b/./../c"), "a/c");
        assert_eq!(clean_path("/.."), "/");
        assert_eq!(clean_path("../x"), "../x");
        assert_eq!(base_name("/a/b/"), "b");
    }

    #[test]
    fn multipart_like_go_ipfs_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("d");
        fs::create_dir(&root).unwrap();
        fs::write(root.join("b.txt"), "B").unwrap();
        fs::write(root.join("a b.txt"), "AA").unwrap();
        fs::write(root.join(".hidden"), "H").unwrap();
        fs::create_dir(root.join("sub")).unwrap();
        fs::write(root.join("sub/c"), "").unwrap();
        std::os::unix::fs::symlink("b.txt", root.join("ln")).unwrap();
        for p in [&root, &root.join("sub")] {
            fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        for f in ["b.txt", "a b.txt", "sub/c"] {
            fs::set_permissions(root.join(f), fs::Permissions::from_mode(0o644)).unwrap();
        }
        let params = AddParams {
            recursive: true,
            ..Default::default()
        };
        let up = MultipartUpload::new(&[AddSource::Path(root.clone())], &params)
            .unwrap()
            .with_boundary("BND");
        assert_eq!(up.total_file_bytes(), 3);
        let body = String::from_utf8(up.to_bytes().unwrap()).unwrap();
        let mt = |p: &Path| {
            let m = fs::symlink_metadata(p).unwrap();
            if m.mtime_nsec() > 0 {
                format!("mtime={}&mtime-nsecs={}", m.mtime(), m.mtime_nsec())
            } else {
                format!("mtime={}", m.mtime())
            }
        };
        let abs = |p: &Path| query_escape(&p.to_string_lossy());
        let expected = format!(
            "--BND\r\nContent-Disposition: form-data; name=\"file?mode=020000000755&{}\"; filename=\"d\"\r\n\
             Content-Type: application/x-directory\r\n\r\n\
             \r\n--BND\r\nAbspath-Encoded: {}\r\nContent-Disposition: form-data; name=\"file?mode=0644&{}\"; filename=\"d%2Fa+b.txt\"\r\n\
             Content-Type: application/octet-stream\r\n\r\nAA\
             \r\n--BND\r\nAbspath-Encoded: {}\r\nContent-Disposition: form-data; name=\"file?mode=0644&{}\"; filename=\"d%2Fb.txt\"\r\n\
             Content-Type: application/octet-stream\r\n\r\nB\
             \r\n--BND\r\nContent-Disposition: form-data; name=\"file?mode=01000000777&{}\"; filename=\"d%2Fln\"\r\n\
             Content-Type: application/symlink\r\n\r\nb.txt\
             \r\n--BND\r\nContent-Disposition: form-data; name=\"file?mode=020000000755&{}\"; filename=\"d%2Fsub\"\r\n\
             Content-Type: application/x-directory\r\n\r\n\
             \r\n--BND\r\nAbspath-Encoded: {}\r\nContent-Disposition: form-data; name=\"file?mode=0644&{}\"; filename=\"d%2Fsub%2Fc\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n\
             \r\n--BND--\r\n",
            mt(&root),
            abs(&root.join("a b.txt")),
            mt(&root.join("a b.txt")),
            abs(&root.join("b.txt")),
            mt(&root.join("b.txt")),
            mt(&root.join("ln")),
            mt(&root.join("sub")),
            abs(&root.join("sub/c")),
            mt(&root.join("sub/c")),
        );
        assert_eq!(body, expected);

        // hidden files only with `hidden`
        let up = MultipartUpload::new(
            &[AddSource::Path(root.clone())],
            &AddParams {
                hidden: true,
                ..params.clone()
            },
        )
        .unwrap();
        assert!(
            String::from_utf8(up.to_bytes().unwrap())
                .unwrap()
                .contains("d%2F.hidden")
        );

        // errors checked before sending, worded as Go
        let e = MultipartUpload::new(&[AddSource::Path(root.clone())], &AddParams::default())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{} is a directory, but Recursive option is not set",
                root.display()
            )
        );
        let e = MultipartUpload::new(&[AddSource::Path("nope/x".into())], &params).unwrap_err();
        assert_eq!(e.to_string(), "lstat nope/x: no such file or directory");
        let e = MultipartUpload::new(
            &[AddSource::Path(root.join("b.txt"))],
            &AddParams {
                no_copy: true,
                ..params
            },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "nocopy option is only valid for URLs");
        assert_eq!(
            AddSource::parse("https://example.com/x"),
            AddSource::Url("https://example.com/x".into())
        );
    }
}
