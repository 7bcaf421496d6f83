//! The `/add` upload: files, directories and URLs streamed from disk (never held whole in
//! memory) in go-ipfs-files' multipart encoding ([`MultipartUpload`]): the entries in
//! `MultiFileReader`'s order, `Content-Disposition` with Go's file modes and times, hidden files
//! skipped unless asked for, and a sent-bytes counter for progress bars. Errors reading local
//! files are worded as Go's `os` errors.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::query::encode_query;
use super::{AddParams, ClientError, query_escape};

/// A source for `add`: a local path or an `http(s)://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddSource {
    Path(PathBuf),
    Url(String),
}

impl AddSource {
    /// As Go's ctl reads an argument: URLs with an `http`/`https` scheme, else a path.
    pub fn parse(arg: &str) -> AddSource {
        let lower = arg.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            AddSource::Url(arg.to_string())
        } else {
            AddSource::Path(PathBuf::from(arg))
        }
    }
}

/// One entry of the upload, in the order go-ipfs-files' `MultiFileReader` writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum UploadNode {
    File {
        name: String,
        path: PathBuf,
        meta: FileMeta,
    },
    Dir {
        name: String,
        path: PathBuf,
        meta: FileMeta,
    },
    Symlink {
        name: String,
        target: String,
        meta: FileMeta,
    },
    Web {
        name: String,
        url: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileMeta {
    /// Go `os.FileMode` bits.
    mode: u32,
    mtime_secs: i64,
    mtime_nsecs: i64,
}

const GO_MODE_DIR: u32 = 1 << 31;
const GO_MODE_SYMLINK: u32 = 1 << 27;
const GO_MODE_SETUID: u32 = 1 << 23;
const GO_MODE_SETGID: u32 = 1 << 22;
const GO_MODE_STICKY: u32 = 1 << 20;

fn file_meta(md: &fs::Metadata) -> FileMeta {
    let unix = md.permissions().mode();
    let mut mode = unix & 0o777;
    if md.is_dir() {
        mode |= GO_MODE_DIR;
    }
    if md.file_type().is_symlink() {
        mode |= GO_MODE_SYMLINK;
    }
    if unix & 0o4000 != 0 {
        mode |= GO_MODE_SETUID;
    }
    if unix & 0o2000 != 0 {
        mode |= GO_MODE_SETGID;
    }
    if unix & 0o1000 != 0 {
        mode |= GO_MODE_STICKY;
    }
    FileMeta {
        mode,
        mtime_secs: md.mtime(),
        mtime_nsecs: md.mtime_nsec(),
    }
}

/// Go's wording of common I/O errors (`lstat x: no such file or directory`).
fn go_io_error(op: &str, path: &Path, e: &io::Error) -> ClientError {
    let why = match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    ClientError::Local(format!("{op} {}: {why}", path.display()))
}

pub(super) fn base_name(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() { ".".into() } else { "/".into() };
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// A multipart upload of files and directories (go-ipfs-files' `MultiFileReader` in form mode):
/// checked eagerly (as Go's client does before sending), streamed lazily.
#[derive(Debug, Clone)]
pub struct MultipartUpload {
    boundary: String,
    roots: Vec<UploadNode>,
    hidden: bool,
    total_file_bytes: u64,
}

impl MultipartUpload {
    /// Checks the sources like Go's `Add`: a directory needs `recursive`; `nocopy` is for URLs
    /// only; `.` is the working directory with symlinks resolved.
    pub fn new(sources: &[AddSource], params: &AddParams) -> Result<MultipartUpload, ClientError> {
        let mut roots = Vec::new();
        let mut total = 0u64;
        for src in sources {
            match src {
                AddSource::Url(u) => {
                    let parsed = reqwest::Url::parse(u)
                        .map_err(|e| ClientError::Local(format!("error parsing path: {e}")))?;
                    roots.push(UploadNode::Web {
                        name: base_name(parsed.path()),
                        url: u.clone(),
                    });
                }
                AddSource::Path(p) => {
                    if params.no_copy {
                        return Err(ClientError::Local(
                            "nocopy option is only valid for URLs".into(),
                        ));
                    }
                    let mut fpath = p.to_string_lossy().into_owned();
                    if fpath == "." {
                        let cwd = std::env::current_dir()
                            .and_then(fs::canonicalize)
                            .map_err(|e| ClientError::Local(e.to_string()))?;
                        fpath = cwd.to_string_lossy().into_owned();
                    }
                    let fpath = crate::gocompat::path::clean(&fpath);
                    let path = PathBuf::from(&fpath);
                    let md =
                        fs::symlink_metadata(&path).map_err(|e| go_io_error("lstat", &path, &e))?;
                    if md.is_dir() && !params.recursive {
                        return Err(ClientError::Local(format!(
                            "{fpath} is a directory, but Recursive option is not set"
                        )));
                    }
                    let name = base_name(&fpath);
                    let node = make_node(name, path.clone(), &md)?;
                    total += tree_size(&node, params.hidden);
                    roots.push(node);
                }
            }
        }
        let mut raw = [0u8; 30];
        rand::Rng::fill(&mut rand::thread_rng(), &mut raw);
        let boundary = raw.iter().map(|b| format!("{b:02x}")).collect();
        Ok(MultipartUpload {
            boundary,
            roots,
            hidden: params.hidden,
            total_file_bytes: total,
        })
    }

    /// Uses a fixed boundary (tests).
    pub fn with_boundary(mut self, boundary: &str) -> Self {
        self.boundary = boundary.to_string();
        self
    }

    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// `multipart/form-data; boundary=…`.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// Sum of the sizes of local files to send (for a progress bar; URLs count 0).
    pub fn total_file_bytes(&self) -> u64 {
        self.total_file_bytes
    }

    /// Writes the whole body into `out` synchronously (chunks of at most 256 KiB); `out`
    /// returning `false` stops early. Web files are fetched through `fetch_web`.
    fn write_body(
        &self,
        out: &mut dyn FnMut(Bytes) -> bool,
        fetch_web: &mut WebFetcher<'_>,
    ) -> io::Result<()> {
        let mut first = true;
        // stack of (directory part name, remaining entries)
        let mut stack: Vec<(String, std::vec::IntoIter<UploadNode>)> =
            vec![(String::new(), self.roots.clone().into_iter())];
        while let Some((prefix, iter)) = stack.last_mut() {
            let Some(node) = iter.next() else {
                stack.pop();
                continue;
            };
            let prefix = prefix.clone();
            let join = |n: &str| {
                if prefix.is_empty() {
                    n.to_string()
                } else {
                    format!("{prefix}/{n}")
                }
            };
            let mut head = String::new();
            head.push_str(if first { "--" } else { "\r\n--" });
            first = false;
            head.push_str(&self.boundary);
            head.push_str("\r\n");
            let (name, meta, ctype, abspath) = match &node {
                UploadNode::File { name, path, meta } => {
                    let abs = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                    (
                        join(name),
                        Some(*meta),
                        "application/octet-stream",
                        Some(abs.to_string_lossy().into_owned()),
                    )
                }
                UploadNode::Dir { name, meta, .. } => {
                    (join(name), Some(*meta), "application/x-directory", None)
                }
                UploadNode::Symlink { name, meta, .. } => {
                    (join(name), Some(*meta), "application/symlink", None)
                }
                UploadNode::Web { name, url } => (
                    join(name),
                    None,
                    "application/octet-stream",
                    Some(url.clone()),
                ),
            };
            // Go's multipart writer sorts header keys.
            if let Some(abs) = abspath {
                head.push_str(&format!("Abspath-Encoded: {}\r\n", query_escape(&abs)));
            }
            head.push_str(&format!(
                "Content-Disposition: {}\r\n",
                content_disposition(&name, meta)
            ));
            head.push_str(&format!("Content-Type: {ctype}\r\n\r\n"));
            if !out(Bytes::from(head)) {
                return Ok(());
            }
            match node {
                UploadNode::File { path, .. } => {
                    let mut f = fs::File::open(&path)?;
                    let mut buf = vec![0u8; 256 * 1024];
                    loop {
                        let n = f.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        if !out(Bytes::copy_from_slice(&buf[..n])) {
                            return Ok(());
                        }
                    }
                }
                UploadNode::Symlink { target, .. } => {
                    if !out(Bytes::from(target)) {
                        return Ok(());
                    }
                }
                UploadNode::Web { url, .. } => fetch_web(&url, out)?,
                UploadNode::Dir { path, name, .. } => {
                    let children = read_dir_nodes(&path, self.hidden)?;
                    let full = join(&name);
                    stack.push((full, children.into_iter()));
                }
            }
        }
        let tail = if first {
            format!("--{}--\r\n", self.boundary)
        } else {
            format!("\r\n--{}--\r\n", self.boundary)
        };
        out(Bytes::from(tail));
        Ok(())
    }

    /// The whole body in memory (tests, small uploads; URLs are not fetched).
    pub fn to_bytes(&self) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        self.write_body(
            &mut |b| {
                v.extend_from_slice(&b);
                true
            },
            &mut |_, _| Err(io::Error::other("web files are not fetched here")),
        )?;
        Ok(v)
    }

    /// A streaming request body: a blocking thread walks the tree and reads files; `sent`
    /// counts body bytes as the HTTP stack takes them.
    pub(super) fn into_body(self, sent: Option<Arc<AtomicU64>>) -> reqwest::Body {
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(8);
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let web = reqwest::Client::new();
            let tx2 = tx.clone();
            let mut send = |b: Bytes| tx2.blocking_send(Ok(b)).is_ok();
            let mut fetch = |url: &str, out: &mut dyn FnMut(Bytes) -> bool| -> io::Result<()> {
                handle.block_on(async {
                    let mut resp = web.get(url).send().await.map_err(io::Error::other)?;
                    let st = resp.status().as_u16();
                    if !(200..=299).contains(&st) {
                        return Err(io::Error::other(format!(
                            "got non-2XX status code {st}: {url}"
                        )));
                    }
                    while let Some(chunk) = resp.chunk().await.map_err(io::Error::other)? {
                        if !out(chunk) {
                            break;
                        }
                    }
                    Ok(())
                })
            };
            if let Err(e) = self.write_body(&mut send, &mut fetch) {
                let _ = tx.blocking_send(Err(e));
            }
        });
        let stream = futures::stream::unfold(rx, move |mut rx| {
            let sent = sent.clone();
            async move {
                let item = rx.recv().await?;
                if let (Ok(b), Some(sent)) = (&item, &sent) {
                    sent.fetch_add(b.len() as u64, Ordering::Relaxed);
                }
                Some((item, rx))
            }
        });
        reqwest::Body::wrap_stream(stream)
    }
}

