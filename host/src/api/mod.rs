//! The cluster's front doors: IPFS Cluster's REST API (`rest`: the access layer every request
//! passes, routing, handlers, and the same API over libp2p streams). The client side of the
//! REST API is `crate::client`; the shared HTTP plumbing is `crate::http`.
//!
//! Only `cli` and the binaries import `api`.

pub mod rest;
