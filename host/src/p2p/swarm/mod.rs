//! The cluster's private libp2p swarm.
//!
//! # What it owns
//! One libp2p `Swarm` per peer, run by one tokio task ([`start`]); the rest of the daemon talks
//! to it through a cloneable [`SwarmHandle`] (commands on a channel, answers on oneshots). The
//! swarm carries: identify (listen addresses and agent), ping (liveness, RTT), connection limits,
//! and the cluster RPC ([`crate::p2p::rpc`]) as a request-response behaviour. Nothing else: no mDNS,
//! no DHT, no relay, no autonat. The swarm dials only what it is given — `peer_addresses`, the
//! peerstore file's lines, [`SwarmHandle::dial`] — and the addresses those peers reported about
//! themselves when an RPC has to reach one of them again.
//!
//! # Transport
//! TCP (nodelay) → **pnet** (when a secret is set) → multistream-select → noise → yamux, all
//! under one handshake timeout ([`SwarmConfig::handshake_timeout`], 5 s: the pnet check showed a
//! wrong key sometimes surfaces only at the timeout). pnet is IPFS Cluster's format: the 32-byte
//! cluster secret is the raw PSK of libp2p's private network V1 (XSalsa20 with a 24-byte nonce
//! exchange on every raw connection before the security handshake), so the swarm is the same
//! private network as go-libp2p's and js-libp2p's with that key. No QUIC: pnet cannot wrap it.
//! An empty secret (`None`) runs without pnet and logs a loud warning at start, as Go does.
//!
//! # Secret mismatch
//! With different keys both sides decrypt garbage: the listener fails to read a multistream
//! frame ("Maximum frame length exceeded"), the dialer sees a reset or, sometimes, only the
//! handshake timeout. libp2p reports both as generic handshake errors, so the swarm classifies
//! every handshake failure that happened after TCP connected (refused / unreachable dials are
//! not) and logs it on **both** sides as "secret mismatch? … the peer's cluster secret differs"
//! ([`FailureCause::SecretMismatch`]), and publishes it as [`SwarmNotice::HandshakeFailed`]. The
//! same hint (worded for the case) is given by a peer without a secret that meets one with a
//! secret. It is a diagnosis, not a proof: any peer that is not a Pinfold/IPFS Cluster peer with
//! our key fails the same way.
//!
//! # Peer addresses and the peerstore
//! The swarm keeps, per connected peer, the address it dialed and the listen addresses the peer
//! reported through identify (unspecified and relay addresses dropped). When that changes, the
//! peerstore file (if configured) is rewritten, one `<multiaddr>/p2p/<peer id>` per line, as
//! Go's pstoremgr writes it; at start its lines and `peer_addresses` are dialed.
//! [`SwarmHandle::forget_peer`] drops a removed peer from both.
//!
//! # Defaults and trade-offs
//! * handshake timeout 5 s; idle connections closed after 2 minutes (Go's connection manager
//!   grace period); raft heartbeats keep cluster connections busy, so only strangers idle out;
//! * at most `connection_manager.high_water` (400) established connections and as many
//!   pending inbound ones (libp2p's connection limits; Go trims to `low_water` instead, which
//!   a cluster of a few peers never reaches);
//! * ping every 15 s (`monitor_ping_interval`);
//! * the command channel holds 4096 commands; [`SwarmHandle::notify`] (used by raft from its
//!   driver thread) drops rather than blocks when it is full.
//! * Raw streams ([`Streams`], from [`SwarmHandle::streams`]) ride on a `libp2p-stream`
//!   behaviour: the block exchange and REST over libp2p use them; see [`streams`].
//! * `PeerId` and `Multiaddr` are libp2p-identity 0.3.x's and multiaddr 0.19.x's, the versions
//!   libp2p 0.57 is built on: the crate and libp2p share one type of each, no conversions.

