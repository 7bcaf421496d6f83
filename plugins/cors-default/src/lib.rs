//! # cors-default: IPFS Cluster's CORS behaviour, without the credentialed wildcard
//!
//! The default CORS plugin of Pinfold (world `cors`): the behaviour of rs/cors v1.11.1 as
//! IPFS Cluster configures it from the `cors_*` keys of an HTTP API section, giving the same
//! headers as Go for the same requests.
//!
//! * A **preflight** is `OPTIONS` with a non-empty `Access-Control-Request-Method`. It is
//!   answered at once (`preflight: true`) with `Vary: Origin, Access-Control-Request-Method,
//!   Access-Control-Request-Headers` and, when origin, method and requested headers are all
//!   allowed, `Access-Control-Allow-Origin`, `-Allow-Methods` (the requested method),
//!   `-Allow-Headers` (the requested values, as sent), `-Allow-Credentials` and `-Max-Age`
//!   (when > 0).
//! * **Other requests** get `Vary: Origin` and, when origin and method are allowed,
//!   `Access-Control-Allow-Origin`, `-Expose-Headers` (canonicalised, joined with `, `) and
//!   `-Allow-Credentials`.
//! * Empty lists take rs/cors' defaults: every origin; methods `GET, POST, HEAD`; request
//!   headers `accept, content-type, x-requested-with`. Origins compare case-insensitively and
//!   may hold one `*` (`https://*.example.com`); `OPTIONS` is always an allowed method.
//!   Requested headers must be lower-case, sorted and unique, as browsers send them
//!   (rs/cors' rule), with at most one space or tab around each.
//! * **Origin and credentials.** When every origin is allowed (`*`, the default) the answer is
//!   the literal `Access-Control-Allow-Origin: *`, as rs/cors v1.11.1 answers; browsers never
//!   send credentials to a `*` origin, so the default `cors_allow_credentials: true` does not
//!   open the API to every web site. A request's `Origin` is echoed only when the operator
//!   listed origins explicitly (exactly or with a wildcard).
//!
//! ## Configuration (JSON; IPFS Cluster's keys and defaults)
//! ```json
//! {
//!   "cors_allowed_origins": ["*"],
//!   "cors_allowed_methods": ["GET"],
//!   "cors_allowed_headers": [],
//!   "cors_exposed_headers": ["Content-Type", "X-Stream-Output", "X-Chunked-Output", "X-Content-Length"],
//!   "cors_allow_credentials": true,
//!   "cors_max_age": "0s",
//!   "cors_allow_private_network": false
//! }
//! ```
//! Every key is optional. `cors_max_age` is a Go duration (`"10m0s"`) or a number of
//! seconds. `cors_allow_private_network` (rs/cors' `AllowPrivateNetwork`, off in IPFS
//! Cluster) answers `Access-Control-Request-Private-Network: true` preflights. Unknown keys
//! are errors.

use std::collections::BTreeSet;

use pinfold_plugin_sdk::types::{CorsRequest, CorsResponse};
use pinfold_plugin_sdk::{Cors, Plugin};
use serde::Deserialize;

const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
const PREFLIGHT_VARY_PNA: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network";

const SCHEMA: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "cors-default configuration",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "cors_allowed_origins": { "type": "array", "items": { "type": "string" }, "default": ["*"] },
    "cors_allowed_methods": { "type": "array", "items": { "type": "string" }, "default": ["GET"] },
    "cors_allowed_headers": { "type": "array", "items": { "type": "string" }, "default": [] },
    "cors_exposed_headers": { "type": "array", "items": { "type": "string" },
      "default": ["Content-Type", "X-Stream-Output", "X-Chunked-Output", "X-Content-Length"] },
    "cors_allow_credentials": { "type": "boolean", "default": true },
    "cors_max_age": { "type": ["string", "integer"], "default": "0s" },
    "cors_allow_private_network": { "type": "boolean", "default": false }
  }
}"##;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_origins")]
    cors_allowed_origins: Vec<String>,
    #[serde(default = "default_methods")]
    cors_allowed_methods: Vec<String>,
    #[serde(default)]
    cors_allowed_headers: Vec<String>,
    #[serde(default = "default_exposed")]
    cors_exposed_headers: Vec<String>,
    #[serde(default = "default_true")]
    cors_allow_credentials: bool,
    #[serde(default)]
    cors_max_age: Option<serde_json::Value>,
    #[serde(default)]
    cors_allow_private_network: bool,
}

