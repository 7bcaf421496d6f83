//! The IPFS connector: the Kubo RPC client through which a cluster peer drives its IPFS node,
//! whether that is a Kubo daemon at `node_multiaddress` or Pinfold's embedded node (which
//! serves the same API on loopback, so there is one code path for both).
//!
//! Behaviour follows IPFS Cluster's `ipfshttp` connector: every call is a `POST` to
//! `/api/v0/...`; non-200 answers carry Kubo's `{"Message","Code"}` and become
//! [`ConnectorError::Ipfs`]; transport failures say "is it running?". Timeouts come from
//! `ipfs_connector.ipfshttp`: `ipfs_request_timeout` for ordinary calls, `unpin_timeout`,
//! `repogc_timeout`, and `pin_timeout`, which is a **stall** timeout: a `pin/add` is cancelled
//! (by dropping the connection) only when its `Progress` has not grown for that long, so a big
//! DAG that keeps arriving is never cut off, while a pin whose blocks nobody has ends.
//!
//! Deliberate difference from Go: listing pins walks both `recursive` and `direct` pins (Go's
//! loop stops after the first type, so direct pins showed as `unexpectedly_unpinned`).

use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::types::PinMode;

/// Settings of the connector (the `ipfs_connector.ipfshttp` keys it uses).
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// `http://host:port`, derived from `node_multiaddress`.
    pub base_url: String,
    pub request_timeout: Duration,
    pub pin_timeout: Duration,
    pub unpin_timeout: Duration,
    pub repogc_timeout: Duration,
    pub unpin_disable: bool,
}

impl ConnectorConfig {
    /// IPFS Cluster's defaults for a node at `base_url`.
    pub fn with_defaults(base_url: impl Into<String>) -> Self {
        ConnectorConfig {
            base_url: base_url.into(),
            request_timeout: Duration::from_secs(300),
            pin_timeout: Duration::from_secs(120),
            unpin_timeout: Duration::from_secs(3 * 3600),
            repogc_timeout: Duration::from_secs(24 * 3600),
            unpin_disable: false,
        }
    }
}

/// Errors talking to the IPFS node.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("IPFS request failed (is it running?) ({path}): {reason}")]
    Unreachable { path: String, reason: String },
    #[error("IPFS error ({path}): {message}")]
    Ipfs {
        path: String,
        status: u16,
        message: String,
    },
    #[error("IPFS request timed out ({path}) after {after:?}")]
    Timeout { path: String, after: Duration },
    #[error("pin/add of {cid} stalled: no progress for {after:?} (pin_timeout)")]
    Stalled { cid: Cid, after: Duration },
    #[error("unexpected answer from IPFS ({path}): {reason}")]
    Protocol { path: String, reason: String },
    #[error("ipfs unpinning is disallowed by configuration on this peer")]
    UnpinDisabled,
}

/// What the node says about one CID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpfsPinStatus {
    Recursive,
    Direct,
    Indirect,
    Unpinned,
}

impl IpfsPinStatus {
    /// True when the node keeps the CID the way `mode` asks.
    pub fn satisfies(self, mode: PinMode) -> bool {
        match mode {
            PinMode::Recursive => self == IpfsPinStatus::Recursive,
            PinMode::Direct => matches!(self, IpfsPinStatus::Direct | IpfsPinStatus::Recursive),
        }
    }

    fn from_type(t: &str) -> IpfsPinStatus {
        match t {
            "recursive" => IpfsPinStatus::Recursive,
            "direct" => IpfsPinStatus::Direct,
            t if t.starts_with("indirect") => IpfsPinStatus::Indirect,
            _ => IpfsPinStatus::Unpinned,
        }
    }
}

/// The node's identity as `id` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IpfsNodeId {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Addresses", default)]
    pub addresses: Option<Vec<String>>,
}

/// `repo/stat?size-only=true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct RepoStat {
    #[serde(rename = "RepoSize")]
    pub repo_size: u64,
    #[serde(rename = "StorageMax")]
    pub storage_max: u64,
}

