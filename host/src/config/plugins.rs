//! The `plugins` section of `service.json`: which WASM component decides authorization, CORS
//! and allocation, with which configuration and limits, and how `POST /token` issues tokens.
//!
//! ```json
//! "plugins": {
//!   "authorizer": {
//!     "path": "builtin:authz-default",
//!     "sha256": "",
//!     "config": null,
//!     "limits": { "memory": "16MiB", "time_budget": "50ms", "max_idle_instances": 4,
//!                 "max_concurrent_calls": 16, "fresh_instance_per_call": false,
//!                 "trip_after": 5, "trip_window": "1m0s", "decision_cache": 1024 }
//!   },
//!   "cors":      { "path": "builtin:cors-default" },
//!   "allocator": { "path": "builtin:allocator-balanced" },
//!   "tokens":    { "lifetime": "24h0m0s", "key_file": "token.key",
//!                  "revocations_file": "revoked-tokens.json" }
//! }
//! ```
//!
//! * **The whole section is optional**, and so is each kind in it. An omitted kind (or an
//!   omitted section) runs the built-in default plugin with a configuration *derived* from the
//!   keys IPFS Cluster already has (`api.restapi.basic_auth_credentials`, `cors_*`,
//!   `allocator.balanced.allocate_by`), so a `service.json` written before plugins existed
//!   behaves exactly as before. Pinfold never writes the section back unless the file had it.
//! * `path`: `builtin:<name>` (one of [`BUILTIN_AUTHORIZER`], [`BUILTIN_CORS`],
//!   [`BUILTIN_ALLOCATOR`], embedded in the binary) or a `.wasm` component file, relative to
//!   the configuration folder when not absolute.
//! * `sha256`: when set (64 hex digits), the component must have this digest or it is not
//!   loaded (pin a plugin file so that a swapped file is refused rather than run).
//! * `config`: the plugin's own configuration (a JSON object), passed to its `init`. For a
//!   built-in plugin `null`/absent means "derived from the IPFS Cluster keys" (above); for a
//!   file it means `{}`.
//! * `limits`: the plugin's sandbox ([`LimitsConfig`], plain data that the plugins turn into
//!   their own limits; this module imports no component); every key optional.
//! * `tokens`: `POST /token`'s lifetime and the files holding the signing key (created on
//!   first use, mode 0600) and the revocation list, relative to the configuration folder.
//!
//! Unlike the rest of `service.json`, **an unknown key in this section is an error**, not a
//! warning: a misspelt `sha256` or `limits` must not silently weaken what the operator asked
//! for. Every error names its key path (`plugins.authorizer.limits.time_budget: …`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use super::error::ConfigError;
use super::json::{FromJson, kind};
use super::size::StorageSize;
use crate::gocompat::duration::serde_go;

/// The built-in authorization plugin.
pub const BUILTIN_AUTHORIZER: &str = "builtin:authz-default";
/// The built-in CORS plugin.
pub const BUILTIN_CORS: &str = "builtin:cors-default";
/// The built-in allocator plugin.
pub const BUILTIN_ALLOCATOR: &str = "builtin:allocator-balanced";

/// The largest time budget a plugin call may be given.
pub const MAX_TIME_BUDGET: Duration = Duration::from_secs(10);
/// The largest memory cap a plugin may be given (the engine's own limit).
pub const MAX_PLUGIN_MEMORY: u64 = 64 << 20;
/// The longest token lifetime.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// The three plugin kinds, as named in the section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    Authorizer,
    Cors,
    Allocator,
}

impl PluginKind {
    pub const ALL: [PluginKind; 3] = [
        PluginKind::Authorizer,
        PluginKind::Cors,
        PluginKind::Allocator,
    ];

    /// The key in the section (`authorizer`, `cors`, `allocator`).
    pub fn key(self) -> &'static str {
        match self {
            PluginKind::Authorizer => "authorizer",
            PluginKind::Cors => "cors",
            PluginKind::Allocator => "allocator",
        }
    }

    /// The built-in default plugin of this kind.
    pub fn builtin(self) -> &'static str {
        match self {
            PluginKind::Authorizer => BUILTIN_AUTHORIZER,
            PluginKind::Cors => BUILTIN_CORS,
            PluginKind::Allocator => BUILTIN_ALLOCATOR,
        }
    }
}

