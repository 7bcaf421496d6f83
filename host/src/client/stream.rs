//! Streaming answers. Streaming routes answer 200 with one JSON object per line, or 204 when
//! empty, and always set the HTTP trailer `X-Stream-Error` (empty when all went well).
//! [`ItemStream`] reads the body as `http_body` frames, so the trailer frame is seen: a
//! non-empty value ends the stream with `ClientError::Api { code: 500, .. }`, several values
//! joined with `"; "` as Go's `multierr`. Values are split out incrementally by
//! [`JsonStreamDecoder`], so a value split across network chunks is fine and a huge pinset is
//! never held in memory.
//!
//! Requests carry `TE: trailers`, without which a hyper-based server (Pinfold's) does not send
//! trailers; Go's server sends them regardless and ignores the header.

use http_body_util::BodyExt;

use super::error::transport_error;
use super::{ClientError, FromWire};

/// The trailer streaming endpoints set (empty, or the error that cut the stream short).
pub const STREAM_ERROR_TRAILER: &str = "x-stream-error";

/// A stream that is not a sequence of JSON objects or arrays, worded as Go's `json.Decoder`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamSyntaxError {
    /// Something other than whitespace, `{` or `[` where a value should start.
    #[error("invalid character '{0}' looking for beginning of value")]
    InvalidStart(char),
    /// The body ended inside a value.
    #[error("unexpected EOF")]
    UnexpectedEof,
}

/// Splits a byte stream into concatenated JSON values (what Go's `json.Decoder` reads: NDJSON,
/// but any whitespace between values works), keeping scan state across chunks.
#[derive(Debug, Default)]
pub struct JsonStreamDecoder {
    buf: Vec<u8>,
    scan: usize,
    start: Option<usize>,
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl JsonStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete value, `Ok(None)` when more bytes are needed. Only objects and arrays
    /// are accepted at the top level (every stream of the API is made of objects).
    pub fn next_value(&mut self) -> Result<Option<Vec<u8>>, StreamSyntaxError> {
        while self.scan < self.buf.len() {
            let c = self.buf[self.scan];
            if self.start.is_none() {
                match c {
                    b' ' | b'\t' | b'\r' | b'\n' => {}
                    b'{' | b'[' => {
                        self.start = Some(self.scan);
                        self.depth = 1;
                    }
                    other => {
                        return Err(StreamSyntaxError::InvalidStart(other as char));
                    }
                }
                self.scan += 1;
                continue;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if c == b'\\' {
                    self.escaped = true;
                } else if c == b'"' {
                    self.in_string = false;
                }
            } else {
                match c {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth -= 1;
                        if self.depth == 0 {
                            let start = self.start.take().expect("value started");
                            let value = self.buf[start..=self.scan].to_vec();
                            self.buf.drain(..=self.scan);
                            self.scan = 0;
                            return Ok(Some(value));
                        }
                    }
                    _ => {}
                }
            }
            self.scan += 1;
        }
        Ok(None)
    }

    /// Checks that nothing but whitespace is left once the body has ended.
    pub fn finish(&self) -> Result<(), StreamSyntaxError> {
        if self.start.is_some()
            || self.buf[self.scan.min(self.buf.len())..]
                .iter()
                .any(|c| !c.is_ascii_whitespace())
        {
            return Err(StreamSyntaxError::UnexpectedEof);
        }
        Ok(())
    }
}

/// Items of a streaming answer, decoded as they arrive.
pub struct ItemStream<T> {
    body: Option<reqwest::Body>,
    decoder: JsonStreamDecoder,
    trailer_errors: Vec<String>,
    done: bool,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for ItemStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemStream")
            .field("done", &self.done)
            .finish()
    }
}

impl<T: FromWire> ItemStream<T> {
    pub(super) fn new(body: Option<reqwest::Body>) -> Self {
        ItemStream {
            body,
            decoder: JsonStreamDecoder::new(),
            trailer_errors: Vec::new(),
            done: false,
            _t: std::marker::PhantomData,
        }
    }

    /// The next item; after the last one, the `X-Stream-Error` trailer as an error if set.
    pub async fn next(&mut self) -> Option<Result<T, ClientError>> {
        if self.done {
            return None;
        }
        loop {
            match self.decoder.next_value() {
                Ok(Some(v)) => {
                    return Some(
                        T::from_wire(&v).map_err(|e| self.fail(ClientError::Decode(e.to_string()))),
                    );
                }
                Ok(None) => {}
                Err(e) => return Some(Err(self.fail(ClientError::Decode(e.to_string())))),
            }
            let Some(body) = self.body.as_mut() else {
                return self.end();
            };
            match body.frame().await {
                None => {
                    self.body = None;
                    return self.end();
                }
                Some(Err(e)) => {
                    let (message, timeout) = match transport_error("", "", &e) {
                        ClientError::Transport { message, timeout } => (message, timeout),
                        other => (other.to_string(), false),
                    };
                    return Some(Err(self.fail(ClientError::Stream { message, timeout })));
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.decoder.push(&data),
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            for v in trailers.get_all(STREAM_ERROR_TRAILER) {
                                let s = String::from_utf8_lossy(v.as_bytes()).into_owned();
                                if !s.is_empty() {
                                    self.trailer_errors.push(s);
                                }
                            }
                        }
                    }
                },
            }
        }
    }

    fn fail(&mut self, e: ClientError) -> ClientError {
        self.done = true;
        self.body = None;
        e
    }

    fn end(&mut self) -> Option<Result<T, ClientError>> {
        self.done = true;
        if let Err(e) = self.decoder.finish() {
            return Some(Err(ClientError::Decode(e.to_string())));
        }
        if self.trailer_errors.is_empty() {
            None
        } else {
            Some(Err(ClientError::Api {
                code: 500,
                message: self.trailer_errors.join("; "),
            }))
        }
    }

    /// Reads everything (stopping at the first error).
    pub async fn collect_all(mut self) -> Result<Vec<T>, ClientError> {
        let mut v = Vec::new();
        while let Some(item) = self.next().await {
            v.push(item?);
        }
        Ok(v)
    }

    /// As a `futures::Stream`.
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<T, ClientError>> {
        futures::stream::unfold(self, |mut s| async move { s.next().await.map(|i| (i, s)) })
    }
}
