//! Glue used by the export macros; not a public API.
#![allow(missing_docs, dead_code, unused_imports)]

use std::any::Any;
use std::cell::RefCell;

use crate::Plugin;

thread_local! {
    // The instance's plugin value, set by a successful `init`. A component instance is
    // single-threaded, so a thread-local is its global state.
    static STATE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Runs `init` and keeps the plugin for later calls.
pub fn init<P: Plugin>(config_json: &str) -> Result<(), String> {
    let plugin = P::init(config_json)?;
    STATE.with(|s| *s.borrow_mut() = Some(Box::new(plugin)));
    Ok(())
}

/// Calls `f` with the plugin, or returns `None` before a successful `init`.
pub fn with_plugin<P: Plugin, R>(f: impl FnOnce(&P) -> R) -> Option<R> {
    STATE.with(|s| {
        let state = s.borrow();
        state.as_ref().and_then(|b| b.downcast_ref::<P>()).map(f)
    })
}

#[cfg(feature = "authorizer")]
#[allow(unsafe_code, clippy::all)]
pub mod authorizer {
    // On wasm the export macro must be public (the plugin crate invokes it). Natively it is
    // not needed, and a public one per world would collide when several world features are
    // unified in one native build (`cargo test` of the whole workspace).
    #[cfg(target_arch = "wasm32")]
    wit_bindgen::generate!({
        world: "authorizer",
        path: "../../wit/pinfold-plugin@0.1.0",
        with: { "pinfold:plugin/host@0.1.0": crate::wit_host::pinfold::plugin::host },
        pub_export_macro: true,
        export_macro_name: "__pinfold_export_authorizer_world",
        default_bindings_module: "pinfold_plugin_sdk::__private::authorizer",
    });
    #[cfg(not(target_arch = "wasm32"))]
    wit_bindgen::generate!({
        world: "authorizer",
        path: "../../wit/pinfold-plugin@0.1.0",
        with: { "pinfold:plugin/host@0.1.0": crate::wit_host::pinfold::plugin::host },
    });
}

#[cfg(feature = "cors")]
#[allow(unsafe_code, clippy::all)]
pub mod cors {
    // On wasm the export macro must be public (the plugin crate invokes it). Natively it is
    // not needed, and a public one per world would collide when several world features are
    // unified in one native build (`cargo test` of the whole workspace).
    #[cfg(target_arch = "wasm32")]
    wit_bindgen::generate!({
        world: "cors",
        path: "../../wit/pinfold-plugin@0.1.0",
        with: { "pinfold:plugin/host@0.1.0": crate::wit_host::pinfold::plugin::host },
        pub_export_macro: true,
        export_macro_name: "__pinfold_export_cors_world",
        default_bindings_module: "pinfold_plugin_sdk::__private::cors",
    });
    #[cfg(not(target_arch = "wasm32"))]
    wit_bindgen::generate!({
        world: "cors",
        path: "../../wit/pinfold-plugin@0.1.0",
        with: { "pinfold:plugin/host@0.1.0": crate::wit_host::pinfold::plugin::host },
    });
}

#[cfg(feature = "allocator")]
#[allow(unsafe_code, clippy::all)]
pub mod allocator {
    // On wasm the export macro must be public (the plugin crate invokes it). Natively it is
    // not needed, and a public one per world would collide when several world features are
    // unified in one native build (`cargo test` of the whole workspace).
    #[cfg(target_arch = "wasm32")]
    wit_bindgen::generate!({
        world: "allocator",
        path: "../../wit/pinfold-plugin@0.1.0",
        with: { "pinfold:plugin/host@0.1.0": crate::wit_host::pinfold::plugin::host },
        pub_export_macro: true,
        export_macro_name: "__pinfold_export_allocator_world",
        default_bindings_module: "pinfold_plugin_sdk::__private::allocator",
    });
    #[cfg(not(target_arch = "wasm32"))]
    wit_bindgen::generate!({
        world: "allocator",
        path: "../../wit/pinfold-plugin@0.1.0",
        with: { "pinfold:plugin/host@0.1.0": crate::wit_host::pinfold::plugin::host },
    });
}

#[cfg(feature = "authorizer")]
mod authz_glue {
    use super::authorizer::pinfold::plugin::types as w;
    use crate::types as t;
    use crate::{Authorizer, Plugin};

    fn endpoint(e: w::EndpointKind) -> t::EndpointKind {
        match e {
            w::EndpointKind::Rest => t::EndpointKind::Rest,
            w::EndpointKind::PinningService => t::EndpointKind::PinningService,
            w::EndpointKind::IpfsProxy => t::EndpointKind::IpfsProxy,
            w::EndpointKind::Libp2pApi => t::EndpointKind::Libp2pApi,
            w::EndpointKind::ClusterRpc => t::EndpointKind::ClusterRpc,
        }
    }

    fn request(r: w::AuthzRequest) -> t::AuthzRequest {
        t::AuthzRequest {
            endpoint: endpoint(r.endpoint),
            operation: r.operation,
            method: r.method,
            path: r.path,
            query: r.query,
            remote_addr: r.remote_addr,
            tls: r.tls,
            credentials: match r.credentials {
                w::Credentials::None => t::Credentials::None,
                w::Credentials::Basic(b) => t::Credentials::Basic(t::BasicCredentials {
                    user: b.user,
                    password: b.password,
                }),
                w::Credentials::Bearer(s) => t::Credentials::Bearer(s),
                w::Credentials::Other(s) => t::Credentials::Other(s),
            },
            remote_peer: r.remote_peer.map(|p| t::RemotePeer {
                id: p.id,
                trust: match p.trust {
                    w::PeerTrust::Local => t::PeerTrust::Local,
                    w::PeerTrust::Trusted => t::PeerTrust::Trusted,
                    w::PeerTrust::Untrusted => t::PeerTrust::Untrusted,
                },
            }),
            tenant: r.tenant,
            headers: r.headers,
        }
    }

    fn decision(d: t::Decision) -> w::Decision {
        match d {
            t::Decision::Allow(g) => w::Decision::Allow(w::Grant {
                principal: g.principal,
                tenant: g.tenant,
            }),
            t::Decision::Deny(d) => w::Decision::Deny(w::Denial {
                status: d.status,
                reason: d.reason,
            }),
            t::Decision::Challenge(c) => w::Decision::Challenge(w::AuthChallenge {
                www_authenticate: c.www_authenticate,
                reason: c.reason,
            }),
        }
    }

    pub fn authorize<P: Authorizer>(r: w::AuthzRequest) -> w::Decision {
        let r = request(r);
        decision(
            super::with_plugin::<P, _>(|p| p.authorize(&r))
                .unwrap_or_else(|| t::Decision::deny(500, "authorization plugin not initialised")),
        )
    }

    pub fn schema<P: Plugin>() -> String {
        P::config_schema()
    }
}
#[cfg(feature = "authorizer")]
pub use authz_glue::authorize;

#[cfg(feature = "cors")]
mod cors_glue {
    use super::cors::pinfold::plugin::types as w;
    use crate::Cors;
    use crate::types as t;

    pub fn cors<P: Cors>(r: w::CorsRequest) -> w::CorsResponse {
        let r = t::CorsRequest {
            endpoint: match r.endpoint {
                w::EndpointKind::Rest => t::EndpointKind::Rest,
                w::EndpointKind::PinningService => t::EndpointKind::PinningService,
                w::EndpointKind::IpfsProxy => t::EndpointKind::IpfsProxy,
                w::EndpointKind::Libp2pApi => t::EndpointKind::Libp2pApi,
                w::EndpointKind::ClusterRpc => t::EndpointKind::ClusterRpc,
            },
            method: r.method,
            path: r.path,
            origin: r.origin,
            request_method: r.request_method,
            request_headers: r.request_headers,
            request_private_network: r.request_private_network,
        };
        let c = super::with_plugin::<P, _>(|p| p.cors(&r)).unwrap_or_default();
        w::CorsResponse {
            preflight: c.preflight,
            vary: c.vary,
            allow_origin: c.allow_origin,
            allow_methods: c.allow_methods,
            allow_headers: c.allow_headers,
            allow_credentials: c.allow_credentials,
            allow_private_network: c.allow_private_network,
            expose_headers: c.expose_headers,
            max_age_seconds: c.max_age_seconds,
        }
    }
}
#[cfg(feature = "cors")]
pub use cors_glue::cors;

#[cfg(feature = "allocator")]
mod allocator_glue {
    use super::allocator::pinfold::plugin::types as w;
    use crate::Allocator;
    use crate::types as t;

    fn metrics(ms: Vec<w::Metric>) -> Vec<t::Metric> {
        ms.into_iter()
            .map(|m| t::Metric {
                name: m.name,
                peer: m.peer,
                value: m.value,
                weight: m.weight,
                partitionable: m.partitionable,
                valid: m.valid,
                expire: m.expire,
            })
            .collect()
    }

    pub fn metric_names<P: Allocator>() -> Vec<String> {
        super::with_plugin::<P, _>(|p| p.metrics()).unwrap_or_default()
    }

    pub fn allocate<P: Allocator>(
        cid: String,
        current: Vec<w::Metric>,
        candidates: Vec<w::Metric>,
        priority: Vec<w::Metric>,
    ) -> Result<Vec<String>, String> {
        let (current, candidates, priority) =
            (metrics(current), metrics(candidates), metrics(priority));
        super::with_plugin::<P, _>(|p| p.allocate(&cid, &current, &candidates, &priority))
            .unwrap_or_else(|| Err("allocator plugin not initialised".to_string()))
    }
}
#[cfg(feature = "allocator")]
pub use allocator_glue::{allocate, metric_names};

/// Exports `$policy` (an [`Authorizer`](crate::Authorizer)) as the component's `authorizer`
/// world. Use it once, in the plugin crate's root. Needs the `authorizer` feature.
#[cfg(feature = "authorizer")]
#[macro_export]
macro_rules! export_authorizer {
    ($policy:ty) => {
        #[doc(hidden)]
        struct __PinfoldAuthorizerExport;
        impl $crate::__private::authorizer::exports::pinfold::plugin::lifecycle::Guest
            for __PinfoldAuthorizerExport
        {
            fn config_schema() -> ::std::string::String {
                <$policy as $crate::Plugin>::config_schema()
            }
            fn init(
                config_json: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::init::<$policy>(&config_json)
            }
        }
        impl $crate::__private::authorizer::exports::pinfold::plugin::authorization::Guest
            for __PinfoldAuthorizerExport
        {
            fn authorize(
                request: $crate::__private::authorizer::pinfold::plugin::types::AuthzRequest,
            ) -> $crate::__private::authorizer::pinfold::plugin::types::Decision {
                $crate::__private::authorize::<$policy>(request)
            }
        }
        #[cfg(target_arch = "wasm32")]
        $crate::__private::authorizer::__pinfold_export_authorizer_world!(
            __PinfoldAuthorizerExport
        );
    };
}

/// Exports `$policy` (a [`Cors`](crate::Cors)) as the component's `cors` world. Use it once,
/// in the plugin crate's root. Needs the `cors` feature.
#[cfg(feature = "cors")]
#[macro_export]
macro_rules! export_cors {
    ($policy:ty) => {
        #[doc(hidden)]
        struct __PinfoldCorsExport;
        impl $crate::__private::cors::exports::pinfold::plugin::lifecycle::Guest
            for __PinfoldCorsExport
        {
            fn config_schema() -> ::std::string::String {
                <$policy as $crate::Plugin>::config_schema()
            }
            fn init(
                config_json: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::init::<$policy>(&config_json)
            }
        }
        impl $crate::__private::cors::exports::pinfold::plugin::cross_origin::Guest
            for __PinfoldCorsExport
        {
            fn cors(
                request: $crate::__private::cors::pinfold::plugin::types::CorsRequest,
            ) -> $crate::__private::cors::pinfold::plugin::types::CorsResponse {
                $crate::__private::cors::<$policy>(request)
            }
        }
        #[cfg(target_arch = "wasm32")]
        $crate::__private::cors::__pinfold_export_cors_world!(__PinfoldCorsExport);
    };
}

/// Exports `$policy` (an [`Allocator`](crate::Allocator)) as the component's `allocator`
/// world. Use it once, in the plugin crate's root. Needs the `allocator` feature.
#[cfg(feature = "allocator")]
#[macro_export]
macro_rules! export_allocator {
    ($policy:ty) => {
        #[doc(hidden)]
        struct __PinfoldAllocatorExport;
        impl $crate::__private::allocator::exports::pinfold::plugin::lifecycle::Guest
            for __PinfoldAllocatorExport
        {
            fn config_schema() -> ::std::string::String {
                <$policy as $crate::Plugin>::config_schema()
            }
            fn init(
                config_json: ::std::string::String,
            ) -> ::std::result::Result<(), ::std::string::String> {
                $crate::__private::init::<$policy>(&config_json)
            }
        }
        impl $crate::__private::allocator::exports::pinfold::plugin::placement::Guest
            for __PinfoldAllocatorExport
        {
            fn metrics() -> ::std::vec::Vec<::std::string::String> {
                $crate::__private::metric_names::<$policy>()
            }
            fn allocate(
                cid: ::std::string::String,
                current: ::std::vec::Vec<
                    $crate::__private::allocator::pinfold::plugin::types::Metric,
                >,
                candidates: ::std::vec::Vec<
                    $crate::__private::allocator::pinfold::plugin::types::Metric,
                >,
                priority: ::std::vec::Vec<
                    $crate::__private::allocator::pinfold::plugin::types::Metric,
                >,
            ) -> ::std::result::Result<::std::vec::Vec<::std::string::String>, ::std::string::String>
            {
                $crate::__private::allocate::<$policy>(cid, current, candidates, priority)
            }
        }
        #[cfg(target_arch = "wasm32")]
        $crate::__private::allocator::__pinfold_export_allocator_world!(__PinfoldAllocatorExport);
    };
}
