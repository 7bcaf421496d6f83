//! Pinfold: an IPFS Cluster peer in Rust.
//!
//! One module per component (see DESIGN.md).

pub mod api;
pub mod cli;
pub mod config;
pub mod ipfs;
pub mod types;
