//! What this peer says about itself: its description (`GET /id`, the `Id` RPC) and its IPFS
//! node's identity, which every status line and the `ping` metric carry.
//!
//! The IPFS identity is asked once and then remembered (a node's id and listen addresses do
//! not change while it runs); a failure is not remembered, so the next call asks again.

use super::Cluster;
use crate::ipfsconn::ConnectorError;
use crate::types::{IpfsId, PeerDescription};

impl Cluster {
    /// The IPFS node's identity (see the module notes).
    pub(super) async fn ipfs_identity(&self) -> Result<IpfsId, ConnectorError> {
        self.ipfs_id
            .get_or_try_init(|| async {
                let id = self.ipfs.id().await?;
                Ok(IpfsId {
                    id: id.id,
                    addresses: id.addresses.unwrap_or_default(),
                    error: String::new(),
                })
            })
            .await
            .cloned()
    }

    /// This peer's description: ids, addresses, members, versions, its IPFS node.
    pub(super) async fn describe(&self) -> PeerDescription {
        let ipfs = self.ipfs_identity().await.unwrap_or_else(|e| IpfsId {
            id: String::new(),
            addresses: Vec::new(),
            error: e.to_string(),
        });
        let members = self.members();
        let mut cluster_peers_addresses = Vec::new();
        if let Some(net) = &self.net
            && let Ok(known) = net.swarm.peer_addresses().await
        {
            for p in members.iter().skip(1) {
                for a in known.get(p).into_iter().flatten() {
                    cluster_peers_addresses.push(format!("{a}/p2p/{p}"));
                }
            }
        }
        PeerDescription {
            id: self.peer.to_base58(),
            addresses: self.settings.addresses.clone(),
            cluster_peers: members.iter().map(|p| p.to_base58()).collect(),
            cluster_peers_addresses,
            version: crate::types::API_VERSION.to_string(),
            commit: String::new(),
            rpc_protocol_version: crate::RPC_PROTOCOL.to_string(),
            error: String::new(),
            ipfs,
            peername: self.settings.peername.clone(),
        }
    }
}
