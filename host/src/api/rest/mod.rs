//! IPFS Cluster's REST API (`api/rest`): the server (routes behind the access layer,
//! NDJSON streams, TLS). The client `pinfold-ctl` uses is `crate::client`.

pub mod access;
pub mod libp2p;
pub mod routes;
pub mod server;
pub mod stream;
#[cfg(test)]
mod tests;
pub mod tls;
