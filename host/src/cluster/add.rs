//! The add path (`POST /add`): the upload is imported on this peer, its blocks are stored on
//! the IPFS node in `block/put` batches of about [`BLOCK_BATCH_BYTES`], then the roots are
//! pinned through [`Cluster::commit_pin`] unless `no_pin`.
//!
//! A UnixFS upload is chunked by the adder as it streams in; top-level entries are output
//! after their pin, with its allocations. A CAR
//! upload (`format=car`) must have exactly one root; every block is checked against its CID
//! before it is stored.

use std::sync::Arc;

use bytes::Bytes;
use cid::Cid;
use tokio::sync::mpsc;

use super::{AddInput, AddParams, Cluster, ClusterError, ClusterResult};
use crate::ipfs::adder::{self, AddError, AddEvent, AddSettings, BlockSink};
use crate::ipfs::car::CarReader;
use crate::ipfs::unixfs::file::{Block, ImportOptions};
use crate::ipfsconn::IpfsConnector;
use crate::types::{AddedOutput, Pin};

/// Bytes of blocks per `block/put` request of an add.
const BLOCK_BATCH_BYTES: usize = 1 << 20;

impl Cluster {
    /// Adds an upload (a CAR with `params.car`, else UnixFS), sending outputs to `tx`.
    pub(super) async fn add(
        self: Arc<Self>,
        input: AddInput,
        params: AddParams,
        tx: mpsc::Sender<ClusterResult<AddedOutput>>,
    ) -> ClusterResult<()> {
        self.check_writable()?;
        if params.car {
            self.add_car(input, params, tx).await
        } else {
            self.add_unixfs(input, params, tx).await
        }
    }

