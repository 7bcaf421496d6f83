//! The daemon's plugins, built from `service.json`: one [`PluginSet`] holds the authorizer,
//! the CORS plugin and the allocator (each in a [`PluginSlot`]), the token key and the
//! revocation list, and reloads them all from the configuration folder on demand.
//!
//! # From the configuration to a plugin
//! For each kind, the `plugins.<kind>` entry (`config/plugins.rs`) or, when there is none,
//! the built-in plugin, becomes a [`PluginSpec`]: the component (the embedded bytes of a
//! `builtin:` name — `include_bytes!` of `plugins/dist/*.wasm`, so `cargo install` needs no
//! wasm toolchain — or a file relative to the folder), the sha256 pin, the limits, and the
//! configuration JSON:
//!
//! * **built-in `authz-default`**: derived from `api.restapi.basic_auth_credentials` — each
//!   password is passed as a salted digest (`sha256-salted:<random salt>:<hex>`, a fresh salt
//!   per load), never in clear — plus `tokens` (the signing key and the revoked ids); keys of
//!   the operator's `config` are laid over the derived ones.
//! * **built-in `cors-default`**: the `cors_*` keys of `api.restapi`, overlaid likewise.
//! * **built-in `allocator-balanced`**: `allocator.balanced.allocate_by`.
//! * **a file**: the operator's `config` as written (`{}` when absent), except that a
//!   top-level `"tokens": "host"` is replaced by the `tokens` object above, so a custom
//!   authorizer can verify the daemon's tokens with the SDK.
//!
//! # Reload
//! [`PluginSet::reload_from_disk`] (SIGHUP, `POST /plugins/reload`) re-reads `service.json`,
//! builds *all three* new versions — compiled, `InstancePre` resolved, `init` run on the new
//! configuration — and only when every one loaded swaps them in, together. Any failure leaves
//! every old version in place and is returned (and logged) with the key it came from
//! (`plugins.authorizer: plugin authz: sha256 mismatch …`). Calls already running finish on
//! the version they started with. Reloads are serialised by a mutex. A token revocation is a
//! reload of the authorizer alone with the new list.
//!
//! What a reload does not change: the listeners, TLS, the `headers` the REST API adds, and
//! the engine (its pool size and memory ceiling are fixed at start).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use rand::RngCore;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::tokens::{Issued, Revocations, TokenError, TokenKey};
use super::{
    Allocator, Authorizer, Cors, EngineOptions, PluginEngine, PluginError, PluginLimits,
    PluginSlot, PluginSource, PluginSpec,
};
use crate::config::plugins::{PluginEntry, PluginKind, PluginsConfig};
use crate::config::{ConfigError, RestApiConfig, ServiceConfig, process_env};

/// The built-in `authz-default` component.
pub const AUTHZ_DEFAULT_WASM: &[u8] = include_bytes!("../../../plugins/dist/authz-default.wasm");
/// The built-in `cors-default` component.
pub const CORS_DEFAULT_WASM: &[u8] = include_bytes!("../../../plugins/dist/cors-default.wasm");
/// The built-in `allocator-balanced` component.
pub const ALLOCATOR_BALANCED_WASM: &[u8] =
    include_bytes!("../../../plugins/dist/allocator-balanced.wasm");

/// The folder of compiled plugins inside the configuration folder.
pub const PLUGIN_CACHE_DIR: &str = "plugin-cache";

/// Why the plugins could not be built or reloaded. The text names the configuration key.
#[derive(Debug, thiserror::Error)]
pub enum PluginsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("plugins.{key}: {source}")]
    Load {
        key: &'static str,
        #[source]
        source: PluginError,
    },
    #[error("plugins.tokens: {0}")]
    Token(#[from] TokenError),
    #[error("plugin engine: {0}")]
    Engine(String),
    #[error("this plugin set has no configuration folder to reload from")]
    NoFolder,
}

/// What was loaded for one kind.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    /// `authorizer`, `cors` or `allocator`.
    pub kind: &'static str,
    /// `builtin:…` or the component file as configured.
    pub path: String,
    pub sha256: String,
}

/// The answer of a successful reload.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadReport {
    pub plugins: Vec<PluginInfo>,
}

