//! JSON answers: one value ([`json_response`]), or a stream of them as newline-delimited JSON
//! with the `X-Stream-Error` trailer (IPFS Cluster's `StreamResponse`, `api/common/api.go`),
//! and the trailer plumbing every streaming front door shares ([`accepts_trailers`],
//! [`error_trailers`]; the Kubo RPC API's raw streams use them too).
//!
//! The items are any serializable values and the errors anything that displays: the REST
//! handlers pass the cluster's streams as they come. Errors before the first item are answered
//! with IPFS Cluster's error body ([`super::goerror::error_response`]).
//!
//! # The rules (Go's)
//! * One JSON object per line (`obj\n`, as Go's `json.Encoder`), header `Trailer:
//!   X-Stream-Error`.
//! * The status waits for the first item: an error before any item → **500** with the error
//!   JSON; no item and no error → **204**; otherwise **200** and the items follow.
//! * After the last item the trailer `X-Stream-Error` is **always** sent: empty when all went
//!   well, else the error text (several errors → several values, as Go's `Header.Add`).
//!
//! # Trailers and hyper
//! hyper's HTTP/1 server sends trailers only when the request carried `TE: trailers`
//! (`pinfold-ctl` and IPFS Cluster's Go client do; Go's server sends them regardless). For a
//! request without it, a stream that fails after its first item cannot report the error in
//! band, so the body ends with an I/O error instead: hyper aborts the connection without the
//! final zero-length chunk and the client sees a truncated answer, never a silent success. A
//! stream that ends well simply ends.
//!
//! # Batching
//! Items that are ready together are written as one chunk (up to 64 KiB); when the source has
//! to wait, what is buffered goes out at once, so a slow stream still reaches the client item by
//! item (Go flushes after every item). A million-pin listing thus costs about one chunk per
//! 64 KiB rather than one per pin, and the pinset is never held in memory.
//!
//! # Streams that continue past errors
//! `GET /pins?cids=…` asks for each CID separately; Go skips the CIDs that fail and reports
//! their errors in the trailer. [`StreamOptions::keep_going`] does that: errors are collected,
//! items keep flowing, and if no item ever comes the answer is a 500 with the first error.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use hyper::body::Frame;
use serde::Serialize;

use super::goerror::error_response;

/// The trailer that carries stream errors.
pub(crate) const STREAM_ERROR: HeaderName = HeaderName::from_static("x-stream-error");

/// Items ready together are sent as one chunk up to this size.
const CHUNK_BYTES: usize = 64 * 1024;

/// How a stream is answered.
#[derive(Debug, Clone, Default)]
pub(crate) struct StreamOptions {
    /// The request carried `TE: trailers` (see the module docs).
    pub(crate) trailers: bool,
    /// Keep streaming after an error; report every error in the trailer.
    pub(crate) keep_going: bool,
    /// Headers added to the answer (e.g. `/add`'s `X-Chunked-Output`).
    pub(crate) extra_headers: HeaderMap,
}

/// Whether the request's `TE` header lists `trailers`. hyper's HTTP/1 server sends response
/// trailers only in that case.
pub(crate) fn accepts_trailers(headers: &HeaderMap) -> bool {
    headers.get_all(header::TE).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',').any(|item| {
                let token = item.split(';').next().unwrap_or("").trim();
                token.eq_ignore_ascii_case("trailers")
            })
        })
    })
}

