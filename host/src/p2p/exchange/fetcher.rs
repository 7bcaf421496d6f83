//! The client half: [`SwarmFetcher`], the embedded node's [`BlockFetcher`] on the swarm.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use futures::AsyncWriteExt;
use futures::future::BoxFuture;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use super::{PROTOCOL, wire};
use crate::ipfs::fetch::{BlockFetcher, FetchError};
use crate::ipfs::hash;
use crate::p2p::swarm::Streams;
use libp2p_identity::PeerId;

/// Limits and pacing of the client side.
#[derive(Debug, Clone)]
pub struct FetcherConfig {
    /// Most want-list streams open at once, over all peers.
    pub max_streams: usize,
    /// Most want-list streams open at once to one peer.
    pub max_streams_per_peer: usize,
    /// Most wants in one stream (at most [`wire::MAX_WANTS`]).
    pub batch: usize,
    /// How long a want rests after every connected peer said "have not".
    pub retry_interval: Duration,
    /// Each answer must arrive within this of the previous one.
    pub idle_timeout: Duration,
}

impl Default for FetcherConfig {
    fn default() -> Self {
        FetcherConfig {
            max_streams: 16,
            max_streams_per_peer: 4,
            batch: 64,
            retry_interval: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// Counters of the client side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetcherStats {
    /// Verified blocks handed to waiters.
    pub blocks: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Blocks that did not hash to their CID (dropped).
    pub rejected: u64,
    /// "Have not" answers.
    pub have_not: u64,
    /// Want-list streams opened.
    pub streams: u64,
    /// Streams that failed (could not open, broke, protocol violation, time-out).
    pub stream_errors: u64,
    /// Most streams open at once so far.
    pub max_concurrent_streams: usize,
    /// Most wants in one stream so far.
    pub max_batch: usize,
}

struct Want {
    waiters: Vec<(u64, oneshot::Sender<Bytes>)>,
    /// Peers asked in this round (and that did not have it).
    tried: HashSet<PeerId>,
    in_flight: bool,
    not_before: Instant,
}

#[derive(Default)]
struct State {
    wants: HashMap<Cid, Want>,
    next_waiter: u64,
    per_peer: HashMap<PeerId, usize>,
    open: usize,
    stats: FetcherStats,
}

struct Inner {
    config: FetcherConfig,
    state: Mutex<State>,
    wake: Arc<Notify>,
    streams: OnceLock<Streams>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Fetches blocks from the connected cluster peers (see the module essay). Cheap to clone.
#[derive(Clone)]
pub struct SwarmFetcher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SwarmFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwarmFetcher")
            .field("bound", &self.inner.streams.get().is_some())
            .finish_non_exhaustive()
    }
}

impl SwarmFetcher {
    /// An unbound fetcher: fetches wait until [`SwarmFetcher::bind`].
    pub fn new(config: FetcherConfig) -> SwarmFetcher {
        let mut config = config;
        config.batch = config.batch.clamp(1, wire::MAX_WANTS);
        config.max_streams = config.max_streams.max(1);
        config.max_streams_per_peer = config.max_streams_per_peer.max(1);
        SwarmFetcher {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::default()),
                wake: Arc::new(Notify::new()),
                streams: OnceLock::new(),
            }),
        }
    }

    /// Binds to a running swarm and starts the scheduler task (call within a tokio runtime).
    /// Only the first call binds; later ones return `false`.
    pub fn bind(&self, streams: Streams) -> bool {
        if self.inner.streams.set(streams.clone()).is_err() {
            return false;
        }
        tokio::spawn(schedule(Arc::downgrade(&self.inner), streams));
        true
    }

    #[cfg(test)]
    /// Counters so far.
    pub fn stats(&self) -> FetcherStats {
        self.inner.lock().stats
    }

    #[cfg(test)]
    /// CIDs currently wanted.
    pub fn wanted(&self) -> usize {
        self.inner.lock().wants.len()
    }
}

