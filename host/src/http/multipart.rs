//! Streaming `multipart/form-data` reader for the RPC upload commands: `add`, `block/put`,
//! `dag/put` and `dag/import`.
//!
//! # What this module owns
//!
//! [`MultipartReader`] turns an upload body into a sequence of [`Entry`]s: files,
//! directories and symlinks, each with a path and optional mode and mtime. A file's content
//! comes as a stream of [`Bytes`] chunks ([`MultipartReader::next_chunk`]). Nothing is
//! buffered beyond one network chunk plus a boundary's worth of look-ahead, so a
//! multi-gigabyte `add` runs in constant memory. Bodies may arrive with
//! `Transfer-Encoding: chunked` (every kubo-rpc-client upload does) and split at any byte.
//!
//! # Why not `multer`
//!
//! multer has no limit on a part's header block: it buffers until it
//! sees `\r\n\r\n`, so a client can make it buffer without bound. It also re-scans its whole
//! buffer on each poll, and its `Content-Disposition` parsing is looser than Go's. Kubo's
//! behaviour is Go's `mime/multipart` plus boxo's `files/multipartfile.go`. A small state
//! machine reproduces that exactly and enforces [`Limits`]. It is fuzzed
//! (`fuzz/fuzz_targets/multipart.rs`).
//!
//! # Kubo behaviour reproduced (Go `mime/multipart`, boxo `files` v0.42, go-ipfs-cmds v0.16)
//!
//! * **Request `Content-Type`** (go-ipfs-cmds `parseRequest`, Go `Request.MultipartReader`):
//!   * a missing type, or any type other than `multipart/form-data`, means the command has no
//!     file. Kubo answers 400 text `file argument '<name>' is required`, where `<name>` is the
//!     command's file argument: `path` for `add` and `dag/import`, `data` for `block/put`,
//!     `object data` for `dag/put`.
//!   * `multipart/form-data` with malformed parameters gives 400 text `request Content-Type
//!     isn't multipart/form-data`.
//!   * no `boundary` parameter gives 400 text `no multipart boundary param in Content-Type`.
//! * **Framing** (Go `multipart.Reader`):
//!   * lines before the first `--boundary` line (the preamble) are skipped.
//!   * a boundary line may carry trailing spaces or tabs.
//!   * if the first boundary line ends in a bare `\n`, the whole body is read in LF mode.
//!   * a part's data ends at `\r\n--boundary` followed by `--`, a space, a tab, CR, LF or the
//!     end of the body. So `\r\n--boundaryX` inside a file is data.
//!   * a part body may begin directly with `--boundary`.
//!   * everything after `--boundary--` (the epilogue) is ignored.
//! * **Part headers** follow textproto rules: `Name: value` lines, continuation lines joined
//!   with a space, case-insensitive names, first value wins.
//! * **Kind** (boxo `nextFile`), from the part's `Content-Type` media type:
//!   `application/x-directory` and `multipart/form-data` are directories;
//!   `application/symlink` is a symlink whose body is the target; anything else, including
//!   no `Content-Type`, is a file. An unparsable `Content-Type` is an error.
//! * **Path** (boxo `fileName`): the `filename` parameter of `Content-Disposition`
//!   (RFC 2231 `filename*` included), URL-decoded with Go's `QueryUnescape`: `%XX`, and `+`
//!   becomes a space. A name whose escapes are malformed is used as it is. A missing or
//!   unparsable `Content-Disposition` gives the empty path `""`. This is the unnamed single
//!   file of `ipfs.add(bytes)`.
//! * **Metadata** (boxo `fileInfo`) is the query string of the form-field *name*, only when
//!   the disposition is `form-data`: `name="file-2?mode=0644&mtime=1000&mtime-nsecs=5"`.
//!   * `mode` is octal (`strconv.ParseUint(v, 8, 32)`). An invalid value is ignored.
//!   * `mtime` is decimal seconds, and may be negative. An invalid value means no mtime.
//!   * `mtime-nsecs` is optional. Go normalises it like `time.Unix(secs, nsecs)` (1.5e9
//!     nanoseconds carry one second), and so does Pinfold.
//!   * if the name's query string has any malformed pair, boxo drops all metadata, and so
//!     does Pinfold.
//! * **`abspath`** (filestore / `nocopy`): the `abspath-encoded` header (URL-decoded), or
//!   otherwise `abspath`, on file parts.
//!
//! # Deliberate deviations and limits
//!
//! * **Status of stream errors.** Kubo parses parts lazily while the command runs. A
//!   malformed or truncated body therefore reaches its clients as a 500 JSON error (or an
//!   `X-Stream-Error` trailer). Pinfold reports these as **400** JSON errors with code 1
//!   (client), with a message that starts `multipart:`. The request-level `Content-Type`
//!   errors above keep Kubo's exact 400 text responses.
//! * **Path hygiene.** boxo runs `path.Clean("/" + name)`, which silently resolves `..`.
//!   Pinfold **rejects** names with a `..` segment, a NUL byte, or non-UTF-8 bytes (400).
//!   Like boxo it strips a leading `/` and collapses `//` and `.` segments: JS clients send
//!   absolute paths when given them, and Kubo accepts those.
//! * **Metadata quirk.** boxo reports an mtime of Unix 0 when the field name has a query
//!   string without `mtime` (e.g. only `mode`). Pinfold reports no mtime instead.
//! * **Quoted-printable.** Go decodes `Content-Transfer-Encoding: quoted-printable` parts on
//!   the fly. No IPFS client sends them, so Pinfold answers 400 rather than storing bytes
//!   that differ from Kubo's.
//! * **[`Limits`].** Go allows 10 MiB of part headers and 10000 header lines. Pinfold
//!   defaults to 16 KiB and 64 per part (real clients send about 150 bytes and 2 headers)
//!   and answers `multipart: message too large` (Go's wording) beyond that. Boundary and
//!   preamble lines are limited to 4096 bytes, as Go's `bufio` buffer limits them. Symlink
//!   targets are limited to 4096 bytes.
//! * Implicit parent directories and out-of-order parts are the consumer's concern.
//!   [`Entry`] reports parts as they arrive.

use axum::body::Body;
use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;

use super::goerror::{ApiError, go_quote};
use super::unescape::unescape;

/// Resource limits for one upload. Every limit applies per part unless noted otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in one part's header block, including line endings and the blank line.
    pub max_header_bytes: usize,
    /// Header lines in one part, counting continuation lines.
    pub max_headers: usize,
    /// Length of a boundary line or a preamble line, as Go's 4096-byte `bufio` buffer.
    pub max_line_bytes: usize,
    /// Total preamble bytes before the first boundary (for the whole body).
    pub max_preamble_bytes: usize,
    /// Length of a symlink target.
    pub max_symlink_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_line_bytes: 4096,
            max_preamble_bytes: 64 * 1024,
            max_symlink_bytes: 4096,
        }
    }
}

/// What a part is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file. Its content follows via [`MultipartReader::next_chunk`].
    File,
    /// A directory (`application/x-directory`). It has no content.
    Directory,
    /// A symlink (`application/symlink`) with the given target.
    Symlink(String),
}

/// One part of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// URL-decoded, normalised, `/`-separated relative path: no leading `/`, no empty, `.`
    /// or `..` segments. `""` when the part has no file name.
    pub path: String,
    /// File, directory or symlink.
    pub kind: EntryKind,
    /// POSIX mode from the field name's `mode=` (octal), if present and valid.
    pub mode: Option<u32>,
    /// Modification time as (seconds since the Unix epoch, nanoseconds). Nanoseconds are
    /// normalised into `1..=999_999_999`, and `None` stands for zero.
    pub mtime: Option<(i64, Option<u32>)>,
    /// Absolute source path for filestore (`nocopy`) adds, from `abspath-encoded`/`abspath`.
    pub abspath: Option<String>,
}

