//! Kubo-compatible RPC errors: what `/api/v0` answers when something goes wrong.
//!
//! # What this module owns
//!
//! Every failure of the Kubo RPC server is an [`ApiError`]. It renders itself, through
//! [`axum::response::IntoResponse`], byte for byte the way Kubo (go-ipfs-cmds v0.16, Kubo
//! 867cdc5) does. Kubo has **two distinct error wire formats**, and which one a client sees
//! depends on *where* the request failed. [`ErrorFormat`] records which one applies:
//!
//! * [`ErrorFormat::Json`] covers errors raised while a command runs. go-ipfs-cmds' response
//!   emitter (`http/responseemitter.go`, `sendErr`) writes
//!   `{"Message":"…","Code":0,"Type":"error"}` followed by a newline (Go's `json.Encoder`
//!   always appends `\n`), with `Content-Type: application/json`. It writes the usual preamble
//!   headers: `Access-Control-Allow-Headers` and `Access-Control-Expose-Headers`, both
//!   `X-Stream-Output, X-Chunked-Output, X-Content-Length`, and `Trailer: X-Stream-Error`.
//!   The status is **400 only for `ErrClient`. Every other code, including rate-limited and
//!   forbidden, is sent as 500.**
//! * [`ErrorFormat::Text`] covers errors that Kubo raises *before* a command runs: unknown
//!   endpoint, wrong method, a missing argument, an option value that does not convert,
//!   a malformed multipart `Content-Type`. go-ipfs-cmds answers these with Go's
//!   `http.Error(w, msg, status)`, which sends a `text/plain; charset=utf-8` body of `msg`
//!   plus `\n`, with `X-Content-Type-Options: nosniff`.
//!
//! The wire facts below were checked in go-ipfs-cmds (`error.go`, `http/handler.go`,
//! `http/parse.go`, `http/apiprefix.go`, `http/responseemitter.go`, `request.go`,
//! `command.go`, `option.go`) and Kubo (`core/corehttp/commands.go`):
//!
//! | situation | status | body (format) |
//! |---|---|---|
//! | path outside `/api/v0/`, unknown command, more than one path argument | 404 | `404 page not found` (text) |
//! | any method but POST/OPTIONS (Kubo never enables `AllowGet`) | 405 | `405 - Method Not Allowed` (text), plus `Allow: OPTIONS, POST` |
//! | browser request from a foreign origin (CSRF guard) | 403 | `403 - Forbidden` (text) |
//! | missing required string argument | 400 | `argument "key" is required` (text) |
//! | a file argument without a multipart body | 400 | `file argument 'path' is required` (text) |
//! | an option value that does not parse | 400 | `could not convert value "x" to type "bool" (for option "-recursive")` (text) |
//! | a single-valued option given twice | 400 | `expected key recursive to have only a single value, received [a b]` (text) |
//! | command failure | 500 | JSON, `Code` 0 |
//! | `cmds.ClientError` / `Errorf(ErrClient, …)` inside a command | 400 | JSON, `Code` 1 |
//!
//! # Error codes: the brief's numbering was wrong
//!
//! go-ipfs-cmds' `ErrorType` is `ErrNormal=0, ErrClient=1, ErrImplementation=2,
//! ErrRateLimited=3, ErrForbidden=4`. There is no `ErrNotFound`: commit d9d26d6 (2019)
//! removed it ("it isn't used") together with `ErrFatal`. So [`ErrorCode`] uses those wire
//! values. A client that decodes `Code` (the Go client does) would misread any other
//! numbering. Kubo produces "not found" only as the plain-text 404 above, so
//! [`ApiError::not_found`] builds that, with code [`ErrorCode::Client`]. That is also what
//! go-ipfs-cmds' own client reports for a 404.
//!
//! # Mid-stream errors
//!
//! When a command has already sent a `200 OK` and some output, Kubo cannot change the status.
//! Instead `closeWithError` sets the **HTTP trailer** `X-Stream-Error: <message>`, which it
//! announced up front with `Trailer: X-Stream-Error`. An error that happens *before* the first
//! output becomes an ordinary error response (the preamble has not been written yet).
//! [`stream_response`] reproduces both cases.
//!
//! hyper (1.x) differs from Go on one point. Its HTTP/1 server sends trailers **only if the
//! request carried `TE: trailers`** (`proto/h1/conn.rs`, `allow_trailer_fields`), while Go
//! always sends them. Go's client does not send `TE: trailers`, and JS `fetch` cannot read
//! trailers at all. If we ended the body normally for those clients, the trailer would be
//! dropped and a truncated output would look like a success. So when the client did not ask
//! for trailers, [`stream_response`] ends the body with an error instead. hyper then aborts
//! the connection without the closing zero-length chunk, and every HTTP client reports that
//! as a truncated response. This is a deliberate deviation: it is louder than Kubo, never
//! quieter.
//!
//! # Trade-offs and non-goals
//!
//! * CORS headers (`Vary: Origin`, `Access-Control-Allow-Origin`) belong to the CORS layer
//!   (rs/cors adds `Vary: Origin` to every non-preflight response, errors included). They
//!   are not added here, so they cannot be duplicated.
//! * Kubo sends `Server: kubo/<version>` (from `API.HTTPHeaders`) only on requests that
//!   parsed; that is the server layer's job.
//! * If a request asks for `?encoding=text`, Kubo sends command errors as bare text.
//!   Pinfold always uses JSON for command errors: every known client reads JSON errors.
//! * Go's `json.Encoder` escapes `<`, `>`, `&`, U+2028 and U+2029. [`go_json_string`]
//!   does the same so that error bodies are byte-identical.

