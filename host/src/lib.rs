//! Pinfold: an IPFS Cluster peer in Rust.
//!
//! One module per component; `ARCHITECTURE.md` at the repository root maps them and the
//! rules on which may import which (checked by `scripts/check-layers.sh`).

pub(crate) mod allocate;
pub mod api;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod config;
pub(crate) mod consensus;
pub mod gocompat;
pub mod http;
pub mod ipfs;
pub mod ipfsconn;
pub(crate) mod p2p;
pub mod plugins;
pub(crate) mod state;
pub(crate) mod tracker;
pub mod types;

/// Pinfold's peer-to-peer RPC protocol id (not wire-compatible with IPFS Cluster's
/// `/ipfscluster/1.0/rpc`), reported by `/id` as `rpc_protocol_version`.
pub const RPC_PROTOCOL: &str = "/pinfold/rpc/0.1.0";