/// Where the reader is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first boundary line.
    Preamble,
    /// Reading a part's header block.
    Headers,
    /// Inside a part's data.
    Body,
    /// Just consumed `[nl]--boundary`; the rest of the boundary line follows.
    AfterDelimiter,
    /// After the closing delimiter (or after an error).
    Done,
}

/// A streaming reader over a `multipart/form-data` request body (see the module docs).
pub struct MultipartReader {
    body: Body,
    buf: BytesMut,
    eof: bool,
    /// `--boundary`.
    dash_boundary: Vec<u8>,
    /// `\r\n--boundary`, or `\n--boundary` in LF mode.
    nl_dash_boundary: Vec<u8>,
    lf_mode: bool,
    state: State,
    /// Whether any byte of the current part's data has been consumed.
    body_started: bool,
    /// Whether the current part is a file (its data is readable with `next_chunk`).
    current_is_file: bool,
    parts_read: usize,
    preamble_bytes: usize,
    limits: Limits,
}

impl std::fmt::Debug for MultipartReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultipartReader")
            .field(
                "boundary",
                &String::from_utf8_lossy(&self.dash_boundary[2..]),
            )
            .field("state", &self.state)
            .field("parts_read", &self.parts_read)
            .finish_non_exhaustive()
    }
}

fn mp_err(msg: impl std::fmt::Display) -> ApiError {
    ApiError::client(format!("multipart: {msg}"))
}

const MULTIPART_FORM_DATA: &str = "multipart/form-data";

impl MultipartReader {
    /// Start reading `body`, given the request's `Content-Type` header value.
    ///
    /// `file_arg` is the command's file argument name, used in Kubo's error for a request
    /// without a multipart body (`path` for `add`/`dag/import`, `data` for `block/put`,
    /// `object data` for `dag/put`).
    pub fn new(content_type: Option<&str>, body: Body, file_arg: &str) -> Result<Self, ApiError> {
        Self::with_limits(content_type, body, file_arg, Limits::default())
    }

    /// [`MultipartReader::new`] with explicit [`Limits`].
    pub fn with_limits(
        content_type: Option<&str>,
        body: Body,
        file_arg: &str,
        limits: Limits,
    ) -> Result<Self, ApiError> {
        let boundary = request_boundary(content_type, file_arg)?;
        if boundary.is_empty() {
            return Err(mp_err("boundary is empty"));
        }
        let dash_boundary = [b"--".as_slice(), boundary.as_bytes()].concat();
        if dash_boundary.len() + 2 > limits.max_line_bytes {
            return Err(mp_err("boundary is too long"));
        }
        let nl_dash_boundary = [b"\r\n".as_slice(), &dash_boundary].concat();
        Ok(MultipartReader {
            body,
            buf: BytesMut::new(),
            eof: false,
            dash_boundary,
            nl_dash_boundary,
            lf_mode: false,
            state: State::Preamble,
            body_started: false,
            current_is_file: false,
            parts_read: 0,
            preamble_bytes: 0,
            limits,
        })
    }

