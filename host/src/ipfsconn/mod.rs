//! The IPFS connector: how a cluster peer drives its IPFS node. [`IpfsConnector`] is the
//! handle the façade and the tracker hold (a cheap clone); behind it sits one [`IpfsBackend`]:
//! - [`kubo`]: the Kubo RPC client, for a Kubo daemon at `node_multiaddress`;
//! - [`embedded`]: Pinfold's embedded node in the same process, called directly (no HTTP, no
//!   JSON, no socket per call). Its Kubo RPC server still runs for users and other tools; the
//!   peer itself no longer goes through it.
//!
//! Both give the same answers and the same error texts: the embedded backend mirrors what the
//! node's Kubo RPC server (`ipfs/api/`) answers, and the tests in `tests.rs` run one body against
//! both. What the two share lives in the handle: "already pinned" short-cuts, `pin/update` when
//! the pin replaces a recursive one, `unpin_disable`, the `/ipfs/<cid>` short-cut of `resolve`,
//! and `pin_timeout`, which is a **stall** timeout: a pin is cancelled (its future dropped, which
//! for Kubo closes the connection) only when its progress has not grown for that long, so a big
//! DAG that keeps arriving is never cut off, while a pin whose blocks nobody has ends. The
//! other timeouts of `ipfs_connector.ipfshttp` (`ipfs_request_timeout`, `unpin_timeout`,
//! `repogc_timeout`) bound each call in both backends.
//!
//! Deliberate difference from Go: listing pins walks both `recursive` and `direct` pins (Go's
//! loop stops after the first type, so direct pins showed as `unexpectedly_unpinned`).

pub(crate) mod embedded;
pub(crate) mod kubo;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::Deserialize;
use tokio::time::Instant;

use crate::ipfs::node::{Node, NodeError};
use crate::types::PinMode;

/// Settings of the connector (the `ipfs_connector.ipfshttp` keys it uses).
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// `http://host:port`, derived from `node_multiaddress` (the Kubo backend only).
    pub base_url: String,
    pub request_timeout: Duration,
    pub pin_timeout: Duration,
    pub unpin_timeout: Duration,
    pub repogc_timeout: Duration,
    pub unpin_disable: bool,
}

impl ConnectorConfig {
    /// IPFS Cluster's defaults for a node at `base_url`.
    pub fn with_defaults(base_url: impl Into<String>) -> Self {
        ConnectorConfig {
            base_url: base_url.into(),
            request_timeout: Duration::from_secs(300),
            pin_timeout: Duration::from_secs(120),
            unpin_timeout: Duration::from_secs(3 * 3600),
            repogc_timeout: Duration::from_secs(24 * 3600),
            unpin_disable: false,
        }
    }
}

/// Errors talking to the IPFS node.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("IPFS request failed (is it running?) ({path}): {reason}")]
    Unreachable { path: String, reason: String },
    /// The node answered with an error (Kubo's `Message`).
    #[error("IPFS error ({path}): {message}")]
    Ipfs {
        path: String,
        status: u16,
        message: String,
    },
    /// The embedded node failed a call; the text is the one its Kubo RPC server would send
    /// (`context` is the prefix the server puts before the node's error, e.g. `pin: `).
    #[error("IPFS error ({path}): {context}{source}")]
    Node {
        path: &'static str,
        context: &'static str,
        #[source]
        source: Box<NodeError>,
    },
    #[error("IPFS request timed out ({path}) after {after:?}")]
    Timeout { path: String, after: Duration },
    #[error("pin/add of {cid} stalled: no progress for {after:?} (pin_timeout)")]
    Stalled { cid: Cid, after: Duration },
    #[error("unexpected answer from IPFS ({path}): {reason}")]
    Protocol { path: String, reason: String },
    #[error("ipfs unpinning is disallowed by configuration on this peer")]
    UnpinDisabled,
}

/// What the node says about one CID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpfsPinStatus {
    Recursive,
    Direct,
    Indirect,
    Unpinned,
}

impl IpfsPinStatus {
    /// True when the node keeps the CID the way `mode` asks.
    pub fn satisfies(self, mode: PinMode) -> bool {
        match mode {
            PinMode::Recursive => self == IpfsPinStatus::Recursive,
            PinMode::Direct => matches!(self, IpfsPinStatus::Direct | IpfsPinStatus::Recursive),
        }
    }