/// One line of `repo/gc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcKey {
    pub key: Option<Cid>,
    pub error: String,
}

/// The Kubo RPC client.
#[derive(Debug, Clone)]
pub struct IpfsConnector {
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

impl IpfsConnector {
    pub fn new(config: ConnectorConfig) -> Result<Self, ConnectorError> {
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| ConnectorError::Unreachable {
                path: String::new(),
                reason: e.to_string(),
            })?;
        Ok(IpfsConnector { http, config })
    }

    pub fn config(&self) -> &ConnectorConfig {
        &self.config
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
            .map_err(|e| self.transport_error(cmd, e, timeout))?;
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

    fn transport_error(
        &self,
        cmd: &str,
        e: reqwest::Error,
        timeout: Option<Duration>,
    ) -> ConnectorError {
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
            .map_err(|e| self.transport_error(cmd, e, Some(timeout)))?;
        serde_json::from_slice(&bytes).map_err(|e| ConnectorError::Protocol {
            path: cmd.to_string(),
            reason: e.to_string(),
        })
    }

    /// The NDJSON values of a streamed answer, one at a time (a last line without its
    /// newline counts).
    fn lines(
        &self,
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

    /// `id`: also the readiness probe.
    pub async fn id(&self) -> Result<IpfsNodeId, ConnectorError> {
        self.call_json("id", &[], self.config.request_timeout).await
    }

    /// How the node pins `cid` now.
    pub async fn pin_ls_cid(&self, cid: &Cid) -> Result<IpfsPinStatus, ConnectorError> {
        let c = cid.to_string();
        match self
            .call(
                "pin/ls",
                &[("arg", &c), ("stream", "true")],
                Some(self.config.request_timeout),
                None,
            )
            .await
        {
            Ok(resp) => {
                let mut lines = Box::pin(self.lines("pin/ls", resp));
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

    /// Pins `cid` unless it already is, reporting the number of blocks fetched so far; gives
    /// up when progress stalls for `pin_timeout`. With `update_from` pinned recursively, uses
    /// `pin/update` (keeping the old pin) so shared blocks are not fetched twice.
    pub async fn pin(
        &self,
        cid: &Cid,
        mode: PinMode,
        update_from: Option<&Cid>,
        mut on_progress: impl FnMut(u64) + Send,
    ) -> Result<(), ConnectorError> {
        if self.pin_ls_cid(cid).await?.satisfies(mode) {
            return Ok(());
        }
        let c = cid.to_string();
        if let Some(from) = update_from
            && mode == PinMode::Recursive
            && self.pin_ls_cid(from).await? == IpfsPinStatus::Recursive
        {
            let f = from.to_string();
            self.call(
                "pin/update",
                &[("arg", &f), ("arg", &c), ("unpin", "false")],
                None,
                None,
            )
            .await?;
            return Ok(());
        }
        let recursive = if mode == PinMode::Recursive {
            "true"
        } else {
            "false"
        };
        let stall = self.config.pin_timeout;
        let pinning = async {
            // the stall deadline also covers waiting for the answer to start: a node that
            // finds no block at all may send nothing
            let q = [
                ("arg", c.as_str()),
                ("recursive", recursive),
                ("progress", "true"),
            ];
            let call = self.call("pin/add", &q, None, None);
            let resp = tokio::time::timeout(stall, call).await.map_err(|_| {
                ConnectorError::Stalled {
                    cid: *cid,
                    after: stall,
                }
            })??;
            let mut lines = Box::pin(self.lines("pin/add", resp));
            let mut best = 0u64;
            let mut deadline = Instant::now() + stall;
            loop {
                let next = tokio::time::timeout_at(deadline, lines.next())
                    .await
                    .map_err(|_| ConnectorError::Stalled {
                        cid: *cid,
                        after: stall,
                    })?;
                let Some(line) = next else {
                    return Err(ConnectorError::Protocol {
                        path: "pin/add".into(),
                        reason: "the answer ended without a Pins line".into(),
                    });
                };
                let line = line?;
                if let Some(p) = line.get("Progress").and_then(Value::as_u64)
                    && p > best
                {
                    best = p;
                    deadline = Instant::now() + stall;
                    on_progress(p);
                }
                if line.get("Pins").is_some_and(|p| !p.is_null()) {
                    return Ok(());
                }
            }
        };
        pinning.await
    }

    /// Unpins `cid`; "not pinned" counts as success.
    pub async fn unpin(&self, cid: &Cid) -> Result<(), ConnectorError> {
        if self.config.unpin_disable {
            return Err(ConnectorError::UnpinDisabled);
        }
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
            Err(ConnectorError::Ipfs { message, .. }) if message.contains("not pinned") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every recursive and direct pin of the node, streamed: `(cid, status)`.
    pub async fn pin_ls(
        &self,
    ) -> Result<
        impl Stream<Item = Result<(Cid, IpfsPinStatus), ConnectorError>> + Send + 'static,
        ConnectorError,
    > {
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
            streams.push(self.lines("pin/ls", resp));
        }
        Ok(futures::stream::iter(streams).flatten().map(|line| {
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
        }))
    }

    pub async fn repo_stat(&self) -> Result<RepoStat, ConnectorError> {
        self.call_json(
            "repo/stat",
            &[("size-only", "true")],
            self.config.request_timeout,
        )
        .await
    }

    pub async fn repo_gc(&self) -> Result<Vec<GcKey>, ConnectorError> {
        let resp = self
            .call(
                "repo/gc",
                &[("stream-errors", "true")],
                Some(self.config.repogc_timeout),
                None,
            )
            .await?;
        let lines: Vec<Result<Value, ConnectorError>> = self.lines("repo/gc", resp).collect().await;
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

    /// Resolves an IPFS path to the CID it names (a bare `/ipfs/<cid>` needs no call).
    pub async fn resolve(&self, path: &str) -> Result<Cid, ConnectorError> {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if segs.len() == 2
            && segs[0] == "ipfs"
            && let Ok(c) = Cid::try_from(segs[1])
        {
            return Ok(c);
        }
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

    /// Stores blocks with `block/put` (one multipart request); all must share the first
    /// block's CID version, codec and hash. Checks that the node computed the same CIDs.
    pub async fn block_put(&self, blocks: Vec<(Cid, Bytes)>) -> Result<(), ConnectorError> {
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
            self.lines("block/put", resp).collect().await;
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

    pub async fn block_get(&self, cid: &Cid) -> Result<Bytes, ConnectorError> {
        let c = cid.to_string();
        let resp = self
            .call(
                "block/get",
                &[("arg", &c)],
                Some(self.config.request_timeout),
                None,
            )
            .await?;
        resp.bytes()
            .await
            .map_err(|e| self.transport_error("block/get", e, Some(self.config.request_timeout)))
    }

    pub async fn swarm_connect(&self, addr: &str) -> Result<(), ConnectorError> {
        self.call(
            "swarm/connect",
            &[("arg", addr)],
            Some(self.config.request_timeout),
            None,
        )
        .await
        .map(|_| ())
    }

    pub async fn swarm_peers(&self) -> Result<Vec<String>, ConnectorError> {
        let v: Value = self
            .call_json("swarm/peers", &[], self.config.request_timeout)
            .await?;
        Ok(v.get("Peers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.get("Peer").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A value of the node's configuration, by `/`-separated path (`Datastore/StorageMax`).
    pub async fn config_key(&self, path: &str) -> Result<Value, ConnectorError> {
        let v: Value = self
            .call_json("config/show", &[], self.config.request_timeout)
            .await?;
        let pointer = format!("/{}", path.trim_matches('/'));
        v.pointer(&pointer)
            .cloned()
            .ok_or_else(|| ConnectorError::Protocol {
                path: "config/show".into(),
                reason: format!("no key {path}"),
            })
    }
}