/// Withdraws a waiter when its fetch future is dropped.
struct WaiterGuard<'a> {
    inner: &'a Inner,
    cid: Cid,
    id: u64,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        if let Some(w) = st.wants.get_mut(&self.cid) {
            w.waiters.retain(|(id, _)| *id != self.id);
            if w.waiters.is_empty() {
                st.wants.remove(&self.cid);
            }
        }
    }
}

impl BlockFetcher for SwarmFetcher {
    fn fetch<'a>(&'a self, cid: &'a Cid) -> BoxFuture<'a, Result<Bytes, FetchError>> {
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            let id = {
                let mut st = self.inner.lock();
                let id = st.next_waiter;
                st.next_waiter += 1;
                st.wants
                    .entry(*cid)
                    .or_insert_with(|| Want {
                        waiters: Vec::new(),
                        tried: HashSet::new(),
                        in_flight: false,
                        not_before: Instant::now(),
                    })
                    .waiters
                    .push((id, tx));
                id
            };
            let _guard = WaiterGuard {
                inner: &self.inner,
                cid: *cid,
                id,
            };
            self.inner.wake.notify_one();
            match rx.await {
                Ok(data) => Ok(data),
                // the sender went without a block: only if the want was dropped under us
                Err(_) => futures::future::pending().await,
            }
        })
    }
}

/// The scheduler: forms batches and starts their streams, until the swarm stops or the
/// fetcher is dropped.
async fn schedule(inner: Weak<Inner>, streams: Streams) {
    let mut connected = streams.connected();
    let local = streams.local_peer_id();
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let peers: Vec<PeerId> = connected
            .borrow_and_update()
            .iter()
            .copied()
            .filter(|p| *p != local)
            .collect();
        let next_rest = start_batches(&strong, &streams, &peers);
        let woken = strong.wake.clone();
        drop(strong); // waiting must not keep a dropped fetcher alive
        let rest = async {
            match next_rest {
                Some(t) => tokio::time::sleep_until(t).await,
                None => futures::future::pending().await,
            }
        };
        tokio::select! {
            _ = woken.notified() => {}
            changed = connected.changed() => {
                if changed.is_err() {
                    tracing::debug!("block fetcher: the swarm stopped");
                    return;
                }
                // a new peer ends every rest
                let Some(strong) = inner.upgrade() else {
                    return;
                };
                let mut st = strong.lock();
                let now = Instant::now();
                for w in st.wants.values_mut() {
                    w.not_before = w.not_before.min(now);
                }
            }
            _ = rest => {}
        }
    }
}

/// Assigns ready wants to peers and spawns the streams the limits allow. Returns when the
/// earliest resting want becomes ready.
fn start_batches(inner: &Arc<Inner>, streams: &Streams, peers: &[PeerId]) -> Option<Instant> {
    let cfg = &inner.config;
    let now = Instant::now();
    let mut st = inner.lock();
    if peers.is_empty() || st.wants.is_empty() {
        return None;
    }
    let mut next_rest: Option<Instant> = None;
    let mut batches: HashMap<PeerId, Vec<Cid>> = HashMap::new();
    let State {
        wants,
        per_peer,
        open,
        stats,
        ..
    } = &mut *st;
    let mut planned_open = *open;
    let mut planned: HashMap<PeerId, usize> = HashMap::new();
    for (cid, w) in wants.iter_mut() {
        if w.in_flight {
            continue;
        }
        if w.not_before > now {
            next_rest = Some(next_rest.map_or(w.not_before, |t| t.min(w.not_before)));
            continue;
        }
        let candidates: Vec<PeerId> = peers
            .iter()
            .copied()
            .filter(|p| !w.tried.contains(p))
            .collect();
        if candidates.is_empty() {
            // everyone said no: rest, then a new round
            w.tried.clear();
            w.not_before = now + cfg.retry_interval;
            next_rest = Some(next_rest.map_or(w.not_before, |t| t.min(w.not_before)));
            continue;
        }
        // the least loaded candidate that still has room (counting batches being formed)
        let load = |p: &PeerId| {
            per_peer.get(p).copied().unwrap_or(0) * cfg.batch
                + batches.get(p).map_or(0, |b| b.len())
        };
        let Some(peer) = candidates.iter().copied().min_by_key(load) else {
            continue;
        };
        let b = batches.entry(peer).or_default();
        if b.len().is_multiple_of(cfg.batch) {
            // this want opens a new stream for `peer`
            let peer_streams = per_peer.get(&peer).copied().unwrap_or(0)
                + planned.get(&peer).copied().unwrap_or(0);
            if planned_open >= cfg.max_streams || peer_streams >= cfg.max_streams_per_peer {
                continue; // no room now; a finishing stream wakes the scheduler
            }
            planned_open += 1;
            *planned.entry(peer).or_default() += 1;
        }
        b.push(*cid);
        w.in_flight = true;
    }
    for (peer, cids) in batches {
        for chunk in cids.chunks(cfg.batch) {
            *open += 1;
            *per_peer.entry(peer).or_default() += 1;
            stats.streams += 1;
            stats.max_concurrent_streams = stats.max_concurrent_streams.max(*open);
            stats.max_batch = stats.max_batch.max(chunk.len());
            tokio::spawn(run_stream(
                inner.clone(),
                streams.clone(),
                peer,
                chunk.to_vec(),
            ));
        }
    }
    next_rest
}

