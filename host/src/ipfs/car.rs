//! CAR (Content Addressable aRchive) encoding and streaming decoding.
//!
//! # What this module owns
//!
//! The byte format of CARv1 (<https://ipld.io/specs/transport/car/carv1/>), the
//! container behind `ipfs dag export` / `ipfs dag import`, plus enough of CARv2
//! (<https://ipld.io/specs/transport/car/carv2/>) to read the CARv1 payload a
//! CARv2 file wraps:
//!
//! ```text
//! [varint | dag-cbor {"roots":[cid..],"version":1}] [varint | cid | data] [varint | cid | data] ...
//! ```
//!
//! * **Writing** is two pure functions, [`encode_header`] and [`encode_block`].
//!   A CAR is their concatenation, so an HTTP handler can stream an export
//!   chunk by chunk while it walks the DAG, with no writer state and nothing
//!   buffered beyond one block. The writer only emits CARv1, which is what
//!   Kubo's `dag export` produces.
//! * **Reading** is [`CarReader`], an async pull parser over any
//!   `tokio::io::AsyncRead`: [`CarReader::new`] parses the header,
//!   [`CarReader::next_block`] yields one `(Cid, Bytes)` section at a time.
//!   Memory use is bounded by one section, whatever the size of the archive.
//!
//! # What it does not own
//!
//! It does **not** verify that a block's bytes hash to its CID, nor that the
//! roots appear in the archive, nor that the blocks form a DAG: the caller
//! (the import path, which has the hashers and the blockstore) does that. A
//! `CarReader` only guarantees that every section it returns is well framed
//! and carries a syntactically valid CID. It also does not read CARv2
//! indexes; a CARv2 is consumed front to back like a CARv1, and the index
//! (which sits after the payload) is never read.
//!
//! # Limits (all checked *before* allocating what the input declares)
//!
//! * header: at most [`MAX_HEADER_BYTES`] (1 MiB) of dag-cbor;
//! * section: at most [`MAX_BLOCK_BYTES`] (4 MiB) of block data plus
//!   [`MAX_CID_BYTES`] of CID; the length prefix is checked against that sum
//!   first, and the data length again once the CID has been parsed;
//! * version: the header must say `1`. An input that starts with the CARv2
//!   pragma (`0a a1 67 76 65 72 73 69 6f 6e 02`) is unwrapped: its 40-byte
//!   header gives the offset and size of the inner CARv1, padding before it
//!   is skipped, reading stops at its end, and the inner header must itself
//!   be version 1. Any other version is rejected as unsupported.
//!
//! Zero roots and zero blocks are accepted (the spec leaves both open, and
//! js-car accepts them). Input that ends inside a varint, a header or a
//! section is reported as [`CarError::Truncated`] with the byte offset; input
//! that ends exactly on a section boundary is a clean end of archive.
//! Length varints are decoded leniently (non-minimal encodings are accepted,
//! like Go's `binary.ReadUvarint` used by go-car) but anything overflowing
//! 64 bits is rejected.
//!
//! # Trade-offs
//!
//! * One section is read into one exactly-sized buffer (at most ~4 MiB) and
//!   the block is handed out as a zero-copy slice of it. Growing the buffer as
//!   bytes arrive would cap memory at what a peer actually sends rather than
//!   what it declares, at the price of reallocations; within a 4 MiB cap the
//!   simple exact allocation wins.
//! * The header is decoded to the generic IPLD data model before it is
//!   interpreted, so a wrong version is reported as such even when the rest
//!   of the header has an unexpected shape. The 1 MiB cap and the dag-cbor
//!   decoder's depth limit keep that cheap and stack-safe.
//! * The reader wraps its input in a `BufReader` because varints are read a
//!   byte at a time; callers need not buffer.

use std::collections::BTreeMap;
use std::fmt;

use bytes::{Bytes, BytesMut};
use cid::Cid;
use futures::Stream;
use ipld_core::ipld::Ipld;
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};

/// Largest header (the dag-cbor block after the first varint) a reader accepts.
pub const MAX_HEADER_BYTES: u64 = 1 << 20;
/// Largest block data (section minus CID) a reader accepts.
pub const MAX_BLOCK_BYTES: u64 = 4 << 20;
/// Allowance for the CID in a section's length prefix. A CIDv1 with a 64-byte
/// digest (the most the `cid` crate represents) is at most 86 bytes.
pub const MAX_CID_BYTES: u64 = 128;

