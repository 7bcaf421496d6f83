//! The adder: turns a multipart upload (files, folders, with mode/mtime) into UnixFS DAGs,
//! hands their blocks to a [`BlockSink`] and reports what was added.
//!
//! Both `add`s use it: the embedded node's `/api/v0/add` (the sink writes to its block store)
//! and the cluster's `/add` (the sink hands batches of blocks to the IPFS connector: stored
//! in process for the embedded node, `block/put` for a Kubo). The upload is read part by part on the async side and fed, chunk by chunk,
//! through a bounded channel to one blocking import thread that owns the importers and calls
//! the sink. Network reads and hashing overlap, and memory stays bounded by the channel (a few
//! network chunks) plus the importers' own state, whatever the file size.
//!
//! Output follows Kubo: one entry per file as it completes, then the directories children
//! first (the root last); an unnamed file is named by its CID; with `progress`, a
//! `{Name, Bytes}` event every 256 KiB and at the end of each file. Entries of top-level
//! items (or the wrapping directory) are flagged `top_level`: those are what gets pinned.

use bytes::Bytes;
use cid::Cid;
use tokio::sync::mpsc;

use super::api::error::ApiError;
use super::unixfs::dir::DirBuilder;
use super::unixfs::file::{Block, FileImporter, ImportOptions, Metadata};
use crate::http::multipart::{EntryKind, MultipartReader};

/// How to add.
#[derive(Debug, Clone)]
pub struct AddSettings {
    pub import: ImportOptions,
    pub wrap: bool,
    pub progress: bool,
    /// Mode/mtime given with the request (`mode`, `mtime`): they win over the parts' own.
    pub default_meta: Metadata,
    /// Keep the mode / mtime each part carries in its field name (Kubo's `preserve-mode`,
    /// `preserve-mtime`); without them a part's metadata is ignored, as in Kubo.
    pub preserve_mode: bool,
    pub preserve_mtime: bool,
}

/// What an add reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddEvent {
    Progress {
        name: String,
        bytes: u64,
    },
    Entry {
        name: String,
        cid: Cid,
        size: u64,
        top_level: bool,
    },
}

/// Where the blocks of an add go. Called from the blocking import thread.
pub trait BlockSink: Send + 'static {
    /// Takes blocks as they are produced (children before parents).
    fn put(&mut self, blocks: Vec<Block>) -> Result<(), String>;
    /// Called once after the last block: flush what is buffered, make it durable.
    fn finish(&mut self) -> Result<(), String>;
}

/// The sink of `only-hash`: blocks are computed and dropped.
#[derive(Debug, Default)]
pub struct Discard;

impl BlockSink for Discard {
    fn put(&mut self, _blocks: Vec<Block>) -> Result<(), String> {
        Ok(())
    }
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Why an add failed.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The upload was malformed or asked for something impossible (a client error).
    #[error("{}", .0.message)]
    Input(ApiError),
    /// Storing the blocks failed.
    #[error("{0}")]
    Store(String),
}

enum Feed {
    File { path: String, meta: Metadata },
    Data(Bytes),
    EndFile,
    Dir { path: String, meta: Metadata },
}

const PROGRESS_STEP: u64 = 256 * 1024;

