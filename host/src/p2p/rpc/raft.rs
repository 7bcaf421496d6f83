//! Raft over the swarm: our own serde mirror of raft-rs's `eraftpb::Message`, and a
//! [`RaftTransport`] that carries batches of them as `Consensus.Raft` RPC calls.
//!
//! # Why a mirror
//! raft-proto pins protobuf 2.28, whose parser is affected by RUSTSEC-2024-0437 (stack overflow
//! on crafted input). Bytes from the network must never reach it, so messages travel as
//! [`RaftMessage`] (CBOR through serde, like every RPC) and are converted field by field. Enum
//! fields travel as their protobuf numbers and are checked on the way in; an unknown number
//! fails the conversion. Entry payloads (`data`, `context`) are opaque bytes here: our entries
//! carry JSON ops; ConfChange entries are protobuf-encoded by raft-rs itself and decoded by the
//! follower when applied — they come only from the leader, whose identity the noise handshake
//! proved, and the request size bound ([`super::MAX_REQUEST_BYTES`]) bounds them.
//!
//! # Sending
//! [`SwarmRaftTransport::send`] runs on the raft driver thread and must not block: it groups
//! the messages by destination, looks each node id up in [`RaftPeers`] (node id → PeerId, kept
//! by membership: every peer that joins is inserted, see `consensus::node_id`) and queues one
//! fire-and-forget call per destination on the swarm ([`SwarmHandle::notify`]), split so that
//! one call carries at most about [`BATCH_BYTES`] of payload (a snapshot message goes alone).
//! A message larger than [`INLINE_BYTES`] (a snapshot of a big pinset) goes instead on its own
//! stream, protocol [`SNAPSHOT_PROTOCOL`]: an 8-byte big-endian length, then the message's
//! CBOR, up to [`MAX_SNAPSHOT_BYTES`] ([`serve_snapshots`] receives them, two at a time;
//! raft-rs hands a snapshot over whole, so it is in memory on both sides anyway, but it no
//! longer has to fit an RPC request, and it does not hold up the RPC streams). Unknown ids
//! and a full queue drop messages: raft retransmits (heartbeats, append retries), so a drop
//! costs latency, not safety. Calls run on separate streams, so two batches to the same peer may
//! arrive out of order; raft tolerates reordering (stale appends are rejected and retried).
//!
//! # Receiving
//! [`deliver`] converts an inbound batch and steps it into the local [`Consensus`]. Every
//! message's `from` must be the caller's node id: a peer cannot speak for another.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use protobuf::ProtobufEnum;
use raft::eraftpb::{
    ConfState, Entry, EntryType, Message, MessageType, Snapshot, SnapshotMetadata,
};
use serde::{Deserialize, Serialize};

use futures::{AsyncReadExt, AsyncWriteExt};

use super::{RpcError, RpcRequest};
use crate::consensus::{Consensus, RaftTransport, node_id};
use crate::p2p::swarm::SwarmHandle;
use libp2p_identity::PeerId;

/// A raft log entry on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftEntry {
    pub entry_type: i32,
    pub term: u64,
    pub index: u64,
    #[serde(with = "serde_bytes_vec")]
    pub data: Vec<u8>,
    #[serde(with = "serde_bytes_vec")]
    pub context: Vec<u8>,
}

/// A snapshot on the wire: metadata plus the data raft-rs carries (our snapshot data is the
/// snapshot file's content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftSnapshot {
    #[serde(with = "serde_bytes_vec")]
    pub data: Vec<u8>,
    pub index: u64,
    pub term: u64,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    #[serde(default)]
    pub voters_outgoing: Vec<u64>,
    #[serde(default)]
    pub learners_next: Vec<u64>,
    #[serde(default)]
    pub auto_leave: bool,
}

/// A raft message on the wire (the fields of `eraftpb::Message` raft-rs 0.7 uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftMessage {
    pub msg_type: i32,
    pub to: u64,
    pub from: u64,
    pub term: u64,
    pub log_term: u64,
    pub index: u64,
    pub entries: Vec<RaftEntry>,
    pub commit: u64,
    pub commit_term: u64,
    pub snapshot: Option<RaftSnapshot>,
    pub request_snapshot: u64,
    pub reject: bool,
    pub reject_hint: u64,
    #[serde(with = "serde_bytes_vec")]
    pub context: Vec<u8>,
    pub priority: i64,
}

