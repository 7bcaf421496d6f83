//! `pinfold daemon`: assembles one cluster peer from its configuration folder and runs it
//! until SIGINT/SIGTERM.
//!
//! Order of start-up: folder lock → configuration (file + `CLUSTER_*` environment) →
//! embedded IPFS node (when `ipfs_node.embedded` is present; its Kubo RPC API on loopback for
//! users and tools, while the peer calls the node in process) or the Kubo at
//! `node_multiaddress`, waited for → state and raft (this peer alone, elected at
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
use crate::cluster::{
    Cluster, ClusterApi, ClusterHandle, ClusterNet, ClusterParts, ClusterRpc, ClusterSettings,
};
use crate::config::{ConfigFolder, InitOptions, ServiceConfig, process_env};
use crate::consensus::{Consensus, node_id};
use crate::gocompat::multiaddr::ending_peer_id;
use crate::ipfs::node::{Node, NodeOptions};
use crate::ipfsconn::{ConnectorConfig, IpfsConnector};
use crate::p2p::exchange::{FetcherConfig, SwarmFetcher};
use crate::p2p::rpc::{RaftPeers, RpcRequest, RpcResponse, RpcServer, SwarmRaftTransport};
use crate::p2p::swarm::SwarmConfig;
use crate::state::State;
use crate::tracker::{PinTracker, TrackerConfig};
use libp2p_identity::PeerId;
use multiaddr::Multiaddr;

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
    crate::p2p::swarm::peerstore::write(&report.peerstore, &[])
        .with_context(|| format!("writing the peerstore {}", report.peerstore.display()))?;
    eprintln!(
        "No configuration found: wrote one with the safe defaults to {} (identity {}).\n\
         Edit it (or run `pinfold init --force` with other options) and restart to change them.",
        report.service_json.display(),
        report.identity_json.display()
    );
    Ok(())
}

/// Options of `pinfold daemon` beyond the configuration.
#[derive(Debug, Clone, Default)]
pub struct DaemonOptions {
    /// Join the cluster of these peers (`--bootstrap`, each `<multiaddr>/p2p/<id>`).
    pub bootstrap: Vec<Multiaddr>,
    /// Leave the cluster on shutdown (`--leave`, or `cluster.leave_on_shutdown`).
    pub leave: bool,
}