/// One plugin's status and counters.
#[derive(Debug, Clone, Serialize)]
pub struct PluginStatus {
    #[serde(flatten)]
    pub info: PluginInfo,
    pub calls: u64,
    pub denials: u64,
    pub traps: u64,
    pub timeouts: u64,
    pub out_of_memory: u64,
    pub failsafe: u64,
    pub instances_created: u64,
    pub tripped: bool,
    pub total_latency_seconds: f64,
    pub peak_memory_bytes: u64,
    pub cache_hits: u64,
}

/// What the set was last built from.
struct Built {
    plugins: PluginsConfig,
    rest: Option<RestApiConfig>,
    allocate_by: Vec<String>,
    infos: [PluginInfo; 3],
}

/// The daemon's three plugins and the token machinery (see the module docs).
pub struct PluginSet {
    engine: PluginEngine,
    folder: Option<PathBuf>,
    authorizer: PluginSlot<Authorizer>,
    cors: PluginSlot<Cors>,
    allocator: PluginSlot<Allocator>,
    key: TokenKey,
    revocations: Mutex<Revocations>,
    built: Mutex<Built>,
    token_lifetime: RwLock<Duration>,
    /// Serialises reloads and revocations.
    reload_lock: Mutex<()>,
}

impl std::fmt::Debug for PluginSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginSet")
            .field("folder", &self.folder)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A process-wide engine without a disk cache, for servers and tools started without one
/// of their own (tests, benches, `serve` without a plugin set).
pub fn shared_engine() -> Result<PluginEngine, PluginsError> {
    static ENGINE: OnceLock<PluginEngine> = OnceLock::new();
    if let Some(e) = ENGINE.get() {
        return Ok(e.clone());
    }
    let e = PluginEngine::new(&EngineOptions::default())
        .map_err(|e| PluginsError::Engine(format!("{e:#}")))?;
    Ok(ENGINE.get_or_init(|| e).clone())
}

impl PluginSet {
    /// The daemon's plugins: an engine with its disk cache in `folder/plugin-cache`, the token
    /// key and revocations from `plugins.tokens`, and the three plugins. Any failure names
    /// its key; nothing starts half-configured.
    pub fn start(folder: &Path, service: &ServiceConfig) -> Result<Arc<PluginSet>, PluginsError> {
        let engine = PluginEngine::new(&EngineOptions {
            cache_dir: Some(folder.join(PLUGIN_CACHE_DIR)),
            ..EngineOptions::default()
        })
        .map_err(|e| PluginsError::Engine(format!("{e:#}")))?;
        PluginSet::with_engine(engine, Some(folder), service)
    }

    /// [`PluginSet::start`] on a blocking thread (compiling components takes a while).
    pub async fn start_async(
        folder: &Path,
        service: &ServiceConfig,
    ) -> Result<Arc<PluginSet>, PluginsError> {
        let (folder, service) = (folder.to_path_buf(), service.clone());
        tokio::task::spawn_blocking(move || PluginSet::start(&folder, &service))
            .await
            .map_err(|e| PluginsError::Engine(e.to_string()))?
    }

    /// Like [`PluginSet::start`] with a given engine; without a folder, the token key is
    /// random and revocations live in memory (and reloads from disk are refused).
    pub fn with_engine(
        engine: PluginEngine,
        folder: Option<&Path>,
        service: &ServiceConfig,
    ) -> Result<Arc<PluginSet>, PluginsError> {
        service.plugins.validate()?;
        let tokens_cfg = &service.plugins.tokens;
        let (key, revocations) = match folder {
            Some(f) => (
                TokenKey::load_or_create(&tokens_cfg.key_path(f))?,
                Revocations::load(&tokens_cfg.revocations_path(f))?,
            ),
            None => (TokenKey::generate(), Revocations::in_memory()),
        };
        let folder = folder.map(Path::to_path_buf);
        let inputs = Inputs::from_service(service);
        let loaded = load_all(&engine, folder.as_deref(), &inputs, &key, &revocations)?;
        Ok(Arc::new(PluginSet {
            engine,
            folder,
            authorizer: PluginSlot::new(loaded.authorizer),
            cors: PluginSlot::new(loaded.cors),
            allocator: PluginSlot::new(loaded.allocator),
            key,
            revocations: Mutex::new(revocations),
            token_lifetime: RwLock::new(service.plugins.tokens.lifetime),
            built: Mutex::new(Built {
                plugins: inputs.plugins,
                rest: inputs.rest,
                allocate_by: inputs.allocate_by,
                infos: loaded.infos,
            }),
            reload_lock: Mutex::new(()),
        }))
    }

