//! The Kubo RPC server (`/api/v0`).

pub mod error;
pub mod multipart;
pub mod request;