/// Runs the daemon on `folder` until `shutdown` resolves (or this peer is removed from the
/// cluster).
pub async fn run(
    folder: ConfigFolder,
    options: DaemonOptions,
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
    // blocks the embedded node lacks come from the other peers, over the swarm started below
    let fetcher = SwarmFetcher::new(FetcherConfig::default());
    let (ipfs_url, node) = match &service.ipfs_node.embedded {
        Some(embedded) => {
            let node = Node::open_with_fetcher(
                NodeOptions {
                    repo: embedded.repo_path(folder.path()),
                    storage_max: Some(embedded.storage_max.bytes()),
                },
                Arc::new(fetcher.clone()),
            )?;
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
            tokio::spawn(crate::ipfs::api::serve(
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
    // the peer calls its embedded node in process; that node's Kubo RPC server is for others
    let ipfs = match &node {
        Some(node) => {
            IpfsConnector::embedded(node.clone(), connector_config(&service, ipfs_url.clone()))
        }
        None => IpfsConnector::kubo(connector_config(&service, ipfs_url.clone()))?,
    };
    wait_for_ipfs(&ipfs, &ipfs_url).await?;

    if !service.cluster.mdns_interval.is_zero() {
        tracing::warn!(
            "cluster.mdns_interval is set but Pinfold does not announce peers with mDNS: peers \
             are found through cluster.peer_addresses, the peerstore and --bootstrap"
        );
    }
    // the cluster swarm (its RPC handler is bound as the parts come up)
    let rpc = ClusterRpc::new();
    let raft = &service.consensus.raft;
    let swarm = crate::p2p::swarm::start(
        &loaded.identity.private_key,
        SwarmConfig::from_cluster(
            &service.cluster,
            Some(service.cluster.peerstore_path(folder.path())),
        ),
        // every inbound call is decided by the authorization plugin (endpoint cluster-rpc)
        RpcServer::new(peer, rpc.clone()).with_authorizer(Arc::new(
            crate::plugins::PluginRpcAuthorizer::new(plugins.clone()),
        )),
    )
    .await
    .context("cluster swarm")?;
    let mut exchange = None;
    if let Some(node) = &node {
        fetcher.bind(swarm.streams());
        exchange = Some(crate::p2p::exchange::serve(&swarm.streams(), node.clone())?);
    }
    let listen: Vec<String> = swarm
        .listen_addrs()
        .await?
        .iter()
        .map(|a| format!("{a}/p2p/{peer}"))
        .collect();
    for a in &listen {
        tracing::info!("cluster swarm listening on {a}");
    }
    // who is who: the initial peerset, the peerstore's `/p2p/` ids, and whoever connects
    let peerstore =
        crate::p2p::swarm::peerstore::read(&service.cluster.peerstore_path(folder.path()));
    let known = peerstore.iter().filter_map(ending_peer_id);
    let raft_peers = RaftPeers::new(raft.init_peerset.iter().copied().chain(known).chain([peer]));
    let net = ClusterNet {
        swarm: swarm.clone(),
        raft_peers: raft_peers.clone(),
        rpc_timeout: raft.network_timeout,
    };

    net.learn_connections().await;

    // state and consensus
    let data = raft.data_path(folder.path());
    let mut bootstrap_peers = Vec::new();
    for ma in &options.bootstrap {
        bootstrap_peers.push(bootstrap_peer(ma)?);
    }
    if !bootstrap_peers.is_empty() && raft_initialized(&data) {
        tracing::warn!(
            "--bootstrap: moving the existing raft data aside (as IPFS Cluster does) to join anew"
        );
        crate::consensus::cleanup_data_folder(&data, raft.backups_rotate)?;
    }
    std::fs::create_dir_all(&data).with_context(|| format!("cannot create {}", data.display()))?;
    let state = Arc::new(State::open(&data.join(STATE_FILE))?);
    let voters: Vec<u64> = if bootstrap_peers.is_empty() {
        raft.init_peerset.iter().map(node_id).collect()
    } else {
        // joining: a configuration without us, filled in by the leader
        bootstrap_peers.iter().map(node_id).collect()
    };
    let consensus = {
        let (data, state, raft_config) = (data.clone(), state.clone(), raft.clone());
        let transport = Box::new(SwarmRaftTransport::new(swarm.clone(), raft_peers.clone()));
        Arc::new(
            tokio::task::spawn_blocking(move || {
                Consensus::start_with_transport(
                    &data,
                    node_id(&peer),
                    &voters,
                    raft_config,
                    state,
                    transport,
                )
            })
            .await??,
        )
    };
    rpc.bind_consensus(consensus.clone());
    crate::p2p::rpc::raft::serve_snapshots(&swarm.streams(), consensus.clone())?;
    if !bootstrap_peers.is_empty() {
        join(&net, &options.bootstrap, &listen).await?;
    }
    consensus
        .wait_for_sync(raft.wait_for_leader_timeout + Duration::from_secs(5))
        .await
        .context("raft did not elect a leader (is a majority of the peers running?)")?;

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
            addresses: listen.clone(),
            connect_swarms_delay: node
                .is_none()
                .then_some(service.ipfs_connector.ipfshttp.connect_swarms_delay),
        },
        consensus,
        net: Some(net),
        state,
        tracker,
        ipfs,
    });
    rpc.bind_cluster(&cluster);
    let removed = cluster.removed();
    let api: Arc<dyn ClusterApi> = Arc::new(ClusterHandle(cluster.clone()));

    // the REST API
    let stop_apis = tokio_util::sync::CancellationToken::new();
    let mut servers = Vec::new();
    if let Some(rest) = &service.api.restapi {
        for listener in crate::api::rest::server::bind_listeners(rest).await? {
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
        // the same API on the cluster's libp2p host (`/libp2p-http`), through the same access
        // layer; only holders of the cluster secret reach it
        let stop = stop_apis.clone();
        let router = crate::api::rest::router::router(
            api.clone(),
            crate::api::rest::access::AccessLayer::rest(plugins.clone(), rest),
        );
        let (streams, rest) = (swarm.streams(), rest.clone());
        servers.push(tokio::spawn(async move {
            crate::api::libp2p_http::serve_with(streams, router, &rest, async move {
                stop.cancelled().await
            })
            .await
            .map_err(|e| crate::api::rest::server::RestError::Io(std::io::Error::other(e)))
        }));
    }
    println!("** IPFS Cluster is READY **");

    let was_removed = tokio::select! {
        _ = shutdown => false,
        _ = removed.cancelled() => true,
    };
    tracing::info!("shutting down");
    if !was_removed && (options.leave || service.cluster.leave_on_shutdown) {
        match cluster.leave().await {
            Ok(()) => tracing::info!("left the cluster"),
            Err(e) => tracing::warn!(error = %e, "could not leave the cluster"),
        }
    }
    stop_apis.cancel();
    for s in servers {
        if let Ok(Err(e)) = s.await {
            tracing::warn!(error = %e, "REST API");
        }
    }
    cluster.shutdown().await;
    if let Some(x) = exchange {
        x.stop();
    }
    swarm.shutdown().await;
    stop_node.cancel();
    drop(node);
    tracing::info!("stopped");
    Ok(())
}

/// The peer id of a `--bootstrap` address.
fn bootstrap_peer(ma: &Multiaddr) -> anyhow::Result<PeerId> {
    ending_peer_id(ma)
        .with_context(|| format!("--bootstrap {ma}: the address must end with /p2p/<peer id>"))
}

/// Whether the raft folder already holds a log (this peer was a member before).
fn raft_initialized(data: &Path) -> bool {
    data.join("raft.redb").exists()
}

/// Asks the bootstrap peers, in turn, to add this peer to their cluster, then dials the
/// members they know (IPFS Cluster's `Join`).
async fn join(net: &ClusterNet, bootstrap: &[Multiaddr], listen: &[String]) -> anyhow::Result<()> {
    let me = net.swarm.local_peer_id();
    let deadline = tokio::time::Instant::now() + net.rpc_timeout * 3;
    let mut last = String::new();
    loop {
        for ma in bootstrap {
            let peer = match net.swarm.dial(ma.clone()).await {
                Ok(p) => p,
                Err(e) => {
                    last = format!("{ma}: {e}");
                    continue;
                }
            };
            net.raft_peers.insert(peer);
            let add = RpcRequest::PeerAdd {
                peer: me.to_base58(),
                addrs: listen.to_vec(),
            };
            match net.call(peer, add).await {
                Ok(_) => {
                    if let Ok(RpcResponse::Id(d)) = net.call(peer, RpcRequest::Id).await {
                        for p in d.cluster_peers.iter().filter_map(|p| p.parse().ok()) {
                            net.raft_peers.insert(p);
                        }
                        for a in d
                            .cluster_peers_addresses
                            .iter()
                            .filter_map(|a| a.parse().ok())
                        {
                            let _ = net.swarm.dial(a).await;
                        }
                    }
                    tracing::info!(via = %peer, "joined the cluster");
                    return Ok(());
                }
                Err(e) => last = format!("{peer}: {e}"),
            }
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("could not join the cluster through --bootstrap: {last}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
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
