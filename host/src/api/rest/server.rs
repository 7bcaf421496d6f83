//! The REST API server: the `api.restapi` section turned into listeners, TLS and connection
//! limits, around the router of `router.rs`, served by the shared accept loop
//! (`crate::http::server`).
//!
//! # What it owns
//! [`serve`] runs one API on one bound listener until its shutdown future resolves (tests bind
//! `127.0.0.1:0`; the daemon binds every `http_listen_multiaddress` and serves each;
//! `bind_listeners`, which the tests use, also resolves `/dns` names). TLS when `ssl_cert_file` and `ssl_key_file` are set
//! (resolved against the configuration folder, `crate::http::tls`). [`conn_settings`] maps
//! `max_header_bytes`, `read_header_timeout`, `idle_timeout`, `read_timeout` and
//! `write_timeout` onto the accept loop's Go semantics (the timeouts are off by default,
//! `0s`); REST over libp2p uses the same mapping.
//!
//! `http_log_file` is not honoured yet: requests are logged through `tracing` (target
//! `restapilog`, debug level).
//!
//! # Exposure warnings
//! A listener beyond loopback without `basic_auth_credentials` is logged as a loud warning
//! (anyone who can reach it controls the cluster); with credentials but without TLS, a warning
//! that the passwords travel in clear text.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use multiaddr::Multiaddr;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::access::AccessLayer;
use super::router::router;
use crate::cluster::ClusterApi;
use crate::config::RestApiConfig;
use crate::gocompat::multiaddr::{TcpHost, tcp_endpoint};
use crate::http::server::{ConnSettings, serve_tcp};
use crate::http::tls::{self, TlsError};
use crate::plugins::{EndpointKind, PluginSet};

/// Errors that keep the API from starting.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// The certificate or key cannot be used.
    #[error("REST API TLS: {0}")]
    Tls(#[from] TlsError),
    /// A listen address cannot be used.
    #[error("REST API listen address {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("REST API: {0}")]
    Io(#[from] io::Error),
    /// The plugins could not be loaded.
    #[error("REST API plugins: {0}")]
    Plugins(String),
}

/// Binds every `http_listen_multiaddress` (`/ip4|ip6/<ip>/tcp/<port>`, or
/// `/dns|dns4|dns6/<name>/tcp/<port>`, resolved here, as IPFS Cluster accepts them); the
/// daemon binds its REST API with it.
pub(crate) async fn bind_listeners(config: &RestApiConfig) -> Result<Vec<TcpListener>, RestError> {
    let mut out = Vec::new();
    for ma in &config.http_listen_multiaddress {
        let addr = socket_addr(ma).await?;
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| RestError::Listen {
                addr: ma.to_string(),
                reason: e.to_string(),
            })?;
        out.push(l);
    }
    Ok(out)
}

async fn socket_addr(ma: &Multiaddr) -> Result<SocketAddr, RestError> {
    let bad = |reason: &str| RestError::Listen {
        addr: ma.to_string(),
        reason: reason.into(),
    };
    match tcp_endpoint(ma).map_err(|e| bad(&e.to_string()))? {
        (TcpHost::Ip(ip), port) => Ok(SocketAddr::new(ip, port)),
        (
            TcpHost::Dns {
                name,
                v4_only,
                v6_only,
            },
            port,
        ) => tokio::net::lookup_host((name.as_str(), port))
            .await
            .map_err(|e| bad(&e.to_string()))?
            .find(|a| (!v4_only || a.is_ipv4()) && (!v6_only || a.is_ipv6()))
            .ok_or_else(|| bad("name does not resolve")),
    }
}

/// Serves the REST API of `cluster` on `listener` until `shutdown` resolves (see the module
/// docs), with the built-in plugins configured from `config` alone (token files in
/// `config_dir`). The daemon uses [`serve_with`] and its own [`PluginSet`]. TLS files are
/// resolved against `config_dir`.
pub async fn serve(
    cluster: Arc<dyn ClusterApi>,
    config: RestApiConfig,
    config_dir: &Path,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RestError> {
    let dir = config_dir.to_path_buf();
    let cfg = config.clone();
    let plugins = tokio::task::spawn_blocking(move || PluginSet::for_rest_api(&cfg, Some(&dir)))
        .await
        .map_err(|e| RestError::Plugins(e.to_string()))?
        .map_err(|e| RestError::Plugins(e.to_string()))?;
    let access = AccessLayer::new(EndpointKind::Rest, plugins, &config);
    serve_with(cluster, config, config_dir, access, listener, shutdown).await
}

/// Serves the REST API with a given access layer (the daemon's plugins, or
/// [`AccessLayer::allow_all`] for a baseline measurement).
pub async fn serve_with(
    cluster: Arc<dyn ClusterApi>,
    config: RestApiConfig,
    config_dir: &Path,
    access: AccessLayer,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RestError> {
    let tls = match config.tls_files(config_dir) {
        Some((cert, key)) => Some(TlsAcceptor::from(tls::server_config(&cert, &key)?)),
        None => None,
    };
    let local = listener.local_addr()?;
    warn_exposure(local, access.auth_enabled(), tls.is_some());
    tracing::info!(
        "REST API ({}{}): {}",
        if tls.is_some() { "HTTPS" } else { "HTTP" },
        if access.auth_enabled() {
            " - authenticated"
        } else {
            ""
        },
        local
    );
    if !config.http_log_file.is_empty() {
        tracing::warn!(
            "api.restapi.http_log_file is not supported yet: requests are logged through the restapilog target"
        );
    }
    let settings = Arc::new(conn_settings(&config));
    let app = router(cluster, access);
    serve_tcp(listener, app, tls, settings, shutdown).await;
    Ok(())
}

fn warn_exposure(local: SocketAddr, auth: bool, tls: bool) {
    if let Some(w) = exposure_warning(local, auth, tls) {
        tracing::warn!("{w}");
    }
}

/// The warning for a listener reachable beyond loopback without credentials or without TLS.
pub(crate) fn exposure_warning(local: SocketAddr, auth: bool, tls: bool) -> Option<String> {
    if local.ip().is_loopback() {
        return None;
    }
    if !auth {
        return Some(format!(
            "!!! The REST API listens on {local} WITHOUT authentication: anyone who can reach this address controls the cluster. Set api.restapi.basic_auth_credentials (and TLS), or listen on 127.0.0.1 !!!"
        ));
    }
    (!tls).then(|| format!(
        "The REST API listens on {local} with basic auth but WITHOUT TLS: passwords travel in clear text. Set api.restapi.ssl_cert_file and ssl_key_file"
    ))
}

/// The accept loop's limits and timeouts from `api.restapi` (see the module docs).
pub(crate) fn conn_settings(c: &RestApiConfig) -> ConnSettings {
    ConnSettings::go(
        "REST API",
        c.read_header_timeout,
        c.idle_timeout,
        c.read_timeout,
        c.write_timeout,
        c.max_header_bytes,
    )
}