/// The CARv2 pragma: a valid CARv1-style prefix (`varint(10)` then dag-cbor
/// `{"version": 2}`) that marks a CARv2 file.
pub const CARV2_PRAGMA: [u8; 11] = [
    0x0a, 0xa1, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x02,
];
/// Size of the fixed CARv2 header following the pragma.
const CARV2_HEADER_LEN: u64 = 40;

/// The header of a CAR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarHeader {
    /// Version of the container that was read: `1` for a plain CARv1, `2`
    /// when the CARv1 payload was unwrapped from a CARv2. (The CARv1 header
    /// itself always says 1; anything else is rejected.)
    pub version: u64,
    /// Root CIDs, in header order. May be empty.
    pub roots: Vec<Cid>,
}

/// Why a CAR could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CarError {
    /// The underlying reader failed (other than by ending early).
    #[error("reading CAR failed: {0}")]
    Io(#[from] std::io::Error),
    /// The input ended in the middle of something.
    #[error("CAR is truncated: input ended inside the {what} at byte {offset}")]
    Truncated { what: &'static str, offset: u64 },
    /// A length varint is longer than 64 bits.
    #[error("CAR has an invalid varint at byte {offset}: it overflows 64 bits")]
    VarintOverflow { offset: u64 },
    /// The header length exceeds [`MAX_HEADER_BYTES`].
    #[error("CAR header declares {len} bytes, more than the limit of {max} bytes")]
    HeaderTooLarge { len: u64, max: u64 },
    /// The header is not a dag-cbor `{roots, version}` map.
    #[error("invalid CAR header: {0}")]
    InvalidHeader(String),
    /// The header's version is neither 1 nor a CARv2 pragma.
    #[error("unsupported CAR version {0}: only CARv1, and CARv2 wrapping a CARv1, can be read")]
    UnsupportedVersion(u64),
    /// The fixed CARv2 header is inconsistent.
    #[error("invalid CARv2 header: {0}")]
    InvalidV2Header(String),
    /// A section's length prefix exceeds [`MAX_BLOCK_BYTES`] + [`MAX_CID_BYTES`].
    #[error(
        "CAR section at byte {offset} declares {len} bytes, more than the limit of {max} bytes"
    )]
    SectionTooLarge { offset: u64, len: u64, max: u64 },
    /// A block's data exceeds [`MAX_BLOCK_BYTES`].
    #[error(
        "CAR block {cid} at byte {offset} has {len} bytes of data, more than the limit of {max} bytes"
    )]
    BlockTooLarge {
        cid: Cid,
        offset: u64,
        len: u64,
        max: u64,
    },
    /// A section is empty or does not start with a valid CID.
    #[error("invalid CAR section at byte {offset}: {reason}")]
    InvalidSection { offset: u64, reason: String },
}

/// Encodes a CARv1 header (`varint(len)` + dag-cbor `{"roots":[..],"version":1}`).
pub fn encode_header(roots: &[Cid]) -> Vec<u8> {
    // Field order is dag-cbor's canonical key order ("roots" is shorter than
    // "version"); the encoder sorts map keys anyway.
    #[derive(serde::Serialize)]
    struct Header<'a> {
        roots: &'a [Cid],
        version: u64,
    }
    let cbor = serde_ipld_dagcbor::to_vec(&Header { roots, version: 1 })
        .expect("encoding CIDs and an integer to dag-cbor cannot fail");
    let mut out = Vec::with_capacity(cbor.len() + 10);
    push_varint(&mut out, cbor.len() as u64);
    out.extend_from_slice(&cbor);
    out
}

/// Encodes one CARv1 section: `varint(len(cid) + len(data))` + CID bytes + data.
pub fn encode_block(cid: &Cid, data: &[u8]) -> Vec<u8> {
    let cid_bytes = cid.to_bytes();
    let mut out = Vec::with_capacity(10 + cid_bytes.len() + data.len());
    push_varint(&mut out, (cid_bytes.len() + data.len()) as u64);
    out.extend_from_slice(&cid_bytes);
    out.extend_from_slice(data);
    out
}

fn push_varint(out: &mut Vec<u8>, n: u64) {
    let mut buf = unsigned_varint::encode::u64_buffer();
    out.extend_from_slice(unsigned_varint::encode::u64(n, &mut buf));
}