fn default_origins() -> Vec<String> {
    vec!["*".into()]
}
fn default_methods() -> Vec<String> {
    vec!["GET".into()]
}
fn default_exposed() -> Vec<String> {
    [
        "Content-Type",
        "X-Stream-Output",
        "X-Chunked-Output",
        "X-Content-Length",
    ]
    .map(String::from)
    .into()
}
fn default_true() -> bool {
    true
}

/// rs/cors' options, normalised once.
#[derive(Debug, Clone)]
pub struct DefaultCors {
    all_origins: bool,
    /// Lower-cased exact origins.
    origins: Vec<String>,
    /// Lower-cased (prefix, suffix) of origins with one `*`.
    wildcards: Vec<(String, String)>,
    methods: Vec<String>,
    all_headers: bool,
    /// Lower-cased allowed request headers.
    headers: BTreeSet<String>,
    exposed: Option<String>,
    credentials: bool,
    max_age: Option<u32>,
    private_network: bool,
}

impl Plugin for DefaultCors {
    fn config_schema() -> String {
        SCHEMA.to_string()
    }

    fn init(config_json: &str) -> Result<Self, String> {
        let text = if config_json.trim().is_empty() {
            "{}"
        } else {
            config_json
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("cors-default configuration: {e}"))?;
        if !value.is_object() {
            return Err("cors-default configuration: expected a JSON object".into());
        }
        let c: RawConfig = serde_json::from_value(value)
            .map_err(|e| format!("cors-default configuration: {e}"))?;
        DefaultCors::from_raw(c)
    }
}

impl DefaultCors {
    fn from_raw(c: RawConfig) -> Result<DefaultCors, String> {
        let mut all_origins = c.cors_allowed_origins.is_empty();
        let mut origins = vec![];
        let mut wildcards = vec![];
        for o in &c.cors_allowed_origins {
            let o = o.to_ascii_lowercase();
            if o == "*" {
                all_origins = true;
                origins.clear();
                wildcards.clear();
                break;
            } else if let Some(i) = o.find('*') {
                wildcards.push((o[..i].to_string(), o[i + 1..].to_string()));
            } else {
                origins.push(o);
            }
        }
        let methods = if c.cors_allowed_methods.is_empty() {
            vec!["GET".into(), "POST".into(), "HEAD".into()]
        } else {
            c.cors_allowed_methods.clone()
        };
        let all_headers = c.cors_allowed_headers.iter().any(|h| h == "*");
        let headers: BTreeSet<String> = if c.cors_allowed_headers.is_empty() {
            ["accept", "content-type", "x-requested-with"]
                .map(String::from)
                .into()
        } else if all_headers {
            BTreeSet::new()
        } else {
            c.cors_allowed_headers
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect()
        };
        let exposed = (!c.cors_exposed_headers.is_empty()).then(|| {
            c.cors_exposed_headers
                .iter()
                .map(|h| canonical_header_key(h))
                .collect::<Vec<_>>()
                .join(", ")
        });
        let secs = match &c.cors_max_age {
            None | Some(serde_json::Value::Null) => 0,
            Some(serde_json::Value::String(s)) => parse_go_duration_secs(s)
                .ok_or_else(|| format!("cors_max_age: bad duration {s:?}"))?,
            Some(serde_json::Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| "cors_max_age: expected whole seconds".to_string())?,
            Some(_) => return Err("cors_max_age: expected a duration string or seconds".into()),
        };
        Ok(DefaultCors {
            all_origins,
            origins,
            wildcards,
            methods,
            all_headers,
            headers,
            exposed,
            credentials: c.cors_allow_credentials,
            max_age: (secs > 0).then(|| u32::try_from(secs).unwrap_or(u32::MAX)),
            private_network: c.cors_allow_private_network,
        })
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        if self.all_origins {
            return true;
        }
        let origin = origin.to_ascii_lowercase();
        self.origins.contains(&origin)
            || self.wildcards.iter().any(|(pre, suf)| {
                origin.len() >= pre.len() + suf.len()
                    && origin.starts_with(pre.as_str())
                    && origin.ends_with(suf.as_str())
            })
    }

    fn method_allowed(&self, method: &str) -> bool {
        if self.methods.is_empty() {
            return false;
        }
        method == "OPTIONS" || self.methods.iter().any(|m| m == method)
    }