    /// Read one more data frame into the buffer. Returns `false` at the end of the body.
    async fn fill(&mut self) -> Result<bool, ApiError> {
        while !self.eof {
            match self.body.frame().await {
                None => self.eof = true,
                Some(Err(e)) => {
                    self.state = State::Done;
                    return Err(mp_err(format!("failed to read request body: {e}")));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        self.buf.extend_from_slice(&data);
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }

    fn fail<T>(&mut self, e: ApiError) -> Result<T, ApiError> {
        self.state = State::Done;
        Err(e)
    }

    fn nl(&self) -> &'static [u8] {
        if self.lf_mode { b"\n" } else { b"\r\n" }
    }

    /// Advance to the next part and describe it. Any unread content of the current part is
    /// skipped. Returns `None` after the closing delimiter.
    pub async fn next_entry(&mut self) -> Result<Option<Entry>, ApiError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Body => {
                    // Discard what the caller did not read.
                    while self.read_body_piece().await?.is_some() {}
                }
                State::AfterDelimiter => self.finish_delimiter_line().await?,
                State::Preamble => self.skip_preamble().await?,
                State::Headers => {
                    let headers = self.read_headers().await?;
                    self.parts_read += 1;
                    self.state = State::Body;
                    self.body_started = false;
                    let entry = match entry_from_headers(&headers) {
                        Ok(e) => e,
                        Err(e) => return self.fail(e),
                    };
                    self.current_is_file = entry.kind == EntryKind::File;
                    if matches!(entry.kind, EntryKind::Symlink(_)) {
                        let target = self.read_symlink_target().await?;
                        return Ok(Some(Entry {
                            kind: EntryKind::Symlink(target),
                            ..entry
                        }));
                    }
                    return Ok(Some(entry));
                }
            }
        }
    }

    /// The next chunk of the current file's content, or `None` at its end. Directories and
    /// symlinks have no content. Chunks are never empty.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, ApiError> {
        if !self.current_is_file {
            return Ok(None);
        }
        self.read_body_piece().await
    }

    /// Read the rest of the current file into memory, failing with 400 beyond `max` bytes
    /// (for `block/put` and `dag/put`, whose inputs are single blocks).
    pub async fn read_to_end(&mut self, max: usize) -> Result<Bytes, ApiError> {
        let mut out = BytesMut::new();
        while let Some(chunk) = self.next_chunk().await? {
            if out.len() + chunk.len() > max {
                return self.fail(mp_err(format!("part is larger than {max} bytes")));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }

    async fn read_symlink_target(&mut self) -> Result<String, ApiError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.read_body_piece().await? {
            if out.len() + chunk.len() > self.limits.max_symlink_bytes {
                return self.fail(mp_err(format!(
                    "symlink target longer than {} bytes",
                    self.limits.max_symlink_bytes
                )));
            }
            out.extend_from_slice(&chunk);
        }
        match String::from_utf8(out) {
            Ok(s) => Ok(s),
            Err(_) => self.fail(mp_err("symlink target is not valid UTF-8")),
        }
    }

    /// Take one complete line (through `\n`) from the buffer, reading more as needed. At the
    /// end of the body the partial rest (possibly empty) is returned with `false`. `None`
    /// means the line is longer than `max` bytes; at most one network chunk beyond `max` is
    /// ever buffered.
    async fn take_line(&mut self, max: usize) -> Result<Option<(Bytes, bool)>, ApiError> {
        let mut scanned = 0;
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|&c| c == b'\n') {
                let end = scanned + i + 1;
                if end > max {
                    return Ok(None);
                }
                return Ok(Some((self.buf.split_to(end).freeze(), true)));
            }
            scanned = self.buf.len();
            if scanned > max {
                return Ok(None);
            }
            if !self.fill().await? {
                let rest = self.buf.split().freeze();
                return Ok(Some((rest, false)));
            }
        }
    }

    /// [`Self::take_line`] for boundary and preamble lines, failing with `<what> longer than
    /// <max_line_bytes> bytes`.
    async fn take_short_line(&mut self, what: &str) -> Result<(Bytes, bool), ApiError> {
        let max = self.limits.max_line_bytes;
        match self.take_line(max).await? {
            Some(v) => Ok(v),
            None => self.fail(mp_err(format!("{what} longer than {max} bytes"))),
        }
    }

    /// Go's `isBoundaryDelimiterLine` (switching to LF mode on the first part if needed).
    fn is_delimiter_line(&mut self, line: &[u8]) -> bool {
        let Some(rest) = line.strip_prefix(self.dash_boundary.as_slice()) else {
            return false;
        };
        let rest = skip_lwsp(rest);
        if self.parts_read == 0 && rest == b"\n" {
            self.lf_mode = true;
            self.nl_dash_boundary.remove(0);
        }
        rest == self.nl()
    }

    /// Go's `isFinalBoundary`, accepting either line ending.
    fn is_final_line(&self, line: &[u8]) -> bool {
        let Some(rest) = line.strip_prefix(self.dash_boundary.as_slice()) else {
            return false;
        };
        let Some(rest) = rest.strip_prefix(b"--") else {
            return false;
        };
        matches!(skip_lwsp(rest), b"" | b"\n" | b"\r\n")
    }

    async fn skip_preamble(&mut self) -> Result<(), ApiError> {
        loop {
            let (line, complete) = self.take_short_line("preamble line").await?;
            self.preamble_bytes += line.len();
            if self.preamble_bytes > self.limits.max_preamble_bytes {
                return self.fail(mp_err(format!(
                    "more than {} bytes before the first boundary",
                    self.limits.max_preamble_bytes
                )));
            }
            if complete && self.is_delimiter_line(&line) {
                self.state = State::Headers;
                return Ok(());
            }
            if self.is_final_line(&line) {
                self.state = State::Done;
                return Ok(());
            }
            if !complete {
                return self.fail(mp_err(
                    "body ends before the first boundary (NextPart: EOF)",
                ));
            }
        }
    }

    /// After `[nl]--boundary`: either `--` (the end) or optional whitespace and a newline.
    async fn finish_delimiter_line(&mut self) -> Result<(), ApiError> {
        while self.buf.len() < 2 && !self.eof {
            self.fill().await?;
        }
        if self.buf.starts_with(b"--") {
            // The closing delimiter; the epilogue is ignored.
            self.state = State::Done;
            return Ok(());
        }
        let (line, complete) = self.take_short_line("boundary line").await?;
        if !complete {
            return self.fail(mp_err(
                "unexpected end of body after a boundary (missing closing delimiter)",
            ));
        }
        if skip_lwsp(&line) != self.nl() {
            return self.fail(mp_err(format!(
                "malformed boundary line: unexpected {}",
                go_quote(&String::from_utf8_lossy(&line))
            )));
        }
        self.state = State::Headers;
        Ok(())
    }

    /// Read a header block (textproto rules) within [`Limits`].
    async fn read_headers(&mut self) -> Result<Vec<(String, String)>, ApiError> {
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut used = 0usize;
        let mut lines = 0usize;
        let too_large = |limit: &Limits| {
            mp_err(format!(
                "message too large (part headers over {} bytes or {} lines)",
                limit.max_header_bytes, limit.max_headers
            ))
        };
        loop {
            let budget = self.limits.max_header_bytes.saturating_sub(used);
            let Some((line, complete)) = self.take_line(budget).await? else {
                let e = too_large(&self.limits);
                return self.fail(e);
            };
            if !complete {
                return self.fail(mp_err("unexpected end of body in part headers"));
            }
            used += line.len();
            let mut text: &[u8] = &line[..line.len() - 1];
            if let Some(t) = text.strip_suffix(b"\r") {
                text = t;
            }
            if text.is_empty() {
                return Ok(headers);
            }
            lines += 1;
            if lines > self.limits.max_headers {
                let e = too_large(&self.limits);
                return self.fail(e);
            }
            let Ok(text) = std::str::from_utf8(text) else {
                return self.fail(mp_err("part header is not valid UTF-8"));
            };
            if text.starts_with([' ', '\t']) {
                match headers.last_mut() {
                    Some((_, v)) => {
                        let more = text.trim_matches([' ', '\t']);
                        if !more.is_empty() {
                            if !v.is_empty() {
                                v.push(' ');
                            }
                            v.push_str(more);
                        }
                        continue;
                    }
                    None => {
                        return self.fail(mp_err(format!(
                            "malformed MIME header initial line: {}",
                            go_quote(text)
                        )));
                    }
                }
            }
            let Some((name, value)) = text.split_once(':') else {
                return self.fail(mp_err(format!(
                    "malformed MIME header line: {}",
                    go_quote(text)
                )));
            };
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return self.fail(mp_err(format!(
                    "malformed MIME header line: {}",
                    go_quote(text)
                )));
            }
            headers.push((
                name.to_ascii_lowercase(),
                value.trim_matches([' ', '\t']).to_owned(),
            ));
        }
    }

    /// Produce the next piece of the current part's data, or `None` at the part's end
    /// (after which the state is `AfterDelimiter`).
    async fn read_body_piece(&mut self) -> Result<Option<Bytes>, ApiError> {
        loop {
            if self.state != State::Body {
                return Ok(None);
            }
            if !self.body_started {
                // Go allows the delimiter without the leading newline at the start of a body.
                let db = self.dash_boundary.len();
                if self.buf.len() < db && self.dash_boundary.starts_with(&self.buf) && !self.eof {
                    self.fill().await?;
                    continue;
                }
                if self.buf.starts_with(&self.dash_boundary) {
                    match match_after_prefix(&self.buf, db, self.eof) {
                        Match::Yes => {
                            self.buf.advance(db);
                            self.state = State::AfterDelimiter;
                            return Ok(None);
                        }
                        Match::NeedMore => {
                            self.fill().await?;
                            continue;
                        }
                        Match::No => {}
                    }
                }
            }
            match scan_for_delimiter(&self.buf, &self.nl_dash_boundary, self.eof) {
                Scan::Found(i) => {
                    let data = self.buf.split_to(i).freeze();
                    self.buf.advance(self.nl_dash_boundary.len());
                    self.state = State::AfterDelimiter;
                    self.body_started = true;
                    return Ok((!data.is_empty()).then_some(data));
                }
                Scan::SafeUpTo(n) if n > 0 => {
                    self.body_started = true;
                    return Ok(Some(self.buf.split_to(n).freeze()));
                }
                Scan::SafeUpTo(_) => {
                    if self.eof {
                        return self.fail(mp_err(
                            "unexpected EOF in part data (missing closing boundary)",
                        ));
                    }
                    // Read more; at the end of the body, scan once more with `eof` set.
                    self.fill().await?;
                }
            }
        }
    }
}

/// Result of testing what follows a delimiter candidate (Go's `matchAfterPrefix`).
#[derive(Debug, PartialEq, Eq)]
enum Match {
    Yes,
    No,
    NeedMore,
}

fn match_after_prefix(buf: &[u8], prefix_len: usize, eof: bool) -> Match {
    if buf.len() == prefix_len {
        return if eof { Match::Yes } else { Match::NeedMore };
    }
    match buf[prefix_len] {
        b' ' | b'\t' | b'\r' | b'\n' => Match::Yes,
        b'-' => match buf.get(prefix_len + 1) {
            None if eof => Match::No,
            None => Match::NeedMore,
            Some(b'-') => Match::Yes,
            Some(_) => Match::No,
        },
        _ => Match::No,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// A real delimiter starts at this index.
    Found(usize),
    /// No delimiter yet; bytes before this index are certainly data.
    SafeUpTo(usize),
}

/// Find `delim` in `buf`, applying [`match_after_prefix`]. A candidate cut off by the end of
/// the buffer (when more input may come) stops the scan.
fn scan_for_delimiter(buf: &[u8], delim: &[u8], eof: bool) -> Scan {
    let first = delim[0];
    let mut from = 0;
    while let Some(off) = buf[from..].iter().position(|&c| c == first) {
        let i = from + off;
        let rest = &buf[i..];
        if rest.len() < delim.len() {
            if !eof && delim.starts_with(rest) {
                return Scan::SafeUpTo(i);
            }
        } else if &rest[..delim.len()] == delim {
            match match_after_prefix(rest, delim.len(), eof) {
                Match::Yes => return Scan::Found(i),
                Match::NeedMore => return Scan::SafeUpTo(i),
                Match::No => {}
            }
        }
        from = i + 1;
    }
    Scan::SafeUpTo(buf.len())
}

fn skip_lwsp(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| matches!(c, b' ' | b'\t')).count();
    &b[n..]
}

