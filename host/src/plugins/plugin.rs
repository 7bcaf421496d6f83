//! The world-independent core of a loaded plugin: load, instance pool, calls, counters, breaker.
//!
//! **Load** (`Plugin::load`): read the bytes, check the sha256 pin, look at the component's
//! imports and exports before anything else (another `pinfold:plugin` version → a clear
//! `WrongVersion`; any `wasi:` import → `ImportsWasi`), compile (cached), resolve the
//! `InstancePre` against the linker and the world's exports (a type mismatch is a
//! `WorldMismatch`), then create a first instance and run `init(config_json)` under the plugin's
//! limits. Only if all of this succeeds is there a `Plugin` to put in a slot.
//!
//! **Call** (`Plugin::call`): take a resident instance (or create one: instantiate from the
//! `InstancePre`, then `init`), give its store a fresh epoch deadline, run the closure, and
//! classify the outcome. On success the instance goes back to the pool (unless the plugin wants
//! a fresh instance per call, or the pool is full). On any failure the store is dropped, so a
//! trapped instance is never entered again, the failure is counted (trap, time-out or
//! out-of-memory), logged with the plugin id, and fed to the breaker. The caller (the typed
//! wrapper) turns the failure into its kind's fail-safe answer.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, InstancePre};
use wasmtime::{Store, Trap};

use super::engine::PluginEngine;
use super::state::State;
use super::{PluginError, PluginLimits, PluginSource, PluginSpec};

/// One world's bindings, as the core needs them.
pub(crate) trait World: 'static {
    /// The world's name in the WIT package.
    const NAME: &'static str;
    /// The typed `InstancePre`.
    type Pre: Send + Sync;
    /// The typed instance.
    type Instance: Send + Sync;
    fn pre(pre: InstancePre<State>) -> wasmtime::Result<Self::Pre>;
    fn instantiate(pre: &Self::Pre, store: &mut Store<State>) -> wasmtime::Result<Self::Instance>;
    fn init(
        instance: &Self::Instance,
        store: &mut Store<State>,
        config_json: &str,
    ) -> wasmtime::Result<Result<(), String>>;
    fn config_schema(
        instance: &Self::Instance,
        store: &mut Store<State>,
    ) -> wasmtime::Result<String>;
}

/// How a call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The guest trapped (a panic, an abort, an invalid access…).
    Trap,
    /// The epoch deadline passed.
    Timeout,
    /// The guest wanted more memory than its cap.
    OutOfMemory,
    /// The plugin is tripped off; wasm was not entered.
    Tripped,
    /// A new instance's `init` returned an error (the configuration was accepted at load).
    Init,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Failure::Trap => "trap",
            Failure::Timeout => "time-out",
            Failure::OutOfMemory => "out of memory",
            Failure::Tripped => "tripped",
            Failure::Init => "init error",
        }
    }
}

/// A snapshot of a plugin's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginStats {
    /// Calls made (including those answered by the fail-safe).
    pub calls: u64,
    /// Authorization calls that did not allow (deny or challenge, including fail-safe denials).
    pub denials: u64,
    /// Calls that trapped (out-of-memory and time-outs are counted on their own).
    pub traps: u64,
    /// Calls stopped by the epoch deadline.
    pub timeouts: u64,
    /// Calls that hit the memory cap.
    pub out_of_memory: u64,
    /// Calls answered by the fail-safe for any reason (failure, tripped, plugin error).
    pub failsafe: u64,
    /// Instances created (including the one `init` validated at load).
    pub instances_created: u64,
    /// True once the breaker has tripped the plugin off (until it is reloaded).
    pub tripped: bool,
    /// Total wall time spent in calls, nanoseconds.
    pub total_latency_nanos: u64,
    /// The largest linear memory any instance of the plugin has had, bytes.
    pub peak_memory_bytes: u64,
    /// Decisions answered from the decision cache, without a call (not in `calls`).
    pub cache_hits: u64,
}

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    denials: AtomicU64,
    traps: AtomicU64,
    timeouts: AtomicU64,
    out_of_memory: AtomicU64,
    failsafe: AtomicU64,
    instances_created: AtomicU64,
    latency_nanos: AtomicU64,
    peak_memory: AtomicU64,
    cache_hits: AtomicU64,
}

