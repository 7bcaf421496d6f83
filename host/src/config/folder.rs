//! The configuration folder (`~/.pinfold`, or `PINFOLD_PATH`): `service.json`,
//! `identity.json`, `cluster.lock`, and what `pinfold init` writes there. The `peerstore` file
//! is not read or written here: the swarm owns it (`p2p::swarm::peerstore`, one set of rules);
//! `init` only checks the `--peers` and says where the file goes.
//!
//! Layout and behaviour follow `ipfs-cluster-service` (`~/.ipfs-cluster`, `IPFS_CLUSTER_PATH`):
//! * [`ConfigFolder::init`] writes service.json (every section, **raft** consensus, a fresh
//!   32-byte secret, `CLUSTER_*` overrides applied, as Go's `init` does), identity.json (only if
//!   absent: an existing identity is never replaced); `--peers` (each must end with
//!   `/p2p/<peer ID>`, as Go's `peer.AddrInfoFromP2pAddr` requires) fill
//!   `consensus.raft.init_peerset`, and the caller writes them to the peerstore. It refuses to
//!   overwrite an existing service.json unless `force` (Go prompts; a library cannot), and
//!   holds the folder lock while overwriting so it cannot clobber a running daemon's files.
//!   `--consensus crdt` fails clearly: Pinfold implements raft only.
//! * `random_ports` picks free ports (bound on 127.0.0.1:0 and held until all are chosen, so
//!   they are distinct) for the cluster swarm, the REST API, the pinning-service API, the IPFS
//!   proxy and the embedded node's API, and points the connector and the proxy at that API.
//! * Files are written atomically (temporary file in the same folder, fsync, rename) with mode
//!   0600; a folder created here gets mode 0700. An existing folder's mode is left alone.
//! * [`ConfigFolder::load`] reads identity.json then service.json with the environment
//!   applied. A missing identity.json is extracted from the legacy `cluster.id`/`private_key`
//!   of service.json and saved, as Go does.
//!
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use libp2p_identity::PeerId;
use multiaddr::{Multiaddr, Protocol};

use super::env::{Env, process_env};
use super::error::ConfigError;
use super::identity::Identity;
use super::lock::FolderLock;
use super::secret::ClusterSecret;
use super::service::ServiceConfig;
use crate::gocompat::multiaddr::ending_peer_id;

pub const SERVICE_JSON: &str = "service.json";
pub const IDENTITY_JSON: &str = "identity.json";
/// The folder's name under `$HOME`.
pub const DEFAULT_FOLDER_NAME: &str = ".pinfold";
/// The variable that overrides the default folder.
pub const PATH_ENV: &str = "PINFOLD_PATH";

/// The default configuration folder: `$PINFOLD_PATH`, else `$HOME/.pinfold`.
pub fn default_folder() -> Result<PathBuf, ConfigError> {
    default_folder_from(&process_env)
}

/// [`default_folder`] with an explicit environment.
pub fn default_folder_from(env: Env<'_>) -> Result<PathBuf, ConfigError> {
    if let Some(p) = env(PATH_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    match env("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(Path::new(&home).join(DEFAULT_FOLDER_NAME)),
        None => Err(ConfigError::NoHome),
    }
}

/// Which consensus `init` should configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consensus {
    #[default]
    Raft,
    /// Refused: Pinfold implements raft only.
    Crdt,
}

impl std::str::FromStr for Consensus {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Consensus, ConfigError> {
        match s {
            "raft" => Ok(Consensus::Raft),
            "crdt" => Ok(Consensus::Crdt),
            other => Err(ConfigError::invalid(
                "--consensus",
                format!("{other:?} is invalid: flag value must be set to 'raft' or 'crdt'"),
            )),
        }
    }
}

/// The options of `pinfold init`.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    pub consensus: Consensus,
    /// Overwrite an existing service.json.
    pub force: bool,
    /// Initial peers, each ending with `/p2p/<peer ID>`.
    pub peers: Vec<Multiaddr>,
    /// Free random ports instead of the defaults.
    pub random_ports: bool,
    /// The secret to use instead of a random one (`--custom-secret`; parse the user's hex
    /// with [`ClusterSecret::parse_hex`]). Takes precedence over `CLUSTER_SECRET`, as in Go.
    pub custom_secret: Option<ClusterSecret>,
}

