//! Pinfold: an IPFS Cluster peer in Rust.
//!
//! This crate holds the daemon's components, one module per component (see DESIGN.md):
//! `ipfs` is the embedded IPFS node with its Kubo RPC API, `cli` the command-line front ends.

pub mod allocate;
pub mod api;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod consensus;
pub mod exchange;
pub mod ipfs;
pub mod plugins;
pub mod rpc;
pub mod state;
pub mod swarm;
pub mod tracker;
pub mod types;

/// Pinfold's peer-to-peer RPC protocol id (not wire-compatible with IPFS Cluster's
/// `/ipfscluster/1.0/rpc`), reported by `/id` as `rpc_protocol_version`.
pub const RPC_PROTOCOL: &str = "/pinfold/rpc/0.1.0";