struct Resident<W: World> {
    store: Store<State>,
    instance: W::Instance,
}

/// A loaded, `init`-validated plugin of world `W`.
pub(crate) struct Plugin<W: World> {
    pub id: Arc<str>,
    pub sha256: String,
    engine: PluginEngine,
    pre: W::Pre,
    config_json: String,
    limits: PluginLimits,
    budget_ticks: u64,
    idle: Mutex<Vec<Resident<W>>>,
    counters: Counters,
    failures: Mutex<VecDeque<Instant>>,
    tripped: AtomicBool,
    /// Calls running now, bounded by `limits.max_concurrent_calls`.
    running: Mutex<usize>,
    call_done: Condvar,
}

/// A place among the plugin's concurrent calls; freed on drop.
struct CallPermit<'a> {
    running: &'a Mutex<usize>,
    call_done: &'a Condvar,
}

impl Drop for CallPermit<'_> {
    fn drop(&mut self) {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.call_done.notify_one();
    }
}

fn err_text(e: &wasmtime::Error) -> String {
    format!("{e:#}")
}

impl<W: World> Plugin<W> {
    pub fn load(engine: &PluginEngine, spec: &PluginSpec) -> Result<Self, PluginError> {
        let id = spec.id.clone();
        let bytes: std::borrow::Cow<'_, [u8]> = match &spec.source {
            PluginSource::Bytes(b) => b.as_slice().into(),
            PluginSource::File(path) => std::fs::read(path)
                .map_err(|source| PluginError::Io {
                    id: id.clone(),
                    path: path.clone(),
                    source,
                })?
                .into(),
        };
        let sha: [u8; 32] = Sha256::digest(&bytes).into();
        let sha_hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
        if let Some(expected) = &spec.sha256
            && !expected.trim().eq_ignore_ascii_case(&sha_hex)
        {
            return Err(PluginError::Sha256Mismatch {
                id,
                expected: expected.clone(),
                actual: sha_hex,
            });
        }
        // Magic, then version 0x0d 0x00 and layer 0x01 0x00 for a component.
        if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
            return Err(PluginError::NotAComponent {
                id,
                detail: String::new(),
            });
        }
        if bytes[6..8] != [1, 0] {
            return Err(PluginError::NotAComponent {
                id,
                detail: " (it is a core module: wrap it with `wasm-tools component new`)".into(),
            });
        }
        let component = engine
            .compile(sha, &bytes)
            .map_err(|e| PluginError::Compile {
                id: id.clone(),
                detail: err_text(&e),
            })?;
        check_names::<W>(&id, engine, &component)?;
        let pre = engine
            .linker
            .instantiate_pre(&component)
            .and_then(W::pre)
            .map_err(|e| PluginError::WorldMismatch {
                id: id.clone(),
                world: W::NAME,
                detail: err_text(&e),
            })?;
        if spec.limits.memory_bytes > engine.max_memory_bytes {
            tracing::warn!(
                plugin = %id,
                "memory cap {} is above the engine's {}; using the engine's",
                spec.limits.memory_bytes,
                engine.max_memory_bytes
            );
        }
        let mut limits = spec.limits.clone();
        limits.memory_bytes = limits.memory_bytes.min(engine.max_memory_bytes);
        let plugin = Plugin {
            id: id.as_str().into(),
            sha256: sha_hex,
            engine: engine.clone(),
            pre,
            config_json: spec.config_json.clone(),
            budget_ticks: PluginEngine::budget_ticks(limits.time_budget),
            limits,
            idle: Mutex::new(Vec::new()),
            counters: Counters::default(),
            failures: Mutex::new(VecDeque::new()),
            tripped: AtomicBool::new(false),
            running: Mutex::new(0),
            call_done: Condvar::new(),
        };
        // Validate the configuration in a first instance; keep it warm if it passes.
        match plugin.new_instance() {
            Ok(resident) => {
                if !plugin.limits.fresh_instance_per_call && plugin.limits.max_idle_instances > 0 {
                    plugin.idle.lock().expect("idle pool").push(resident);
                }
            }
            Err((Failure::Init, detail)) => {
                return Err(PluginError::InitRejected {
                    id,
                    message: detail,
                });
            }
            Err((kind, detail)) => {
                return Err(PluginError::InitFailed {
                    id,
                    kind: kind.as_str(),
                    detail,
                });
            }
        }
        tracing::info!(plugin = %plugin.id, world = W::NAME, sha256 = %plugin.sha256, "plugin loaded");
        Ok(plugin)
    }

    fn new_store(&self) -> Store<State> {
        let state = State::new(
            self.id.clone(),
            self.limits.memory_bytes,
            self.engine.epoch.clone(),
        );
        let mut store = Store::new(&self.engine.engine, state);
        store.limiter(|s| s as &mut dyn wasmtime::ResourceLimiter);
        store.call_hook(|mut ctx, hook| {
            if let Some(ticks) = ctx.data_mut().on_call_hook(hook) {
                ctx.set_epoch_deadline(ticks);
            }
            Ok(())
        });
        let ticks = store.data_mut().start_budget(self.budget_ticks);
        store.set_epoch_deadline(ticks);
        store
    }

    /// A new instance, `init`-ed with the plugin's configuration.
    fn new_instance(&self) -> Result<Resident<W>, (Failure, String)> {
        let mut store = self.new_store();
        self.counters
            .instances_created
            .fetch_add(1, Ordering::Relaxed);
        let instance = W::instantiate(&self.pre, &mut store)
            .map_err(|e| (classify(&e, &store), err_text(&e)))?;
        let init = W::init(&instance, &mut store, &self.config_json);
        self.counters
            .peak_memory
            .fetch_max(store.data().peak_memory as u64, Ordering::Relaxed);
        match init {
            Ok(Ok(())) => Ok(Resident { store, instance }),
            Ok(Err(message)) => Err((Failure::Init, message)),
            Err(e) => Err((classify(&e, &store), err_text(&e))),
        }
    }

    /// Runs `f` on an instance under the plugin's limits. `Err` means the caller must answer
    /// with its fail-safe.
    pub fn call<R>(
        &self,
        f: impl FnOnce(&W::Instance, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R, Failure> {
        self.call_observed(f).map(|(r, _)| r)
    }

    /// [`Plugin::call`], also telling whether the answer is a pure function of the request:
    /// true when the guest did not read the clock during the call.
    pub fn call_observed<R>(
        &self,
        f: impl FnOnce(&W::Instance, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<(R, bool), Failure> {
        let start = Instant::now();
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        let result = self.call_inner(f);
        self.counters
            .latency_nanos
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if result.is_err() {
            self.counters.failsafe.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn call_inner<R>(
        &self,
        f: impl FnOnce(&W::Instance, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<(R, bool), Failure> {
        if self.tripped.load(Ordering::Relaxed) {
            return Err(Failure::Tripped);
        }
        let _permit = self.permit();
        let pooled = self.idle.lock().expect("idle pool").pop();
        let mut resident = match pooled {
            Some(r) => r,
            None => self.new_instance().map_err(|(kind, detail)| {
                self.record_failure(kind, &detail);
                kind
            })?,
        };
        let ticks = resident.store.data_mut().start_budget(self.budget_ticks);
        resident.store.set_epoch_deadline(ticks);
        resident.store.data_mut().log_lines = 0;
        resident.store.data_mut().clock_reads = 0;
        let result = f(&resident.instance, &mut resident.store);
        self.counters
            .peak_memory
            .fetch_max(resident.store.data().peak_memory as u64, Ordering::Relaxed);
        let pure = resident.store.data().clock_reads == 0;
        match result {
            Ok(value) => {
                if !self.limits.fresh_instance_per_call {
                    let mut idle = self.idle.lock().expect("idle pool");
                    if idle.len() < self.limits.max_idle_instances {
                        idle.push(resident);
                    }
                }
                Ok((value, pure))
            }
            Err(e) => {
                let kind = classify(&e, &resident.store);
                self.record_failure(kind, &err_text(&e));
                // `resident` is dropped here: a failed instance is never entered again.
                Err(kind)
            }
        }
    }

    /// Waits until fewer than `max_concurrent_calls` calls run, then takes a place.
    fn permit(&self) -> CallPermit<'_> {
        let max = self.limits.max_concurrent_calls.max(1);
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        while *running >= max {
            running = self
                .call_done
                .wait(running)
                .unwrap_or_else(|e| e.into_inner());
        }
        *running += 1;
        CallPermit {
            running: &self.running,
            call_done: &self.call_done,
        }
    }

    fn record_failure(&self, kind: Failure, detail: &str) {
        let counter = match kind {
            Failure::Trap | Failure::Init => &self.counters.traps,
            Failure::Timeout => &self.counters.timeouts,
            Failure::OutOfMemory => &self.counters.out_of_memory,
            Failure::Tripped => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let detail: String = detail.chars().take(4096).collect();
        tracing::warn!(plugin = %self.id, failure = kind.as_str(), %detail, "plugin call failed; fail-safe answer used");
        let now = Instant::now();
        let mut window = self.failures.lock().expect("failure window");
        window.push_back(now);
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.limits.trip_window)
        {
            window.pop_front();
        }
        if window.len() as u64 >= u64::from(self.limits.trip_after.max(1))
            && !self.tripped.swap(true, Ordering::Relaxed)
        {
            self.idle.lock().expect("idle pool").clear();
            tracing::error!(
                plugin = %self.id,
                failures = window.len(),
                window_secs = self.limits.trip_window.as_secs_f64(),
                "plugin tripped off after repeated failures: every call now gets the fail-safe answer until it is reloaded"
            );
        }
    }

    pub fn count_denial(&self) {
        self.counters.denials.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_cache_hit(&self) {
        self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// True once the breaker has tripped the plugin off.
    pub fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::Relaxed)
    }

    /// The plugin's limits.
    pub fn limits(&self) -> &PluginLimits {
        &self.limits
    }

    pub fn count_failsafe(&self) {
        self.counters.failsafe.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stats(&self) -> PluginStats {
        let c = &self.counters;
        PluginStats {
            calls: c.calls.load(Ordering::Relaxed),
            denials: c.denials.load(Ordering::Relaxed),
            traps: c.traps.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
            out_of_memory: c.out_of_memory.load(Ordering::Relaxed),
            failsafe: c.failsafe.load(Ordering::Relaxed),
            instances_created: c.instances_created.load(Ordering::Relaxed),
            tripped: self.tripped.load(Ordering::Relaxed),
            total_latency_nanos: c.latency_nanos.load(Ordering::Relaxed),
            peak_memory_bytes: c.peak_memory.load(Ordering::Relaxed),
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
        }
    }
}

fn classify(e: &wasmtime::Error, store: &Store<State>) -> Failure {
    if store.data().hit_memory_cap {
        return Failure::OutOfMemory;
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => Failure::Timeout,
        _ => Failure::Trap,
    }
}

/// Refuses components built against another `pinfold:plugin` version, or importing WASI,
/// before the linker's less friendly "no matching implementation" error.
fn check_names<W: World>(
    id: &str,
    engine: &PluginEngine,
    component: &Component,
) -> Result<(), PluginError> {
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(&engine.engine)
        .map(|(n, _)| n.to_string())
        .collect();
    let exports: Vec<String> = ty
        .exports(&engine.engine)
        .map(|(n, _)| n.to_string())
        .collect();
    for name in &imports {
        if name.starts_with("wasi:") {
            return Err(PluginError::ImportsWasi {
                id: id.to_string(),
                import: name.clone(),
            });
        }
    }
    for name in imports.iter().chain(exports.iter()) {
        if let Some(rest) = name.strip_prefix("pinfold:plugin/")
            && let Some((_, version)) = rest.split_once('@')
            && !version.starts_with("0.1.")
        {
            return Err(PluginError::WrongVersion {
                id: id.to_string(),
                found: format!("pinfold:plugin@{version}"),
                expected: super::WIT_PACKAGE,
            });
        }
    }
    Ok(())
}
