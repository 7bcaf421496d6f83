//! `identity.json`: the peer's libp2p identity, `{"id": "12D3KooW…", "private_key": "<base64>"}`
//! exactly as IPFS Cluster writes it (`config/identity.go`): the private key is the base64
//! (standard alphabet, padded) of libp2p's protobuf private-key encoding, the file is indented
//! with 4 spaces and written with mode 0600.
//!
//! * New identities are Ed25519 (IPFS Cluster's default too).
//! * Loading checks that `id` is the peer ID of `private_key`; a mismatch is an error (Go's
//!   `identity ID does not match the private_key`), never silently "fixed".
//! * `CLUSTER_ID` and `CLUSTER_PRIVATEKEY` override the file (Go's envconfig names), then the
//!   pair is checked again.
//! * Before identity.json existed, IPFS Cluster kept `id`/`private_key` in the `cluster`
//!   section of service.json; [`Identity::from_service_json`] reads them so the folder layer
//!   can extract them into identity.json, as Go does.
//! * `Debug` shows the peer ID only; the key is reachable through the field or
//!   [`Identity::private_key_base64`], never printed by accident.
//!
//! Limitation: only the key types compiled into `libp2p-identity` load (Ed25519 here). Old
//! IPFS Cluster identities are often RSA (e.g. the sharness fixtures); they fail with a message
//! saying so. Supporting them needs the crate's `rsa` feature (and RSA in the swarm).

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libp2p_identity::{Keypair, PeerId};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::env::Env;
use super::error::ConfigError;
use super::json::{Obj, parse_peer_id};
use super::secret::{HIDDEN, masking};

/// A peer's identity.
#[derive(Clone)]
pub struct Identity {
    pub id: PeerId,
    pub private_key: Keypair,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("id", &self.id)
            .field("private_key", &HIDDEN)
            .finish()
    }
}

impl PartialEq for Identity {
    fn eq(&self, other: &Identity) -> bool {
        self.id == other.id && self.private_key.public() == other.private_key.public()
    }
}

impl Identity {
    /// A new Ed25519 identity.
    pub fn generate() -> Identity {
        Identity::from_keypair(Keypair::generate_ed25519())
    }

    pub fn from_keypair(private_key: Keypair) -> Identity {
        Identity {
            id: private_key.public().to_peer_id(),
            private_key,
        }
    }

    /// Parses `identity.json` text and checks that the ID matches the key.
    pub fn from_json_str(text: &str) -> Result<Identity, ConfigError> {
        let v: Value = serde_json::from_str(text).map_err(|source| ConfigError::Json {
            path: "identity.json".into(),
            source,
        })?;
        let mut o = Obj::new("", &v)?;
        Identity::from_obj(&mut o, "")
    }

