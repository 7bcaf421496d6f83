//! REST over libp2p: the REST API on the cluster's libp2p host, protocol `/libp2p-http`
//! (the client side is `crate::client::tunnel`).
//!
//! # What it owns
//! [`serve`] accepts inbound `/libp2p-http` streams on the cluster swarm and serves each as
//! **one HTTP/1.1 connection** (keep-alive, several requests in turn), as IPFS Cluster does
//! through go-libp2p-http / gostream. Each stream goes through the shared accept loop
//! (`crate::http::server::serve_streams`: hyper http1, the same header limits and timeouts
//! from `api.restapi`, graceful shutdown), with the same axum [`Router`] as the TCP server —
//! so the same routes and the same access layer. The request extensions carry a [`ConnInfo`]
//! with no socket address (`remote: None`, `tls: false`: the stream is encrypted by noise,
//! which is not TLS) and a [`RemotePeer`] with the caller's peer id, for the access layer to
//! use. Only holders of the cluster secret reach it (the swarm is a pnet private network).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::Extensions;
use futures::StreamExt;
use tokio_util::compat::FuturesAsyncReadCompatExt;

use super::rest::access::RemotePeer;
use super::rest::server::conn_settings;
use crate::client::tunnel::PROTOCOL;
use crate::config::RestApiConfig;
use crate::http::server::{ConnInfo, serve_streams};
use crate::p2p::swarm::{StreamError, Streams};

/// Serves `router` on inbound `/libp2p-http` streams of the swarm until `shutdown` resolves
/// (or the swarm stops), with `api.restapi`'s default limits. See the module essay.
#[cfg(test)]
pub(crate) async fn serve(
    streams: Streams,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StreamError> {
    serve_with(streams, router, &RestApiConfig::restapi_default(), shutdown).await
}

/// [`serve`] with the limits and timeouts of `config` (`max_header_bytes`, `read_timeout`,
/// `read_header_timeout`, `write_timeout`, `idle_timeout`; listen addresses and TLS files are
/// not used).
pub(crate) async fn serve_with(
    streams: Streams,
    router: Router,
    config: &RestApiConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StreamError> {
    let incoming = streams.accept(PROTOCOL)?;
    let settings = Arc::new(conn_settings(config));
    tracing::info!(
        "REST API over libp2p ({PROTOCOL}): /p2p/{}",
        streams.local_peer_id()
    );
    let incoming = futures::stream::unfold(incoming, |mut incoming| async move {
        incoming.next().await.map(|next| (next, incoming))
    })
    .map(|(peer, stream)| {
        let mut extensions = Extensions::new();
        extensions.insert(ConnInfo {
            remote: None,
            tls: false,
        });
        extensions.insert(RemotePeer(peer));
        (stream.compat(), extensions)
    });
    serve_streams(incoming, router, settings, shutdown).await;
    Ok(())
}
