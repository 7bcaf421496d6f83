//! `POST /token` on the host side: the signing key, token issuance, and the revocation list.
//!
//! # Format
//! The tokens are the "pinfold tokens" the WIT `authorization` interface documents and the
//! guest SDK (`plugins/sdk/src/token.rs`) verifies: a compact JWS `B64(header) "."
//! B64(claims) "." B64(HMAC-SHA256)`, unpadded base64url, header
//! `{"alg":"HS256","typ":"JWT","kid":<key id>}`, claims `{"iss","iat","exp","jti"[,"ten"]}`.
//! The two sides are kept in agreement by a test that signs here and verifies with the
//! built-in `authz-default` plugin.
//!
//! # The key
//! 32 random bytes, kept as hex in `plugins.tokens.key_file` (`token.key` in the configuration
//! folder), created on first start with mode 0600 (a looser mode is warned about). Its key id
//! is the first 16 hex digits of its sha256, so replacing the file invalidates every token
//! issued under the old key. The key never reaches a log: [`TokenKey`]'s `Debug` prints the
//! key id only. It is handed to the authorization plugin in its configuration (the plugin
//! verifies the HMAC, comparing in constant time).
//!
//! # Revocation: what Go does and what Pinfold does
//! IPFS Cluster signs a token with the *user's password* and puts no expiry in it: a token is
//! valid forever and the only way to revoke it is to change that user's password (which
//! revokes all of them). Pinfold's tokens expire (`plugins.tokens.lifetime`, 24 h by default)
//! and can be revoked one by one: `DELETE /token/{id}` (the `jti`, returned as `id` by
//! `POST /token`) adds the id to `plugins.tokens.revocations_file` (JSON, written atomically)
//! and reloads the authorization plugin with the id in its `tokens.revoked` list (a new
//! plugin version fully loaded before the swap, as any reload). An id stays in the list for
//! [`REVOCATION_KEEP`] (the longest possible lifetime), then is pruned: by then the token has
//! expired anyway. Rotating the key file revokes everything at once.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::plugins::MAX_TOKEN_LIFETIME;
use crate::gocompat::hex;

/// How long a revoked id is remembered.
pub const REVOCATION_KEEP: Duration = MAX_TOKEN_LIFETIME;

/// Key length, bytes.
pub const KEY_LEN: usize = 32;

/// Token errors (key file, revocation file).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TokenError + '_ {
    move |source| TokenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The HS256 signing key.
#[derive(Clone)]
pub struct TokenKey {
    kid: String,
    key: Vec<u8>,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenKey {
    /// A key from its bytes.
    pub fn from_bytes(key: Vec<u8>) -> TokenKey {
        let digest = Sha256::digest(&key);
        let kid = hex::encode(&digest[..8]);
        TokenKey { kid, key }
    }

    /// A fresh random key (not saved).
    pub fn generate() -> TokenKey {
        let mut key = vec![0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        TokenKey::from_bytes(key)
    }

    /// Reads the key file, or creates it (mode 0600) with a fresh key.
    pub fn load_or_create(path: &Path) -> Result<TokenKey, TokenError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                warn_if_loose(path);
                let bytes = hex::decode(text.trim()).map_err(|_| TokenError::Invalid {
                    path: path.to_path_buf(),
                    reason: "expected the key as hexadecimal digits".into(),
                })?;
                if bytes.len() < KEY_LEN {
                    return Err(TokenError::Invalid {
                        path: path.to_path_buf(),
                        reason: format!("the key must have at least {KEY_LEN} bytes"),
                    });
                }
                Ok(TokenKey::from_bytes(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = TokenKey::generate();
                write_private(path, format!("{}\n", hex::encode(&key.key)).as_bytes())?;
                tracing::info!(path = %path.display(), kid = %key.kid, "created the token signing key");
                Ok(key)
            }
            Err(e) => Err(io(path)(e)),
        }
    }

    /// The key id (`kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key as hex, for the authorization plugin's configuration. Never log it.
    pub(crate) fn expose_hex(&self) -> String {
        hex::encode(&self.key)
    }

    /// Signs `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        #[derive(Serialize)]
        struct Header<'a> {
            alg: &'a str,
            typ: &'a str,
            kid: &'a str,
        }
        let header = Header {
            alg: "HS256",
            typ: "JWT",
            kid: &self.kid,
        };
        let h = serde_json::to_vec(&header).expect("header serializes");
        let c = serde_json::to_vec(claims).expect("claims serialize");
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(h),
            URL_SAFE_NO_PAD.encode(c)
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(input.as_bytes());
        let sig = mac.finalize().into_bytes();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// A new token for `user`, valid for `lifetime` from now.
    pub fn issue(&self, user: &str, tenant: Option<&str>, lifetime: Duration) -> Issued {
        let now = unix_now();
        let mut jti = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut jti);
        let claims = Claims {
            iss: user.to_string(),
            iat: now,
            exp: now.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)),
            jti: hex::encode(&jti),
            ten: tenant.map(str::to_string),
        };
        Issued {
            token: self.sign(&claims),
            claims,
        }
    }
}

