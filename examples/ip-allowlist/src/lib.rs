//! # ip-allowlist: a template authorization plugin
//!
//! Allows requests whose remote address is in a list of networks (CIDR), and refuses every
//! other with 403. Copy this crate to write your own policy: the policy is plain Rust against
//! the SDK's types ([`pinfold_plugin_sdk::types`]), unit-tested natively with `cargo test`,
//! and exported with one macro at the bottom of this file.
//!
//! ## Configuration (the `config` of `plugins.authorizer` in `service.json`)
//! ```json
//! {
//!   "allow": ["127.0.0.1/32", "::1/128", "10.0.0.0/8"],
//!   "exempt": ["GET /health"],
//!   "rpc_trusted_only": true
//! }
//! ```
//! * `allow` (required, at least one): networks in CIDR form (`10.0.0.0/8`, `2001:db8::/32`);
//!   a bare address means that address alone. An IPv4-mapped IPv6 remote (`::ffff:10.1.2.3`)
//!   is matched as the IPv4 address.
//! * `exempt`: `"METHOD /path"` pairs allowed from anywhere (default: none). `OPTIONS`
//!   preflights never reach an authorizer (the CORS plugin answers them).
//! * `rpc_trusted_only` (default `true`): cluster RPC calls have no address; they are
//!   allowed from this peer and from trusted peers, refused from others.
//!
//! A request without a remote address (there is none only for RPC) is refused. Allowed
//! requests are anonymous (no principal): combine with credentials in your own copy if you
//! need both.

use std::net::{IpAddr, SocketAddr};

use pinfold_plugin_sdk::types::{AuthzRequest, Decision, EndpointKind, PeerTrust};
use pinfold_plugin_sdk::{Authorizer, Plugin};
use serde::Deserialize;

const SCHEMA: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "ip-allowlist configuration",
  "type": "object",
  "additionalProperties": false,
  "required": ["allow"],
  "properties": {
    "allow": { "type": "array", "minItems": 1, "items": { "type": "string" } },
    "exempt": { "type": "array", "items": { "type": "string", "pattern": "^[A-Z]+ /" } },
    "rpc_trusted_only": { "type": "boolean", "default": true }
  }
}"##;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    allow: Vec<String>,
    #[serde(default)]
    exempt: Vec<String>,
    #[serde(default = "yes")]
    rpc_trusted_only: bool,
}

fn yes() -> bool {
    true
}

/// One allowed network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// Parses `addr/prefix` or a bare address.
    pub fn parse(s: &str) -> Result<Net, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix must be 0..={max}"))?,
        };
        Ok(Net { addr, prefix })
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The policy.
pub struct IpAllowList {
    allow: Vec<Net>,
    exempt: Vec<(String, String)>,
    rpc_trusted_only: bool,
}

impl Plugin for IpAllowList {
    fn config_schema() -> String {
        SCHEMA.to_string()
    }