use std::fmt;
use std::pin::Pin;

use axum::body::Body;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream::{self, Stream, StreamExt};
use http_body_util::StreamBody;
use hyper::body::Frame;

/// `X-Stream-Error`: the trailer that carries a mid-stream error (go-ipfs-cmds `StreamErrHeader`).
pub const STREAM_ERROR_HEADER: &str = "X-Stream-Error";
/// `X-Stream-Output: 1` marks a raw byte stream response (e.g. `cat`).
pub const STREAM_OUTPUT_HEADER: &str = "X-Stream-Output";
/// `X-Chunked-Output: 1` marks a response made of a sequence of encoded values (ndjson).
pub const CHUNKED_OUTPUT_HEADER: &str = "X-Chunked-Output";
/// `X-Content-Length`: the announced length of a stream (set via `SetLength`).
pub const CONTENT_LENGTH_HEADER: &str = "X-Content-Length";
/// The value Kubo puts in both `Access-Control-Allow-Headers` and
/// `Access-Control-Expose-Headers` of every command response (`AllowedExposedHeaders`).
pub const EXPOSED_HEADERS: &str = "X-Stream-Output, X-Chunked-Output, X-Content-Length";
/// The `Allow` header Kubo sends with a 405 (`setAllowHeader` with `AllowGet == false`).
pub const ALLOWED_METHODS: &str = "OPTIONS, POST";

/// Body of Kubo's 404 (go-ipfs-cmds `ErrNotFound`, also Go's `ServeMux` 404 text).
pub const NOT_FOUND_MESSAGE: &str = "404 page not found";
/// Body of Kubo's 405 for a GET/PUT/… on `/api/v0/*`.
pub const METHOD_NOT_ALLOWED_MESSAGE: &str = "405 - Method Not Allowed";
/// Body of Kubo's 403 when the origin / referer / user-agent check rejects a request.
pub const FORBIDDEN_MESSAGE: &str = "403 - Forbidden";

/// go-ipfs-cmds' `ErrorType`, with its wire values (the `Code` field of a JSON error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorCode {
    /// `ErrNormal`: the command failed for a reason that is not a bug.
    Normal = 0,
    /// `ErrClient`: the client made an invalid request.
    Client = 1,
    /// `ErrImplementation`: a bug in the server.
    Implementation = 2,
    /// `ErrRateLimited`: the operation was rate limited.
    RateLimited = 3,
    /// `ErrForbidden`: the client may not perform this operation.
    Forbidden = 4,
}

