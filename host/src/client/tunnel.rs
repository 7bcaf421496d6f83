//! The client side of REST over libp2p: [`Tunnel`], used by `pinfold-ctl --host
//! /ip4/…/tcp/9096/p2p/<id> --secret <hex>` to reach a peer's REST API on the cluster swarm,
//! protocol `/libp2p-http` (served by `api/libp2p_http`).
//!
//! # What it owns
//! A minimal client-only swarm (TCP → pnet with the secret → noise → yamux, a fresh random
//! identity, only the stream behaviour; no listening, no identify) that dials the peer, checks
//! that it serves `/libp2p-http`, and forwards local connections to it, one stream each.
//!
//! # Why a local socket in front of reqwest
//! The REST client ([`super::Client`]) is built on reqwest, which cannot be handed a custom
//! connection type. Rewriting its ~30 calls over a bare hyper client with a libp2p connector
//! would fork every code path (streams, trailers, multipart uploads, fail-over). Instead the
//! tunnel listens on a **Unix socket in a fresh private folder** (mode 0700, removed on drop)
//! and pipes every accepted connection into a new `/libp2p-http` stream; reqwest is pointed at
//! that socket (`ClientConfig::unix_socket`). All client code stays identical, and the pipe is
//! byte-for-byte, so HTTP/1.1 keep-alive, chunked bodies and trailers pass unchanged. A
//! loopback TCP port would have done the same, but any local user could connect to it during
//! the command and ride on our authenticated connection; a socket in a 0700 folder only the
//! invoking user can open.
//!
//! # Errors
//! Connecting fails with a clear [`TunnelError`]: an address without `/p2p/<peer id>`, the
//! peer unreachable, a handshake failure (almost always a secret mismatch, worded so), or a
//! peer that does not serve `/libp2p-http`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::swarm::dial_opts::DialOpts;
use tokio::net::UnixListener;
use tokio_util::compat::FuturesAsyncReadCompatExt;

use crate::config::ClusterSecret;
use crate::p2p::swarm::{FailureCause, build_transport, classify};
#[cfg(test)]
use libp2p_identity::PeerId;
use multiaddr::Multiaddr;

/// The protocol id of REST over libp2p, as go-libp2p-http's.
pub(crate) const PROTOCOL: &str = "/libp2p-http";

/// Failures to open a [`Tunnel`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum TunnelError {
    /// The address cannot be used for REST over libp2p.
    #[error("{0}")]
    Address(String),
    /// The connection to the peer could not be made.
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    /// Something local (socket, folder, swarm setup).
    #[error("{0}")]
    Local(String),
}

