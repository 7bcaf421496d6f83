//! The `api` section: `api.restapi` and `api.pinsvcapi` (one [`RestApiConfig`] shape, the
//! same HTTP keys, defaults differing only by port: 9094 and 9097) and `api.ipfsproxy`
//! ([`IpfsProxyConfig`], port 9095, pointed at the IPFS API on 5001). As in Go, each API runs
//! iff its section is present, and the sections are written in Go's sorted order.
//!
//! Checks are Go's `Validate()`: positive timeouts, `max_header_bytes` at least
//! [`MIN_MAX_HEADER_BYTES`], TLS files resolved against the configuration folder. Basic-auth
//! credentials are secrets (masked in every display form).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use libp2p_identity::PeerId;
use multiaddr::Multiaddr;
use serde::Serialize;

use super::checks::{in_folder, is_false, ma, max_header_bytes};
use super::error::ConfigError;
use super::identity::PrivateKey;
use super::json::{FromJson, Obj, ser};
use super::secret::{self, BasicAuthCredentials};
use crate::gocompat::duration::serde_go;

/// The `api` section: each API runs iff its section is present. Written in Go's (sorted) order.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ApiConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipfsproxy: Option<IpfsProxyConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinsvcapi: Option<RestApiConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restapi: Option<RestApiConfig>,
}

/// `api.restapi` and `api.pinsvcapi` (`api/common/config.go`): the same keys, other port.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestApiConfig {
    #[serde(serialize_with = "ser::maddrs_strings")]
    pub http_listen_multiaddress: Vec<Multiaddr>,
    /// Relative to the configuration folder; with `ssl_key_file`, enables TLS.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ssl_cert_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ssl_key_file: String,
    #[serde(with = "serde_go")]
    pub read_timeout: Duration,
    #[serde(with = "serde_go")]
    pub read_header_timeout: Duration,
    #[serde(with = "serde_go")]
    pub write_timeout: Duration,
    #[serde(with = "serde_go")]
    pub idle_timeout: Duration,
    /// At least 4096.
    pub max_header_bytes: usize,
    /// A dedicated libp2p host for the API (all three of these, or none).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "ser::maddrs_strings"
    )]
    pub libp2p_listen_multiaddress: Vec<Multiaddr>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser::opt_peer"
    )]
    pub id: Option<PeerId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PrivateKey>,
    /// `None` (`null`) = no authentication; never an empty map.
    #[serde(serialize_with = "secret::credentials_serde::serialize")]
    pub basic_auth_credentials: Option<BasicAuthCredentials>,
    /// "" = log through the logger; else an Apache Common Log file (relative to the folder).
    pub http_log_file: String,
    /// Added to every response.
    pub headers: BTreeMap<String, Vec<String>>,
    pub cors_allowed_origins: Vec<String>,
    pub cors_allowed_methods: Vec<String>,
    pub cors_allowed_headers: Vec<String>,
    pub cors_exposed_headers: Vec<String>,
    pub cors_allow_credentials: bool,
    #[serde(with = "serde_go")]
    pub cors_max_age: Duration,
}

pub const DEFAULT_RESTAPI_LISTEN: &str = "/ip4/127.0.0.1/tcp/9094";
pub const DEFAULT_PINSVCAPI_LISTEN: &str = "/ip4/127.0.0.1/tcp/9097";
pub const MIN_MAX_HEADER_BYTES: usize = 4096;

impl RestApiConfig {
    /// `api.restapi` defaults (listening on 127.0.0.1:9094).
    pub fn restapi_default() -> RestApiConfig {
        RestApiConfig::with_listen(DEFAULT_RESTAPI_LISTEN)
    }

    /// `api.pinsvcapi` defaults (listening on 127.0.0.1:9097).
    pub fn pinsvcapi_default() -> RestApiConfig {
        RestApiConfig::with_listen(DEFAULT_PINSVCAPI_LISTEN)
    }

    fn with_listen(addr: &str) -> RestApiConfig {
        RestApiConfig {
            http_listen_multiaddress: vec![ma(addr)],
            ssl_cert_file: String::new(),
            ssl_key_file: String::new(),
            read_timeout: Duration::ZERO,
            read_header_timeout: Duration::from_secs(5),
            write_timeout: Duration::ZERO,
            idle_timeout: Duration::from_secs(120),
            max_header_bytes: MIN_MAX_HEADER_BYTES,
            libp2p_listen_multiaddress: vec![],
            id: None,
            private_key: None,
            basic_auth_credentials: None,
            http_log_file: String::new(),
            headers: BTreeMap::new(),
            cors_allowed_origins: vec!["*".into()],
            cors_allowed_methods: vec!["GET".into()],
            cors_allowed_headers: vec![],
            cors_exposed_headers: [
                "Content-Type",
                "X-Stream-Output",
                "X-Chunked-Output",
                "X-Content-Length",
            ]
            .map(String::from)
            .to_vec(),
            cors_allow_credentials: true,
            cors_max_age: Duration::ZERO,
        }
    }

