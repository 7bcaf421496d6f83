//! Helpers every section shares: Go's `Validate()` rules (non-zero and minimum durations,
//! positive numbers, `max_header_bytes`), loopback detection, file names resolved against the
//! configuration folder, and the host name that is IPFS Cluster's default peer name. Every
//! check names the key path it failed on.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use multiaddr::{Multiaddr, Protocol};

use super::api::MIN_MAX_HEADER_BYTES;
use super::error::ConfigError;
use crate::gocompat::duration;

pub(super) fn ma(s: &str) -> Multiaddr {
    s.parse().expect("built-in multiaddress")
}

pub(super) fn is_false(b: &bool) -> bool {
    !*b
}

pub(super) fn nonzero(d: Duration, key: &str) -> Result<(), ConfigError> {
    if d.is_zero() {
        return Err(ConfigError::invalid(
            key,
            "0s is invalid (must be larger than 0)",
        ));
    }
    Ok(())
}

pub(super) fn at_least(d: Duration, min: Duration, key: &str) -> Result<(), ConfigError> {
    if d < min {
        return Err(ConfigError::invalid(
            key,
            format!(
                "{} is too low (must be at least {})",
                duration::format(d),
                duration::format(min)
            ),
        ));
    }
    Ok(())
}

pub(super) fn positive<T: PartialEq + Default + fmt::Display>(
    n: T,
    key: &str,
) -> Result<(), ConfigError> {
    if n == T::default() {
        return Err(ConfigError::invalid(
            key,
            "0 is invalid (must be larger than 0)",
        ));
    }
    Ok(())
}

pub(super) fn max_header_bytes(n: usize, key: &str) -> Result<(), ConfigError> {
    if n < MIN_MAX_HEADER_BYTES {
        return Err(ConfigError::invalid(
            key,
            format!("{n} is invalid (must be at least {MIN_MAX_HEADER_BYTES})"),
        ));
    }
    Ok(())
}

/// Whether `addr` starts with a loopback IP (`/ip4/127.x`, `/ip6/::1`) or is a unix socket.
pub(super) fn is_loopback(addr: &Multiaddr) -> bool {
    match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => ip.is_loopback(),
        Some(Protocol::Ip6(ip)) => ip.is_loopback(),
        Some(Protocol::Unix(_)) => true,
        _ => false,
    }
}

/// A file name of the configuration resolved against the configuration folder (absolute
/// names are kept), as Go does for TLS and log files.
pub(super) fn in_folder(folder: &Path, file: &str) -> PathBuf {
    folder.join(file)
}

/// The host name, IPFS Cluster's default peer name ("" if it cannot be read).
pub(crate) fn hostname() -> String {
    for file in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(s) = std::fs::read_to_string(file) {
            let s = s.trim();
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    std::env::var("HOSTNAME").unwrap_or_default()
}