    /// Reads the legacy `cluster.id` / `cluster.private_key` of an old service.json.
    /// `Ok(None)` when they are absent.
    pub fn from_service_json(path: &Path) -> Result<Option<Identity>, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, e))?;
        let v: Value = serde_json::from_str(&text).map_err(|source| ConfigError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let Some(cluster) = v.get("cluster") else {
            return Ok(None);
        };
        if cluster.get("id").is_none() && cluster.get("private_key").is_none() {
            return Ok(None);
        }
        let mut o = Obj::new("cluster", cluster).map_err(|e| e.in_file(path))?;
        Identity::from_obj(&mut o, "cluster.")
            .map(Some)
            .map_err(|e| e.in_file(path))
    }

    fn from_obj(o: &mut Obj<'_>, prefix: &str) -> Result<Identity, ConfigError> {
        let field = |o: &mut Obj<'_>, k: &str| -> Result<String, ConfigError> {
            match o.value(k) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(other) if !other.is_string() => Err(ConfigError::invalid(
                    format!("{prefix}{k}"),
                    "expected a string",
                )),
                _ => Err(ConfigError::invalid(format!("{prefix}{k}"), "is missing")),
            }
        };
        let id = field(o, "id")?;
        let key = field(o, "private_key")?;
        let id = parse_peer_id(&id).map_err(|r| ConfigError::invalid(format!("{prefix}id"), r))?;
        let key = decode_private_key(&key)
            .map_err(|r| ConfigError::invalid(format!("{prefix}private_key"), r.to_string()))?;
        let ident = Identity {
            id,
            private_key: key,
        };
        ident
            .check()
            .map_err(|r| ConfigError::invalid(format!("{prefix}id"), r))?;
        Ok(ident)
    }

    /// Reads `path`, applies `CLUSTER_ID` / `CLUSTER_PRIVATEKEY`, checks the pair.
    pub fn load(path: &Path, env: Env<'_>) -> Result<Identity, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, e))?;
        let mut ident = Identity::from_json_str(&text).map_err(|e| match e {
            ConfigError::Json { source, .. } => ConfigError::Json {
                path: path.to_path_buf(),
                source,
            },
            other => other.in_file(path),
        })?;
        ident.apply_env(env)?;
        Ok(ident)
    }

    /// Applies `CLUSTER_ID` and `CLUSTER_PRIVATEKEY` (Go's names), then checks the pair.
    pub fn apply_env(&mut self, env: Env<'_>) -> Result<(), ConfigError> {
        let id = env("CLUSTER_ID").filter(|v| !v.is_empty());
        let key = env("CLUSTER_PRIVATEKEY").filter(|v| !v.is_empty());
        if let Some(v) = &id {
            self.id = parse_peer_id(v).map_err(|r| ConfigError::env("CLUSTER_ID", r))?;
        }
        if let Some(v) = &key {
            self.private_key = decode_private_key(v)
                .map_err(|r| ConfigError::env("CLUSTER_PRIVATEKEY", r.to_string()))?;
        }
        if id.is_some() || key.is_some() {
            let var = if id.is_some() {
                "CLUSTER_ID"
            } else {
                "CLUSTER_PRIVATEKEY"
            };
            self.check().map_err(|r| {
                ConfigError::env(
                    var,
                    format!("{r} (set CLUSTER_ID and CLUSTER_PRIVATEKEY together)"),
                )
            })?;
        }
        Ok(())
    }

    fn check(&self) -> Result<(), String> {
        let actual = self.private_key.public().to_peer_id();
        if actual != self.id {
            return Err(format!(
                "identity ID {} does not match the private_key (whose ID is {actual})",
                self.id
            ));
        }
        Ok(())
    }

    /// base64 of the protobuf private-key encoding (the `private_key` field).
    pub fn private_key_base64(&self) -> String {
        encode_private_key(&self.private_key)
    }

    /// `identity.json` text (4-space indentation, as Go writes it).
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Json<'a> {
            id: String,
            private_key: &'a str,
        }
        let key = self.private_key_base64();
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        Json {
            id: self.id.to_string(),
            private_key: &key,
        }
        .serialize(&mut ser)
        .expect("identity serializes");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    /// Writes `path` atomically with mode 0600 (folder 0700 if created).
    pub fn write(&self, path: &Path) -> Result<(), ConfigError> {
        super::folder::write_private(path, self.to_json().as_bytes())
    }
}

/// A private key held in `service.json` (`api.restapi.private_key`): base64 protobuf,
/// masked in the display form and in `Debug`.
#[derive(Clone)]
pub struct PrivateKey(Keypair);

impl PrivateKey {
    pub fn new(k: Keypair) -> PrivateKey {
        PrivateKey(k)
    }

    pub fn keypair(&self) -> &Keypair {
        &self.0
    }

    pub fn peer_id(&self) -> PeerId {
        self.0.public().to_peer_id()
    }

    pub fn from_base64(s: &str) -> Result<PrivateKey, KeyError> {
        decode_private_key(s).map(PrivateKey)
    }

    pub fn to_base64(&self) -> String {
        encode_private_key(&self.0)
    }
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &PrivateKey) -> bool {
        self.0.public() == other.0.public()
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({HIDDEN})")
    }
}

impl Serialize for PrivateKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if masking() {
            return s.serialize_str(HIDDEN);
        }
        s.serialize_str(&self.to_base64())
    }
}

fn encode_private_key(k: &Keypair) -> String {
    STANDARD.encode(
        k.to_protobuf_encoding()
            .expect("key types compiled in can be encoded"),
    )
}