    /// The built-in plugins configured from one REST API section alone (the shared engine,
    /// the token files in `folder` when given).
    pub fn for_rest_api(
        rest: &RestApiConfig,
        folder: Option<&Path>,
    ) -> Result<Arc<PluginSet>, PluginsError> {
        let mut service = ServiceConfig::default();
        service.api.restapi = Some(rest.clone());
        PluginSet::with_engine(shared_engine()?, folder, &service)
    }

    /// The current authorizer (keep the `Arc` for the whole call).
    pub fn authorizer(&self) -> Arc<Authorizer> {
        self.authorizer.get()
    }

    /// The current CORS plugin.
    pub fn cors(&self) -> Arc<Cors> {
        self.cors.get()
    }

    /// The current allocator.
    pub fn allocator(&self) -> Arc<Allocator> {
        self.allocator.get()
    }

    /// The engine the plugins run on.
    pub fn engine(&self) -> &PluginEngine {
        &self.engine
    }

    /// True when the authorizer is a custom plugin or REST credentials are configured: the
    /// API is not open to anyone who can reach it (for the exposure warnings).
    pub fn restricts_access(&self) -> bool {
        let b = self.built.lock().unwrap_or_else(|e| e.into_inner());
        let custom = b
            .plugins
            .authorizer
            .as_ref()
            .is_some_and(|e| e.builtin_name().is_none() || e.config.is_some());
        custom
            || b.rest
                .as_ref()
                .is_some_and(|r| r.basic_auth_credentials.is_some())
    }

    /// True when `api.restapi.basic_auth_credentials` is set (`POST /token` needs users).
    pub fn has_rest_users(&self) -> bool {
        let b = self.built.lock().unwrap_or_else(|e| e.into_inner());
        b.rest
            .as_ref()
            .is_some_and(|r| r.basic_auth_credentials.is_some())
    }

    /// Re-reads `service.json` (and the `CLUSTER_*` environment) and reloads every plugin
    /// from it (see the module docs). On error nothing changed.
    pub fn reload_from_disk(&self) -> Result<ReloadReport, PluginsError> {
        let folder = self.folder.as_ref().ok_or(PluginsError::NoFolder)?;
        let loaded = ServiceConfig::load(&folder.join(crate::config::SERVICE_JSON), &process_env)?;
        self.reload(&loaded.config)
    }

    /// Reloads every plugin from `service`: all three are loaded before any is swapped in.
    pub fn reload(&self, service: &ServiceConfig) -> Result<ReloadReport, PluginsError> {
        let _guard = self.reload_lock.lock().unwrap_or_else(|e| e.into_inner());
        service.plugins.validate()?;
        let inputs = Inputs::from_service(service);
        let revocations = self
            .revocations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let loaded = load_all(
            &self.engine,
            self.folder.as_deref(),
            &inputs,
            &self.key,
            &revocations,
        )?;
        self.authorizer.replace(loaded.authorizer);
        self.cors.replace(loaded.cors);
        self.allocator.replace(loaded.allocator);
        *self
            .token_lifetime
            .write()
            .unwrap_or_else(|e| e.into_inner()) = service.plugins.tokens.lifetime;
        let report = ReloadReport {
            plugins: loaded.infos.to_vec(),
        };
        *self.built.lock().unwrap_or_else(|e| e.into_inner()) = Built {
            plugins: inputs.plugins,
            rest: inputs.rest,
            allocate_by: inputs.allocate_by,
            infos: loaded.infos,
        };
        tracing::info!(
            plugins = ?report.plugins.iter().map(|p| format!("{}={}", p.kind, p.path)).collect::<Vec<_>>(),
            "plugins reloaded"
        );
        Ok(report)
    }

    /// Issues a token for `user`, valid for `plugins.tokens.lifetime`.
    pub fn issue_token(&self, user: &str, tenant: Option<&str>) -> Issued {
        let lifetime = *self
            .token_lifetime
            .read()
            .unwrap_or_else(|e| e.into_inner());
        self.key.issue(user, tenant, lifetime)
    }