pub mod peerstore;
pub mod streams;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, upgrade};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{
    StreamProtocol, Transport, connection_limits, identify, noise, ping, pnet, tcp, yamux,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::config::{ClusterConfig, ClusterSecret};
use crate::p2p::rpc::{
    MAX_DEADLINE, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, RpcEnvelope, RpcError, RpcReply,
    RpcRequest, RpcResponse, RpcServer,
};
use libp2p_identity::PeerId;
use multiaddr::Multiaddr;
pub use streams::{StreamError, Streams};

/// Capacity of the command channel.
pub const COMMAND_QUEUE: usize = 4096;
/// Capacity of the notice broadcast.
pub const NOTICE_QUEUE: usize = 1024;

/// Everything the swarm needs besides the identity and the RPC server.
#[derive(Debug, Clone)]
pub struct SwarmConfig {
    /// Addresses to listen on (`listen_multiaddress`).
    pub listen: Vec<Multiaddr>,
    /// Addresses announced instead of the listen addresses (`announce_multiaddress`).
    pub announce: Vec<Multiaddr>,
    /// The private-network key; `None` = no pnet (warned about).
    pub secret: Option<ClusterSecret>,
    /// Addresses (with `/p2p/<id>`) dialed at start (`peer_addresses`).
    pub peer_addresses: Vec<Multiaddr>,
    /// The peerstore file, read at start and rewritten as peers come and go.
    pub peerstore: Option<PathBuf>,
    /// TCP connect + pnet + noise + yamux must finish within this.
    pub handshake_timeout: Duration,
    /// Connections without streams are closed after this.
    pub idle_connection_timeout: Duration,
    /// Most established connections (`connection_manager.high_water`).
    pub max_connections: u32,
    /// Ping interval (`monitor_ping_interval`).
    pub ping_interval: Duration,
}

impl SwarmConfig {
    #[cfg(test)]
    /// A configuration listening on `listen` with the given secret and the defaults.
    pub fn new(listen: Vec<Multiaddr>, secret: Option<ClusterSecret>) -> SwarmConfig {
        SwarmConfig {
            listen,
            announce: vec![],
            secret,
            peer_addresses: vec![],
            peerstore: None,
            handshake_timeout: Duration::from_secs(5),
            idle_connection_timeout: Duration::from_secs(120),
            max_connections: 400,
            ping_interval: Duration::from_secs(15),
        }
    }

    /// From the `cluster` section; `peerstore` is the resolved peerstore path.
    pub fn from_cluster(cluster: &ClusterConfig, peerstore: Option<PathBuf>) -> SwarmConfig {
        SwarmConfig {
            listen: cluster.listen_multiaddress.clone(),
            announce: cluster.announce_multiaddress.clone(),
            secret: cluster.secret.clone(),
            peer_addresses: cluster.peer_addresses.clone(),
            peerstore,
            handshake_timeout: Duration::from_secs(5),
            idle_connection_timeout: cluster
                .connection_manager
                .grace_period
                .max(Duration::from_secs(10)),
            max_connections: cluster.connection_manager.high_water.max(1),
            ping_interval: if cluster.monitor_ping_interval.is_zero() {
                Duration::from_secs(15)
            } else {
                cluster.monitor_ping_interval
            },
        }
    }
}

/// Failures of the swarm itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwarmError {
    #[error("swarm setup: {0}")]
    Setup(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("dial {addr}: {reason}")]
    Dial { addr: String, reason: String },
    #[error("the swarm is shut down")]
    Shutdown,
}

/// Why a handshake failed, as far as the swarm can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCause {
    /// TCP connected but the private-network / security handshake failed or timed out.
    SecretMismatch,
    /// The address could not be reached (refused, unreachable).
    Unreachable,
    /// Anything else (limits, wrong peer id, ...).
    Other,
}

/// A failed connection attempt, inbound or outbound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeFailure {
    pub inbound: bool,
    pub peer: Option<PeerId>,
    pub addr: Option<Multiaddr>,
    pub cause: FailureCause,
    /// The logged line.
    pub message: String,
}

/// What the swarm tells its observers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwarmNotice {
    Connected {
        peer: PeerId,
        addr: Multiaddr,
    },
    Disconnected {
        peer: PeerId,
    },
    Identified {
        peer: PeerId,
        agent: String,
        listen_addrs: Vec<Multiaddr>,
    },
    Ping {
        peer: PeerId,
        rtt: Duration,
    },
    HandshakeFailed(HandshakeFailure),
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    rpc: request_response::cbor::Behaviour<RpcEnvelope, RpcReply>,
    streams: libp2p_stream::Behaviour,
}

