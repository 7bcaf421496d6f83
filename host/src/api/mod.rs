//! The cluster's front doors: IPFS Cluster's REST API (`rest`: the access layer every request
//! passes, routing, handlers) and the same API over libp2p streams (`libp2p_http`). The client
//! side of both is `crate::client`; the shared HTTP plumbing is `crate::http`.
//!
//! Only `cli` and the binaries import `api`.

pub(crate) mod libp2p_http;
pub mod rest;
