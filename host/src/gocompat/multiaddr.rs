//! go-multiaddr's helpers as Pinfold needs them: a listen or API address turned into a socket
//! address (`manet.ToNetAddr`, for `/ip4|ip6/<ip>/tcp/<port>`, with `/dns*` names left for the
//! caller to resolve), and the peer id an address ends with ([`ending_peer_id`], go-libp2p's
//! `peer.SplitAddr`), the one rule for `--bootstrap`, `init --peers` and peerstore lines.

use std::net::{IpAddr, SocketAddr};

use libp2p_identity::PeerId;
use multiaddr::{Multiaddr, Protocol};

/// An address that is not `/<ip4|ip6|dns|dns4|dns6>/<host>/tcp/<port>`, or is a name where an
/// IP address is needed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AddrError {
    /// Not a host followed by a TCP port (and nothing else).
    #[error("expected /<ip4|ip6|dns>/<host>/tcp/<port>")]
    NotTcp,
    /// A DNS name where only an IP address will do.
    #[error("need an IP address and a TCP port, like /ip4/127.0.0.1/tcp/5001")]
    NotIp,
}

/// The host part of a TCP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TcpHost {
    /// `/ip4/…` or `/ip6/…`.
    Ip(IpAddr),
    /// `/dns/…` (either family), `/dns4/…` (`v4` only) or `/dns6/…` (`v6` only).
    Dns {
        name: String,
        v4_only: bool,
        v6_only: bool,
    },
}

/// The host and port of `/<ip4|ip6|dns|dns4|dns6>/<host>/tcp/<port>`.
pub(crate) fn tcp_endpoint(ma: &Multiaddr) -> Result<(TcpHost, u16), AddrError> {
    let mut it = ma.iter();
    let host = match it.next() {
        Some(Protocol::Ip4(ip)) => TcpHost::Ip(ip.into()),
        Some(Protocol::Ip6(ip)) => TcpHost::Ip(ip.into()),
        Some(p @ (Protocol::Dns(_) | Protocol::Dns4(_) | Protocol::Dns6(_))) => {
            let (v4_only, v6_only) = (
                matches!(p, Protocol::Dns4(_)),
                matches!(p, Protocol::Dns6(_)),
            );
            let (Protocol::Dns(n) | Protocol::Dns4(n) | Protocol::Dns6(n)) = p else {
                unreachable!("matched above")
            };
            TcpHost::Dns {
                name: n.into_owned(),
                v4_only,
                v6_only,
            }
        }
        _ => return Err(AddrError::NotTcp),
    };
    let Some(Protocol::Tcp(port)) = it.next() else {
        return Err(AddrError::NotTcp);
    };
    if it.next().is_some() {
        return Err(AddrError::NotTcp);
    }
    Ok((host, port))
}

/// go-multiaddr's `manet.ToNetAddr` for TCP: `/ip4/<ip>/tcp/<port>` or `/ip6/<ip>/tcp/<port>`.
pub(crate) fn to_socket_addr(ma: &Multiaddr) -> Result<SocketAddr, AddrError> {
    match tcp_endpoint(ma)? {
        (TcpHost::Ip(ip), port) => Ok(SocketAddr::new(ip, port)),
        (TcpHost::Dns { .. }, _) => Err(AddrError::NotIp),
    }
}

/// The peer id an address ends with (`…/p2p/<id>`, go-libp2p's `peer.SplitAddr`); `None`
/// when its last component is anything else.
pub(crate) fn ending_peer_id(ma: &Multiaddr) -> Option<PeerId> {
    match ma.iter().last() {
        Some(Protocol::P2p(p)) => Some(p),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ma(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    #[test]
    fn socket_addresses() {
        assert_eq!(
            to_socket_addr(&ma("/ip4/127.0.0.1/tcp/5001")).unwrap(),
            "127.0.0.1:5001".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            to_socket_addr(&ma("/ip6/::1/tcp/0")).unwrap().to_string(),
            "[::1]:0"
        );
        assert_eq!(
            to_socket_addr(&ma("/ip4/127.0.0.1/udp/1")),
            Err(AddrError::NotTcp)
        );
        assert_eq!(
            to_socket_addr(&ma("/ip4/127.0.0.1/tcp/1/ws")),
            Err(AddrError::NotTcp)
        );
        assert_eq!(
            to_socket_addr(&ma("/tcp/1/ip4/127.0.0.1")),
            Err(AddrError::NotTcp)
        );
        assert_eq!(
            to_socket_addr(&ma("/dns4/localhost/tcp/1")),
            Err(AddrError::NotIp)
        );
        assert_eq!(
            tcp_endpoint(&ma("/dns6/example.com/tcp/80")).unwrap(),
            (
                TcpHost::Dns {
                    name: "example.com".into(),
                    v4_only: false,
                    v6_only: true
                },
                80
            )
        );
    }

    #[test]
    fn ending_peer_ids() {
        let a = libp2p_identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let b = libp2p_identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let plain = ma(&format!("/ip4/1.2.3.4/tcp/9096/p2p/{a}"));
        assert_eq!(ending_peer_id(&plain), Some(a));
        let relayed = ma(&format!("/p2p/{a}/p2p-circuit/p2p/{b}"));
        assert_eq!(ending_peer_id(&relayed), Some(b));
        let inner = ma(&format!("/p2p/{a}/p2p-circuit"));
        assert_eq!(ending_peer_id(&inner), None);
        assert_eq!(ending_peer_id(&ma("/ip4/1.2.3.4/tcp/1")), None);
    }
}