#[allow(clippy::large_enum_variant)] // short-lived; a forwarded Pin is the big one
enum Command {
    Dial {
        addr: Multiaddr,
        reply: oneshot::Sender<Result<PeerId, SwarmError>>,
    },
    Call {
        peer: PeerId,
        envelope: RpcEnvelope,
        reply: Option<oneshot::Sender<RpcReply>>,
    },
    Respond {
        channel: ResponseChannel<RpcReply>,
        reply: RpcReply,
    },
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    Connected(oneshot::Sender<Vec<PeerId>>),
    PeerAddresses(oneshot::Sender<BTreeMap<PeerId, Vec<Multiaddr>>>),
    Forget(PeerId),
    Shutdown(oneshot::Sender<()>),
}

/// The handle to a running swarm. Cheap to clone; the swarm stops on [`SwarmHandle::shutdown`]
/// or when every handle is dropped.
#[derive(Clone)]
pub struct SwarmHandle {
    local: PeerId,
    tx: mpsc::Sender<Command>,
    notices: broadcast::Sender<SwarmNotice>,
    streams: Streams,
}

impl std::fmt::Debug for SwarmHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwarmHandle")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl SwarmHandle {
    /// This peer's id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// The raw-stream side of the swarm (block exchange, REST over libp2p). It does not keep
    /// the swarm running.
    pub fn streams(&self) -> Streams {
        self.streams.clone()
    }

    /// Every notice from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SwarmNotice> {
        self.notices.subscribe()
    }

    async fn ask<T>(&self, f: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, SwarmError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(f(tx))
            .await
            .map_err(|_| SwarmError::Shutdown)?;
        rx.await.map_err(|_| SwarmError::Shutdown)
    }

    /// The addresses the swarm listens on (ports resolved).
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, SwarmError> {
        self.ask(Command::ListenAddrs).await
    }

    /// Dials `addr` (with or without `/p2p/<id>`) and waits until the connection is up (or
    /// already was); returns the peer's id.
    pub async fn dial(&self, addr: Multiaddr) -> Result<PeerId, SwarmError> {
        self.ask(|reply| Command::Dial { addr, reply }).await?
    }

    /// The peers with an established connection.
    pub async fn connected_peers(&self) -> Result<Vec<PeerId>, SwarmError> {
        self.ask(Command::Connected).await
    }

    /// The addresses known for each peer (what the peerstore file holds).
    pub async fn peer_addresses(&self) -> Result<BTreeMap<PeerId, Vec<Multiaddr>>, SwarmError> {
        self.ask(Command::PeerAddresses).await
    }

    /// Forgets a peer's addresses (a removed cluster peer) and rewrites the peerstore.
    pub async fn forget_peer(&self, peer: PeerId) -> Result<(), SwarmError> {
        self.tx
            .send(Command::Forget(peer))
            .await
            .map_err(|_| SwarmError::Shutdown)
    }

    /// Calls `peer` and waits at most `timeout` for its answer. Dropping the future cancels
    /// the wait; the server stops working on it at the same deadline.
    pub async fn call(
        &self,
        peer: PeerId,
        request: RpcRequest,
        timeout: Duration,
    ) -> Result<RpcResponse, RpcError> {
        let timeout = timeout.min(MAX_DEADLINE);
        let (tx, rx) = oneshot::channel();
        let envelope = RpcEnvelope {
            deadline_ms: timeout.as_millis() as u64,
            request,
        };
        self.tx
            .send(Command::Call {
                peer,
                envelope,
                reply: Some(tx),
            })
            .await
            .map_err(|_| RpcError::Shutdown)?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(RpcError::Shutdown),
            Err(_) => Err(RpcError::Timeout(timeout)),
        }
    }

    /// Sends `request` to `peer` without waiting for (or receiving) the answer; never blocks:
    /// fails when the command queue is full. For raft messages from the driver thread.
    pub fn notify(&self, peer: PeerId, request: RpcRequest) -> Result<(), RpcError> {
        let envelope = RpcEnvelope {
            deadline_ms: 10_000,
            request,
        };
        self.tx
            .try_send(Command::Call {
                peer,
                envelope,
                reply: None,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    RpcError::Transport("swarm command queue full".into())
                }
                mpsc::error::TrySendError::Closed(_) => RpcError::Shutdown,
            })
    }

    /// Stops the swarm (connections closed, peerstore written).
    pub async fn shutdown(&self) {
        let _ = self.ask(Command::Shutdown).await;
    }
}

