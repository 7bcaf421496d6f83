//! Decoding of answers from a Go server's JSON. Go writes nil slices and maps as `null` where
//! the shared types expect lists (`addresses` of an unreachable peer, `origins` of a status,
//! `keys` of a GC report); [`FromWire`] reads such `null`s as empty before decoding, so a Go
//! server's answers are accepted where a plain `serde` decode would fail.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::types::{
    AddedOutput, Alert, BandwidthByProtocol, ConnectGraph, GlobalPinInfo, GlobalRepoGc, Metric,
    PeerDescription, Pin, Token, Version,
};

/// Decoding of a shared type from a Go server's JSON, which writes nil lists and maps as `null`.
pub trait FromWire: DeserializeOwned {
    /// Replaces `null`s the Rust type cannot take by empty values.
    fn fix_nulls(_v: &mut Value) {}

    /// Decodes after [`FromWire::fix_nulls`].
    fn from_wire(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let mut v: Value = serde_json::from_slice(bytes)?;
        Self::fix_nulls(&mut v);
        serde_json::from_value(v)
    }
}

fn null_to(v: &mut Value, key: &str, empty: Value) {
    if let Some(o) = v.as_object_mut()
        && let Some(x) = o.get_mut(key)
        && x.is_null()
    {
        *x = empty;
    }
}

impl FromWire for PeerDescription {
    fn fix_nulls(v: &mut Value) {
        for k in ["addresses", "cluster_peers", "cluster_peers_addresses"] {
            null_to(v, k, Value::Array(vec![]));
        }
        null_to(v, "ipfs", Value::Object(Default::default()));
        if let Some(ipfs) = v.get_mut("ipfs") {
            null_to(ipfs, "addresses", Value::Array(vec![]));
        }
    }
}

impl FromWire for GlobalPinInfo {
    fn fix_nulls(v: &mut Value) {
        null_to(v, "origins", Value::Array(vec![]));
        null_to(v, "name", Value::String(String::new()));
        null_to(v, "peer_map", Value::Object(Default::default()));
        if let Some(Value::Object(m)) = v.get_mut("peer_map") {
            for pi in m.values_mut() {
                if let Some(o) = pi.as_object_mut()
                    && o.get("ipfs_peer_addresses").is_some_and(Value::is_null)
                {
                    o.remove("ipfs_peer_addresses");
                }
            }
        }
    }
}

impl FromWire for GlobalRepoGc {
    fn fix_nulls(v: &mut Value) {
        null_to(v, "peer_map", Value::Object(Default::default()));
        if let Some(Value::Object(m)) = v.get_mut("peer_map") {
            for r in m.values_mut() {
                null_to(r, "keys", Value::Array(vec![]));
            }
        }
    }
}

impl FromWire for Pin {}
impl FromWire for AddedOutput {}
impl FromWire for Metric {}
impl FromWire for Version {}
impl FromWire for Alert {}
impl FromWire for ConnectGraph {}
impl FromWire for Token {}
impl FromWire for BandwidthByProtocol {}

/// Lists: a `null` list is empty.
impl<T: FromWire> FromWire for Vec<T> {
    fn fix_nulls(v: &mut Value) {
        if v.is_null() {
            *v = Value::Array(vec![]);
        }
        if let Value::Array(items) = v {
            items.iter_mut().for_each(T::fix_nulls);
        }
    }
}

impl FromWire for String {}
impl FromWire for Value {}
