//! The in-process backend: the connector's operations straight on the embedded
//! [`Node`], with no HTTP, no JSON and no socket per call (the tracker asks the node about a
//! pin for every status line and pins through it; this is that hot path).
//!
//! It mirrors what the node's Kubo RPC server (`ipfs/api/cmd_pins.rs`, `cmd_blocks.rs`,
//! `cmd_files.rs`, `cmd_node.rs`) does for the same request, and gives the same error texts:
//! a pin fetches missing blocks through the node's fetcher (no deadline of its own: the
//! handle's stall timeout drops the future, as closing the connection cancels the server's
//! pin), `pin/rm` of something not pinned counts as done, `block/put` holds the shared GC lock
//! and flushes before it answers. Calls that have a timeout over HTTP have the same one here
//! ([`ConnectorError::Timeout`]). Reads of the pin database and DAG walks run on the blocking
//! pool, as in the server. The node has no IPFS swarm: `swarm/connect` explains that.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tokio::time::Instant;

use super::{
    ConnectorConfig, ConnectorError, GcKey, IpfsBackend, IpfsNodeId, IpfsPinStatus, PinStream,
    RepoStat,
};
use crate::ipfs::api::cmd_files::{FetchingSource, parse_path};
use crate::ipfs::node::{Node, NodeError, PinFilter};
use crate::ipfs::pins::PinError;
use crate::ipfs::unixfs::reader;
use crate::types::PinMode;

/// The embedded node as an [`IpfsBackend`].
#[derive(Debug)]
pub(crate) struct EmbeddedBackend {
    node: Arc<Node>,
    config: ConnectorConfig,
}

impl EmbeddedBackend {
    pub(crate) fn new(node: Arc<Node>, config: ConnectorConfig) -> Self {
        EmbeddedBackend { node, config }
    }
}

/// `work`, bounded by `after` as the HTTP client bounds the same call.
async fn timed<T>(
    path: &'static str,
    after: Duration,
    work: impl Future<Output = Result<T, ConnectorError>>,
) -> Result<T, ConnectorError> {
    tokio::time::timeout(after, work)
        .await
        .map_err(|_| ConnectorError::Timeout {
            path: path.into(),
            after,
        })?
}

fn node_err(path: &'static str, context: &'static str) -> impl FnOnce(NodeError) -> ConnectorError {
    move |source| ConnectorError::Node {
        path,
        context,
        source: Box::new(source),
    }
}

/// An error the server would answer with `ApiError::normal(message)` (500).
fn normal(path: &str, message: impl Into<String>) -> ConnectorError {
    ConnectorError::Ipfs {
        path: path.into(),
        status: 500,
        message: message.into(),
    }
}

/// An error the server would answer with `ApiError::client(message)` (400).
fn client(path: &str, message: impl Into<String>) -> ConnectorError {
    ConnectorError::Ipfs {
        path: path.into(),
        status: 400,
        message: message.into(),
    }
}

/// Runs a blocking node call on the blocking pool (a panic there is a bug: passed on).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("embedded node task")
}