/// A client-side tunnel to one peer's `/libp2p-http`: connections to [`Tunnel::socket_path`]
/// become streams to the peer. Dropping it closes everything and removes the socket.
#[derive(Debug)]
pub(crate) struct Tunnel {
    #[cfg(test)]
    peer: PeerId,
    dir: PathBuf,
    socket: PathBuf,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl Tunnel {
    /// Dials `addr` (`/ip4/…/tcp/…/p2p/<peer id>`) on a fresh client-only swarm with the
    /// cluster `secret` (`None`: no private network), checks that the peer serves
    /// `/libp2p-http`, and opens the local socket. `timeout` bounds the connection handshake.
    pub(crate) async fn connect(
        addr: &Multiaddr,
        secret: Option<&ClusterSecret>,
        timeout: Duration,
    ) -> Result<Tunnel, TunnelError> {
        let mut transport_addr = addr.clone();
        let peer = match transport_addr.pop() {
            Some(multiaddr::Protocol::P2p(p)) => p,
            _ => {
                return Err(TunnelError::Address(format!(
                    "a libp2p API address ends with /p2p/<peer id>: {addr}"
                )));
            }
        };
        let key = libp2p::identity::Keypair::generate_ed25519();
        let secret = secret.cloned();
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_other_transport(|key| build_transport(key, secret.as_ref(), timeout))
            .map_err(|e| TunnelError::Local(format!("libp2p client: {e}")))?
            .with_behaviour(|_| libp2p_stream::Behaviour::new())
            .map_err(|e| TunnelError::Local(format!("libp2p client: {e}")))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
            .build();
        let control = swarm.behaviour().new_control();
        let connect_err = |reason: String| TunnelError::Connect {
            addr: addr.to_string(),
            reason,
        };
        swarm
            .dial(
                DialOpts::peer_id(peer)
                    .addresses(vec![transport_addr])
                    .build(),
            )
            .map_err(|e| connect_err(e.to_string()))?;
        let waited = tokio::time::timeout(timeout + Duration::from_secs(5), async {
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == peer => {
                        return Ok(());
                    }
                    SwarmEvent::OutgoingConnectionError { error, .. } => {
                        let detail = error.to_string();
                        let cause = match &error {
                            libp2p::swarm::DialError::Transport(_) => {
                                classify(&format!("{error:?}"))
                            }
                            _ => FailureCause::Other,
                        };
                        return Err(match (cause, secret.is_some()) {
                            (FailureCause::SecretMismatch, true) => format!(
                                "secret mismatch? the handshake failed: the peer's cluster secret differs from --secret (or it has none) ({detail})"
                            ),
                            (FailureCause::SecretMismatch, false) => format!(
                                "secret mismatch? the handshake failed: the peer probably needs the cluster secret (--secret) ({detail})"
                            ),
                            _ => detail,
                        });
                    }
                    _ => {}
                }
            }
        })
        .await;
        match waited {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => return Err(connect_err(reason)),
            Err(_) => {
                return Err(connect_err(
                    "timed out (a secret mismatch sometimes shows only as this)".into(),
                ));
            }
        }
        let mut tasks = vec![tokio::spawn(async move {
            loop {
                if let SwarmEvent::ConnectionClosed { peer_id, cause, .. } =
                    swarm.select_next_some().await
                {
                    tracing::debug!(%peer_id, ?cause, "libp2p API connection closed");
                }
            }
        })];
        // the first stream checks the protocol, then serves the first local connection
        let probe = control
            .clone()
            .open_stream(peer, libp2p::StreamProtocol::new(PROTOCOL))
            .await
            .map_err(|e| match e {
                libp2p_stream::OpenStreamError::UnsupportedProtocol(_) => connect_err(format!(
                    "the peer does not serve the REST API over libp2p ({PROTOCOL})"
                )),
                other => connect_err(other.to_string()),
            })?;
        let spare = Arc::new(Mutex::new(Some(probe)));

        let dir = private_dir()?;
        let socket = dir.join("api.sock");
        let listener = UnixListener::bind(&socket).map_err(|e| {
            let _ = std::fs::remove_dir(&dir);
            TunnelError::Local(format!("cannot listen on {}: {e}", socket.display()))
        })?;
        tasks.push(tokio::spawn(async move {
            loop {
                let Ok((mut local, _)) = listener.accept().await else {
                    continue;
                };
                let spare = spare.lock().unwrap_or_else(|e| e.into_inner()).take();
                let mut control = control.clone();
                tokio::spawn(async move {
                    let stream = match spare {
                        Some(s) => s,
                        None => match control
                            .open_stream(peer, libp2p::StreamProtocol::new(PROTOCOL))
                            .await
                        {
                            Ok(s) => s,
                            Err(e) => {
                                tracing::warn!("REST over libp2p: cannot open a stream: {e}");
                                return;
                            }
                        },
                    };
                    let mut remote = stream.compat();
                    if let Err(e) = tokio::io::copy_bidirectional(&mut local, &mut remote).await {
                        tracing::debug!("REST over libp2p: tunnel connection ended: {e}");
                    }
                });
            }
        }));
        Ok(Tunnel {
            #[cfg(test)]
            peer,
            dir,
            socket,
            tasks,
        })
    }

    /// The Unix socket to send HTTP requests to.
    pub(crate) fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// The peer the tunnel reaches.
    #[cfg(test)]
    pub(crate) fn peer(&self) -> PeerId {
        self.peer
    }
}

/// A new folder only this user can enter, under the temporary folder.
fn private_dir() -> Result<PathBuf, TunnelError> {
    use rand::Rng;
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    for _ in 0..8 {
        let dir = base.join(format!(
            "pinfold-ctl-{}-{:016x}",
            std::process::id(),
            rand::thread_rng().r#gen::<u64>()
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(TunnelError::Local(format!(
                    "cannot create a private folder in {}: {e}",
                    base.display()
                )));
            }
        }
    }
    Err(TunnelError::Local(
        "cannot create a private folder for the libp2p tunnel".into(),
    ))
}