/// `Vec<u8>` as a CBOR byte string rather than an array of numbers.
mod serde_bytes_vec {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_bytes(V)
    }
}

impl From<&Entry> for RaftEntry {
    fn from(e: &Entry) -> Self {
        RaftEntry {
            entry_type: e.entry_type.value(),
            term: e.term,
            index: e.index,
            data: e.data.to_vec(),
            context: e.context.to_vec(),
        }
    }
}

/// Why a raft message could not cross the wire.
#[derive(Debug, thiserror::Error)]
pub enum RaftWireError {
    #[error("unknown raft entry type {0}")]
    UnknownEntryType(i32),
    #[error("unknown raft message type {0}")]
    UnknownMessageType(i32),
    #[error("a {len}-byte raft message exceeds the {max}-byte limit")]
    TooLarge { len: u64, max: u64 },
    #[error("raft message stream: {0}")]
    Io(#[from] std::io::Error),
    #[error("raft message encoding: {0}")]
    Encode(#[from] serde_ipld_dagcbor::EncodeError<std::collections::TryReserveError>),
    #[error("raft message decoding: {0}")]
    Decode(#[from] serde_ipld_dagcbor::DecodeError<std::convert::Infallible>),
    #[error("opening a raft stream: {0}")]
    Stream(#[from] crate::p2p::swarm::StreamError),
}

impl TryFrom<RaftEntry> for Entry {
    type Error = RaftWireError;
    fn try_from(e: RaftEntry) -> Result<Entry, RaftWireError> {
        Ok(Entry {
            entry_type: EntryType::from_i32(e.entry_type)
                .ok_or(RaftWireError::UnknownEntryType(e.entry_type))?,
            term: e.term,
            index: e.index,
            data: Bytes::from(e.data),
            context: Bytes::from(e.context),
            ..Default::default()
        })
    }
}

impl From<&Snapshot> for RaftSnapshot {
    fn from(s: &Snapshot) -> Self {
        let md = s.get_metadata();
        let cs = md.get_conf_state();
        RaftSnapshot {
            data: s.data.to_vec(),
            index: md.index,
            term: md.term,
            voters: cs.voters.clone(),
            learners: cs.learners.clone(),
            voters_outgoing: cs.voters_outgoing.clone(),
            learners_next: cs.learners_next.clone(),
            auto_leave: cs.auto_leave,
        }
    }
}

impl From<RaftSnapshot> for Snapshot {
    fn from(s: RaftSnapshot) -> Snapshot {
        let cs = ConfState {
            voters: s.voters,
            learners: s.learners,
            voters_outgoing: s.voters_outgoing,
            learners_next: s.learners_next,
            auto_leave: s.auto_leave,
            ..Default::default()
        };
        let mut md = SnapshotMetadata {
            index: s.index,
            term: s.term,
            ..Default::default()
        };
        md.set_conf_state(cs);
        let mut out = Snapshot {
            data: Bytes::from(s.data),
            ..Default::default()
        };
        out.set_metadata(md);
        out
    }
}

impl From<&Message> for RaftMessage {
    fn from(m: &Message) -> Self {
        RaftMessage {
            msg_type: m.msg_type.value(),
            to: m.to,
            from: m.from,
            term: m.term,
            log_term: m.log_term,
            index: m.index,
            entries: m.entries.iter().map(RaftEntry::from).collect(),
            commit: m.commit,
            commit_term: m.commit_term,
            snapshot: m
                .has_snapshot()
                .then(|| RaftSnapshot::from(m.get_snapshot())),
            request_snapshot: m.request_snapshot,
            reject: m.reject,
            reject_hint: m.reject_hint,
            context: m.context.to_vec(),
            priority: m.priority,
        }
    }
}

impl TryFrom<RaftMessage> for Message {
    type Error = RaftWireError;
    fn try_from(m: RaftMessage) -> Result<Message, RaftWireError> {
        let mut out = Message {
            msg_type: MessageType::from_i32(m.msg_type)
                .ok_or(RaftWireError::UnknownMessageType(m.msg_type))?,
            to: m.to,
            from: m.from,
            term: m.term,
            log_term: m.log_term,
            index: m.index,
            entries: m
                .entries
                .into_iter()
                .map(Entry::try_from)
                .collect::<Result<Vec<_>, _>>()?
                .into(),
            commit: m.commit,
            commit_term: m.commit_term,
            request_snapshot: m.request_snapshot,
            reject: m.reject,
            reject_hint: m.reject_hint,
            context: Bytes::from(m.context),
            priority: m.priority,
            ..Default::default()
        };
        if let Some(s) = m.snapshot {
            out.set_snapshot(Snapshot::from(s));
        }
        Ok(out)
    }
}

/// The node id → PeerId table raft needs to address messages. Shared between the transport
/// (reads) and membership (writes).
#[derive(Debug, Clone, Default)]
pub struct RaftPeers(Arc<RwLock<HashMap<u64, PeerId>>>);

impl RaftPeers {
    /// A table holding `peers`.
    pub fn new(peers: impl IntoIterator<Item = PeerId>) -> RaftPeers {
        let t = RaftPeers::default();
        for p in peers {
            t.insert(p);
        }
        t
    }

    /// Adds `peer`; returns its node id.
    pub fn insert(&self, peer: PeerId) -> u64 {
        let id = node_id(&peer);
        self.0.write().expect("lock").insert(id, peer);
        id
    }

    /// The peer of a node id.
    pub fn get(&self, id: u64) -> Option<PeerId> {
        self.0.read().expect("lock").get(&id).copied()
    }
}

/// A [`RaftTransport`] over the swarm.
#[derive(Debug, Clone)]
pub struct SwarmRaftTransport {
    swarm: SwarmHandle,
    peers: RaftPeers,
    /// Where large messages are streamed from (the driver thread has no runtime of its own).
    runtime: Option<tokio::runtime::Handle>,
}

impl SwarmRaftTransport {
    /// Call from within the tokio runtime that should carry large messages.
    pub fn new(swarm: SwarmHandle, peers: RaftPeers) -> SwarmRaftTransport {
        SwarmRaftTransport {
            swarm,
            peers,
            runtime: tokio::runtime::Handle::try_current().ok(),
        }
    }

    /// Streams one large message to `peer` (see the module notes).
    fn send_large(&self, peer: PeerId, message: RaftMessage) {
        let Some(rt) = &self.runtime else {
            tracing::warn!(%peer, "raft: large message dropped: no runtime to stream it");
            return;
        };
        let streams = self.swarm.streams();
        rt.spawn(async move {
            let size = message.approx_size();
            let sent = async {
                let mut stream = streams.open(peer, SNAPSHOT_PROTOCOL).await?;
                write_message(&mut stream, &message).await
            };
            match sent.await {
                Ok(()) => tracing::info!(%peer, bytes = size, "raft: large message streamed"),
                Err(e) => tracing::warn!(%peer, "raft: streaming a large message failed: {e}"),
            }
        });
    }
}

/// Protocol of raft messages too large for one RPC call (snapshots of big pinsets).
pub const SNAPSHOT_PROTOCOL: &str = "/pinfold/raft-snapshot/0.1.0";
/// Messages above this size travel on their own stream.
pub const INLINE_BYTES: usize = 8 << 20;
/// Largest message accepted on a snapshot stream.
pub const MAX_SNAPSHOT_BYTES: u64 = 1 << 30;

/// Writes `message` as a length-prefixed CBOR frame and closes the writing side.
pub async fn write_message<W: futures::AsyncWrite + Unpin>(
    w: &mut W,
    message: &RaftMessage,
) -> Result<(), RaftWireError> {
    let body = serde_ipld_dagcbor::to_vec(message)?;
    w.write_all(&(body.len() as u64).to_be_bytes()).await?;
    w.write_all(&body).await?;
    Ok(w.close().await?)
}

/// Reads one frame written by [`write_message`], refusing frames over `max` bytes before
/// reading them.
pub async fn read_message<R: futures::AsyncRead + Unpin>(
    r: &mut R,
    max: u64,
) -> Result<RaftMessage, RaftWireError> {
    let mut len = [0u8; 8];
    r.read_exact(&mut len).await?;
    let len = u64::from_be_bytes(len);
    if len > max {
        return Err(RaftWireError::TooLarge { len, max });
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body).await?;
    Ok(serde_ipld_dagcbor::from_slice(&body)?)
}

/// Receives large raft messages ([`SNAPSHOT_PROTOCOL`]) and steps them into `consensus`
/// (two at a time; more are refused and raft sends them again). Runs until the swarm stops.
pub fn serve_snapshots(
    streams: &crate::p2p::swarm::Streams,
    consensus: Arc<Consensus>,
) -> Result<(), crate::p2p::swarm::StreamError> {
    let mut incoming = streams.accept(SNAPSHOT_PROTOCOL)?;
    let busy = Arc::new(tokio::sync::Semaphore::new(2));
    tokio::spawn(async move {
        while let Some((peer, mut stream)) = incoming.next().await {
            let Ok(permit) = busy.clone().try_acquire_owned() else {
                tracing::debug!(%peer, "raft: large message refused: two already in progress");
                continue;
            };
            let consensus = consensus.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let delivered = read_message(&mut stream, MAX_SNAPSHOT_BYTES)
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|m| deliver(&consensus, &peer, vec![m]).map_err(|e| e.to_string()));
                if let Err(e) = delivered {
                    tracing::warn!(%peer, "raft: large message refused: {e}");
                }
            });
        }
    });
    Ok(())
}

/// Payload bytes one `Consensus.Raft` call carries at most (unless one message is larger).
pub const BATCH_BYTES: usize = 4 << 20;

impl RaftMessage {
    /// The payload size, roughly (fixed fields counted as 64 bytes a message or entry).
    pub fn approx_size(&self) -> usize {
        64 + self.context.len()
            + self
                .entries
                .iter()
                .map(|e| 64 + e.data.len() + e.context.len())
                .sum::<usize>()
            + self.snapshot.as_ref().map_or(0, |s| {
                64 + s.data.len() + 8 * (s.voters.len() + s.learners.len())
            })
    }
}

/// Splits one destination's messages into batches of at most [`BATCH_BYTES`] (in order).
pub fn batches(messages: Vec<RaftMessage>) -> Vec<Vec<RaftMessage>> {
    let mut out: Vec<Vec<RaftMessage>> = vec![];
    let mut size = 0;
    for m in messages {
        let n = m.approx_size();
        match out.last_mut() {
            Some(b) if size + n <= BATCH_BYTES => {
                size += n;
                b.push(m);
            }
            _ => {
                size = n;
                out.push(vec![m]);
            }
        }
    }
    out
}

impl RaftTransport for SwarmRaftTransport {
    fn send(&mut self, msgs: Vec<Message>) {
        let mut by_peer: HashMap<u64, Vec<RaftMessage>> = HashMap::new();
        for m in &msgs {
            by_peer.entry(m.to).or_default().push(RaftMessage::from(m));
        }
        for (to, mut messages) in by_peer {
            let Some(peer) = self.peers.get(to) else {
                tracing::debug!(to, n = messages.len(), "raft: no peer for node id; dropped");
                continue;
            };
            let (large, small): (Vec<_>, Vec<_>) = messages
                .drain(..)
                .partition(|m| m.approx_size() > INLINE_BYTES);
            for m in large {
                self.send_large(peer, m);
            }
            let messages = small;
            for messages in batches(messages) {
                if let Err(e) = self.swarm.notify(peer, RpcRequest::Raft { messages }) {
                    tracing::debug!(%peer, "raft: message batch dropped: {e}");
                }
            }
        }
    }
}

/// Steps an inbound batch from `caller` into `consensus`. Refuses messages that claim to come
/// from another node.
pub fn deliver(
    consensus: &Consensus,
    caller: &PeerId,
    messages: Vec<RaftMessage>,
) -> Result<(), RpcError> {
    let from = node_id(caller);
    for m in messages {
        if m.from != from {
            return Err(RpcError::Invalid(format!(
                "raft message from node {} sent by {caller} (node {from})",
                m.from
            )));
        }
        if m.to != consensus.id() {
            return Err(RpcError::Invalid(format!(
                "raft message for node {} delivered to node {}",
                m.to,
                consensus.id()
            )));
        }
        let msg = Message::try_from(m).map_err(|e| RpcError::Invalid(e.to_string()))?;
        consensus
            .step(msg)
            .map_err(|e| RpcError::Failed(e.to_string()))?;
    }
    Ok(())
}