    /// Adds a CAR upload: every block verified and stored, then the single root pinned.
    async fn add_car(
        self: Arc<Self>,
        mut input: AddInput,
        params: AddParams,
        tx: mpsc::Sender<ClusterResult<AddedOutput>>,
    ) -> ClusterResult<()> {
        let Some(_) = input
            .next_entry()
            .await
            .map_err(|e| ClusterError::BadRequest(e.message))?
        else {
            return Err(ClusterError::BadRequest("no file in the upload".into()));
        };
        let chunks = futures::stream::unfold(&mut input, |p| async move {
            match p.next_chunk().await {
                Ok(Some(c)) => Some((Ok::<_, std::io::Error>(c), p)),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e.message)), p)),
            }
        });
        let reader = tokio_util::io::StreamReader::new(Box::pin(chunks));
        let (mut car, header) = CarReader::new(reader).await.map_err(ClusterError::Car)?;
        if header.roots.len() != 1 {
            return Err(ClusterError::BadRequest(format!(
                "the CAR must have exactly one root (it has {})",
                header.roots.len()
            )));
        }
        let root = header.roots[0];
        let mut batch: Vec<(Cid, Bytes)> = Vec::new();
        let (mut bytes, mut batch_bytes) = (0u64, 0usize);
        while let Some((cid, data)) = car.next_block().await.map_err(ClusterError::Car)? {
            if !crate::ipfs::hash::verify(&cid, &data).map_err(ClusterError::BlockHash)? {
                return Err(ClusterError::BadRequest(format!(
                    "block {cid} does not match its CID"
                )));
            }
            bytes += data.len() as u64;
            batch_bytes += data.len();
            batch.push((cid, data));
            if batch_bytes >= BLOCK_BATCH_BYTES {
                self.ipfs
                    .block_put(std::mem::take(&mut batch))
                    .await
                    .map_err(ClusterError::Ipfs)?;
                batch_bytes = 0;
            }
        }
        self.ipfs
            .block_put(batch)
            .await
            .map_err(ClusterError::Ipfs)?;
        let mut allocations = Vec::new();
        if !params.no_pin {
            allocations = self
                .commit_pin(Pin::new(root, params.pin_options.clone()))
                .await?
                .allocations;
        }
        let name = if params.pin_options.name.is_empty() {
            root.to_string()
        } else {
            params.pin_options.name.clone()
        };
        let _ = tx
            .send(Ok(AddedOutput {
                name,
                cid: Some(root),
                bytes,
                size: 0,
                allocations,
            }))
            .await;
        Ok(())
    }

    /// Adds a UnixFS upload: imported here, blocks sent to the IPFS node, roots pinned.
    async fn add_unixfs(
        self: Arc<Self>,
        mut input: AddInput,
        params: AddParams,
        tx: mpsc::Sender<ClusterResult<AddedOutput>>,
    ) -> ClusterResult<()> {
        let import = ImportOptions::resolve(
            params.cid_version,
            params.raw_leaves,
            params.chunker.as_deref(),
            params.layout_trickle,
            params.hash.as_deref(),
        )
        .map_err(|e| ClusterError::BadRequest(e.to_string()))?;
        let settings = AddSettings {
            import,
            wrap: params.wrap_with_directory,
            progress: params.progress,
            default_meta: Default::default(),
            // IPFS Cluster's add keeps no file metadata (its AddParams have no preserve options)
            preserve_mode: false,
            preserve_mtime: false,
        };
        let sink = ConnectorSink {
            ipfs: self.ipfs.clone(),
            rt: tokio::runtime::Handle::current(),
            batch: Vec::new(),
            bytes: 0,
        };
        let (events_tx, mut events) = mpsc::channel::<AddEvent>(64);
        let forward = {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut roots: Vec<(String, Cid, u64)> = Vec::new();
                while let Some(e) = events.recv().await {
                    match e {
                        AddEvent::Progress { name, bytes } => {
                            let _ = tx
                                .send(Ok(AddedOutput {
                                    name,
                                    cid: None,
                                    bytes,
                                    size: 0,
                                    allocations: Vec::new(),
                                }))
                                .await;
                        }
                        AddEvent::Entry {
                            name,
                            cid,
                            size,
                            top_level,
                        } => {
                            if top_level {
                                roots.push((name, cid, size)); // output after pinning, with allocations
                            } else {
                                let _ = tx
                                    .send(Ok(AddedOutput {
                                        name,
                                        cid: Some(cid),
                                        bytes: 0,
                                        size,
                                        allocations: Vec::new(),
                                    }))
                                    .await;
                            }
                        }
                    }
                }
                roots
            })
        };
        let added = adder::add(&mut input, settings, sink, events_tx).await;
        let roots = forward.await.map_err(ClusterError::Task)?;
        added.map_err(|e| match e {
            AddError::Input(e) => ClusterError::BadRequest(e.message),
            AddError::Store(m) => ClusterError::IpfsStore(m),
        })?;
        for (name, cid, size) in roots {
            let mut allocations = Vec::new();
            if !params.no_pin {
                let mut opts = params.pin_options.clone();
                if opts.name.is_empty() {
                    opts.name = name.clone();
                }
                allocations = self.commit_pin(Pin::new(cid, opts)).await?.allocations;
            }
            let _ = tx
                .send(Ok(AddedOutput {
                    name,
                    cid: Some(cid),
                    bytes: 0,
                    size,
                    allocations,
                }))
                .await;
        }
        Ok(())
    }
}

/// Sends the blocks of an add to the IPFS node in `block/put` batches of about 1 MiB. The
/// adder's [`BlockSink`] is synchronous (it runs on a blocking thread), hence `block_on`.
struct ConnectorSink {
    ipfs: IpfsConnector,
    rt: tokio::runtime::Handle,
    batch: Vec<(Cid, Bytes)>,
    bytes: usize,
}

impl ConnectorSink {
    fn send(&mut self) -> Result<(), String> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.bytes = 0;
        self.rt
            .block_on(self.ipfs.block_put(batch))
            .map_err(|e| e.to_string())
    }
}

impl BlockSink for ConnectorSink {
    fn put(&mut self, blocks: Vec<Block>) -> Result<(), String> {
        for b in blocks {
            // one request carries blocks of one CID kind (version, codec, hash)
            if let Some((first, _)) = self.batch.first()
                && (first.version() != b.cid.version() || first.codec() != b.cid.codec())
            {
                self.send()?;
            }
            self.bytes += b.data.len();
            self.batch.push((b.cid, b.data));
            if self.bytes >= BLOCK_BATCH_BYTES {
                self.send()?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        self.send()
    }
}
