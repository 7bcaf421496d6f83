//! The seam between raft and the network.
//!
//! The driver hands every outbound raft message to a [`RaftTransport`]; inbound messages come
//! back through [`super::Consensus::step`]. A single-peer cluster uses [`NoTransport`].
//!
//! The multi-peer transport ([`crate::p2p::rpc::SwarmRaftTransport`]) carries messages over the libp2p swarm in our own
//! serde encoding, **not** as protobuf: raft-proto pins protobuf 2.28, whose parser is affected
//! by RUSTSEC-2024-0437 (stack overflow on crafted input, fixed only in protobuf ≥ 3.7.2), so
//! bytes from the network must never reach protobuf 2 parsing. (ConfChange entries inside the
//! log are protobuf-encoded by raft-rs itself; a follower decodes them when applying, so the
//! transport should bound their size and nesting when it converts inbound entries.)

use raft::eraftpb::Message;

/// Delivers raft messages to other peers. Best effort: raft retries what is lost. Called from
/// the driver thread, so it must not block on the network (queue and return).
pub trait RaftTransport: Send + 'static {
    /// Sends each message to its `to` peer.
    fn send(&mut self, msgs: Vec<Message>);
}

#[cfg(test)]
/// The transport of a single-peer cluster: there is nobody to talk to.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTransport;

#[cfg(test)]
impl RaftTransport for NoTransport {
    fn send(&mut self, msgs: Vec<Message>) {
        if !msgs.is_empty() {
            tracing::trace!(n = msgs.len(), "raft messages dropped: no transport");
        }
    }
}
