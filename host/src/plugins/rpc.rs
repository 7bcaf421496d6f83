//! Cluster RPC authorized by the authorization plugin: an [`RpcAuthorizer`] that asks the
//! current authorizer of a [`PluginSet`] about every inbound call.
//!
//! Each call becomes an `authz-request` with endpoint `cluster-rpc`, the Go `Service.Method`
//! as the operation, no method, path or credentials, and the caller as `remote-peer` with its
//! trust (`local` for this peer itself, `trusted`, or `untrusted`), exactly the table of
//! `IpfsClusterPolicy` in `rpc/mod.rs` when the plugin is the built-in `authz-default` (same
//! 55 methods, same open / trusted / closed split). Only an `allow` lets the call run; a
//! plugin failure denies (the authorizer's fail-safe). The slot is read on every call, so a
//! reload applies to the next call.
//!
//! The swarm is not wired to it here: `PluginRpcAuthorizer::new(set)` is what the daemon
//! passes to `RpcServer::with_authorizer` when it does.

use std::sync::Arc;

use super::set::PluginSet;
use super::{AuthzRequest, Credentials, Decision, EndpointKind, PeerTrust, RemotePeer};
use crate::p2p::rpc::{Caller, RpcAuthorizer};

/// Authorizes cluster RPC calls with the authorization plugin (see the module docs).
#[derive(Debug, Clone)]
pub struct PluginRpcAuthorizer {
    set: Arc<PluginSet>,
}

impl PluginRpcAuthorizer {
    pub fn new(set: Arc<PluginSet>) -> PluginRpcAuthorizer {
        PluginRpcAuthorizer { set }
    }

    /// The request the plugin sees for `method` called by `caller`.
    pub fn request(method: &str, caller: &Caller) -> AuthzRequest {
        let trust = if caller.is_self {
            PeerTrust::Local
        } else if caller.trusted {
            PeerTrust::Trusted
        } else {
            PeerTrust::Untrusted
        };
        AuthzRequest {
            endpoint: EndpointKind::ClusterRpc,
            operation: method.to_string(),
            method: String::new(),
            path: String::new(),
            query: String::new(),
            remote_addr: None,
            tls: false,
            credentials: Credentials::None,
            remote_peer: Some(RemotePeer {
                id: caller.peer.to_string(),
                trust,
            }),
            tenant: None,
            headers: Vec::new(),
        }
    }
}

impl RpcAuthorizer for PluginRpcAuthorizer {
    fn authorize(&self, method: &str, caller: &Caller) -> bool {
        let decision = self
            .set
            .authorizer()
            .authorize(&Self::request(method, caller));
        match decision {
            Decision::Allow(_) => true,
            Decision::Deny(d) => {
                tracing::debug!(method, peer = %caller.peer, reason = %d.reason, "cluster RPC call refused");
                false
            }
            Decision::Challenge(c) => {
                tracing::debug!(method, peer = %caller.peer, reason = %c.reason, "cluster RPC call refused");
                false
            }
        }
    }
}
