//! The host's imports: logging and the clock.
//!
//! Inside a component these call the daemon (`pinfold:plugin/host@0.1.0`). On any other
//! target (native unit tests) they use a per-thread test double: the clock is the system
//! clock unless a test fixed it with [`testing::set_now_unix_nanos`], and log lines are kept
//! for [`testing::take_logs`].

use crate::types::Level;

/// Writes a line to the daemon's log (tagged by the host with the plugin's id). Never log
/// secrets.
pub fn log(level: Level, message: &str) {
    imp::log(level, message)
}

/// The current wall-clock time, Unix nanoseconds.
pub fn now_unix_nanos() -> i64 {
    imp::now_unix_nanos()
}

/// The current wall-clock time, whole Unix seconds.
pub fn now_unix_seconds() -> i64 {
    now_unix_nanos().div_euclid(1_000_000_000)
}

#[cfg(all(
    target_arch = "wasm32",
    any(feature = "authorizer", feature = "cors", feature = "allocator")
))]
mod imp {
    use crate::types::Level;
    use crate::wit_host::pinfold::plugin::host as wit;

    pub fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => wit::Level::Trace,
            Level::Debug => wit::Level::Debug,
            Level::Info => wit::Level::Info,
            Level::Warn => wit::Level::Warn,
            Level::Error => wit::Level::Error,
        };
        wit::log(level, message)
    }

    pub fn now_unix_nanos() -> i64 {
        wit::now_unix_nanos()
    }
}

#[cfg(all(
    target_arch = "wasm32",
    not(any(feature = "authorizer", feature = "cors", feature = "allocator"))
))]
mod imp {
    // A wasm build without any world has no host to talk to.
    use crate::types::Level;

    pub fn log(_level: Level, _message: &str) {}

    pub fn now_unix_nanos() -> i64 {
        0
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use crate::types::Level;
    use std::cell::{Cell, RefCell};

    thread_local! {
        pub static NOW: Cell<Option<i64>> = const { Cell::new(None) };
        pub static LOGS: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
    }

    pub fn log(level: Level, message: &str) {
        LOGS.with(|l| l.borrow_mut().push((level, message.to_string())));
    }

    pub fn now_unix_nanos() -> i64 {
        NOW.with(|n| n.get()).unwrap_or_else(|| {
            let d = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
        })
    }
}

/// Test doubles for the host imports, on native targets only.
#[cfg(not(target_arch = "wasm32"))]
pub mod testing {
    use crate::types::Level;

    /// Fixes this thread's clock (`None`: back to the system clock).
    pub fn set_now_unix_nanos(nanos: Option<i64>) {
        super::imp::NOW.with(|n| n.set(nanos));
    }

    /// Fixes this thread's clock to whole seconds.
    pub fn set_now_unix_seconds(secs: i64) {
        set_now_unix_nanos(Some(secs * 1_000_000_000));
    }

    /// The lines logged on this thread since the last call.
    pub fn take_logs() -> Vec<(Level, String)> {
        super::imp::LOGS.with(|l| std::mem::take(&mut *l.borrow_mut()))
    }
}