    /// From a pin type as `pin/ls` writes it (`indirect through <root>` included).
    fn from_type(t: &str) -> IpfsPinStatus {
        match t {
            "recursive" => IpfsPinStatus::Recursive,
            "direct" => IpfsPinStatus::Direct,
            t if t.starts_with("indirect") => IpfsPinStatus::Indirect,
            _ => IpfsPinStatus::Unpinned,
        }
    }
}

/// The node's identity as `id` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct IpfsNodeId {
    #[serde(rename = "ID")]
    pub(crate) id: String,
    #[serde(rename = "Addresses", default)]
    pub(crate) addresses: Option<Vec<String>>,
}

/// `repo/stat?size-only=true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) struct RepoStat {
    #[serde(rename = "RepoSize")]
    pub(crate) repo_size: u64,
    #[serde(rename = "StorageMax")]
    pub(crate) storage_max: u64,
}

/// One line of `repo/gc`: a removed block, or (without `key`) an error met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GcKey {
    pub(crate) key: Option<Cid>,
    pub(crate) error: String,
}

/// The pins of a node, streamed: `(cid, status)`.
pub(crate) type PinStream = BoxStream<'static, Result<(Cid, IpfsPinStatus), ConnectorError>>;

/// One way to reach an IPFS node: the operations the cluster and the tracker use. Futures
/// are boxed so that the handle can hold any backend as `Arc<dyn IpfsBackend>`.
pub(crate) trait IpfsBackend: Send + Sync + std::fmt::Debug {
    /// `id`: also the readiness probe.
    fn id(&self) -> BoxFuture<'_, Result<IpfsNodeId, ConnectorError>>;
    /// How the node pins `cid` now (not pinned is [`IpfsPinStatus::Unpinned`], not an error).
    fn pin_ls_cid<'a>(
        &'a self,
        cid: &'a Cid,
    ) -> BoxFuture<'a, Result<IpfsPinStatus, ConnectorError>>;
    /// `pin/add`, reporting blocks visited to `progress`; no timeout of its own (the handle
    /// drops the future when progress stalls).
    fn pin_add<'a>(
        &'a self,
        cid: &'a Cid,
        mode: PinMode,
        progress: &'a mut (dyn FnMut(u64) + Send),
    ) -> BoxFuture<'a, Result<(), ConnectorError>>;
    /// `pin/update` keeping the old pin; no timeout (as IPFS Cluster).
    fn pin_update<'a>(
        &'a self,
        from: &'a Cid,
        to: &'a Cid,
    ) -> BoxFuture<'a, Result<(), ConnectorError>>;
    /// `pin/rm`; "not pinned" counts as success.
    fn unpin<'a>(&'a self, cid: &'a Cid) -> BoxFuture<'a, Result<(), ConnectorError>>;
    /// Every recursive pin, then every direct one.
    fn pin_ls(&self) -> BoxFuture<'_, Result<PinStream, ConnectorError>>;
    fn repo_stat(&self) -> BoxFuture<'_, Result<RepoStat, ConnectorError>>;
    fn repo_gc(&self) -> BoxFuture<'_, Result<Vec<GcKey>, ConnectorError>>;
    /// Resolves a path that is more than `/ipfs/<cid>` (the handle answers that one).
    fn resolve<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Cid, ConnectorError>>;
    /// Stores blocks (not pinned), all of the first block's CID version, codec and hash.
    fn block_put(&self, blocks: Vec<(Cid, Bytes)>) -> BoxFuture<'_, Result<(), ConnectorError>>;
    fn swarm_connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, Result<(), ConnectorError>>;
}

/// The connector handle: one backend and the settings every backend shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct IpfsConnector {
    backend: Arc<dyn IpfsBackend>,
    pin_timeout: Duration,
    unpin_disable: bool,
}

impl IpfsConnector {
    /// The Kubo RPC client for the node at `config.base_url`.
    pub fn kubo(config: ConnectorConfig) -> Result<Self, ConnectorError> {
        let (pin_timeout, unpin_disable) = (config.pin_timeout, config.unpin_disable);
        Ok(IpfsConnector {
            backend: Arc::new(kubo::KuboBackend::new(config)?),
            pin_timeout,
            unpin_disable,
        })
    }

