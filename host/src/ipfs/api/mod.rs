//! The Kubo RPC API (`/api/v0`) of the embedded node.
//!
//! `request` parses what Kubo clients send (args in the query or the path, options, Go
//! durations), `error` shapes errors as go-ipfs-cmds does, `multipart` streams uploads,
//! `server` routes and shapes responses, and the `cmd_*` modules are the commands, grouped by
//! what they touch. Every command is a `POST`; the server binds loopback unless the operator
//! explicitly allows otherwise (see `crate::cli`).

pub mod cmd_blocks;
pub mod cmd_files;
pub mod cmd_node;
pub mod cmd_pins;
pub mod error;
pub mod request;
pub mod server;

pub use server::{router, serve};
