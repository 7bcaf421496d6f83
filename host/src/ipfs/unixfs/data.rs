//! The UnixFS `Data` message: what a dag-pb node's `Data` bytes mean to UnixFS.
//!
//! ```text
//! message Data {
//!   required DataType Type = 1;   // Raw=0 Directory=1 File=2 Metadata=3 Symlink=4 HAMTShard=5
//!   optional bytes  Data = 2;      optional uint64 filesize = 3;
//!   repeated uint64 blocksizes = 4;  // NOT packed
//!   optional uint64 hashType = 5;  optional uint64 fanout = 6;
//!   optional uint32 mode = 7;      optional UnixTime mtime = 8;
//! }
//! message UnixTime { required int64 Seconds = 1; optional fixed32 FractionalNanoseconds = 2; }
//! ```
//!
//! This module owns the byte-exact encoding (fields in ascending number order, each optional
//! field only when `Some`, `blocksizes` as one unpacked `0x20 <varint>` per entry — exactly what
//! Go's protobuf runtime emits for boxo, so CIDs match Kubo), a strict decoder, and
//! [`Metadata`], the optional POSIX mode/mtime ("UnixFS 1.5") an import may attach to a file or
//! directory root.
//!
//! Decoding is strict because it runs on untrusted blocks (and is fuzzed); it never panics and
//! rejects: unknown field numbers, wrong wire types, duplicated singular fields, a missing or
//! unknown `Type`, `mode` above `u32::MAX`, and an `mtime` without `Seconds`. Two leniencies,
//! both legal protobuf: `blocksizes` is also accepted in packed form (some non-Go encoders
//! write it that way), and non-minimal varints are accepted. Field *values* are not
//! range-checked (e.g. nanoseconds above 999 999 999, or extended mode bits), mirroring boxo,
//! which stores them and only ignores nonsense when interpreting them; consistency between
//! `filesize`, `blocksizes` and links is checked by the reader, where it matters.
//!
//! Trade-off: rejecting unknown fields is stricter than Go's protobuf (which skips them). No
//! UnixFS writer we know of emits extra fields, and strictness keeps decode→encode lossless.

use crate::ipfs::dagpb::{WireError, WireReader, put_bytes_field, put_varint, varint_len};

/// UnixFS node type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    /// A leaf holding file bytes (the trickle layout's leaves, `ipfs object` era nodes).
    Raw = 0,
    /// A plain directory: links are the entries.
    Directory = 1,
    /// A file node: leaf (with `Data`) or stem (with `blocksizes`).
    File = 2,
    /// Legacy metadata wrapper (first link is the content).
    Metadata = 3,
    /// Symbolic link; `Data` is the target.
    Symlink = 4,
    /// A HAMT-sharded directory node.
    HAMTShard = 5,
}

impl DataType {
    /// The type with this protobuf enum value.
    pub fn from_u64(v: u64) -> Option<DataType> {
        Some(match v {
            0 => DataType::Raw,
            1 => DataType::Directory,
            2 => DataType::File,
            3 => DataType::Metadata,
            4 => DataType::Symlink,
            5 => DataType::HAMTShard,
            _ => return None,
        })
    }

    /// Go's name for the type, as used in Kubo error messages.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Raw => "Raw",
            DataType::Directory => "Directory",
            DataType::File => "File",
            DataType::Metadata => "Metadata",
            DataType::Symlink => "Symlink",
            DataType::HAMTShard => "HAMTShard",
        }
    }
}

/// A UnixFS modification time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UnixTime {
    /// Seconds relative to the Unix epoch.
    pub seconds: i64,
    /// Sub-second part, written only when `Some`.
    pub fractional_nanoseconds: Option<u32>,
}

/// A decoded (or to-be-encoded) UnixFS `Data` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixFsData {
    /// Node type.
    pub data_type: DataType,
    /// Inline bytes (file leaf data, symlink target, HAMT bitfield).
    pub data: Option<Vec<u8>>,
    /// Total file bytes under this node.
    pub filesize: Option<u64>,
    /// File bytes under each link, in link order.
    pub blocksizes: Vec<u64>,
    /// HAMT hash function (0x22 = murmur3-x64-64).
    pub hash_type: Option<u64>,
    /// HAMT fanout.
    pub fanout: Option<u64>,
    /// POSIX permission bits (lower 12) plus optional extended bits.
    pub mode: Option<u32>,
    /// Modification time.
    pub mtime: Option<UnixTime>,
}

