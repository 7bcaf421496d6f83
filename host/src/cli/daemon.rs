//! `pinfold daemon`: assembles one cluster peer from its configuration folder and runs it
//! until SIGINT/SIGTERM.
//!
//! Order of start-up: folder lock → configuration (file + `CLUSTER_*` environment) →
//! embedded IPFS node (when `ipfs_node.embedded` is present; its Kubo RPC API on loopback) or
//! the Kubo at `node_multiaddress`, waited for → state and raft (this peer alone, elected at
//! once) → pin tracker → cluster façade → REST API. Each listener prints one line on stdout
//! (`RPC API server listening on …`, `REST API listening on …`) and, once everything runs,
//! `** IPFS Cluster is READY **`, as Go prints it; scripts and tests wait for that line.
//!
//! Shutdown is the reverse: stop accepting requests, stop the tracker and raft (their writes
//! are durable as they happen, so a kill -9 instead loses nothing acknowledged), close the node.
//!
//! A machine without configuration gets one: `pinfold daemon` runs `init` with the safe
//! defaults first and says where it wrote it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use super::ipfs::{multiaddr_to_socket, socket_to_multiaddr};
use crate::cluster::{Cluster, ClusterApi, ClusterHandle, ClusterParts, ClusterSettings};
use crate::config::{ConfigFolder, InitOptions, ServiceConfig, process_env};
use crate::consensus::{Consensus, node_id};
use crate::ipfs::connector::{ConnectorConfig, IpfsConnector};
use crate::ipfs::node::{Node, NodeOptions};
use crate::state::State;
use crate::tracker::{PinTracker, TrackerConfig};

/// The file of the pinset inside the raft data folder (removed with it by `state cleanup`).
pub const STATE_FILE: &str = "pinset.redb";

/// Where the pinset of a configuration lives.
pub fn state_path(folder: &Path, service: &ServiceConfig) -> PathBuf {
    service.consensus.raft.data_path(folder).join(STATE_FILE)
}

/// The connector settings from `ipfs_connector.ipfshttp`, pointed at `base_url`.
fn connector_config(service: &ServiceConfig, base_url: String) -> ConnectorConfig {
    let c = &service.ipfs_connector.ipfshttp;
    ConnectorConfig {
        base_url,
        request_timeout: c.ipfs_request_timeout,
        pin_timeout: c.pin_timeout,
        unpin_timeout: c.unpin_timeout,
        repogc_timeout: c.repogc_timeout,
        unpin_disable: c.unpin_disable,
    }
}

/// Creates a default configuration when the folder has none, saying so.
pub fn ensure_initialized(folder: &ConfigFolder) -> anyhow::Result<()> {
    if folder.service_json().exists() {
        return Ok(());
    }
    let report = folder
        .init(&InitOptions::default(), &process_env)
        .with_context(|| {
            format!(
                "cannot create a configuration in {}",
                folder.path().display()
            )
        })?;
    eprintln!(
        "No configuration found: wrote one with the safe defaults to {} (identity {}).\n\
         Edit it (or run `pinfold init --force` with other options) and restart to change them.",
        report.service_json.display(),
        report.identity_json.display()
    );
    Ok(())
}

