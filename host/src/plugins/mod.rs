//! Sandboxed WASM plugins: the host side.
//!
//! Who may do what (authorization), which web origins may call the HTTP APIs (CORS) and which
//! peers store a pin (allocation) are decided by WebAssembly components the operator chooses,
//! built against the WIT package `pinfold:plugin@0.1.0` in `wit/`. This module loads and runs
//! them with wasmtime 48 so that a plugin can never crash, hang or open up the daemon.
//!
//! # Shape
//!
//! * [`PluginEngine`] (`engine.rs`): one per daemon. A wasmtime `Engine` with epoch
//!   interruption (a background thread ticks the epoch every [`EPOCH_TICK`]), the pooling
//!   instance allocator, wasmtime's on-disk compilation cache in a daemon-owned folder, an
//!   in-memory map from a component's sha256 to its compiled form, and the one `Linker`, which
//!   defines only the `host` interface: logging and a clock. **No WASI is linked**: a component
//!   that imports any `wasi:` interface is refused at load with a clear error (a std guest built
//!   for `wasm32-wasip2` imports 13 WASI interfaces it never uses; build for
//!   `wasm32-unknown-unknown` and wrap with `wasm-tools component new` instead).
//! * `plugin.rs`: the world-independent core, `Plugin<W>`. Loading verifies the optional
//!   sha256 pin, refuses other WIT package versions and WASI imports, compiles (or finds the
//!   compiled form), resolves the `InstancePre` against the world, then instantiates and calls
//!   `init(config_json)`: any failure is a [`PluginError`] and the plugin is not loaded. Each
//!   call runs in a `Store` with a fresh epoch deadline (the time budget) and a memory cap, and
//!   is classified as ok, trap, time-out or out-of-memory; per-plugin counters and a circuit
//!   breaker sit beside it.
//! * `worlds.rs`: the narrow typed wrappers, one per world (the fermyon/spin idea: callers never
//!   see wasmtime): [`Authorizer::authorize`], [`Cors::decide`], [`Allocator::allocate`]. Each
//!   applies its kind's **fail-safe** when the plugin fails: authorization denies
//!   ([`failsafe_denial`], status 500, reason "plugin failed"), CORS adds no header and is not a
//!   preflight, the allocator returns the built-in order the caller passed.
//! * `slot.rs`: [`PluginSlot`], the hot-reload cell: the new version is loaded and `init`-
//!   validated completely before it replaces the old one; calls already running keep their
//!   `Arc` to the old one and finish on it.
//! * `state.rs`: the per-store state: the `host` imports (guest log lines go to `tracing` with
//!   the plugin's id, rate-limited per call) and the memory limiter that tells an
//!   out-of-memory apart from other traps.
//!
//! # Isolation: resident instances, discarded on any failure
//!
//! A call on a warm, resident instance costs an order of magnitude less than a fresh pooled
//! instance plus `init` plus the call (`tests.rs::instance_model_costs`; figures in
//! `docs/benchmarks.md`). Policy
//! decisions sit on every request, so by default each plugin keeps a small pool of resident
//! instances (up to [`PluginLimits::max_idle_instances`] idle, at most
//! [`PluginLimits::max_concurrent_calls`] in use; more callers wait rather than fail); every
//! call gets a fresh epoch deadline and runs under the memory cap. What this isolates: the daemon from the plugin (memory, CPU,
//! capabilities), and every call from an earlier *failed* call (an instance that trapped, timed
//! out or ran out of memory is dropped and never entered again). What it does not isolate: one
//! successful call's leftover guest heap from the next call on the same instance. The plugin is
//! the operator's own policy code with no way to reach the outside world, so one request cannot
//! leak another's data through it to anyone; an operator who wants strict per-request isolation
//! sets [`PluginLimits::fresh_instance_per_call`] and pays the fresh-instance cost.
//!
//! Calls are synchronous: a call blocks its thread for at most the time budget (50 ms by
//! default) plus host time. The budget is wall-clock (epochs), so a thread descheduled on a
//! loaded machine spends budget too; keep budgets well above the expected decision time.
//!
//! # Failure and the breaker
//!
//! A plugin that fails [`PluginLimits::trip_after`] times within [`PluginLimits::trip_window`]
//! is tripped off: an error is logged once, and every later call takes the fail-safe without
//! entering wasm until the plugin is reloaded (a new `Plugin` in its [`PluginSlot`]).
//!
//! # Wiring (`set.rs`, `rpc.rs`, `tokens.rs`)
//!
//! * [`PluginSet`] (`set.rs`) builds the daemon's three plugins from `service.json`'s
//!   `plugins` section (`config/plugins.rs`; omitted = the built-ins, embedded with
//!   `include_bytes!`, configured from the IPFS Cluster keys), holds them in slots, and
//!   reloads them all-or-nothing on SIGHUP and `POST /plugins/reload`.
//! * The REST access layer (`api/rest/access.rs`) is the adapter between HTTP and the
//!   `authorizer` and `cors` worlds; it calls the plugins synchronously on the request's
//!   worker (a resident call costs less than a `spawn_blocking` hop).
//! * [`PluginRpcAuthorizer`] (`rpc.rs`) authorizes cluster RPC with the same authorizer.
//! * `tokens.rs`: `POST /token`'s key (0600 file), issuance and revocation list.
//! * Counters: [`PluginStats`] per plugin, served as JSON (`GET /plugins`) and Prometheus text
//!   (`GET /plugins/metrics`).
//!
//! # Cost on the request path (`cargo bench -p pinfold --bench plugins`)
//!
//! Decision costs (resident, fresh, cached) and REST throughput with and without the plugins
//! are in `docs/benchmarks.md`. The decision cache makes a repeated request cost a hash and a
//! lookup; a request that enters wasm costs a few µs, which shows on the lightest routes
//! (`GET /version`) and is a small share of any route that reaches the cluster.
//!
//! # Not yet here
//!
//! The allocator plugin is loaded and reloaded but the cluster façade does not call it yet
//! (its candidates are every member, in member order). The daemon's swarm authorizes every
//! inbound cluster RPC with [`PluginRpcAuthorizer`].