/// Go's `isTokenChar` (RFC 2045 token): visible ASCII except tspecials.
fn is_token_byte(c: u8) -> bool {
    c > 0x20 && c < 0x7f && !b"()<>@,;:\\\"/[]?=".contains(&c)
}

/// Go's `isTSpecial`.
fn is_tspecial(c: u8) -> bool {
    b"()<>@,;:\\\"/[]?=".contains(&c)
}

/// Why [`parse_media_type`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MediaTypeError {
    /// The type itself is malformed (Go returns no media type).
    BadType(&'static str),
    /// The type is fine but a parameter is not (Go's `ErrInvalidMediaParameter`); carries the
    /// lower-cased type.
    BadParams(String),
    /// A parameter repeats with a different value (Go returns no media type).
    Duplicate,
}

/// Go's `mime.ParseMediaType`: the lower-cased type and its parameters (names lower-cased,
/// RFC 2231 `name*` and `name*0`… continuations decoded).
pub(crate) fn parse_media_type(v: &str) -> Result<(String, Vec<(String, String)>), MediaTypeError> {
    let base = v.split(';').next().unwrap_or("");
    let mediatype = base.to_lowercase().trim().to_owned();
    check_media_type(&mediatype).map_err(MediaTypeError::BadType)?;
    let mut params: Vec<(String, String)> = Vec::new();
    let mut starred: Vec<(String, String)> = Vec::new();
    let mut rest = &v[base.len()..];
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let Some((key, value, after)) = consume_media_param(rest) else {
            if rest.trim() == ";" {
                break;
            }
            return Err(MediaTypeError::BadParams(mediatype));
        };
        let map = if key.contains('*') {
            &mut starred
        } else {
            &mut params
        };
        if let Some((_, old)) = map.iter().find(|(k, _)| *k == key) {
            if *old != value {
                return Err(MediaTypeError::Duplicate);
            }
        } else {
            map.push((key, value));
        }
        rest = after;
    }
    // RFC 2231: `name*` (charset'lang'pct-encoded) overrides `name`; otherwise `name*0`,
    // `name*1*`, … are concatenated (each `*`-suffixed piece percent-decoded).
    let mut bases: Vec<String> = starred
        .iter()
        .filter_map(|(k, _)| k.split_once('*').map(|(b, _)| b.to_owned()))
        .collect();
    bases.sort();
    bases.dedup();
    let get = |k: String| {
        starred
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.as_str())
    };
    for b in bases {
        let value = if let Some(v) = get(format!("{b}*")) {
            decode_2231(v)
        } else {
            let mut out = String::new();
            let mut valid = false;
            for n in 0.. {
                if let Some(v) = get(format!("{b}*{n}")) {
                    valid = true;
                    out.push_str(v);
                    continue;
                }
                let Some(v) = get(format!("{b}*{n}*")) else {
                    break;
                };
                valid = true;
                let decoded = if n == 0 {
                    decode_2231(v)
                } else {
                    percent_hex_unescape(v).and_then(|b| String::from_utf8(b).ok())
                };
                out.push_str(decoded.as_deref().unwrap_or(""));
            }
            valid.then_some(out)
        };
        if let Some(v) = value {
            params.retain(|(n, _)| *n != b);
            params.push((b, v));
        }
    }
    Ok((mediatype, params))
}

fn check_media_type(s: &str) -> Result<(), &'static str> {
    let (typ, rest) = consume_token(s);
    if typ.is_empty() {
        return Err("mime: no media type");
    }
    if rest.is_empty() {
        return Ok(());
    }
    let Some(rest) = rest.strip_prefix('/') else {
        return Err("mime: expected slash after first token");
    };
    let (sub, rest) = consume_token(rest);
    if sub.is_empty() {
        return Err("mime: expected token after slash");
    }
    if !rest.is_empty() {
        return Err("mime: unexpected content after media subtype");
    }
    Ok(())
}

fn consume_token(v: &str) -> (&str, &str) {
    let n = v.bytes().position(|c| !is_token_byte(c)).unwrap_or(v.len());
    v.split_at(n)
}

fn consume_value(v: &str) -> Option<(String, &str)> {
    let b = v.as_bytes();
    if b.first() != Some(&b'"') {
        let (tok, rest) = consume_token(v);
        return Some((tok.to_owned(), rest));
    }
    let mut out = Vec::new();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'"' => return String::from_utf8(out).ok().map(|s| (s, &v[i + 1..])),
            b'\\' if i + 1 < b.len() && is_tspecial(b[i + 1]) => {
                out.push(b[i + 1]);
                i += 2;
                continue;
            }
            b'\r' | b'\n' => return None,
            c => out.push(c),
        }
        i += 1;
    }
    None
}

/// One `; key=value` (Go's `consumeMediaParam`); `None` where Go returns an empty key.
fn consume_media_param(v: &str) -> Option<(String, String, &str)> {
    let rest = v.trim_start().strip_prefix(';')?.trim_start();
    let (param, rest) = consume_token(rest);
    if param.is_empty() {
        return None;
    }
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let (value, after) = consume_value(rest)?;
    if value.is_empty() && after.len() == rest.len() {
        return None;
    }
    Some((param.to_lowercase(), value, after))
}

fn decode_2231(v: &str) -> Option<String> {
    let mut it = v.splitn(3, '\'');
    let charset = it.next()?.to_lowercase();
    let _lang = it.next()?;
    let enc = it.next()?;
    if charset != "us-ascii" && charset != "utf-8" {
        return None;
    }
    String::from_utf8(percent_hex_unescape(enc)?).ok()
}

fn percent_hex_unescape(s: &str) -> Option<Vec<u8>> {
    // Same as a path unescape: %XX only, '+' kept.
    unescape(s, false).ok()
}

/// Find the request's boundary, with Kubo's errors (see the module docs).
fn request_boundary(content_type: Option<&str>, file_arg: &str) -> Result<String, ApiError> {
    let ct = content_type.unwrap_or("");
    match parse_media_type(ct) {
        Ok((mt, params)) if mt == MULTIPART_FORM_DATA => params
            .into_iter()
            .find(|(k, _)| k == "boundary")
            .map(|(_, v)| v)
            .ok_or_else(|| ApiError::bad_request("no multipart boundary param in Content-Type")),
        Err(MediaTypeError::BadParams(mt)) if mt == MULTIPART_FORM_DATA => Err(
            ApiError::bad_request("request Content-Type isn't multipart/form-data"),
        ),
        _ => Err(ApiError::file_argument_required(file_arg)),
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn entry_from_headers(headers: &[(String, String)]) -> Result<Entry, ApiError> {
    if let Some(cte) = header(headers, "content-transfer-encoding")
        && cte.eq_ignore_ascii_case("quoted-printable")
    {
        return Err(mp_err("quoted-printable parts are not supported"));
    }
    let kind = match header(headers, "content-type") {
        None | Some("") => EntryKind::File,
        Some(ct) => match parse_media_type(ct) {
            Ok((mt, _)) => match mt.as_str() {
                "application/x-directory" | MULTIPART_FORM_DATA => EntryKind::Directory,
                "application/symlink" => EntryKind::Symlink(String::new()),
                _ => EntryKind::File,
            },
            Err(_) => {
                return Err(mp_err(format!(
                    "invalid part Content-Type {}",
                    go_quote(ct)
                )));
            }
        },
    };
    let (disposition, params) = header(headers, "content-disposition")
        .and_then(|v| parse_media_type(v).ok())
        .unwrap_or_default();
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let path = normalise_filename(param("filename").unwrap_or(""))?;
    let (mode, mtime) = match (disposition == "form-data", param("name")) {
        (true, Some(name)) => metadata_from_field_name(name),
        _ => (None, None),
    };
    let abspath = if kind == EntryKind::File {
        match header(headers, "abspath-encoded").filter(|v| !v.is_empty()) {
            Some(enc) => {
                let raw = unescape(enc, true)
                    .map_err(|e| mp_err(format!("bad abspath-encoded header: {e}")))?;
                Some(String::from_utf8(raw).map_err(|_| mp_err("abspath is not valid UTF-8"))?)
            }
            None => header(headers, "abspath")
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
        }
    } else {
        None
    };
    Ok(Entry {
        path,
        kind,
        mode,
        mtime,
        abspath,
    })
}

/// Decode a part's `filename` (Go's `QueryUnescape`, raw on malformed escapes) and normalise
/// it to a clean relative path, rejecting `..`, NUL and non-UTF-8.
pub(crate) fn normalise_filename(raw: &str) -> Result<String, ApiError> {
    let decoded = unescape(raw, true).unwrap_or_else(|_| raw.as_bytes().to_vec());
    let bad = |why: &str| mp_err(format!("invalid file name {}: {why}", go_quote(raw)));
    let decoded = String::from_utf8(decoded).map_err(|_| bad("not valid UTF-8"))?;
    if decoded.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    let mut segments = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(bad("contains a '..' segment")),
            s => segments.push(s),
        }
    }
    Ok(segments.join("/"))
}

