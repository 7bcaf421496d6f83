//! The HTTP server of the Kubo RPC API: listener, routing, response shapes.
//!
//! [`serve`] takes a bound listener and a shutdown future (tests bind port 0 and run many nodes
//! in one process). Every `/api/v0/<command>` request is parsed once into an [`RpcRequest`]
//! (query `arg=`s, path-form args, options) and dispatched by command name to the handlers in
//! the `cmd_*` modules. As in Kubo: only `POST` is accepted (405 otherwise), unknown commands
//! get 404, errors are `{"Message","Code","Type":"error"}`, and commands that emit many values
//! stream newline-delimited JSON with `X-Chunked-Output: 1`, a failure after the first byte
//! being reported in the `X-Stream-Error` trailer.
//!
//! Connections are served by the shared accept loop (`crate::http::server`) with no timeouts,
//! as Kubo's own server; request heads are bounded by hyper's limits (oversized header blocks
//! get 431); bodies are streamed, never buffered whole, except `dag/put` inputs, which are
//! capped. On shutdown, requests in flight get `crate::http::server::SHUTDOWN_GRACE` to finish.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::error::{ApiError, StreamKind, stream_response};
use super::request::RpcRequest;
use super::{cmd_blocks, cmd_files, cmd_node, cmd_pins};
use crate::http::ndjson::accepts_trailers;
use crate::http::server::{ConnSettings, serve_tcp};
use crate::ipfs::node::Node;

/// Serves the Kubo RPC API of `node` on `listener` until `shutdown` resolves. Accept failures
/// are logged and retried, so the result is always `Ok` once serving started.
pub async fn serve(
    node: Arc<Node>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let settings = Arc::new(ConnSettings::hyper_defaults("Kubo RPC API"));
    serve_tcp(listener, router(node), None, settings, shutdown).await;
    Ok(())
}

/// The router, for embedding in other servers and for tests.
pub fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/api/v0/{*command}", axum::routing::any(dispatch))
        .fallback(|| async { ApiError::not_found() })
        .with_state(node)
}

async fn dispatch(State(node): State<Arc<Node>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let req = match RpcRequest::from_uri(&parts.uri) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if parts.method != Method::POST {
        return ApiError::method_not_allowed().into_response();
    }
    let trailers = accepts_trailers(&parts.headers);
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let input = Input { content_type, body };
    let handling = async move {
        match req.command.as_str() {
            "id" => cmd_node::id(&node, &req),
            "version" => cmd_node::version(&req),
            "config/show" => cmd_node::config_show(&node),
            "swarm/peers" => cmd_node::swarm_peers(&req),
            "swarm/connect" => cmd_node::swarm_connect(&req),
            "add" => cmd_files::add(node, req, input).await,
            "cat" => cmd_files::cat(node, &req).await,
            "resolve" => cmd_files::resolve(node, &req).await,
            "block/put" => cmd_blocks::block_put(node, req, input).await,
            "block/get" => cmd_blocks::block_get(node, &req).await,
            "block/stat" => cmd_blocks::block_stat(node, &req).await,
            "block/rm" => cmd_blocks::block_rm(node, &req).await,
            "refs" => cmd_blocks::refs(node, &req).await,
            "refs/local" => cmd_blocks::refs_local(node).await,
            "dag/put" => cmd_blocks::dag_put(node, req, input).await,
            "dag/get" => cmd_blocks::dag_get(node, &req).await,
            "dag/export" => cmd_blocks::dag_export(node, &req).await,
            "dag/import" => cmd_blocks::dag_import(node, req, input).await,
            "pin/add" => cmd_pins::pin_add(node, req).await,
            "pin/rm" => cmd_pins::pin_rm(node, &req).await,
            "pin/ls" => cmd_pins::pin_ls(node, &req).await,
            "pin/update" => cmd_pins::pin_update(node, &req).await,
            "repo/stat" => cmd_pins::repo_stat(node, &req),
            "repo/gc" => cmd_pins::repo_gc(node, &req).await,
            _ => Err(ApiError::not_found()),
        }
    };
    ACCEPTS_TRAILERS
        .scope(trailers, handling)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The request body and its content type, for commands that read one.
pub struct Input {
    pub content_type: Option<String>,
    pub body: Body,
}

pub type RpcResult = Result<Response, ApiError>;

/// A single JSON value, as go-ipfs-cmds encodes it (JSON and a newline).
pub fn json<T: Serialize>(value: &T) -> RpcResult {
    let mut body = serde_json::to_vec(value).map_err(|e| ApiError::normal(e.to_string()))?;
    body.push(b'\n');
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

tokio::task_local! {
    /// Whether the client of the request being served sent `TE: trailers`: hyper sends the
    /// `X-Stream-Error` trailer only then (otherwise a mid-stream failure aborts the body).
    static ACCEPTS_TRAILERS: bool;
}

fn trailers_accepted() -> bool {
    ACCEPTS_TRAILERS.try_with(|v| *v).unwrap_or(false)
}

/// Raw bytes (`cat`, `block/get`, `dag/export`) with Kubo's stream headers. A failure before
/// the first chunk is an ordinary error response; after it, the `X-Stream-Error` trailer.
pub async fn bytes_stream(
    content_type: &'static str,
    content_length: Option<u64>,
    rx: mpsc::Receiver<Result<Bytes, ApiError>>,
) -> RpcResult {
    let chunks = receiver_stream(rx);
    let mut resp =
        stream_response(StreamKind::Raw, content_type, trailers_accepted(), chunks).await;
    if let Some(len) = content_length
        && resp.status().is_success()
    {
        resp.headers_mut()
            .insert("X-Content-Length", HeaderValue::from(len));
    }
    Ok(resp)
}

/// Newline-delimited JSON values with Kubo's channel headers; errors as in [`bytes_stream`].
pub async fn ndjson_stream(rx: mpsc::Receiver<Result<serde_json::Value, ApiError>>) -> RpcResult {
    let lines = receiver_stream(rx).map(|item| {
        item.map(|v| {
            let mut line = serde_json::to_vec(&v).expect("JSON values serialize");
            line.push(b'\n');
            Bytes::from(line)
        })
    });
    Ok(stream_response(
        StreamKind::Chunked,
        "application/json",
        trailers_accepted(),
        lines,
    )
    .await)
}

fn receiver_stream<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// A sender for streamed values; sending fails quietly when the client went away.
pub type Emitter = mpsc::Sender<Result<serde_json::Value, ApiError>>;

/// Starts an NDJSON response fed by `producer`, which gets the sending half.
pub async fn ndjson_from<F, Fut>(producer: F) -> RpcResult
where
    F: FnOnce(Emitter) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(producer(tx));
    ndjson_stream(rx).await
}
