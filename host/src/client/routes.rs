//! One [`Client`] method per REST route (§1.3 of the reference), in the reference's order:
//! plain JSON answers decode through [`FromWire`], streaming routes return an [`ItemStream`],
//! and `/add` sends a [`MultipartUpload`].

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use cid::Cid;
use libp2p_identity::PeerId;

use crate::types::{
    AddedOutput, Alert, BandwidthByProtocol, ConnectGraph, GlobalPinInfo, GlobalRepoGc, Metric,
    PeerDescription, Pin, PinOptions, Token, Version,
};

use super::{
    AddParams, Client, ClientError, ItemStream, MultipartUpload, PinTypeFilter, ReqBody, ipfs_path,
    pin_options_to_query, query_escape,
};

impl Client {
    /// `GET /id`: the contacted peer.
    pub async fn id(&self) -> Result<PeerDescription, ClientError> {
        self.call(reqwest::Method::GET, "/id").await
    }

    /// `GET /version`.
    pub async fn version(&self) -> Result<Version, ClientError> {
        self.call(reqwest::Method::GET, "/version").await
    }

    /// `GET /peers` (stream): every cluster peer; unreachable ones carry `error`.
    pub async fn peers(&self) -> Result<ItemStream<PeerDescription>, ClientError> {
        self.stream(reqwest::Method::GET, "/peers", None).await
    }

    /// `POST /peers` with `{"peer_id": …}`.
    pub async fn peer_add(&self, pid: &PeerId) -> Result<PeerDescription, ClientError> {
        let mut body = serde_json::to_vec(&serde_json::json!({ "peer_id": pid.to_base58() }))
            .expect("serializable");
        body.push(b'\n');
        let resp = self
            .send(reqwest::Method::POST, "/peers", &ReqBody::Json(body), None)
            .await?;
        Self::finish(resp)
            .await?
            .ok_or_else(|| ClientError::Decode("empty answer (no content) from /peers".into()))
    }

    /// `DELETE /peers/{peer}`.
    pub async fn peer_rm(&self, pid: &PeerId) -> Result<(), ClientError> {
        self.call_empty(
            reqwest::Method::DELETE,
            &format!("/peers/{}", pid.to_base58()),
        )
        .await
    }

    /// `POST /add` (stream of [`AddedOutput`]): uploads `upload` with `params`; `sent`, when
    /// given, counts body bytes sent. With several API addresses the upload is retried on the
    /// next one only if the request could not be made.
    pub async fn add(
        &self,
        upload: &MultipartUpload,
        params: &AddParams,
        sent: Option<Arc<AtomicU64>>,
    ) -> Result<ItemStream<AddedOutput>, ClientError> {
        let path = format!("/add?{}", params.to_query());
        self.stream(reqwest::Method::POST, &path, Some((upload, sent)))
            .await
    }

    /// `GET /allocations?filter=…` (stream): the shared pinset.
    pub async fn allocations(&self, filter: PinTypeFilter) -> Result<ItemStream<Pin>, ClientError> {
        let path = format!("/allocations?filter={}", query_escape(&filter.to_param()));
        self.stream(reqwest::Method::GET, &path, None).await
    }

    /// `GET /allocations/{cid}`.
    pub async fn allocation(&self, cid: &Cid) -> Result<Pin, ClientError> {
        self.call(reqwest::Method::GET, &format!("/allocations/{cid}"))
            .await
    }

    /// `GET /pins/{cid}?local=…`.
    pub async fn status(&self, cid: &Cid, local: bool) -> Result<GlobalPinInfo, ClientError> {
        self.call(reqwest::Method::GET, &format!("/pins/{cid}?local={local}"))
            .await
    }

    /// `GET /pins?local=…&filter=…&cids=…` (stream). `filter` is a comma-separated list of
    /// tracker status names (empty: all); `cids` restricts to those CIDs.
    pub async fn status_all(
        &self,
        filter: &str,
        cids: &[Cid],
        local: bool,
    ) -> Result<ItemStream<GlobalPinInfo>, ClientError> {
        let filter: String = filter.chars().filter(|c| *c != ' ').collect();
        let cids = cids
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let path = format!(
            "/pins?local={local}&filter={}&cids={cids}",
            query_escape(&filter)
        );
        self.stream(reqwest::Method::GET, &path, None).await
    }