    /// The TLS certificate and key files, resolved against `folder`, if TLS is configured.
    pub fn tls_files(&self, folder: &Path) -> Option<(PathBuf, PathBuf)> {
        if self.ssl_cert_file.is_empty() || self.ssl_key_file.is_empty() {
            return None;
        }
        Some((
            in_folder(folder, &self.ssl_cert_file),
            in_folder(folder, &self.ssl_key_file),
        ))
    }

    /// The access-log file resolved against `folder`; `None` = log through `tracing`.
    pub fn http_log_path(&self, folder: &Path) -> Option<PathBuf> {
        (!self.http_log_file.is_empty()).then(|| in_folder(folder, &self.http_log_file))
    }

    pub(super) fn read(o: &mut Obj<'_>, a: &mut RestApiConfig) -> Result<(), ConfigError> {
        let mut listen = vec![];
        o.read("http_listen_multiaddress", &mut listen)?;
        if !listen.is_empty() {
            a.http_listen_multiaddress = listen;
        }
        o.read("ssl_cert_file", &mut a.ssl_cert_file)?;
        o.read("ssl_key_file", &mut a.ssl_key_file)?;
        o.read("read_timeout", &mut a.read_timeout)?;
        o.read("read_header_timeout", &mut a.read_header_timeout)?;
        o.read("write_timeout", &mut a.write_timeout)?;
        o.read("idle_timeout", &mut a.idle_timeout)?;
        o.read_nonzero("max_header_bytes", &mut a.max_header_bytes)?;
        o.read(
            "libp2p_listen_multiaddress",
            &mut a.libp2p_listen_multiaddress,
        )?;
        if let Some(v) = o.value("id").filter(|v| v.as_str() != Some("")) {
            a.id = Some(PeerId::from_json(v).map_err(|r| ConfigError::invalid(o.key("id"), r))?);
        }
        if let Some(v) = o.value("private_key").filter(|v| v.as_str() != Some("")) {
            let key = o.key("private_key");
            let text = String::from_json(v).map_err(|r| ConfigError::invalid(&key, r))?;
            a.private_key = Some(
                PrivateKey::from_base64(&text)
                    .map_err(|r| ConfigError::invalid(&key, r.to_string()))?,
            );
        }
        let mut creds: Option<BTreeMap<String, String>> = None;
        o.read_opt("basic_auth_credentials", &mut creds)?;
        a.basic_auth_credentials = creds.map(BasicAuthCredentials::new);
        o.read("http_log_file", &mut a.http_log_file)?;
        o.read("headers", &mut a.headers)?;
        o.read("cors_allowed_origins", &mut a.cors_allowed_origins)?;
        o.read("cors_allowed_methods", &mut a.cors_allowed_methods)?;
        o.read("cors_allowed_headers", &mut a.cors_allowed_headers)?;
        o.read("cors_exposed_headers", &mut a.cors_exposed_headers)?;
        o.read("cors_allow_credentials", &mut a.cors_allow_credentials)?;
        o.read("cors_max_age", &mut a.cors_max_age)?;
        Ok(())
    }

    pub(super) fn validate(&self, section: &str) -> Result<(), ConfigError> {
        let k = |s: &str| format!("{section}.{s}");
        if self.http_listen_multiaddress.is_empty() {
            return Err(ConfigError::invalid(
                k("http_listen_multiaddress"),
                "is empty",
            ));
        }
        max_header_bytes(self.max_header_bytes, &k("max_header_bytes"))?;
        if matches!(&self.basic_auth_credentials, Some(c) if c.is_empty()) {
            return Err(ConfigError::invalid(
                k("basic_auth_credentials"),
                "should be null or have at least one entry",
            ));
        }
        if self.ssl_cert_file.is_empty() != self.ssl_key_file.is_empty() {
            let missing = if self.ssl_cert_file.is_empty() {
                "ssl_cert_file"
            } else {
                "ssl_key_file"
            };
            return Err(ConfigError::invalid(
                k(missing),
                "missing TLS configuration: ssl_cert_file and ssl_key_file must be set together",
            ));
        }
        let any = self.id.is_some()
            || self.private_key.is_some()
            || !self.libp2p_listen_multiaddress.is_empty();
        let all = self.id.is_some()
            && self.private_key.is_some()
            && !self.libp2p_listen_multiaddress.is_empty();
        if any && !all {
            return Err(ConfigError::invalid(
                k("libp2p_listen_multiaddress"),
                "all of id, private_key and libp2p_listen_multiaddress should be set",
            ));
        }
        if let (Some(id), Some(key)) = (&self.id, &self.private_key)
            && key.peer_id() != *id
        {
            return Err(ConfigError::invalid(
                k("id"),
                format!("{id} does not match private_key"),
            ));
        }
        Ok(())
    }
}

