//! # authz-default: IPFS Cluster's documented access rules, done safely
//!
//! The default authorization plugin of Pinfold (world `authorizer`). Per endpoint:
//!
//! * **REST API and libp2p API** — open unless `basic_auth_credentials` is set. Then every
//!   request but `OPTIONS` (any) and `GET /health` needs `Authorization: Basic` of a
//!   configured user (compared in constant time, unlike Go) or a valid bearer token, and the
//!   refusals are IPFS Cluster's, word for word: `unauthorized: access denied` with
//!   `WWW-Authenticate: Basic realm="Restricted IPFS Cluster API"`, `unauthorized: invalid
//!   token` with `Bearer realm="…", error="invalid_token"`, and `unauthorized: no auth
//!   provided` with both challenges (Bearer, then Basic).
//! * **IPFS proxy** — open (it listens on loopback) unless `ipfs_proxy_credentials` is set;
//!   then the same rules with those users.
//! * **Pinning Service API** — a valid bearer token is required on every request but
//!   `OPTIONS`; without `tokens` configured nothing is accepted.
//! * **Cluster RPC** — by method, IPFS Cluster's `DefaultRPCPolicy` (v1.1.6): *open* methods
//!   for any connected peer, *trusted* ones for trusted peers, *closed* ones never from a
//!   remote peer; calls from this peer itself are allowed; a method not in the table is
//!   refused (as Go). Refused with Go's gorpc text: `client does not have permissions to this
//!   method, service name: S, method name: M`.
//!
//! ## Configuration (JSON)
//! ```json
//! {
//!   "basic_auth_credentials": { "alice": "sha256:<hex sha256(password)>",
//!                               "bob": "sha256-salted:<hex salt>:<hex sha256(salt || password)>" },
//!   "ipfs_proxy_credentials": null,
//!   "tokens": { "keys": { "k1": "<hex, at least 32 bytes>" },
//!               "revoked": ["<jti>", "..."],
//!               "clock_skew_seconds": 60 }
//! }
//! ```
//! Every key is optional; `null` or absent credentials leave that endpoint open. A present
//! credentials map must have at least one entry (IPFS Cluster's rule). Passwords are never
//! in the configuration, only their digests: the daemon hashes the plaintext
//! `basic_auth_credentials` of `service.json` (`sha256:`) before handing them over, and an
//! operator may write salted digests directly. Unknown keys are errors (typos must not open
//! anything).
//!
//! ## Tokens
//! Pinfold tokens ([`pinfold_plugin_sdk::token`]): HS256 JWS with `kid`, `iss`, `iat`, `exp`,
//! `jti` and optional `ten`. A token is accepted when it verifies under one of `tokens.keys`,
//! has not expired, its `jti` is not in `tokens.revoked`, and its `iss` is a configured user
//! of the endpoint (when the endpoint has users). The grant's principal is `iss` and its
//! tenant `ten`.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use pinfold_plugin_sdk::types::{
    AuthChallenge, AuthzRequest, Credentials, Decision, EndpointKind, Grant, Level, PeerTrust,
};
use pinfold_plugin_sdk::{Authorizer, Plugin, host, token};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

mod rpc_policy;
pub use rpc_policy::{RpcAccess, rpc_access};

/// The realm of every `WWW-Authenticate` challenge (IPFS Cluster's text).
pub const REALM: &str = "Restricted IPFS Cluster API";

const SCHEMA: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "authz-default configuration",
  "type": "object",
  "additionalProperties": false,
  "$defs": {
    "credentials": {
      "type": ["object", "null"],
      "minProperties": 1,
      "additionalProperties": {
        "type": "string",
        "pattern": "^(sha256:[0-9a-fA-F]{64}|sha256-salted:[0-9a-fA-F]+:[0-9a-fA-F]{64})$"
      }
    }
  },
  "properties": {
    "basic_auth_credentials": { "$ref": "#/$defs/credentials" },
    "ipfs_proxy_credentials": { "$ref": "#/$defs/credentials" },
    "tokens": {
      "type": ["object", "null"],
      "additionalProperties": false,
      "required": ["keys"],
      "properties": {
        "keys": {
          "type": "object",
          "minProperties": 1,
          "additionalProperties": { "type": "string", "pattern": "^([0-9a-fA-F]{2}){32,}$" }
        },
        "revoked": { "type": "array", "items": { "type": "string" } },
        "clock_skew_seconds": { "type": "integer", "minimum": 0, "maximum": 3600 }
      }
    }
  }
}"##;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    basic_auth_credentials: Option<BTreeMap<String, String>>,
    #[serde(default)]
    ipfs_proxy_credentials: Option<BTreeMap<String, String>>,
    #[serde(default)]
    tokens: Option<RawTokens>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokens {
    keys: BTreeMap<String, String>,
    #[serde(default)]
    revoked: Vec<String>,
    #[serde(default = "default_skew")]
    clock_skew_seconds: i64,
}

fn default_skew() -> i64 {
    60
}

/// One configured user: digests only.
#[derive(Clone)]
struct UserEntry {
    name: String,
    user_digest: [u8; 32],
    salt: Vec<u8>,
    password_digest: [u8; 32],
}