    /// `POST /pins/{cid}/recover?local=…`.
    pub async fn recover(&self, cid: &Cid, local: bool) -> Result<GlobalPinInfo, ClientError> {
        self.call(
            reqwest::Method::POST,
            &format!("/pins/{cid}/recover?local={local}"),
        )
        .await
    }

    /// `POST /pins/recover?local=…` (stream).
    pub async fn recover_all(&self, local: bool) -> Result<ItemStream<GlobalPinInfo>, ClientError> {
        self.stream(
            reqwest::Method::POST,
            &format!("/pins/recover?local={local}"),
            None,
        )
        .await
    }

    /// `POST /pins/{cid}?<options>`.
    pub async fn pin(&self, cid: &Cid, opts: &PinOptions) -> Result<Pin, ClientError> {
        let path = format!("/pins/{cid}?{}", pin_options_to_query(opts));
        self.call(reqwest::Method::POST, &path).await
    }

    /// `DELETE /pins/{cid}`.
    pub async fn unpin(&self, cid: &Cid) -> Result<Pin, ClientError> {
        self.call(reqwest::Method::DELETE, &format!("/pins/{cid}"))
            .await
    }

    /// `POST /pins/{ipfs|ipns|ipld}/…?<options>`; a bare CID is taken as `/ipfs/<cid>`.
    pub async fn pin_path(&self, path: &str, opts: &PinOptions) -> Result<Pin, ClientError> {
        let p = ipfs_path(path)?;
        let path = format!("/pins{p}?{}", pin_options_to_query(opts));
        self.call(reqwest::Method::POST, &path).await
    }

    /// `DELETE /pins/{ipfs|ipns|ipld}/…`.
    pub async fn unpin_path(&self, path: &str) -> Result<Pin, ClientError> {
        let p = ipfs_path(path)?;
        self.call(reqwest::Method::DELETE, &format!("/pins{p}"))
            .await
    }

    /// `POST /ipfs/gc?local=…`.
    pub async fn repo_gc(&self, local: bool) -> Result<GlobalRepoGc, ClientError> {
        self.call(reqwest::Method::POST, &format!("/ipfs/gc?local={local}"))
            .await
    }

    /// `GET /monitor/metrics`: metric names.
    pub async fn metric_names(&self) -> Result<Vec<String>, ClientError> {
        self.call(reqwest::Method::GET, "/monitor/metrics").await
    }

    /// `GET /monitor/metrics/{name}`: the latest metric of each peer.
    pub async fn metrics(&self, name: &str) -> Result<Vec<Metric>, ClientError> {
        if name.is_empty() {
            return Err(ClientError::Local("bad metric name".into()));
        }
        self.call(
            reqwest::Method::GET,
            &format!("/monitor/metrics/{}", query_escape(name)),
        )
        .await
    }

    /// `GET /health/alerts`.
    pub async fn alerts(&self) -> Result<Vec<Alert>, ClientError> {
        self.call(reqwest::Method::GET, "/health/alerts").await
    }

    /// `GET /health/bandwidth`.
    pub async fn bandwidth(&self) -> Result<BandwidthByProtocol, ClientError> {
        self.call(reqwest::Method::GET, "/health/bandwidth").await
    }

    /// `GET /health/graph`.
    pub async fn health_graph(&self) -> Result<ConnectGraph, ClientError> {
        self.call(reqwest::Method::GET, "/health/graph").await
    }

    /// `GET /health` (204 when the peer is up).
    pub async fn health(&self) -> Result<(), ClientError> {
        self.call_empty(reqwest::Method::GET, "/health").await
    }

    /// `POST /token`: a bearer token for the authenticated user.
    pub async fn token(&self) -> Result<Token, ClientError> {
        self.call(reqwest::Method::POST, "/token").await
    }
}
