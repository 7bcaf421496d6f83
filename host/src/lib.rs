//! Pinfold: an IPFS Cluster peer in Rust.
//!
//! One module per component (see DESIGN.md).

pub mod config;
pub mod consensus;
pub mod ipfs;
pub mod state;
pub mod types;
