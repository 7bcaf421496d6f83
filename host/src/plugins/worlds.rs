//! The narrow, typed wrappers the daemon calls: one per world, each with its fail-safe.
//!
//! Callers never see wasmtime, stores or traps: they get an answer, always. When the plugin
//! fails (a trap, a time-out, the memory cap, a tripped breaker) the answer is the kind's safe
//! one, and the failure is in the counters and the log:
//!
//! | world | call | fail-safe |
//! |---|---|---|
//! | `authorizer` | [`Authorizer::authorize`] | [`failsafe_denial`]: deny, status 500, reason "plugin failed" |
//! | `cors` | [`Cors::decide`] | no CORS header at all, not a preflight |
//! | `allocator` | [`Allocator::allocate`] | the built-in order the caller passed in |
//!
//! The allocator's answer is also sanitised: only peers the host offered (`priority` and
//! `candidates`), each once, in the plugin's order; a plugin-reported error also falls back.
//!
//! # The decision cache
//! Authorization and CORS decisions sit on every request, and most requests repeat (a client
//! polling a status, a dashboard, keep-alive connections). A plugin is a function of its
//! configuration (fixed for a plugin version), the request, and the clock — it has no other
//! input (no WASI, no randomness, and the SDK contract says no state may survive between
//! calls). So a decision made **without reading the clock** is remembered, keyed by a 128-bit
//! keyed hash of the whole request (two SipHash keys drawn at random per plugin version: a
//! client cannot aim for a collision, and no credential is stored, only the hash), and the
//! same request gets the same answer without entering wasm. A decision that read the clock
//! (bearer-token expiry) is never cached. The cache belongs to the plugin version, so a reload
//! (new configuration, a revocation) starts empty; a tripped plugin answers the fail-safe
//! before the cache is looked at; a cached answer is not logged again by the plugin. It holds
//! at most `decision_cache_entries` (1024 by default; emptied when full) and is off with
//! `fresh_instance_per_call`. Hits are counted (`cache_hits`), apart from `calls`.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;

use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::bindings::{allocator as alloc_b, authorizer as authz_b, cors as cors_b};
use super::engine::PluginEngine;
use super::plugin::{Plugin, PluginStats, World};
use super::state::State;
use super::{
    AuthzRequest, CorsRequest, CorsResponse, Decision, Denial, Metric, PluginError, PluginSpec,
};

/// The HTTP status of the fail-safe denial.
pub const FAILSAFE_DENY_STATUS: u16 = 500;

/// The decision used when the authorization plugin fails: deny, status 500, "plugin failed".
pub fn failsafe_denial() -> Decision {
    Decision::Deny(Denial {
        status: FAILSAFE_DENY_STATUS,
        reason: "plugin failed".to_string(),
    })
}

/// The CORS answer used when the CORS plugin fails: nothing.
pub fn failsafe_cors() -> CorsResponse {
    CorsResponse {
        preflight: false,
        vary: Vec::new(),
        allow_origin: None,
        allow_methods: None,
        allow_headers: Vec::new(),
        allow_credentials: false,
        allow_private_network: false,
        expose_headers: None,
        max_age_seconds: None,
    }
}

/// Remembered decisions of one plugin version (see the module docs).
pub(crate) struct DecisionCache<V> {
    keys: (RandomState, RandomState),
    map: Mutex<HashMap<u128, V>>,
    capacity: usize,
}

impl<V: Clone> DecisionCache<V> {
    fn new(capacity: usize) -> Self {
        DecisionCache {
            keys: (RandomState::new(), RandomState::new()),
            map: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn enabled(&self) -> bool {
        self.capacity > 0
    }

    fn key<T: Hash>(&self, t: &T) -> u128 {
        (u128::from(self.keys.0.hash_one(t)) << 64) | u128::from(self.keys.1.hash_one(t))
    }

    fn get(&self, key: u128) -> Option<V> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned()
    }

    fn put(&self, key: u128, value: V) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key, value);
    }
}

fn cache_for<W: World, V: Clone>(p: &Plugin<W>) -> DecisionCache<V> {
    let l = p.limits();
    DecisionCache::new(if l.fresh_instance_per_call {
        0
    } else {
        l.decision_cache_entries
    })
}

macro_rules! world {
    ($marker:ident, $name:literal, $module:ident, $bindings:ident, $pre:ident) => {
        pub(crate) struct $marker;
        impl World for $marker {
            const NAME: &'static str = $name;
            type Pre = $module::$pre<State>;
            type Instance = $module::$bindings;
            fn pre(pre: InstancePre<State>) -> wasmtime::Result<Self::Pre> {
                $module::$pre::new(pre)
            }
            fn instantiate(
                pre: &Self::Pre,
                store: &mut Store<State>,
            ) -> wasmtime::Result<Self::Instance> {
                pre.instantiate(store)
            }
            fn init(
                instance: &Self::Instance,
                store: &mut Store<State>,
                config_json: &str,
            ) -> wasmtime::Result<Result<(), String>> {
                instance
                    .pinfold_plugin_lifecycle()
                    .call_init(store, config_json)
            }
            fn config_schema(
                instance: &Self::Instance,
                store: &mut Store<State>,
            ) -> wasmtime::Result<String> {
                instance
                    .pinfold_plugin_lifecycle()
                    .call_config_schema(store)
            }
        }
    };
}

world!(AuthzWorld, "authorizer", authz_b, Authorizer, AuthorizerPre);
world!(CorsWorld, "cors", cors_b, Cors, CorsPre);
world!(
    AllocatorWorld,
    "allocator",
    alloc_b,
    Allocator,
    AllocatorPre
);

