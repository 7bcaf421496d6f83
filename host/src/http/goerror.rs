//! Go's error bodies, byte for byte: the two shapes the HTTP front doors answer errors with,
//! and the Go string quoting their messages use.
//!
//! # What this module owns
//! * **IPFS Cluster's** error body (`api/common/api.go`): `{"code":<status>,"message":"…"}`
//!   and a newline (Go's `json.Encoder`), with the status of the answer ([`error_response`],
//!   the REST API's only error shape).
//! * **go-ipfs-cmds'** errors ([`ApiError`]), what Kubo's RPC API (`/api/v0`, served by the
//!   embedded node in `ipfs/api`) and the multipart reader (`http/multipart.rs`) fail with.
//!   go-ipfs-cmds v0.16 (Kubo 867cdc5) has **two wire formats**, and which one a client sees
//!   depends on *where* the request failed. [`ErrorFormat`] records which one applies:
//!   * [`ErrorFormat::Json`] covers errors raised while a command runs. The response emitter
//!     (`http/responseemitter.go`, `sendErr`) writes `{"Message":"…","Code":0,"Type":"error"}`
//!     followed by a newline, with `Content-Type: application/json` and the usual preamble
//!     headers ([`insert_preamble_headers`]): `Access-Control-Allow-Headers` and
//!     `Access-Control-Expose-Headers`, both `X-Stream-Output, X-Chunked-Output,
//!     X-Content-Length`, and `Trailer: X-Stream-Error`. The status is **400 only for
//!     `ErrClient`. Every other code, including rate-limited and forbidden, is sent as 500.**
//!   * [`ErrorFormat::Text`] covers errors raised *before* a command runs: unknown endpoint,
//!     wrong method, a missing argument, an option value that does not convert, a malformed
//!     multipart `Content-Type`. go-ipfs-cmds answers these with Go's `http.Error(w, msg,
//!     status)`: a `text/plain; charset=utf-8` body of `msg` plus `\n`, with
//!     `X-Content-Type-Options: nosniff`.
//! * [`go_quote`] (Go's `strconv.Quote`, the `%q` of error messages) and [`go_json_string`]
//!   (Go's `encoding/json` string escaping, `<`, `>`, `&`, U+2028 and U+2029 included, so that
//!   error bodies are byte-identical).
//!
//! The go-ipfs-cmds wire facts were checked in go-ipfs-cmds (`error.go`, `http/handler.go`,
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
//! # Error codes
//! go-ipfs-cmds' `ErrorType` is `ErrNormal=0, ErrClient=1, ErrImplementation=2,
//! ErrRateLimited=3, ErrForbidden=4`. There is no `ErrNotFound`: commit d9d26d6 (2019)
//! removed it together with `ErrFatal`. So [`ErrorCode`] uses those wire values; a client that
//! decodes `Code` (the Go client does) would misread any other numbering. Kubo produces "not
//! found" only as the plain-text 404 above, so [`ApiError::not_found`] builds that, with code
//! [`ErrorCode::Client`], which is also what go-ipfs-cmds' own client reports for a 404.
//!
//! # Trade-offs and non-goals
//! * CORS headers (`Vary: Origin`, `Access-Control-Allow-Origin`) belong to the CORS layer
//!   (rs/cors adds `Vary: Origin` to every non-preflight response, errors included). They are
//!   not added here, so they cannot be duplicated.
//! * If a request asks for `?encoding=text`, Kubo sends command errors as bare text. Pinfold
//!   always uses JSON for command errors: every known client reads JSON errors.
//! * serde_json leaves `<`, `>` and `&` as they are in IPFS Cluster's bodies where Go's encoder
//!   writes `\u003c`…; both are the same JSON.

use std::fmt;

use axum::body::Body;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::types::ApiErrorBody;

/// IPFS Cluster's error answer: `{"code":<status>,"message":"…"}` and a newline.
pub(crate) fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    let body = ApiErrorBody {
        code: status.as_u16(),
        message: message.into(),
    };
    let mut bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    bytes.push(b'\n');
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = status;
    r
}

/// `X-Stream-Error`: the trailer that carries a mid-stream error (go-ipfs-cmds `StreamErrHeader`).
pub(crate) const STREAM_ERROR_HEADER: &str = "X-Stream-Error";
/// The value Kubo puts in both `Access-Control-Allow-Headers` and
/// `Access-Control-Expose-Headers` of every command response (`AllowedExposedHeaders`).
pub(crate) const EXPOSED_HEADERS: &str = "X-Stream-Output, X-Chunked-Output, X-Content-Length";
/// The `Allow` header Kubo sends with a 405 (`setAllowHeader` with `AllowGet == false`).
pub(crate) const ALLOWED_METHODS: &str = "OPTIONS, POST";