    /// The token key (for tests and tools that forge tokens on purpose).
    pub fn token_key(&self) -> &TokenKey {
        &self.key
    }

    /// Revokes the token with id `jti`: saved, then the authorizer is reloaded with it.
    /// Returns false when it was revoked already.
    pub fn revoke_token(&self, jti: &str) -> Result<bool, PluginsError> {
        let _guard = self.reload_lock.lock().unwrap_or_else(|e| e.into_inner());
        let current = self
            .revocations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if current.contains(jti) {
            return Ok(false);
        }
        let next = current.with(jti);
        let inputs = {
            let b = self.built.lock().unwrap_or_else(|e| e.into_inner());
            Inputs {
                plugins: b.plugins.clone(),
                rest: b.rest.clone(),
                allocate_by: b.allocate_by.clone(),
            }
        };
        let (authorizer, _) = load_kind::<Authorizer>(
            &self.engine,
            self.folder.as_deref(),
            &inputs,
            PluginKind::Authorizer,
            &self.key,
            &next,
        )?;
        next.save()?;
        *self.revocations.lock().unwrap_or_else(|e| e.into_inner()) = next;
        self.authorizer.replace(authorizer);
        tracing::info!(id = jti, "token revoked");
        Ok(true)
    }

    /// The loaded plugins with their counters.
    pub fn status(&self) -> Vec<PluginStatus> {
        let infos = self
            .built
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .infos
            .clone();
        let stats = [
            self.authorizer().stats(),
            self.cors().stats(),
            self.allocator().stats(),
        ];
        infos
            .into_iter()
            .zip(stats)
            .map(|(info, s)| PluginStatus {
                info,
                calls: s.calls,
                denials: s.denials,
                traps: s.traps,
                timeouts: s.timeouts,
                out_of_memory: s.out_of_memory,
                failsafe: s.failsafe,
                instances_created: s.instances_created,
                tripped: s.tripped,
                total_latency_seconds: s.total_latency_nanos as f64 / 1e9,
                peak_memory_bytes: s.peak_memory_bytes,
                cache_hits: s.cache_hits,
            })
            .collect()
    }

    /// The counters in Prometheus' text exposition format (version 0.0.4).
    pub fn prometheus(&self) -> String {
        prometheus_text(&self.status())
    }
}

/// Reloads `set` from its folder on every SIGHUP, for as long as the process runs. A failed
/// reload is logged with its reason and the previous plugins stay.
pub fn spawn_sighup_reload(set: Arc<PluginSet>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP: plugins reload through POST /plugins/reload only");
                return;
            }
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the plugins from service.json");
            let set = set.clone();
            match tokio::task::spawn_blocking(move || set.reload_from_disk()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "plugin reload failed; the previous plugins stay")
                }
                Err(e) => tracing::error!(error = %e, "plugin reload panicked"),
            }
        }
    })
}

/// Renders plugin counters as Prometheus text. Counters restart at 0 when a plugin is
/// reloaded (the `sha256` label tells versions apart).
pub fn prometheus_text(status: &[PluginStatus]) -> String {
    type Metric = (
        &'static str,
        &'static str,
        &'static str,
        fn(&PluginStatus) -> f64,
    );
    const METRICS: &[Metric] = &[
        (
            "pinfold_plugin_calls_total",
            "counter",
            "Calls made to the plugin (fail-safe answers included).",
            |s| s.calls as f64,
        ),
        (
            "pinfold_plugin_denials_total",
            "counter",
            "Authorization calls that did not allow.",
            |s| s.denials as f64,
        ),
        (
            "pinfold_plugin_traps_total",
            "counter",
            "Calls that trapped.",
            |s| s.traps as f64,
        ),
        (
            "pinfold_plugin_timeouts_total",
            "counter",
            "Calls stopped by the time budget.",
            |s| s.timeouts as f64,
        ),
        (
            "pinfold_plugin_out_of_memory_total",
            "counter",
            "Calls stopped by the memory cap.",
            |s| s.out_of_memory as f64,
        ),
        (
            "pinfold_plugin_failsafe_total",
            "counter",
            "Calls answered by the fail-safe.",
            |s| s.failsafe as f64,
        ),
        (
            "pinfold_plugin_instances_created_total",
            "counter",
            "Instances created.",
            |s| s.instances_created as f64,
        ),
        (
            "pinfold_plugin_latency_seconds_total",
            "counter",
            "Wall time spent in calls.",
            |s| s.total_latency_seconds,
        ),
        (
            "pinfold_plugin_peak_memory_bytes",
            "gauge",
            "Largest linear memory of an instance.",
            |s| s.peak_memory_bytes as f64,
        ),
        (
            "pinfold_plugin_tripped",
            "gauge",
            "1 when the breaker has tripped the plugin off.",
            |s| f64::from(u8::from(s.tripped)),
        ),
    ];
    let mut out = String::new();
    for (name, ty, help, get) in METRICS {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {ty}\n"));
        for s in status {
            out.push_str(&format!(
                "{name}{{kind=\"{}\",path=\"{}\",sha256=\"{}\"}} {}\n",
                s.info.kind,
                prom_escape(&s.info.path),
                s.info.sha256,
                get(s)
            ));
        }
    }
    out
}