impl ErrorCode {
    /// The wire value used in the JSON `Code` field.
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// The HTTP status go-ipfs-cmds' `sendErr` uses for an error of this code: 400 for
    /// [`ErrorCode::Client`] and 500 for everything else.
    pub const fn status(self) -> StatusCode {
        match self {
            ErrorCode::Client => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// go-ipfs-cmds' `ErrorType.String()`.
    pub const fn description(self) -> &'static str {
        match self {
            ErrorCode::Normal => "command failed",
            ErrorCode::Client => "invalid argument",
            ErrorCode::Implementation => "internal error",
            ErrorCode::RateLimited => "rate limited",
            ErrorCode::Forbidden => "request forbidden",
        }
    }

    /// Decode a wire value. Unknown values map to `None`.
    pub const fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => ErrorCode::Normal,
            1 => ErrorCode::Client,
            2 => ErrorCode::Implementation,
            3 => ErrorCode::RateLimited,
            4 => ErrorCode::Forbidden,
            _ => return None,
        })
    }
}

/// Which of Kubo's two error encodings a response uses (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorFormat {
    /// `{"Message","Code","Type":"error"}` + `\n`, `application/json`: errors raised by a command.
    Json,
    /// `message` + `\n`, `text/plain; charset=utf-8`: errors raised before a command runs
    /// (Go's `http.Error`).
    Text,
}

/// An error of the Kubo RPC API, rendered exactly as Kubo renders it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status of the error response.
    pub status: StatusCode,
    /// Human-readable message (`Message` in JSON, the whole body in text).
    pub message: String,
    /// go-ipfs-cmds error type (`Code` in JSON).
    pub code: ErrorCode,
    /// Wire format of the response.
    pub format: ErrorFormat,
}

impl ApiError {
    /// A JSON command error with the status go-ipfs-cmds derives from `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status: code.status(),
            message: message.into(),
            code,
            format: ErrorFormat::Json,
        }
    }

    /// `ErrNormal`, 500, JSON: an ordinary command failure.
    pub fn normal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Normal, message)
    }

    /// `ErrClient`, 400, JSON: the command rejected its input (`cmds.ClientError`).
    pub fn client(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Client, message)
    }

    /// `ErrImplementation`, 500, JSON.
    pub fn implementation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Implementation, message)
    }

    /// `ErrRateLimited`, JSON. Kubo sends it with status **500**, not 429.
    pub fn rate_limited(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RateLimited, message)
    }

    /// `ErrForbidden`, JSON. Kubo sends it with status **500**, not 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// A plain-text error raised while parsing the request (Go's `http.Error`, status 400).
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            code: ErrorCode::Client,
            format: ErrorFormat::Text,
        }
    }

    /// Kubo's 404 for an unknown endpoint: `404 page not found`, plain text.
    pub fn not_found() -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: NOT_FOUND_MESSAGE.to_owned(),
            code: ErrorCode::Client,
            format: ErrorFormat::Text,
        }
    }

    /// Kubo's 405 for any method other than POST and OPTIONS, with `Allow: OPTIONS, POST`.
    pub fn method_not_allowed() -> Self {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: METHOD_NOT_ALLOWED_MESSAGE.to_owned(),
            code: ErrorCode::Client,
            format: ErrorFormat::Text,
        }
    }

    /// Kubo's 403 for a request that fails the origin/referer/user-agent (CSRF) check.
    pub fn origin_forbidden() -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            message: FORBIDDEN_MESSAGE.to_owned(),
            code: ErrorCode::Forbidden,
            format: ErrorFormat::Text,
        }
    }

    /// `argument "<name>" is required` (400, text): go-ipfs-cmds `CheckArguments`.
    pub fn missing_argument(name: &str) -> Self {
        Self::bad_request(format!("argument {} is required", go_quote(name)))
    }

    /// `file argument '<name>' is required` (400, text): a command with a required file
    /// argument (`add` → `path`, `block/put` → `data`, `dag/put` → `object data`,
    /// `dag/import` → `path`) received no `multipart/form-data` body.
    pub fn file_argument_required(name: &str) -> Self {
        Self::bad_request(format!("file argument '{name}' is required"))
    }

    /// `could not convert value "<v>" to type "<ty>" (for option "-<option>")` (400, text),
    /// or `could not convert empty value …` when `value` is empty: go-ipfs-cmds
    /// `checkAndConvertOptions`. `ty` is Go's `reflect.Kind` name: `bool`, `int`, `uint`,
    /// `int64`, `uint64`, `float64`.
    pub fn invalid_option_value(option: &str, ty: &str, value: &str) -> Self {
        let shown = if value.is_empty() {
            "empty value".to_owned()
        } else {
            format!("value {}", go_quote(value))
        };
        Self::bad_request(format!(
            "could not convert {shown} to type {} (for option {})",
            go_quote(ty),
            go_quote(&format!("-{option}"))
        ))
    }

    /// `expected key <option> to have only a single value, received [a b]` (400, text):
    /// a single-valued option repeated in the query string (go-ipfs-cmds `parseRequest`).
    pub fn option_repeated(option: &str, values: &[&str]) -> Self {
        Self::bad_request(format!(
            "expected key {option} to have only a single value, received [{}]",
            values.join(" ")
        ))
    }

    /// The same error with another status (the code and format are kept).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Kubo's JSON error body, including the trailing newline.
    pub fn json_body(&self) -> String {
        format!(
            "{{\"Message\":{},\"Code\":{},\"Type\":\"error\"}}\n",
            go_json_string(&self.message),
            self.code.as_u32()
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (content_type, body) = match self.format {
            ErrorFormat::Json => ("application/json", self.json_body()),
            ErrorFormat::Text => ("text/plain; charset=utf-8", format!("{}\n", self.message)),
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        match self.format {
            ErrorFormat::Json => insert_preamble_headers(headers),
            ErrorFormat::Text => {
                headers.insert(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                );
            }
        }
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            headers.insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
        }
        response
    }
}

