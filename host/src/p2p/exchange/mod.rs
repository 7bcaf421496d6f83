//! Block exchange between cluster peers: `/pinfold/blocks/0.1.0` on the private swarm.
//!
//! # What it owns
//! How an embedded IPFS node gets the blocks it lacks from the other cluster peers. Two halves:
//! * the **server** ([`serve`]) answers want-lists from the local [`Node`]'s blockstore and
//!   from nothing else: it never asks its own fetcher, so two peers that both lack a block
//!   cannot ask each other in a loop;
//! * the **client** ([`SwarmFetcher`]) is the node's [`BlockFetcher`]: it gathers the blocks
//!   the node is waiting for into want-lists, asks the connected cluster peers, verifies each
//!   block against its CID and hands it to every waiter.
//!
//! The swarm is private (pnet with the cluster secret), so "a connected peer" already means
//! "a holder of the secret"; a peer without it never connects and gets nothing.
//!
//! # Protocol (see [`wire`])
//! One libp2p stream per want-list: the opener writes up to [`wire::MAX_WANTS`] CIDs and
//! closes its write half; the server answers each, in order, with "have not" or the block, and
//! closes. Blocks go one at a time, read from the store just before being written, so the
//! server holds at most one block per stream and yamux's flow control (256 KiB window) paces
//! it to the reader. A block above [`wire::MAX_BLOCK_BYTES`] (4 MiB) is a protocol violation.
//!
//! **Why a raw stream (`libp2p-stream`) and not request/response**: a want-list's answer can
//! be large (hundreds of blocks). With request-response the whole answer is one message,
//! buffered entirely on both sides and bounded by one size limit; the cbor codec also copies
//! it. A stream lets the server send, and the client verify and deliver, block by block, with
//! memory bounded by one block per stream whatever the batch size, and lets the first blocks
//! reach the node while the rest are still on the wire. Stream opening costs one
//! multistream-select round trip on an already open yamux connection, amortised by batching.
//! The same behaviour carries REST over libp2p (`/libp2p-http`), which needs raw streams anyway.
//!
//! # Client behaviour and defaults ([`FetcherConfig`])
//! * Every `fetch` registers a want; concurrent fetches of the same CID share it. Dropping the
//!   future withdraws the waiter; a want without waiters is forgotten (a block already on its
//!   way is then discarded).
//! * A scheduler task batches the ready wants (up to 64 per stream) and sends each batch to one
//!   connected peer that has not yet been asked for it in this round, the least loaded first.
//!   At most 16 streams are open at once, at most 4 per peer.
//! * A block that does not hash to its CID is dropped and counted ([`FetcherStats::rejected`]);
//!   that peer counts as "asked" for the want, which goes to the next peer.
//! * When every connected peer has said "have not" (or failed), the want rests for
//!   `retry_interval` (1 s) and the round starts again; a peer that connects ends the rest. The
//!   fetch never fails on its own: as `fetch.rs` says, the node's deadline ends the wait.
//! * Before [`SwarmFetcher::bind`] (and while no peer is connected) fetches just wait.
//! * Each answer must arrive within `idle_timeout` (30 s) of the previous one.
//!
//! * Memory: per open stream a 64 KiB read buffer and the one block being read (at most
//!   4 MiB, typically 256 KiB); delivered blocks belong to their waiters. Batching needs several
//!   wants at once: pinning walks a DAG with [`Node::gather_dag`], 64 blocks in flight, so the
//!   scheduler sees up to 64 wants together (a one-block-at-a-time walk would pay a round trip
//!   per block).
//!
//! # Measured
//! `exchange_throughput_64mib` (ignored by default; run it in release): figures in
//! `docs/benchmarks.md`. A debug build is an order of magnitude slower (unoptimised
//! noise/pnet ciphers and yamux).
//!
//! # Server defaults ([`ServerConfig`])
//! At most 64 inbound streams are served at once; a stream beyond that is reset at once (the
//! asker moves on to another peer and comes back after its rest). The want-list must arrive
//! within 30 s and each answer must be taken by the reader within 60 s.
//!
//! # Construction (late binding)
//! The node needs its fetcher when it opens, the swarm is started after, and the server needs
//! the node. So: `let fetcher = SwarmFetcher::new(FetcherConfig::default());` →
//! `Node::open_with_fetcher(opts, fetcher.clone())` → start the swarm →
//! `fetcher.bind(swarm.streams())` → `exchange::serve(&swarm.streams(), node.clone())`.
//! Neither half keeps the swarm task alive ([`Streams`] holds no command sender); both stop
//! when the swarm stops.

mod fetcher;
#[cfg(test)]
mod tests;
pub mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures::AsyncWriteExt;
use tokio::sync::Semaphore;

use crate::ipfs::node::Node;
use crate::p2p::swarm::{StreamError, Streams};

pub use fetcher::{FetcherConfig, SwarmFetcher};

#[allow(unused_imports)] // named in the essay
use crate::ipfs::fetch::BlockFetcher;

/// The protocol id of the block exchange.
pub const PROTOCOL: &str = "/pinfold/blocks/0.1.0";