fn prom_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// What the plugins are built from.
struct Inputs {
    plugins: PluginsConfig,
    rest: Option<RestApiConfig>,
    allocate_by: Vec<String>,
}

impl Inputs {
    fn from_service(s: &ServiceConfig) -> Inputs {
        Inputs {
            plugins: s.plugins.clone(),
            rest: s.api.restapi.clone(),
            allocate_by: s.allocate_by(),
        }
    }
}

struct LoadedAll {
    authorizer: Authorizer,
    cors: Cors,
    allocator: Allocator,
    infos: [PluginInfo; 3],
}

fn load_all(
    engine: &PluginEngine,
    folder: Option<&Path>,
    inputs: &Inputs,
    key: &TokenKey,
    revocations: &Revocations,
) -> Result<LoadedAll, PluginsError> {
    let (authorizer, a) = load_kind::<Authorizer>(
        engine,
        folder,
        inputs,
        PluginKind::Authorizer,
        key,
        revocations,
    )?;
    let (cors, c) = load_kind::<Cors>(engine, folder, inputs, PluginKind::Cors, key, revocations)?;
    let (allocator, l) = load_kind::<Allocator>(
        engine,
        folder,
        inputs,
        PluginKind::Allocator,
        key,
        revocations,
    )?;
    Ok(LoadedAll {
        authorizer,
        cors,
        allocator,
        infos: [a, c, l],
    })
}

/// The three loadable kinds.
trait Loadable: Sized {
    fn load(engine: &PluginEngine, spec: &PluginSpec) -> Result<Self, PluginError>;
    fn sha256(&self) -> String;
}

macro_rules! loadable {
    ($t:ty) => {
        impl Loadable for $t {
            fn load(engine: &PluginEngine, spec: &PluginSpec) -> Result<Self, PluginError> {
                <$t>::load(engine, spec)
            }
            fn sha256(&self) -> String {
                <$t>::sha256(self).to_string()
            }
        }
    };
}
loadable!(Authorizer);
loadable!(Cors);
loadable!(Allocator);

fn load_kind<P: Loadable>(
    engine: &PluginEngine,
    folder: Option<&Path>,
    inputs: &Inputs,
    kind: PluginKind,
    key: &TokenKey,
    revocations: &Revocations,
) -> Result<(P, PluginInfo), PluginsError> {
    let spec = spec_for(folder, inputs, kind, key, revocations);
    let plugin = P::load(engine, &spec).map_err(|source| PluginsError::Load {
        key: kind.key(),
        source,
    })?;
    let path = inputs
        .plugins
        .entry(kind)
        .map(|e| e.path.clone())
        .unwrap_or_else(|| kind.builtin().to_string());
    let info = PluginInfo {
        kind: kind.key(),
        path,
        sha256: plugin.sha256(),
    };
    Ok((plugin, info))
}

