//! # Pinfold plugin SDK
//!
//! Write a Pinfold plugin — an authorization policy, a CORS policy or an allocator — as a
//! plain Rust type that implements [`Plugin`] plus one world trait, and export it with one
//! macro. The SDK generates the component bindings (`pinfold:plugin@0.1.0`, in the
//! repository's `wit/` folder) and converts between them and the plain types of [`types`],
//! so the policy itself is ordinary Rust that `cargo test` checks on the build machine,
//! without any wasm.
//!
//! | world        | cargo feature | trait          | export macro                      |
//! |--------------|---------------|----------------|-----------------------------------|
//! | `authorizer` | `authorizer`  | [`Authorizer`] | [`export_authorizer!`](crate#macros) |
//! | `cors`       | `cors`        | [`Cors`]       | [`export_cors!`](crate#macros)       |
//! | `allocator`  | `allocator`   | [`Allocator`]  | [`export_allocator!`](crate#macros)  |
//!
//! Enable **exactly one** world feature in a plugin crate: every generated world is embedded
//! in the module, and a module carrying two would become a component of both.
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib", "rlib"]   # rlib: native unit tests
//!
//! [dependencies]
//! pinfold-plugin-sdk = { path = "../sdk", features = ["authorizer"] }
//! ```
//!
//! ```ignore
//! use pinfold_plugin_sdk::{Authorizer, Plugin, types::*};
//!
//! pub struct LoopbackOnly;
//!
//! impl Plugin for LoopbackOnly {
//!     fn config_schema() -> String { r#"{"type":"object"}"#.into() }
//!     fn init(_config_json: &str) -> Result<Self, String> { Ok(LoopbackOnly) }
//! }
//!
//! impl Authorizer for LoopbackOnly {
//!     fn authorize(&self, req: &AuthzRequest) -> Decision {
//!         match req.remote_addr.as_deref() {
//!             Some(a) if a.starts_with("127.") || a.starts_with("[::1]") => Decision::allow_anonymous(),
//!             _ => Decision::deny(403, "forbidden: loopback only"),
//!         }
//!     }
//! }
//!
//! pinfold_plugin_sdk::export_authorizer!(LoopbackOnly);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-unknown-unknown` and wrap the core
//! module into a component (`scripts/build-plugins.sh` does both with the workspace's
//! `pinfold-plugin-builder`). The result imports nothing but `pinfold:plugin/host`.
//!
//! ## Lifecycle and state
//! The host calls [`Plugin::init`] with the operator's JSON configuration once on every new
//! instance before anything else; the value it returns answers every later call of that
//! instance. Calls made before a successful `init` fail safe: authorization denies (500),
//! CORS adds nothing, the allocator returns an error. The host may use a fresh instance per
//! call or keep one: keep no state that must survive between calls. A panic traps the
//! instance, and the host applies its fail-safe outcome.
//!
//! ## Host imports
//! [`host::log`] and [`host::now_unix_nanos`] call the daemon inside a component. In native
//! tests they use a per-thread double ([`host::testing`], native targets only): a fixable
//! clock and a captured log.
//!
//! ## Bearer tokens
//! With the `token` feature, [`token`] signs and verifies the daemon's bearer tokens
//! (HS256 JWS with `iss`, `iat`, `exp`, `jti`, optional `ten`, and a `kid` header naming the
//! key), so the daemon and the authorization plugin share one implementation.
#![warn(missing_docs)]

pub mod host;
#[cfg(feature = "token")]
pub mod token;
pub mod types;

/// What every plugin provides: its configuration schema and `init`.
pub trait Plugin: Sized + 'static {
    /// The JSON Schema of the configuration [`Plugin::init`] accepts, as JSON text.
    fn config_schema() -> String;

    /// Validates the operator's configuration (JSON text; `{}` when none was given) and
    /// builds the plugin. The error is shown to the operator: never put secrets in it.
    fn init(config_json: &str) -> Result<Self, String>;
}

/// An authorization policy (world `authorizer`).
pub trait Authorizer: Plugin {
    /// Decides one request.
    fn authorize(&self, request: &types::AuthzRequest) -> types::Decision;
}

/// A CORS policy (world `cors`).
pub trait Cors: Plugin {
    /// The CORS headers of one request's answer; [`types::CorsResponse::default`] adds none.
    fn cors(&self, request: &types::CorsRequest) -> types::CorsResponse;
}

/// An allocator (world `allocator`).
pub trait Allocator: Plugin {
    /// The metric names `allocate` needs, in order.
    fn metrics(&self) -> Vec<String>;

    /// Orders peers for a pin, best first, from `priority` then `candidates` (see the WIT).
    fn allocate(
        &self,
        cid: &str,
        current: &[types::Metric],
        candidates: &[types::Metric],
        priority: &[types::Metric],
    ) -> Result<Vec<types::PeerId>, String>;
}

#[cfg(any(feature = "authorizer", feature = "cors", feature = "allocator"))]
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod wit_host {
    wit_bindgen::generate!({
        inline: "package pinfold:sdk; world host-only { import pinfold:plugin/host@0.1.0; }",
        path: "../../wit/pinfold-plugin@0.1.0",
        generate_all,
    });
}

#[doc(hidden)]
pub mod __private;

#[cfg(all(
    target_arch = "wasm32",
    any(
        all(feature = "authorizer", feature = "cors"),
        all(feature = "authorizer", feature = "allocator"),
        all(feature = "cors", feature = "allocator"),
    )
))]
compile_error!(
    "a wasm plugin enables exactly one world feature of pinfold-plugin-sdk; build each plugin \
     with its own cargo invocation (`cargo build -p <plugin> --target wasm32-unknown-unknown`)"
);