/// The users of one endpoint.
#[derive(Clone, Default)]
struct Users {
    entries: Vec<UserEntry>,
}

impl Users {
    fn parse(key: &str, map: &BTreeMap<String, String>) -> Result<Users, String> {
        if map.is_empty() {
            return Err(format!("{key} should be null or have at least one entry"));
        }
        let mut entries = Vec::new();
        for (name, spec) in map {
            if name.is_empty() {
                return Err(format!("{key}: a user name is empty"));
            }
            let bad = || {
                format!(
                    "{key}.{name}: expected \"sha256:<64 hex>\" or \"sha256-salted:<hex salt>:<64 hex>\""
                )
            };
            let (salt, digest) = if let Some(d) = spec.strip_prefix("sha256:") {
                (Vec::new(), d)
            } else if let Some(rest) = spec.strip_prefix("sha256-salted:") {
                let (s, d) = rest.split_once(':').ok_or_else(bad)?;
                let salt = from_hex(s).ok_or_else(bad)?;
                if salt.is_empty() {
                    return Err(bad());
                }
                (salt, d)
            } else {
                return Err(bad());
            };
            let password_digest: [u8; 32] = from_hex(digest)
                .and_then(|d| d.try_into().ok())
                .ok_or_else(bad)?;
            entries.push(UserEntry {
                name: name.clone(),
                user_digest: Sha256::digest(name.as_bytes()).into(),
                salt,
                password_digest,
            });
        }
        Ok(Users { entries })
    }

    /// The matching user, compared in constant time against every entry: the time depends on
    /// the number of users only, not on which user matched or how much of a password did.
    fn verify(&self, user: &str, password: &str) -> Option<&str> {
        if user.is_empty() || password.is_empty() {
            return None;
        }
        let u: [u8; 32] = Sha256::digest(user.as_bytes()).into();
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for (i, e) in self.entries.iter().enumerate() {
            let mut h = Sha256::new();
            h.update(&e.salt);
            h.update(password.as_bytes());
            let p: [u8; 32] = h.finalize().into();
            let hit = e.user_digest.ct_eq(&u) & e.password_digest.ct_eq(&p);
            index.conditional_assign(&(i as u64), hit);
            found |= hit;
        }
        bool::from(found).then(|| self.entries[index as usize].name.as_str())
    }

    fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|e| e.name == name)
    }
}

struct Tokens {
    keys: BTreeMap<String, Vec<u8>>,
    revoked: BTreeSet<String>,
    skew: i64,
}

/// The default authorization policy (see the crate docs).
pub struct DefaultAuthz {
    rest: Option<Users>,
    proxy: Option<Users>,
    tokens: Option<Tokens>,
}

impl Plugin for DefaultAuthz {
    fn config_schema() -> String {
        SCHEMA.to_string()
    }

    fn init(config_json: &str) -> Result<Self, String> {
        let value: serde_json::Value = serde_json::from_str(if config_json.trim().is_empty() {
            "{}"
        } else {
            config_json
        })
        .map_err(|e| format!("authz-default configuration: {e}"))?;
        if !value.is_object() {
            return Err("authz-default configuration: expected a JSON object".into());
        }
        let raw: RawConfig = serde_json::from_value(value)
            .map_err(|e| format!("authz-default configuration: {e}"))?;
        let rest = raw
            .basic_auth_credentials
            .as_ref()
            .map(|m| Users::parse("basic_auth_credentials", m))
            .transpose()?;
        let proxy = raw
            .ipfs_proxy_credentials
            .as_ref()
            .map(|m| Users::parse("ipfs_proxy_credentials", m))
            .transpose()?;
        let tokens = match raw.tokens {
            None => None,
            Some(t) => {
                if t.keys.is_empty() {
                    return Err("tokens.keys should have at least one entry".into());
                }
                if !(0..=3600).contains(&t.clock_skew_seconds) {
                    return Err("tokens.clock_skew_seconds must be within 0..=3600".into());
                }
                let mut keys = BTreeMap::new();
                for (kid, hex) in t.keys {
                    let key =
                        from_hex(&hex).ok_or_else(|| format!("tokens.keys.{kid}: not hex"))?;
                    if key.len() < token::MIN_KEY_LEN {
                        return Err(format!(
                            "tokens.keys.{kid}: a key must have at least {} bytes",
                            token::MIN_KEY_LEN
                        ));
                    }
                    keys.insert(kid, key);
                }
                Some(Tokens {
                    keys,
                    revoked: t.revoked.into_iter().collect(),
                    skew: t.clock_skew_seconds,
                })
            }
        };
        Ok(DefaultAuthz {
            rest,
            proxy,
            tokens,
        })
    }
}

impl Authorizer for DefaultAuthz {
    fn authorize(&self, req: &AuthzRequest) -> Decision {
        match req.endpoint {
            EndpointKind::Rest | EndpointKind::Libp2pApi => self.http(req, self.rest.as_ref()),
            EndpointKind::IpfsProxy => self.http(req, self.proxy.as_ref()),
            EndpointKind::PinningService => self.pinning_service(req),
            EndpointKind::ClusterRpc => cluster_rpc(req),
        }
    }
}

