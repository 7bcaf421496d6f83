//! Reading `service.json` values with IPFS Cluster's leniencies and Pinfold's error messages,
//! and writing them the way Go writes them.
//!
//! Reading goes through [`Obj`], a cursor over one JSON object that knows its key path
//! (`api.restapi`). Each section reads the keys it knows into a struct that already holds the
//! defaults, so a key that is **absent or `null` keeps its default** (Go instead zeroes several
//! bools and maps; see `service.rs`). A value of the wrong type or out of range fails with
//! `<path>.<key>: <reason>`. Keys nobody asked for are returned as warnings by
//! [`Obj::finish`], never errors: configs written for newer or older IPFS Cluster versions
//! (e.g. `replication_factor`, `monbasic`) still load.
//!
//! Go leniencies kept: an empty duration string keeps the default (Go's `ParseDurations`); an
//! address list may be one string or a list (Go's `config.Strings`); an empty single multiaddr
//! string keeps the default.
//!
//! Writing uses serde derives (field order = Go's struct order, `BTreeMap` = Go's sorted maps)
//! plus the helpers of [`ser`]: address lists in Go's `config.Strings` shape (one element is
//! written as a plain string), multiaddrs and peer IDs as strings.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use libp2p_identity::PeerId;
use multiaddr::Multiaddr;
use serde_json::{Map, Value};

use super::error::ConfigError;
use crate::gocompat::duration;

/// A cursor over one JSON object of the configuration.
pub(crate) struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
    seen: BTreeSet<&'a str>,
}

impl<'a> Obj<'a> {
    /// `v` must be an object.
    pub fn new(path: impl Into<String>, v: &'a Value) -> Result<Obj<'a>, ConfigError> {
        let path = path.into();
        match v {
            Value::Object(map) => Ok(Obj {
                path,
                map,
                seen: BTreeSet::new(),
            }),
            other => Err(ConfigError::invalid(
                if path.is_empty() {
                    "(top level)".to_string()
                } else {
                    path
                },
                format!("must be a JSON object, found {}", kind(other)),
            )),
        }
    }

    pub fn key(&self, k: &str) -> String {
        if self.path.is_empty() {
            k.to_string()
        } else {
            format!("{}.{k}", self.path)
        }
    }

    /// The value of `k` (marking it as known), `None` if absent. `null` is returned as is.
    pub fn raw(&mut self, k: &str) -> Option<&'a Value> {
        let (key, v) = self.map.get_key_value(k)?;
        self.seen.insert(key.as_str());
        Some(v)
    }

    /// The value of `k` (marking it as known), `None` if absent or `null`.
    pub fn value(&mut self, k: &str) -> Option<&'a Value> {
        self.raw(k).filter(|v| !v.is_null())
    }

    /// Marks `k` as known without reading it (legacy keys).
    pub fn ignore(&mut self, k: &str) {
        self.raw(k);
    }

    /// Reads `k` into `dst`; absent, `null` (or the type's "keep default" marker) leaves `dst`.
    pub fn read<T: FromJson>(&mut self, k: &str, dst: &mut T) -> Result<(), ConfigError> {
        if let Some(v) = self.value(k) {
            if T::keeps_default(v) {
                return Ok(());
            }
            *dst = T::from_json(v).map_err(|reason| ConfigError::invalid(self.key(k), reason))?;
        }
        Ok(())
    }

    /// Like [`Obj::read`], but a value of zero also keeps the default (Go's `SetIfNotDefault`).
    pub fn read_nonzero<T: FromJson + Default + PartialEq>(
        &mut self,
        k: &str,
        dst: &mut T,
    ) -> Result<(), ConfigError> {
        let mut tmp = T::default();
        self.read(k, &mut tmp)?;
        if tmp != T::default() {
            *dst = tmp;
        }
        Ok(())
    }

    /// Reads an optional value: absent keeps `dst`, `null` sets `None`.
    pub fn read_opt<T: FromJson>(
        &mut self,
        k: &str,
        dst: &mut Option<T>,
    ) -> Result<(), ConfigError> {
        match self.raw(k) {
            None => Ok(()),
            Some(Value::Null) => {
                *dst = None;
                Ok(())
            }
            Some(v) => {
                *dst = Some(T::from_json(v).map_err(|r| ConfigError::invalid(self.key(k), r))?);
                Ok(())
            }
        }
    }

    /// A nested object, `None` if absent or `null`.
    pub fn sub(&mut self, k: &str) -> Result<Option<Obj<'a>>, ConfigError> {
        let key = self.key(k);
        self.value(k).map(|v| Obj::new(key, v)).transpose()
    }

    /// Appends a warning for every key that was not read.
    pub fn finish(self, warnings: &mut Vec<String>) {
        for k in self.map.keys() {
            if !self.seen.contains(k.as_str()) {
                let full = if self.path.is_empty() {
                    k.clone()
                } else {
                    format!("{}.{k}", self.path)
                };
                warnings.push(format!("unknown configuration key {full} ignored"));
            }
        }
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A type readable from one JSON value of `service.json`.
pub(crate) trait FromJson: Sized {
    fn from_json(v: &Value) -> Result<Self, String>;
    /// Values that mean "keep the default" (Go's empty duration strings).
    fn keeps_default(_v: &Value) -> bool {
        false
    }
}

fn expected(what: &str, v: &Value) -> String {
    format!("expected {what}, found {} ({v})", kind(v))
}

impl FromJson for bool {
    fn from_json(v: &Value) -> Result<bool, String> {
        v.as_bool().ok_or_else(|| expected("true or false", v))
    }
}

impl FromJson for String {
    fn from_json(v: &Value) -> Result<String, String> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| expected("a string", v))
    }
}

