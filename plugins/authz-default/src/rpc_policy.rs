//! IPFS Cluster's RPC authorization table (`rpc_policy.go`, `DefaultRPCPolicy`, v1.1.6),
//! transcribed whole (55 methods), plus Pinfold's two methods (trusted, as in the host's
//! `rpc::GO_TRUSTED`): `Consensus.Raft` (raft messages; Go uses a libp2p protocol of its own)
//! and `Cluster.Metrics` (metric pulls; Go uses pubsub). Without them a cluster authorized by
//! this plugin could not elect a leader. A method missing from the table is refused, as in Go.

/// Who may call an RPC method remotely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcAccess {
    /// Any connected peer (`RPCOpen`).
    Open,
    /// Trusted peers only (`RPCTrusted`).
    Trusted,
    /// No remote peer (`RPCClosed`); local calls only.
    Closed,
}

use RpcAccess::{Closed, Open, Trusted};

/// `(Service.Method, access)`, sorted by name.
pub const RPC_POLICY: &[(&str, RpcAccess)] = &[
    ("Cluster.Alerts", Closed),
    ("Cluster.BandwidthByProtocol", Closed),
    ("Cluster.BlockAllocate", Closed),
    ("Cluster.ConnectGraph", Closed),
    ("Cluster.ID", Open),
    ("Cluster.IDStream", Open),
    ("Cluster.IPFSID", Closed),
    ("Cluster.Join", Closed),
    ("Cluster.Metrics", Trusted), // Pinfold
    ("Cluster.PeerAdd", Open),
    ("Cluster.PeerRemove", Trusted),
    ("Cluster.Peers", Trusted),
    ("Cluster.PeersWithFilter", Closed),
    ("Cluster.Pin", Closed),
    ("Cluster.PinGet", Closed),
    ("Cluster.PinPath", Closed),
    ("Cluster.Pins", Closed),
    ("Cluster.Recover", Closed),
    ("Cluster.RecoverAll", Closed),
    ("Cluster.RecoverAllLocal", Trusted),
    ("Cluster.RecoverLocal", Trusted),
    ("Cluster.RepoGC", Closed),
    ("Cluster.RepoGCLocal", Trusted),
    ("Cluster.SendInformerMetrics", Closed),
    ("Cluster.SendInformersMetrics", Closed),
    ("Cluster.Status", Closed),
    ("Cluster.StatusAll", Closed),
    ("Cluster.StatusAllLocal", Closed),
    ("Cluster.StatusLocal", Closed),
    ("Cluster.Unpin", Closed),
    ("Cluster.UnpinPath", Closed),
    ("Cluster.Version", Open),
    ("Consensus.AddPeer", Trusted),
    ("Consensus.LogPin", Trusted),
    ("Consensus.LogUnpin", Trusted),
    ("Consensus.Peers", Closed),
    ("Consensus.Raft", Trusted), // Pinfold
    ("Consensus.RmPeer", Trusted),
    ("IPFSConnector.BlockGet", Closed),
    ("IPFSConnector.BlockStream", Trusted),
    ("IPFSConnector.ConfigKey", Closed),
    ("IPFSConnector.Pin", Closed),
    ("IPFSConnector.PinLs", Closed),
    ("IPFSConnector.PinLsCid", Closed),
    ("IPFSConnector.RepoStat", Trusted),
    ("IPFSConnector.Resolve", Closed),
    ("IPFSConnector.SwarmPeers", Trusted),
    ("IPFSConnector.Unpin", Closed),
    ("PeerMonitor.LatestMetrics", Closed),
    ("PeerMonitor.MetricNames", Closed),
    ("PinTracker.PinQueueSize", Closed),
    ("PinTracker.Recover", Trusted),
    ("PinTracker.RecoverAll", Closed),
    ("PinTracker.Status", Trusted),
    ("PinTracker.StatusAll", Trusted),
    ("PinTracker.Track", Closed),
    ("PinTracker.Untrack", Closed),
];

/// The access rule of `Service.Method`; `None` when the method is not in the table.
pub fn rpc_access(operation: &str) -> Option<RpcAccess> {
    RPC_POLICY
        .binary_search_by(|(name, _)| name.cmp(&operation))
        .ok()
        .map(|i| RPC_POLICY[i].1)
}