/// Streaming CAR reader; see the module documentation for limits.
pub struct CarReader<R> {
    inner: BufReader<R>,
    /// Bytes consumed from the start of the input.
    pos: u64,
    /// Absolute end of the CARv1 payload when it is wrapped in a CARv2.
    end: Option<u64>,
}

impl<R> fmt::Debug for CarReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CarReader")
            .field("pos", &self.pos)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl<R: AsyncRead + Unpin> CarReader<R> {
    /// Reads the header (unwrapping a CARv2 if needed) and returns a reader
    /// positioned at the first section.
    pub async fn new(reader: R) -> Result<(Self, CarHeader), CarError> {
        let mut this = CarReader {
            inner: BufReader::new(reader),
            pos: 0,
            end: None,
        };
        let header = match this.read_header().await? {
            Header::V1(roots) => CarHeader { version: 1, roots },
            Header::V2Pragma => {
                this.enter_v2_payload().await?;
                match this.read_header().await? {
                    Header::V1(roots) => CarHeader { version: 2, roots },
                    Header::V2Pragma => {
                        return Err(CarError::InvalidV2Header(
                            "the data payload is itself a CARv2, not a CARv1".into(),
                        ));
                    }
                }
            }
        };
        Ok((this, header))
    }

    /// Reads the next section. `Ok(None)` at a clean end of the archive.
    pub async fn next_block(&mut self) -> Result<Option<(Cid, Bytes)>, CarError> {
        let start = self.pos;
        let Some(len) = self.read_varint("section length").await? else {
            return match self.end {
                Some(end) if self.pos < end => Err(CarError::Truncated {
                    what: "CARv2 data payload",
                    offset: self.pos,
                }),
                _ => Ok(None),
            };
        };
        let max = MAX_BLOCK_BYTES + MAX_CID_BYTES;
        if len > max {
            return Err(CarError::SectionTooLarge {
                offset: start,
                len,
                max,
            });
        }
        if len == 0 {
            return Err(CarError::InvalidSection {
                offset: start,
                reason: "zero-length section has no CID".into(),
            });
        }
        let mut buf = BytesMut::zeroed(len as usize);
        self.read_exact(&mut buf, "section").await?;

        let mut cursor: &[u8] = &buf;
        let cid = Cid::read_bytes(&mut cursor).map_err(|e| CarError::InvalidSection {
            offset: start,
            reason: format!("cannot parse CID: {e}"),
        })?;
        let cid_len = buf.len() - cursor.len();
        let data = buf.split_off(cid_len).freeze();
        if data.len() as u64 > MAX_BLOCK_BYTES {
            return Err(CarError::BlockTooLarge {
                cid,
                offset: start,
                len: data.len() as u64,
                max: MAX_BLOCK_BYTES,
            });
        }
        Ok(Some((cid, data)))
    }

    /// The remaining sections as a stream; it ends after the first error.
    pub fn into_stream(self) -> impl Stream<Item = Result<(Cid, Bytes), CarError>> {
        futures::stream::try_unfold(self, |mut reader| async move {
            Ok(reader.next_block().await?.map(|block| (block, reader)))
        })
    }

    /// Reads `varint(len)` + dag-cbor header.
    async fn read_header(&mut self) -> Result<Header, CarError> {
        let len = self
            .read_varint("header length")
            .await?
            .ok_or(CarError::Truncated {
                what: "header length",
                offset: self.pos,
            })?;
        if len > MAX_HEADER_BYTES {
            return Err(CarError::HeaderTooLarge {
                len,
                max: MAX_HEADER_BYTES,
            });
        }
        if len == 0 {
            return Err(CarError::InvalidHeader("header is empty".into()));
        }
        let mut buf = vec![0u8; len as usize];
        self.read_exact(&mut buf, "header").await?;
        if len == CARV2_PRAGMA.len() as u64 - 1 && buf[..] == CARV2_PRAGMA[1..] {
            return Ok(Header::V2Pragma);
        }
        parse_v1_header(&buf).map(Header::V1)
    }

    /// Consumes the 40-byte CARv2 header and any padding, and bounds further
    /// reads to the CARv1 payload.
    async fn enter_v2_payload(&mut self) -> Result<(), CarError> {
        let mut fixed = [0u8; CARV2_HEADER_LEN as usize];
        self.read_exact(&mut fixed, "CARv2 header").await?;
        let u64_at =
            |i: usize| u64::from_le_bytes(fixed[i..i + 8].try_into().expect("slice of 8 bytes"));
        // fixed[0..16] is the characteristics bitfield; no bit changes how the
        // payload is read, so it is ignored.
        let data_offset = u64_at(16);
        let data_size = u64_at(24);
        let header_end = self.pos;
        if data_offset < header_end {
            return Err(CarError::InvalidV2Header(format!(
                "data offset {data_offset} points inside the {header_end}-byte CARv2 prefix"
            )));
        }
        let end = data_offset.checked_add(data_size).ok_or_else(|| {
            CarError::InvalidV2Header(format!(
                "data offset {data_offset} + data size {data_size} overflows"
            ))
        })?;
        let padding = data_offset - header_end;
        let skipped =
            tokio::io::copy(&mut (&mut self.inner).take(padding), &mut tokio::io::sink()).await?;
        self.pos += skipped;
        if skipped < padding {
            return Err(CarError::Truncated {
                what: "padding before the CARv2 data payload",
                offset: self.pos,
            });
        }
        self.end = Some(end);
        Ok(())
    }

    /// Remaining bytes before the CARv2 payload end, if bounded.
    fn remaining(&self) -> Option<u64> {
        self.end.map(|end| end.saturating_sub(self.pos))
    }

    /// Fills `buf` or reports truncation of `what`.
    async fn read_exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), CarError> {
        if let Some(remaining) = self.remaining()
            && (buf.len() as u64) > remaining
        {
            return Err(CarError::Truncated {
                what,
                offset: self.pos + remaining,
            });
        }
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.inner.read(&mut buf[filled..]).await?;
            if n == 0 {
                return Err(CarError::Truncated {
                    what,
                    offset: self.pos + filled as u64,
                });
            }
            filled += n;
        }
        self.pos += filled as u64;
        Ok(())
    }

    /// One byte, or `None` at end of input (or of the CARv2 payload).
    async fn read_byte(&mut self) -> Result<Option<u8>, CarError> {
        if self.remaining() == Some(0) {
            return Ok(None);
        }
        let mut byte = [0u8; 1];
        if self.inner.read(&mut byte).await? == 0 {
            return Ok(None);
        }
        self.pos += 1;
        Ok(Some(byte[0]))
    }

    /// An unsigned LEB128 varint; `None` if the input ends before its first
    /// byte, `Truncated` if it ends inside it.
    async fn read_varint(&mut self, what: &'static str) -> Result<Option<u64>, CarError> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let Some(byte) = self.read_byte().await? else {
                return if i == 0 {
                    Ok(None)
                } else {
                    Err(CarError::Truncated {
                        what,
                        offset: self.pos,
                    })
                };
            };
            let bits = u64::from(byte & 0x7f);
            // The tenth byte may only contribute the 64th bit.
            if i == 9 && bits > 1 {
                return Err(CarError::VarintOverflow { offset: start });
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(Some(value));
            }
        }
        Err(CarError::VarintOverflow { offset: start })
    }
}