/// What `init` wrote.
#[derive(Debug, Clone)]
pub struct InitReport {
    pub service_json: PathBuf,
    pub identity_json: PathBuf,
    /// False when identity.json already existed and was kept.
    pub identity_created: bool,
    /// Where the peerstore goes (`cluster.peerstore_file`); the caller writes `--peers` there.
    pub peerstore: PathBuf,
    /// How many `--peers` were given.
    pub peers: usize,
    pub config: ServiceConfig,
    pub warnings: Vec<String>,
}

/// A loaded folder.
#[derive(Debug, Clone)]
pub struct LoadedFolder {
    pub service: ServiceConfig,
    pub identity: Identity,
    pub warnings: Vec<String>,
}

/// A configuration folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFolder {
    path: PathBuf,
}

impl ConfigFolder {
    pub fn new(path: impl Into<PathBuf>) -> ConfigFolder {
        ConfigFolder { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn service_json(&self) -> PathBuf {
        self.path.join(SERVICE_JSON)
    }

    pub fn identity_json(&self) -> PathBuf {
        self.path.join(IDENTITY_JSON)
    }

    /// The peerstore file of `cfg` (`cluster.peerstore_file`, default `peerstore`).
    pub fn peerstore(&self, cfg: &ServiceConfig) -> PathBuf {
        cfg.cluster.peerstore_path(&self.path)
    }

    /// Takes the folder lock (see [`FolderLock`]).
    pub fn lock(&self) -> Result<FolderLock, ConfigError> {
        FolderLock::acquire(&self.path)
    }

    /// `pinfold init`.
    pub fn init(&self, opts: &InitOptions, env: Env<'_>) -> Result<InitReport, ConfigError> {
        if opts.consensus == Consensus::Crdt {
            return Err(ConfigError::CrdtNotSupported {
                key: "--consensus".into(),
            });
        }
        let mut init_peerset: Vec<PeerId> = vec![];
        for addr in &opts.peers {
            let id = ending_peer_id(addr).ok_or_else(|| {
                ConfigError::invalid(
                    "--peers",
                    format!("{addr} does not end with /p2p/<peer ID>"),
                )
            })?;
            if !init_peerset.contains(&id) {
                init_peerset.push(id);
            }
        }

        make_private_dir(&self.path)?;
        let service_json = self.service_json();
        let identity_json = self.identity_json();
        let service_exists = service_json.exists();
        let identity_exists = identity_json.exists();
        if service_exists && !opts.force {
            return Err(ConfigError::AlreadyExists { path: service_json });
        }
        let _lock = if service_exists || identity_exists {
            Some(self.lock()?)
        } else {
            None
        };

        let mut cfg = ServiceConfig::generate();
        let mut warnings = vec![];
        if opts.random_ports {
            randomize_ports(&mut cfg)?;
        }
        cfg.apply_env_and_validate(env, &mut warnings)?;
        if let Some(secret) = &opts.custom_secret {
            cfg.cluster.secret = Some(secret.clone());
        }
        if !opts.peers.is_empty() {
            cfg.consensus.raft.init_peerset = init_peerset;
        }
        cfg.validate()?;
        cfg.write(&service_json)?;

        let identity_created = !identity_exists;
        if identity_created {
            let mut ident = Identity::generate();
            ident.apply_env(env)?;
            ident.write(&identity_json)?;
        }

        let peerstore = self.peerstore(&cfg);
        for w in &warnings {
            tracing::warn!("{w}");
        }
        Ok(InitReport {
            service_json,
            identity_json,
            identity_created,
            peerstore,
            peers: opts.peers.len(),
            config: cfg,
            warnings,
        })
    }

    /// Loads identity.json and service.json, with `env` applied to both.
    pub fn load(&self, env: Env<'_>) -> Result<LoadedFolder, ConfigError> {
        let (identity, mut warnings) = self.load_identity(env)?;
        let loaded = ServiceConfig::load(&self.service_json(), env)?;
        warnings.extend(loaded.warnings);
        Ok(LoadedFolder {
            service: loaded.config,
            identity,
            warnings,
        })
    }

    /// Loads identity.json; when it is missing, extracts the legacy identity from service.json
    /// and saves it (with a warning), as IPFS Cluster does.
    pub fn load_identity(&self, env: Env<'_>) -> Result<(Identity, Vec<String>), ConfigError> {
        let path = self.identity_json();
        if path.exists() {
            let warnings: Vec<String> = loose_mode_warning(&path).into_iter().collect();
            for w in &warnings {
                tracing::warn!("{w}");
            }
            return Ok((Identity::load(&path, env)?, warnings));
        }
        let service = self.service_json();
        let legacy = if service.exists() {
            Identity::from_service_json(&service)?
        } else {
            None
        };
        let Some(mut ident) = legacy else {
            return Err(ConfigError::io(
                &path,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no identity: run `pinfold init` to create one",
                ),
            ));
        };
        ident.write(&path)?;
        let w = format!(
            "identity information extracted from {} and saved as {}",
            service.display(),
            path.display()
        );
        tracing::warn!("{w}");
        ident.apply_env(env)?;
        Ok((ident, vec![w]))
    }
}

/// A warning when `path` (holding a secret or a private key) is readable or writable by other
/// users; Pinfold still loads it (Go does not check at all).
pub(crate) fn loose_mode_warning(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} has mode {mode:04o}: other users may read the secrets it holds (chmod 600 it)",
            path.display()
        )
    })
}

