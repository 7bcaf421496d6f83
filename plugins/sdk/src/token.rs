//! Pinfold bearer tokens: the format the daemon issues (`POST /token`) and the authorization
//! plugin verifies.
//!
//! A token is a compact JWS (a JWT): `B64(header) "." B64(claims) "." B64(signature)`, where
//! `B64` is unpadded base64url, the header is `{"alg":"HS256","typ":"JWT","kid":"<key id>"}`,
//! the claims are `{"iss":"<user>","iat":<unix s>,"exp":<unix s>,"jti":"<unique id>"}` plus an
//! optional `"ten":"<tenant>"`, and the signature is HMAC-SHA256 over the first two parts
//! (with their dot) under the key named `kid`.
//!
//! [`verify`] accepts a token only when it has exactly three well-formed parts, the header's
//! `alg` is `HS256` (nothing else, never `none`), its `kid` names a known key, the signature
//! matches (compared in constant time), `iss` and `jti` are non-empty, `exp` is later than
//! now, and `iat` is not later than now plus the allowed clock skew. Revocation (a list of
//! `jti`) is the verifier's policy, applied to the claims it returns.
//!
//! Unlike IPFS Cluster's tokens (HS256 keyed with the user's password, no expiry), these
//! expire, can be revoked one by one, and their key is not a password.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The smallest key length [`sign`] and key configuration accept, in bytes.
pub const MIN_KEY_LEN: usize = 32;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user the token was issued to.
    pub iss: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds (the token is invalid from this second on).
    pub exp: i64,
    /// A unique id, the handle for revocation.
    pub jti: String,
    /// The tenant the token is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ten: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    kid: String,
}

/// Why a token was refused. The text never contains the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    Malformed,
    /// `alg` is not `HS256`.
    Algorithm,
    /// `kid` names no configured key.
    UnknownKey,
    /// The signature does not match.
    Signature,
    /// `iss` or `jti` is empty.
    MissingClaim,
    /// `exp` is not after now.
    Expired,
    /// `iat` is in the future.
    NotYetValid,
    /// The key is shorter than [`MIN_KEY_LEN`] (signing only).
    WeakKey,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenError::Malformed => "malformed token",
            TokenError::Algorithm => "unsupported token algorithm",
            TokenError::UnknownKey => "unknown token key",
            TokenError::Signature => "bad token signature",
            TokenError::MissingClaim => "token lacks iss or jti",
            TokenError::Expired => "token expired",
            TokenError::NotYetValid => "token issued in the future",
            TokenError::WeakKey => "token key shorter than 32 bytes",
        })
    }
}

impl std::error::Error for TokenError {}

/// Signs `claims` with `key`, naming it `kid` in the header.
pub fn sign(kid: &str, key: &[u8], claims: &Claims) -> Result<String, TokenError> {
    if key.len() < MIN_KEY_LEN {
        return Err(TokenError::WeakKey);
    }
    let header = Header {
        alg: "HS256".into(),
        typ: Some("JWT".into()),
        kid: kid.into(),
    };
    let enc = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
    let h = serde_json::to_vec(&header).map_err(|_| TokenError::Malformed)?;
    let c = serde_json::to_vec(claims).map_err(|_| TokenError::Malformed)?;
    let signing_input = format!("{}.{}", enc(&h), enc(&c));
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| TokenError::WeakKey)?;
    mac.update(signing_input.as_bytes());
    let sig = mac.finalize().into_bytes();
    Ok(format!("{signing_input}.{}", enc(&sig)))
}

/// Verifies `token` against `keys` (key id → key) at `now` (Unix seconds), allowing
/// `skew_secs` of clock difference for `iat`. Revocation is left to the caller.
pub fn verify(
    token: &str,
    keys: &BTreeMap<String, Vec<u8>>,
    now: i64,
    skew_secs: i64,
) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(h64), Some(c64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let dec = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| TokenError::Malformed);
    let header: Header = serde_json::from_slice(&dec(h64)?).map_err(|_| TokenError::Malformed)?;
    if header.alg != "HS256" {
        return Err(TokenError::Algorithm);
    }
    let key = keys.get(&header.kid).ok_or(TokenError::UnknownKey)?;
    let sig = dec(s64)?;
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| TokenError::UnknownKey)?;
    mac.update(h64.as_bytes());
    mac.update(b".");
    mac.update(c64.as_bytes());
    // `verify_slice` compares in constant time.
    mac.verify_slice(&sig).map_err(|_| TokenError::Signature)?;
    let claims: Claims = serde_json::from_slice(&dec(c64)?).map_err(|_| TokenError::Malformed)?;
    if claims.iss.is_empty() || claims.jti.is_empty() {
        return Err(TokenError::MissingClaim);
    }
    if now >= claims.exp {
        return Err(TokenError::Expired);
    }
    if claims.iat > now.saturating_add(skew_secs) {
        return Err(TokenError::NotYetValid);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> BTreeMap<String, Vec<u8>> {
        [
            ("k1".to_string(), vec![7u8; 32]),
            ("k2".to_string(), vec![9u8; 48]),
        ]
        .into()
    }

    fn claims() -> Claims {
        Claims {
            iss: "alice".into(),
            iat: 1_000,
            exp: 2_000,
            jti: "t-1".into(),
            ten: None,
        }
    }

    #[test]
    fn round_trip_and_expiry() {
        let t = sign("k1", &keys()["k1"], &claims()).unwrap();
        assert_eq!(verify(&t, &keys(), 1_500, 60), Ok(claims()));
        assert_eq!(verify(&t, &keys(), 2_000, 60), Err(TokenError::Expired));
        assert_eq!(verify(&t, &keys(), 900, 60), Err(TokenError::NotYetValid));
        assert_eq!(verify(&t, &keys(), 950, 60), Ok(claims()));
        let mut c = claims();
        c.ten = Some("acme".into());
        let t = sign("k2", &keys()["k2"], &c).unwrap();
        assert_eq!(
            verify(&t, &keys(), 1_500, 0).unwrap().ten.as_deref(),
            Some("acme")
        );
    }

    #[test]
    fn refusals() {
        let t = sign("k1", &keys()["k1"], &claims()).unwrap();
        // another key with the same id
        let mut other = keys();
        other.insert("k1".into(), vec![8u8; 32]);
        assert_eq!(verify(&t, &other, 1_500, 0), Err(TokenError::Signature));
        // unknown key id
        let t3 = sign("k3", &[1u8; 32], &claims()).unwrap();
        assert_eq!(verify(&t3, &keys(), 1_500, 0), Err(TokenError::UnknownKey));
        // tampered claims
        let parts: Vec<&str> = t.split('.').collect();
        let mut c = claims();
        c.iss = "mallory".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap()),
            parts[2]
        );
        assert_eq!(
            verify(&forged, &keys(), 1_500, 0),
            Err(TokenError::Signature)
        );
        // alg none / HS512 are refused before any key lookup
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"k1"}"#);
        let t_none = format!("{none}.{}.", parts[1]);
        assert_eq!(
            verify(&t_none, &keys(), 1_500, 0),
            Err(TokenError::Algorithm)
        );
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.!!.!!",
            &format!("{}.{}", parts[0], parts[1]),
        ] {
            assert_eq!(
                verify(bad, &keys(), 1_500, 0),
                Err(TokenError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(sign("k", &[0u8; 31], &claims()), Err(TokenError::WeakKey));
        let mut c = claims();
        c.jti.clear();
        let t = sign("k1", &keys()["k1"], &c).unwrap();
        assert_eq!(verify(&t, &keys(), 1_500, 0), Err(TokenError::MissingClaim));
    }
}
