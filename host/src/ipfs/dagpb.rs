//! The dag-pb (MerkleDAG protobuf, multicodec 0x70) block codec, written by hand.
//!
//! This module owns the byte-exact encoding of `PBNode`/`PBLink` and a strict decoder for them.
//! Every UnixFS file stem, directory and (non-raw) leaf is a dag-pb block, so the encoder here
//! decides CIDs: one byte of difference and the node no longer matches Kubo.
//!
//! ```text
//! message PBLink { optional bytes Hash = 1; optional string Name = 2; optional uint64 Tsize = 3; }
//! message PBNode { repeated PBLink Links = 2; optional bytes Data = 1; }
//! ```
//!
//! Encoding (canonical, as go-codec-dagpb / boxo write it):
//! - all `Links` come first, then `Data` — field 2 before field 1, the reverse of protobuf's
//!   usual ascending order;
//! - inside a link: `Hash`, then `Name`, then `Tsize`, each only when present. Note that boxo
//!   always writes `Name` and `Tsize`, even for file stems where the name is `""` (`12 00`);
//!   the importer therefore sets `name: Some(String::new())`, and leaving it out changes CIDs;
//! - `Data` is written whenever it is `Some`, even when empty (`0a 00`);
//! - links are written in the order given: sorting directory entries by name is the caller's
//!   job (`unixfs::dir` does it), since file stems must keep their positional order.
//!
//! Decoding is strict, because it runs on untrusted blocks (and is fuzzed): only fields 1 and 2
//! in `PBNode` and 1–3 in `PBLink`, only their declared wire types, no duplicated `Data`, `Hash`,
//! `Name` or `Tsize`, `Hash` required and a complete binary CID with no trailing bytes, `Name`
//! valid UTF-8, varints at most 10 bytes without overflow, lengths within the buffer. It never
//! panics. It does *not* insist on canonical field order: following IPIP-550 (and the current
//! go-codec-dagpb) it accepts `Data` before `Links` and link fields in any order, so `decode` →
//! `encode` canonicalises; a block's CID is always computed over its original bytes anyway.
//! Non-minimal varints are accepted (protobuf allows them), so decode→encode is not guaranteed
//! to reproduce non-canonical input bytes.
//!
//! The varint/field helpers at the bottom are shared with the UnixFS `Data` codec.

use cid::Cid;

/// A link in a dag-pb node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PbLink {
    /// Target of the link.
    pub cid: Cid,
    /// Link name: a directory entry name, `Some("")` in file stems, `None` when absent.
    pub name: Option<String>,
    /// Cumulative size of the target DAG (block bytes of the target and everything below it).
    pub tsize: Option<u64>,
}

/// A dag-pb node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PbNode {
    /// Links, in encoding order.
    pub links: Vec<PbLink>,
    /// Opaque payload; for UnixFS this is an encoded `Data` message.
    pub data: Option<Vec<u8>>,
}

/// Why a dag-pb block could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DagPbError {
    /// The input ended inside a field.
    #[error("protobuf: unexpected end of input")]
    Truncated,
    /// A varint was longer than 10 bytes or overflowed 64 bits.
    #[error("protobuf: varint overflow")]
    VarintOverflow,
    /// A field used a wire type its schema does not allow (or an unknown wire type).
    #[error("protobuf: ({message}) invalid wire type {wire_type} for field {field}")]
    WireType {
        /// `PBNode` or `PBLink`.
        message: &'static str,
        /// Field number.
        field: u64,
        /// Wire type found.
        wire_type: u8,
    },
    /// A field number that dag-pb does not define.
    #[error("protobuf: ({message}) invalid field number {field}")]
    UnknownField {
        /// `PBNode` or `PBLink`.
        message: &'static str,
        /// Field number.
        field: u64,
    },
    /// A singular field appeared twice.
    #[error("protobuf: ({message}) duplicate {field} section")]
    Duplicate {
        /// `PBNode` or `PBLink`.
        message: &'static str,
        /// Field name.
        field: &'static str,
    },
    /// A link without `Hash`.
    #[error("invalid Hash field found in link, expected CID")]
    MissingHash,
    /// A link whose `Hash` is not a binary CID.
    #[error("invalid Hash field found in link, expected CID ({0})")]
    InvalidCid(String),
    /// A link name that is not UTF-8.
    #[error("protobuf: (PBLink) Name is not valid UTF-8")]
    InvalidName,
}

