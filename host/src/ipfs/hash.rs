//! Multihash functions and multicodec constants used by the embedded IPFS node.
//!
//! This module owns the mapping between Kubo's hash-function names (`--hash=sha2-256`), their
//! multihash codes, and the actual digest implementations. It deliberately does not go through
//! `multihash-codetable`: the six functions Kubo users actually pick are computed directly with
//! the RustCrypto crates (`sha2`, `sha3`, `blake2`), which keeps the dependency set small and
//! lets `sha2` use SHA-NI / ARMv8 crypto extensions through runtime CPU detection. That matters
//! because hashing dominates `ipfs add`: every byte of a file is hashed exactly once, as part of
//! the leaf block that carries it.
//!
//! Defaults and rules:
//! - [`HashFn::Sha2_256`] is Kubo's default and the only function CIDv0 can carry; choosing any
//!   other function implies CIDv1 (that rule lives in `unixfs::file::ImportOptions::resolve`).
//! - Names are matched case-insensitively, as Kubo lower-cases `--hash` before looking it up.
//! - Digests are always full length. Truncated multihashes (a multihash whose declared size is
//!   shorter than the function's output) are accepted by [`verify`], which compares the prefix,
//!   because go-multihash can produce them; longer-than-output sizes are an error.
//! - The identity multihash (code 0x00) is only understood by [`verify`] (its digest is the data
//!   itself); it is never used to produce blocks here. Inlining small blocks (`--inline`) is a
//!   concern of the caller.
//!
//! Trade-off: an unknown multihash code is reported as an error by [`verify`] rather than as
//! "not matching", so callers can tell "corrupt block" apart from "we cannot check this block".

use blake2::Blake2b;
use blake2::digest::consts::{U32, U64};
use sha2::Digest;

/// A multihash with room for a 64-byte digest (the largest we produce: sha2-512, sha3-512,
/// blake2b-512).
pub type Multihash = multihash::Multihash<64>;

/// Multicodec code of raw binary blocks.
pub const RAW: u64 = 0x55;
/// Multicodec code of dag-pb (MerkleDAG protobuf) blocks.
pub const DAG_PB: u64 = 0x70;
/// Multicodec code of dag-cbor blocks.
pub const DAG_CBOR: u64 = 0x71;
/// Multicodec code of dag-json blocks.
pub const DAG_JSON: u64 = 0x0129;
/// Multihash code of the identity "hash" (the digest is the data).
pub const IDENTITY: u64 = 0x00;

/// Errors from [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The CID uses a multihash function this node does not implement.
    #[error("unsupported multihash function code 0x{0:x}")]
    UnsupportedCode(u64),
    /// The multihash declares a digest longer than its function produces.
    #[error("multihash digest length {len} is invalid for {name}")]
    InvalidDigestLength {
        /// Kubo name of the function.
        name: &'static str,
        /// Declared digest length.
        len: usize,
    },
}

/// The hash functions accepted for `--hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashFn {
    /// sha2-256 (0x12), Kubo's default.
    Sha2_256,
    /// sha2-512 (0x13).
    Sha2_512,
    /// sha3-256 (0x16).
    Sha3_256,
    /// sha3-512 (0x14).
    Sha3_512,
    /// blake2b-256 (0xb220).
    Blake2b256,
    /// blake2b-512 (0xb240).
    Blake2b512,
}

const ALL: [HashFn; 6] = [
    HashFn::Sha2_256,
    HashFn::Sha2_512,
    HashFn::Sha3_256,
    HashFn::Sha3_512,
    HashFn::Blake2b256,
    HashFn::Blake2b512,
];

impl HashFn {
    /// Looks up a Kubo hash-function name (case-insensitive), e.g. `"sha2-256"`.
    pub fn from_name(name: &str) -> Option<HashFn> {
        ALL.into_iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
    }