/// `api.ipfsproxy` (`api/ipfsproxy/config.go`): a Kubo RPC API that intercepts pin operations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpfsProxyConfig {
    #[serde(serialize_with = "ser::maddrs_strings")]
    pub listen_multiaddress: Vec<Multiaddr>,
    /// The Kubo RPC API proxied to (ignored when `ipfs_node.embedded` is present).
    #[serde(serialize_with = "ser::maddr")]
    pub node_multiaddress: Multiaddr,
    #[serde(skip_serializing_if = "is_false")]
    pub node_https: bool,
    pub log_file: String,
    #[serde(with = "serde_go")]
    pub read_timeout: Duration,
    #[serde(with = "serde_go")]
    pub read_header_timeout: Duration,
    #[serde(with = "serde_go")]
    pub write_timeout: Duration,
    #[serde(with = "serde_go")]
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extract_headers_extra: Vec<String>,
    #[serde(skip_serializing_if = "is_default_extract_path")]
    pub extract_headers_path: String,
    #[serde(
        skip_serializing_if = "is_default_extract_ttl",
        serialize_with = "serde_go::serialize"
    )]
    pub extract_headers_ttl: Duration,
}

pub const DEFAULT_IPFSPROXY_LISTEN: &str = "/ip4/127.0.0.1/tcp/9095";
pub const DEFAULT_IPFS_API: &str = "/ip4/127.0.0.1/tcp/5001";
const DEFAULT_EXTRACT_PATH: &str = "/api/v0/version";
const DEFAULT_EXTRACT_TTL: Duration = Duration::from_secs(300);

fn is_default_extract_path(s: &str) -> bool {
    s == DEFAULT_EXTRACT_PATH
}

fn is_default_extract_ttl(d: &Duration) -> bool {
    *d == DEFAULT_EXTRACT_TTL
}

impl Default for IpfsProxyConfig {
    fn default() -> IpfsProxyConfig {
        IpfsProxyConfig {
            listen_multiaddress: vec![ma(DEFAULT_IPFSPROXY_LISTEN)],
            node_multiaddress: ma(DEFAULT_IPFS_API),
            node_https: false,
            log_file: String::new(),
            read_timeout: Duration::ZERO,
            read_header_timeout: Duration::from_secs(5),
            write_timeout: Duration::ZERO,
            idle_timeout: Duration::from_secs(60),
            max_header_bytes: MIN_MAX_HEADER_BYTES,
            extract_headers_extra: vec![],
            extract_headers_path: DEFAULT_EXTRACT_PATH.into(),
            extract_headers_ttl: DEFAULT_EXTRACT_TTL,
        }
    }
}

impl IpfsProxyConfig {
    /// The access-log file resolved against `folder`; `None` = log through `tracing`.
    pub fn log_path(&self, folder: &Path) -> Option<PathBuf> {
        (!self.log_file.is_empty()).then(|| in_folder(folder, &self.log_file))
    }

    pub(super) fn read(o: &mut Obj<'_>, p: &mut IpfsProxyConfig) -> Result<(), ConfigError> {
        let mut listen = vec![];
        o.read("listen_multiaddress", &mut listen)?;
        if !listen.is_empty() {
            p.listen_multiaddress = listen;
        }
        o.read("node_multiaddress", &mut p.node_multiaddress)?;
        o.read("node_https", &mut p.node_https)?;
        o.read("log_file", &mut p.log_file)?;
        o.read("read_timeout", &mut p.read_timeout)?;
        o.read("read_header_timeout", &mut p.read_header_timeout)?;
        o.read("write_timeout", &mut p.write_timeout)?;
        o.read("idle_timeout", &mut p.idle_timeout)?;
        o.read_nonzero("max_header_bytes", &mut p.max_header_bytes)?;
        o.read("extract_headers_extra", &mut p.extract_headers_extra)?;
        o.read_nonzero("extract_headers_path", &mut p.extract_headers_path)?;
        o.read("extract_headers_ttl", &mut p.extract_headers_ttl)?;
        Ok(())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.listen_multiaddress.is_empty() {
            return Err(ConfigError::invalid(
                "api.ipfsproxy.listen_multiaddress",
                "is empty",
            ));
        }
        if self.extract_headers_path.is_empty() {
            return Err(ConfigError::invalid(
                "api.ipfsproxy.extract_headers_path",
                "should not be empty",
            ));
        }
        max_header_bytes(self.max_header_bytes, "api.ipfsproxy.max_header_bytes")
    }
}
