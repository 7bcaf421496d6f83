//! Per-store state: what a plugin instance may reach, and the memory limiter.
//!
//! The `host` interface is the plugin's only capability. `log` goes to `tracing` (target
//! `pinfold::plugin`) with the plugin's id as a field; a call may log at most
//! [`MAX_LOG_LINES_PER_CALL`] lines of at most [`MAX_LOG_LINE`] bytes, so a chatty or hostile
//! plugin cannot flood the daemon's log (the rest are counted and dropped). `now-unix-nanos`
//! reads the wall clock. Both are tested by calling the `Host` trait directly, without wasm
//! (the Spin pattern).
//!
//! The call hook (`on_call_hook`) keeps the time spent in host imports off the plugin's epoch
//! budget: see `engine.rs`.
//!
//! The limiter refuses any growth of linear memory beyond the plugin's cap and records that it
//! did: the guest's allocator then aborts (a trap), and the record is how the host tells an
//! out-of-memory apart from any other trap.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::bindings::authorizer::pinfold::plugin::host::{Host, Level};

/// Guest log lines kept per call; the rest are dropped (and counted).
pub const MAX_LOG_LINES_PER_CALL: u32 = 32;
/// Longest guest log line kept, in bytes (longer ones are cut at a character boundary).
pub const MAX_LOG_LINE: usize = 2048;
/// Table elements a plugin may have.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The data of one plugin instance's `Store`.
pub(crate) struct State {
    pub plugin_id: Arc<str>,
    pub memory_cap: usize,
    /// Set when the limiter refused a memory growth.
    pub hit_memory_cap: bool,
    /// The largest linear memory this store's instance has had, in bytes.
    pub peak_memory: usize,
    /// Lines logged during the current call.
    pub log_lines: u32,
    /// Clock reads (`now-unix-nanos`) during the current call: a call that read the clock
    /// may depend on the time, so its answer is never cached.
    pub clock_reads: u32,
    /// Lines dropped by the rate limit (over the instance's life).
    pub log_dropped: u64,
    /// The engine's epoch counter.
    pub epoch: Arc<AtomicU64>,
    /// The epoch at which the current call's deadline falls.
    pub deadline_epoch: u64,
    /// The epoch at which the guest entered the host, while it is there.
    pub host_entered_epoch: Option<u64>,
}

impl State {
    pub fn new(plugin_id: Arc<str>, memory_cap: usize, epoch: Arc<AtomicU64>) -> Self {
        State {
            plugin_id,
            memory_cap,
            hit_memory_cap: false,
            peak_memory: 0,
            log_lines: 0,
            clock_reads: 0,
            log_dropped: 0,
            epoch,
            deadline_epoch: 0,
            host_entered_epoch: None,
        }
    }

    /// Starts a call's budget of `ticks`; returns the value for `set_epoch_deadline`.
    pub fn start_budget(&mut self, ticks: u64) -> u64 {
        self.deadline_epoch = self.epoch.load(Ordering::Relaxed) + ticks;
        self.host_entered_epoch = None;
        ticks
    }

    /// The call hook: on the way back from a host import, the deadline moves later by the
    /// ticks spent in the host. Returns the new `set_epoch_deadline` value when it moved.
    pub fn on_call_hook(&mut self, hook: wasmtime::CallHook) -> Option<u64> {
        match hook {
            wasmtime::CallHook::CallingHost => {
                self.host_entered_epoch = Some(self.epoch.load(Ordering::Relaxed));
                None
            }
            wasmtime::CallHook::ReturningFromHost => {
                let entered = self.host_entered_epoch.take()?;
                let now = self.epoch.load(Ordering::Relaxed);
                let spent = now.saturating_sub(entered);
                if spent == 0 {
                    return None;
                }
                self.deadline_epoch += spent;
                Some(self.deadline_epoch.saturating_sub(now).max(1))
            }
            _ => None,
        }
    }
}

impl Host for State {
    fn log(&mut self, level: Level, message: String) {
        if self.log_lines >= MAX_LOG_LINES_PER_CALL {
            self.log_dropped += 1;
            return;
        }
        self.log_lines += 1;
        #[cfg(test)]
        if let Some(ms) = message.strip_prefix("test-sleep-ms:") {
            // Tests simulate a slow host import with it.
            std::thread::sleep(std::time::Duration::from_millis(ms.parse().unwrap_or(0)));
        }
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let id = &*self.plugin_id;
        match level {
            Level::Trace => tracing::trace!(target: "pinfold::plugin", plugin = id, "{message}"),
            Level::Debug => tracing::debug!(target: "pinfold::plugin", plugin = id, "{message}"),
            Level::Info => tracing::info!(target: "pinfold::plugin", plugin = id, "{message}"),
            Level::Warn => tracing::warn!(target: "pinfold::plugin", plugin = id, "{message}"),
            Level::Error => tracing::error!(target: "pinfold::plugin", plugin = id, "{message}"),
        }
    }

    fn now_unix_nanos(&mut self) -> i64 {
        self.clock_reads = self.clock_reads.saturating_add(1);
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

impl super::bindings::authorizer::pinfold::plugin::types::Host for State {}

impl wasmtime::ResourceLimiter for State {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.hit_memory_cap = true;
            return Ok(false);
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
