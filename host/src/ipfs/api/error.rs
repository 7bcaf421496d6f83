//! Kubo-compatible RPC errors and streamed answers: what `/api/v0` answers when something goes
//! wrong, before or during a command's output.
//!
//! # What this module owns
//!
//! Every failure of the Kubo RPC server is an [`ApiError`]: go-ipfs-cmds' error, with its
//! codes, its two wire formats (JSON for a failing command, plain text for a request that
//! never reached one) and the Go quoting of its messages. Those are Go's error bodies, which
//! the multipart reader and later the IPFS proxy produce too, so they live in
//! `crate::http::goerror` and are re-exported here for the commands. This module owns the
//! command answers that stream: [`stream_response`] and the `X-Stream-Output` /
//! `X-Chunked-Output` markers.
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
//! Kubo sends `Server: kubo/<version>` (from `API.HTTPHeaders`) only on requests that
//! parsed; that is the server layer's job.

use std::pin::Pin;

use axum::body::Body;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream::{self, Stream, StreamExt};
use http_body_util::StreamBody;
use hyper::body::Frame;

use crate::http::goerror::insert_preamble_headers;
pub use crate::http::goerror::{ApiError, ErrorCode, ErrorFormat};
use crate::http::ndjson::error_trailers;

/// How a streaming command's output is framed, which selects Kubo's marker header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamKind {
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
///   `crate::http::ndjson::accepts_trailers`), the error travels as the `X-Stream-Error` trailer and the
///   chunked body ends cleanly, as in Kubo. Otherwise the body ends with an I/O error: hyper
///   aborts the connection without the final zero-length chunk, so the client sees a truncated
///   response rather than a silent success.
pub(crate) async fn stream_response<S>(
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
fn trailer_body(
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
                        Ok(Frame::trailers(error_trailers(std::slice::from_ref(
                            &e.message,
                        ))))
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::http::header::HeaderMap;
    use http_body_util::BodyExt;

    use crate::http::ndjson::accepts_trailers;

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
            let accepts = accepts_trailers(&headers);
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
