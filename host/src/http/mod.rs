//! HTTP plumbing shared by every HTTP front door (the REST API, REST over libp2p, the embedded
//! node's Kubo RPC API, later the IPFS proxy and the pinning service):
//!
//! * `server`: the one accept loop (TCP, TLS, or any byte stream such as a libp2p stream),
//!   HTTP/1.1 through hyper with Go's limits and timeouts, connection drain on shutdown;
//! * `tls`: the rustls server configuration from PEM files, and plain-HTTP sniffing;
//! * `ndjson`: JSON answers, NDJSON streams with the `X-Stream-Error` trailer;
//! * `goerror`: Go's error bodies (IPFS Cluster's `{"code","message"}`, go-ipfs-cmds'
//!   `{"Message","Code","Type"}` and plain-text errors) and Go's string quoting;
//! * `multipart`: streaming `multipart/form-data` parsing with limits;
//! * `unescape`: Go's URL percent-decoding.
//!
//! `http` imports nothing of the crate but `types`: it is plumbing that the APIs build on, and
//! it knows no component, no configuration section and no route.

pub(crate) mod goerror;
pub mod multipart;
pub(crate) mod ndjson;
pub mod server;
pub(crate) mod tls;
pub(crate) mod unescape;