/// The `plugins` section.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PluginsConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorizer: Option<PluginEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<PluginEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocator: Option<PluginEntry>,
    pub tokens: TokensConfig,
    /// True when the file had a `plugins` section (it is written back only then).
    #[serde(skip)]
    pub present: bool,
}

/// One plugin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginEntry {
    /// `builtin:<name>` or a component file.
    pub path: String,
    /// The expected sha256 of the component (lower-case hex), if pinned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The plugin's configuration; `None` = derived (built-ins) or `{}` (files).
    #[serde(serialize_with = "mask_config")]
    pub config: Option<Value>,
    pub limits: LimitsConfig,
}

/// A plugin's sandbox limits, as written in the section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitsConfig {
    pub memory: StorageSize,
    #[serde(with = "serde_go")]
    pub time_budget: Duration,
    pub max_idle_instances: usize,
    pub max_concurrent_calls: usize,
    pub fresh_instance_per_call: bool,
    pub trip_after: u32,
    #[serde(with = "serde_go")]
    pub trip_window: Duration,
    /// Decisions remembered per plugin version (0: none).
    pub decision_cache: usize,
}

impl Default for LimitsConfig {
    /// The sandbox's defaults (the plugins' `PluginLimits::default()` is made from these).
    fn default() -> Self {
        LimitsConfig {
            memory: StorageSize(16 << 20),
            time_budget: Duration::from_millis(50),
            max_idle_instances: 4,
            max_concurrent_calls: 16,
            fresh_instance_per_call: false,
            trip_after: 5,
            trip_window: Duration::from_secs(60),
            decision_cache: 1024,
        }
    }
}

/// `plugins.tokens`: how `POST /token` issues tokens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokensConfig {
    /// How long an issued token is valid.
    #[serde(with = "serde_go")]
    pub lifetime: Duration,
    /// The signing key (hex, created on first use with mode 0600), relative to the folder.
    pub key_file: String,
    /// The revoked tokens (JSON), relative to the folder.
    pub revocations_file: String,
}

impl Default for TokensConfig {
    fn default() -> Self {
        TokensConfig {
            lifetime: Duration::from_secs(24 * 3600),
            key_file: "token.key".into(),
            revocations_file: "revoked-tokens.json".into(),
        }
    }
}

impl TokensConfig {
    pub fn key_path(&self, folder: &Path) -> PathBuf {
        folder.join(&self.key_file)
    }
    pub fn revocations_path(&self, folder: &Path) -> PathBuf {
        folder.join(&self.revocations_file)
    }
}

fn mask_config<S: serde::Serializer>(v: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
    // A plugin's configuration may hold credentials (digests, keys): hidden in the display form.
    if super::secret::masking() && v.is_some() {
        return s.serialize_str(super::secret::HIDDEN);
    }
    v.serialize(s)
}

impl PluginsConfig {
    /// True when nothing needs writing back.
    pub fn is_absent(&self) -> bool {
        !self.present
    }

    /// The entry of `kind`, if the file names one.
    pub fn entry(&self, kind: PluginKind) -> Option<&PluginEntry> {
        match kind {
            PluginKind::Authorizer => self.authorizer.as_ref(),
            PluginKind::Cors => self.cors.as_ref(),
            PluginKind::Allocator => self.allocator.as_ref(),
        }
    }

    /// Reads the section (`v` is the value of the `plugins` key).
    pub(crate) fn read(v: &Value) -> Result<PluginsConfig, ConfigError> {
        let map = object("plugins", v)?;
        let mut out = PluginsConfig {
            present: true,
            ..PluginsConfig::default()
        };
        for (k, v) in map {
            if v.is_null() {
                continue;
            }
            match k.as_str() {
                "authorizer" => out.authorizer = Some(read_entry(PluginKind::Authorizer, v)?),
                "cors" => out.cors = Some(read_entry(PluginKind::Cors, v)?),
                "allocator" => out.allocator = Some(read_entry(PluginKind::Allocator, v)?),
                "tokens" => out.tokens = read_tokens(v)?,
                other => return Err(unknown("plugins", other)),
            }
        }
        Ok(out)
    }

