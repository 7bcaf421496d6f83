//! Conversions between the crate's identity and address types and libp2p's.
//!
//! The rest of Pinfold uses `libp2p-identity` 0.2 and `multiaddr` 0.18 (config, consensus,
//! types); libp2p 0.57 is built on `libp2p-identity` 0.3 and `multiaddr` 0.19. They are the same
//! wire formats, so values cross by their binary forms. The swarm's public API speaks the
//! crate's types; only this module and the event loop touch libp2p's. When the whole crate moves
//! to identity 0.3 / multiaddr 0.19, these become identities and can go.

use libp2p::identity as p2p_identity;

/// The crate's peer id type.
pub type PeerId = libp2p_identity::PeerId;
/// The crate's multiaddr type.
pub type Multiaddr = multiaddr::Multiaddr;

pub(crate) fn peer_to_p2p(p: &PeerId) -> libp2p::PeerId {
    libp2p::PeerId::from_bytes(&p.to_bytes()).expect("a peer id is a peer id in both versions")
}

pub(crate) fn peer_from_p2p(p: &libp2p::PeerId) -> PeerId {
    PeerId::from_bytes(&p.to_bytes()).expect("a peer id is a peer id in both versions")
}

pub(crate) fn addr_to_p2p(a: &Multiaddr) -> libp2p::Multiaddr {
    libp2p::Multiaddr::try_from(a.to_vec()).expect("a multiaddr is a multiaddr in both versions")
}

pub(crate) fn addr_from_p2p(a: &libp2p::Multiaddr) -> Multiaddr {
    Multiaddr::try_from(a.to_vec()).expect("a multiaddr is a multiaddr in both versions")
}

pub(crate) fn keypair_to_p2p(
    k: &libp2p_identity::Keypair,
) -> Result<p2p_identity::Keypair, String> {
    let bytes = k
        .to_protobuf_encoding()
        .map_err(|e| format!("cannot encode the private key: {e}"))?;
    p2p_identity::Keypair::from_protobuf_encoding(&bytes)
        .map_err(|e| format!("cannot decode the private key for libp2p: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compat_roundtrips_keys_peers_and_addrs() {
        let k = libp2p_identity::Keypair::generate_ed25519();
        let p = peer_from_p2p(&keypair_to_p2p(&k).unwrap().public().to_peer_id());
        assert_eq!(p, k.public().to_peer_id());
        assert_eq!(peer_from_p2p(&peer_to_p2p(&p)), p);
        let a: Multiaddr = format!("/ip4/127.0.0.1/tcp/9096/p2p/{p}").parse().unwrap();
        assert_eq!(addr_from_p2p(&addr_to_p2p(&a)), a);
        assert_eq!(addr_to_p2p(&a).to_string(), a.to_string());
    }
}