/// A token's claims (the SDK's `Claims`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ten: Option<String>,
}

/// A token just issued.
#[derive(Clone)]
pub struct Issued {
    pub token: String,
    pub claims: Claims,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// The revoked token ids, persisted.
#[derive(Debug, Clone, Default)]
pub struct Revocations {
    path: Option<PathBuf>,
    /// jti → Unix seconds after which the entry can be forgotten.
    entries: BTreeMap<String, i64>,
}

#[derive(Serialize, Deserialize)]
struct RevocationFile {
    revoked: Vec<RevocationEntry>,
}

#[derive(Serialize, Deserialize)]
struct RevocationEntry {
    id: String,
    forget_after: i64,
}

impl Revocations {
    /// An in-memory list (nothing persisted).
    pub fn in_memory() -> Revocations {
        Revocations::default()
    }

    /// Loads the list (absent file = empty), dropping entries past their time.
    pub fn load(path: &Path) -> Result<Revocations, TokenError> {
        let mut r = Revocations {
            path: Some(path.to_path_buf()),
            entries: BTreeMap::new(),
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let f: RevocationFile =
                    serde_json::from_slice(&bytes).map_err(|e| TokenError::Invalid {
                        path: path.to_path_buf(),
                        reason: e.to_string(),
                    })?;
                r.entries = f
                    .revoked
                    .into_iter()
                    .map(|e| (e.id, e.forget_after))
                    .collect();
                r.prune();
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(path)(e)),
        }
        Ok(r)
    }

    fn prune(&mut self) {
        let now = unix_now();
        self.entries.retain(|_, forget| *forget > now);
    }

    /// The ids, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    /// The list with `id` added (not saved); `self` is unchanged.
    pub fn with(&self, id: &str) -> Revocations {
        let mut r = self.clone();
        r.prune();
        let keep = i64::try_from(REVOCATION_KEEP.as_secs()).unwrap_or(i64::MAX);
        r.entries
            .insert(id.to_string(), unix_now().saturating_add(keep));
        r
    }

    /// Writes the list (atomically: a temporary file renamed over the old one).
    pub fn save(&self) -> Result<(), TokenError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let f = RevocationFile {
            revoked: self
                .entries
                .iter()
                .map(|(id, forget_after)| RevocationEntry {
                    id: id.clone(),
                    forget_after: *forget_after,
                })
                .collect(),
        };
        let mut text = serde_json::to_vec_pretty(&f).expect("revocations serialize");
        text.push(b'\n');
        write_private(path, &text)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder, mode 0600.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TokenError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn warn_if_loose(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path)
        && m.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", m.permissions().mode() & 0o777),
            "the token signing key is readable by other users: chmod 600 it"
        );
    }
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn key_file_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.key");
        let a = TokenKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = TokenKey::load_or_create(&path).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.expose_hex(), b.expose_hex());
        assert!(!format!("{a:?}").contains(&a.expose_hex()));
        std::fs::write(&path, "abcd").unwrap();
        assert!(TokenKey::load_or_create(&path).is_err());
    }

    #[test]
    fn tokens_have_three_parts_and_the_claims() {
        let k = TokenKey::generate();
        let t = k.issue("alice", None, Duration::from_secs(60));
        assert_eq!(t.token.split('.').count(), 3);
        assert_eq!(t.claims.exp - t.claims.iat, 60);
        assert_eq!(t.claims.jti.len(), 32);
        let other = k.issue("alice", None, Duration::from_secs(60));
        assert_ne!(t.claims.jti, other.claims.jti);
    }

    #[test]
    fn revocations_persist_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revoked.json");
        let r = Revocations::load(&path).unwrap().with("abc");
        r.save().unwrap();
        let r = Revocations::load(&path).unwrap();
        assert!(r.contains("abc"));
        std::fs::write(
            &path,
            r#"{"revoked":[{"id":"old","forget_after":1},{"id":"new","forget_after":99999999999}]}"#,
        )
        .unwrap();
        assert_eq!(Revocations::load(&path).unwrap().ids(), vec!["new"]);
    }
}
