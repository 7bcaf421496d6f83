//! Route parameters encoded as Go's client encodes them: `url.QueryEscape`, pin options as
//! `PinOptions.ToQuery()` (every option spelled out, keys sorted), `/add`'s [`AddParams`] with
//! Go's defaults (`DefaultAddParams()`, 100 MiB shards), the `filter` of `GET /allocations`,
//! and IPFS paths checked as boxo's `path.NewPath` before `/pins/ipfs/…` is called.

use std::collections::BTreeMap;

use cid::Cid;

use crate::types::{PinOptions, PinType, format_rfc3339};

use super::ClientError;
use crate::gocompat::path::clean as clean_path;

/// Go's `DefaultShardSize` (100 MiB), the `shard-size` an add sends by default.
pub const DEFAULT_SHARD_SIZE: u64 = 100 * 1024 * 1024;

/// Parameters of `/add` (Go's `api.AddParams`); [`Default`] is Go's `DefaultAddParams()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddParams {
    /// Pin options: name, replication, user allocations, expiry, metadata, shard size.
    pub pin: PinOptions,
    pub local: bool,
    pub recursive: bool,
    pub hidden: bool,
    pub wrap: bool,
    pub shard: bool,
    pub layout: String,
    pub chunker: String,
    pub raw_leaves: bool,
    pub progress: bool,
    pub cid_version: i64,
    pub hash_fun: String,
    pub no_copy: bool,
    pub format: String,
    pub no_pin: bool,
}

impl Default for AddParams {
    fn default() -> Self {
        AddParams {
            pin: PinOptions {
                shard_size: DEFAULT_SHARD_SIZE,
                ..PinOptions::default()
            },
            local: false,
            recursive: false,
            hidden: false,
            wrap: false,
            shard: false,
            layout: String::new(),
            chunker: "size-262144".into(),
            raw_leaves: false,
            progress: false,
            cid_version: 0,
            hash_fun: "sha2-256".into(),
            no_copy: false,
            format: "unixfs".into(),
            no_pin: false,
        }
    }
}

impl AddParams {
    /// The query string Go's `AddParams.ToQueryString` builds (always `stream-channels=true`,
    /// as the client reads a stream).
    pub fn to_query(&self) -> String {
        let mut q = pin_options_query(&self.pin);
        let b = |v: bool| v.to_string();
        q.insert("shard".into(), b(self.shard));
        q.insert("local".into(), b(self.local));
        q.insert("recursive".into(), b(self.recursive));
        q.insert("layout".into(), self.layout.clone());
        q.insert("chunker".into(), self.chunker.clone());
        q.insert("raw-leaves".into(), b(self.raw_leaves));
        q.insert("hidden".into(), b(self.hidden));
        q.insert("wrap-with-directory".into(), b(self.wrap));
        q.insert("progress".into(), b(self.progress));
        q.insert("cid-version".into(), self.cid_version.to_string());
        q.insert("hash".into(), self.hash_fun.clone());
        q.insert("stream-channels".into(), "true".into());
        q.insert("nocopy".into(), b(self.no_copy));
        q.insert("format".into(), self.format.clone());
        q.insert("no-pin".into(), b(self.no_pin));
        encode_query(&q)
    }
}

/// Go's `url.QueryEscape`: everything but `[A-Za-z0-9-_.~]` is %-escaped, spaces become `+`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.Values.Encode` for single values: keys sorted, both sides query-escaped.
pub(super) fn encode_query(q: &BTreeMap<String, String>) -> String {
    q.iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn pin_options_query(po: &PinOptions) -> BTreeMap<String, String> {
    let mut q = BTreeMap::new();
    q.insert(
        "replication-min".into(),
        po.replication_factor_min.to_string(),
    );
    q.insert(
        "replication-max".into(),
        po.replication_factor_max.to_string(),
    );
    q.insert("name".into(), po.name.clone());
    q.insert("mode".into(), po.mode.as_str().into());
    q.insert("shard-size".into(), po.shard_size.to_string());
    q.insert(
        "user-allocations".into(),
        po.user_allocations
            .iter()
            .flatten()
            .map(|p| p.to_base58())
            .collect::<Vec<_>>()
            .join(","),
    );
    if !po.expire_at.is_zero() {
        q.insert("expire-at".into(), format_rfc3339(po.expire_at));
    }
    for (k, v) in po.metadata.iter().flatten() {
        if !k.is_empty() {
            q.insert(format!("meta-{k}"), v.clone());
        }
    }
    if let Some(u) = &po.pin_update {
        q.insert("pin-update".into(), u.to_string());
    }
    if let Some(o) = po.origins.as_ref().filter(|o| !o.is_empty()) {
        q.insert(
            "origins".into(),
            o.iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    q
}

/// Go's `PinOptions.ToQuery()` (every option spelled out, keys sorted).
pub fn pin_options_to_query(po: &PinOptions) -> String {
    encode_query(&pin_options_query(po))
}

/// Which pin types `GET /allocations` lists (Go's `PinType` bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinTypeFilter {
    pub data: bool,
    pub meta: bool,
    pub cluster_dag: bool,
    pub shard: bool,
}

impl PinTypeFilter {
    /// Every type (`filter=all`).
    pub const ALL: PinTypeFilter = PinTypeFilter {
        data: true,
        meta: true,
        cluster_dag: true,
        shard: true,
    };

    /// Parses `ctl pin ls --filter` as Go: names OR-ed, `all` and the empty name mean all,
    /// unknown names add nothing.
    pub fn parse(s: &str) -> PinTypeFilter {
        let mut f = PinTypeFilter::default();
        for name in s.split(',') {
            match name {
                "" | "all" => f = PinTypeFilter::ALL,
                "pin" => f.data = true,
                "meta-pin" => f.meta = true,
                "clusterdag-pin" => f.cluster_dag = true,
                "shard-pin" => f.shard = true,
                _ => {}
            }
        }
        f
    }

    /// The `filter` query value Go's client sends.
    pub fn to_param(self) -> String {
        if self == PinTypeFilter::ALL {
            return "all".into();
        }
        let mut v = Vec::new();
        for (on, t) in [
            (self.data, PinType::Data),
            (self.meta, PinType::Meta),
            (self.cluster_dag, PinType::ClusterDag),
            (self.shard, PinType::Shard),
        ] {
            if on {
                v.push(t.as_str());
            }
        }
        v.join(",")
    }
}

/// Checks an IPFS path as boxo's `path.NewPath` (`/ipfs/<cid>…`, `/ipld/<cid>…`, `/ipns/<name>…`),
/// trying `/ipfs/<arg>` when the argument alone is not a path; returns the cleaned path.
pub fn ipfs_path(arg: &str) -> Result<String, ClientError> {
    fn parse(s: &str) -> Result<String, String> {
        let cleaned = clean_path(s);
        let segs: Vec<&str> = cleaned
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        if !s.starts_with('/') || segs.len() < 2 {
            return Err(format!(
                "invalid path {s:?}: path does not have enough components"
            ));
        }
        let mut out = format!("/{}", segs.join("/"));
        if s.ends_with('/') {
            out.push('/');
        }
        match segs[0] {
            "ipfs" | "ipld" => {
                Cid::try_from(segs[1]).map_err(|e| format!("invalid path {s:?}: {e}"))?;
                Ok(out)
            }
            "ipns" => Ok(out),
            ns => Err(format!("invalid path {s:?}: unknown namespace: {ns:?}")),
        }
    }
    parse(arg)
        .or_else(|_| parse(&format!("/ipfs/{arg}")))
        .map_err(ClientError::Local)
}