    /// The embedded `node`, called in this process (`config.base_url` is not used).
    pub fn embedded(node: Arc<Node>, config: ConnectorConfig) -> Self {
        let (pin_timeout, unpin_disable) = (config.pin_timeout, config.unpin_disable);
        IpfsConnector {
            backend: Arc::new(embedded::EmbeddedBackend::new(node, config)),
            pin_timeout,
            unpin_disable,
        }
    }

    /// `id`: also the readiness probe.
    pub(crate) async fn id(&self) -> Result<IpfsNodeId, ConnectorError> {
        self.backend.id().await
    }

    /// How the node pins `cid` now.
    pub async fn pin_ls_cid(&self, cid: &Cid) -> Result<IpfsPinStatus, ConnectorError> {
        self.backend.pin_ls_cid(cid).await
    }

    /// Pins `cid` unless it already is, reporting the number of blocks fetched so far; gives
    /// up when progress stalls for `pin_timeout`. With `update_from` pinned recursively, uses
    /// `pin/update` (keeping the old pin) so shared blocks are not fetched twice.
    pub async fn pin(
        &self,
        cid: &Cid,
        mode: PinMode,
        update_from: Option<&Cid>,
        mut on_progress: impl FnMut(u64) + Send,
    ) -> Result<(), ConnectorError> {
        if self.backend.pin_ls_cid(cid).await?.satisfies(mode) {
            return Ok(());
        }
        if let Some(from) = update_from
            && mode == PinMode::Recursive
            && self.backend.pin_ls_cid(from).await? == IpfsPinStatus::Recursive
        {
            return self.backend.pin_update(from, cid).await;
        }
        let stall = self.pin_timeout;
        // the stall deadline also covers waiting for the first progress: a node that finds no
        // block at all may report nothing
        let last = Mutex::new(Instant::now());
        let last_progress = || *last.lock().expect("progress lock");
        let mut best = 0u64;
        let mut progress = |p: u64| {
            if p > best {
                best = p;
                *last.lock().expect("progress lock") = Instant::now();
                on_progress(p);
            }
        };
        let pinning = self.backend.pin_add(cid, mode, &mut progress);
        tokio::pin!(pinning);
        loop {
            let deadline = last_progress() + stall;
            tokio::select! {
                biased;
                done = &mut pinning => return done,
                () = tokio::time::sleep_until(deadline) => {
                    if last_progress() + stall <= Instant::now() {
                        return Err(ConnectorError::Stalled { cid: *cid, after: stall });
                    }
                }
            }
        }
    }

    /// Unpins `cid`; "not pinned" counts as success.
    pub async fn unpin(&self, cid: &Cid) -> Result<(), ConnectorError> {
        if self.unpin_disable {
            return Err(ConnectorError::UnpinDisabled);
        }
        self.backend.unpin(cid).await
    }

    /// Every recursive and direct pin of the node, streamed: `(cid, status)`.
    pub async fn pin_ls(
        &self,
    ) -> Result<
        impl futures::Stream<Item = Result<(Cid, IpfsPinStatus), ConnectorError>> + Send + 'static,
        ConnectorError,
    > {
        self.backend.pin_ls().await
    }

    pub(crate) async fn repo_stat(&self) -> Result<RepoStat, ConnectorError> {
        self.backend.repo_stat().await
    }

    pub(crate) async fn repo_gc(&self) -> Result<Vec<GcKey>, ConnectorError> {
        self.backend.repo_gc().await
    }

    /// Resolves an IPFS path to the CID it names (a bare `/ipfs/<cid>` needs no call).
    pub(crate) async fn resolve(&self, path: &str) -> Result<Cid, ConnectorError> {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if segs.len() == 2
            && segs[0] == "ipfs"
            && let Ok(c) = Cid::try_from(segs[1])
        {
            return Ok(c);
        }
        self.backend.resolve(path).await
    }

    /// Stores blocks (not pinned); all must share the first block's CID version, codec and
    /// hash. Checks that the node keeps them under the same CIDs.
    pub(crate) async fn block_put(&self, blocks: Vec<(Cid, Bytes)>) -> Result<(), ConnectorError> {
        if blocks.is_empty() {
            return Ok(());
        }
        self.backend.block_put(blocks).await
    }

    pub(crate) async fn swarm_connect(&self, addr: &str) -> Result<(), ConnectorError> {
        self.backend.swarm_connect(addr).await
    }
}