/// Why a UnixFS `Data` message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnixFsDataError {
    /// Input ended inside a field.
    #[error("unixfs: unexpected end of input")]
    Truncated,
    /// Varint too long or overflowing.
    #[error("unixfs: varint overflow")]
    VarintOverflow,
    /// Unknown field number or wrong wire type.
    #[error("unixfs: ({message}) unexpected field {field} with wire type {wire_type}")]
    UnexpectedField {
        /// `Data` or `UnixTime`.
        message: &'static str,
        /// Field number.
        field: u64,
        /// Wire type.
        wire_type: u8,
    },
    /// A singular field appeared twice.
    #[error("unixfs: ({message}) duplicate field {field}")]
    Duplicate {
        /// `Data` or `UnixTime`.
        message: &'static str,
        /// Field number.
        field: u64,
    },
    /// No `Type`.
    #[error("unixfs: missing required field Type")]
    MissingType,
    /// `Type` outside 0..=5.
    #[error("unixfs: unknown node type {0}")]
    UnknownType(u64),
    /// `mode` does not fit in 32 bits.
    #[error("unixfs: mode {0} does not fit in uint32")]
    ModeOverflow(u64),
    /// `mtime` without `Seconds`.
    #[error("unixfs: mtime is missing required field Seconds")]
    MissingSeconds,
}

impl From<WireError> for UnixFsDataError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Truncated => UnixFsDataError::Truncated,
            WireError::VarintOverflow => UnixFsDataError::VarintOverflow,
        }
    }
}

impl UnixFsData {
    /// A message of the given type with every other field absent.
    pub fn new(data_type: DataType) -> Self {
        UnixFsData {
            data_type,
            data: None,
            filesize: None,
            blocksizes: Vec::new(),
            hash_type: None,
            fanout: None,
            mode: None,
            mtime: None,
        }
    }

    /// Exact length of [`UnixFsData::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        let mut n = 1 + varint_len(self.data_type as u64);
        if let Some(d) = &self.data {
            n += 1 + varint_len(d.len() as u64) + d.len();
        }
        n += self.filesize.map_or(0, |v| 1 + varint_len(v));
        n += self
            .blocksizes
            .iter()
            .map(|&v| 1 + varint_len(v))
            .sum::<usize>();
        n += self.hash_type.map_or(0, |v| 1 + varint_len(v));
        n += self.fanout.map_or(0, |v| 1 + varint_len(v));
        n + metadata_len(self.mode, self.mtime)
    }

    /// Canonical encoding (ascending field numbers, unpacked `blocksizes`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(0x08);
        put_varint(out, self.data_type as u64);
        if let Some(d) = &self.data {
            put_bytes_field(out, 0x12, d);
        }
        if let Some(v) = self.filesize {
            out.push(0x18);
            put_varint(out, v);
        }
        for &v in &self.blocksizes {
            out.push(0x20);
            put_varint(out, v);
        }
        if let Some(v) = self.hash_type {
            out.push(0x28);
            put_varint(out, v);
        }
        if let Some(v) = self.fanout {
            out.push(0x30);
            put_varint(out, v);
        }
        put_metadata(out, self.mode, self.mtime);
    }

    /// Strictly decodes a `Data` message. Never panics.
    pub fn decode(buf: &[u8]) -> Result<UnixFsData, UnixFsDataError> {
        let (mut msg, data) = Self::decode_parts(buf)?;
        msg.data = data.map(|r| buf[r].to_vec());
        Ok(msg)
    }

    /// Decodes everything except `Data`, whose byte range in `buf` is returned instead (so the
    /// reader can slice file bytes out of a block without copying them).
    pub(crate) fn decode_parts(
        buf: &[u8],
    ) -> Result<(UnixFsData, Option<std::ops::Range<usize>>), UnixFsDataError> {
        const MSG: &str = "Data";
        let dup = |field| UnixFsDataError::Duplicate {
            message: MSG,
            field,
        };
        let mut r = WireReader::new(buf);
        let mut data_type = None;
        let mut data = None;
        let mut msg = UnixFsData::new(DataType::Raw);
        while !r.is_empty() {
            let (field, wire_type) = r.key()?;
            match (field, wire_type) {
                (1, 0) => {
                    if data_type.is_some() {
                        return Err(dup(1));
                    }
                    let v = r.varint()?;
                    data_type = Some(DataType::from_u64(v).ok_or(UnixFsDataError::UnknownType(v))?);
                }
                (2, 2) => {
                    if data.is_some() {
                        return Err(dup(2));
                    }
                    data = Some(r.bytes_range()?);
                }
                (3, 0) => set_once(&mut msg.filesize, r.varint()?).map_err(|_| dup(3))?,
                (4, 0) => msg.blocksizes.push(r.varint()?),
                (4, 2) => {
                    let mut packed = WireReader::new(r.bytes()?);
                    while !packed.is_empty() {
                        msg.blocksizes.push(packed.varint()?);
                    }
                }
                (5, 0) => set_once(&mut msg.hash_type, r.varint()?).map_err(|_| dup(5))?,
                (6, 0) => set_once(&mut msg.fanout, r.varint()?).map_err(|_| dup(6))?,
                (7, 0) => {
                    let v = r.varint()?;
                    let v = u32::try_from(v).map_err(|_| UnixFsDataError::ModeOverflow(v))?;
                    set_once(&mut msg.mode, v).map_err(|_| dup(7))?;
                }
                (8, 2) => {
                    let t = decode_time(r.bytes()?)?;
                    set_once(&mut msg.mtime, t).map_err(|_| dup(8))?;
                }
                _ => {
                    return Err(UnixFsDataError::UnexpectedField {
                        message: MSG,
                        field,
                        wire_type,
                    });
                }
            }
        }
        msg.data_type = data_type.ok_or(UnixFsDataError::MissingType)?;
        Ok((msg, data))
    }
}