    fn init(config_json: &str) -> Result<Self, String> {
        let raw: RawConfig = serde_json::from_str(config_json)
            .map_err(|e| format!("ip-allowlist configuration: {e}"))?;
        if raw.allow.is_empty() {
            return Err("ip-allowlist configuration: allow must list at least one network".into());
        }
        let allow = raw
            .allow
            .iter()
            .map(|s| Net::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("ip-allowlist configuration: allow: {e}"))?;
        let exempt = raw
            .exempt
            .iter()
            .map(|e| {
                e.split_once(' ')
                    .filter(|(m, p)| !m.is_empty() && p.starts_with('/'))
                    .map(|(m, p)| (m.to_string(), p.to_string()))
                    .ok_or_else(|| {
                        format!("ip-allowlist configuration: exempt: {e:?} is not \"METHOD /path\"")
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(IpAllowList {
            allow,
            exempt,
            rpc_trusted_only: raw.rpc_trusted_only,
        })
    }
}

impl Authorizer for IpAllowList {
    fn authorize(&self, req: &AuthzRequest) -> Decision {
        if req.endpoint == EndpointKind::ClusterRpc {
            let trusted = req
                .remote_peer
                .as_ref()
                .is_some_and(|p| matches!(p.trust, PeerTrust::Local | PeerTrust::Trusted));
            return if trusted || !self.rpc_trusted_only {
                Decision::allow_anonymous()
            } else {
                Decision::deny(403, "forbidden: untrusted peer")
            };
        }
        if self
            .exempt
            .iter()
            .any(|(m, p)| *m == req.method && *p == req.path)
        {
            return Decision::allow_anonymous();
        }
        let Some(ip) = req
            .remote_addr
            .as_deref()
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .map(|a| a.ip())
        else {
            return Decision::deny(403, "forbidden: unknown remote address");
        };
        if self.allow.iter().any(|n| n.contains(ip)) {
            Decision::allow_anonymous()
        } else {
            Decision::deny(403, format!("forbidden: {ip} is not in the allow-list"))
        }
    }
}

pinfold_plugin_sdk::export_authorizer!(IpAllowList);

#[cfg(test)]
mod tests {
    use super::*;
    use pinfold_plugin_sdk::types::RemotePeer;

    fn policy(config: &str) -> IpAllowList {
        IpAllowList::init(config).unwrap_or_else(|e| panic!("{e}"))
    }

    fn from(addr: &str) -> AuthzRequest {
        let mut r = AuthzRequest::new(EndpointKind::Rest, "GET", "/id");
        r.remote_addr = Some(addr.to_string());
        r
    }

    #[test]
    fn networks() {
        let n = Net::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.255.1.2".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.2.3".parse().unwrap()));
        let one = Net::parse("192.0.2.7").unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()));
        assert!(!one.contains("192.0.2.8".parse().unwrap()));
        let all = Net::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
        let v6 = Net::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "::/129", "nope", "10.0.0.0/x", ""] {
            assert!(Net::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allows_listed_addresses_only() {
        let p = policy(r#"{"allow": ["127.0.0.1/32", "::1/128", "10.0.0.0/8"]}"#);
        for ok in ["127.0.0.1:5000", "[::1]:5000", "10.9.8.7:1"] {
            assert!(p.authorize(&from(ok)).is_allow(), "{ok}");
        }
        let d = p.authorize(&from("203.0.113.9:443"));
        assert_eq!(
            d,
            Decision::deny(403, "forbidden: 203.0.113.9 is not in the allow-list")
        );
        let mut no_addr = from("x");
        no_addr.remote_addr = None;
        assert!(!p.authorize(&no_addr).is_allow());
        assert!(!p.authorize(&from("garbage")).is_allow());
    }

    #[test]
    fn exemptions_and_rpc() {
        let p = policy(r#"{"allow": ["10.0.0.0/8"], "exempt": ["GET /health"]}"#);
        let mut health = from("203.0.113.9:1");
        health.path = "/health".into();
        assert!(p.authorize(&health).is_allow());
        health.method = "POST".into();
        assert!(!p.authorize(&health).is_allow());

        let mut rpc = AuthzRequest::new(EndpointKind::ClusterRpc, "", "");
        rpc.operation = "Cluster.Pin".into();
        for (trust, allowed) in [
            (PeerTrust::Local, true),
            (PeerTrust::Trusted, true),
            (PeerTrust::Untrusted, false),
        ] {
            rpc.remote_peer = Some(RemotePeer {
                id: "12D3KooW".into(),
                trust,
            });
            assert_eq!(p.authorize(&rpc).is_allow(), allowed, "{trust:?}");
        }
        let open = policy(r#"{"allow": ["10.0.0.0/8"], "rpc_trusted_only": false}"#);
        assert!(open.authorize(&rpc).is_allow());
    }

    #[test]
    fn bad_configurations_are_refused() {
        for bad in [
            "",
            "{}",
            r#"{"allow": []}"#,
            r#"{"allow": ["10.0.0.0/40"]}"#,
            r#"{"allow": ["10.0.0.0/8"], "exempt": ["health"]}"#,
            r#"{"allow": ["10.0.0.0/8"], "colour": 1}"#,
        ] {
            assert!(IpAllowList::init(bad).is_err(), "{bad}");
        }
        assert!(IpAllowList::config_schema().contains("\"allow\""));
    }
}
