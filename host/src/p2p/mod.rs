//! The private swarm and everything that crosses it: the libp2p swarm (`swarm`: transport
//! with the cluster secret, identify, ping, the peerstore it alone reads and writes), the
//! cluster RPC protocol (`rpc`: codec, the inbound policy seam, and the raft transport in
//! `rpc::raft`) and the block exchange between peers' embedded nodes (`exchange`).
//!
//! Nothing here knows the REST API or the cluster façade: `p2p` imports no `api` and no
//! `cluster`; the façade hands it an `RpcHandler` to answer inbound calls.

pub mod exchange;
pub mod rpc;
pub mod swarm;