/// The blocking side: imports the fed files, builds the directories, feeds the sink.
fn import_thread(
    settings: AddSettings,
    mut sink: impl BlockSink,
    mut feed: mpsc::Receiver<Feed>,
    out: mpsc::Sender<AddEvent>,
) -> Result<(), AddError> {
    let input = |e: String| AddError::Input(ApiError::client(e));
    let mut dirs = DirBuilder::new(&settings.import);
    let mut in_dir = settings.wrap;
    let mut current: Option<(String, FileImporter, u64, u64)> = None;
    while let Some(item) = feed.blocking_recv() {
        match item {
            Feed::File { path, meta } => {
                current = Some((path, FileImporter::new(settings.import.clone(), meta), 0, 0));
            }
            Feed::Data(data) => {
                let (name, importer, bytes, reported) =
                    current.as_mut().expect("data follows a file");
                sink.put(importer.push(&data)).map_err(AddError::Store)?;
                *bytes += data.len() as u64;
                if settings.progress && *bytes - *reported >= PROGRESS_STEP {
                    *reported = *bytes;
                    let _ = out.blocking_send(AddEvent::Progress {
                        name: name.clone(),
                        bytes: *bytes,
                    });
                }
            }
            Feed::EndFile => {
                let (path, importer, bytes, _) = current.take().expect("end follows a file");
                let (blocks, root) = importer.finish();
                sink.put(blocks).map_err(AddError::Store)?;
                if settings.progress {
                    let _ = out.blocking_send(AddEvent::Progress {
                        name: path.clone(),
                        bytes,
                    });
                }
                let name = if path.is_empty() {
                    root.cid.to_string()
                } else {
                    path.clone()
                };
                let nested = path.contains('/');
                in_dir |= nested;
                dirs.add_file(&name, &root)
                    .map_err(|e| input(e.to_string()))?;
                let _ = out.blocking_send(AddEvent::Entry {
                    name,
                    cid: root.cid,
                    size: root.size,
                    top_level: !nested && !settings.wrap,
                });
            }
            Feed::Dir { path, meta } => {
                in_dir = true;
                dirs.add_dir(&path, meta)
                    .map_err(|e| input(e.to_string()))?;
            }
        }
    }
    if in_dir {
        for (path, block, size) in dirs.build().map_err(|e| input(e.to_string()))? {
            if path.is_empty() && !settings.wrap {
                continue; // the implicit root of unwrapped top-level entries is not output
            }
            let top_level = if settings.wrap {
                path.is_empty()
            } else {
                !path.contains('/')
            };
            let cid = block.cid;
            sink.put(vec![block]).map_err(AddError::Store)?;
            let _ = out.blocking_send(AddEvent::Entry {
                name: path,
                cid,
                size,
                top_level,
            });
        }
    }
    sink.finish().map_err(AddError::Store)
}

/// Adds everything in `parts`, sending blocks to `sink` and events to `events`. Returns when
/// the last block went to the sink and the sink finished.
pub async fn add(
    parts: &mut MultipartReader,
    settings: AddSettings,
    sink: impl BlockSink,
    events: mpsc::Sender<AddEvent>,
) -> Result<(), AddError> {
    let (default_meta, keep_mode, keep_mtime) = (
        settings.default_meta,
        settings.preserve_mode,
        settings.preserve_mtime,
    );
    let (feed_tx, feed_rx) = mpsc::channel::<Feed>(8);
    let worker =
        tokio::task::spawn_blocking(move || import_thread(settings, sink, feed_rx, events));
    let feeding = async {
        while let Some(entry) = parts.next_entry().await.map_err(AddError::Input)? {
            let meta = Metadata {
                mode: default_meta.mode.or(entry.mode.filter(|_| keep_mode)),
                mtime: default_meta.mtime.or(entry.mtime.filter(|_| keep_mtime)),
            };
            match entry.kind {
                EntryKind::Directory => {
                    let _ = feed_tx
                        .send(Feed::Dir {
                            path: entry.path,
                            meta,
                        })
                        .await;
                }
                EntryKind::Symlink(_) => {
                    return Err(AddError::Input(ApiError::client(
                        "adding symlinks is not supported",
                    )));
                }
                EntryKind::File => {
                    if feed_tx
                        .send(Feed::File {
                            path: entry.path,
                            meta,
                        })
                        .await
                        .is_err()
                    {
                        return Ok(()); // the import thread stopped: its error is reported below
                    }
                    while let Some(chunk) = parts.next_chunk().await.map_err(AddError::Input)? {
                        if feed_tx.send(Feed::Data(chunk)).await.is_err() {
                            return Ok(());
                        }
                    }
                    let _ = feed_tx.send(Feed::EndFile).await;
                }
            }
        }
        Ok(())
    };
    let fed = feeding.await;
    drop(feed_tx);
    let imported = worker
        .await
        .map_err(|e| AddError::Store(format!("import task failed: {e}")))?;
    // an import error explains a feeding stop; otherwise report the feeding error
    imported?;
    fed
}
