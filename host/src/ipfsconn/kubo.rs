//! The Kubo RPC backend: the HTTP client of a Kubo daemon (or of anything serving its API,
//! such as the embedded node's own server), after IPFS Cluster's `ipfshttp` connector.
//!
//! Every call is a `POST` to `/api/v0/...`; non-200 answers carry Kubo's `{"Message","Code"}`
//! and become [`ConnectorError::Ipfs`]; transport failures say "is it running?". Each call has
//! its timeout from the configuration (`request_timeout`, `unpin_timeout`, `repogc_timeout`);
//! `pin/add` and `pin/update` have none here (the handle's stall timeout ends a `pin/add`,
//! dropping the connection). Streamed answers are newline-delimited JSON, read line by line.
//! One pooled `reqwest` client serves every call (idle connections kept for 90 s).

use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;

use super::{
    ConnectorConfig, ConnectorError, GcKey, IpfsBackend, IpfsNodeId, IpfsPinStatus, PinStream,
    RepoStat,
};
use crate::types::PinMode;

/// The Kubo RPC client.
#[derive(Debug)]
pub(crate) struct KuboBackend {
    http: reqwest::Client,
    config: ConnectorConfig,
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

impl KuboBackend {
    pub(crate) fn new(config: ConnectorConfig) -> Result<Self, ConnectorError> {
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| ConnectorError::Unreachable {
                path: String::new(),
                reason: e.to_string(),
            })?;
        Ok(KuboBackend { http, config })
    }

    /// Sends `POST /api/v0/<cmd>?<query>`; returns the response once its status is 200.
    async fn call(
        &self,
        cmd: &str,
        q: &[(&str, &str)],
        timeout: Option<Duration>,
        body: Option<reqwest::multipart::Form>,
    ) -> Result<reqwest::Response, ConnectorError> {
        let url = format!("{}/api/v0/{cmd}?{}", self.config.base_url, query(q));
        let mut req = self.http.post(&url);
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        if let Some(form) = body {
            req = req.multipart(form);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error(cmd, e, timeout))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("Message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| format!("Code {}: {}", status.as_u16(), text.trim()));
        Err(ConnectorError::Ipfs {
            path: cmd.to_string(),
            status: status.as_u16(),
            message,
        })
    }

    async fn call_json<T: for<'de> Deserialize<'de>>(
        &self,
        cmd: &str,
        q: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<T, ConnectorError> {
        let resp = self.call(cmd, q, Some(timeout), None).await?;
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| transport_error(cmd, e, Some(timeout)))?;
        serde_json::from_slice(&bytes).map_err(|e| ConnectorError::Protocol {
            path: cmd.to_string(),
            reason: e.to_string(),
        })
    }
}

fn transport_error(cmd: &str, e: reqwest::Error, timeout: Option<Duration>) -> ConnectorError {
    match timeout {
        Some(after) if e.is_timeout() => ConnectorError::Timeout {
            path: cmd.to_string(),
            after,
        },
        _ => ConnectorError::Unreachable {
            path: cmd.to_string(),
            reason: e.to_string(),
        },
    }
}

/// The NDJSON values of a streamed answer, one at a time (a last line without its newline
/// counts).
fn lines(
    cmd: &str,
    resp: reqwest::Response,
) -> impl Stream<Item = Result<Value, ConnectorError>> + Send + 'static {
    let path = cmd.to_string();
    let state = (resp.bytes_stream(), Vec::<u8>::new(), false);
    futures::stream::unfold(state, move |(mut bytes, mut buf, mut ended)| {
        let path = path.clone();
        async move {
            loop {
                let line: Vec<u8> = match buf.iter().position(|b| *b == b'\n') {
                    Some(pos) => buf.drain(..=pos).collect(),
                    None if ended => std::mem::take(&mut buf),
                    None => {
                        match bytes.next().await {
                            Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                            Some(Err(e)) => {
                                let err = ConnectorError::Unreachable {
                                    path,
                                    reason: e.to_string(),
                                };
                                return Some((Err(err), (bytes, Vec::new(), true)));
                            }
                            None => ended = true,
                        }
                        continue;
                    }
                };
                if line.iter().all(u8::is_ascii_whitespace) {
                    if ended && buf.is_empty() {
                        return None;
                    }
                    continue;
                }
                let v = serde_json::from_slice(&line).map_err(|e| ConnectorError::Protocol {
                    path: path.clone(),
                    reason: e.to_string(),
                });
                return Some((v, (bytes, buf, ended)));
            }
        }
    })
}