macro_rules! common {
    ($ty:ident, $world:ident) => {
        impl $ty {
            /// Loads the plugin: sha256 pin, version and capability checks, compile (cached),
            /// `InstancePre`, and `init(config)` in a first instance. Any failure is returned and
            /// nothing is loaded.
            pub fn load(engine: &PluginEngine, spec: &PluginSpec) -> Result<Self, PluginError> {
                Ok(Self::wrap(Plugin::<$world>::load(engine, spec)?))
            }
            /// The plugin's id.
            pub fn id(&self) -> &str {
                &self.0.id
            }
            /// The sha256 of the component, lower-case hex.
            pub fn sha256(&self) -> &str {
                &self.0.sha256
            }
            /// The JSON Schema of the configuration the plugin accepts (its `config-schema`
            /// export), or `None` when the call fails.
            pub fn config_schema(&self) -> Option<String> {
                self.0.call(|i, store| $world::config_schema(i, store)).ok()
            }
            /// A snapshot of the plugin's counters.
            pub fn stats(&self) -> PluginStats {
                self.0.stats()
            }
        }
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("id", &self.0.id)
                    .field("sha256", &self.0.sha256)
                    .finish_non_exhaustive()
            }
        }
    };
}

/// A loaded authorization plugin (world `authorizer`).
pub struct Authorizer(Plugin<AuthzWorld>, DecisionCache<Decision>);
common!(Authorizer, AuthzWorld);

impl Authorizer {
    fn wrap(p: Plugin<AuthzWorld>) -> Self {
        let cache = cache_for(&p);
        Authorizer(p, cache)
    }

    /// Decides one request. A failed plugin denies ([`failsafe_denial`]).
    pub fn authorize(&self, request: &AuthzRequest) -> Decision {
        let decision = self.decide(request);
        if !matches!(decision, Decision::Allow(_)) {
            self.0.count_denial();
        }
        decision
    }

    fn decide(&self, request: &AuthzRequest) -> Decision {
        let cache = &self.1;
        let key = (cache.enabled() && !self.0.is_tripped()).then(|| cache.key(request));
        if let Some(d) = key.and_then(|k| cache.get(k)) {
            self.0.count_cache_hit();
            return d;
        }
        match self.0.call_observed(|i, store| {
            i.pinfold_plugin_authorization()
                .call_authorize(store, request)
        }) {
            Ok((d, pure)) => {
                if let (Some(k), true) = (key, pure) {
                    cache.put(k, d.clone());
                }
                d
            }
            Err(_) => failsafe_denial(),
        }
    }
}

/// A loaded CORS plugin (world `cors`).
pub struct Cors(Plugin<CorsWorld>, DecisionCache<CorsResponse>);
common!(Cors, CorsWorld);

impl Cors {
    fn wrap(p: Plugin<CorsWorld>) -> Self {
        let cache = cache_for(&p);
        Cors(p, cache)
    }

    /// The CORS headers for one request. A failed plugin adds none ([`failsafe_cors`]).
    pub fn decide(&self, request: &CorsRequest) -> CorsResponse {
        let cache = &self.1;
        let key = (cache.enabled() && !self.0.is_tripped()).then(|| cache.key(request));
        if let Some(c) = key.and_then(|k| cache.get(k)) {
            self.0.count_cache_hit();
            return c;
        }
        match self
            .0
            .call_observed(|i, store| i.pinfold_plugin_cross_origin().call_cors(store, request))
        {
            Ok((c, pure)) => {
                if let (Some(k), true) = (key, pure) {
                    cache.put(k, c.clone());
                }
                c
            }
            Err(_) => failsafe_cors(),
        }
    }
}

/// A loaded allocator plugin (world `allocator`).
pub struct Allocator(Plugin<AllocatorWorld>);
common!(Allocator, AllocatorWorld);

impl Allocator {
    /// Allocations are not cached: metrics change all the time.
    fn wrap(p: Plugin<AllocatorWorld>) -> Self {
        Allocator(p)
    }

    /// The metric names the plugin needs, or `None` when the plugin fails.
    pub fn metrics(&self) -> Option<Vec<String>> {
        self.0
            .call(|i, store| i.pinfold_plugin_placement().call_metrics(store))
            .ok()
    }

    /// Orders peers for a pin, best first: the plugin's answer restricted to the peers offered
    /// (`priority` and `candidates`), each once. When the plugin fails or returns an error, the
    /// caller's built-in order `fallback` is returned as it is.
    pub fn allocate(
        &self,
        cid: &str,
        current: &[Metric],
        candidates: &[Metric],
        priority: &[Metric],
        fallback: &[String],
    ) -> Vec<String> {
        let answer = self.0.call(|i, store| {
            i.pinfold_plugin_placement()
                .call_allocate(store, cid, current, candidates, priority)
        });
        match answer {
            Ok(Ok(peers)) => {
                let offered: HashSet<&str> = priority
                    .iter()
                    .chain(candidates)
                    .map(|m| m.peer.as_str())
                    .collect();
                let mut seen = HashSet::new();
                peers
                    .into_iter()
                    .filter(|p| offered.contains(p.as_str()) && seen.insert(p.clone()))
                    .collect()
            }
            Ok(Err(message)) => {
                self.0.count_failsafe();
                tracing::warn!(plugin = %self.0.id, %message, cid, "allocator plugin returned an error; using the built-in order");
                fallback.to_vec()
            }
            Err(_) => fallback.to_vec(),
        }
    }
}