/// The headers go-ipfs-cmds' `doPreamble` puts on every command response (success or
/// error): the two `Access-Control-*-Headers` lists and `Trailer: X-Stream-Error`.
pub fn insert_preamble_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    headers.insert(
        header::TRAILER,
        HeaderValue::from_static(STREAM_ERROR_HEADER),
    );
}

/// Whether the request's `TE` header lists `trailers`. hyper's HTTP/1 server sends response
/// trailers only in that case.
pub fn client_accepts_trailers(request_headers: &HeaderMap) -> bool {
    request_headers.get_all(header::TE).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',').any(|item| {
                let token = item.split(';').next().unwrap_or("").trim();
                token.eq_ignore_ascii_case("trailers")
            })
        })
    })
}

/// The trailer map that reports a mid-stream error: `X-Stream-Error: <message>`.
///
/// A header value cannot hold CR, LF or other control bytes, so each of those is replaced by
/// a space. Go's `net/http` does the same to trailer values it writes.
pub fn stream_error_trailer(message: &str) -> HeaderMap {
    let clean: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let value =
        HeaderValue::from_str(&clean).unwrap_or_else(|_| HeaderValue::from_static("stream error"));
    let mut map = HeaderMap::new();
    map.insert(HeaderName::from_static("x-stream-error"), value);
    map
}

/// How a streaming command's output is framed, which selects Kubo's marker header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// A sequence of encoded values (ndjson): `X-Chunked-Output: 1`.
    Chunked,
    /// Raw bytes from a reader (`cat`, `block/get`, `dag/export`): `X-Stream-Output: 1`.
    Raw,
}

type BoxedChunks = Pin<Box<dyn Stream<Item = Result<Bytes, ApiError>> + Send>>;

