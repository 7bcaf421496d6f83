//! The node: one repo folder, its block store, its pins, its identity, and the rules that tie
//! them together (pinning walks DAGs, GC never removes a pinned block).
//!
//! A repo folder holds:
//! - `config` — JSON in Kubo's shape (`Identity`, `Datastore.StorageMax`, `Addresses.API`),
//!   written 0600 because it holds the node's private key; created on first open;
//! - `blocks/` — the [`Blockstore`];
//! - `pins.redb` — the [`PinStore`];
//! - `repo.lock` — an exclusive `flock` held while the node is open, so a second process on the
//!   same repo fails at once with Kubo's message instead of corrupting it.
//!
//! **GC safety.** Writers that create blocks which must survive (add, pin, `block/put` with
//! `pin`, `dag/put`, `dag/import`) hold the shared side of the GC lock from their first block
//! to their pin; `repo/gc` holds the exclusive side for its whole mark and sweep. So a block
//! is never swept between being written and being pinned, and a pin never points at a block
//! that a running sweep is about to delete. The price: GC waits for running adds, and adds
//! wait for a running GC.
//!
//! **Missing blocks.** Pinning asks [`Node::get_block`] for every block of the DAG; a block not
//! stored locally is awaited from the [`BlockFetcher`] and from local writes until the caller's
//! deadline.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use cid::Cid;
use ipld_core::ipld::Ipld;
use libp2p_identity::{Keypair, PeerId};
use serde::{Deserialize, Serialize};
use tokio::sync::{RwLock, RwLockReadGuard, watch};
use tokio::time::Instant;

use super::blockstore::{Blockstore, BlockstoreError};
use super::dagpb::PbNode;
use super::fetch::{BlockFetcher, FetchError, NoFetcher};
use super::hash::{self, Multihash};
use super::pins::{Pin, PinError, PinMode, PinStore};

/// Kubo's default `Datastore.StorageMax`: 10 GB.
pub const DEFAULT_STORAGE_MAX: u64 = 10_000_000_000;
/// The default RPC API address, loopback only.
pub const DEFAULT_API_ADDR: &str = "/ip4/127.0.0.1/tcp/5001";
/// What `version` and `id` report as the agent.
pub const AGENT_VERSION: &str = concat!("pinfold/", env!("CARGO_PKG_VERSION"));
/// The Kubo RPC version this node implements.
pub const KUBO_VERSION: &str = "0.38.0";
/// Version of the repo layout, reported by `repo/stat`.
pub const REPO_VERSION: &str = "fs-repo@16";

/// Errors of node operations.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Blockstore(#[from] BlockstoreError),
    #[error(transparent)]
    Pins(#[from] PinError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("failed to fetch block {cid}: context deadline exceeded")]
    Timeout { cid: Cid },
    #[error("block was not found locally (offline): ipld: could not find {0}")]
    NotFound(Cid),
    #[error("cannot decode block {cid}: {reason}")]
    Decode { cid: Cid, reason: String },
    #[error("{0} is not pinned")]
    NotPinned(Cid),
    #[error("repo at {path}: {reason}")]
    Repo { path: PathBuf, reason: String },
    #[error("lock {0}: someone else has the lock")]
    Locked(PathBuf),
}