/// The spec of one kind (see the module docs for the configuration rules).
fn spec_for(
    folder: Option<&Path>,
    inputs: &Inputs,
    kind: PluginKind,
    key: &TokenKey,
    revocations: &Revocations,
) -> PluginSpec {
    let entry = inputs
        .plugins
        .entry(kind)
        .cloned()
        .unwrap_or_else(|| PluginEntry::builtin(kind));
    let (source, config) = match entry.builtin_name() {
        Some(_) => {
            let bytes = match kind {
                PluginKind::Authorizer => AUTHZ_DEFAULT_WASM,
                PluginKind::Cors => CORS_DEFAULT_WASM,
                PluginKind::Allocator => ALLOCATOR_BALANCED_WASM,
            };
            let mut derived = match kind {
                PluginKind::Authorizer => derived_authz(inputs.rest.as_ref(), key, revocations),
                PluginKind::Cors => derived_cors(inputs.rest.as_ref()),
                PluginKind::Allocator => {
                    let mut m = Map::new();
                    m.insert("allocate_by".into(), json!(inputs.allocate_by));
                    m
                }
            };
            if let Some(Value::Object(own)) = &entry.config {
                for (k, v) in own {
                    derived.insert(k.clone(), v.clone());
                }
            }
            (PluginSource::Bytes(bytes.to_vec()), Value::Object(derived))
        }
        None => {
            let folder = folder.unwrap_or(Path::new("."));
            let file = entry.file(folder).unwrap_or_default();
            let mut config = entry.config.clone().unwrap_or_else(|| json!({}));
            if kind == PluginKind::Authorizer
                && let Value::Object(m) = &mut config
                && m.get("tokens").and_then(Value::as_str) == Some("host")
            {
                m.insert("tokens".into(), tokens_config(key, revocations));
            }
            (PluginSource::File(file), config)
        }
    };
    PluginSpec {
        id: kind.key().to_string(),
        source,
        sha256: entry.sha256.clone(),
        config_json: config.to_string(),
        limits: PluginLimits::from(&entry.limits),
    }
}

fn tokens_config(key: &TokenKey, revocations: &Revocations) -> Value {
    json!({
        "keys": { key.kid(): key.expose_hex() },
        "revoked": revocations.ids(),
    })
}

/// `authz-default`'s configuration from `api.restapi`.
fn derived_authz(
    rest: Option<&RestApiConfig>,
    key: &TokenKey,
    revocations: &Revocations,
) -> Map<String, Value> {
    let mut m = Map::new();
    let creds = rest.and_then(|r| r.basic_auth_credentials.as_ref());
    let users: Option<Map<String, Value>> = creds.map(|c| {
        c.expose()
            .iter()
            .map(|(user, password)| {
                let mut salt = [0u8; 16];
                rand::rngs::OsRng.fill_bytes(&mut salt);
                let mut h = Sha256::new();
                h.update(salt);
                h.update(password.as_bytes());
                let digest = h.finalize();
                (
                    user.clone(),
                    Value::String(format!(
                        "sha256-salted:{}:{}",
                        crate::gocompat::hex::encode(&salt),
                        crate::gocompat::hex::encode(&digest)
                    )),
                )
            })
            .collect()
    });
    m.insert(
        "basic_auth_credentials".into(),
        users.map(Value::Object).unwrap_or(Value::Null),
    );
    m.insert("tokens".into(), tokens_config(key, revocations));
    m
}

