//! Temporary stand-in with the agreed API; replaced by the full module from the unixfs branch.
use cid::Cid;
use sha2::Digest;
pub type Multihash = multihash::Multihash<64>;
pub const RAW: u64 = 0x55;
pub const DAG_PB: u64 = 0x70;
pub const DAG_CBOR: u64 = 0x71;
pub const DAG_JSON: u64 = 0x0129;
pub const IDENTITY: u64 = 0x00;
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashFn {
    Sha2_256,
}
#[derive(Debug, thiserror::Error)]
#[error("unsupported hash function 0x{0:x}")]
pub struct HashError(pub u64);
impl HashFn {
    pub fn from_name(name: &str) -> Option<HashFn> {
        (name == "sha2-256").then_some(HashFn::Sha2_256)
    }
    pub fn name(self) -> &'static str {
        "sha2-256"
    }
    pub fn code(self) -> u64 {
        0x12
    }
    pub fn from_code(code: u64) -> Option<HashFn> {
        (code == 0x12).then_some(HashFn::Sha2_256)
    }
    pub fn digest(self, data: &[u8]) -> Multihash {
        Multihash::wrap(0x12, &sha2::Sha256::digest(data)).expect("32 bytes")
    }
}
pub fn verify(cid: &Cid, data: &[u8]) -> Result<bool, HashError> {
    let mh = cid.hash();
    if mh.code() == IDENTITY {
        return Ok(mh.digest() == data);
    }
    let f = HashFn::from_code(mh.code()).ok_or(HashError(mh.code()))?;
    Ok(f.digest(data) == *mh)
}