enum Header {
    V1(Vec<Cid>),
    V2Pragma,
}

/// Interprets a dag-cbor header block that must be `{version: 1, roots: [cid..]}`.
fn parse_v1_header(bytes: &[u8]) -> Result<Vec<Cid>, CarError> {
    let ipld: Ipld = serde_ipld_dagcbor::from_slice(bytes)
        .map_err(|e| CarError::InvalidHeader(format!("not valid dag-cbor: {e}")))?;
    let Ipld::Map(mut map) = ipld else {
        return Err(CarError::InvalidHeader("not a map".into()));
    };
    let version = match map.remove("version") {
        Some(Ipld::Integer(v)) => {
            u64::try_from(v).map_err(|_| CarError::InvalidHeader(format!("version {v}")))?
        }
        Some(_) => return Err(CarError::InvalidHeader("version is not an integer".into())),
        None => return Err(CarError::InvalidHeader("no version field".into())),
    };
    if version != 1 {
        return Err(CarError::UnsupportedVersion(version));
    }
    roots_of(&mut map)
}

fn roots_of(map: &mut BTreeMap<String, Ipld>) -> Result<Vec<Cid>, CarError> {
    let Some(roots) = map.remove("roots") else {
        return Err(CarError::InvalidHeader("no roots field".into()));
    };
    let Ipld::List(roots) = roots else {
        return Err(CarError::InvalidHeader("roots is not a list".into()));
    };
    roots
        .into_iter()
        .enumerate()
        .map(|(i, root)| match root {
            Ipld::Link(cid) => Ok(cid),
            _ => Err(CarError::InvalidHeader(format!("root {i} is not a CID"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use sha2::{Digest, Sha256};
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::ReadBuf;

    const RAW: u64 = 0x55;
    const DAG_PB: u64 = 0x70;
    const DAG_CBOR: u64 = 0x71;

    fn sha256_cid(codec: u64, data: &[u8]) -> Cid {
        let mh = multihash::Multihash::<64>::wrap(0x12, &Sha256::digest(data)).unwrap();
        Cid::new_v1(codec, mh)
    }

    fn sha256_cid_v0(data: &[u8]) -> Cid {
        let mh = multihash::Multihash::<64>::wrap(0x12, &Sha256::digest(data)).unwrap();
        Cid::new_v0(mh).unwrap()
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Yields at most one byte per read, to exercise partial reads.
    struct Trickle<'a>(&'a [u8]);
    impl AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if let Some((&first, rest)) = self.0.split_first()
                && buf.remaining() > 0
            {
                buf.put_slice(&[first]);
                self.0 = rest;
            }
            Poll::Ready(Ok(()))
        }
    }

    async fn read_all<R: AsyncRead + Unpin>(
        r: R,
    ) -> Result<(CarHeader, Vec<(Cid, Bytes)>), CarError> {
        let (reader, header) = CarReader::new(r).await?;
        let blocks = reader.into_stream().try_collect().await?;
        Ok((header, blocks))
    }

    fn read_all_sync(bytes: &[u8]) -> Result<(CarHeader, Vec<(Cid, Bytes)>), CarError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(read_all(bytes))
    }

    /// "hello world" as a UnixFS file in a dag-pb node (what `ipfs add` makes).
    fn hello_dag_pb() -> Vec<u8> {
        hex("0a 11 08 02 12 0b 68656c6c6f20776f726c64 18 0b")
    }

    /// A CARv1 written out byte by byte from the spec, independently of the
    /// encoder: one root (the raw "hello world" block), then a raw section and
    /// a CIDv0 dag-pb section.
    fn hand_made_car() -> Vec<u8> {
        let digest_raw = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
        // Header: varint(58), map(2), "roots", array(1), tag(42), bytes(37),
        // 0x00 + CIDv1 raw sha2-256, "version", 1.
        let mut car = hex(&format!(
            "3a a2 65 726f6f7473 81 d8 2a 58 25 00 01 55 12 20 {digest_raw} 67 76657273696f6e 01"
        ));
        // Section 1: 36-byte CIDv1 + 11 bytes of data = 47 = 0x2f.
        car.extend(hex(&format!(
            "2f 01 55 12 20 {digest_raw} 68656c6c6f20776f726c64"
        )));
        // Section 2: 34-byte CIDv0 + 19 bytes of data = 53 = 0x35.
        let pb = hello_dag_pb();
        car.push(0x35);
        car.extend(hex("12 20"));
        car.extend(Sha256::digest(&pb));
        car.extend(pb);
        car
    }

    #[tokio::test]
    async fn decodes_hand_made_car() {
        let car = hand_made_car();
        let hello_raw: Cid = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
            .parse()
            .unwrap();
        let hello_pb: Cid = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"
            .parse()
            .unwrap();
        for trickle in [false, true] {
            let (header, blocks) = if trickle {
                read_all(Trickle(&car)).await.unwrap()
            } else {
                read_all(&car[..]).await.unwrap()
            };
            assert_eq!(
                header,
                CarHeader {
                    version: 1,
                    roots: vec![hello_raw]
                }
            );
            assert_eq!(blocks.len(), 2);
            assert_eq!(blocks[0].0, hello_raw);
            assert_eq!(&blocks[0].1[..], b"hello world");
            assert_eq!(blocks[1].0, hello_pb);
            assert_eq!(blocks[1].0.version(), cid::Version::V0);
            assert_eq!(blocks[1].1[..], hello_dag_pb()[..]);
        }
        // And the encoder produces exactly those bytes.
        let mut encoded = encode_header(&[hello_raw]);
        encoded.extend(encode_block(&hello_raw, b"hello world"));
        encoded.extend(encode_block(&hello_pb, &hello_dag_pb()));
        assert_eq!(encoded, car);
    }

    #[test]
    fn header_encoding_is_canonical_dag_cbor() {
        assert_eq!(
            encode_header(&[]),
            hex("11 a2 65 726f6f7473 80 67 76657273696f6e 01")
        );
    }

    #[tokio::test]
    async fn roundtrip_many_blocks_and_roots() {
        let mut blocks = Vec::new();
        for i in 0..50u32 {
            let data: Vec<u8> = (0..i * 37).map(|j| (j ^ i) as u8).collect();
            let codec = [RAW, DAG_PB, DAG_CBOR][i as usize % 3];
            let cid = if i % 5 == 0 {
                sha256_cid_v0(&data)
            } else {
                sha256_cid(codec, &data)
            };
            blocks.push((cid, Bytes::from(data)));
        }
        // A block of exactly the size limit is accepted.
        let big = vec![7u8; MAX_BLOCK_BYTES as usize];
        blocks.push((sha256_cid(RAW, &big), Bytes::from(big)));
        let roots = vec![blocks[3].0, blocks[0].0];

        let mut car = encode_header(&roots);
        for (cid, data) in &blocks {
            car.extend(encode_block(cid, data));
        }
        let (header, decoded) = read_all(&car[..]).await.unwrap();
        assert_eq!(header, CarHeader { version: 1, roots });
        assert_eq!(decoded, blocks);
    }

    /// An HTTP handler (axum) needs `Send` futures and streams.
    #[test]
    fn futures_and_stream_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let new = CarReader::new(tokio::io::empty());
        assert_send(&new);
        let mut reader = CarReader {
            inner: BufReader::new(tokio::io::empty()),
            pos: 0,
            end: None,
        };
        assert_send(&reader.next_block());
        assert_send(&reader.into_stream());
    }

    #[tokio::test]
    async fn zero_roots_and_zero_blocks() {
        let car = encode_header(&[]);
        let (header, blocks) = read_all(&car[..]).await.unwrap();
        assert_eq!(
            header,
            CarHeader {
                version: 1,
                roots: vec![]
            }
        );
        assert!(blocks.is_empty());
    }

    #[tokio::test]
    async fn empty_block_data_is_a_section() {
        let cid = sha256_cid(RAW, b"");
        let mut car = encode_header(&[cid]);
        car.extend(encode_block(&cid, b""));
        let (_, blocks) = read_all(&car[..]).await.unwrap();
        assert_eq!(blocks, vec![(cid, Bytes::new())]);
    }

    /// Wraps a CARv1 in a CARv2 with `padding` bytes before and junk after it.
    fn wrap_v2(v1: &[u8], padding: usize, trailer: &[u8]) -> Vec<u8> {
        let mut car = CARV2_PRAGMA.to_vec();
        car.extend([0u8; 16]);
        let data_offset = (CARV2_PRAGMA.len() + 40 + padding) as u64;
        car.extend(data_offset.to_le_bytes());
        car.extend((v1.len() as u64).to_le_bytes());
        let index_offset = if trailer.is_empty() {
            0
        } else {
            data_offset + v1.len() as u64
        };
        car.extend(index_offset.to_le_bytes());
        car.extend(vec![0u8; padding]);
        car.extend(v1);
        car.extend(trailer);
        car
    }

    #[tokio::test]
    async fn reads_carv1_inside_carv2() {
        let data = b"inside a v2";
        let cid = sha256_cid(RAW, data);
        let mut v1 = encode_header(&[cid]);
        v1.extend(encode_block(&cid, data));
        // A trailing "index" that is not a valid section must not be read.
        for (padding, trailer) in [(0, &b""[..]), (13, &b"\x80\x08not-a-section"[..])] {
            let car = wrap_v2(&v1, padding, trailer);
            let (header, blocks) = read_all(&car[..]).await.unwrap();
            assert_eq!(
                header,
                CarHeader {
                    version: 2,
                    roots: vec![cid]
                }
            );
            assert_eq!(blocks, vec![(cid, Bytes::from_static(data))]);
        }
        // Payload shorter than its declared size.
        let car = wrap_v2(&v1, 0, b"");
        let err = read_all(&car[..car.len() - 3]).await.unwrap_err();
        assert!(matches!(err, CarError::Truncated { .. }), "{err}");
        // Data size cutting a section in half.
        let mut car = wrap_v2(&v1, 0, b"");
        car[11 + 24..11 + 32].copy_from_slice(&(v1.len() as u64 - 2).to_le_bytes());
        let err = read_all(&car[..]).await.unwrap_err();
        assert!(matches!(err, CarError::Truncated { .. }), "{err}");
        // Data offset inside the prefix.
        let mut car = wrap_v2(&v1, 0, b"");
        car[11 + 16..11 + 24].copy_from_slice(&10u64.to_le_bytes());
        let err = read_all(&car[..]).await.unwrap_err();
        assert!(matches!(err, CarError::InvalidV2Header(_)), "{err}");
        // Nested CARv2.
        let car = wrap_v2(&wrap_v2(&v1, 0, b""), 0, b"");
        let err = read_all(&car[..]).await.unwrap_err();
        assert!(matches!(err, CarError::InvalidV2Header(_)), "{err}");
    }

    #[tokio::test]
    async fn rejects_other_versions() {
        for version in [0u8, 2, 3] {
            // {"roots":[],"version":N}
            let car = hex(&format!(
                "11 a2 65 726f6f7473 80 67 76657273696f6e {version:02x}"
            ));
            let err = read_all(&car[..]).await.unwrap_err();
            assert!(matches!(err, CarError::UnsupportedVersion(v) if v == u64::from(version)));
            assert!(err.to_string().contains("unsupported CAR version"), "{err}");
        }
    }

    #[tokio::test]
    async fn rejects_bad_headers() {
        let cases: &[(&str, &str)] = &[
            ("", "truncated"),
            ("05 a1", "truncated"),
            ("80", "truncated"),
            ("00", "empty"),
            ("01 01", "not a map"),
            ("01 a0", "no version"),
            ("0a a1 67 76657273696f6e 01", "no roots"),
            ("0a a1 67 76657273696f6e 60", "not an integer"),
            ("11 a2 65 726f6f7473 01 67 76657273696f6e 01", "not a list"),
            (
                "12 a2 65 726f6f7473 81 01 67 76657273696f6e 01",
                "not a CID",
            ),
            ("03 ff ff ff", "dag-cbor"),
            ("12 a2 65 726f6f7473 80 67 76657273696f6e 01 00", "dag-cbor"),
        ];
        for (bytes, expected) in cases {
            let err = read_all(&hex(bytes)[..]).await.unwrap_err();
            assert!(
                err.to_string()
                    .to_lowercase()
                    .contains(&expected.to_lowercase()),
                "{bytes}: {err}"
            );
        }
    }

    #[tokio::test]
    async fn oversized_lengths_are_rejected_before_reading() {
        // Header declaring MAX+1 bytes, with nothing behind it.
        let mut car = Vec::new();
        push_varint(&mut car, MAX_HEADER_BYTES + 1);
        let err = read_all(&car[..]).await.unwrap_err();
        assert!(matches!(err, CarError::HeaderTooLarge { .. }), "{err}");

        // Sections declaring absurd sizes, up to u64::MAX.
        for len in [MAX_BLOCK_BYTES + MAX_CID_BYTES + 1, u64::MAX] {
            let mut car = encode_header(&[]);
            push_varint(&mut car, len);
            let err = read_all(&car[..]).await.unwrap_err();
            assert!(matches!(err, CarError::SectionTooLarge { .. }), "{err}");
            assert!(err.to_string().contains("limit"), "{err}");
        }

        // Within the section limit but with more data than a block may have.
        let data = vec![1u8; (MAX_BLOCK_BYTES + 1) as usize];
        let cid = sha256_cid(RAW, &data);
        let mut car = encode_header(&[]);
        car.extend(encode_block(&cid, &data));
        let err = read_all(&car[..]).await.unwrap_err();
        assert!(matches!(err, CarError::BlockTooLarge { .. }), "{err}");
    }

    #[tokio::test]
    async fn varint_overflow_is_rejected() {
        let mut car = encode_header(&[]);
        car.extend([0xff; 9]);
        car.push(0x02);
        let err = read_all(&car[..]).await.unwrap_err();
        assert!(matches!(err, CarError::VarintOverflow { .. }), "{err}");
        let mut car = encode_header(&[]);
        car.extend([0x80; 11]);
        let err = read_all(&car[..]).await.unwrap_err();
        assert!(matches!(err, CarError::VarintOverflow { .. }), "{err}");
    }

    #[tokio::test]
    async fn every_truncation_is_an_error_or_a_boundary() {
        let car = hand_made_car();
        let header_len = encode_header(&[sha256_cid(RAW, b"hello world")]).len();
        let first_section_end = header_len + 1 + 47;
        for cut in 0..car.len() {
            let result = read_all(&car[..cut]).await;
            if cut == header_len || cut == first_section_end {
                let (_, blocks) = result.unwrap();
                assert_eq!(blocks.len(), usize::from(cut == first_section_end));
            } else {
                let err = result.unwrap_err();
                assert!(
                    matches!(err, CarError::Truncated { .. }),
                    "cut {cut}: {err}"
                );
                assert!(err.to_string().contains("truncated"), "{err}");
            }
        }
    }

    #[tokio::test]
    async fn bad_sections_are_rejected() {
        let mut car = encode_header(&[]);
        car.push(0);
        let err = read_all(&car[..]).await.unwrap_err();
        assert!(matches!(err, CarError::InvalidSection { .. }), "{err}");

        // Section too short for its CID.
        let mut car = encode_header(&[]);
        car.extend(hex("03 01 55 12"));
        let err = read_all(&car[..]).await.unwrap_err();
        assert!(matches!(err, CarError::InvalidSection { .. }), "{err}");

        // CID version 2.
        let mut car = encode_header(&[]);
        car.extend(hex("05 02 55 00 00 ff"));
        let err = read_all(&car[..]).await.unwrap_err();
        assert!(matches!(err, CarError::InvalidSection { .. }), "{err}");
    }

    #[tokio::test]
    async fn deeply_nested_header_does_not_overflow_the_stack() {
        let depth = 100_000;
        let mut car = Vec::new();
        push_varint(&mut car, depth as u64 + 1);
        car.extend(vec![0x81; depth]);
        car.push(0x01);
        let err = read_all(&car[..]).await.unwrap_err();
        assert!(matches!(err, CarError::InvalidHeader(_)), "{err}");
    }

    /// Reads the spec fixtures from ipld/ipld (specs/transport/car/fixture/):
    /// `carv1-basic.{car,json}` and `carv2-basic.{car,json}` in one directory.
    #[tokio::test]
    #[ignore = "set PINFOLD_CAR_FIXTURES to a directory holding the ipld/ipld CAR spec fixtures"]
    async fn spec_fixtures() {
        let dir = std::path::PathBuf::from(
            std::env::var("PINFOLD_CAR_FIXTURES").expect("PINFOLD_CAR_FIXTURES is not set"),
        );
        for (name, version) in [("carv1-basic", 1), ("carv2-basic", 2)] {
            let car = std::fs::read(dir.join(format!("{name}.car"))).unwrap();
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap())
                    .unwrap();
            let link = |v: &serde_json::Value| -> Cid { v["/"].as_str().unwrap().parse().unwrap() };
            let roots: Vec<Cid> = json["header"]["roots"]
                .as_array()
                .unwrap()
                .iter()
                .map(link)
                .collect();
            let (header, blocks) = read_all(&car[..]).await.unwrap();
            assert_eq!(
                header,
                CarHeader {
                    version,
                    roots: roots.clone()
                }
            );
            let expected = json["blocks"].as_array().unwrap();
            assert_eq!(blocks.len(), expected.len());
            for ((cid, data), want) in blocks.iter().zip(expected) {
                assert_eq!(*cid, link(&want["cid"]));
                assert_eq!(data.len() as u64, want["blockLength"].as_u64().unwrap());
                let start = want["blockOffset"].as_u64().unwrap() as usize;
                assert_eq!(data[..], car[start..start + data.len()]);
                // The fixture's CIDs are all sha2-256: check the framing gave
                // each CID its own bytes.
                assert_eq!(cid.hash().digest(), &Sha256::digest(data)[..]);
            }
            if version == 1 {
                // Our encoder reproduces the fixture byte for byte.
                let mut encoded = encode_header(&roots);
                for (cid, data) in &blocks {
                    encoded.extend(encode_block(cid, data));
                }
                assert_eq!(encoded, car);
            }
        }
    }

    mod garbage {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = read_all_sync(&bytes);
            }

            #[test]
            fn garbage_after_a_valid_header_never_panics(
                tail in proptest::collection::vec(any::<u8>(), 0..512),
                v2 in any::<bool>(),
            ) {
                let mut car = encode_header(&[sha256_cid(RAW, b"x")]);
                car.extend(tail);
                let car = if v2 { wrap_v2(&car, 0, b"") } else { car };
                let _ = read_all_sync(&car);
            }

            #[test]
            fn mutated_car_never_panics(index in 0usize..200, byte in any::<u8>()) {
                let mut car = hand_made_car();
                let i = index % car.len();
                car[i] = byte;
                let _ = read_all_sync(&car);
            }
        }
    }
}
