//! The frames of `/pinfold/blocks/0.1.0` (see the module essay for the exchange).
//!
//! ```text
//! request  = count:uvarint  { cid_len:uvarint cid_bytes }*count     (then the opener closes its write half)
//! answer   = { 0x00                                   -- "I do not have it"
//!            | 0x01 len:uvarint bytes }*count          -- the block
//! ```
//! Answers come in the order of the request; the server closes the stream after the last.

use bytes::Bytes;
use cid::Cid;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Most wants one stream may carry.
pub const MAX_WANTS: usize = 256;
/// Longest CID accepted on the wire.
pub const MAX_CID_BYTES: usize = 256;
/// Largest block accepted on the wire (Kubo/bitswap refuse blocks above 2 MiB; some slack).
pub const MAX_BLOCK_BYTES: usize = 4 << 20;

const HAVE_NOT: u8 = 0;
const BLOCK: u8 = 1;

/// A malformed or oversized frame, or the stream failing.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("protocol violation: {0}")]
    Protocol(String),
}

/// One answer of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    HaveNot,
    Block(Bytes),
}

async fn read_uvarint<R: AsyncRead + Unpin>(r: &mut R) -> Result<u64, WireError> {
    let mut buf = [0u8; 10];
    for i in 0..buf.len() {
        r.read_exact(&mut buf[i..=i]).await?;
        if buf[i] & 0x80 == 0 {
            return unsigned_varint::decode::u64(&buf[..=i])
                .map(|(v, _)| v)
                .map_err(|e| WireError::Protocol(format!("bad varint: {e}")));
        }
    }
    Err(WireError::Protocol("varint too long".into()))
}

fn put_uvarint(out: &mut Vec<u8>, v: u64) {
    let mut buf = unsigned_varint::encode::u64_buffer();
    out.extend_from_slice(unsigned_varint::encode::u64(v, &mut buf));
}

/// Writes a want-list (and nothing else; the caller closes).
pub async fn write_request<W: AsyncWrite + Unpin>(
    w: &mut W,
    cids: &[Cid],
) -> Result<(), WireError> {
    if cids.len() > MAX_WANTS {
        return Err(WireError::Protocol(format!(
            "{} wants in one request (most {MAX_WANTS})",
            cids.len()
        )));
    }
    let mut out = Vec::with_capacity(8 + cids.len() * 40);
    put_uvarint(&mut out, cids.len() as u64);
    for c in cids {
        let b = c.to_bytes();
        put_uvarint(&mut out, b.len() as u64);
        out.extend_from_slice(&b);
    }
    w.write_all(&out).await?;
    w.flush().await?;
    Ok(())
}

/// Reads a want-list.
pub async fn read_request<R: AsyncRead + Unpin>(r: &mut R) -> Result<Vec<Cid>, WireError> {
    let n = read_uvarint(r).await? as usize;
    if n > MAX_WANTS {
        return Err(WireError::Protocol(format!(
            "{n} wants in one request (most {MAX_WANTS})"
        )));
    }
    let mut cids = Vec::with_capacity(n);
    for _ in 0..n {
        let len = read_uvarint(r).await? as usize;
        if len > MAX_CID_BYTES {
            return Err(WireError::Protocol(format!("a CID of {len} bytes")));
        }
        let mut b = vec![0u8; len];
        r.read_exact(&mut b).await?;
        let cid = Cid::try_from(b.as_slice())
            .map_err(|e| WireError::Protocol(format!("bad CID: {e}")))?;
        cids.push(cid);
    }
    Ok(cids)
}

/// Writes one answer.
pub async fn write_answer<W: AsyncWrite + Unpin>(
    w: &mut W,
    block: Option<&[u8]>,
) -> Result<(), WireError> {
    match block {
        None => w.write_all(&[HAVE_NOT]).await?,
        Some(data) => {
            let mut head = Vec::with_capacity(11);
            head.push(BLOCK);
            put_uvarint(&mut head, data.len() as u64);
            w.write_all(&head).await?;
            w.write_all(data).await?;
        }
    }
    Ok(())
}

/// Reads one answer; a block larger than [`MAX_BLOCK_BYTES`] is a protocol violation.
pub async fn read_answer<R: AsyncRead + Unpin>(r: &mut R) -> Result<Answer, WireError> {
    let mut tag = [0u8; 1];
    r.read_exact(&mut tag).await?;
    match tag[0] {
        HAVE_NOT => Ok(Answer::HaveNot),
        BLOCK => {
            let len = read_uvarint(r).await? as usize;
            if len > MAX_BLOCK_BYTES {
                return Err(WireError::Protocol(format!(
                    "a block of {len} bytes (most {MAX_BLOCK_BYTES})"
                )));
            }
            let mut data = vec![0u8; len];
            r.read_exact(&mut data).await?;
            Ok(Answer::Block(Bytes::from(data)))
        }
        t => Err(WireError::Protocol(format!("unknown answer tag {t}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wire_roundtrip_and_limits() {
        let c1 = crate::ipfs::hash::HashFn::Sha2_256.digest(b"a");
        let c1 = Cid::new_v1(crate::ipfs::hash::RAW, c1);
        let c2 = Cid::new_v0(crate::ipfs::hash::HashFn::Sha2_256.digest(b"b")).unwrap();
        let mut buf = Vec::new();
        write_request(&mut buf, &[c1, c2]).await.unwrap();
        write_answer(&mut buf, Some(b"hello")).await.unwrap();
        write_answer(&mut buf, None).await.unwrap();
        let mut r = futures::io::Cursor::new(buf);
        assert_eq!(read_request(&mut r).await.unwrap(), vec![c1, c2]);
        assert_eq!(
            read_answer(&mut r).await.unwrap(),
            Answer::Block(Bytes::from_static(b"hello"))
        );
        assert_eq!(read_answer(&mut r).await.unwrap(), Answer::HaveNot);
        assert!(matches!(read_answer(&mut r).await, Err(WireError::Io(_))));

        // too many wants, oversized block, unknown tag
        let mut big = Vec::new();
        put_uvarint(&mut big, MAX_WANTS as u64 + 1);
        assert!(matches!(
            read_request(&mut futures::io::Cursor::new(big)).await,
            Err(WireError::Protocol(_))
        ));
        let mut huge = vec![BLOCK];
        put_uvarint(&mut huge, MAX_BLOCK_BYTES as u64 + 1);
        assert!(matches!(
            read_answer(&mut futures::io::Cursor::new(huge)).await,
            Err(WireError::Protocol(_))
        ));
        assert!(matches!(
            read_answer(&mut futures::io::Cursor::new(vec![7u8])).await,
            Err(WireError::Protocol(_))
        ));
    }
}