/// Creates `dir` (and missing parents) with mode 0700; an existing folder is left as it is.
pub(crate) fn make_private_dir(dir: &Path) -> Result<(), ConfigError> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| ConfigError::io(dir, e))?;
    // The mode given to mkdir is filtered by the umask; make sure of 0700.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| ConfigError::io(dir, e))
}

/// Writes `path` atomically with mode 0600: a temporary file in the same folder, fsync,
/// rename over `path`, fsync of the folder. Creates the folder (0700) if needed.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ConfigError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    make_private_dir(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(ConfigError::io(&tmp, e));
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(ConfigError::io(path, e));
    }
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Replaces every TCP/UDP port of the listen addresses with a free one, and points the
/// connector and the proxy at the embedded node's (new) API address.
fn randomize_ports(cfg: &mut ServiceConfig) -> Result<(), ConfigError> {
    let mut held = Holder::default();
    cfg.cluster.listen_multiaddress = held.randomize_all(&cfg.cluster.listen_multiaddress)?;
    if let Some(r) = &mut cfg.api.restapi {
        r.http_listen_multiaddress = held.randomize_all(&r.http_listen_multiaddress)?;
    }
    if let Some(r) = &mut cfg.api.pinsvcapi {
        r.http_listen_multiaddress = held.randomize_all(&r.http_listen_multiaddress)?;
    }
    if let Some(p) = &mut cfg.api.ipfsproxy {
        p.listen_multiaddress = held.randomize_all(&p.listen_multiaddress)?;
    }
    if let Some(e) = &mut cfg.ipfs_node.embedded {
        e.api_listen_multiaddress = held.randomize(&e.api_listen_multiaddress)?;
        cfg.ipfs_connector.ipfshttp.node_multiaddress = e.api_listen_multiaddress.clone();
        if let Some(p) = &mut cfg.api.ipfsproxy {
            p.node_multiaddress = e.api_listen_multiaddress.clone();
        }
    }
    Ok(())
}

/// Keeps the probe sockets open until every port is chosen, so the ports are distinct.
#[derive(Default)]
struct Holder {
    tcp: Vec<TcpListener>,
    udp: Vec<UdpSocket>,
}

impl Holder {
    fn randomize_all(&mut self, addrs: &[Multiaddr]) -> Result<Vec<Multiaddr>, ConfigError> {
        addrs.iter().map(|a| self.randomize(a)).collect()
    }

    fn randomize(&mut self, addr: &Multiaddr) -> Result<Multiaddr, ConfigError> {
        let probe_err = |e| ConfigError::io("127.0.0.1:0", e);
        let mut out = Multiaddr::empty();
        for p in addr.iter() {
            out.push(match p {
                Protocol::Tcp(_) => {
                    let l = TcpListener::bind("127.0.0.1:0").map_err(probe_err)?;
                    let port = l.local_addr().map_err(probe_err)?.port();
                    self.tcp.push(l);
                    Protocol::Tcp(port)
                }
                Protocol::Udp(_) => {
                    let s = UdpSocket::bind("127.0.0.1:0").map_err(probe_err)?;
                    let port = s.local_addr().map_err(probe_err)?.port();
                    self.udp.push(s);
                    Protocol::Udp(port)
                }
                other => other,
            });
        }
        Ok(out)
    }
}