impl FromJson for f64 {
    fn from_json(v: &Value) -> Result<f64, String> {
        v.as_f64().ok_or_else(|| expected("a number", v))
    }
}

macro_rules! from_json_int {
    ($($t:ty),*) => {$(
        impl FromJson for $t {
            fn from_json(v: &Value) -> Result<$t, String> {
                let n = v.as_i64().map(i128::from).or_else(|| v.as_u64().map(i128::from));
                match n {
                    Some(n) => <$t>::try_from(n).map_err(|_| {
                        if n < 0 {
                            format!("{n} is invalid (must not be negative)")
                        } else {
                            format!("{n} is out of range")
                        }
                    }),
                    None => Err(expected("an integer", v)),
                }
            }
        }
    )*};
}
from_json_int!(i32, u32, u64, usize);

impl FromJson for Duration {
    fn from_json(v: &Value) -> Result<Duration, String> {
        let s = v
            .as_str()
            .ok_or_else(|| expected("a duration string such as \"30s\"", v))?;
        duration::parse(s).map_err(|e| e.to_string())
    }
    fn keeps_default(v: &Value) -> bool {
        v.as_str() == Some("")
    }
}

impl FromJson for Multiaddr {
    fn from_json(v: &Value) -> Result<Multiaddr, String> {
        let s = v
            .as_str()
            .ok_or_else(|| expected("a multiaddress string", v))?;
        parse_multiaddr(s)
    }
    fn keeps_default(v: &Value) -> bool {
        v.as_str() == Some("")
    }
}

pub(crate) fn parse_multiaddr(s: &str) -> Result<Multiaddr, String> {
    s.trim()
        .parse::<Multiaddr>()
        .map_err(|e| format!("invalid multiaddress {s:?}: {e}"))
}

/// A list of multiaddresses, written either as one string or as a list (Go's `config.Strings`).
impl FromJson for Vec<Multiaddr> {
    fn from_json(v: &Value) -> Result<Vec<Multiaddr>, String> {
        strings(v)?.iter().map(|s| parse_multiaddr(s)).collect()
    }
}

impl FromJson for Vec<String> {
    fn from_json(v: &Value) -> Result<Vec<String>, String> {
        strings(v)
    }
}

fn strings(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) if s.is_empty() => Ok(vec![]),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("[{i}]: {}", expected("a string", item)))
            })
            .collect(),
        other => Err(expected("a string or a list of strings", other)),
    }
}

impl FromJson for PeerId {
    fn from_json(v: &Value) -> Result<PeerId, String> {
        let s = v.as_str().ok_or_else(|| expected("a peer ID string", v))?;
        parse_peer_id(s)
    }
}

pub(crate) fn parse_peer_id(s: &str) -> Result<PeerId, String> {
    s.trim()
        .parse::<PeerId>()
        .map_err(|e| format!("invalid peer ID {s:?}: {e}"))
}