impl IpfsBackend for EmbeddedBackend {
    fn id(&self) -> BoxFuture<'_, Result<IpfsNodeId, ConnectorError>> {
        // `cmd_node::id`: the node knows no listen addresses of an IPFS swarm
        let id = IpfsNodeId {
            id: self.node.peer_id().to_string(),
            addresses: Some(Vec::new()),
        };
        futures::future::ready(Ok(id)).boxed()
    }

    fn pin_ls_cid<'a>(
        &'a self,
        cid: &'a Cid,
    ) -> BoxFuture<'a, Result<IpfsPinStatus, ConnectorError>> {
        let (node, cid) = (self.node.clone(), *cid);
        timed("pin/ls", self.config.request_timeout, async move {
            let listed = blocking(move || node.pin_status(&cid))
                .await
                .map_err(node_err("pin/ls", ""))?;
            Ok(listed.map_or(IpfsPinStatus::Unpinned, |p| {
                IpfsPinStatus::from_type(p.kind)
            }))
        })
        .boxed()
    }

    fn pin_add<'a>(
        &'a self,
        cid: &'a Cid,
        mode: PinMode,
        progress: &'a mut (dyn FnMut(u64) + Send),
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        async move {
            self.node
                .pin_add(std::slice::from_ref(cid), mode, "", None, progress)
                .await
                .map_err(node_err("pin/add", "pin: "))
        }
        .boxed()
    }

    fn pin_update<'a>(
        &'a self,
        from: &'a Cid,
        to: &'a Cid,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        async move {
            self.node
                .pin_update(from, to, false, None)
                .await
                .map_err(node_err("pin/update", ""))
        }
        .boxed()
    }

    fn unpin<'a>(&'a self, cid: &'a Cid) -> BoxFuture<'a, Result<(), ConnectorError>> {
        timed("pin/rm", self.config.unpin_timeout, async move {
            match self.node.pin_rm(std::slice::from_ref(cid), true).await {
                Ok(()) | Err(NodeError::Pins(PinError::NotPinned) | NodeError::NotPinned(_)) => {
                    Ok(())
                }
                Err(e) => Err(node_err("pin/rm", "")(e)),
            }
        })
        .boxed()
    }

    fn pin_ls(&self) -> BoxFuture<'_, Result<PinStream, ConnectorError>> {
        let node = self.node.clone();
        timed("pin/ls", self.config.request_timeout, async move {
            let filter = PinFilter {
                recursive: true,
                direct: true,
                indirect: false,
            };
            let listed = blocking(move || node.list_pins(filter))
                .await
                .map_err(node_err("pin/ls", ""))?;
            // recursive pins first, then direct ones, as the two HTTP listings come
            let (recursive, direct): (Vec<_>, Vec<_>) =
                listed.into_iter().partition(|p| p.kind == "recursive");
            let pins = recursive
                .into_iter()
                .chain(direct)
                .map(|p| Ok((p.cid, IpfsPinStatus::from_type(p.kind))));
            Ok(futures::stream::iter(pins.collect::<Vec<_>>()).boxed())
        })
        .boxed()
    }

    fn repo_stat(&self) -> BoxFuture<'_, Result<RepoStat, ConnectorError>> {
        let stat = RepoStat {
            repo_size: self.node.repo_size(),
            storage_max: self.node.blocks().stat().storage_max,
        };
        futures::future::ready(Ok(stat)).boxed()
    }

    fn repo_gc(&self) -> BoxFuture<'_, Result<Vec<GcKey>, ConnectorError>> {
        timed("repo/gc", self.config.repogc_timeout, async move {
            let (removed, problems) = self.node.gc().await.map_err(node_err("repo/gc", ""))?;
            let keys = removed.into_iter().map(|cid| GcKey {
                key: Some(cid),
                error: String::new(),
            });
            let errors = problems.into_iter().map(|error| GcKey { key: None, error });
            Ok(keys.chain(errors).collect())
        })
        .boxed()
    }

    fn resolve<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Cid, ConnectorError>> {
        let after = self.config.request_timeout;
        let (node, path) = (self.node.clone(), path.to_string());
        timed("resolve", after, async move {
            let (root, segs) = parse_path(&path).map_err(|e| normal("resolve", e.to_string()))?;
            let src = FetchingSource {
                node,
                rt: tokio::runtime::Handle::current(),
                // the blocking walk ends soon after the call times out (a little later, so
                // that the call reports the same timeout as over HTTP) instead of waiting for
                // blocks for ever
                deadline: Some(Instant::now() + after + Duration::from_secs(1)),
            };
            blocking(move || {
                let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
                reader::resolve_path(&src, &root, &segs)
            })
            .await
            .map_err(|e| normal("resolve", e.to_string()))
        })
        .boxed()
    }

    fn block_put(&self, blocks: Vec<(Cid, Bytes)>) -> BoxFuture<'_, Result<(), ConnectorError>> {
        timed("block/put", self.config.request_timeout, async move {
            let _gc = self.node.gc_guard().await;
            for (cid, data) in &blocks {
                // verified against its CID, as the server computes the CID from the bytes
                self.node
                    .put_block(cid, data)
                    .map_err(node_err("block/put", ""))?;
            }
            self.node.flush().map_err(node_err("block/put", ""))
        })
        .boxed()
    }

    fn swarm_connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, Result<(), ConnectorError>> {
        // `cmd_node::swarm_connect`, word for word
        let answer = match addr.parse::<multiaddr::Multiaddr>() {
            Err(e) => Err(client(
                "swarm/connect",
                format!("invalid multiaddr {addr:?}: {e}"),
            )),
            Ok(ma) if !ma.iter().any(|p| matches!(p, multiaddr::Protocol::P2p(_))) => Err(client(
                "swarm/connect",
                format!("{addr}: invalid p2p multiaddr: no /p2p/ part"),
            )),
            Ok(_) => Err(normal(
                "swarm/connect",
                format!(
                    "connect {addr} failure: the embedded IPFS node has no IPFS swarm; cluster peers exchange blocks over the cluster swarm"
                ),
            )),
        };
        futures::future::ready(answer).boxed()
    }
}
