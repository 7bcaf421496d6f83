//! `pinfold ipfs daemon`: the embedded IPFS node alone, serving the Kubo RPC API.
//!
//! The node binds loopback only (`/ip4/127.0.0.1/tcp/5001` by default): the Kubo RPC API has
//! no authentication, so exposing it is an explicit decision (`--allow-non-loopback-api`).
//! Once listening it prints `RPC API server listening on <multiaddr>` on stdout, as Kubo does,
//! with the real port when the address asked for port 0.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use multiaddr::{Multiaddr, Protocol};

use crate::config::StorageSize;
use crate::ipfs::node::{Node, NodeOptions};

#[derive(Debug, Subcommand)]
pub enum IpfsCommand {
    /// Run the embedded IPFS node and serve its Kubo RPC API.
    Daemon(DaemonArgs),
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The node's repo folder (created with a new identity if missing).
    #[arg(long, env = "PINFOLD_IPFS_REPO")]
    pub repo: PathBuf,
    /// Where to serve the Kubo RPC API (defaults to the repo config's Addresses.API,
    /// /ip4/127.0.0.1/tcp/5001).
    #[arg(long)]
    pub api: Option<String>,
    /// Override Datastore.StorageMax (e.g. 10GB, 512MiB).
    #[arg(long)]
    pub storage_max: Option<String>,
    /// Allow the unauthenticated RPC API on an address other than loopback.
    #[arg(long)]
    pub allow_non_loopback_api: bool,
}

/// Converts `/ip4/A/tcp/P` or `/ip6/A/tcp/P` into a socket address.
pub fn multiaddr_to_socket(ma: &str) -> anyhow::Result<SocketAddr> {
    let parsed: Multiaddr = ma
        .parse()
        .with_context(|| format!("invalid multiaddress {ma:?}"))?;
    crate::gocompat::multiaddr::to_socket_addr(&parsed).map_err(|e| anyhow::anyhow!("{ma}: {e}"))
}

/// The multiaddress of a bound socket.
pub fn socket_to_multiaddr(addr: SocketAddr) -> Multiaddr {
    let ip = match addr.ip() {
        IpAddr::V4(a) => Protocol::Ip4(a),
        IpAddr::V6(a) => Protocol::Ip6(a),
    };
    Multiaddr::empty().with(ip).with(Protocol::Tcp(addr.port()))
}

pub async fn run(cmd: IpfsCommand) -> anyhow::Result<()> {
    match cmd {
        IpfsCommand::Daemon(args) => daemon(args).await,
    }
}

async fn daemon(args: DaemonArgs) -> anyhow::Result<()> {
    let storage_max = args
        .storage_max
        .as_deref()
        .map(|s| StorageSize::parse(s).map(StorageSize::bytes))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--storage-max: {e}"))?;
    let node = Node::open(NodeOptions {
        repo: args.repo.clone(),
        storage_max,
    })?;
    let api = args
        .api
        .unwrap_or_else(|| node.config().addresses.api.clone());
    let addr = multiaddr_to_socket(&api)?;
    if !addr.ip().is_loopback() && !args.allow_non_loopback_api {
        bail!(
            "refusing to serve the unauthenticated Kubo RPC API on {api}: it is not a loopback address. \
             Pass --allow-non-loopback-api if you really mean it"
        );
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {api}"))?;
    let bound = socket_to_multiaddr(listener.local_addr()?);
    tracing::info!(repo = %args.repo.display(), peer_id = %node.peer_id(), "embedded IPFS node started");
    println!("RPC API server listening on {bound}");
    println!("Daemon is ready");
    crate::ipfs::api::serve(node, listener, super::shutdown_signal()).await?;
    tracing::info!("embedded IPFS node stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiaddrs() {
        assert_eq!(
            multiaddr_to_socket("/ip4/127.0.0.1/tcp/5001")
                .unwrap()
                .to_string(),
            "127.0.0.1:5001"
        );
        assert_eq!(
            multiaddr_to_socket("/ip6/::1/tcp/0").unwrap().to_string(),
            "[::1]:0"
        );
        assert!(multiaddr_to_socket("/ip4/127.0.0.1/udp/1").is_err());
        assert!(multiaddr_to_socket("/dns4/localhost/tcp/1").is_err());
        assert!(multiaddr_to_socket("garbage").is_err());
        let addr: SocketAddr = "127.0.0.1:4242".parse().unwrap();
        assert_eq!(
            socket_to_multiaddr(addr).to_string(),
            "/ip4/127.0.0.1/tcp/4242"
        );
    }
}
