//! Hot reload: a cell holding the current version of a plugin.
//!
//! [`PluginSlot::get`] hands out an `Arc` to the current plugin; a caller keeps it for the
//! whole call, so a call that started on the old version finishes on it even if a reload swaps
//! the slot meanwhile, and the old version is dropped when its last call ends.
//! [`PluginSlot::reload`] takes a loader closure: the new version is built completely
//! (compiled, `InstancePre` resolved, `init` run on the new configuration) *before* the swap,
//! and a loader error leaves the old version in place. A reload also resets a tripped breaker,
//! because the new version has counters and a breaker of its own.
//!
//! The lock is a `std::sync::RwLock` held only to clone or replace the `Arc` (nanoseconds;
//! never across a plugin call), which avoids a dependency on `arc-swap`.

use std::sync::{Arc, RwLock};

/// The current version of a plugin, swapped atomically on reload.
#[derive(Debug)]
pub struct PluginSlot<P> {
    current: RwLock<Arc<P>>,
}

impl<P> PluginSlot<P> {
    /// A slot holding `plugin`.
    pub fn new(plugin: P) -> Self {
        PluginSlot {
            current: RwLock::new(Arc::new(plugin)),
        }
    }

    /// The current version.
    pub fn get(&self) -> Arc<P> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the current version with an already loaded one; returns the old one.
    pub fn replace(&self, plugin: P) -> Arc<P> {
        let new = Arc::new(plugin);
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *guard, new)
    }

    /// Loads a new version with `load` and, only if that succeeds, swaps it in. Returns the old
    /// version, or the loader's error (the old version stays).
    pub fn reload<E>(&self, load: impl FnOnce() -> Result<P, E>) -> Result<Arc<P>, E> {
        let plugin = load()?;
        Ok(self.replace(plugin))
    }
}
