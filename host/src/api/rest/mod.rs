//! IPFS Cluster's REST API (`api/rest`): the client.

pub mod access;
pub mod client;
pub mod routes;
pub mod server;
pub mod stream;
#[cfg(test)]
mod tests;
pub mod tls;
