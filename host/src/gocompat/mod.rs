//! Go compatibility: the one copy of every Go standard-library (and go-multiaddr) behaviour
//! Pinfold reproduces byte for byte, because IPFS Cluster's and Kubo's users write Go's
//! spellings into configuration files, query strings and command lines.
//!
//! | module | Go |
//! |---|---|
//! | [`duration`] | `time.ParseDuration`, `time.Duration.String()` (`"2m0s"`) |
//! | [`strconv`] | `strconv.ParseBool`, `strconv.ParseInt`/`ParseUint` with base 0 |
//! | [`path`] | `path.Clean` |
//! | [`hex`] | `encoding/hex` (lower-case encode, either case decoded) |
//! | [`multiaddr`] | go-multiaddr's `manet.ToNetAddr` (IP + TCP) and `peer.SplitAddr` |
//!
//! `duration` and `strconv` are public for the fuzz crate; the rest is the crate's own.
//! A leaf: it imports nothing of the crate, so every layer (types, config, the APIs, the CLIs)
//! may use it. Each function names the Go function it follows; where Pinfold cannot follow
//! Go (a negative duration cannot be a `std::time::Duration`), the function says so. The
//! error types carry Go's messages in their `Display`.

pub mod duration;
pub(crate) mod hex;
pub(crate) mod multiaddr;
pub(crate) mod path;
pub mod strconv;
