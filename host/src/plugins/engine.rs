//! The one wasmtime engine of the daemon, and what hangs off it.
//!
//! * **Epoch interruption** is on, and a background thread (holding only an `EngineWeak`, so it
//!   ends when the last user of the engine is dropped) calls `increment_epoch` every
//!   [`EPOCH_TICK`]. A call's time budget becomes a number of ticks (rounded up, plus one since
//!   the first tick may come at once). Epochs cost far less than fuel (wasmtime documents 2–3×);
//!   they are not deterministic, which a time limit need not be.
//! * **Pooling allocator**: instance slots, memories and stacks are reserved once; a fresh
//!   instance from an `InstancePre` costs single-digit µs in release instead of ~15 µs with the
//!   on-demand allocator. If the pool cannot be reserved (a small address space) the engine
//!   falls back to on-demand allocation with a warning, as Spin does.
//! * **Compilation cache**: components are compiled by cranelift once. In memory, by the sha256
//!   of their bytes (a reload of an unchanged file compiles nothing); on disk, with wasmtime's
//!   own cache in a daemon-owned folder, keyed by the bytes, the wasmtime version and the
//!   compiler configuration, so a restart deserializes (~0.1 ms) instead of compiling
//!   (15–400 ms). wasmtime's cache is used rather than `Component::deserialize` of our own files
//!   because that is an `unsafe fn` and the workspace forbids unsafe code; the cache checks that
//!   an entry was produced by a compatible engine before it loads it.
//! * **Host time is not billed.** A store's call hook notes the epoch when the guest calls into
//!   the host and, when the host returns, pushes the deadline back by the ticks spent there, so
//!   a slow host import never times out a plugin that itself used little CPU (the mistake of
//!   hiroz#319). The ticker keeps its own epoch counter for this.
//! * **The linker** defines only `pinfold:plugin/host` (log, clock). Nothing else: no WASI.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
};

use super::bindings::authorizer::pinfold::plugin::host as host_iface;
use super::state::State;

/// How often the epoch advances: the granularity of plugin time budgets.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Engine-wide settings.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// The daemon-owned folder for compiled components; `None` disables the disk cache.
    pub cache_dir: Option<PathBuf>,
    /// The most instances alive at once across every plugin (pool size).
    pub max_instances: u32,
    /// The largest linear memory any plugin may be given (the per-plugin cap is at most this).
    pub max_memory_bytes: usize,
    /// Use the pooling allocator (falls back to on-demand if it cannot be reserved).
    pub pooling: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            cache_dir: None,
            max_instances: 128,
            max_memory_bytes: 64 << 20,
            pooling: true,
        }
    }
}

/// The daemon's plugin engine. Cheap to clone (everything inside is shared).
#[derive(Clone)]
pub struct PluginEngine {
    pub(crate) engine: Engine,
    pub(crate) linker: Arc<Linker<State>>,
    cache: Option<Cache>,
    compiled: Arc<Mutex<HashMap<[u8; 32], Component>>>,
    pub(crate) max_memory_bytes: usize,
    pub(crate) pooled: bool,
    /// The epochs ticked so far (wasmtime does not expose its own counter).
    pub(crate) epoch: Arc<AtomicU64>,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine")
            .field("pooled", &self.pooled)
            .field("disk_cache", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

impl PluginEngine {
    /// Builds the engine, its linker and its epoch ticker.
    pub fn new(options: &EngineOptions) -> anyhow::Result<Self> {
        let cache = match &options.cache_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                let mut cc = CacheConfig::new();
                cc.with_directory(dir);
                Some(Cache::new(cc).map_err(|e| anyhow::anyhow!("plugin cache {dir:?}: {e:#}"))?)
            }
            None => None,
        };
        let base = |cache: &Option<Cache>| {
            let mut cfg = Config::new();
            cfg.epoch_interruption(true);
            cfg.cache(cache.clone());
            cfg
        };
        let mut engine = None;
        let mut pooled = false;
        if options.pooling {
            let mut pool = PoolingAllocationConfig::default();
            let n = options.max_instances;
            pool.total_component_instances(n)
                .total_core_instances(n * 2)
                .total_memories(n)
                .total_tables(n * 2)
                .total_stacks(n)
                .max_memory_size(options.max_memory_bytes);
            let mut cfg = base(&cache);
            cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
            match Engine::new(&cfg) {
                Ok(e) => {
                    engine = Some(e);
                    pooled = true;
                }
                Err(e) => tracing::warn!(
                    error = %format!("{e:#}"),
                    "plugin engine: the pooling allocator is unavailable, using on-demand allocation"
                ),
            }
        }
        let engine = match engine {
            Some(e) => e,
            None => Engine::new(&base(&cache)).map_err(|e| anyhow::anyhow!("{e:#}"))?,
        };

        let mut linker = Linker::<State>::new(&engine);
        host_iface::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;

        let weak = engine.weak();
        let epoch = Arc::new(AtomicU64::new(0));
        let ticks = epoch.clone();
        std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(e) => {
                            e.increment_epoch();
                            ticks.fetch_add(1, Ordering::Relaxed);
                        }
                        None => break,
                    }
                }
            })?;

        Ok(PluginEngine {
            engine,
            linker: Arc::new(linker),
            cache,
            compiled: Arc::new(Mutex::new(HashMap::new())),
            max_memory_bytes: options.max_memory_bytes,
            pooled,
            epoch,
        })
    }

    /// Compiles a component, or returns it from the in-memory map (by sha256) or the disk cache.
    pub(crate) fn compile(&self, sha: [u8; 32], bytes: &[u8]) -> wasmtime::Result<Component> {
        if let Some(c) = self.compiled.lock().expect("compiled map").get(&sha) {
            return Ok(c.clone());
        }
        let component = Component::new(&self.engine, bytes)?;
        self.compiled
            .lock()
            .expect("compiled map")
            .insert(sha, component.clone());
        Ok(component)
    }

    /// Disk cache hits and misses since the engine was built (`None` without a disk cache).
    pub fn disk_cache_counts(&self) -> Option<(usize, usize)> {
        self.cache
            .as_ref()
            .map(|c| (c.cache_hits(), c.cache_misses()))
    }

    /// Whether the pooling allocator is in use.
    pub fn is_pooled(&self) -> bool {
        self.pooled
    }

    /// A time budget as epoch ticks: rounded up, plus one because the next tick may come at once.
    pub(crate) fn budget_ticks(budget: Duration) -> u64 {
        let tick = EPOCH_TICK.as_nanos();
        (budget.as_nanos().div_ceil(tick) as u64).max(1) + 1
    }
}