/// `Basic realm="…"[, error="…"]` (Go's `wwwAuthenticate`).
fn challenge_value(scheme: &str, error: &str) -> String {
    if error.is_empty() {
        format!("{scheme} realm=\"{REALM}\"")
    } else {
        format!("{scheme} realm=\"{REALM}\", error=\"{error}\"")
    }
}

fn challenge(reason: &str, values: Vec<String>) -> Decision {
    Decision::Challenge(AuthChallenge {
        www_authenticate: values,
        reason: reason.to_string(),
    })
}

fn access_denied() -> Decision {
    challenge(
        "unauthorized: access denied",
        vec![challenge_value("Basic", "")],
    )
}

fn invalid_token() -> Decision {
    challenge(
        "unauthorized: invalid token",
        vec![challenge_value("Bearer", "invalid_token")],
    )
}

fn no_auth() -> Decision {
    challenge(
        "unauthorized: no auth provided",
        vec![challenge_value("Bearer", ""), challenge_value("Basic", "")],
    )
}

/// Whether a raw `Authorization` value is a Basic one that Go's `Request.BasicAuth` would
/// accept as such (the host passes those as `other` when they do not decode to UTF-8).
fn is_undecodable_basic(raw: &str) -> bool {
    const PREFIX: &str = "Basic ";
    let Some(head) = raw.get(..PREFIX.len()) else {
        return false;
    };
    head.eq_ignore_ascii_case(PREFIX)
        && base64::engine::general_purpose::STANDARD
            .decode(&raw[PREFIX.len()..])
            .is_ok_and(|d| d.contains(&b':'))
}

impl DefaultAuthz {
    /// REST, libp2p API and IPFS proxy: IPFS Cluster's `authHandler`.
    fn http(&self, req: &AuthzRequest, users: Option<&Users>) -> Decision {
        let Some(users) = users else {
            return Decision::allow_anonymous();
        };
        if req.method == "OPTIONS" || (req.method == "GET" && req.path == "/health") {
            return Decision::allow_anonymous();
        }
        match &req.credentials {
            Credentials::Basic(b) => match users.verify(&b.user, &b.password) {
                Some(name) => Decision::allow_as(name),
                None => access_denied(),
            },
            Credentials::Bearer(t) => self.bearer(t, Some(users)),
            Credentials::Other(raw) if is_undecodable_basic(raw) => access_denied(),
            Credentials::Other(_) | Credentials::None => no_auth(),
        }
    }

    /// The Pinning Service API: a bearer token on everything but `OPTIONS`.
    fn pinning_service(&self, req: &AuthzRequest) -> Decision {
        if req.method == "OPTIONS" {
            return Decision::allow_anonymous();
        }
        match &req.credentials {
            Credentials::Bearer(t) => self.bearer(t, self.rest.as_ref()),
            Credentials::None => challenge(
                "unauthorized: no auth provided",
                vec![challenge_value("Bearer", "")],
            ),
            Credentials::Basic(_) | Credentials::Other(_) => challenge(
                "unauthorized: a bearer token is required",
                vec![challenge_value("Bearer", "invalid_request")],
            ),
        }
    }

    fn bearer(&self, raw: &str, users: Option<&Users>) -> Decision {
        let Some(tokens) = &self.tokens else {
            return invalid_token();
        };
        let claims = match token::verify(raw, &tokens.keys, host::now_unix_seconds(), tokens.skew) {
            Ok(c) => c,
            Err(e) => {
                host::log(Level::Debug, &format!("bearer token refused: {e}"));
                return invalid_token();
            }
        };
        if tokens.revoked.contains(&claims.jti) {
            host::log(Level::Debug, "bearer token refused: revoked");
            return invalid_token();
        }
        if users.is_some_and(|u| !u.contains(&claims.iss)) {
            host::log(
                Level::Debug,
                "bearer token refused: its issuer is not a user",
            );
            return invalid_token();
        }
        Decision::Allow(Grant {
            principal: Some(claims.iss),
            tenant: claims.ten,
        })
    }
}

/// Cluster RPC: IPFS Cluster's `RPCPolicy`.
fn cluster_rpc(req: &AuthzRequest) -> Decision {
    let (service, method) = req
        .operation
        .split_once('.')
        .unwrap_or((&req.operation, ""));
    let refuse = || {
        Decision::deny(
            403,
            format!(
                "client does not have permissions to this method, service name: {service}, method name: {method}"
            ),
        )
    };
    let Some(peer) = &req.remote_peer else {
        return refuse();
    };
    if peer.trust == PeerTrust::Local {
        return Decision::allow_as(peer.id.clone());
    }
    let allowed = match rpc_access(&req.operation) {
        Some(RpcAccess::Open) => true,
        Some(RpcAccess::Trusted) => peer.trust == PeerTrust::Trusted,
        Some(RpcAccess::Closed) | None => false,
    };
    if allowed {
        Decision::allow_as(peer.id.clone())
    } else {
        refuse()
    }
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

pinfold_plugin_sdk::export_authorizer!(DefaultAuthz);

#[cfg(test)]
mod tests;