fn set_once<T>(slot: &mut Option<T>, v: T) -> Result<(), ()> {
    if slot.is_some() {
        return Err(());
    }
    *slot = Some(v);
    Ok(())
}

fn decode_time(buf: &[u8]) -> Result<UnixTime, UnixFsDataError> {
    const MSG: &str = "UnixTime";
    let dup = |field| UnixFsDataError::Duplicate {
        message: MSG,
        field,
    };
    let mut r = WireReader::new(buf);
    let mut seconds = None;
    let mut nanos = None;
    while !r.is_empty() {
        let (field, wire_type) = r.key()?;
        match (field, wire_type) {
            // int64: two's complement in a 64-bit varint.
            (1, 0) => set_once(&mut seconds, r.varint()? as i64).map_err(|_| dup(1))?,
            (2, 5) => set_once(&mut nanos, r.fixed32()?).map_err(|_| dup(2))?,
            _ => {
                return Err(UnixFsDataError::UnexpectedField {
                    message: MSG,
                    field,
                    wire_type,
                });
            }
        }
    }
    Ok(UnixTime {
        seconds: seconds.ok_or(UnixFsDataError::MissingSeconds)?,
        fractional_nanoseconds: nanos,
    })
}

/// Encoded length of the mode (7) and mtime (8) fields.
pub(crate) fn metadata_len(mode: Option<u32>, mtime: Option<UnixTime>) -> usize {
    let mut n = mode.map_or(0, |m| 1 + varint_len(u64::from(m)));
    if let Some(t) = mtime {
        let inner = time_len(t);
        n += 1 + varint_len(inner as u64) + inner;
    }
    n
}

fn time_len(t: UnixTime) -> usize {
    1 + varint_len(t.seconds as u64) + t.fractional_nanoseconds.map_or(0, |_| 5)
}