impl FromJson for Vec<PeerId> {
    fn from_json(v: &Value) -> Result<Vec<PeerId>, String> {
        strings(v)?
            .iter()
            .enumerate()
            .map(|(i, s)| parse_peer_id(s).map_err(|e| format!("[{i}]: {e}")))
            .collect()
    }
}

impl FromJson for BTreeMap<String, String> {
    fn from_json(v: &Value) -> Result<BTreeMap<String, String>, String> {
        let map = v
            .as_object()
            .ok_or_else(|| expected("an object of strings", v))?;
        map.iter()
            .map(|(k, val)| {
                val.as_str()
                    .map(|s| (k.clone(), s.to_string()))
                    .ok_or_else(|| format!("{k}: {}", expected("a string", val)))
            })
            .collect()
    }
}

impl FromJson for BTreeMap<String, Vec<String>> {
    fn from_json(v: &Value) -> Result<BTreeMap<String, Vec<String>>, String> {
        let map = v
            .as_object()
            .ok_or_else(|| expected("an object of string lists", v))?;
        map.iter()
            .map(|(k, val)| {
                strings(val)
                    .map(|l| (k.clone(), l))
                    .map_err(|e| format!("{k}: {e}"))
            })
            .collect()
    }
}

/// Serializers producing Go's JSON shapes.
pub(crate) mod ser {
    use super::*;
    use serde::Serializer;
    use serde::ser::SerializeSeq;

    /// Go's `config.Strings`: `[]` for none, a plain string for one, a list for several.
    pub fn maddrs_strings<S: Serializer>(v: &[Multiaddr], s: S) -> Result<S::Ok, S::Error> {
        if v.len() == 1 {
            return s.serialize_str(&v[0].to_string());
        }
        maddrs_list(v, s)
    }

    /// Always a list (Go's `[]string`).
    pub fn maddrs_list<S: Serializer>(v: &[Multiaddr], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for a in v {
            seq.serialize_element(&a.to_string())?;
        }
        seq.end()
    }

    pub fn maddr<S: Serializer>(v: &Multiaddr, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn peers<S: Serializer>(v: &[PeerId], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for p in v {
            seq.serialize_element(&p.to_string())?;
        }
        seq.end()
    }

    pub fn opt_peer<S: Serializer>(v: &Option<PeerId>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(p) => s.serialize_str(&p.to_string()),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reader_keeps_defaults_and_reports_unknown_keys() {
        let v = json!({"a": true, "d": "", "n": null, "x": 1, "m": "/ip4/1.2.3.4/tcp/1"});
        let mut o = Obj::new("sec", &v).unwrap();
        let (mut a, mut d, mut n, mut m) =
            (false, Duration::from_secs(5), 7u32, Vec::<Multiaddr>::new());
        o.read("a", &mut a).unwrap();
        o.read("d", &mut d).unwrap();
        o.read("n", &mut n).unwrap();
        o.read("m", &mut m).unwrap();
        let mut missing = 3i32;
        o.read("missing", &mut missing).unwrap();
        let mut w = vec![];
        o.finish(&mut w);
        assert!(a);
        assert_eq!(d, Duration::from_secs(5));
        assert_eq!(n, 7);
        assert_eq!(missing, 3);
        assert_eq!(m.len(), 1);
        assert_eq!(
            w,
            vec!["unknown configuration key sec.x ignored".to_string()]
        );
    }

    #[test]
    fn reader_errors_name_the_key() {
        let v = json!({"t": "2x", "u": -1, "b": "yes", "l": [1]});
        let mut o = Obj::new("s.sub", &v).unwrap();
        let mut d = Duration::ZERO;
        let e = o.read("t", &mut d).unwrap_err().to_string();
        assert_eq!(e, "s.sub.t: time: unknown unit \"x\" in duration \"2x\"");
        let e = o.read("u", &mut 0u32).unwrap_err().to_string();
        assert!(e.starts_with("s.sub.u: -1 is invalid"), "{e}");
        let e = o.read("b", &mut false).unwrap_err().to_string();
        assert!(e.starts_with("s.sub.b: expected true or false"), "{e}");
        let e = o
            .read("l", &mut Vec::<String>::new())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.sub.l: [0]: expected a string"), "{e}");
        assert!(Obj::new("top", &json!(3)).is_err());
    }
}
