//! `add`: files, directories and URLs uploaded to `/add` with Go's `AddParams` rules (a hash
//! other than sha2-256 implies CID v1, which implies raw leaves; several paths imply a wrapping
//! directory; a CAR cannot be wrapped), the added entries printed as they stream in (or at the
//! end with `--no-stream`), `--wait` on the last CID, and an upload progress bar on stderr when
//! it is a terminal.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::{expire_at, parse_metadata};
use crate::cli::ctl::args::AddArgs;
use crate::cli::ctl::{Ctl, Res, format, humanize};
use crate::client::{AddParams, AddSource, MultipartUpload};
use crate::types::{AddedOutput, TrackerStatus};

impl Ctl<'_, '_> {
    pub(crate) async fn add(&mut self, a: AddArgs) -> Res {
        if a.paths.is_empty() {
            return Err(self.check_err("", "need at least one path", 1));
        }
        let mut p = AddParams::default();
        p.pin.replication_factor_min = a.replication_min as i32;
        p.pin.replication_factor_max = a.replication_max as i32;
        p.pin.expire_at =
            expire_at(&a.expire_in).map_err(|e| self.check_err("parsing expire-in", &e, 1))?;
        p.pin.metadata = Some(
            parse_metadata(&a.metadata).map_err(|e| self.check_err("parsing metadata", &e, 1))?,
        );
        p.pin.name = a.name.clone();
        if !a.allocations.is_empty() {
            // Go's StringsToPeers: undecodable IDs are dropped silently
            p.pin.user_allocations = Some(
                a.allocations
                    .split(',')
                    .filter_map(|s| s.parse().ok())
                    .collect(),
            );
        }
        p.no_pin = a.no_pin;
        p.format = a.format.clone();
        p.shard = false;
        p.recursive = a.recursive;
        p.local = a.local;
        p.layout = a.layout.clone();
        p.chunker = a.chunker.clone();
        p.raw_leaves = a.raw_leaves;
        p.hidden = a.hidden;
        p.wrap = a.wrap_with_directory || a.paths.len() > 1;
        p.cid_version = a.cid_version;
        p.hash_fun = a.hash.clone();
        if p.hash_fun != AddParams::default().hash_fun {
            p.cid_version = 1;
        }
        if p.cid_version > 0 {
            p.raw_leaves = true;
        }
        p.no_copy = a.nocopy;
        if p.no_copy {
            p.raw_leaves = true;
        }
        if p.wrap && p.format == "car" {
            return Err(self.check_err(
                "",
                "only a single CAR file can be added and wrap-with-directory is not supported",
                1,
            ));
        }
        let sources: Vec<AddSource> = a.paths.iter().map(|s| AddSource::parse(s)).collect();
        let upload = match MultipartUpload::new(&sources, &p) {
            Ok(u) => u,
            Err(e) => return Err(self.fail(&e)),
        };

        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let bar = self
            .progress
            .then(|| spawn_progress_bar(sent.clone(), upload.total_file_bytes(), stop.clone()));
        let stop_bar = |stop: &AtomicBool| stop.store(true, Ordering::Relaxed);

        let qq = a.quieter;
        let q = a.quiet || qq;
        let mut buffered: Vec<AddedOutput> = Vec::new();
        let mut last: Option<AddedOutput> = None;
        let mut failure = None;
        match self.client.add(&upload, &p, Some(sent)).await {
            Err(e) => failure = Some(e),
            Ok(mut s) => {
                while let Some(item) = s.next().await {
                    match item {
                        Ok(v) if v.cid.is_none() => {} // a progress line
                        Ok(v) => {
                            stop_bar(&stop);
                            if a.no_stream {
                                buffered.push(v.clone());
                            } else if !qq {
                                self.show(&v, |v| format::added_text(v, q));
                            }
                            last = Some(v);
                        }
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
            }
        }
        stop_bar(&stop);
        if let Some(bar) = bar {
            let _ = bar.await;
        }
        if let Some(last) = last {
            if a.no_stream {
                let items = if qq { vec![last.clone()] } else { buffered };
                self.show(&items, |v| {
                    v.iter().map(|i| format::added_text(i, q)).collect()
                });
            } else if qq {
                self.show(&last, |v| format::added_text(v, q));
            }
            if a.wait
                && let Some(root) = last.cid
            {
                let mut rmin = p.pin.replication_factor_min as i64;
                if let Ok(alloc) = self.client.allocation(&root).await {
                    rmin = alloc.options.replication_factor_min as i64;
                }
                self.wait_for(&root, TrackerStatus::Pinned, a.wait_timeout, rmin)
                    .await?;
            }
        }
        match failure {
            Some(e) => Err(self.fail(&e)),
            None => Ok(()),
        }
    }
}

/// A one-line upload bar on the real stderr, redrawn every 200 ms until `stop`.
fn spawn_progress_bar(
    sent: Arc<AtomicU64>,
    total: u64,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut drawn = false;
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let n = sent.load(Ordering::Relaxed);
            let line = progress_line(n, total);
            let mut err = std::io::stderr();
            let _ = write!(err, "\r{line}");
            let _ = err.flush();
            drawn = true;
        }
        if drawn {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    })
}

/// `[#####     ]  1.2 MB / 4.0 MB` (the body includes multipart headers, so it may pass 100%).
pub(crate) fn progress_line(sent: u64, total: u64) -> String {
    const WIDTH: u64 = 30;
    let filled = (sent.min(total) * WIDTH).checked_div(total).unwrap_or(0) as usize;
    format!(
        "[{}{}] {} / {}",
        "#".repeat(filled),
        " ".repeat(WIDTH as usize - filled),
        humanize::bytes(sent),
        humanize::bytes(total)
    )
}
