//! Where the node gets blocks it does not have.
//!
//! Pinning a DAG needs every block of it. A block that is not in the local store is asked of
//! a [`BlockFetcher`]; the node meanwhile also watches its own store, so a block that arrives
//! by another way (`block/put`, an add, a `dag/import`) ends the wait too. The wait is bounded
//! by the request's `timeout`; without one it lasts as long as the client keeps the request
//! open, as in Kubo.
//!
//! The embedded node alone has no other peers: its fetcher is [`NoFetcher`], which never finds
//! anything. The cluster plugs in a fetcher that asks the other cluster peers over the private
//! swarm; any implementation must verify the bytes against the CID (the node checks again
//! before storing).

use bytes::Bytes;
use cid::Cid;
use futures::future::BoxFuture;

/// Errors of a fetch. A fetcher that cannot find a block should keep trying (or stay
/// pending) rather than fail: the node's deadline ends the wait.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("fetching {cid}: {reason}")]
    Failed { cid: Cid, reason: String },
}

/// A source of blocks outside the local store.
pub trait BlockFetcher: Send + Sync + std::fmt::Debug {
    /// Resolves with the block's bytes once found; may stay pending for ever.
    fn fetch<'a>(&'a self, cid: &'a Cid) -> BoxFuture<'a, Result<Bytes, FetchError>>;
}

/// The fetcher of a node without peers: it never finds a block.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFetcher;

impl BlockFetcher for NoFetcher {
    fn fetch<'a>(&'a self, _cid: &'a Cid) -> BoxFuture<'a, Result<Bytes, FetchError>> {
        Box::pin(futures::future::pending())
    }
}