/// Runs the daemon on `folder` until `shutdown` resolves.
pub async fn run(
    folder: ConfigFolder,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    ensure_initialized(&folder)?;
    let _lock = folder.lock()?;
    let loaded = folder.load(&process_env)?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let service = loaded.service;
    let peer = loaded.identity.id;
    tracing::info!(peer = %peer, folder = %folder.path().display(), "starting pinfold");

    // the plugins (authorization, CORS, allocation), first so that a bad one stops the start
    // before anything opens; SIGHUP reloads them from service.json
    let plugins = crate::plugins::PluginSet::start_async(folder.path(), &service).await?;
    crate::plugins::set::spawn_sighup_reload(plugins.clone());

    // the IPFS node
    let stop_node = tokio_util::sync::CancellationToken::new();
    let (ipfs_url, node) = match &service.ipfs_node.embedded {
        Some(embedded) => {
            let node = Node::open(NodeOptions {
                repo: embedded.repo_path(folder.path()),
                storage_max: Some(embedded.storage_max.bytes()),
            })?;
            let addr = multiaddr_to_socket(&embedded.api_listen_multiaddress.to_string())?;
            if !addr.ip().is_loopback() {
                bail!(
                    "ipfs_node.embedded.api_listen_multiaddress must be a loopback address (the Kubo RPC API has no authentication)"
                );
            }
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("embedded IPFS node: cannot listen on {addr}"))?;
            let bound = listener.local_addr()?;
            println!("RPC API server listening on {}", socket_to_multiaddr(bound));
            let stop = stop_node.clone();
            tokio::spawn(crate::ipfs::rpc::serve(
                node.clone(),
                listener,
                async move { stop.cancelled().await },
            ));
            (format!("http://{bound}"), Some(node))
        }
        None => {
            let addr = multiaddr_to_socket(
                &service
                    .ipfs_connector
                    .ipfshttp
                    .node_multiaddress
                    .to_string(),
            )?;
            (format!("http://{addr}"), None)
        }
    };
    let ipfs = IpfsConnector::new(connector_config(&service, ipfs_url.clone()))?;
    wait_for_ipfs(&ipfs, &ipfs_url).await?;

    // state and consensus
    let data = service.consensus.raft.data_path(folder.path());
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let state = Arc::new(State::open(&data.join(STATE_FILE))?);
    let raft_config = service.consensus.raft.clone();
    let consensus = {
        let (data, state) = (data.clone(), state.clone());
        tokio::task::spawn_blocking(move || {
            Consensus::start(&data, node_id(&peer), &[], raft_config, state)
        })
        .await??
    };
    consensus
        .wait_for_leader(service.consensus.raft.wait_for_leader_timeout + Duration::from_secs(5))
        .await
        .context("raft did not elect a leader")?;

    let st = &service.pin_tracker.stateless;
    let tracker = PinTracker::start(
        ipfs.clone(),
        peer,
        service.cluster.peername.clone(),
        TrackerConfig {
            concurrent_pins: st.concurrent_pins,
            priority_pin_max_age: st.priority_pin_max_age,
            priority_pin_max_retries: st.priority_pin_max_retries,
            max_pin_queue_size: st.max_pin_queue_size,
        },
    );
    let c = &service.cluster;
    let cluster = Cluster::start(ClusterParts {
        peer,
        settings: ClusterSettings {
            peername: c.peername.clone(),
            replication_factor_min: c.replication_factor_min,
            replication_factor_max: c.replication_factor_max,
            follower_mode: c.follower_mode,
            state_sync_interval: c.state_sync_interval,
            pin_recover_interval: c.pin_recover_interval,
            addresses: Vec::new(),
        },
        consensus,
        state,
        tracker,
        ipfs,
    });
    let api: Arc<dyn ClusterApi> = Arc::new(ClusterHandle(cluster.clone()));

    // the REST API
    let stop_apis = tokio_util::sync::CancellationToken::new();
    let mut servers = Vec::new();
    if let Some(rest) = &service.api.restapi {
        for ma in &rest.http_listen_multiaddress {
            let addr = multiaddr_to_socket(&ma.to_string())?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("REST API: cannot listen on {ma}"))?;
            let bound = socket_to_multiaddr(listener.local_addr()?);
            let stop = stop_apis.clone();
            let (api, rest, dir) = (api.clone(), rest.clone(), folder.path().to_path_buf());
            let access = crate::api::rest::access::AccessLayer::rest(plugins.clone(), &rest);
            servers.push(tokio::spawn(async move {
                crate::api::rest::server::serve_with(
                    api,
                    rest,
                    &dir,
                    access,
                    listener,
                    async move { stop.cancelled().await },
                )
                .await
            }));
            println!("REST API listening on {bound}");
        }
    }
    println!("** IPFS Cluster is READY **");

    shutdown.await;
    tracing::info!("shutting down");
    stop_apis.cancel();
    for s in servers {
        if let Ok(Err(e)) = s.await {
            tracing::warn!(error = %e, "REST API");
        }
    }
    cluster.shutdown().await;
    stop_node.cancel();
    drop(node);
    tracing::info!("stopped");
    Ok(())
}

/// Polls the IPFS node's `id` until it answers (IPFS Cluster's readiness check).
async fn wait_for_ipfs(ipfs: &IpfsConnector, url: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut logged = false;
    loop {
        match ipfs.id().await {
            Ok(id) => {
                tracing::info!(ipfs_id = %id.id, "IPFS node is ready");
                return Ok(());
            }
            Err(e) if tokio::time::Instant::now() < deadline => {
                if !logged {
                    tracing::warn!(url, error = %e, "waiting for the IPFS node");
                    logged = true;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => bail!("the IPFS node at {url} did not answer within 60s: {e}"),
        }
    }
}