/// Appends the mode (7) and mtime (8) fields.
pub(crate) fn put_metadata(out: &mut Vec<u8>, mode: Option<u32>, mtime: Option<UnixTime>) {
    if let Some(m) = mode {
        out.push(0x38);
        put_varint(out, u64::from(m));
    }
    if let Some(t) = mtime {
        out.push(0x42);
        put_varint(out, time_len(t) as u64);
        out.push(0x08);
        put_varint(out, t.seconds as u64);
        if let Some(n) = t.fractional_nanoseconds {
            out.push(0x15);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// Optional POSIX metadata for an imported file or directory (Kubo's `--mode`, `--mtime`,
/// `--mtime-nsecs`, `--preserve-mode`, `--preserve-mtime`).
///
/// Normalisation follows boxo (`FSNode.SetMode` / `SetModTime`):
/// - `mode` is taken as UNIX permission bits; only the lower 12 bits (`0o7777`) are stored and a
///   value whose lower 12 bits are zero means "no mode" (boxo cannot store mode 0). Converting
///   Kubo's CLI value (a Go `os.FileMode`, whose setuid/setgid/sticky bits sit elsewhere) is the
///   RPC layer's job.
/// - `mtime` is `(seconds, nanoseconds)`; nanoseconds of 1e9 or more carry into the seconds as
///   Go's `time.Unix` does, zero nanoseconds are not written, and Go's zero `time.Time`
///   (0001-01-01T00:00:00Z) means "no mtime".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Metadata {
    /// UNIX permission bits.
    pub mode: Option<u32>,
    /// Modification time: seconds since the epoch and optional nanoseconds.
    pub mtime: Option<(i64, Option<u32>)>,
}

/// `time.Time{}.Unix()` in Go: 0001-01-01T00:00:00Z.
const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;

impl Metadata {
    /// The mode field as boxo would store it, if any.
    pub fn unixfs_mode(&self) -> Option<u32> {
        self.mode.map(|m| m & 0o7777).filter(|&m| m != 0)
    }

    /// The mtime field as boxo would store it, if any.
    pub fn unixfs_mtime(&self) -> Option<UnixTime> {
        let (secs, nanos) = self.mtime?;
        let nanos = nanos.unwrap_or(0);
        let secs = secs.saturating_add(i64::from(nanos / 1_000_000_000));
        let nanos = nanos % 1_000_000_000;
        if secs == GO_ZERO_TIME_UNIX && nanos == 0 {
            return None;
        }
        Some(UnixTime {
            seconds: secs,
            fractional_nanoseconds: (nanos > 0).then_some(nanos),
        })
    }

    /// True when nothing would be written for this metadata.
    pub fn is_empty(&self) -> bool {
        self.unixfs_mode().is_none() && self.unixfs_mtime().is_none()
    }

    /// Sets `msg`'s mode and mtime from this metadata.
    pub fn apply(&self, msg: &mut UnixFsData) {
        msg.mode = self.unixfs_mode();
        msg.mtime = self.unixfs_mtime();
    }

    /// Encoded length of the fields [`Metadata::put`] writes.
    pub(crate) fn encoded_len(&self) -> usize {
        metadata_len(self.unixfs_mode(), self.unixfs_mtime())
    }

    /// Appends the mode/mtime fields (to the end of an otherwise encoded `Data` message; they
    /// have the highest field numbers, so the result is still canonical).
    pub(crate) fn put(&self, out: &mut Vec<u8>) {
        put_metadata(out, self.unixfs_mode(), self.unixfs_mtime());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        // Directory: `08 01`.
        assert_eq!(
            UnixFsData::new(DataType::Directory).encode(),
            vec![0x08, 0x01]
        );
        // Empty file: `08 02 18 00`.
        let mut f = UnixFsData::new(DataType::File);
        f.filesize = Some(0);
        assert_eq!(f.encode(), vec![0x08, 0x02, 0x18, 0x00]);
        // Stem with unpacked blocksizes.
        let mut s = UnixFsData::new(DataType::File);
        s.filesize = Some(300);
        s.blocksizes = vec![256, 44];
        assert_eq!(
            s.encode(),
            vec![0x08, 0x02, 0x18, 0xac, 0x02, 0x20, 0x80, 0x02, 0x20, 0x2c]
        );
        // mode + mtime with nanos; negative seconds take 10 bytes.
        let mut m = UnixFsData::new(DataType::File);
        m.mode = Some(0o644);
        m.mtime = Some(UnixTime {
            seconds: -1,
            fractional_nanoseconds: Some(5),
        });
        let enc = m.encode();
        assert_eq!(&enc[..5], &[0x08, 0x02, 0x38, 0xa4, 0x03]);
        assert_eq!(enc[5], 0x42);
        assert_eq!(enc[6] as usize, 1 + 10 + 5);
        assert_eq!(enc.len(), m.encoded_len());
        assert_eq!(UnixFsData::decode(&enc).unwrap(), m);
    }

    #[test]
    fn accepts_packed_blocksizes() {
        let packed = [0x08, 0x02, 0x22, 0x03, 0x80, 0x02, 0x2c];
        assert_eq!(
            UnixFsData::decode(&packed).unwrap().blocksizes,
            vec![256, 44]
        );
    }

    #[test]
    fn rejects_malformed() {
        use UnixFsDataError as E;
        assert_eq!(UnixFsData::decode(&[]), Err(E::MissingType));
        assert_eq!(UnixFsData::decode(&[0x08, 0x06]), Err(E::UnknownType(6)));
        assert_eq!(
            UnixFsData::decode(&[0x08, 0x02, 0x08, 0x02]),
            Err(E::Duplicate {
                message: "Data",
                field: 1
            })
        );
        assert_eq!(
            UnixFsData::decode(&[0x08, 0x02, 0x18, 0x00, 0x18, 0x01]),
            Err(E::Duplicate {
                message: "Data",
                field: 3
            })
        );
        assert!(matches!(
            UnixFsData::decode(&[0x08, 0x02, 0x48, 0x00]),
            Err(E::UnexpectedField { field: 9, .. })
        ));
        assert!(matches!(
            UnixFsData::decode(&[0x0a, 0x00]),
            Err(E::UnexpectedField {
                field: 1,
                wire_type: 2,
                ..
            })
        ));
        assert_eq!(
            UnixFsData::decode(&[0x08, 0x02, 0x38, 0x80, 0x80, 0x80, 0x80, 0x10]),
            Err(E::ModeOverflow(1 << 32))
        );
        assert_eq!(
            UnixFsData::decode(&[0x08, 0x02, 0x42, 0x00]),
            Err(E::MissingSeconds)
        );
        assert_eq!(
            UnixFsData::decode(&[0x08, 0x02, 0x12, 0x05, 0x00]),
            Err(E::Truncated)
        );
        assert_eq!(
            UnixFsData::decode(&[0x08, 0x02, 0x42, 0x03, 0x15, 0x00, 0x00]),
            Err(E::Truncated)
        );
    }

    #[test]
    fn metadata_normalisation() {
        let m = Metadata {
            mode: Some(0o100644),
            mtime: Some((10, Some(2_000_000_001))),
        };
        assert_eq!(m.unixfs_mode(), Some(0o644));
        assert_eq!(
            m.unixfs_mtime(),
            Some(UnixTime {
                seconds: 12,
                fractional_nanoseconds: Some(1)
            })
        );
        let z = Metadata {
            mode: Some(0o170000),
            mtime: Some((GO_ZERO_TIME_UNIX, None)),
        };
        assert!(z.is_empty());
        let e = Metadata {
            mode: None,
            mtime: Some((0, Some(0))),
        };
        assert_eq!(
            e.unixfs_mtime(),
            Some(UnixTime {
                seconds: 0,
                fractional_nanoseconds: None
            })
        );
        let mut buf = Vec::new();
        m.put(&mut buf);
        assert_eq!(buf.len(), m.encoded_len());
    }

    fn arb_data() -> impl Strategy<Value = UnixFsData> {
        (
            0u64..6,
            prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
            prop::option::of(any::<u64>()),
            prop::collection::vec(any::<u64>(), 0..5),
            prop::option::of(any::<u64>()),
            prop::option::of(any::<u64>()),
            prop::option::of(any::<u32>()),
            prop::option::of((any::<i64>(), prop::option::of(any::<u32>()))),
        )
            .prop_map(
                |(t, data, filesize, blocksizes, hash_type, fanout, mode, mtime)| UnixFsData {
                    data_type: DataType::from_u64(t).unwrap(),
                    data,
                    filesize,
                    blocksizes,
                    hash_type,
                    fanout,
                    mode,
                    mtime: mtime.map(|(seconds, n)| UnixTime {
                        seconds,
                        fractional_nanoseconds: n,
                    }),
                },
            )
    }

    proptest! {
        #[test]
        fn roundtrip(msg in arb_data()) {
            let enc = msg.encode();
            prop_assert_eq!(enc.len(), msg.encoded_len());
            let dec = UnixFsData::decode(&enc).unwrap();
            prop_assert_eq!(&dec, &msg);
            prop_assert_eq!(dec.encode(), enc);
        }

        #[test]
        fn decode_arbitrary_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
            let _ = UnixFsData::decode(&bytes);
        }

        #[test]
        fn decode_mutated_never_panics(msg in arb_data(), idx in any::<usize>(), val in any::<u8>(), cut in any::<usize>()) {
            let mut enc = msg.encode();
            let i = idx % enc.len();
            enc[i] = val;
            enc.truncate(cut % (enc.len() + 1));
            if let Ok(d) = UnixFsData::decode(&enc) {
                prop_assert_eq!(UnixFsData::decode(&d.encode()).unwrap(), d);
            }
        }
    }
}