impl PbNode {
    /// Exact length of [`PbNode::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        let links: usize = self
            .links
            .iter()
            .map(|l| {
                let n = l.encoded_len();
                1 + varint_len(n as u64) + n
            })
            .sum();
        links
            + self
                .data
                .as_ref()
                .map_or(0, |d| 1 + varint_len(d.len() as u64) + d.len())
    }

    /// Canonical dag-pb bytes: links (in the given order) first, then data.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        for link in &self.links {
            out.push(0x12);
            put_varint(&mut out, link.encoded_len() as u64);
            link.encode_into(&mut out);
        }
        if let Some(data) = &self.data {
            put_bytes_field(&mut out, 0x0a, data);
        }
        out
    }

    /// Strictly decodes a dag-pb block. Never panics.
    pub fn decode(buf: &[u8]) -> Result<PbNode, DagPbError> {
        let (links, data) = decode_parts(buf)?;
        Ok(PbNode {
            links,
            data: data.map(|r| buf[r].to_vec()),
        })
    }
}

impl PbLink {
    fn encoded_len(&self) -> usize {
        let h = self.cid.encoded_len();
        let mut n = 1 + varint_len(h as u64) + h;
        if let Some(name) = &self.name {
            n += 1 + varint_len(name.len() as u64) + name.len();
        }
        if let Some(t) = self.tsize {
            n += 1 + varint_len(t);
        }
        n
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        let cid = self.cid.to_bytes();
        put_bytes_field(out, 0x0a, &cid);
        if let Some(name) = &self.name {
            put_bytes_field(out, 0x12, name.as_bytes());
        }
        if let Some(t) = self.tsize {
            out.push(0x18);
            put_varint(out, t);
        }
    }
}

/// Decodes a dag-pb block into its links and the byte range of `Data` inside `buf` (so callers
/// holding a `Bytes` can slice the payload without copying).
pub(crate) fn decode_parts(
    buf: &[u8],
) -> Result<(Vec<PbLink>, Option<std::ops::Range<usize>>), DagPbError> {
    const MSG: &str = "PBNode";
    let mut r = WireReader::new(buf);
    let mut links = Vec::new();
    let mut data = None;
    while !r.is_empty() {
        let (field, wire_type) = r.key()?;
        match (field, wire_type) {
            (1, 2) => {
                if data.is_some() {
                    return Err(DagPbError::Duplicate {
                        message: MSG,
                        field: "Data",
                    });
                }
                data = Some(r.bytes_range()?);
            }
            (2, 2) => {
                let range = r.bytes_range()?;
                links.push(decode_link(&buf[range])?);
            }
            (1 | 2, w) => {
                return Err(DagPbError::WireType {
                    message: MSG,
                    field,
                    wire_type: w,
                });
            }
            _ => {
                return Err(DagPbError::UnknownField {
                    message: MSG,
                    field,
                });
            }
        }
    }
    Ok((links, data))
}