    /// The checks that need no file system.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for kind in PluginKind::ALL {
            if let Some(e) = self.entry(kind) {
                e.validate(kind)?;
            }
        }
        let t = &self.tokens;
        let key = |k: &str| format!("plugins.tokens.{k}");
        if t.lifetime.is_zero() || t.lifetime > MAX_TOKEN_LIFETIME {
            return Err(ConfigError::invalid(
                key("lifetime"),
                "must be more than 0s and at most 8784h0m0s (366 days)",
            ));
        }
        if t.key_file.trim().is_empty() {
            return Err(ConfigError::invalid(key("key_file"), "must not be empty"));
        }
        if t.revocations_file.trim().is_empty() {
            return Err(ConfigError::invalid(
                key("revocations_file"),
                "must not be empty",
            ));
        }
        Ok(())
    }
}

impl PluginEntry {
    /// An entry for the built-in plugin of `kind` with derived configuration and default limits.
    pub fn builtin(kind: PluginKind) -> PluginEntry {
        PluginEntry {
            path: kind.builtin().to_string(),
            sha256: None,
            config: None,
            limits: LimitsConfig::default(),
        }
    }

    /// The built-in's name (`authz-default`) when `path` is `builtin:…`.
    pub fn builtin_name(&self) -> Option<&str> {
        self.path.strip_prefix("builtin:")
    }

    /// The component file, resolved against `folder` (`None` for a built-in).
    pub fn file(&self, folder: &Path) -> Option<PathBuf> {
        if self.builtin_name().is_some() {
            return None;
        }
        let p = Path::new(&self.path);
        Some(if p.is_absolute() {
            p.to_path_buf()
        } else {
            folder.join(p)
        })
    }

    fn validate(&self, kind: PluginKind) -> Result<(), ConfigError> {
        let key = |k: &str| format!("plugins.{}.{k}", kind.key());
        if self.path.trim().is_empty() {
            return Err(ConfigError::invalid(key("path"), "must not be empty"));
        }
        if self.builtin_name().is_some() && self.path != kind.builtin() {
            return Err(ConfigError::invalid(
                key("path"),
                format!(
                    "unknown built-in plugin {:?} for {} (the built-in one is {:?})",
                    self.path,
                    kind.key(),
                    kind.builtin()
                ),
            ));
        }
        if let Some(s) = &self.sha256
            && (s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(ConfigError::invalid(
                key("sha256"),
                "expected 64 hexadecimal digits (the component's sha256)",
            ));
        }
        if let Some(c) = &self.config
            && !c.is_object()
        {
            return Err(ConfigError::invalid(
                key("config"),
                format!("expected a JSON object, found {}", kind_of(c)),
            ));
        }
        let l = &self.limits;
        let lk = |k: &str| format!("plugins.{}.limits.{k}", kind.key());
        if l.memory.bytes() < (64 << 10) || l.memory.bytes() > MAX_PLUGIN_MEMORY {
            return Err(ConfigError::invalid(
                lk("memory"),
                "must be between 64KiB and 64MiB",
            ));
        }
        if l.time_budget.is_zero() || l.time_budget > MAX_TIME_BUDGET {
            return Err(ConfigError::invalid(
                lk("time_budget"),
                "must be more than 0s and at most 10s",
            ));
        }
        if l.max_concurrent_calls == 0 || l.max_concurrent_calls > 32 {
            return Err(ConfigError::invalid(
                lk("max_concurrent_calls"),
                "must be between 1 and 32",
            ));
        }
        if l.max_idle_instances > l.max_concurrent_calls {
            return Err(ConfigError::invalid(
                lk("max_idle_instances"),
                "must not be more than max_concurrent_calls",
            ));
        }
        if l.trip_after == 0 {
            return Err(ConfigError::invalid(lk("trip_after"), "must be at least 1"));
        }
        if l.decision_cache > 1 << 20 {
            return Err(ConfigError::invalid(
                lk("decision_cache"),
                "must be at most 1048576 entries",
            ));
        }
        if l.trip_window.is_zero() {
            return Err(ConfigError::invalid(
                lk("trip_window"),
                "must be more than 0s",
            ));
        }
        Ok(())
    }
}

