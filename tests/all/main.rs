//! Pinfold's black-box tests, one test binary with a module per area.
//!
//! One binary rather than one per area: each test binary links the whole crate with wasmtime
//! and libp2p, so a dozen of them cost a dozen links after every change to the library and
//! a dozen copies on disk. Tests keep their module path as a name (`cluster_rest::…`), so one
//! area or one test runs with a filter:
//!
//! ```text
//! cargo test -p pinfold --test all                  # every area
//! cargo test -p pinfold --test all cluster_peers::  # one area
//! ```
//!
//! Sharing a process is safe because every test owns what it touches: its own temporary
//! folders and ports (`pinfold init --randomports`, `127.0.0.1:0`), its own child processes,
//! and no test changes the environment or the working directory of the test process. The only
//! process-wide state is [`support::plugins::fixtures`], built once and read-only after.

mod support;

mod cid_vectors;
mod cli_output;
mod cluster_ctl;
mod cluster_durability;
mod cluster_js_client;
mod cluster_peers;
mod cluster_rest;
mod cluster_support;
mod cluster_tls;
mod crash_safety;
mod embedded_rpc;
mod kubo_client;
mod plugins_rest;