/// `mode`, `mtime` and `mtime-nsecs` from the query string of a form-field name (boxo
/// `fileInfo`).
fn metadata_from_field_name(name: &str) -> (Option<u32>, Option<(i64, Option<u32>)>) {
    let Some((_, query)) = name.split_once('?') else {
        return (None, None);
    };
    // Go's url.ParseQuery; boxo drops all metadata if it reports any error.
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for pair in query.split('&') {
        if pair.contains(';') {
            return (None, None);
        }
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match (unescape(k, true), unescape(v, true)) {
            (Ok(k), Ok(v)) => pairs.push((k, v)),
            _ => return (None, None),
        }
    }
    let first = |key: &[u8]| {
        pairs
            .iter()
            .find(|(k, _)| k.as_slice() == key)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    let mode = first(b"mode").and_then(|v| parse_octal_u32(&v));
    let mtime = first(b"mtime")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|secs| {
            // ParseInt errors on mtime-nsecs are ignored (0), as in boxo.
            let nsecs = first(b"mtime-nsecs")
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
            normalise_unix(secs, nsecs)
        });
    (mode, mtime)
}

/// Go's `strconv.ParseUint(v, 8, 32)`.
fn parse_octal_u32(v: &str) -> Option<u32> {
    if v.is_empty() || !v.bytes().all(|c| (b'0'..=b'7').contains(&c)) {
        return None;
    }
    u32::from_str_radix(v, 8).ok()
}

