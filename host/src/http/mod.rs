//! HTTP plumbing shared by every HTTP front door (the REST API, the embedded node's Kubo RPC
//! API, later the IPFS proxy and the pinning service): streaming `multipart/form-data`
//! parsing with limits (`multipart`).
//!
//! `http` imports no component: it is plumbing that the APIs build on.

pub mod multipart;