    /// rs/cors' `SortedSet.Accepts`: every listed name allowed, sorted, unique; at most one
    /// byte of optional whitespace around each; a few empty elements tolerated.
    fn headers_accepted(&self, values: &[String]) -> bool {
        const MAX_EMPTY: usize = 16;
        let mut empty = 0;
        let mut last: Option<&str> = None;
        for v in values {
            for name in v.split(',') {
                let Some(name) = trim_ows(name, 1) else {
                    return false;
                };
                if name.is_empty() {
                    empty += 1;
                    if empty > MAX_EMPTY {
                        return false;
                    }
                    continue;
                }
                if !self.headers.contains(name) || last.is_some_and(|l| name <= l) {
                    return false;
                }
                last = Some(name);
            }
        }
        true
    }

    fn allow_origin_value(&self, origin: &str) -> String {
        if self.all_origins {
            "*".to_string()
        } else {
            origin.to_string()
        }
    }

    fn preflight(&self, req: &CorsRequest) -> CorsResponse {
        let mut r = CorsResponse {
            preflight: true,
            vary: vec![
                if self.private_network {
                    PREFLIGHT_VARY_PNA
                } else {
                    PREFLIGHT_VARY
                }
                .to_string(),
            ],
            ..CorsResponse::default()
        };
        let origin = req.origin.as_deref().unwrap_or("");
        if origin.is_empty() || !self.origin_allowed(origin) {
            return r;
        }
        let method = req.request_method.as_deref().unwrap_or("");
        if !self.method_allowed(method) {
            return r;
        }
        if let Some(values) = &req.request_headers
            && !self.all_headers
            && !self.headers_accepted(values)
        {
            return r;
        }
        r.allow_origin = Some(self.allow_origin_value(origin));
        r.allow_methods = Some(method.to_string());
        if let Some(values) = &req.request_headers
            && values.first().is_some_and(|v| !v.is_empty())
        {
            r.allow_headers = values.clone();
        }
        r.allow_credentials = self.credentials;
        r.allow_private_network =
            self.private_network && req.request_private_network.as_deref() == Some("true");
        r.max_age_seconds = self.max_age;
        r
    }

    fn actual(&self, req: &CorsRequest) -> CorsResponse {
        let mut r = CorsResponse {
            vary: vec!["Origin".to_string()],
            ..CorsResponse::default()
        };
        let origin = req.origin.as_deref().unwrap_or("");
        if origin.is_empty() || !self.origin_allowed(origin) {
            return r;
        }
        if !self.method_allowed(&req.method) {
            return r;
        }
        r.allow_origin = Some(self.allow_origin_value(origin));
        r.expose_headers = self.exposed.clone();
        r.allow_credentials = self.credentials;
        r
    }
}

impl Cors for DefaultCors {
    fn cors(&self, req: &CorsRequest) -> CorsResponse {
        let preflight =
            req.method == "OPTIONS" && req.request_method.as_deref().is_some_and(|m| !m.is_empty());
        if preflight {
            self.preflight(req)
        } else {
            self.actual(req)
        }
    }
}

/// Trims at most `n` spaces or tabs from each end; `None` when there are more.
fn trim_ows(s: &str, n: usize) -> Option<&str> {
    let is_ows = |c: char| c == ' ' || c == '\t';
    if s.chars().all(is_ows) {
        return (s.len() <= 2 * n).then_some("");
    }
    let left = s.len() - s.trim_start_matches(is_ows).len();
    let right = s.len() - s.trim_end_matches(is_ows).len();
    (left <= n && right <= n).then(|| s.trim_matches(is_ows))
}

/// Go's `http.CanonicalHeaderKey`: `x-stream-output` → `X-Stream-Output`; keys with bytes
/// that are not token characters are returned unchanged.
pub fn canonical_header_key(key: &str) -> String {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !key.bytes().all(token) {
        return key.to_string();
    }
    let mut upper = true;
    key.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// Whole seconds of a Go duration (`"10m0s"`, `"1h30m"`, `"1.5s"`, `"0"`), truncated; the
/// sign is kept. `None` when it does not parse.
pub fn parse_go_duration_secs(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        nanos += n * scale;
    }
    let secs = (nanos / 1e9).trunc() as i64;
    Some(if neg { -secs } else { secs })
}

pinfold_plugin_sdk::export_cors!(DefaultCors);

#[cfg(test)]
mod tests;