    /// The Kubo / multihash table name of this function.
    pub fn name(self) -> &'static str {
        match self {
            HashFn::Sha2_256 => "sha2-256",
            HashFn::Sha2_512 => "sha2-512",
            HashFn::Sha3_256 => "sha3-256",
            HashFn::Sha3_512 => "sha3-512",
            HashFn::Blake2b256 => "blake2b-256",
            HashFn::Blake2b512 => "blake2b-512",
        }
    }

    /// The multihash code of this function.
    pub fn code(self) -> u64 {
        match self {
            HashFn::Sha2_256 => 0x12,
            HashFn::Sha2_512 => 0x13,
            HashFn::Sha3_256 => 0x16,
            HashFn::Sha3_512 => 0x14,
            HashFn::Blake2b256 => 0xb220,
            HashFn::Blake2b512 => 0xb240,
        }
    }

    /// The function with this multihash code, if we implement it.
    pub fn from_code(code: u64) -> Option<HashFn> {
        ALL.into_iter().find(|h| h.code() == code)
    }

    /// Output length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashFn::Sha2_256 | HashFn::Sha3_256 | HashFn::Blake2b256 => 32,
            HashFn::Sha2_512 | HashFn::Sha3_512 | HashFn::Blake2b512 => 64,
        }
    }

    /// Hashes `data` and wraps the digest as a multihash.
    pub fn digest(self, data: &[u8]) -> Multihash {
        let code = self.code();
        let wrapped = match self {
            HashFn::Sha2_256 => Multihash::wrap(code, &sha2::Sha256::digest(data)),
            HashFn::Sha2_512 => Multihash::wrap(code, &sha2::Sha512::digest(data)),
            HashFn::Sha3_256 => Multihash::wrap(code, &sha3::Sha3_256::digest(data)),
            HashFn::Sha3_512 => Multihash::wrap(code, &sha3::Sha3_512::digest(data)),
            HashFn::Blake2b256 => Multihash::wrap(code, &Blake2b::<U32>::digest(data)),
            HashFn::Blake2b512 => Multihash::wrap(code, &Blake2b::<U64>::digest(data)),
        };
        // Every digest above is at most 64 bytes, which is exactly what `Multihash` holds.
        wrapped.expect("digest fits in a 64-byte multihash")
    }
}

impl std::fmt::Display for HashFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Returns true when `data` hashes to `cid`'s multihash. For the identity multihash the digest
/// must equal `data`. Unknown hash codes are an error, not a mismatch.
pub fn verify(cid: &cid::Cid, data: &[u8]) -> Result<bool, HashError> {
    let mh = cid.hash();
    if mh.code() == IDENTITY {
        return Ok(mh.digest() == data);
    }
    let f = HashFn::from_code(mh.code()).ok_or(HashError::UnsupportedCode(mh.code()))?;
    let want = mh.digest();
    if want.len() > f.digest_len() {
        return Err(HashError::InvalidDigestLength {
            name: f.name(),
            len: want.len(),
        });
    }
    let got = f.digest(data);
    Ok(&got.digest()[..want.len()] == want)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn names_and_codes_roundtrip() {
        for h in ALL {
            assert_eq!(HashFn::from_name(h.name()), Some(h));
            assert_eq!(HashFn::from_code(h.code()), Some(h));
            assert_eq!(h.digest(b"").size() as usize, h.digest_len());
        }
        assert_eq!(HashFn::from_name("SHA2-256"), Some(HashFn::Sha2_256));
        assert_eq!(HashFn::from_name("sha256"), None);
        assert_eq!(HashFn::from_name("identity"), None);
        assert_eq!(HashFn::from_code(0x1e), None);
    }

    #[test]
    fn known_digests() {
        // Standard test vectors for "abc".
        assert_eq!(
            hex(HashFn::Sha2_256.digest(b"abc").digest()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(HashFn::Sha3_256.digest(b"abc").digest()),
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
        );
        assert_eq!(
            hex(HashFn::Blake2b512.digest(b"abc").digest()),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1\
             7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
        );
        assert_eq!(
            hex(HashFn::Blake2b256.digest(b"abc").digest()),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"
        );
    }

    #[test]
    fn verify_cids() {
        let data = b"hello world";
        for h in ALL {
            let cid = cid::Cid::new_v1(RAW, h.digest(data));
            assert_eq!(verify(&cid, data), Ok(true), "{h}");
            assert_eq!(verify(&cid, b"hello worle"), Ok(false), "{h}");
        }
        let id = cid::Cid::new_v1(RAW, Multihash::wrap(IDENTITY, data).unwrap());
        assert_eq!(verify(&id, data), Ok(true));
        assert_eq!(verify(&id, b"x"), Ok(false));
        let unknown = cid::Cid::new_v1(RAW, Multihash::wrap(0x1e, &[0; 32]).unwrap());
        assert_eq!(
            verify(&unknown, data),
            Err(HashError::UnsupportedCode(0x1e))
        );
        // A truncated sha2-256 multihash verifies against the digest prefix.
        let full = HashFn::Sha2_256.digest(data);
        let short = cid::Cid::new_v1(RAW, Multihash::wrap(0x12, &full.digest()[..20]).unwrap());
        assert_eq!(verify(&short, data), Ok(true));
        let long = cid::Cid::new_v1(RAW, Multihash::wrap(0x12, &[0; 40]).unwrap());
        assert!(matches!(
            verify(&long, data),
            Err(HashError::InvalidDigestLength { .. })
        ));
    }
}