/// `cors-default`'s configuration from `api.restapi`'s `cors_*` keys.
fn derived_cors(rest: Option<&RestApiConfig>) -> Map<String, Value> {
    let mut m = Map::new();
    let Some(r) = rest else {
        return m;
    };
    m.insert("cors_allowed_origins".into(), json!(r.cors_allowed_origins));
    m.insert("cors_allowed_methods".into(), json!(r.cors_allowed_methods));
    m.insert("cors_allowed_headers".into(), json!(r.cors_allowed_headers));
    m.insert("cors_exposed_headers".into(), json!(r.cors_exposed_headers));
    m.insert(
        "cors_allow_credentials".into(),
        json!(r.cors_allow_credentials),
    );
    m.insert("cors_max_age".into(), json!(r.cors_max_age.as_secs()));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BasicAuthCredentials;
    use crate::p2p::rpc::{Caller, IpfsClusterPolicy, RpcAuthorizer};
    use crate::plugins::{BasicCredentials, Credentials, Decision, EndpointKind, Grant};
    use std::collections::BTreeMap;

    fn service_with_users(users: &[(&str, &str)]) -> ServiceConfig {
        let mut s = ServiceConfig::default();
        let rest = s.api.restapi.as_mut().unwrap();
        rest.basic_auth_credentials = Some(BasicAuthCredentials::new(
            users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ));
        s
    }

    fn request(credentials: Credentials) -> crate::plugins::AuthzRequest {
        crate::plugins::AuthzRequest {
            endpoint: EndpointKind::Rest,
            operation: "id".into(),
            method: "GET".into(),
            path: "/id".into(),
            query: String::new(),
            remote_addr: None,
            tls: false,
            credentials,
            remote_peer: None,
            tenant: None,
            headers: vec![],
        }
    }

    fn basic(u: &str, p: &str) -> Credentials {
        Credentials::Basic(BasicCredentials {
            user: u.into(),
            password: p.into(),
        })
    }

    fn allowed_as(d: &Decision, who: &str) -> bool {
        matches!(d, Decision::Allow(Grant { principal: Some(p), .. }) if p == who)
    }

    #[test]
    fn builtins_get_derived_config_and_tokens_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let set = PluginSet::with_engine(
            shared_engine().unwrap(),
            Some(dir.path()),
            &service_with_users(&[("alice", "wonder:land")]),
        )
        .unwrap();
        let a = set.authorizer();
        assert!(allowed_as(
            &a.authorize(&request(basic("alice", "wonder:land"))),
            "alice"
        ));
        assert!(matches!(
            a.authorize(&request(basic("alice", "nope"))),
            Decision::Challenge(_)
        ));
        // a token signed here verifies in the plugin (same format on both sides)
        let t = set.issue_token("alice", Some("t1"));
        assert!(matches!(
            a.authorize(&request(Credentials::Bearer(t.token.clone()))),
            Decision::Allow(Grant { principal: Some(p), tenant: Some(ten) }) if p == "alice" && ten == "t1"
        ));
        // expired and foreign-key tokens are refused
        let mut claims = t.claims.clone();
        claims.iat -= 7200;
        claims.exp = claims.iat + 60;
        let expired = set.token_key().sign(&claims);
        assert!(matches!(
            a.authorize(&request(Credentials::Bearer(expired))),
            Decision::Challenge(_)
        ));
        let foreign = TokenKey::generate().issue("alice", None, Duration::from_secs(60));
        assert!(matches!(
            a.authorize(&request(Credentials::Bearer(foreign.token))),
            Decision::Challenge(_)
        ));
        // revocation reloads the authorizer and persists
        assert!(set.revoke_token(&t.claims.jti).unwrap());
        assert!(!set.revoke_token(&t.claims.jti).unwrap());
        assert!(matches!(
            set.authorizer()
                .authorize(&request(Credentials::Bearer(t.token.clone()))),
            Decision::Challenge(_)
        ));
        let again = PluginSet::with_engine(
            shared_engine().unwrap(),
            Some(dir.path()),
            &service_with_users(&[("alice", "wonder:land")]),
        )
        .unwrap();
        assert!(matches!(
            again
                .authorizer()
                .authorize(&request(Credentials::Bearer(t.token))),
            Decision::Challenge(_)
        ));
        // the old version `a` still answers (in-flight calls finish on it)
        assert!(allowed_as(
            &a.authorize(&request(basic("alice", "wonder:land"))),
            "alice"
        ));
        // counters and their Prometheus form
        let status = set.status();
        assert_eq!(status.len(), 3);
        let text = set.prometheus();
        assert!(
            text.contains(
                "pinfold_plugin_calls_total{kind=\"authorizer\",path=\"builtin:authz-default\""
            ),
            "{text}"
        );
        assert!(!text.contains(&set.token_key().expose_hex()));
    }

    #[test]
    fn a_failing_reload_keeps_every_old_plugin() {
        let dir = tempfile::tempdir().unwrap();
        let mut service = service_with_users(&[("alice", "pw")]);
        let set =
            PluginSet::with_engine(shared_engine().unwrap(), Some(dir.path()), &service).unwrap();
        let before = set.authorizer();
        // a missing file, then a sha256 pin that does not match
        service.plugins = PluginsConfig::read(&json!({
            "cors": {"path": "missing.wasm"}
        }))
        .unwrap();
        let e = set.reload(&service).unwrap_err().to_string();
        assert!(e.starts_with("plugins.cors: "), "{e}");
        service.plugins = PluginsConfig::read(&json!({
            "authorizer": {"path": "builtin:authz-default", "sha256": "00".repeat(32)}
        }))
        .unwrap();
        let e = set.reload(&service).unwrap_err().to_string();
        assert!(
            e.contains("plugins.authorizer: ") && e.contains("sha256"),
            "{e}"
        );
        // a configuration the plugin rejects
        service.plugins = PluginsConfig::read(&json!({
            "authorizer": {"path": "builtin:authz-default", "config": {"colour": 1}}
        }))
        .unwrap();
        let e = set.reload(&service).unwrap_err().to_string();
        assert!(e.contains("init rejected"), "{e}");
        assert!(Arc::ptr_eq(&before, &set.authorizer()));
        // a good reload swaps: new credentials apply
        let service = service_with_users(&[("bob", "pw")]);
        set.reload(&service).unwrap();
        assert!(!Arc::ptr_eq(&before, &set.authorizer()));
        assert!(allowed_as(
            &set.authorizer().authorize(&request(basic("bob", "pw"))),
            "bob"
        ));
        // reload_from_disk reads service.json from the folder
        let e = set.reload_from_disk().unwrap_err().to_string();
        assert!(e.contains("service.json"), "{e}");
    }

    #[test]
    fn rpc_adapter_agrees_with_ipfs_cluster_policy() {
        let set = PluginSet::with_engine(shared_engine().unwrap(), None, &ServiceConfig::default())
            .unwrap();
        let plugin = crate::plugins::PluginRpcAuthorizer::new(set);
        let peer = libp2p_identity::PeerId::random();
        let mut methods: Vec<&str> = crate::p2p::rpc::GO_OPEN
            .iter()
            .chain(crate::p2p::rpc::GO_TRUSTED)
            .copied()
            .collect();
        methods.extend([
            "Cluster.Pin",
            "IPFSConnector.ID",
            "Cluster.StatusAll",
            "Nope.Nope",
            "Unknown",
            "",
        ]);
        for m in methods {
            for (is_self, trusted) in [(true, true), (false, true), (false, false)] {
                let caller = Caller {
                    peer,
                    is_self,
                    trusted,
                };
                assert_eq!(
                    plugin.authorize(m, &caller),
                    IpfsClusterPolicy.authorize(m, &caller),
                    "{m} self={is_self} trusted={trusted}"
                );
            }
        }
    }
}