fn decode_link(buf: &[u8]) -> Result<PbLink, DagPbError> {
    const MSG: &str = "PBLink";
    let mut r = WireReader::new(buf);
    let mut cid = None;
    let mut name = None;
    let mut tsize = None;
    while !r.is_empty() {
        let (field, wire_type) = r.key()?;
        match (field, wire_type) {
            (1, 2) => {
                if cid.is_some() {
                    return Err(DagPbError::Duplicate {
                        message: MSG,
                        field: "Hash",
                    });
                }
                cid = Some(cid_from_bytes(r.bytes()?)?);
            }
            (2, 2) => {
                if name.is_some() {
                    return Err(DagPbError::Duplicate {
                        message: MSG,
                        field: "Name",
                    });
                }
                let s = std::str::from_utf8(r.bytes()?).map_err(|_| DagPbError::InvalidName)?;
                name = Some(s.to_owned());
            }
            (3, 0) => {
                if tsize.is_some() {
                    return Err(DagPbError::Duplicate {
                        message: MSG,
                        field: "Tsize",
                    });
                }
                tsize = Some(r.varint()?);
            }
            (1..=3, w) => {
                return Err(DagPbError::WireType {
                    message: MSG,
                    field,
                    wire_type: w,
                });
            }
            _ => {
                return Err(DagPbError::UnknownField {
                    message: MSG,
                    field,
                });
            }
        }
    }
    Ok(PbLink {
        cid: cid.ok_or(DagPbError::MissingHash)?,
        name,
        tsize,
    })
}

/// Parses a complete binary CID (no trailing bytes).
fn cid_from_bytes(bytes: &[u8]) -> Result<Cid, DagPbError> {
    let mut rest = bytes;
    let cid = Cid::read_bytes(&mut rest).map_err(|e| DagPbError::InvalidCid(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DagPbError::InvalidCid(format!(
            "{} trailing bytes",
            rest.len()
        )));
    }
    Ok(cid)
}

// ---- protobuf wire helpers (shared with unixfs::data) ----

/// Number of bytes `v` takes as a varint.
pub(crate) fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits; 0 still takes one byte.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends `v` as a protobuf varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Writes `v` as a varint into the front of `buf`, returning the number of bytes used.
/// `buf` must have room for `varint_len(v)` bytes.
pub(crate) fn write_varint(buf: &mut [u8], mut v: u64) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        buf[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    buf[i] = v as u8;
    i + 1
}

/// Appends a length-delimited field: key byte, length, bytes.
pub(crate) fn put_bytes_field(out: &mut Vec<u8>, key: u8, bytes: &[u8]) {
    out.push(key);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Low-level wire errors, converted into each codec's own error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireError {
    Truncated,
    VarintOverflow,
}

impl From<WireError> for DagPbError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Truncated => DagPbError::Truncated,
            WireError::VarintOverflow => DagPbError::VarintOverflow,
        }
    }
}

/// A bounds-checked cursor over protobuf bytes. Every method either advances or errors; none
/// can panic.
pub(crate) struct WireReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> WireReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        WireReader { buf, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn varint(&mut self) -> Result<u64, WireError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = *self.buf.get(self.pos).ok_or(WireError::Truncated)?;
            self.pos += 1;
            // The 10th byte may only contribute the 64th bit.
            if i == 9 && b > 1 {
                return Err(WireError::VarintOverflow);
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(WireError::VarintOverflow)
    }

    /// Reads a field key: (field number, wire type).
    pub(crate) fn key(&mut self) -> Result<(u64, u8), WireError> {
        let k = self.varint()?;
        Ok((k >> 3, (k & 7) as u8))
    }

