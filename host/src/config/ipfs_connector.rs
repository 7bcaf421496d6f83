//! The `ipfs_connector` section: `ipfs_connector.ipfshttp` (Go's `ipfshttp/config.go`), the
//! address of the Kubo RPC API the cluster pins through and the timeouts of its calls.
//!
//! When the `ipfs_node.embedded` section is present, the connector talks to the embedded
//! node's API instead, whatever `node_multiaddress` says
//! ([`ServiceConfig::ipfs_api_multiaddress`](crate::config::ServiceConfig::ipfs_api_multiaddress)).

use std::time::Duration;

use multiaddr::Multiaddr;
use serde::Serialize;

use super::api::DEFAULT_IPFS_API;
use super::checks::{is_false, ma};
use super::error::ConfigError;
use super::json::{Obj, ser};
use crate::gocompat::duration::serde_go;

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct IpfsConnectorConfig {
    pub ipfshttp: IpfsHttpConfig,
}

/// `ipfs_connector.ipfshttp` (`ipfsconn/ipfshttp/config.go`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpfsHttpConfig {
    /// The Kubo RPC API (ignored when `ipfs_node.embedded` is present).
    #[serde(serialize_with = "ser::maddr")]
    pub node_multiaddress: Multiaddr,
    /// After the node is ready, connect it to the other peers' nodes (0 = never).
    #[serde(with = "serde_go")]
    pub connect_swarms_delay: Duration,
    #[serde(with = "serde_go")]
    pub ipfs_request_timeout: Duration,
    /// Stall timeout of `pin/add`: cancelled when progress has not moved for this long.
    #[serde(with = "serde_go")]
    pub pin_timeout: Duration,
    #[serde(with = "serde_go")]
    pub unpin_timeout: Duration,
    #[serde(with = "serde_go")]
    pub repogc_timeout: Duration,
    /// Push informer metrics every N pin/unpin/block-put operations (0 = off).
    pub informer_trigger_interval: u32,
    #[serde(skip_serializing_if = "is_false")]
    pub unpin_disable: bool,
}

impl Default for IpfsHttpConfig {
    fn default() -> IpfsHttpConfig {
        IpfsHttpConfig {
            node_multiaddress: ma(DEFAULT_IPFS_API),
            connect_swarms_delay: Duration::from_secs(30),
            ipfs_request_timeout: Duration::from_secs(300),
            pin_timeout: Duration::from_secs(120),
            unpin_timeout: Duration::from_secs(3 * 3600),
            repogc_timeout: Duration::from_secs(24 * 3600),
            informer_trigger_interval: 0,
            unpin_disable: false,
        }
    }
}

impl IpfsHttpConfig {
    pub(super) fn read(o: &mut Obj<'_>, c: &mut IpfsHttpConfig) -> Result<(), ConfigError> {
        o.read("node_multiaddress", &mut c.node_multiaddress)?;
        o.read("connect_swarms_delay", &mut c.connect_swarms_delay)?;
        o.read("ipfs_request_timeout", &mut c.ipfs_request_timeout)?;
        o.read("pin_timeout", &mut c.pin_timeout)?;
        o.read("unpin_timeout", &mut c.unpin_timeout)?;
        o.read("repogc_timeout", &mut c.repogc_timeout)?;
        o.read(
            "informer_trigger_interval",
            &mut c.informer_trigger_interval,
        )?;
        o.read("unpin_disable", &mut c.unpin_disable)?;
        Ok(())
    }
}