/// A value could not be encoded as JSON.
#[derive(Debug, thiserror::Error)]
#[error("encoding answer: {0}")]
pub(crate) struct EncodeError(#[source] serde_json::Error);

/// `value` as JSON followed by a newline (Go's `json.Encoder`).
pub(crate) fn json_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Bytes, EncodeError> {
    let mut v = serde_json::to_vec(value).map_err(EncodeError)?;
    v.push(b'\n');
    Ok(v.into())
}

/// `value` as a JSON answer with `status`; a value that cannot be encoded gives a 500.
pub(crate) fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match json_bytes(value) {
        Ok(b) => {
            let mut r = Response::new(Body::from(b));
            *r.status_mut() = status;
            r
        }
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Answers a stream of items as NDJSON (see the module docs).
pub(crate) async fn ndjson<T, E>(
    items: BoxStream<'static, Result<T, E>>,
    opts: StreamOptions,
) -> Response
where
    T: Serialize + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let mut items = items;
    let mut errors: Vec<String> = Vec::new();
    // Wait for the first item before choosing the status.
    let first = loop {
        match items.next().await {
            Some(Ok(item)) => break Some(item),
            Some(Err(e)) => {
                if !opts.keep_going {
                    return with_stream_headers(
                        error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                        &opts,
                    );
                }
                errors.push(e.to_string());
            }
            None => break None,
        }
    };
    let Some(first) = first else {
        let resp = match errors.into_iter().next() {
            Some(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e),
            None => {
                let mut r = Response::new(Body::empty());
                *r.status_mut() = StatusCode::NO_CONTENT;
                r
            }
        };
        return with_stream_headers(resp, &opts);
    };
    let first = match json_bytes(&first) {
        Ok(b) => b,
        Err(e) => {
            return with_stream_headers(
                error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                &opts,
            );
        }
    };
    let encoded = items.map(|r| {
        r.map_err(|e| e.to_string())
            .and_then(|t| json_bytes(&t).map_err(|e| e.to_string()))
    });
    let body = NdjsonBody {
        pending: Some(first),
        items: Box::pin(encoded),
        errors,
        keep_going: opts.keep_going,
        trailers: opts.trailers,
        state: BodyState::Streaming,
        yielded: false,
    };
    let mut resp = Response::new(Body::new(body));
    *resp.status_mut() = StatusCode::OK;
    with_stream_headers(resp, &opts)
}

/// Collects a whole stream as one JSON array (`/add?stream-channels=false`); an error anywhere
/// gives a 500 with its message. No item gives `null`, as Go encodes its nil slice.
pub(crate) async fn json_array<T, E>(mut items: BoxStream<'static, Result<T, E>>) -> Response
where
    T: Serialize + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let mut all = Vec::new();
    while let Some(item) = items.next().await {
        match item {
            Ok(t) => all.push(t),
            Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
    let value = if all.is_empty() { None } else { Some(all) };
    match json_bytes(&value) {
        Ok(b) => {
            let mut r = Response::new(Body::from(b));
            *r.status_mut() = StatusCode::OK;
            r
        }
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn with_stream_headers(mut resp: Response, opts: &StreamOptions) -> Response {
    let h = resp.headers_mut();
    h.insert(header::TRAILER, HeaderValue::from_static("X-Stream-Error"));
    for (k, v) in &opts.extra_headers {
        h.append(k.clone(), v.clone());
    }
    resp
}

/// The trailer map: one `X-Stream-Error` value per error, or one empty value. Control
/// characters (which no header value may hold) become spaces, as Go's `net/http` does.
pub(crate) fn error_trailers(errors: &[String]) -> HeaderMap {
    let mut map = HeaderMap::new();
    if errors.is_empty() {
        map.insert(STREAM_ERROR, HeaderValue::from_static(""));
    }
    for e in errors {
        let clean: String = e
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let v = HeaderValue::try_from(clean)
            .unwrap_or_else(|_| HeaderValue::from_static("stream error"));
        map.append(STREAM_ERROR, v);
    }
    map
}

/// A stream that failed after its first item, for a client that cannot receive trailers.
#[derive(Debug, thiserror::Error)]
#[error("stream error: {0}")]
pub(crate) struct StreamFailure(String);

enum BodyState {
    Streaming,
    /// The source is exhausted (or failed); trailers (or the failure) come next.
    Finishing,
    Done,
}

type EncodedItems = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// The NDJSON body (see the module docs).
struct NdjsonBody {
    pending: Option<Bytes>,
    items: EncodedItems,
    errors: Vec<String>,
    keep_going: bool,
    trailers: bool,
    state: BodyState,
    /// Whether the body has returned `Pending` once before failing (see `poll_frame`).
    yielded: bool,
}

impl HttpBody for NdjsonBody {
    type Data = Bytes;
    type Error = StreamFailure;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamFailure>>> {
        let this = self.get_mut();
        loop {
            match this.state {
                BodyState::Done => return Poll::Ready(None),
                BodyState::Finishing => {
                    this.state = BodyState::Done;
                    if this.trailers {
                        return Poll::Ready(Some(Ok(Frame::trailers(error_trailers(
                            &this.errors,
                        )))));
                    }
                    if !this.errors.is_empty() {
                        if !this.yielded {
                            // Let hyper flush what was produced before the connection is cut.
                            this.yielded = true;
                            this.state = BodyState::Finishing;
                            cx.waker().wake_by_ref();
                            return Poll::Pending;
                        }
                        return Poll::Ready(Some(Err(StreamFailure(this.errors.join("; ")))));
                    }
                    return Poll::Ready(None);
                }
                BodyState::Streaming => {}
            }
            let mut buf = BytesMut::new();
            if let Some(first) = this.pending.take() {
                buf.extend_from_slice(&first);
            }
            loop {
                if buf.len() >= CHUNK_BYTES {
                    return Poll::Ready(Some(Ok(Frame::data(buf.freeze()))));
                }
                match this.items.as_mut().poll_next(cx) {
                    Poll::Ready(Some(Ok(line))) => buf.extend_from_slice(&line),
                    Poll::Ready(Some(Err(e))) => {
                        this.errors.push(e);
                        if !this.keep_going {
                            this.state = BodyState::Finishing;
                            break;
                        }
                    }
                    Poll::Ready(None) => {
                        this.state = BodyState::Finishing;
                        break;
                    }
                    Poll::Pending => {
                        if buf.is_empty() {
                            return Poll::Pending;
                        }
                        return Poll::Ready(Some(Ok(Frame::data(buf.freeze()))));
                    }
                }
            }
            if !buf.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(buf.freeze()))));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, BodyState::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;
    use http_body_util::BodyExt;

    /// A stream error, as the cluster's would display.
    #[derive(Debug)]
    struct Fail(&'static str);

    impl std::fmt::Display for Fail {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    type Items = BoxStream<'static, Result<u32, Fail>>;

    fn items(v: Vec<Result<u32, Fail>>) -> Items {
        stream::iter(v).boxed()
    }

    /// Reads a whole body with its trailers.
    async fn collect_with_trailers(body: Body) -> Result<(Bytes, Option<HeaderMap>), axum::Error> {
        let collected = body.collect().await?;
        let trailers = collected.trailers().cloned();
        Ok((collected.to_bytes(), trailers))
    }

    #[test]
    fn te_trailers_detection() {
        let mut h = HeaderMap::new();
        assert!(!accepts_trailers(&h));
        h.insert(header::TE, HeaderValue::from_static("gzip"));
        assert!(!accepts_trailers(&h));
        h.insert(header::TE, HeaderValue::from_static("gzip, Trailers"));
        assert!(accepts_trailers(&h));
        h.insert(header::TE, HeaderValue::from_static("trailers;q=1"));
        assert!(accepts_trailers(&h));
    }

    #[test]
    fn trailer_values_are_sanitised() {
        let t = error_trailers(&["line1\nline2\r\u{0}end".to_string()]);
        assert_eq!(t["x-stream-error"], "line1 line2  end");
        assert_eq!(error_trailers(&[])["x-stream-error"], "");
    }

    fn opts(trailers: bool, keep_going: bool) -> StreamOptions {
        StreamOptions {
            trailers,
            keep_going,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn statuses_and_trailers() {
        let r = ndjson(items(vec![]), opts(true, false)).await;
        assert_eq!(r.status(), 204);
        assert_eq!(r.headers()[header::TRAILER], "X-Stream-Error");

        let r = ndjson(items(vec![Err(Fail("boom"))]), opts(true, false)).await;
        assert_eq!(r.status(), 500);
        let (b, _) = collect_with_trailers(r.into_body()).await.unwrap();
        assert_eq!(&b[..], b"{\"code\":500,\"message\":\"boom\"}\n");

        let r = ndjson(items(vec![Ok(1), Ok(2)]), opts(true, false)).await;
        assert_eq!(r.status(), 200);
        let (b, t) = collect_with_trailers(r.into_body()).await.unwrap();
        assert_eq!(&b[..], b"1\n2\n");
        assert_eq!(t.unwrap()[STREAM_ERROR], "");

        let r = ndjson(
            items(vec![Ok(1), Err(Fail("bad\nline")), Ok(3)]),
            opts(true, false),
        )
        .await;
        let (b, t) = collect_with_trailers(r.into_body()).await.unwrap();
        assert_eq!(&b[..], b"1\n");
        assert_eq!(t.unwrap()[STREAM_ERROR], "bad line");

        // without trailers, a failure mid-stream is a body error
        let r = ndjson(items(vec![Ok(1), Err(Fail("x"))]), opts(false, false)).await;
        assert!(collect_with_trailers(r.into_body()).await.is_err());
        // and a good stream just ends
        let r = ndjson(items(vec![Ok(1)]), opts(false, false)).await;
        let (b, t) = collect_with_trailers(r.into_body()).await.unwrap();
        assert_eq!((&b[..], t), (&b"1\n"[..], None));
    }

    #[tokio::test]
    async fn keep_going_collects_errors() {
        let e = |s: &'static str| Err(Fail(s));
        let r = ndjson(items(vec![e("a"), Ok(1), e("b"), Ok(2)]), opts(true, true)).await;
        assert_eq!(r.status(), 200);
        let (b, t) = collect_with_trailers(r.into_body()).await.unwrap();
        assert_eq!(&b[..], b"1\n2\n");
        let t = t.unwrap();
        let vals: Vec<_> = t.get_all(STREAM_ERROR).iter().collect();
        assert_eq!(vals, ["a", "b"]);
        let r = ndjson(items(vec![e("a"), e("b")]), opts(true, true)).await;
        assert_eq!(r.status(), 500);
        let (b, _) = collect_with_trailers(r.into_body()).await.unwrap();
        assert_eq!(&b[..], b"{\"code\":500,\"message\":\"a\"}\n");
    }

    #[tokio::test]
    async fn ready_items_are_batched() {
        let many: Vec<Result<u32, Fail>> = (0..50_000).map(Ok).collect();
        let r = ndjson(items(many), opts(true, false)).await;
        let mut body = r.into_body();
        let mut frames = 0;
        let mut bytes = 0;
        while let Some(f) = body.frame().await {
            let f = f.unwrap();
            if let Some(d) = f.data_ref() {
                frames += 1;
                bytes += d.len();
            }
        }
        assert!(bytes > 200_000);
        assert!(frames < 10, "{frames} frames");
    }
}
