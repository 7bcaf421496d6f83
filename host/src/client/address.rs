//! API multiaddresses (`/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>`) turned into the base URLs
//! requests go to, `http` or `https`. `/p2p/`, `/dnsaddr/` and `/unix/` addresses are refused
//! with an error that says why (the first only works through the libp2p tunnel).

use multiaddr::{Multiaddr, Protocol};

use super::ClientError;

/// Turns one API multiaddress into `scheme://host:port`.
pub fn multiaddr_to_base_url(addr: &Multiaddr, https: bool) -> Result<String, ClientError> {
    let bad = |why: &str| ClientError::Local(format!("{why}: {addr}"));
    if addr
        .iter()
        .any(|p| matches!(p, Protocol::P2p(_) | Protocol::Dnsaddr(_)))
    {
        return Err(ClientError::Local(format!(
            "REST over libp2p is not available yet (address {addr}); use the HTTP API address \
             (/ip4/<ip>/tcp/<port>)"
        )));
    }
    let mut it = addr.iter();
    let host = match it.next() {
        Some(Protocol::Ip4(ip)) => ip.to_string(),
        Some(Protocol::Ip6(ip)) => format!("[{ip}]"),
        Some(Protocol::Dns(n) | Protocol::Dns4(n) | Protocol::Dns6(n)) => n.to_string(),
        Some(Protocol::Unix(_)) => return Err(bad("unix socket API addresses are not supported")),
        _ => return Err(bad("unsupported API multiaddress")),
    };
    let port = match it.next() {
        Some(Protocol::Tcp(p)) => p,
        _ => return Err(bad("API multiaddress needs a /tcp/ port")),
    };
    if it.next().is_some() {
        return Err(bad("unsupported API multiaddress"));
    }
    let scheme = if https { "https" } else { "http" };
    Ok(format!("{scheme}://{host}:{port}"))
}
