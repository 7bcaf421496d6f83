//! The embedded IPFS node.

pub mod adder;
pub mod api;
pub mod blockstore;
pub mod car;
pub mod dagpb;
pub mod fetch;
pub mod hash;
pub mod node;
pub mod pins;
pub mod unixfs;
