//! IPFS Cluster's REST API (`api/rest`): the server (routes behind the access layer,
//! NDJSON streams, TLS) and the client `pinfold-ctl` uses.

pub mod access;
pub mod client;
pub mod libp2p;
pub mod routes;
pub mod server;
pub mod stream;
#[cfg(test)]
mod tests;
pub mod tls;