mod engine;
mod plugin;
pub mod rpc;
pub mod set;
mod slot;
mod state;
pub mod tokens;
mod worlds;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

pub use engine::{EPOCH_TICK, EngineOptions, PluginEngine};
pub use plugin::PluginStats;
pub use rpc::PluginRpcAuthorizer;
pub use set::{PluginSet, PluginsError, ReloadReport, shared_engine};
pub use slot::PluginSlot;
pub use worlds::{
    Allocator, Authorizer, Cors, FAILSAFE_DENY_STATUS, failsafe_cors, failsafe_denial,
};

/// The WIT package version this host implements; plugins must be built against `0.1.x`.
pub const WIT_PACKAGE: &str = "pinfold:plugin@0.1.0";

/// The log levels of the `host` import.
pub use bindings::authorizer::pinfold::plugin::host::Level as GuestLogLevel;
/// The types of the WIT package, as Rust types (generated by `wasmtime::component::bindgen!`).
pub use bindings::authorizer::pinfold::plugin::types::{
    AuthChallenge, AuthzRequest, BasicCredentials, CorsRequest, CorsResponse, Credentials,
    Decision, Denial, EndpointKind, Grant, Metric, PeerTrust, RemotePeer,
};

pub(crate) mod bindings {
    //! Host bindings of the three worlds. The `types` and `host` interfaces are generated once
    //! (in `authorizer`) and shared by the other two worlds, so there is one `AuthzRequest`
    //! type and one `Host` impl.
    pub mod authorizer {
        wasmtime::component::bindgen!({
            world: "authorizer",
            path: "../wit/pinfold-plugin@0.1.0",
            additional_derives: [PartialEq, Eq, Hash],
        });
    }
    pub mod cors {
        wasmtime::component::bindgen!({
            world: "cors",
            path: "../wit/pinfold-plugin@0.1.0",
            with: {
                "pinfold:plugin/types": crate::plugins::bindings::authorizer::pinfold::plugin::types,
                "pinfold:plugin/host": crate::plugins::bindings::authorizer::pinfold::plugin::host,
            },
        });
    }
    pub mod allocator {
        wasmtime::component::bindgen!({
            world: "allocator",
            path: "../wit/pinfold-plugin@0.1.0",
            with: {
                "pinfold:plugin/types": crate::plugins::bindings::authorizer::pinfold::plugin::types,
                "pinfold:plugin/host": crate::plugins::bindings::authorizer::pinfold::plugin::host,
            },
        });
    }
}

/// Where a plugin's component comes from.
#[derive(Clone)]
pub enum PluginSource {
    /// The component's bytes (an embedded default plugin).
    Bytes(Vec<u8>),
    /// A `.wasm` component file.
    File(PathBuf),
}

impl std::fmt::Debug for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            PluginSource::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

/// What to load: the operator's `plugins` entry.
#[derive(Clone)]
pub struct PluginSpec {
    /// The plugin's id, used in logs and metrics (`authz`, `cors`, `allocator`, or a name).
    pub id: String,
    /// The component.
    pub source: PluginSource,
    /// When set, the component's sha256 (lower-case hex) must equal this.
    pub sha256: Option<String>,
    /// The plugin's configuration as JSON text, passed to `init` (`{}` when none).
    pub config_json: String,
    /// Its limits.
    pub limits: PluginLimits,
}

