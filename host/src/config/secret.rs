//! Values that must never reach a log: the cluster secret, the REST API passwords and private
//! keys, and the masking used by the display form of the configuration.
//!
//! * [`ClusterSecret`]: the 32-byte pre-shared key of the libp2p private network, written in
//!   `service.json` as 64 hex characters (lowercase, as Go's `hex.EncodeToString`; uppercase is
//!   accepted on input, as Go's `hex.DecodeString` does). An *empty* secret is legal in IPFS
//!   Cluster and means "no private network"; Pinfold keeps that meaning (`Option<ClusterSecret>`
//!   = `None`) and the loader warns loudly about it. `Debug` and `Display` print
//!   `XXX_hidden_XXX`; the hex form is only reachable through [`ClusterSecret::expose_hex`], so a
//!   leak has to be spelled out.
//! * [`BasicAuthCredentials`]: user → password map of `api.restapi.basic_auth_credentials`;
//!   `Debug` lists user names only.
//! * Masking: serializing inside [`masked`] writes every secret-bearing value as
//!   `"XXX_hidden_XXX"`, exactly as Go's `ToDisplayJSON` does for its `hidden:"true"` fields.
//!   The flag is thread-local and scoped by a guard, so the one ordered serializer of each
//!   section serves both the file and the display form (serde has no serialization context; a
//!   second hand-written "display" serializer per section would drift from the real one).
//!
//! Trade-off: secrets are plain heap/stack bytes, not zeroized on drop (no zeroize dependency);
//! the process that holds them also holds the libp2p keys, so this buys little.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};

use crate::gocompat::hex;

/// The text that replaces every hidden value in the display form.
pub const HIDDEN: &str = "XXX_hidden_XXX";

thread_local! {
    static MASKING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with masking on: hidden values serialize as [`HIDDEN`].
pub(crate) fn masked<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            MASKING.with(|m| m.set(self.0));
        }
    }
    let _reset = Reset(MASKING.with(|m| m.replace(true)));
    f()
}

pub(crate) fn masking() -> bool {
    MASKING.with(|m| m.get())
}

/// The cluster secret: 32 bytes, the libp2p private-network key.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterSecret([u8; 32]);

impl ClusterSecret {
    /// 32 random bytes from the operating system's generator.
    pub fn generate() -> ClusterSecret {
        use rand::RngCore;
        let mut b = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut b);
        ClusterSecret(b)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> ClusterSecret {
        ClusterSecret(bytes)
    }

    /// Parses the `service.json` form. `Ok(None)` for the empty string (no private network).
    /// The error never repeats the input.
    pub fn parse_hex(s: &str) -> Result<Option<ClusterSecret>, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        let bytes = hex::decode(s).map_err(|_| {
            format!(
                "must be 64 hexadecimal characters (32 bytes), or empty for no private network; got {} characters that are not all hexadecimal",
                s.len()
            )
        })?;
        let arr: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!(
                "must be 64 hexadecimal characters (32 bytes), or empty for no private network; got {} characters ({} bytes)",
                s.len(),
                b.len()
            )
        })?;
        Ok(Some(ClusterSecret(arr)))
    }

    /// The 32 key bytes (for the pnet handshake).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The lowercase hex form written to `service.json`. Named so that a leak is deliberate.
    pub fn expose_hex(&self) -> String {
        hex::encode(&self.0)
    }
}

impl fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClusterSecret({HIDDEN})")
    }
}

impl fmt::Display for ClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(HIDDEN)
    }
}

/// Serde for `cluster.secret`: hex, `""` when absent, masked in the display form.
pub(crate) mod secret_serde {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<ClusterSecret>, s: S) -> Result<S::Ok, S::Error> {
        if masking() {
            return s.serialize_str(HIDDEN);
        }
        match v {
            Some(secret) => s.serialize_str(&secret.expose_hex()),
            None => s.serialize_str(""),
        }
    }
}

/// REST API users and their passwords (`basic_auth_credentials`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct BasicAuthCredentials(BTreeMap<String, String>);

impl BasicAuthCredentials {
    pub fn new(map: BTreeMap<String, String>) -> BasicAuthCredentials {
        BasicAuthCredentials(map)
    }

    /// The password of `user`, if `user` is configured.
    pub fn password(&self, user: &str) -> Option<&str> {
        self.0.get(user).map(String::as_str)
    }

    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// All (user, password) pairs; for the authentication layer only.
    pub fn expose(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn insert(&mut self, user: String, password: String) {
        self.0.insert(user, password);
    }
}

impl fmt::Debug for BasicAuthCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, HIDDEN)))
            .finish()
    }
}

/// Serde for `basic_auth_credentials`: `null` or the map, masked in the display form.
pub(crate) mod credentials_serde {
    use super::*;

    pub fn serialize<S: Serializer>(
        v: &Option<BasicAuthCredentials>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        if masking() {
            return s.serialize_str(HIDDEN);
        }
        match v {
            Some(c) => c.0.serialize(s),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hex_round_trip_and_never_printed() {
        let hex = "2588b80d5cb05374fa142aed6cbb047d1f4ef8ef15e37eba68c65b9d30df67ed";
        let s = ClusterSecret::parse_hex(hex).unwrap().unwrap();
        assert_eq!(s.expose_hex(), hex);
        assert_eq!(
            ClusterSecret::parse_hex(&hex.to_uppercase())
                .unwrap()
                .unwrap(),
            s
        );
        assert!(!format!("{s:?}").contains("2588"));
        assert!(!format!("{s}").contains("2588"));
        assert_eq!(ClusterSecret::parse_hex("").unwrap(), None);
        let short = ClusterSecret::parse_hex("abcd").unwrap_err();
        assert!(short.contains("64 hexadecimal"), "{short}");
        assert!(!short.contains("abcd"));
        let bad = ClusterSecret::parse_hex(&"zz".repeat(32)).unwrap_err();
        assert!(bad.contains("not all hexadecimal"), "{bad}");
        assert_ne!(ClusterSecret::generate(), ClusterSecret::generate());
    }

    #[test]
    fn credentials_debug_hides_passwords() {
        let mut c = BasicAuthCredentials::default();
        c.insert("alice".into(), "s3cret-pw".into());
        let d = format!("{c:?}");
        assert!(d.contains("alice") && !d.contains("s3cret-pw"), "{d}");
    }

    #[test]
    fn masking_is_scoped() {
        #[derive(Serialize)]
        struct T {
            #[serde(with = "secret_serde")]
            s: Option<ClusterSecret>,
        }
        let t = T {
            s: Some(ClusterSecret::from_bytes([1; 32])),
        };
        let plain = serde_json::to_string(&t).unwrap();
        assert!(plain.contains("0101"));
        let shown = masked(|| serde_json::to_string(&t).unwrap());
        assert_eq!(shown, r#"{"s":"XXX_hidden_XXX"}"#);
        assert!(!masking());
    }
}