/// Why a private key could not be read; the message never contains the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("is not valid base64 (expected the base64 of a libp2p protobuf private key)")]
    NotBase64,
    #[error(
        "is an RSA key; Pinfold supports Ed25519 keys only (create a new identity with \
         `pinfold init` after moving identity.json away)"
    )]
    Rsa,
    #[error("is a secp256k1/ECDSA key; Pinfold supports Ed25519 keys only")]
    NotEd25519,
    #[error("cannot be decoded as a libp2p private key: {0}")]
    Undecodable(#[source] libp2p_identity::DecodingError),
}

/// Decodes base64 protobuf; errors never contain the key.
fn decode_private_key(s: &str) -> Result<Keypair, KeyError> {
    let bytes = STANDARD.decode(s.trim()).map_err(|_| KeyError::NotBase64)?;
    Keypair::from_protobuf_encoding(&bytes).map_err(|e| {
        // Protobuf field 1 (key type) = 0 is RSA; 2 secp256k1; 3 ECDSA.
        match bytes.get(..2) {
            Some([0x08, 0]) => KeyError::Rsa,
            Some([0x08, 2]) | Some([0x08, 3]) => KeyError::NotEd25519,
            _ => KeyError::Undecodable(e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_go_shape() {
        let ident = Identity::generate();
        let text = ident.to_json();
        assert!(text.starts_with("{\n    \"id\": \"12D3KooW"), "{text}");
        let back = Identity::from_json_str(&text).unwrap();
        assert_eq!(back, ident);
        assert_eq!(back.private_key_base64(), ident.private_key_base64());
        // Ed25519 protobuf: type 1, 64 data bytes.
        let raw = STANDARD.decode(ident.private_key_base64()).unwrap();
        assert_eq!(&raw[..2], &[0x08, 0x01]);
    }

    #[test]
    fn debug_hides_the_key() {
        let ident = Identity::generate();
        let d = format!("{ident:?}");
        assert!(d.contains(&ident.id.to_string()));
        assert!(!d.contains(&ident.private_key_base64()));
        let k = PrivateKey::new(ident.private_key.clone());
        assert_eq!(format!("{k:?}"), "PrivateKey(XXX_hidden_XXX)");
    }

    #[test]
    fn mismatch_is_detected() {
        let a = Identity::generate();
        let b = Identity::generate();
        let text = format!(
            r#"{{"id": "{}", "private_key": "{}"}}"#,
            a.id,
            b.private_key_base64()
        );
        let e = Identity::from_json_str(&text).unwrap_err().to_string();
        assert!(e.starts_with("id: identity ID"), "{e}");
        assert!(e.contains("does not match the private_key"), "{e}");
        assert!(!e.contains(&b.private_key_base64()));
    }

    #[test]
    fn env_overrides_and_checks() {
        let mut a = Identity::generate();
        let b = Identity::generate();
        let (bid, bkey) = (b.id.to_string(), b.private_key_base64());
        a.apply_env(&|k| match k {
            "CLUSTER_ID" => Some(bid.clone()),
            "CLUSTER_PRIVATEKEY" => Some(bkey.clone()),
            _ => None,
        })
        .unwrap();
        assert_eq!(a, b);
        let mut c = Identity::generate();
        let e = c
            .apply_env(&|k| (k == "CLUSTER_PRIVATEKEY").then(|| bkey.clone()))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("CLUSTER_PRIVATEKEY: identity ID"), "{e}");
        let e = c
            .apply_env(&|k| (k == "CLUSTER_ID").then(|| "nope".into()))
            .unwrap_err();
        assert!(
            e.to_string().starts_with("CLUSTER_ID: invalid peer ID"),
            "{e}"
        );
    }

    #[test]
    fn rsa_keys_get_a_clear_error() {
        // Start of the sharness fixture identity (an RSA key); the rest is irrelevant.
        let e = decode_private_key("CAASqAkwggSkAgEAAoIBAQC/ZmfWDbwyI0nJdRxg").unwrap_err();
        assert!(matches!(e, KeyError::Rsa), "{e}");
        assert!(e.to_string().contains("RSA"), "{e}");
        let e = decode_private_key("!!").unwrap_err();
        assert!(e.to_string().contains("base64"), "{e}");
    }
}