impl std::fmt::Debug for PluginSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configuration may hold secrets (the token key, password digests): length only.
        f.debug_struct("PluginSpec")
            .field("id", &self.id)
            .field("source", &self.source)
            .field("sha256", &self.sha256)
            .field("config_json_len", &self.config_json.len())
            .field("limits", &self.limits)
            .finish()
    }
}

impl PluginSpec {
    /// A spec with the default limits, no pin and an empty (`{}`) configuration.
    pub fn new(id: impl Into<String>, source: PluginSource) -> Self {
        PluginSpec {
            id: id.into(),
            source,
            sha256: None,
            config_json: "{}".to_string(),
            limits: PluginLimits::default(),
        }
    }
}

/// Per-plugin resource limits and failure policy.
#[derive(Clone, Debug)]
pub struct PluginLimits {
    /// The most linear memory an instance may have, in bytes (at most the engine's
    /// [`EngineOptions::max_memory_bytes`]).
    pub memory_bytes: usize,
    /// The CPU time budget of one call (and of `init`), rounded up to epoch ticks.
    pub time_budget: Duration,
    /// Resident instances kept warm between calls.
    pub max_idle_instances: usize,
    /// Calls running at once on this plugin (each needs its own instance); more callers wait
    /// for a free one, so a burst of requests never exhausts the engine's instance pool and
    /// never gets a fail-safe answer for want of an instance. Keep the sum over all plugins
    /// (twice it during a reload) under [`EngineOptions::max_instances`].
    pub max_concurrent_calls: usize,
    /// True: every call gets a fresh instance (strict isolation, ~20 µs a call).
    pub fresh_instance_per_call: bool,
    /// Failures (traps, time-outs, out-of-memory) within `trip_window` that trip the plugin off.
    pub trip_after: u32,
    /// The breaker's window.
    pub trip_window: Duration,
    /// Entries of the decision cache (0: no cache; see `worlds.rs`). Not used with
    /// `fresh_instance_per_call`.
    pub decision_cache_entries: usize,
}

impl Default for PluginLimits {
    /// The `plugins.<kind>.limits` defaults, which the configuration owns.
    fn default() -> Self {
        PluginLimits::from(&crate::config::plugins::LimitsConfig::default())
    }
}

impl From<&crate::config::plugins::LimitsConfig> for PluginLimits {
    fn from(l: &crate::config::plugins::LimitsConfig) -> Self {
        PluginLimits {
            memory_bytes: usize::try_from(l.memory.bytes()).unwrap_or(usize::MAX),
            time_budget: l.time_budget,
            max_idle_instances: l.max_idle_instances,
            max_concurrent_calls: l.max_concurrent_calls,
            fresh_instance_per_call: l.fresh_instance_per_call,
            trip_after: l.trip_after,
            trip_window: l.trip_window,
            decision_cache_entries: l.decision_cache,
        }
    }
}

/// Why a plugin could not be loaded (or reloaded). Its text is shown to the operator.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {id}: cannot read {path}: {source}")]
    Io {
        id: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin {id}: sha256 mismatch: expected {expected}, the component is {actual}")]
    Sha256Mismatch {
        id: String,
        expected: String,
        actual: String,
    },
    #[error("plugin {id}: not a WebAssembly component{detail}")]
    NotAComponent { id: String, detail: String },
    #[error("plugin {id}: cannot compile the component: {detail}")]
    Compile { id: String, detail: String },
    #[error(
        "plugin {id}: imports WASI ({import}), which Pinfold does not grant; build it for \
         wasm32-unknown-unknown and wrap it with `wasm-tools component new` so that it imports \
         only pinfold:plugin/host"
    )]
    ImportsWasi { id: String, import: String },
    #[error(
        "plugin {id}: built against {found}, but this daemon implements {expected} (plugins must \
         use the same 0.1.x track)"
    )]
    WrongVersion {
        id: String,
        found: String,
        expected: &'static str,
    },
    #[error("plugin {id}: is not a valid `{world}` plugin of {package}: {detail}", package = WIT_PACKAGE)]
    WorldMismatch {
        id: String,
        world: &'static str,
        detail: String,
    },
    #[error("plugin {id}: init rejected the configuration: {message}")]
    InitRejected { id: String, message: String },
    #[error("plugin {id}: init failed ({kind}): {detail}")]
    InitFailed {
        id: String,
        kind: &'static str,
        detail: String,
    },
}