/// A soak test of the resident instance model.
#[cfg(test)]
mod soak {
    use super::*;
    use crate::config::BasicAuthCredentials;
    use crate::plugins::{BasicCredentials, Credentials, Decision, EndpointKind};

    /// Thousands of different requests on the resident instances: no failure, no growth, one
    /// instance.
    #[test]
    fn many_unique_calls_on_resident_instances() {
        let mut s = ServiceConfig::default();
        s.api.restapi.as_mut().unwrap().basic_auth_credentials = Some(BasicAuthCredentials::new(
            [("bob".to_string(), "builder".to_string())].into(),
        ));
        let set = PluginSet::with_engine(shared_engine().unwrap(), None, &s).unwrap();
        for i in 0..5000 {
            let r = crate::plugins::AuthzRequest {
                endpoint: EndpointKind::Rest,
                operation: "version".into(),
                method: "GET".into(),
                path: "/version".into(),
                query: format!("n={i}"),
                remote_addr: Some("127.0.0.1:5000".into()),
                tls: false,
                credentials: Credentials::Basic(BasicCredentials {
                    user: "bob".into(),
                    password: "builder".into(),
                }),
                remote_peer: None,
                tenant: None,
                headers: vec![],
            };
            let d = set.authorizer().authorize(&r);
            assert!(
                matches!(d, Decision::Allow(_)),
                "call {i}: {d:?} {:?}",
                set.status()[0]
            );
        }
        let st = &set.status()[0];
        assert_eq!(
            (st.calls, st.instances_created, st.failsafe),
            (5000, 1, 0),
            "{st:?}"
        );
        assert!(st.peak_memory_bytes < 4 << 20, "{st:?}");
    }
}
