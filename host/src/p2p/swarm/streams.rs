//! Raw libp2p streams on the cluster swarm, for protocols that are not request/response.
//!
//! The swarm carries a `libp2p-stream` behaviour; [`Streams`] is its control plus a live view
//! of the connected peers, in the crate's `PeerId` type. Two protocols use it: the block
//! exchange ([`crate::p2p::exchange`]) and REST over libp2p (`api::libp2p_http`, `client::tunnel`).
//!
//! A [`Streams`] does **not** keep the swarm running (it holds no command sender): when the
//! swarm stops, opening fails, `accept`ed streams end and [`Streams::connected`] reports the
//! channel closed. That lets a long-lived user (the embedded node's fetcher, itself held by the
//! node that the exchange server holds) bind to the swarm without a reference cycle keeping
//! the swarm task alive.
//!
//! `libp2p-stream` hands each protocol's inbound streams to one receiver with no buffer; a
//! stream that arrives while the receiver is busy is dropped (the opener sees a reset). So
//! whoever accepts must only hand streams off (spawn) in its accept loop.

use std::sync::Arc;

use futures::StreamExt;
use libp2p::{Stream, StreamProtocol};
use tokio::sync::watch;

use libp2p_identity::PeerId;

/// Why a stream could not be opened or accepted.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The peer does not speak the protocol (an older peer, or not a Pinfold peer).
    #[error("peer {peer} does not support {protocol}")]
    Unsupported { peer: String, protocol: String },
    /// No connection, or it broke while negotiating.
    #[error("cannot open a {protocol} stream to {peer}: {reason}")]
    Open {
        peer: String,
        protocol: String,
        reason: String,
    },
    /// Someone already accepts this protocol on this swarm.
    #[error("{0} is already being accepted on this swarm")]
    AlreadyAccepted(String),
}

/// The stream side of a running swarm; cheap to clone.
#[derive(Clone)]
pub struct Streams {
    local: PeerId,
    control: libp2p_stream::Control,
    connected: watch::Receiver<Arc<Vec<PeerId>>>,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

/// Inbound streams of one protocol, with the opener's peer id.
pub struct Incoming {
    inner: libp2p_stream::IncomingStreams,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming").finish_non_exhaustive()
    }
}

impl Incoming {
    /// The next inbound stream; `None` once the swarm has stopped.
    pub async fn next(&mut self) -> Option<(PeerId, Stream)> {
        let (peer, stream) = self.inner.next().await?;
        Some((peer, stream))
    }
}

impl Streams {
    pub(crate) fn new(
        local: PeerId,
        control: libp2p_stream::Control,
        connected: watch::Receiver<Arc<Vec<PeerId>>>,
    ) -> Streams {
        Streams {
            local,
            control,
            connected,
        }
    }

    /// This peer's id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// The peers with an established connection, updated as they come and go. The channel
    /// reports closed once the swarm has stopped.
    pub fn connected(&self) -> watch::Receiver<Arc<Vec<PeerId>>> {
        self.connected.clone()
    }

    /// Opens a stream to `peer` for `protocol` (dialing it if it is not connected and the
    /// swarm knows an address).
    pub async fn open(&self, peer: PeerId, protocol: &'static str) -> Result<Stream, StreamError> {
        let mut control = self.control.clone();
        control
            .open_stream(peer, StreamProtocol::new(protocol))
            .await
            .map_err(|e| match e {
                libp2p_stream::OpenStreamError::UnsupportedProtocol(_) => {
                    StreamError::Unsupported {
                        peer: peer.to_string(),
                        protocol: protocol.into(),
                    }
                }
                other => StreamError::Open {
                    peer: peer.to_string(),
                    protocol: protocol.into(),
                    reason: other.to_string(),
                },
            })
    }

    /// Starts accepting inbound streams for `protocol` (advertised to peers from now on);
    /// dropping the [`Incoming`] stops it.
    pub fn accept(&self, protocol: &'static str) -> Result<Incoming, StreamError> {
        let mut control = self.control.clone();
        control
            .accept(StreamProtocol::new(protocol))
            .map(|inner| Incoming { inner })
            .map_err(|_| StreamError::AlreadyAccepted(protocol.into()))
    }
}