fn repo_err(path: &Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |e| NodeError::Repo {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The repo's `config` file, in Kubo's shape (only the keys this node uses).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RepoConfig {
    pub identity: IdentityConfig,
    pub datastore: DatastoreConfig,
    pub addresses: AddressesConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentityConfig {
    #[serde(rename = "PeerID")]
    pub peer_id: String,
    #[serde(rename = "PrivKey")]
    pub priv_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DatastoreConfig {
    /// Kubo's size string, e.g. `10GB`.
    pub storage_max: String,
    /// fsync blocks before an operation is acknowledged (Kubo's flatfs `sync`).
    #[serde(default = "yes")]
    pub sync: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddressesConfig {
    #[serde(rename = "API")]
    pub api: String,
}

/// Options for opening a node.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    pub repo: PathBuf,
    /// Overrides `Datastore.StorageMax` of the repo config when set.
    pub storage_max: Option<u64>,
}

/// The embedded IPFS node.
#[derive(Debug)]
pub struct Node {
    repo: PathBuf,
    config: RepoConfig,
    keypair: Keypair,
    blocks: Blockstore,
    pins: PinStore,
    gc_lock: RwLock<()>,
    fetcher: Arc<dyn BlockFetcher>,
    stored: watch::Sender<u64>,
    _lock: fs::File,
}

/// Most blocks of one DAG read or fetched at once while pinning ([`Node::gather_dag`]).
pub const DAG_FETCH_CONCURRENCY: usize = 64;

/// Held by a writer whose blocks must not be collected before it pins them.
pub type GcGuard<'a> = RwLockReadGuard<'a, ()>;

impl Node {
    /// Creates the repo if needed, locks it and opens its stores.
    pub fn open(opts: NodeOptions) -> Result<Arc<Node>, NodeError> {
        Self::open_with_fetcher(opts, Arc::new(NoFetcher))
    }

    /// Like [`Node::open`], with a fetcher for blocks that are not stored locally.
    pub fn open_with_fetcher(
        opts: NodeOptions,
        fetcher: Arc<dyn BlockFetcher>,
    ) -> Result<Arc<Node>, NodeError> {
        let repo = opts.repo;
        fs::create_dir_all(&repo).map_err(repo_err(&repo))?;
        fs::set_permissions(&repo, fs::Permissions::from_mode(0o700)).map_err(repo_err(&repo))?;
        let lock_path = repo.join("repo.lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(repo_err(&lock_path))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|_| NodeError::Locked(lock_path.clone()))?;

        let config_path = repo.join("config");
        let (config, keypair) = if config_path.exists() {
            let text = fs::read_to_string(&config_path).map_err(repo_err(&config_path))?;
            let config: RepoConfig = serde_json::from_str(&text).map_err(|e| NodeError::Repo {
                path: config_path.clone(),
                reason: e.to_string(),
            })?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&config.identity.priv_key)
                .map_err(|e| NodeError::Repo {
                    path: config_path.clone(),
                    reason: e.to_string(),
                })?;
            let keypair = Keypair::from_protobuf_encoding(&bytes).map_err(|e| NodeError::Repo {
                path: config_path.clone(),
                reason: e.to_string(),
            })?;
            (config, keypair)
        } else {
            let keypair = Keypair::generate_ed25519();
            let priv_key = base64::engine::general_purpose::STANDARD
                .encode(keypair.to_protobuf_encoding().expect("ed25519 keys encode"));
            let config = RepoConfig {
                identity: IdentityConfig {
                    peer_id: keypair.public().to_peer_id().to_string(),
                    priv_key,
                },
                datastore: DatastoreConfig {
                    storage_max: "10GB".into(),
                    sync: true,
                },
                addresses: AddressesConfig {
                    api: DEFAULT_API_ADDR.into(),
                },
            };
            write_private(
                &config_path,
                &serde_json::to_vec_pretty(&config).expect("config serializes"),
            )?;
            (config, keypair)
        };
        let storage_max = match opts.storage_max {
            Some(m) => m,
            None => crate::config::StorageSize::parse(&config.datastore.storage_max)
                .map(|s| s.bytes())
                .map_err(|reason| NodeError::Repo {
                    path: config_path.clone(),
                    reason: format!("Datastore.StorageMax: {reason}"),
                })?,
        };
        let blocks = Blockstore::open(&repo.join("blocks"), storage_max, config.datastore.sync)?;
        let pins = PinStore::open(&repo.join("pins.redb"))?;
        Ok(Arc::new(Node {
            repo,
            config,
            keypair,
            blocks,
            pins,
            gc_lock: RwLock::new(()),
            fetcher,
            stored: watch::channel(0).0,
            _lock: lock,
        }))
    }

    pub fn repo(&self) -> &Path {
        &self.repo
    }

    pub fn config(&self) -> &RepoConfig {
        &self.config
    }

    pub fn peer_id(&self) -> PeerId {
        self.keypair.public().to_peer_id()
    }

    /// The public key in libp2p's protobuf encoding, base64 (as Kubo's `id`).
    pub fn public_key_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.keypair.public().encode_protobuf())
    }

    pub fn blocks(&self) -> &Blockstore {
        &self.blocks
    }

    pub fn pins(&self) -> &PinStore {
        &self.pins
    }

    /// Takes the shared side of the GC lock (see the module essay).
    pub async fn gc_guard(&self) -> GcGuard<'_> {
        self.gc_lock.read().await
    }

    /// Stores a block, checking it against its CID, and wakes waiters.
    pub fn put_block(&self, cid: &Cid, data: &[u8]) -> Result<bool, NodeError> {
        if cid.hash().code() == hash::IDENTITY {
            return Ok(false);
        }
        let new = self.blocks.put(cid, data)?;
        if new {
            self.stored.send_modify(|n| *n += 1);
        }
        Ok(new)
    }

    /// Stores a block whose CID was just computed from its bytes (importers).
    pub fn put_block_trusted(&self, cid: &Cid, data: &[u8]) -> Result<bool, NodeError> {
        if cid.hash().code() == hash::IDENTITY {
            return Ok(false);
        }
        let new = self.blocks.put_trusted(cid, data)?;
        if new {
            self.stored.send_modify(|n| *n += 1);
        }
        Ok(new)
    }

    /// Makes written blocks durable (before acknowledging a write).
    pub fn flush(&self) -> Result<(), NodeError> {
        Ok(self.blocks.flush()?)
    }

    /// A locally stored block (identity CIDs are answered from the CID itself).
    pub fn get_local(&self, cid: &Cid) -> Result<Option<Bytes>, NodeError> {
        if cid.hash().code() == hash::IDENTITY {
            return Ok(Some(Bytes::copy_from_slice(cid.hash().digest())));
        }
        Ok(self.blocks.get(cid)?)
    }

    /// True when the block is available without fetching.
    pub fn has_local(&self, cid: &Cid) -> bool {
        cid.hash().code() == hash::IDENTITY || self.blocks.has(cid)
    }

    /// A block, from the local store or, failing that, from the fetcher or a later local
    /// write, until `deadline` (`None`: wait for as long as the caller does; a deadline already
    /// past: local blocks only).
    pub async fn get_block(
        self: &Arc<Self>,
        cid: &Cid,
        deadline: Option<Instant>,
    ) -> Result<Bytes, NodeError> {
        let mut stored = self.stored.subscribe();
        if let Some(b) = self.get_local_blocking(cid).await? {
            return Ok(b);
        }
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(NodeError::NotFound(*cid)); // a past deadline means "local blocks only"
        }
        let wait = async {
            let fetch = self.fetcher.fetch(cid);
            tokio::pin!(fetch);
            loop {
                tokio::select! {
                    fetched = &mut fetch => {
                        let data = fetched?;
                        self.put_block(cid, &data)?;
                        return Ok(data);
                    }
                    changed = stored.changed() => {
                        if changed.is_err() {
                            return Err(NodeError::NotFound(*cid));
                        }
                        if let Some(b) = self.get_local_blocking(cid).await? {
                            return Ok(b);
                        }
                    }
                }
            }
        };
        match deadline {
            Some(d) => tokio::time::timeout_at(d, wait)
                .await
                .map_err(|_| NodeError::Timeout { cid: *cid })?,
            None => wait.await,
        }
    }

    async fn get_local_blocking(self: &Arc<Self>, cid: &Cid) -> Result<Option<Bytes>, NodeError> {
        let node = self.clone();
        let cid = *cid;
        tokio::task::spawn_blocking(move || node.get_local(&cid))
            .await
            .expect("block read task")
    }

    /// The CIDs a block links to, for every codec the node understands (dag-pb, raw,
    /// dag-cbor, dag-json); other codecs have no links the node can see.
    pub fn links(cid: &Cid, data: &[u8]) -> Result<Vec<Cid>, NodeError> {
        let decode = |reason: String| NodeError::Decode { cid: *cid, reason };
        match cid.codec() {
            hash::DAG_PB => Ok(PbNode::decode(data)
                .map_err(|e| decode(e.to_string()))?
                .links
                .into_iter()
                .map(|l| l.cid)
                .collect()),
            hash::DAG_CBOR => {
                let ipld: Ipld =
                    serde_ipld_dagcbor::from_slice(data).map_err(|e| decode(e.to_string()))?;
                Ok(ipld_links(&ipld))
            }
            hash::DAG_JSON => {
                let ipld: Ipld =
                    serde_ipld_dagjson::from_slice(data).map_err(|e| decode(e.to_string()))?;
                Ok(ipld_links(&ipld))
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Visits every block of the DAG under `root` once (depth first, parents first, links in
    /// order: the order of a CAR export), fetching missing ones until `deadline`. `visit`
    /// gets each block and the count so far, and returns `false` to stop the walk.
    pub async fn walk_dag<F, Fut>(
        self: &Arc<Self>,
        root: &Cid,
        deadline: Option<Instant>,
        mut visit: F,
    ) -> Result<u64, NodeError>
    where
        F: FnMut(Cid, Bytes, u64) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let mut seen: HashSet<Multihash> = HashSet::new();
        let mut stack = vec![*root];
        while let Some(cid) = stack.pop() {
            if !seen.insert(*cid.hash()) {
                continue;
            }
            let data = self.get_block(&cid, deadline).await?;
            let links = Self::links(&cid, &data)?;
            if !visit(cid, data, seen.len() as u64).await {
                break;
            }
            stack.extend(links.into_iter().rev());
        }
        Ok(seen.len() as u64)
    }

    /// Makes every block of the DAG under `root` local, [`DAG_FETCH_CONCURRENCY`] blocks at a
    /// time, in no particular order (pinning needs them all; [`Node::walk_dag`] keeps CAR
    /// order but asks one block at a time). Missing blocks are asked of the fetcher
    /// concurrently, so it can batch them. Returns the number of blocks; `progress` gets the
    /// count so far after each.
    pub async fn gather_dag(
        self: &Arc<Self>,
        root: &Cid,
        deadline: Option<Instant>,
        progress: &mut impl FnMut(u64),
    ) -> Result<u64, NodeError> {
        use futures::StreamExt;
        let mut seen: HashSet<Multihash> = HashSet::from([*root.hash()]);
        let mut todo = vec![*root];
        let mut running = futures::stream::FuturesUnordered::new();
        let mut done = 0u64;
        loop {
            while running.len() < DAG_FETCH_CONCURRENCY {
                let Some(cid) = todo.pop() else {
                    break;
                };
                running.push(async move {
                    let data = self.get_block(&cid, deadline).await?;
                    Self::links(&cid, &data)
                });
            }
            let Some(links) = running.next().await else {
                return Ok(done);
            };
            done += 1;
            progress(done);
            // depth first keeps the list of blocks still to visit short
            todo.extend(links?.into_iter().rev().filter(|l| seen.insert(*l.hash())));
        }
    }

    /// Pins `cids` (recursively: every block of each DAG; direct: the root block) once all the
    /// blocks are present, reporting the number of blocks visited to `progress`.
    pub async fn pin_add(
        self: &Arc<Self>,
        cids: &[Cid],
        mode: PinMode,
        name: &str,
        deadline: Option<Instant>,
        progress: impl FnMut(u64),
    ) -> Result<(), NodeError> {
        let guard = self.gc_guard().await;
        self.pin_add_holding(&guard, cids, mode, name, deadline, progress)
            .await
    }

    /// [`Node::pin_add`] for a caller that already holds the shared GC lock (taking it twice
    /// could deadlock behind a waiting GC).
    pub async fn pin_add_holding(
        self: &Arc<Self>,
        _held: &GcGuard<'_>,
        cids: &[Cid],
        mode: PinMode,
        name: &str,
        deadline: Option<Instant>,
        mut progress: impl FnMut(u64),
    ) -> Result<(), NodeError> {
        for cid in cids {
            match mode {
                PinMode::Recursive => {
                    self.gather_dag(cid, deadline, &mut progress).await?;
                }
                PinMode::Direct => {
                    self.get_block(cid, deadline).await?;
                }
            }
        }
        self.flush()?;
        let node = self.clone();
        let (cids, name) = (cids.to_vec(), name.to_string());
        tokio::task::spawn_blocking(move || node.pins.add(&cids, mode, &name))
            .await
            .expect("pin task")?;
        Ok(())
    }

    /// Unpins `cids`; all or nothing.
    pub async fn pin_rm(self: &Arc<Self>, cids: &[Cid], recursive: bool) -> Result<(), NodeError> {
        let node = self.clone();
        let cids = cids.to_vec();
        tokio::task::spawn_blocking(move || node.pins.remove(&cids, recursive))
            .await
            .expect("unpin task")?;
        Ok(())
    }

    /// Moves a recursive pin from one DAG to another (fetching the new one first).
    pub async fn pin_update(
        self: &Arc<Self>,
        from: &Cid,
        to: &Cid,
        unpin: bool,
        deadline: Option<Instant>,
    ) -> Result<(), NodeError> {
        let _guard = self.gc_guard().await;
        match self.pins.get(from)? {
            Some(p) if p.mode == PinMode::Recursive => {}
            _ => return Err(PinError::NotRecursive.into()),
        }
        self.walk_dag(to, deadline, |_, _, _| async { true })
            .await?;
        let node = self.clone();
        let (from, to) = (*from, *to);
        tokio::task::spawn_blocking(move || node.pins.update(&from, &to, unpin))
            .await
            .expect("pin task")?;
        Ok(())
    }

    /// Every block reachable from a recursive pin, without fetching (a missing block is
    /// skipped: its subtree is not local either). Returns the set of multihashes and the
    /// problems met.
    fn reachable_local(&self, recursive: &[Cid]) -> (HashSet<Multihash>, Vec<String>) {
        let mut seen = HashSet::new();
        let mut problems = Vec::new();
        let mut stack: Vec<Cid> = recursive.to_vec();
        while let Some(cid) = stack.pop() {
            if !seen.insert(*cid.hash()) {
                continue;
            }
            match self.get_local(&cid) {
                Ok(Some(data)) => match Self::links(&cid, &data) {
                    Ok(links) => stack.extend(links),
                    Err(e) => problems.push(e.to_string()),
                },
                Ok(None) => {}
                Err(e) => problems.push(e.to_string()),
            }
        }
        (seen, problems)
    }

    /// Pins of the given kinds. `Indirect` pins are computed by walking the recursive ones.
    pub fn list_pins(&self, filter: PinFilter) -> Result<Vec<ListedPin>, NodeError> {
        let stored = self.pins.list()?;
        let mut out: Vec<ListedPin> = stored
            .iter()
            .filter(|p| match p.mode {
                PinMode::Recursive => filter.recursive,
                PinMode::Direct => filter.direct,
            })
            .map(|p| ListedPin {
                cid: p.cid,
                kind: p.mode.as_str(),
                name: p.name.clone(),
            })
            .collect();
        if filter.indirect {
            let roots: Vec<Cid> = stored
                .iter()
                .filter(|p| p.mode == PinMode::Recursive)
                .map(|p| p.cid)
                .collect();
            let root_set: HashSet<Multihash> = stored.iter().map(|p| *p.cid.hash()).collect();
            let mut indirect = Vec::new();
            let mut seen = HashSet::new();
            let mut stack = Vec::new();
            for r in &roots {
                if let Some(data) = self.get_local(r)? {
                    stack.extend(Self::links(r, &data)?);
                }
            }
            while let Some(cid) = stack.pop() {
                if !seen.insert(*cid.hash()) {
                    continue;
                }
                if !root_set.contains(cid.hash()) {
                    indirect.push(cid);
                }
                if let Some(data) = self.get_local(&cid)? {
                    stack.extend(Self::links(&cid, &data)?);
                }
            }
            out.extend(indirect.into_iter().map(|cid| ListedPin {
                cid,
                kind: "indirect",
                name: String::new(),
            }));
        }
        Ok(out)
    }

    /// How `cid` is pinned, if at all: `recursive`, `direct`, or `indirect through <root>`.
    pub fn pin_status(&self, cid: &Cid) -> Result<Option<ListedPin>, NodeError> {
        if let Some(Pin { cid, mode, name }) = self.pins.get(cid)? {
            return Ok(Some(ListedPin {
                cid,
                kind: mode.as_str(),
                name,
            }));
        }
        for p in self.pins.list()? {
            if p.mode != PinMode::Recursive {
                continue;
            }
            let (reach, _) = self.reachable_local(&[p.cid]);
            if reach.contains(cid.hash()) {
                return Ok(Some(ListedPin {
                    cid: *cid,
                    kind: "indirect",
                    name: p.cid.to_string(),
                }));
            }
        }
        Ok(None)
    }

    /// Removes every block not reachable from a pin. Returns the removed blocks (as CIDv1
    /// raw, since blocks are keyed by multihash) and the errors met.
    pub async fn gc(self: &Arc<Self>) -> Result<(Vec<Cid>, Vec<String>), NodeError> {
        let _exclusive = self.gc_lock.write().await;
        let node = self.clone();
        tokio::task::spawn_blocking(move || {
            let pins = node.pins.list()?;
            let recursive: Vec<Cid> = pins
                .iter()
                .filter(|p| p.mode == PinMode::Recursive)
                .map(|p| p.cid)
                .collect();
            let (mut keep, mut problems) = node.reachable_local(&recursive);
            keep.extend(pins.iter().map(|p| *p.cid.hash()));
            if !problems.is_empty() {
                // A recursive pin whose DAG cannot be read makes the mark incomplete: sweeping
                // could delete blocks that are pinned. Refuse instead.
                problems.insert(
                    0,
                    "garbage collection aborted: pinned DAGs could not be read".into(),
                );
                return Ok((Vec::new(), problems));
            }
            let mut removed = Vec::new();
            for mh in node.blocks.keys()? {
                if keep.contains(&mh) {
                    continue;
                }
                match node.blocks.delete(&mh) {
                    Ok(true) => removed.push(Cid::new_v1(hash::RAW, mh)),
                    Ok(false) => {}
                    Err(e) => problems.push(e.to_string()),
                }
            }
            Ok((removed, problems))
        })
        .await
        .expect("gc task")
    }

    /// Removes blocks (`block/rm`), refusing pinned ones, under the exclusive GC lock so that
    /// no pin can be taken on a block while it goes. Returns one error (or none) per CID.
    pub async fn remove_blocks(
        self: &Arc<Self>,
        cids: Vec<Cid>,
        force: bool,
    ) -> Vec<(Cid, Option<String>)> {
        let _exclusive = self.gc_lock.write().await;
        let node = self.clone();
        tokio::task::spawn_blocking(move || {
            cids.into_iter()
                .map(|cid| {
                    let err = match node.pin_status(&cid) {
                        Ok(Some(p)) => Some(format!("pinned: {}", p.kind)),
                        Err(e) => Some(e.to_string()),
                        Ok(None) => match node.blocks.delete(cid.hash()) {
                            Ok(true) => None,
                            Ok(false) if force => None,
                            Ok(false) => Some("ipld: could not find node".to_string()),
                            Err(e) => Some(e.to_string()),
                        },
                    };
                    (cid, err)
                })
                .collect()
        })
        .await
        .expect("block removal task")
    }

    /// Total bytes the repo uses on disk (blocks, pin database, config).
    pub fn repo_size(&self) -> u64 {
        let extra: u64 = ["pins.redb", "config"]
            .iter()
            .filter_map(|f| fs::metadata(self.repo.join(f)).ok())
            .map(|m| m.len())
            .sum();
        self.blocks.stat().size + extra
    }
}

/// Which kinds of pins to list.
#[derive(Debug, Clone, Copy)]
pub struct PinFilter {
    pub recursive: bool,
    pub direct: bool,
    pub indirect: bool,
}

/// A pin as `pin/ls` shows it. For indirect pins from [`Node::pin_status`], `name` holds the
/// recursive root it hangs from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPin {
    pub cid: Cid,
    pub kind: &'static str,
    pub name: String,
}

fn ipld_links(ipld: &Ipld) -> Vec<Cid> {
    let mut out = Vec::new();
    let mut stack = vec![ipld];
    while let Some(node) = stack.pop() {
        match node {
            Ipld::Link(c) => out.push(*c),
            Ipld::List(items) => stack.extend(items.iter().rev()),
            Ipld::Map(map) => stack.extend(map.values().rev()),
            _ => {}
        }
    }
    out
}

/// Writes a file readable by its owner only (0600), atomically.
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), NodeError> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(repo_err(&tmp))?;
    f.write_all(data).map_err(repo_err(&tmp))?;
    f.sync_all().map_err(repo_err(&tmp))?;
    fs::rename(&tmp, path).map_err(repo_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_open_of_a_repo_fails_and_identity_persists() {
        let dir = tempfile::tempdir().unwrap();
        let opts = NodeOptions {
            repo: dir.path().join("repo"),
            storage_max: None,
        };
        let node = Node::open(opts.clone()).unwrap();
        let id = node.peer_id();
        let err = Node::open(opts.clone()).unwrap_err();
        assert!(
            err.to_string().contains("someone else has the lock"),
            "{err}"
        );
        let mode = fs::metadata(dir.path().join("repo/config"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(node);
        assert_eq!(Node::open(opts).unwrap().peer_id(), id);
    }
}