/// One want-list to one peer: delivers verified blocks as they arrive, then puts what is
/// left back into the schedule (that peer counted as asked).
async fn run_stream(inner: Arc<Inner>, streams: Streams, peer: PeerId, cids: Vec<Cid>) {
    let mut answered = 0usize;
    let result = ask(&inner, &streams, peer, &cids, &mut answered).await;
    let mut st = inner.lock();
    if let Err(e) = &result {
        st.stats.stream_errors += 1;
        tracing::debug!(%peer, "block exchange: want-list failed after {answered} answers: {e}");
    }
    // every want of the batch that is still wanted goes back, with `peer` asked
    for cid in &cids {
        if let Some(w) = st.wants.get_mut(cid) {
            w.in_flight = false;
            w.tried.insert(peer);
        }
    }
    st.open -= 1;
    if let Some(n) = st.per_peer.get_mut(&peer) {
        *n -= 1;
        if *n == 0 {
            st.per_peer.remove(&peer);
        }
    }
    drop(st);
    inner.wake.notify_one();
}

async fn ask(
    inner: &Inner,
    streams: &Streams,
    peer: PeerId,
    cids: &[Cid],
    answered: &mut usize,
) -> Result<(), String> {
    let idle = inner.config.idle_timeout;
    let stream = tokio::time::timeout(idle, streams.open(peer, PROTOCOL))
        .await
        .map_err(|_| "timed out opening the stream".to_string())?
        .map_err(|e| e.to_string())?;
    let mut stream = futures::io::BufReader::with_capacity(64 * 1024, stream);
    tokio::time::timeout(idle, async {
        wire::write_request(stream.get_mut(), cids).await?;
        stream.get_mut().close().await?;
        Ok::<_, wire::WireError>(())
    })
    .await
    .map_err(|_| "timed out sending the want-list".to_string())?
    .map_err(|e| e.to_string())?;
    for cid in cids {
        let answer = tokio::time::timeout(idle, wire::read_answer(&mut stream))
            .await
            .map_err(|_| format!("no answer within {idle:?}"))?
            .map_err(|e| e.to_string())?;
        *answered += 1;
        match answer {
            wire::Answer::HaveNot => inner.lock().stats.have_not += 1,
            wire::Answer::Block(data) => {
                if !matches!(hash::verify(cid, &data), Ok(true)) {
                    tracing::warn!(%peer, %cid, "block exchange: the peer sent a block that does not match its CID; dropped");
                    inner.lock().stats.rejected += 1;
                    continue;
                }
                let mut st = inner.lock();
                st.stats.blocks += 1;
                st.stats.bytes += data.len() as u64;
                if let Some(w) = st.wants.remove(cid) {
                    for (_, tx) in w.waiters {
                        let _ = tx.send(data.clone());
                    }
                }
            }
        }
    }
    Ok(())
}