/// Limits of the server side.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Most inbound streams served at once; more are reset.
    pub max_streams: usize,
    /// The want-list must arrive within this.
    pub request_timeout: Duration,
    /// Each answer must be written (taken by the reader) within this.
    pub write_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_streams: 64,
            request_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(60),
        }
    }
}

/// Counters of the server side.
#[derive(Debug, Default)]
pub struct ServerStats {
    streams: AtomicU64,
    refused: AtomicU64,
    blocks_sent: AtomicU64,
    bytes_sent: AtomicU64,
    have_not: AtomicU64,
    active: AtomicUsize,
    max_active: AtomicUsize,
}

#[cfg(test)]
/// A snapshot of [`ServerStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerCounters {
    /// Streams served.
    pub streams: u64,
    /// Streams reset because `max_streams` were being served.
    pub refused: u64,
    pub blocks_sent: u64,
    pub bytes_sent: u64,
    /// Wants answered "have not".
    pub have_not: u64,
    /// Most streams served at once so far.
    pub max_active: usize,
}

impl ServerStats {
    #[cfg(test)]
    pub fn snapshot(&self) -> ServerCounters {
        ServerCounters {
            streams: self.streams.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            blocks_sent: self.blocks_sent.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            have_not: self.have_not.load(Ordering::Relaxed),
            max_active: self.max_active.load(Ordering::Relaxed),
        }
    }
}

/// The running server side; dropping it does not stop it (it ends with the swarm), call
/// [`ExchangeServer::stop`] to stop accepting earlier.
#[derive(Debug)]
pub struct ExchangeServer {
    task: tokio::task::JoinHandle<()>,
    /// The counters the serving tasks keep (read by the tests).
    #[cfg(test)]
    stats: Arc<ServerStats>,
}

impl ExchangeServer {
    #[cfg(test)]
    /// Counters so far.
    pub fn stats(&self) -> ServerCounters {
        self.stats.snapshot()
    }

    /// Stops accepting (streams being served finish on their own).
    pub fn stop(&self) {
        self.task.abort();
    }
}

/// Serves `node`'s blocks to the swarm's peers, with the default limits. Must be called
/// within a tokio runtime.
pub fn serve(streams: &Streams, node: Arc<Node>) -> Result<ExchangeServer, StreamError> {
    serve_with(streams, node, ServerConfig::default())
}

/// [`serve`] with explicit limits.
pub fn serve_with(
    streams: &Streams,
    node: Arc<Node>,
    config: ServerConfig,
) -> Result<ExchangeServer, StreamError> {
    let mut incoming = streams.accept(PROTOCOL)?;
    let stats = Arc::new(ServerStats::default());
    let limit = Arc::new(Semaphore::new(config.max_streams.max(1)));
    let config = Arc::new(config);
    let st = stats.clone();
    let task = tokio::spawn(async move {
        while let Some((peer, stream)) = incoming.next().await {
            let Ok(permit) = limit.clone().try_acquire_owned() else {
                st.refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, "block exchange: too many streams, refusing one");
                drop(stream); // reset
                continue;
            };
            st.streams.fetch_add(1, Ordering::Relaxed);
            let active = st.active.fetch_add(1, Ordering::Relaxed) + 1;
            st.max_active.fetch_max(active, Ordering::Relaxed);
            let (node, config, st) = (node.clone(), config.clone(), st.clone());
            tokio::spawn(async move {
                if let Err(e) = answer(stream, &node, &config, &st).await {
                    tracing::debug!(%peer, "block exchange: serving a want-list failed: {e}");
                }
                st.active.fetch_sub(1, Ordering::Relaxed);
                drop(permit);
            });
        }
        tracing::debug!("block exchange server stopped");
    });
    Ok(ExchangeServer {
        task,
        #[cfg(test)]
        stats,
    })
}

/// Answers one want-list from the local store only.
async fn answer(
    stream: libp2p::Stream,
    node: &Arc<Node>,
    config: &ServerConfig,
    stats: &ServerStats,
) -> Result<(), wire::WireError> {
    let mut stream = futures::io::BufReader::new(stream);
    let wants = tokio::time::timeout(config.request_timeout, wire::read_request(&mut stream))
        .await
        .map_err(|_| timed_out("the want-list"))??;
    let mut stream = stream.into_inner();
    for cid in wants {
        let local = {
            let node = node.clone();
            tokio::task::spawn_blocking(move || node.get_local(&cid))
                .await
                .map_err(|e| wire::WireError::Protocol(format!("store read task: {e}")))?
        };
        let block = match local {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(%cid, "block exchange: cannot read a local block: {e}");
                None
            }
        };
        match &block {
            Some(b) => {
                stats.blocks_sent.fetch_add(1, Ordering::Relaxed);
                stats
                    .bytes_sent
                    .fetch_add(b.len() as u64, Ordering::Relaxed);
            }
            None => {
                stats.have_not.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::timeout(
            config.write_timeout,
            wire::write_answer(&mut stream, block.as_deref()),
        )
        .await
        .map_err(|_| timed_out("the reader"))??;
    }
    tokio::time::timeout(config.write_timeout, stream.close())
        .await
        .map_err(|_| timed_out("the close"))??;
    Ok(())
}

fn timed_out(what: &str) -> wire::WireError {
    wire::WireError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("timed out waiting for {what}"),
    ))
}