fn kind_of(v: &Value) -> &'static str {
    kind(v)
}

fn object<'a>(key: &str, v: &'a Value) -> Result<&'a Map<String, Value>, ConfigError> {
    v.as_object().ok_or_else(|| {
        ConfigError::invalid(key, format!("must be a JSON object, found {}", kind(v)))
    })
}

fn unknown(path: &str, k: &str) -> ConfigError {
    ConfigError::invalid(
        format!("{path}.{k}"),
        "unknown key (keys of the plugins section are checked strictly)",
    )
}

fn get<T: FromJson>(path: &str, k: &str, v: &Value) -> Result<T, ConfigError> {
    T::from_json(v).map_err(|r| ConfigError::invalid(format!("{path}.{k}"), r))
}

fn read_entry(kind: PluginKind, v: &Value) -> Result<PluginEntry, ConfigError> {
    let path = format!("plugins.{}", kind.key());
    let map = object(&path, v)?;
    let mut e = PluginEntry::builtin(kind);
    let mut has_path = false;
    for (k, v) in map {
        if v.is_null() {
            continue;
        }
        match k.as_str() {
            "path" => {
                e.path = get(&path, k, v)?;
                has_path = true;
            }
            "sha256" => {
                let s: String = get(&path, k, v)?;
                e.sha256 = (!s.is_empty()).then(|| s.to_ascii_lowercase());
            }
            "config" => e.config = Some(v.clone()),
            "limits" => e.limits = read_limits(&format!("{path}.limits"), v)?,
            other => return Err(unknown(&path, other)),
        }
    }
    if !has_path {
        return Err(ConfigError::invalid(
            format!("{path}.path"),
            format!(
                "missing: name a component file or the built-in plugin {:?}",
                kind.builtin()
            ),
        ));
    }
    Ok(e)
}

fn read_limits(path: &str, v: &Value) -> Result<LimitsConfig, ConfigError> {
    let map = object(path, v)?;
    let mut l = LimitsConfig::default();
    for (k, v) in map {
        if v.is_null() {
            continue;
        }
        match k.as_str() {
            "memory" => l.memory = get(path, k, v)?,
            "time_budget" => l.time_budget = get(path, k, v)?,
            "max_idle_instances" => l.max_idle_instances = get(path, k, v)?,
            "max_concurrent_calls" => l.max_concurrent_calls = get(path, k, v)?,
            "fresh_instance_per_call" => l.fresh_instance_per_call = get(path, k, v)?,
            "trip_after" => l.trip_after = get(path, k, v)?,
            "trip_window" => l.trip_window = get(path, k, v)?,
            "decision_cache" => l.decision_cache = get(path, k, v)?,
            other => return Err(unknown(path, other)),
        }
    }
    Ok(l)
}