pub(crate) fn build_transport(
    key: &libp2p::identity::Keypair,
    secret: Option<&ClusterSecret>,
    timeout: Duration,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, Box<dyn std::error::Error + Send + Sync>> {
    let noise = noise::Config::new(key)?;
    let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
    Ok(match secret {
        Some(secret) => {
            let psk = pnet::PreSharedKey::new(*secret.as_bytes());
            tcp.and_then(move |socket, _| pnet::PnetConfig::new(psk).handshake(socket))
                .upgrade(upgrade::Version::V1Lazy)
                .authenticate(noise)
                .multiplex(yamux::Config::default())
                .timeout(timeout)
                .map(|(p, m), _| (p, StreamMuxerBox::new(m)))
                .boxed()
        }
        None => tcp
            .upgrade(upgrade::Version::V1Lazy)
            .authenticate(noise)
            .multiplex(yamux::Config::default())
            .timeout(timeout)
            .map(|(p, m), _| (p, StreamMuxerBox::new(m)))
            .boxed(),
    })
}

/// Starts the swarm on a tokio task: listens on every address (waiting until each has its
/// port), then dials `peer_addresses` and the peerstore's lines in the background.
/// `identity` is the peer's key (`Identity::private_key`); `rpc` answers inbound calls.
pub async fn start(
    identity: &libp2p_identity::Keypair,
    config: SwarmConfig,
    rpc: RpcServer,
) -> Result<SwarmHandle, SwarmError> {
    let key = identity.clone();
    let local = key.public().to_peer_id();
    if config.secret.is_none() {
        tracing::warn!(
            "Cluster secret is empty, cluster will start on unprotected network: \
             anyone who can reach {:?} can join the swarm. Set `cluster.secret` (64 hex characters).",
            config
                .listen
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
        );
    }
    let secret = config.secret.clone();
    let timeout = config.handshake_timeout;
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(config.max_connections))
        .with_max_pending_incoming(Some(config.max_connections));
    let ping_interval = config.ping_interval;
    let hide_listen_addrs = !config.announce.is_empty();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_other_transport(|key| build_transport(key, secret.as_ref(), timeout))
        .map_err(|e| SwarmError::Setup(e.to_string()))?
        .with_behaviour(|key| Behaviour {
            limits: connection_limits::Behaviour::new(limits),
            identify: identify::Behaviour::new(
                identify::Config::new("/pinfold/0.1.0".into(), key.public())
                    .with_agent_version(format!("pinfold/{}", env!("CARGO_PKG_VERSION")))
                    .with_cache_size(0)
                    // `announce_multiaddress` replaces the listen addresses, as in Go
                    .with_hide_listen_addrs(hide_listen_addrs),
            ),
            ping: ping::Behaviour::new(ping::Config::new().with_interval(ping_interval)),
            rpc: request_response::cbor::Behaviour::with_codec(
                request_response::cbor::codec::Codec::default()
                    .set_request_size_maximum(MAX_REQUEST_BYTES)
                    .set_response_size_maximum(MAX_RESPONSE_BYTES),
                [(
                    StreamProtocol::new(crate::RPC_PROTOCOL),
                    ProtocolSupport::Full,
                )],
                request_response::Config::default()
                    .with_request_timeout(MAX_DEADLINE + Duration::from_secs(5))
                    .with_max_concurrent_streams(256),
            ),
            streams: libp2p_stream::Behaviour::new(),
        })
        .map_err(|e| SwarmError::Setup(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(config.idle_connection_timeout))
        .build();

    // listen, and wait for every listener's first address (ports resolved) or its failure
    let mut listeners = HashMap::new();
    for addr in &config.listen {
        let id = swarm
            .listen_on(addr.clone())
            .map_err(|e| SwarmError::Listen {
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
        listeners.insert(id, addr.clone());
    }
    let mut listen_addrs = vec![];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !listeners.is_empty() {
        let ev = tokio::time::timeout_at(deadline, swarm.select_next_some())
            .await
            .map_err(|_| SwarmError::Setup("listeners did not start within 10s".into()))?;
        match ev {
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } => {
                listeners.remove(&listener_id);
                listen_addrs.push(address);
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason: Err(e),
                ..
            }
            | SwarmEvent::ListenerError {
                listener_id,
                error: e,
            } => {
                if let Some(addr) = listeners.remove(&listener_id) {
                    return Err(SwarmError::Listen {
                        addr: addr.to_string(),
                        reason: e.to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    for a in &config.announce {
        swarm.add_external_address(a.clone());
    }
    tracing::info!(
        peer = %local,
        pnet = config.secret.is_some(),
        addrs = ?listen_addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "cluster swarm listening"
    );

    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let (notices, _) = broadcast::channel(NOTICE_QUEUE);
    let (connected_tx, connected_rx) = watch::channel(Arc::new(Vec::new()));
    let streams = Streams::new(local, swarm.behaviour().streams.new_control(), connected_rx);
    let mut event_loop = EventLoop {
        swarm,
        rx,
        self_tx: tx.downgrade(),
        notices: notices.clone(),
        rpc,
        pnet: config.secret.is_some(),
        listen_addrs,
        pending_dials: HashMap::new(),
        pending_calls: HashMap::new(),
        addrs: BTreeMap::new(),
        peerstore: config.peerstore.clone(),
        connected: connected_tx,
    };
    let mut initial = config.peer_addresses.clone();
    if let Some(path) = &config.peerstore {
        for a in peerstore::read(path) {
            if !initial.contains(&a) {
                initial.push(a);
            }
        }
    }
    for a in initial {
        event_loop.remember_p2p_addr(&a);
        if let Err(e) = event_loop.swarm.dial(a.clone()) {
            tracing::warn!("cannot dial {a}: {e}");
        }
    }
    tokio::spawn(event_loop.run());
    Ok(SwarmHandle {
        local,
        tx,
        notices,
        streams,
    })
}

struct EventLoop {
    swarm: libp2p::Swarm<Behaviour>,
    rx: mpsc::Receiver<Command>,
    /// For handler tasks to send their answers back; weak so that dropping every handle stops
    /// the loop.
    self_tx: mpsc::WeakSender<Command>,
    notices: broadcast::Sender<SwarmNotice>,
    rpc: RpcServer,
    pnet: bool,
    listen_addrs: Vec<Multiaddr>,
    pending_dials: HashMap<ConnectionId, (Multiaddr, oneshot::Sender<Result<PeerId, SwarmError>>)>,
    pending_calls: HashMap<OutboundRequestId, oneshot::Sender<RpcReply>>,
    addrs: BTreeMap<PeerId, BTreeSet<Multiaddr>>,
    peerstore: Option<PathBuf>,
    /// The connected peers, for [`Streams::connected`].
    connected: watch::Sender<Arc<Vec<PeerId>>>,
}

impl EventLoop {
    async fn run(mut self) {
        loop {
            tokio::select! {
                cmd = self.rx.recv() => match cmd {
                    Some(Command::Shutdown(done)) => {
                        self.write_peerstore();
                        let _ = done.send(());
                        break;
                    }
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                ev = self.swarm.select_next_some() => self.event(ev),
            }
        }
        for (_, reply) in self.pending_calls.drain() {
            let _ = reply.send(Err(RpcError::Shutdown));
        }
        tracing::debug!("cluster swarm stopped");
    }

    fn publish_connected(&self) {
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        self.connected.send_if_modified(|old| {
            if **old == peers {
                return false;
            }
            *old = Arc::new(peers);
            true
        });
    }

    fn notice(&self, n: SwarmNotice) {
        let _ = self.notices.send(n);
    }

    /// Records the address of a `/p2p/`-terminated multiaddr for its peer.
    fn remember_p2p_addr(&mut self, a: &Multiaddr) {
        let mut a = a.clone();
        if let Some(libp2p::multiaddr::Protocol::P2p(p)) = a.pop() {
            self.addrs.entry(p).or_default().insert(a);
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Dial { addr, reply } => self.dial(addr, reply),
            Command::Call {
                peer,
                envelope,
                reply,
            } => {
                let p = peer;
                let addrs: Vec<_> = self
                    .addrs
                    .get(&p)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default();
                let id = self
                    .swarm
                    .behaviour_mut()
                    .rpc
                    .send_request_with_addresses(&p, envelope, addrs);
                if let Some(reply) = reply {
                    self.pending_calls.insert(id, reply);
                }
            }
            Command::Respond { channel, reply } => {
                if self
                    .swarm
                    .behaviour_mut()
                    .rpc
                    .send_response(channel, reply)
                    .is_err()
                {
                    tracing::debug!("RPC answer dropped: the caller went away");
                }
            }
            Command::ListenAddrs(reply) => {
                let _ = reply.send(self.listen_addrs.clone());
            }
            Command::Connected(reply) => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::PeerAddresses(reply) => {
                let map = self
                    .addrs
                    .iter()
                    .map(|(p, s)| (*p, s.iter().cloned().collect()))
                    .collect();
                let _ = reply.send(map);
            }
            Command::Forget(peer) => {
                if self.addrs.remove(&peer).is_some() {
                    self.write_peerstore();
                }
            }
            Command::Shutdown(_) => unreachable!("handled in run"),
        }
    }

    fn dial(&mut self, addr: Multiaddr, reply: oneshot::Sender<Result<PeerId, SwarmError>>) {
        let mut a = addr.clone();
        let opts = match a.iter().last() {
            Some(libp2p::multiaddr::Protocol::P2p(p)) => {
                a.pop();
                if self.swarm.is_connected(&p) {
                    let _ = reply.send(Ok(p));
                    return;
                }
                DialOpts::peer_id(p)
                    .addresses(vec![a])
                    .condition(PeerCondition::Always)
                    .build()
            }
            _ => DialOpts::unknown_peer_id().address(a).build(),
        };
        let id = opts.connection_id();
        match self.swarm.dial(opts) {
            Ok(()) => {
                self.pending_dials.insert(id, (addr, reply));
            }
            Err(e) => {
                let _ = reply.send(Err(SwarmError::Dial {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                }));
            }
        }
    }

    fn event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::NewListenAddr { address, .. } if !self.listen_addrs.contains(&address) => {
                self.listen_addrs.push(address);
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs.retain(|a| a != &address);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                let addr = endpoint.get_remote_address().clone();
                if let Some((_, reply)) = self.pending_dials.remove(&connection_id) {
                    let _ = reply.send(Ok(peer_id));
                }
                if endpoint.is_dialer() {
                    let mut a = addr.clone();
                    if matches!(a.iter().last(), Some(libp2p::multiaddr::Protocol::P2p(_))) {
                        a.pop();
                    }
                    if self.addrs.entry(peer_id).or_default().insert(a) {
                        self.write_peerstore();
                    }
                }
                if num_established.get() == 1 {
                    self.publish_connected();
                    tracing::info!(peer = %peer_id, %addr, "cluster peer connected");
                    self.notice(SwarmNotice::Connected {
                        peer: peer_id,
                        addr,
                    });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                cause,
                ..
            } => {
                self.publish_connected();
                tracing::info!(peer = %peer_id, cause = ?cause.map(|c| c.to_string()), "cluster peer disconnected");
                self.notice(SwarmNotice::Disconnected { peer: peer_id });
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                peer_id,
                error,
            } => {
                let reason = error.to_string();
                let addr = match &error {
                    libp2p::swarm::DialError::Transport(v) => v.first().map(|(a, _)| a.clone()),
                    _ => None,
                };
                let cause = match &error {
                    libp2p::swarm::DialError::Transport(_) => classify(&format!("{error:?}")),
                    _ => FailureCause::Other,
                };
                self.handshake_failed(false, peer_id, addr, cause, &reason);
                if let Some((addr, reply)) = self.pending_dials.remove(&connection_id) {
                    let _ = reply.send(Err(SwarmError::Dial {
                        addr: addr.to_string(),
                        reason,
                    }));
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                peer_id,
                ..
            } => {
                let cause = match &error {
                    libp2p::swarm::ListenError::Transport(_) => FailureCause::SecretMismatch,
                    _ => FailureCause::Other,
                };
                self.handshake_failed(
                    true,
                    peer_id,
                    Some(send_back_addr),
                    cause,
                    &error.to_string(),
                );
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                let listen: Vec<_> = info.listen_addrs.into_iter().filter(storable).collect();
                let set = self.addrs.entry(peer_id).or_default();
                let before = set.len();
                set.extend(listen.iter().cloned());
                if set.len() != before {
                    self.write_peerstore();
                }
                self.notice(SwarmNotice::Identified {
                    peer: peer_id,
                    agent: info.agent_version,
                    listen_addrs: listen.to_vec(),
                });
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                result: Ok(rtt),
                ..
            })) => {
                self.notice(SwarmNotice::Ping { peer, rtt });
            }
            SwarmEvent::Behaviour(BehaviourEvent::Rpc(ev)) => self.rpc_event(ev),
            _ => {}
        }
    }

    fn rpc_event(&mut self, ev: request_response::Event<RpcEnvelope, RpcReply>) {
        use request_response::{Event, Message, OutboundFailure};
        match ev {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let fut = self.rpc.serve(peer, request);
                let Some(tx) = self.self_tx.upgrade() else {
                    return;
                };
                tokio::spawn(async move {
                    let reply = fut.await;
                    let _ = tx.send(Command::Respond { channel, reply }).await;
                });
            }
            Event::Message {
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.pending_calls.remove(&request_id) {
                    let _ = reply.send(response);
                }
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                let err = match error {
                    OutboundFailure::DialFailure => RpcError::Unreachable {
                        peer: peer.to_string(),
                        reason: "dial failed (see the swarm log)".into(),
                    },
                    OutboundFailure::Timeout => RpcError::Timeout(MAX_DEADLINE),
                    OutboundFailure::UnsupportedProtocols => RpcError::UnsupportedProtocol,
                    OutboundFailure::ConnectionClosed => {
                        RpcError::Transport("connection closed before the answer".into())
                    }
                    OutboundFailure::Io(e) => RpcError::Transport(e.to_string()),
                };
                match self.pending_calls.remove(&request_id) {
                    Some(reply) => {
                        let _ = reply.send(Err(err));
                    }
                    None => tracing::debug!(%peer, "RPC notification failed: {err}"),
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, "inbound RPC failed: {error}");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn handshake_failed(
        &self,
        inbound: bool,
        peer: Option<PeerId>,
        addr: Option<Multiaddr>,
        cause: FailureCause,
        detail: &str,
    ) {
        let dir = if inbound { "from" } else { "with" };
        let who = match (&peer, &addr) {
            (Some(p), Some(a)) => format!("{a}/p2p/{p}"),
            (Some(p), None) => p.to_string(),
            (None, Some(a)) => a.to_string(),
            (None, None) => "a peer".into(),
        };
        let message = match (cause, self.pnet) {
            (FailureCause::SecretMismatch, true) => format!(
                "connection {dir} {who} failed during the handshake: secret mismatch? \
                 the peer's cluster secret differs (or it has none); check `cluster.secret` on both peers ({detail})"
            ),
            (FailureCause::SecretMismatch, false) => format!(
                "connection {dir} {who} failed during the handshake: secret mismatch? \
                 the peer's cluster secret differs: it may use one and this peer has none ({detail})"
            ),
            _ => format!("connection {dir} {who} failed: {detail}"),
        };
        if cause == FailureCause::SecretMismatch {
            tracing::warn!("{message}");
        } else {
            tracing::info!("{message}");
        }
        self.notice(SwarmNotice::HandshakeFailed(HandshakeFailure {
            inbound,
            peer,
            addr,
            cause,
            message,
        }));
    }

    fn write_peerstore(&self) {
        let Some(path) = &self.peerstore else {
            return;
        };
        let lines: Vec<Multiaddr> = self
            .addrs
            .iter()
            .flat_map(|(p, set)| {
                set.iter()
                    .map(move |a| a.clone().with(libp2p::multiaddr::Protocol::P2p(*p)))
            })
            .collect();
        if let Err(e) = peerstore::write(path, &lines) {
            tracing::warn!("cannot write the peerstore {}: {e}", path.display());
        }
    }
}

/// A dial error (its Debug form, which keeps the io error kinds of the whole chain) →
/// refused/unreachable, or a failure after TCP connected.
pub(crate) fn classify(debug: &str) -> FailureCause {
    const UNREACHABLE: &[&str] = &[
        "ConnectionRefused",
        "HostUnreachable",
        "NetworkUnreachable",
        "AddrNotAvailable",
        "AddrInUse",
        "PermissionDenied",
        "MultiaddrNotSupported",
    ];
    if UNREACHABLE.iter().any(|k| debug.contains(k)) {
        FailureCause::Unreachable
    } else {
        FailureCause::SecretMismatch
    }
}

/// Whether an address a peer reported is worth keeping (and dialing later).
fn storable(a: &Multiaddr) -> bool {
    use libp2p::multiaddr::Protocol;
    a.iter().all(|p| match p {
        Protocol::Ip4(ip) => !ip.is_unspecified(),
        Protocol::Ip6(ip) => !ip.is_unspecified(),
        Protocol::P2pCircuit => false,
        _ => true,
    })
}