/// Build a Kubo-style streaming response from a stream of body chunks.
///
/// * If the **first** item is an error, the result is that error's ordinary response
///   (status 400/500, JSON), the same as Kubo when a command fails before emitting anything.
/// * Otherwise the response is `200 OK` with the preamble headers ([`insert_preamble_headers`]),
///   the marker header for `kind`, and `content_type`. Chunks are forwarded as they come.
///   Empty chunks are skipped.
/// * An error **after** output has started ends the body. If `accepts_trailers` is true (see
///   [`client_accepts_trailers`]), the error travels as the `X-Stream-Error` trailer and the
///   chunked body ends cleanly, as in Kubo. Otherwise the body ends with an I/O error: hyper
///   aborts the connection without the final zero-length chunk, so the client sees a truncated
///   response rather than a silent success.
pub async fn stream_response<S>(
    kind: StreamKind,
    content_type: &'static str,
    accepts_trailers: bool,
    chunks: S,
) -> Response
where
    S: Stream<Item = Result<Bytes, ApiError>> + Send + 'static,
{
    let mut chunks: BoxedChunks = Box::pin(chunks);
    // Skip leading empty chunks so that an error right after them still gets a real status.
    let first = loop {
        match chunks.next().await {
            Some(Ok(b)) if b.is_empty() => continue,
            other => break other,
        }
    };
    let first = match first {
        Some(Err(e)) => return e.into_response(),
        Some(Ok(b)) => Some(b),
        None => None,
    };
    let body = trailer_body(first, chunks, accepts_trailers);
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    insert_preamble_headers(headers);
    let marker = match kind {
        StreamKind::Chunked => HeaderName::from_static("x-chunked-output"),
        StreamKind::Raw => HeaderName::from_static("x-stream-output"),
    };
    headers.insert(marker, HeaderValue::from_static("1"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Body state for [`trailer_body`].
enum BodyState {
    First(Option<Bytes>, BoxedChunks),
    Streaming(BoxedChunks),
    Done,
}

/// A response body that forwards `chunks` and turns an error into an `X-Stream-Error`
/// trailer (when `accepts_trailers`) or into a body error (otherwise).
pub fn trailer_body(
    first: Option<Bytes>,
    rest: Pin<Box<dyn Stream<Item = Result<Bytes, ApiError>> + Send>>,
    accepts_trailers: bool,
) -> Body {
    let frames = stream::unfold(BodyState::First(first, rest), move |state| async move {
        let mut chunks = match state {
            BodyState::Done => return None,
            BodyState::First(Some(b), rest) => {
                return Some((Ok(Frame::data(b)), BodyState::Streaming(rest)));
            }
            BodyState::First(None, rest) | BodyState::Streaming(rest) => rest,
        };
        loop {
            match chunks.next().await {
                None => return None,
                Some(Ok(b)) if b.is_empty() => continue,
                Some(Ok(b)) => return Some((Ok(Frame::data(b)), BodyState::Streaming(chunks))),
                Some(Err(e)) => {
                    let item = if accepts_trailers {
                        Ok(Frame::trailers(stream_error_trailer(&e.message)))
                    } else {
                        Err(e)
                    };
                    return Some((item, BodyState::Done));
                }
            }
        }
    });
    Body::new(StreamBody::new(frames))
}

/// Go's `strconv.Quote`, as used by `%q`: a double-quoted string with Go escapes.
///
/// Which characters count as printable follows Go's `unicode.IsPrint` for every category
/// that matters in practice: control characters, separators other than U+0020, format
/// characters and private-use characters are escaped. Unassigned code points are printed
/// as they are, because Rust's standard library has no table for them.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if !go_is_print(c) => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint` (see [`go_quote`]).
fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    let format_or_private = matches!(u,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
        | 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD);
    let noncharacter = (0xFDD0..=0xFDEF).contains(&u) || (u & 0xFFFE) == 0xFFFE;
    !(format_or_private || noncharacter)
}

/// A JSON string literal escaped the way Go's `encoding/json` (with its default HTML
/// escaping) writes it: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other control characters as
/// `\u00XX`, and `<`, `>`, `&`, U+2028, U+2029 as `\u003c`, `\u003e`, `\u0026`, `\u2028`,
/// `\u2029`.
pub fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn parts(e: ApiError) -> (StatusCode, HeaderMap, String) {
        let r = e.into_response();
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    #[test]
    fn codes_match_go_ipfs_cmds() {
        assert_eq!(ErrorCode::Normal.as_u32(), 0);
        assert_eq!(ErrorCode::Client.as_u32(), 1);
        assert_eq!(ErrorCode::Implementation.as_u32(), 2);
        assert_eq!(ErrorCode::RateLimited.as_u32(), 3);
        assert_eq!(ErrorCode::Forbidden.as_u32(), 4);
        assert_eq!(ErrorCode::Client.status(), StatusCode::BAD_REQUEST);
        for c in [
            ErrorCode::Normal,
            ErrorCode::Implementation,
            ErrorCode::RateLimited,
            ErrorCode::Forbidden,
        ] {
            assert_eq!(c.status(), StatusCode::INTERNAL_SERVER_ERROR, "{c:?}");
            assert_eq!(ErrorCode::from_u32(c.as_u32()), Some(c));
        }
        assert_eq!(ErrorCode::from_u32(5), None);
        assert_eq!(ErrorCode::Client.to_string(), "invalid argument");
    }

    #[tokio::test]
    async fn json_error_is_byte_identical_to_kubo() {
        let (status, headers, body) = parts(ApiError::normal("an error occurred")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body,
            "{\"Message\":\"an error occurred\",\"Code\":0,\"Type\":\"error\"}\n"
        );
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(headers[header::TRAILER], "X-Stream-Error");
        assert_eq!(
            headers[header::ACCESS_CONTROL_EXPOSE_HEADERS],
            EXPOSED_HEADERS
        );
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_HEADERS],
            EXPOSED_HEADERS
        );
        assert!(headers.get(header::X_CONTENT_TYPE_OPTIONS).is_none());

        let (status, _, body) = parts(ApiError::client("bad <cid> & \"x\"\n")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            "{\"Message\":\"bad \\u003ccid\\u003e \\u0026 \\\"x\\\"\\n\",\"Code\":1,\"Type\":\"error\"}\n"
        );
        // The body is valid JSON that a client can decode.
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["Message"], "bad <cid> & \"x\"\n");
        assert_eq!(v["Type"], "error");
    }

    #[tokio::test]
    async fn rate_limited_and_forbidden_are_500_like_kubo() {
        let (status, _, body) = parts(ApiError::rate_limited("slow down")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("\"Code\":3"));
        let (status, _, body) = parts(ApiError::forbidden("no")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("\"Code\":4"));
    }

    #[tokio::test]
    async fn transport_errors_are_plain_text() {
        let (status, headers, body) = parts(ApiError::not_found()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, "404 page not found\n");
        assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(headers.get(header::TRAILER).is_none());

        let (status, headers, body) = parts(ApiError::method_not_allowed()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body, "405 - Method Not Allowed\n");
        assert_eq!(headers[header::ALLOW], "OPTIONS, POST");

        let (status, _, body) = parts(ApiError::origin_forbidden()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body, "403 - Forbidden\n");

        let (status, _, body) = parts(ApiError::missing_argument("key")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, "argument \"key\" is required\n");

        let (_, _, body) = parts(ApiError::file_argument_required("object data")).await;
        assert_eq!(body, "file argument 'object data' is required\n");

        let (_, _, body) = parts(ApiError::invalid_option_value("recursive", "bool", "yes")).await;
        assert_eq!(
            body,
            "could not convert value \"yes\" to type \"bool\" (for option \"-recursive\")\n"
        );
        let (_, _, body) = parts(ApiError::invalid_option_value("cid-version", "int", "")).await;
        assert_eq!(
            body,
            "could not convert empty value to type \"int\" (for option \"-cid-version\")\n"
        );

        let (_, _, body) = parts(ApiError::option_repeated("recursive", &["true", "false"])).await;
        assert_eq!(
            body,
            "expected key recursive to have only a single value, received [true false]\n"
        );
    }

    #[test]
    fn go_quote_matches_strconv_quote() {
        assert_eq!(go_quote("abc"), "\"abc\"");
        assert_eq!(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote("\n\t\u{0}\u{7f}"), "\"\\n\\t\\x00\\x7f\"");
        assert_eq!(go_quote("héllo 世界"), "\"héllo 世界\"");
        assert_eq!(
            go_quote("\u{a0}\u{200b}\u{feff}"),
            "\"\\u00a0\\u200b\\ufeff\""
        );
        assert_eq!(go_quote("\u{10ffff}"), "\"\\U0010ffff\"");
    }

    #[test]
    fn trailer_values_are_sanitised() {
        let t = stream_error_trailer("line1\nline2\r\u{0}end");
        assert_eq!(t["x-stream-error"], "line1 line2  end");
    }

    #[test]
    fn te_trailers_detection() {
        let mut h = HeaderMap::new();
        assert!(!client_accepts_trailers(&h));
        h.insert(header::TE, HeaderValue::from_static("gzip"));
        assert!(!client_accepts_trailers(&h));
        h.insert(header::TE, HeaderValue::from_static("gzip, Trailers"));
        assert!(client_accepts_trailers(&h));
        h.insert(header::TE, HeaderValue::from_static("trailers;q=1"));
        assert!(client_accepts_trailers(&h));
    }

    fn chunks(
        items: Vec<Result<&'static str, ApiError>>,
    ) -> impl Stream<Item = Result<Bytes, ApiError>> + Send + 'static {
        stream::iter(
            items
                .into_iter()
                .map(|r| r.map(|s| Bytes::from_static(s.as_bytes()))),
        )
    }

    #[tokio::test]
    async fn early_stream_error_is_a_plain_error_response() {
        let r = stream_response(
            StreamKind::Chunked,
            "application/json",
            true,
            chunks(vec![Ok(""), Err(ApiError::normal("boom"))]),
        )
        .await;
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            &body[..],
            b"{\"Message\":\"boom\",\"Code\":0,\"Type\":\"error\"}\n"
        );
    }

    #[tokio::test]
    async fn late_stream_error_becomes_trailer() {
        let r = stream_response(
            StreamKind::Chunked,
            "application/json",
            true,
            chunks(vec![
                Ok("{\"a\":1}\n"),
                Ok(""),
                Ok("{\"a\":2}\n"),
                Err(ApiError::normal("boom")),
            ]),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-chunked-output"], "1");
        assert_eq!(r.headers()[header::TRAILER], "X-Stream-Error");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        let collected = r.into_body().collect().await.unwrap();
        let trailers = collected.trailers().cloned().expect("trailers");
        assert_eq!(trailers["x-stream-error"], "boom");
        assert_eq!(&collected.to_bytes()[..], b"{\"a\":1}\n{\"a\":2}\n");
    }

    #[tokio::test]
    async fn late_stream_error_without_te_trailers_fails_the_body() {
        let r = stream_response(
            StreamKind::Raw,
            "text/plain",
            false,
            chunks(vec![Ok("abc"), Err(ApiError::normal("boom"))]),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-stream-output"], "1");
        let err = r.into_body().collect().await.unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
    }

    #[tokio::test]
    async fn successful_stream_has_no_trailer() {
        let r = stream_response(
            StreamKind::Raw,
            "text/plain",
            true,
            chunks(vec![Ok("a"), Ok("b")]),
        )
        .await;
        let collected = r.into_body().collect().await.unwrap();
        assert!(collected.trailers().is_none());
        assert_eq!(&collected.to_bytes()[..], b"ab");
        let r = stream_response(StreamKind::Raw, "text/plain", true, chunks(vec![])).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.into_body().collect().await.unwrap().to_bytes().is_empty());
    }

    /// End to end through hyper: with `TE: trailers` the trailer reaches the wire after the
    /// last chunk; without it the chunked body is never terminated (connection aborted).
    #[tokio::test]
    async fn trailer_on_the_wire_through_hyper() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        async fn handler(headers: HeaderMap) -> Response {
            let accepts = client_accepts_trailers(&headers);
            let items: Vec<Result<Bytes, ApiError>> = vec![
                Ok(Bytes::from_static(b"partial")),
                Err(ApiError::normal("disk on fire")),
            ];
            // Let hyper flush the head and first chunk before the error arrives, as in a real
            // stream; an error that arrives before any flush aborts with nothing written.
            let paced = stream::iter(items).then(|item| async move {
                if item.is_err() {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                item
            });
            stream_response(StreamKind::Raw, "text/plain", accepts, paced).await
        }
        let app = axum::Router::new().route("/api/v0/cat", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });

        async fn raw(addr: std::net::SocketAddr, extra: &str) -> String {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let req = format!(
                "POST /api/v0/cat HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n{extra}\r\n"
            );
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = Vec::new();
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out))
                    .await;
            String::from_utf8_lossy(&out).into_owned()
        }

        let with = raw(addr, "TE: trailers\r\n").await;
        assert!(with.starts_with("HTTP/1.1 200 OK"), "{with}");
        assert!(with.contains("transfer-encoding: chunked"), "{with}");
        assert!(
            with.ends_with("7\r\npartial\r\n0\r\nx-stream-error: disk on fire\r\n\r\n"),
            "{with:?}"
        );

        let without = raw(addr, "").await;
        assert!(without.starts_with("HTTP/1.1 200 OK"), "{without}");
        assert!(without.contains("7\r\npartial\r\n"), "{without:?}");
        assert!(
            !without.contains("\r\n0\r\n"),
            "body must not end cleanly: {without:?}"
        );
        server.abort();
    }
}