/// Body of Kubo's 404 (go-ipfs-cmds `ErrNotFound`, also Go's `ServeMux` 404 text).
pub(crate) const NOT_FOUND_MESSAGE: &str = "404 page not found";
/// Body of Kubo's 405 for a GET/PUT/… on `/api/v0/*`.
pub(crate) const METHOD_NOT_ALLOWED_MESSAGE: &str = "405 - Method Not Allowed";
/// Body of Kubo's 403 when the origin / referer / user-agent check rejects a request.
#[cfg(test)]
pub(crate) const FORBIDDEN_MESSAGE: &str = "403 - Forbidden";

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
    pub(crate) const fn as_u32(self) -> u32 {
        self as u32
    }

    /// The HTTP status go-ipfs-cmds' `sendErr` uses for an error of this code: 400 for
    /// [`ErrorCode::Client`] and 500 for everything else.
    pub(crate) const fn status(self) -> StatusCode {
        match self {
            ErrorCode::Client => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// go-ipfs-cmds' `ErrorType.String()`.
    pub(crate) const fn description(self) -> &'static str {
        match self {
            ErrorCode::Normal => "command failed",
            ErrorCode::Client => "invalid argument",
            ErrorCode::Implementation => "internal error",
            ErrorCode::RateLimited => "rate limited",
            ErrorCode::Forbidden => "request forbidden",
        }
    }

    /// Decode a wire value. Unknown values map to `None`.
    #[cfg(test)]
    pub(crate) const fn from_u32(v: u32) -> Option<Self> {
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
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status: code.status(),
            message: message.into(),
            code,
            format: ErrorFormat::Json,
        }
    }

    /// `ErrNormal`, 500, JSON: an ordinary command failure.
    pub(crate) fn normal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Normal, message)
    }

    /// `ErrClient`, 400, JSON: the command rejected its input (`cmds.ClientError`).
    pub fn client(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Client, message)
    }

    /// `ErrRateLimited`, JSON. Kubo sends it with status **500**, not 429.
    #[cfg(test)]
    pub(crate) fn rate_limited(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RateLimited, message)
    }

    /// `ErrForbidden`, JSON. Kubo sends it with status **500**, not 403.
    #[cfg(test)]
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// A plain-text error raised while parsing the request (Go's `http.Error`, status 400).
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            code: ErrorCode::Client,
            format: ErrorFormat::Text,
        }
    }

    /// Kubo's 404 for an unknown endpoint: `404 page not found`, plain text.
    pub(crate) fn not_found() -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: NOT_FOUND_MESSAGE.to_owned(),
            code: ErrorCode::Client,
            format: ErrorFormat::Text,
        }
    }

    /// Kubo's 405 for any method other than POST and OPTIONS, with `Allow: OPTIONS, POST`.
    pub(crate) fn method_not_allowed() -> Self {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: METHOD_NOT_ALLOWED_MESSAGE.to_owned(),
            code: ErrorCode::Client,
            format: ErrorFormat::Text,
        }
    }

    /// Kubo's 403 for a request that fails the origin/referer/user-agent (CSRF) check.
    #[cfg(test)]
    pub(crate) fn origin_forbidden() -> Self {
        ApiError {
            status: StatusCode::FORBIDDEN,
            message: FORBIDDEN_MESSAGE.to_owned(),
            code: ErrorCode::Forbidden,
            format: ErrorFormat::Text,
        }
    }

    /// `argument "<name>" is required` (400, text): go-ipfs-cmds `CheckArguments`.
    pub(crate) fn missing_argument(name: &str) -> Self {
        Self::bad_request(format!("argument {} is required", go_quote(name)))
    }

    /// `file argument '<name>' is required` (400, text): a command with a required file
    /// argument (`add` → `path`, `block/put` → `data`, `dag/put` → `object data`,
    /// `dag/import` → `path`) received no `multipart/form-data` body.
    pub(crate) fn file_argument_required(name: &str) -> Self {
        Self::bad_request(format!("file argument '{name}' is required"))
    }

    /// `could not convert value "<v>" to type "<ty>" (for option "-<option>")` (400, text),
    /// or `could not convert empty value …` when `value` is empty: go-ipfs-cmds
    /// `checkAndConvertOptions`. `ty` is Go's `reflect.Kind` name: `bool`, `int`, `uint`,
    /// `int64`, `uint64`, `float64`.
    pub(crate) fn invalid_option_value(option: &str, ty: &str, value: &str) -> Self {
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
    pub(crate) fn option_repeated(option: &str, values: &[&str]) -> Self {
        Self::bad_request(format!(
            "expected key {option} to have only a single value, received [{}]",
            values.join(" ")
        ))
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
pub(crate) fn insert_preamble_headers(headers: &mut HeaderMap) {
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
/// Go's `strconv.Quote`, as used by `%q`: a double-quoted string with Go escapes.
///
/// Which characters count as printable follows Go's `unicode.IsPrint` for every category
/// that matters in practice: control characters, separators other than U+0020, format
/// characters and private-use characters are escaped. Unassigned code points are printed
/// as they are, because Rust's standard library has no table for them.
pub(crate) fn go_quote(s: &str) -> String {
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
pub(crate) fn go_json_string(s: &str) -> String {
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
}