    /// Reads a length prefix and returns the range of the following bytes in the buffer.
    pub(crate) fn bytes_range(&mut self) -> Result<std::ops::Range<usize>, WireError> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
        let end = self.pos.checked_add(len).ok_or(WireError::Truncated)?;
        if end > self.buf.len() {
            return Err(WireError::Truncated);
        }
        let start = self.pos;
        self.pos = end;
        Ok(start..end)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let r = self.bytes_range()?;
        Ok(&self.buf[r])
    }

    pub(crate) fn fixed32(&mut self) -> Result<u32, WireError> {
        let end = self.pos.checked_add(4).ok_or(WireError::Truncated)?;
        let b = self.buf.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipfs::hash::{HashFn, RAW};
    use proptest::prelude::*;

    fn cid_v0(data: &[u8]) -> Cid {
        Cid::new_v0(HashFn::Sha2_256.digest(data)).unwrap()
    }

    #[test]
    fn varint_lengths() {
        for v in [0u64, 1, 127, 128, 16383, 16384, u64::MAX >> 1, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v), "{v}");
            let mut arr = [0u8; 10];
            assert_eq!(write_varint(&mut arr, v), b.len());
            assert_eq!(&arr[..b.len()], &b[..]);
            assert_eq!(WireReader::new(&b).varint(), Ok(v));
        }
        // 11-byte and overflowing 10-byte varints.
        assert_eq!(
            WireReader::new(&[0xff; 11]).varint(),
            Err(WireError::VarintOverflow)
        );
        let mut over = vec![0xff; 9];
        over.push(0x02);
        assert_eq!(
            WireReader::new(&over).varint(),
            Err(WireError::VarintOverflow)
        );
        assert_eq!(WireReader::new(&[0x80]).varint(), Err(WireError::Truncated));
    }

    #[test]
    fn canonical_layout() {
        let child = cid_v0(b"x");
        let node = PbNode {
            links: vec![PbLink {
                cid: child,
                name: Some(String::new()),
                tsize: Some(300),
            }],
            data: Some(vec![0x08, 0x02]),
        };
        let enc = node.encode();
        assert_eq!(enc.len(), node.encoded_len());
        let mut want = vec![0x12, 34 + 2 + 2 + 3, 0x0a, 34];
        want.extend_from_slice(&child.to_bytes());
        want.extend_from_slice(&[0x12, 0x00, 0x18, 0xac, 0x02, 0x0a, 0x02, 0x08, 0x02]);
        assert_eq!(enc, want);
        assert_eq!(PbNode::decode(&enc).unwrap(), node);
        // Empty-but-present data is kept; absent data is absent.
        assert_eq!(
            PbNode {
                links: vec![],
                data: Some(vec![])
            }
            .encode(),
            vec![0x0a, 0x00]
        );
        assert_eq!(PbNode::default().encode(), Vec::<u8>::new());
        assert_eq!(PbNode::decode(&[]).unwrap(), PbNode::default());
    }

    #[test]
    fn accepts_data_first_ipip_550() {
        // Directory with hello.txt, encoded links-first and data-first (IPIP-550 fixtures).
        let unhex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let links_first = unhex(
            "12330a24015512205891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\
             120968656c6c6f2e74787418060a020801",
        );
        let data_first = unhex(
            "0a02080112330a24015512205891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e8\
             46f6be03120968656c6c6f2e7478741806",
        );
        let a = PbNode::decode(&links_first).unwrap();
        let b = PbNode::decode(&data_first).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.links[0].name.as_deref(), Some("hello.txt"));
        assert_eq!(a.links[0].tsize, Some(6));
        assert_eq!(b.encode(), links_first);
    }

    #[test]
    fn rejects_malformed() {
        let cid = cid_v0(b"x").to_bytes();
        let mut link = vec![0x0a, cid.len() as u8];
        link.extend_from_slice(&cid);
        let wrap = |l: &[u8]| {
            let mut v = vec![0x12, l.len() as u8];
            v.extend_from_slice(l);
            v
        };
        assert!(PbNode::decode(&wrap(&link)).is_ok());
        // duplicate data
        assert_eq!(
            PbNode::decode(&[0x0a, 0x00, 0x0a, 0x00]),
            Err(DagPbError::Duplicate {
                message: "PBNode",
                field: "Data"
            })
        );
        // unknown field 3, wrong wire type for data
        assert!(matches!(
            PbNode::decode(&[0x1a, 0x00]),
            Err(DagPbError::UnknownField { .. })
        ));
        assert!(matches!(
            PbNode::decode(&[0x08, 0x00]),
            Err(DagPbError::WireType { .. })
        ));
        // truncated data
        assert_eq!(
            PbNode::decode(&[0x0a, 0x05, 0x00]),
            Err(DagPbError::Truncated)
        );
        // link without hash
        assert_eq!(
            PbNode::decode(&wrap(&[0x18, 0x01])),
            Err(DagPbError::MissingHash)
        );
        // duplicate hash
        let mut dup = link.clone();
        dup.extend_from_slice(&link);
        assert!(matches!(
            PbNode::decode(&wrap(&dup)),
            Err(DagPbError::Duplicate { .. })
        ));
        // invalid utf-8 name
        let mut bad_name = link.clone();
        bad_name.extend_from_slice(&[0x12, 0x01, 0xff]);
        assert_eq!(
            PbNode::decode(&wrap(&bad_name)),
            Err(DagPbError::InvalidName)
        );
        // Tsize with wrong wire type
        let mut bad_t = link.clone();
        bad_t.extend_from_slice(&[0x1a, 0x00]);
        assert!(matches!(
            PbNode::decode(&wrap(&bad_t)),
            Err(DagPbError::WireType { .. })
        ));
        // invalid CIDs: garbage, trailing bytes, explicit version 0
        assert!(matches!(
            PbNode::decode(&wrap(&[0x0a, 0x02, 0x01, 0x55])),
            Err(DagPbError::InvalidCid(_))
        ));
        let mut trailing = vec![0x0a, cid.len() as u8 + 1];
        trailing.extend_from_slice(&cid);
        trailing.push(0);
        assert!(matches!(
            PbNode::decode(&wrap(&trailing)),
            Err(DagPbError::InvalidCid(_))
        ));
        let mut v0explicit = vec![0x0a, 36, 0x00, 0x70];
        v0explicit.extend_from_slice(&cid);
        assert!(matches!(
            PbNode::decode(&wrap(&v0explicit)),
            Err(DagPbError::InvalidCid(_))
        ));
        // link fields out of order are accepted
        let mut reordered = vec![0x18, 0x07, 0x12, 0x01, b'a'];
        reordered.extend_from_slice(&link);
        let n = PbNode::decode(&wrap(&reordered)).unwrap();
        assert_eq!(n.links[0].tsize, Some(7));
        assert_eq!(n.links[0].name.as_deref(), Some("a"));
    }

    fn arb_cid() -> impl Strategy<Value = Cid> {
        (
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..16),
            0usize..6,
        )
            .prop_map(|(v0, data, h)| {
                let hash = [
                    HashFn::Sha2_256,
                    HashFn::Sha2_512,
                    HashFn::Sha3_256,
                    HashFn::Sha3_512,
                    HashFn::Blake2b256,
                    HashFn::Blake2b512,
                ][h];
                if v0 {
                    cid_v0(&data)
                } else {
                    Cid::new_v1(RAW, hash.digest(&data))
                }
            })
    }

    fn arb_node() -> impl Strategy<Value = PbNode> {
        let link = (
            arb_cid(),
            prop::option::of(".{0,12}"),
            prop::option::of(any::<u64>()),
        )
            .prop_map(|(cid, name, tsize)| PbLink { cid, name, tsize });
        (
            prop::collection::vec(link, 0..6),
            prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
        )
            .prop_map(|(links, data)| PbNode { links, data })
    }

    proptest! {
        #[test]
        fn roundtrip(node in arb_node()) {
            let enc = node.encode();
            prop_assert_eq!(enc.len(), node.encoded_len());
            let dec = PbNode::decode(&enc).unwrap();
            prop_assert_eq!(&dec, &node);
            prop_assert_eq!(dec.encode(), enc);
        }

        #[test]
        fn decode_arbitrary_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = PbNode::decode(&bytes);
        }

        #[test]
        fn decode_mutated_never_panics(node in arb_node(), idx in any::<usize>(), val in any::<u8>(), cut in any::<usize>()) {
            let mut enc = node.encode();
            if !enc.is_empty() {
                let i = idx % enc.len();
                enc[i] = val;
                enc.truncate(cut % (enc.len() + 1));
            }
            if let Ok(n) = PbNode::decode(&enc) {
                // Whatever decodes must re-encode to something that decodes to the same node.
                prop_assert_eq!(PbNode::decode(&n.encode()).unwrap(), n);
            }
        }
    }
}