/// Streams a URL's body into a part (`out` returns `false` to stop).
type WebFetcher<'a> = dyn FnMut(&str, &mut dyn FnMut(Bytes) -> bool) -> io::Result<()> + 'a;

fn content_disposition(name: &str, meta: Option<FileMeta>) -> String {
    let mut params: Vec<(String, String)> = Vec::new();
    if let Some(m) = meta {
        if m.mode != 0 {
            params.push(("mode".into(), format!("0{:o}", m.mode)));
        }
        // Go checks `!mtime.IsZero()`; a file's mtime is never Go's zero time.
        params.push(("mtime".into(), m.mtime_secs.to_string()));
        if m.mtime_nsecs > 0 {
            params.push(("mtime-nsecs".into(), m.mtime_nsecs.to_string()));
        }
    }
    let mut s = String::from("form-data; name=\"file");
    if !params.is_empty() {
        let q: BTreeMap<String, String> = params.into_iter().collect();
        s.push('?');
        s.push_str(&encode_query(&q));
    }
    s.push('"');
    s.push_str(&format!("; filename=\"{}\"", query_escape(name)));
    s
}

fn make_node(name: String, path: PathBuf, md: &fs::Metadata) -> Result<UploadNode, ClientError> {
    let meta = file_meta(md);
    let ft = md.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(&path).map_err(|e| go_io_error("readlink", &path, &e))?;
        Ok(UploadNode::Symlink {
            name,
            target: target.to_string_lossy().into_owned(),
            meta,
        })
    } else if ft.is_dir() {
        Ok(UploadNode::Dir { name, path, meta })
    } else if ft.is_file() {
        Ok(UploadNode::File { name, path, meta })
    } else {
        Err(ClientError::Local(format!(
            "unrecognized file type for {}",
            path.display()
        )))
    }
}

/// A directory's entries as go-ipfs-files lists them: sorted by name, hidden ones (`.x`)
/// skipped unless asked for.
fn read_dir_nodes(dir: &Path, hidden: bool) -> io::Result<Vec<UploadNode>> {
    let mut entries: Vec<(String, PathBuf)> = fs::read_dir(dir)?
        .map(|e| e.map(|e| (e.file_name().to_string_lossy().into_owned(), e.path())))
        .collect::<io::Result<_>>()?;
    entries.sort();
    let mut out = Vec::new();
    for (name, path) in entries {
        if !hidden && name.starts_with('.') {
            continue;
        }
        let md = fs::symlink_metadata(&path)?;
        out.push(make_node(name, path, &md).map_err(|e| io::Error::other(e.to_string()))?);
    }
    Ok(out)
}

fn tree_size(node: &UploadNode, hidden: bool) -> u64 {
    match node {
        UploadNode::File { path, .. } => fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        UploadNode::Dir { path, .. } => read_dir_nodes(path, hidden)
            .map(|v| v.iter().map(|n| tree_size(n, hidden)).sum())
            .unwrap_or(0),
        _ => 0,
    }
}
