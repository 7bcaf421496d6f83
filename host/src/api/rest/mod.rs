//! IPFS Cluster's REST API (`api/rest`): the access layer every request passes (`access`),
//! the route table and middleware order (`router`), request extraction and query parameters
//! (`extract`), the handlers by group of routes (`handlers/`), and the TCP/TLS server
//! (`server`) on the shared accept loop of `crate::http`. The client `pinfold-ctl` uses is
//! `crate::client`.

pub mod access;
pub(crate) mod extract;
pub(crate) mod handlers;
pub(crate) mod router;
pub mod server;
#[cfg(test)]
pub(crate) mod tests;