/// `time.Unix(secs, nsecs)` normalisation; `None` on overflow.
fn normalise_unix(secs: i64, nsecs: i64) -> Option<(i64, Option<u32>)> {
    const NS: i64 = 1_000_000_000;
    let secs = secs.checked_add(nsecs.div_euclid(NS))?;
    let n = nsecs.rem_euclid(NS) as u32;
    Some((secs, (n != 0).then_some(n)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::goerror::ErrorFormat;
    use axum::http::StatusCode;
    use futures::stream;

    /// Everything a reader yields, with file contents.
    #[derive(Debug, PartialEq, Eq)]
    struct Got {
        entry: Entry,
        data: Vec<u8>,
    }

    fn entry(path: &str, kind: EntryKind) -> Entry {
        Entry {
            path: path.into(),
            kind,
            mode: None,
            mtime: None,
            abspath: None,
        }
    }

    async fn drain(mut r: MultipartReader) -> Result<Vec<Got>, ApiError> {
        let mut out = Vec::new();
        while let Some(entry) = r.next_entry().await? {
            let mut data = Vec::new();
            while let Some(c) = r.next_chunk().await? {
                assert!(!c.is_empty(), "empty chunk");
                data.extend_from_slice(&c);
            }
            out.push(Got { entry, data });
        }
        // Reading past the end stays at the end.
        assert_eq!(r.next_entry().await?, None);
        Ok(out)
    }

    fn body_from_chunks(chunks: Vec<Vec<u8>>) -> Body {
        Body::from_stream(stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from(c))),
        ))
    }

    async fn read_with(ct: &str, chunks: Vec<Vec<u8>>) -> Result<Vec<Got>, ApiError> {
        drain(MultipartReader::new(
            Some(ct),
            body_from_chunks(chunks),
            "path",
        )?)
        .await
    }

    async fn read(ct: &str, body: &[u8]) -> Result<Vec<Got>, ApiError> {
        read_with(ct, vec![body.to_vec()]).await
    }

    const BLOCK_PUT_CT: &str =
        "multipart/form-data; boundary=-----------------------------Hd8QtYbGSxAfIzmCOpVO8";
    const BLOCK_PUT_BODY: &[u8] = b"-------------------------------Hd8QtYbGSxAfIzmCOpVO8\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"\"\r\n\
Content-Type: application/octet-stream\r\n\
\r\n\
hello world\n\r\n\
-------------------------------Hd8QtYbGSxAfIzmCOpVO8--\r\n";

    const DIR_CT: &str = "multipart/form-data; boundary=B";
    const DIR_BODY: &[u8] = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d%2Fa.txt\"\r\nContent-Type: application/octet-stream\r\n\r\nA\r\n\
--B\r\nContent-Disposition: form-data; name=\"dir-1\"; filename=\"d%2Fsub\"\r\nContent-Type: application/x-directory\r\n\r\n\r\n\
--B\r\nContent-Disposition: form-data; name=\"file-2?mode=0644&mtime=1000&mtime-nsecs=5\"; filename=\"d%2Fsub%2Fb.txt\"\r\nContent-Type: application/octet-stream\r\n\r\nB\r\n\
--B--\r\n";

    fn dir_expected() -> Vec<Got> {
        vec![
            Got {
                entry: entry("d/a.txt", EntryKind::File),
                data: b"A".to_vec(),
            },
            Got {
                entry: entry("d/sub", EntryKind::Directory),
                data: vec![],
            },
            Got {
                entry: Entry {
                    mode: Some(0o644),
                    mtime: Some((1000, Some(5))),
                    ..entry("d/sub/b.txt", EntryKind::File)
                },
                data: b"B".to_vec(),
            },
        ]
    }

    #[tokio::test]
    async fn kubo_rpc_client_single_file() {
        let got = read(BLOCK_PUT_CT, BLOCK_PUT_BODY).await.unwrap();
        assert_eq!(
            got,
            vec![Got {
                entry: entry("", EntryKind::File),
                data: b"hello world\n".to_vec()
            }]
        );
    }

    #[tokio::test]
    async fn kubo_rpc_client_directory_upload() {
        assert_eq!(read(DIR_CT, DIR_BODY).await.unwrap(), dir_expected());
    }

    #[tokio::test]
    async fn undici_formdata_named_file() {
        let ct = "multipart/form-data; boundary=----formdata-undici-052709076752";
        let body = b"------formdata-undici-052709076752\r\nContent-Disposition: form-data; name=\"file\"; filename=\"hello.txt\"\r\nContent-Type: application/octet-stream\r\n\r\nhello world\n\r\n------formdata-undici-052709076752--\r\n";
        let got = read(ct, body).await.unwrap();
        assert_eq!(
            got,
            vec![Got {
                entry: entry("hello.txt", EntryKind::File),
                data: b"hello world\n".to_vec()
            }]
        );
    }

    /// Go's CLI (boxo MultiFileReader) style: quoted boundary param, no Content-Type on a
    /// file part, url.QueryEscape'd names with '+' for spaces.
    #[tokio::test]
    async fn go_client_style_body() {
        let ct = "Multipart/Form-Data; Boundary=\"xyz\"";
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"my+dir%2Fa+b.txt\"\r\n\r\ncontent\r\n--xyz--";
        let got = read(ct, body).await.unwrap();
        assert_eq!(
            got,
            vec![Got {
                entry: entry("my dir/a b.txt", EntryKind::File),
                data: b"content".to_vec()
            }]
        );
    }

    #[tokio::test]
    async fn every_split_position_gives_the_same_result() {
        for (ct, body, expected) in [
            (
                BLOCK_PUT_CT,
                BLOCK_PUT_BODY,
                read(BLOCK_PUT_CT, BLOCK_PUT_BODY).await.unwrap(),
            ),
            (DIR_CT, DIR_BODY, dir_expected()),
        ] {
            for i in 0..=body.len() {
                let chunks = vec![body[..i].to_vec(), body[i..].to_vec()];
                assert_eq!(
                    read_with(ct, chunks).await.unwrap(),
                    expected,
                    "split at {i}"
                );
            }
            // every byte its own chunk
            let chunks = body.iter().map(|b| vec![*b]).collect();
            assert_eq!(
                read_with(ct, chunks).await.unwrap(),
                expected,
                "byte by byte"
            );
            // three-way splits
            for i in (0..body.len()).step_by(7) {
                for j in (i..body.len()).step_by(5) {
                    let chunks = vec![body[..i].to_vec(), body[i..j].to_vec(), body[j..].to_vec()];
                    assert_eq!(
                        read_with(ct, chunks).await.unwrap(),
                        expected,
                        "split {i}/{j}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn truncation_at_every_position_is_an_error_not_a_panic() {
        for i in 0..DIR_BODY.len() - 2 {
            let r = read(DIR_CT, &DIR_BODY[..i]).await;
            let e = r.expect_err(&format!("truncated at {i} must fail"));
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{i}: {e:?}");
            assert!(e.message.starts_with("multipart: "), "{i}: {}", e.message);
        }
        // The final "--" is enough; the trailing CRLF is optional.
        assert_eq!(
            read(DIR_CT, &DIR_BODY[..DIR_BODY.len() - 2]).await.unwrap(),
            dir_expected()
        );
    }

    #[tokio::test]
    async fn boundary_look_alikes_are_data() {
        let body = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n\
a\r\n--BX\r\n--B-x\r\n--\r\n-B\r\n--B--\r\n";
        let got = read(DIR_CT, body).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data, b"a\r\n--BX\r\n--B-x\r\n--\r\n-B");
        // a delimiter followed by spaces is still a delimiter
        let body = b"--B \t\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nzz\r\n--B  \r\n\r\nyy\r\n--B--";
        let got = read(DIR_CT, body).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].data, b"zz");
        assert_eq!(got[1].entry.path, "");
        assert_eq!(got[1].data, b"yy");
    }

    #[tokio::test]
    async fn body_may_start_with_the_delimiter() {
        // empty part whose data is immediately followed by the boundary, without CRLF
        let body = b"--B\r\nContent-Type: application/x-directory\r\n\r\n--B--\r\n";
        let got = read(DIR_CT, body).await.unwrap();
        assert_eq!(
            got,
            vec![Got {
                entry: entry("", EntryKind::Directory),
                data: vec![]
            }]
        );
        // but "--Bx" there is data
        let body = b"--B\r\n\r\n--Bx\r\n--B--";
        assert_eq!(read(DIR_CT, body).await.unwrap()[0].data, b"--Bx");
    }

    #[tokio::test]
    async fn preamble_epilogue_and_lf_mode() {
        let body = b"This is a preamble\r\nignored --B line\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nA\r\n--B--\r\nepilogue is ignored\r\n--B\r\ngarbage";
        let got = read(DIR_CT, body).await.unwrap();
        assert_eq!(
            got,
            vec![Got {
                entry: entry("a", EntryKind::File),
                data: b"A".to_vec()
            }]
        );
        let body = b"--B\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\n\nline1\r\nline2\n--B\n\nsecond\n--B--\n";
        let got = read(DIR_CT, body).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].data, b"line1\r\nline2");
        assert_eq!(got[1].data, b"second");
        // an empty multipart body (just the close delimiter) has no entries
        assert_eq!(read(DIR_CT, b"--B--\r\n").await.unwrap(), vec![]);
    }

    #[tokio::test]
    async fn unread_content_is_skipped() {
        let mut r =
            MultipartReader::new(Some(DIR_CT), Body::from(DIR_BODY.to_vec()), "path").unwrap();
        let mut paths = Vec::new();
        while let Some(e) = r.next_entry().await.unwrap() {
            paths.push(e.path);
        }
        assert_eq!(paths, ["d/a.txt", "d/sub", "d/sub/b.txt"]);
        // partially read file
        let big = vec![b'x'; 100_000];
        let mut body = b"--B\r\n\r\n".to_vec();
        body.extend_from_slice(&big);
        body.extend_from_slice(b"\r\n--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"second\"\r\n\r\n2\r\n--B--");
        let chunks: Vec<Vec<u8>> = body.chunks(1000).map(<[u8]>::to_vec).collect();
        let mut r = MultipartReader::new(Some(DIR_CT), body_from_chunks(chunks), "path").unwrap();
        r.next_entry().await.unwrap().unwrap();
        assert!(r.next_chunk().await.unwrap().is_some());
        let second = r.next_entry().await.unwrap().unwrap();
        assert_eq!(second.path, "second");
        assert_eq!(r.read_to_end(10).await.unwrap(), Bytes::from_static(b"2"));
        assert_eq!(r.next_entry().await.unwrap(), None);
    }

    #[tokio::test]
    async fn large_file_streams_in_bounded_pieces() {
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut body =
            b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big\"\r\n\r\n"
                .to_vec();
        body.extend_from_slice(&big);
        body.extend_from_slice(b"\r\n--B--\r\n");
        let chunks: Vec<Vec<u8>> = body.chunks(8192).map(<[u8]>::to_vec).collect();
        let mut r = MultipartReader::new(Some(DIR_CT), body_from_chunks(chunks), "path").unwrap();
        r.next_entry().await.unwrap().unwrap();
        let mut data = Vec::new();
        while let Some(c) = r.next_chunk().await.unwrap() {
            assert!(c.len() <= 8192 + 8, "piece of {} bytes", c.len());
            data.extend_from_slice(&c);
        }
        assert_eq!(data, big);
        let e = {
            let mut body = b"--B\r\n\r\n".to_vec();
            body.extend_from_slice(&big);
            body.extend_from_slice(b"\r\n--B--");
            let mut r = MultipartReader::new(Some(DIR_CT), Body::from(body), "data").unwrap();
            r.next_entry().await.unwrap();
            r.read_to_end(1000).await.unwrap_err()
        };
        assert_eq!(e.message, "multipart: part is larger than 1000 bytes");
    }

    #[tokio::test]
    async fn request_content_type_errors_match_kubo() {
        let check = |ct: Option<&str>, status: StatusCode, msg: &str, format: ErrorFormat| {
            let e = MultipartReader::new(ct, Body::empty(), "path").unwrap_err();
            assert_eq!(
                (e.status, e.message.as_str(), e.format),
                (status, msg, format),
                "{ct:?}"
            );
        };
        let text = ErrorFormat::Text;
        check(
            None,
            StatusCode::BAD_REQUEST,
            "file argument 'path' is required",
            text,
        );
        check(
            Some("application/octet-stream"),
            StatusCode::BAD_REQUEST,
            "file argument 'path' is required",
            text,
        );
        check(
            Some("multipart/mixed; boundary=x"),
            StatusCode::BAD_REQUEST,
            "file argument 'path' is required",
            text,
        );
        check(
            Some("multipart/form-data"),
            StatusCode::BAD_REQUEST,
            "no multipart boundary param in Content-Type",
            text,
        );
        check(
            Some("multipart/form-data; charset=utf-8"),
            StatusCode::BAD_REQUEST,
            "no multipart boundary param in Content-Type",
            text,
        );
        check(
            Some("multipart/form-data; boundary"),
            StatusCode::BAD_REQUEST,
            "request Content-Type isn't multipart/form-data",
            text,
        );
        check(
            Some("multipart/form-data; boundary=\"unterminated"),
            StatusCode::BAD_REQUEST,
            "request Content-Type isn't multipart/form-data",
            text,
        );
        check(
            Some("multipart/form-data; boundary=\"\""),
            StatusCode::BAD_REQUEST,
            "multipart: boundary is empty",
            ErrorFormat::Json,
        );
        let e = MultipartReader::new(None, Body::empty(), "object data").unwrap_err();
        assert_eq!(e.message, "file argument 'object data' is required");
        // trailing semicolon is fine, parameter names are case-insensitive
        assert!(
            MultipartReader::new(Some("multipart/form-data; BOUNDARY=b;"), Body::empty(), "p")
                .is_ok()
        );
    }

    #[tokio::test]
    async fn malformed_bodies_are_clear_400s() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"",
                "multipart: body ends before the first boundary (NextPart: EOF)",
            ),
            (
                b"no boundary here at all",
                "multipart: body ends before the first boundary (NextPart: EOF)",
            ),
            (
                b"--B\r\nContent-Type: text/plain\r\n",
                "multipart: unexpected end of body in part headers",
            ),
            (
                b"--B\r\n\r\nabc",
                "multipart: unexpected EOF in part data (missing closing boundary)",
            ),
            (
                b"--B\r\n\r\nabc\r\n--B",
                "multipart: unexpected end of body after a boundary (missing closing delimiter)",
            ),
            (
                b"--B\r\n\r\nabc\r\n--B\r\n",
                "multipart: unexpected end of body in part headers",
            ),
            (
                b"--B\r\n\r\nabc\r\n--B \tx\r\n",
                "multipart: malformed boundary line: unexpected \" \\tx\\r\\n\"",
            ),
            (
                b"--B\r\nno colon\r\n\r\n\r\n--B--",
                "multipart: malformed MIME header line: \"no colon\"",
            ),
            (
                b"--B\r\n folded first\r\n\r\n\r\n--B--",
                "multipart: malformed MIME header initial line: \" folded first\"",
            ),
            (
                b"--B\r\nBad Name: x\r\n\r\n\r\n--B--",
                "multipart: malformed MIME header line: \"Bad Name: x\"",
            ),
            (
                b"--B\r\nContent-Type: /bad\r\n\r\n\r\n--B--",
                "multipart: invalid part Content-Type \"/bad\"",
            ),
            (
                b"--B\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\n=41\r\n--B--",
                "multipart: quoted-printable parts are not supported",
            ),
            (
                b"--B\r\nX: \xff\r\n\r\n\r\n--B--",
                "multipart: part header is not valid UTF-8",
            ),
        ];
        for (body, msg) in cases {
            let e = read(DIR_CT, body).await.unwrap_err();
            assert_eq!(
                e.status,
                StatusCode::BAD_REQUEST,
                "{:?}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(e.format, ErrorFormat::Json);
            assert_eq!(e.message, *msg, "{:?}", String::from_utf8_lossy(body));
        }
    }

    #[tokio::test]
    async fn oversized_headers_are_rejected_without_buffering_everything() {
        // one endless header line, delivered in chunks that never contain a newline
        let mut chunks = vec![b"--B\r\nX-Long: ".to_vec()];
        chunks.extend(std::iter::repeat_n(vec![b'a'; 1024], 1024));
        let e = read_with(DIR_CT, chunks).await.unwrap_err();
        assert!(
            e.message.starts_with("multipart: message too large"),
            "{}",
            e.message
        );
        // many small header lines
        let mut body = b"--B\r\n".to_vec();
        for i in 0..100 {
            body.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n\r\n--B--");
        let e = read(DIR_CT, &body).await.unwrap_err();
        assert!(
            e.message.starts_with("multipart: message too large"),
            "{}",
            e.message
        );
        // exactly at the limits is fine
        let limits = Limits {
            max_header_bytes: 64,
            max_headers: 2,
            ..Limits::default()
        };
        let body = b"--B\r\nContent-Disposition: form-data; filename=a\r\nX: y\r\n\r\n1\r\n--B--";
        let header_block = "Content-Disposition: form-data; filename=a\r\nX: y\r\n\r\n".len();
        assert!(header_block <= 64);
        let r = MultipartReader::with_limits(Some(DIR_CT), Body::from(body.to_vec()), "p", limits)
            .unwrap();
        assert_eq!(drain(r).await.unwrap()[0].entry.path, "a");
        let limits = Limits {
            max_headers: 1,
            ..limits
        };
        let r = MultipartReader::with_limits(Some(DIR_CT), Body::from(body.to_vec()), "p", limits)
            .unwrap();
        assert!(drain(r).await.is_err());
        // a preamble line that never ends
        let chunks = std::iter::repeat_n(vec![b'p'; 1024], 10).collect();
        let e = read_with(DIR_CT, chunks).await.unwrap_err();
        assert_eq!(e.message, "multipart: preamble line longer than 4096 bytes");
    }

    #[test]
    fn filenames() {
        let ok = [
            ("", ""),
            ("a.txt", "a.txt"),
            ("d%2Fa.txt", "d/a.txt"),
            ("d/sub/b.txt", "d/sub/b.txt"),
            ("%2Fabs%2Fpath", "abs/path"),
            ("/abs//x/./y/", "abs/x/y"),
            ("a+b", "a b"),
            ("a%2Bb", "a+b"),
            ("100%", "100%"),     // malformed escape: used raw (boxo)
            ("%zz%2F", "%zz%2F"), // idem, nothing decoded
            ("%E4%BD%A0%E5%A5%BD", "你好"),
            ("...", "..."),
            ("..a/b..", "..a/b.."),
            ("back\\slash", "back\\slash"),
        ];
        for (raw, want) in ok {
            assert_eq!(normalise_filename(raw).unwrap(), want, "{raw:?}");
        }
        for raw in [
            "..",
            "..%2Fetc%2Fpasswd",
            "a/../b",
            "a%2F..",
            "%2F..%2F",
            "nul%00byte",
            "%FF",
        ] {
            let e = normalise_filename(raw).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{raw:?}");
            assert!(
                e.message.starts_with("multipart: invalid file name"),
                "{}",
                e.message
            );
        }
    }

    #[tokio::test]
    async fn bad_filename_in_body_is_400() {
        let body = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"..%2Fx\"\r\n\r\nA\r\n--B--";
        let e = read(DIR_CT, body).await.unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.message,
            "multipart: invalid file name \"..%2Fx\": contains a '..' segment"
        );
    }

    #[test]
    fn field_name_metadata() {
        let m = metadata_from_field_name;
        assert_eq!(m("file"), (None, None));
        assert_eq!(
            m("file-2?mode=0644&mtime=1000&mtime-nsecs=5"),
            (Some(0o644), Some((1000, Some(5))))
        );
        assert_eq!(m("file?mode=755"), (Some(0o755), None));
        assert_eq!(m("file?mode=0899&mtime=7"), (None, Some((7, None))));
        assert_eq!(m("file?mode=0o644"), (None, None));
        assert_eq!(m("file?mode=37777777777"), (Some(u32::MAX), None));
        assert_eq!(m("file?mode=40000000000"), (None, None));
        assert_eq!(m("file?mtime=-5&mtime-nsecs=x"), (None, Some((-5, None))));
        assert_eq!(
            m("file?mtime=10&mtime-nsecs=1500000000"),
            (None, Some((11, Some(500_000_000))))
        );
        assert_eq!(
            m("file?mtime=10&mtime-nsecs=-1"),
            (None, Some((9, Some(999_999_999))))
        );
        assert_eq!(m("file?mtime=x&mode=0600"), (Some(0o600), None));
        assert_eq!(m("file?mtime-nsecs=5"), (None, None));
        // any malformed pair drops everything (boxo returns a nil FileInfo)
        assert_eq!(m("file?mode=0644&bad=%zz"), (None, None));
        assert_eq!(m("file?mode=0644;mtime=1"), (None, None));
        assert_eq!(
            m("file?mtime=9223372036854775807&mtime-nsecs=1000000000"),
            (None, None)
        );
    }

    #[tokio::test]
    async fn metadata_needs_form_data_disposition() {
        let body = b"--B\r\nContent-Disposition: attachment; name=\"file?mode=0644\"; filename=\"a\"\r\n\r\nA\r\n--B--";
        let got = read(DIR_CT, body).await.unwrap();
        assert_eq!(got[0].entry, entry("a", EntryKind::File));
    }

    #[tokio::test]
    async fn symlinks_abspath_and_kinds() {
        let body = b"--B\r\nContent-Disposition: form-data; name=\"symlink\"; filename=\"d%2Flink\"\r\nContent-Type: application/symlink\r\n\r\n..%2Ftarget/x\r\n\
--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\nabspath-encoded: %2Fhome%2Fa+b\r\n\r\n1\r\n\
--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"g\"\r\nAbsPath: /raw/path\r\ncontent-type: Text/Plain; charset=utf-8\r\n\r\n2\r\n\
--B\r\nContent-Disposition: form-data; name=\"dir\"; filename=\"n\"\r\nContent-Type: multipart/form-data; boundary=ignored\r\n\r\nignored body\r\n--B--";
        let got = read(DIR_CT, body).await.unwrap();
        assert_eq!(
            got[0].entry,
            entry("d/link", EntryKind::Symlink("..%2Ftarget/x".into()))
        );
        assert!(got[0].data.is_empty());
        assert_eq!(
            got[1].entry,
            Entry {
                abspath: Some("/home/a b".into()),
                ..entry("f", EntryKind::File)
            }
        );
        assert_eq!(
            got[2].entry,
            Entry {
                abspath: Some("/raw/path".into()),
                ..entry("g", EntryKind::File)
            }
        );
        assert_eq!(got[3].entry, entry("n", EntryKind::Directory));
        assert!(got[3].data.is_empty());
        // symlink target limit
        let limits = Limits {
            max_symlink_bytes: 4,
            ..Limits::default()
        };
        let r = MultipartReader::with_limits(Some(DIR_CT), Body::from(body.to_vec()), "p", limits)
            .unwrap();
        assert!(
            drain(r)
                .await
                .unwrap_err()
                .message
                .contains("symlink target longer than 4 bytes")
        );
    }

    #[test]
    fn media_type_parsing_like_go() {
        let p = |s: &str| parse_media_type(s);
        assert_eq!(
            p("form-data; name=\"file\"; filename=\"a.txt\"").unwrap(),
            (
                "form-data".to_owned(),
                vec![
                    ("name".to_owned(), "file".to_owned()),
                    ("filename".to_owned(), "a.txt".to_owned())
                ]
            )
        );
        assert_eq!(p(" Text/HTML ").unwrap().0, "text/html");
        assert_eq!(
            p("").unwrap_err(),
            MediaTypeError::BadType("mime: no media type")
        );
        assert_eq!(
            p("text/").unwrap_err(),
            MediaTypeError::BadType("mime: expected token after slash")
        );
        assert_eq!(
            p("text html").unwrap_err(),
            MediaTypeError::BadType("mime: expected slash after first token")
        );
        assert_eq!(
            p("a/b/c").unwrap_err(),
            MediaTypeError::BadType("mime: unexpected content after media subtype")
        );
        assert_eq!(p("a/b; x=1; x=2").unwrap_err(), MediaTypeError::Duplicate);
        assert!(p("a/b; x=1; x=1").is_ok());
        assert_eq!(
            p("a/b; x=\"a\\\"b\\c\"").unwrap().1,
            vec![("x".to_owned(), "a\"b\\c".to_owned())]
        );
        assert_eq!(
            p("a/b; x").unwrap_err(),
            MediaTypeError::BadParams("a/b".into())
        );
        assert_eq!(
            p("a/b; x=\"open").unwrap_err(),
            MediaTypeError::BadParams("a/b".into())
        );
        assert_eq!(
            p("a/b; x= ").unwrap_err(),
            MediaTypeError::BadParams("a/b".into())
        );
        assert_eq!(
            p("a/b; x=\"\"").unwrap().1,
            vec![("x".to_owned(), String::new())]
        );
        // unquoted value with a space: Go rejects the trailing token
        assert_eq!(
            p("form-data; filename=my file.txt").unwrap_err(),
            MediaTypeError::BadParams("form-data".into())
        );
        // RFC 2231
        let (_, params) =
            p("form-data; filename=\"plain.txt\"; filename*=UTF-8''%e2%82%ac%20rates.txt").unwrap();
        assert_eq!(
            params,
            vec![("filename".to_owned(), "€ rates.txt".to_owned())]
        );
        let (_, params) = p("form-data; title*0*=us-ascii'en'This%20is; title*1=\" even more \"; title*2*=%2A%2A%2Afun%2A%2A%2A").unwrap();
        assert_eq!(
            params,
            vec![("title".to_owned(), "This is even more ***fun***".to_owned())]
        );
    }

    #[tokio::test]
    async fn body_read_errors_are_reported() {
        let s = stream::iter(vec![
            Ok(Bytes::from_static(b"--B\r\n\r\npartial")),
            Err(std::io::Error::other("connection reset")),
        ]);
        let mut r = MultipartReader::new(Some(DIR_CT), Body::from_stream(s), "path").unwrap();
        r.next_entry().await.unwrap().unwrap();
        let mut err = None;
        loop {
            match r.next_chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let e = err.expect("read error surfaces");
        assert!(
            e.message
                .starts_with("multipart: failed to read request body"),
            "{}",
            e.message
        );
        assert_eq!(r.next_entry().await.unwrap(), None);
    }

    #[test]
    fn scanner_units() {
        let d = b"\r\n--B";
        assert_eq!(scan_for_delimiter(b"abc", d, false), Scan::SafeUpTo(3));
        assert_eq!(scan_for_delimiter(b"abc\r\n-", d, false), Scan::SafeUpTo(3));
        assert_eq!(scan_for_delimiter(b"abc\r\n-", d, true), Scan::SafeUpTo(6));
        assert_eq!(
            scan_for_delimiter(b"abc\r\n--B", d, false),
            Scan::SafeUpTo(3)
        );
        assert_eq!(scan_for_delimiter(b"abc\r\n--B", d, true), Scan::Found(3));
        assert_eq!(
            scan_for_delimiter(b"abc\r\n--B-", d, false),
            Scan::SafeUpTo(3)
        );
        assert_eq!(
            scan_for_delimiter(b"abc\r\n--B--", d, false),
            Scan::Found(3)
        );
        assert_eq!(
            scan_for_delimiter(b"a\r\n--Bz\r\n--B\r\n", d, false),
            Scan::Found(7)
        );
        assert_eq!(scan_for_delimiter(b"\r\r\n--B ", d, false), Scan::Found(1));
    }
}