impl IpfsBackend for KuboBackend {
    fn id(&self) -> BoxFuture<'_, Result<IpfsNodeId, ConnectorError>> {
        self.call_json("id", &[], self.config.request_timeout)
            .boxed()
    }

    fn pin_ls_cid<'a>(
        &'a self,
        cid: &'a Cid,
    ) -> BoxFuture<'a, Result<IpfsPinStatus, ConnectorError>> {
        async move {
            let c = cid.to_string();
            let q = [("arg", c.as_str()), ("stream", "true")];
            match self
                .call("pin/ls", &q, Some(self.config.request_timeout), None)
                .await
            {
                Ok(resp) => {
                    let mut lines = Box::pin(lines("pin/ls", resp));
                    match lines.next().await {
                        Some(v) => {
                            let v = v?;
                            Ok(IpfsPinStatus::from_type(
                                v.get("Type").and_then(Value::as_str).unwrap_or(""),
                            ))
                        }
                        None => Ok(IpfsPinStatus::Unpinned),
                    }
                }
                Err(ConnectorError::Ipfs { message, .. }) if message.contains("not pinned") => {
                    Ok(IpfsPinStatus::Unpinned)
                }
                Err(e) => Err(e),
            }
        }
        .boxed()
    }

    fn pin_add<'a>(
        &'a self,
        cid: &'a Cid,
        mode: PinMode,
        progress: &'a mut (dyn FnMut(u64) + Send),
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        async move {
            let c = cid.to_string();
            let recursive = if mode == PinMode::Recursive {
                "true"
            } else {
                "false"
            };
            let q = [
                ("arg", c.as_str()),
                ("recursive", recursive),
                ("progress", "true"),
            ];
            let resp = self.call("pin/add", &q, None, None).await?;
            let mut lines = Box::pin(lines("pin/add", resp));
            while let Some(line) = lines.next().await {
                let line = line?;
                if let Some(p) = line.get("Progress").and_then(Value::as_u64) {
                    progress(p);
                }
                if line.get("Pins").is_some_and(|p| !p.is_null()) {
                    return Ok(());
                }
            }
            Err(ConnectorError::Protocol {
                path: "pin/add".into(),
                reason: "the answer ended without a Pins line".into(),
            })
        }
        .boxed()
    }

    fn pin_update<'a>(
        &'a self,
        from: &'a Cid,
        to: &'a Cid,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        async move {
            let (f, t) = (from.to_string(), to.to_string());
            let q = [("arg", f.as_str()), ("arg", t.as_str()), ("unpin", "false")];
            self.call("pin/update", &q, None, None).await.map(|_| ())
        }
        .boxed()
    }

    fn unpin<'a>(&'a self, cid: &'a Cid) -> BoxFuture<'a, Result<(), ConnectorError>> {
        async move {
            let c = cid.to_string();
            match self
                .call(
                    "pin/rm",
                    &[("arg", &c)],
                    Some(self.config.unpin_timeout),
                    None,
                )
                .await
            {
                Ok(_) => Ok(()),
                Err(ConnectorError::Ipfs { message, .. }) if message.contains("not pinned") => {
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        .boxed()
    }

    fn pin_ls(&self) -> BoxFuture<'_, Result<PinStream, ConnectorError>> {
        async move {
            let mut streams = Vec::new();
            for t in ["recursive", "direct"] {
                let resp = self
                    .call(
                        "pin/ls",
                        &[("type", t), ("stream", "true")],
                        Some(self.config.request_timeout),
                        None,
                    )
                    .await?;
                streams.push(lines("pin/ls", resp));
            }
            let pins = futures::stream::iter(streams).flatten().map(|line| {
                let v = line?;
                let cid = v
                    .get("Cid")
                    .and_then(Value::as_str)
                    .and_then(|s| Cid::try_from(s).ok())
                    .ok_or_else(|| ConnectorError::Protocol {
                        path: "pin/ls".into(),
                        reason: format!("bad line {v}"),
                    })?;
                Ok((
                    cid,
                    IpfsPinStatus::from_type(v.get("Type").and_then(Value::as_str).unwrap_or("")),
                ))
            });
            Ok(pins.boxed())
        }
        .boxed()
    }

    fn repo_stat(&self) -> BoxFuture<'_, Result<RepoStat, ConnectorError>> {
        self.call_json(
            "repo/stat",
            &[("size-only", "true")],
            self.config.request_timeout,
        )
        .boxed()
    }

    fn repo_gc(&self) -> BoxFuture<'_, Result<Vec<GcKey>, ConnectorError>> {
        async move {
            let resp = self
                .call(
                    "repo/gc",
                    &[("stream-errors", "true")],
                    Some(self.config.repogc_timeout),
                    None,
                )
                .await?;
            let lines: Vec<Result<Value, ConnectorError>> = lines("repo/gc", resp).collect().await;
            lines
                .into_iter()
                .map(|l| {
                    let v = l?;
                    let key = v
                        .pointer("/Key/~1")
                        .and_then(Value::as_str)
                        .and_then(|s| Cid::try_from(s).ok());
                    let error = v
                        .get("Error")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    Ok(GcKey { key, error })
                })
                .collect()
        }
        .boxed()
    }

    fn resolve<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Cid, ConnectorError>> {
        async move {
            let v: Value = self
                .call_json("resolve", &[("arg", path)], self.config.request_timeout)
                .await?;
            let resolved = v.get("Path").and_then(Value::as_str).unwrap_or("");
            resolved
                .strip_prefix("/ipfs/")
                .and_then(|s| Cid::try_from(s.split('/').next().unwrap_or("")).ok())
                .ok_or_else(|| ConnectorError::Protocol {
                    path: "resolve".into(),
                    reason: format!("not an immutable path: {resolved:?}"),
                })
        }
        .boxed()
    }

    /// One multipart `block/put`; checks that the node computed the same CIDs.
    fn block_put(&self, blocks: Vec<(Cid, Bytes)>) -> BoxFuture<'_, Result<(), ConnectorError>> {
        async move {
            let Some((first, _)) = blocks.first() else {
                return Ok(());
            };
            let codec = match first.codec() {
                0x55 => "raw",
                0x70 => "dag-pb",
                0x71 => "dag-cbor",
                0x0129 => "dag-json",
                c => {
                    return Err(ConnectorError::Protocol {
                        path: "block/put".into(),
                        reason: format!("unsupported codec 0x{c:x}"),
                    });
                }
            };
            let mh = match crate::ipfs::hash::HashFn::from_code(first.hash().code()) {
                Some(h) => h.name(),
                None => {
                    return Err(ConnectorError::Protocol {
                        path: "block/put".into(),
                        reason: "unsupported hash".into(),
                    });
                }
            };
            let v0 = first.version() == cid::Version::V0;
            let mut form = reqwest::multipart::Form::new();
            for (_, data) in &blocks {
                form = form.part(
                    "file",
                    reqwest::multipart::Part::stream(data.clone()).file_name(""),
                );
            }
            let mut q = vec![
                ("mhtype", mh),
                ("pin", "false"),
                ("allow-big-block", "true"),
            ];
            if v0 {
                q.push(("format", "v0"));
            } else {
                q.push(("cid-codec", codec));
            }
            let resp = self
                .call(
                    "block/put",
                    &q,
                    Some(self.config.request_timeout),
                    Some(form),
                )
                .await?;
            let answers: Vec<Result<Value, ConnectorError>> =
                lines("block/put", resp).collect().await;
            if answers.len() != blocks.len() {
                return Err(ConnectorError::Protocol {
                    path: "block/put".into(),
                    reason: format!("{} answers for {} blocks", answers.len(), blocks.len()),
                });
            }
            for (answer, (cid, _)) in answers.into_iter().zip(&blocks) {
                let v = answer?;
                let key = v
                    .get("Key")
                    .and_then(Value::as_str)
                    .and_then(|s| Cid::try_from(s).ok());
                if key.map(|k| *k.hash()) != Some(*cid.hash()) {
                    return Err(ConnectorError::Protocol {
                        path: "block/put".into(),
                        reason: format!("stored {v} instead of {cid}"),
                    });
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn swarm_connect<'a>(&'a self, addr: &'a str) -> BoxFuture<'a, Result<(), ConnectorError>> {
        async move {
            self.call(
                "swarm/connect",
                &[("arg", addr)],
                Some(self.config.request_timeout),
                None,
            )
            .await
            .map(|_| ())
        }
        .boxed()
    }
}
