//! [`ClientError`] and how a failed call becomes one, keeping Go's split: the server's
//! `{"code","message"}` (or, for a body that is not that JSON, the HTTP status and the body
//! text) is an [`ClientError::Api`]; a request that could not be made is
//! [`ClientError::Transport`] (Go reports it as code 0), worded as Go's `url.Error` and dial
//! errors so scripts that match `ipfs-cluster-ctl`'s messages keep working; a broken stream or a
//! local problem (missing file) is neither, which `pinfold-ctl` prints differently and with
//! another exit code, exactly as `ipfs-cluster-ctl` does.

use std::io;

use serde_json::Value;

/// Everything that can go wrong in a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error: its `{"code","message"}`, or the HTTP status and the
    /// body when that is not JSON; also an unreadable success body (code = HTTP status) and an
    /// `X-Stream-Error` trailer (code 500). Go's `api.Error`; its text is Go's `"msg (code)"`.
    #[error("{message} ({code})")]
    Api { code: i64, message: String },
    /// The request could not be made or its answer not read (refused, timed out, TLS). Go
    /// wraps these as `api.Error` with code 0.
    #[error("{message} (0)")]
    Transport { message: String, timeout: bool },
    /// A stream item that is not valid JSON of the expected shape (Go returns the decoder's
    /// error as is, not as an `api.Error`).
    #[error("{0}")]
    Decode(String),
    /// A stream whose body broke off while being read (also not an `api.Error` in Go);
    /// `timeout` when the configured timeout cut it.
    #[error("{message}")]
    Stream { message: String, timeout: bool },
    /// A problem before anything was sent: bad argument, unreadable file.
    #[error("{0}")]
    Local(String),
}

impl ClientError {
    /// The code Go's `api.Error` would carry, or `None` for errors that are not API errors.
    pub fn api_code(&self) -> Option<i64> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            ClientError::Transport { .. } => Some(0),
            ClientError::Decode(_) | ClientError::Local(_) | ClientError::Stream { .. } => None,
        }
    }

    /// The message without the code.
    pub fn message(&self) -> &str {
        match self {
            ClientError::Api { message, .. }
            | ClientError::Transport { message, .. }
            | ClientError::Stream { message, .. } => message,
            ClientError::Decode(m) | ClientError::Local(m) => m,
        }
    }

    /// True when the request hit the configured timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            ClientError::Transport { timeout: true, .. }
                | ClientError::Stream { timeout: true, .. }
        )
    }
}

/// Go's `url.Error` text: `Get "http://…": <cause>`, timeouts worded as Go's client.
pub(super) fn transport_error(method: &str, url: &str, e: &reqwest::Error) -> ClientError {
    let timeout = e.is_timeout();
    let cause = if timeout {
        if e.is_body() || e.is_decode() {
            "context deadline exceeded (Client.Timeout or context cancellation while reading body)"
                .to_string()
        } else {
            "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".to_string()
        }
    } else if let Some(dial) = e.is_connect().then(|| go_dial_error(url, e)).flatten() {
        dial
    } else {
        let mut parts = Vec::new();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = src {
            let t = s.to_string();
            if !parts.contains(&t) {
                parts.push(t);
            }
            src = s.source();
        }
        if parts.is_empty() {
            e.to_string()
        } else {
            parts.join(": ")
        }
    };
    let message = if method.is_empty() {
        cause
    } else {
        let op = format!("{}{}", &method[..1], method[1..].to_lowercase());
        format!("{op} \"{url}\": {cause}")
    };
    ClientError::Transport { message, timeout }
}

/// Go's wording of a refused or unreachable connection: `dial tcp 127.0.0.1:9094: connect:
/// connection refused`.
fn go_dial_error(url: &str, e: &reqwest::Error) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let host = u.host_str()?.to_string(); // IPv6 comes bracketed
    let port = u.port_or_known_default()?;
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            let why = match io.kind() {
                io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                io::ErrorKind::TimedOut => "i/o timeout".to_string(),
                _ => {
                    let t = io.to_string();
                    let t = t.split(" (os error").next().unwrap_or(&t).to_string();
                    let mut c = t.chars();
                    match c.next() {
                        Some(f) => f.to_lowercase().chain(c).collect(),
                        None => t,
                    }
                }
            };
            return Some(format!("dial tcp {host}:{port}: connect: {why}"));
        }
        src = s.source();
    }
    None
}

/// Go's reading of an error answer: a JSON object gives its `code`/`message` (missing ones
/// zero), anything else the HTTP status and the body text.
pub(super) fn api_error(status: u16, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => ClientError::Api {
            code: o.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: o
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        },
        Ok(Value::Null) => ClientError::Api {
            code: 0,
            message: String::new(),
        },
        _ => ClientError::Api {
            code: status as i64,
            message: String::from_utf8_lossy(body).into_owned(),
        },
    }
}
