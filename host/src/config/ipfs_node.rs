//! Pinfold's own `ipfs_node` section: the embedded IPFS node.
//!
//! `"ipfs_node": {"embedded": {"repo": "ipfs", "api_listen_multiaddress":
//! "/ip4/127.0.0.1/tcp/5001", "storage_max": "10GB"}}`. Present: the daemon runs the embedded
//! node in-process (repository `repo`, relative to the configuration folder), serving the Kubo
//! RPC subset on `api_listen_multiaddress`, and the IPFS connector and the IPFS proxy talk to
//! that address ([`ServiceConfig::ipfs_api_multiaddress`](crate::config::ServiceConfig::ipfs_api_multiaddress)),
//! whatever their own `node_multiaddress` says (a warning tells when they differ). Absent:
//! they talk to the Kubo daemon at `ipfs_connector.ipfshttp.node_multiaddress` /
//! `api.ipfsproxy.node_multiaddress`, exactly as IPFS Cluster does. `pinfold init` writes the
//! section (nothing else to install); deleting it switches a peer to an external Kubo. The
//! embedded API must be a loopback TCP address: it has no authentication.

use std::path::{Path, PathBuf};

use multiaddr::{Multiaddr, Protocol};
use serde::Serialize;

use super::api::DEFAULT_IPFS_API;
use super::checks::{is_loopback, ma};
use super::error::ConfigError;
use super::json::{Obj, ser};
use super::size::StorageSize;

/// Pinfold's `ipfs_node` section.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct IpfsNodeConfig {
    /// Present: run the embedded IPFS node and use it instead of an external Kubo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded: Option<EmbeddedNodeConfig>,
}

impl IpfsNodeConfig {
    pub(super) fn is_empty(&self) -> bool {
        self.embedded.is_none()
    }
}

/// `ipfs_node.embedded`: the in-process IPFS node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbeddedNodeConfig {
    /// The node's repository (blocks, pins); relative paths are inside the config folder.
    pub repo: PathBuf,
    /// Where the node serves its Kubo RPC subset; loopback TCP only (no authentication).
    #[serde(serialize_with = "ser::maddr")]
    pub api_listen_multiaddress: Multiaddr,
    /// Storage limit reported as `StorageMax` (Kubo's `Datastore.StorageMax`), e.g. "10GB".
    pub storage_max: StorageSize,
}

impl Default for EmbeddedNodeConfig {
    fn default() -> EmbeddedNodeConfig {
        EmbeddedNodeConfig {
            repo: PathBuf::from("ipfs"),
            api_listen_multiaddress: ma(DEFAULT_IPFS_API),
            storage_max: StorageSize(10_000_000_000),
        }
    }
}

impl EmbeddedNodeConfig {
    /// The repository path, resolved against the configuration folder.
    pub fn repo_path(&self, folder: &Path) -> PathBuf {
        folder.join(&self.repo)
    }

    pub(super) fn read(o: &mut Obj<'_>, e: &mut EmbeddedNodeConfig) -> Result<(), ConfigError> {
        let mut repo = String::new();
        o.read("repo", &mut repo)?;
        if !repo.is_empty() {
            e.repo = PathBuf::from(repo);
        }
        o.read("api_listen_multiaddress", &mut e.api_listen_multiaddress)?;
        o.read("storage_max", &mut e.storage_max)?;
        Ok(())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let mut it = self.api_listen_multiaddress.iter();
        let tcp = matches!((it.nth(1), it.next()), (Some(Protocol::Tcp(_)), None));
        if !(tcp && is_loopback(&self.api_listen_multiaddress)) {
            return Err(ConfigError::invalid(
                "ipfs_node.embedded.api_listen_multiaddress",
                format!(
                    "{} is not allowed: the embedded node's RPC API has no authentication and must listen on a loopback TCP address such as {DEFAULT_IPFS_API}",
                    self.api_listen_multiaddress
                ),
            ));
        }
        if self.storage_max.0 == 0 {
            return Err(ConfigError::invalid(
                "ipfs_node.embedded.storage_max",
                "must be larger than 0",
            ));
        }
        Ok(())
    }
}