fn read_tokens(v: &Value) -> Result<TokensConfig, ConfigError> {
    let path = "plugins.tokens";
    let map = object(path, v)?;
    let mut t = TokensConfig::default();
    for (k, v) in map {
        if v.is_null() {
            continue;
        }
        match k.as_str() {
            "lifetime" => t.lifetime = get(path, k, v)?,
            "key_file" => t.key_file = get(path, k, v)?,
            "revocations_file" => t.revocations_file = get(path, k, v)?,
            other => return Err(unknown(path, other)),
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServiceConfig;
    use serde_json::json;

    fn load(plugins: Value) -> Result<ServiceConfig, ConfigError> {
        let text = json!({ "plugins": plugins }).to_string();
        ServiceConfig::from_json_str(&text).map(|l| l.config)
    }

    fn err(plugins: Value) -> String {
        load(plugins).unwrap_err().to_string()
    }

    #[test]
    fn omitted_section_means_builtins_and_is_not_written_back() {
        let c = ServiceConfig::from_json_str("{}").unwrap().config;
        assert!(c.plugins.is_absent());
        assert!(c.plugins.authorizer.is_none());
        assert!(!c.to_json().contains("\"plugins\""));
    }

    #[test]
    fn full_section_round_trips() {
        let c = load(json!({
            "authorizer": {
                "path": "authz.wasm",
                "sha256": "AB".repeat(32),
                "config": {"x": 1},
                "limits": {"memory": "8MiB", "time_budget": "20ms", "max_idle_instances": 2,
                           "max_concurrent_calls": 8, "fresh_instance_per_call": true,
                           "trip_after": 3, "trip_window": "30s"}
            },
            "cors": {"path": "builtin:cors-default"},
            "tokens": {"lifetime": "1h"}
        }))
        .unwrap();
        let a = c.plugins.authorizer.as_ref().unwrap();
        assert_eq!(a.sha256.as_deref(), Some("ab".repeat(32).as_str()));
        assert_eq!(a.limits.memory.bytes(), 8 << 20);
        assert_eq!(a.limits.time_budget, Duration::from_millis(20));
        assert!(a.limits.fresh_instance_per_call);
        assert_eq!(
            a.file(Path::new("/cfg")),
            Some(PathBuf::from("/cfg/authz.wasm"))
        );
        assert_eq!(c.plugins.tokens.lifetime, Duration::from_secs(3600));
        let again = ServiceConfig::from_json_str(&c.to_json()).unwrap().config;
        assert_eq!(again.plugins, c.plugins);
        // the display form hides plugin configurations
        let display = c.to_display_json();
        assert!(!display.contains("\"x\""), "{display}");
    }

    #[test]
    fn errors_name_the_key() {
        for (plugins, key) in [
            (json!({"authorizer": {}}), "plugins.authorizer.path"),
            (
                json!({"authorizer": {"path": ""}}),
                "plugins.authorizer.path",
            ),
            (
                json!({"cors": {"path": "builtin:authz-default"}}),
                "plugins.cors.path",
            ),
            (
                json!({"authorizer": {"path": "a.wasm", "sha256": "12"}}),
                "plugins.authorizer.sha256",
            ),
            (
                json!({"authorizer": {"path": "a.wasm", "sha265": "12"}}),
                "plugins.authorizer.sha265",
            ),
            (
                json!({"authorizer": {"path": "a.wasm", "config": [1]}}),
                "plugins.authorizer.config",
            ),
            (
                json!({"cors": {"path": "c.wasm", "limits": {"time_budget": "0s"}}}),
                "plugins.cors.limits.time_budget",
            ),
            (
                json!({"cors": {"path": "c.wasm", "limits": {"time_budget": "fast"}}}),
                "plugins.cors.limits.time_budget",
            ),
            (
                json!({"allocator": {"path": "c.wasm", "limits": {"memory": "1GiB"}}}),
                "plugins.allocator.limits.memory",
            ),
            (
                json!({"allocator": {"path": "c.wasm", "limits": {"max_concurrent_calls": 0}}}),
                "plugins.allocator.limits.max_concurrent_calls",
            ),
            (
                json!({"allocator": {"path": "c.wasm", "limits": {"trip_after": 0}}}),
                "plugins.allocator.limits.trip_after",
            ),
            (
                json!({"allocator": {"path": "c.wasm", "limits": {"colour": 0}}}),
                "plugins.allocator.limits.colour",
            ),
            (
                json!({"tokens": {"lifetime": "0s"}}),
                "plugins.tokens.lifetime",
            ),
            (
                json!({"tokens": {"key_file": ""}}),
                "plugins.tokens.key_file",
            ),
            (json!({"other": {}}), "plugins.other"),
            (json!([1]), "plugins"),
        ] {
            let e = err(plugins.clone());
            assert!(e.starts_with(&format!("{key}:")), "{plugins}: {e}");
        }
    }
}
