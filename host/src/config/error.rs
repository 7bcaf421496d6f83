//! `ConfigError`: every way reading, checking, writing or locking the configuration can fail.
//!
//! Each message names what the operator has to fix: the file (`…/service.json: …`), the key
//! path inside it (`cluster.replication_factor_min: …`), or the environment variable
//! (`CLUSTER_REPLICATIONFACTORMIN: …`). Messages never contain the cluster secret, a password
//! or a private key, only the name of the key that holds one.
//!
//! Trade-off: one flat enum rather than one error type per file. Callers (the CLI, the daemon)
//! only print these errors and exit, so a single type with precise messages serves them better
//! than a tree they would have to walk. `InFile` wraps an error found while reading a file, so
//! that the file's path leads the message without every helper having to know it.

use std::path::PathBuf;

/// An error in the configuration folder, a configuration file, or the environment.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file or folder could not be read, written, created or renamed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A key holds a value that is not allowed; `key` is the dotted path (`api.restapi.max_header_bytes`).
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
    /// An environment variable holds a value that is not allowed.
    #[error("{var}: {reason}")]
    Env { var: String, reason: String },
    /// An error found while reading the named file.
    #[error("{path}: {source}")]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<ConfigError>,
    },
    /// The configuration (or `pinfold init --consensus crdt`) asks for CRDT consensus.
    #[error(
        "{key}: Pinfold only implements raft consensus; crdt is not supported (run `pinfold init --consensus raft`, or replace the consensus.crdt section by a consensus.raft one)"
    )]
    CrdtNotSupported { key: String },
    /// A feature of IPFS Cluster's configuration that Pinfold does not offer.
    #[error("{key}: {reason}")]
    Unsupported { key: String, reason: String },
    /// `init` would overwrite an existing file.
    #[error("{path} already exists; use --force to overwrite it")]
    AlreadyExists { path: PathBuf },
    /// Another process holds the folder lock.
    #[error(
        "another pinfold daemon is already running with the folder {folder} (lock {lock} is held)"
    )]
    Locked { folder: PathBuf, lock: PathBuf },
    /// No configuration folder could be determined.
    #[error("cannot determine the configuration folder: neither PINFOLD_PATH nor HOME is set")]
    NoHome,
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn env(var: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Env {
            var: var.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ConfigError {
        ConfigError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn in_file(self, path: impl Into<PathBuf>) -> ConfigError {
        ConfigError::InFile {
            path: path.into(),
            source: Box::new(self),
        }
    }

    /// The innermost error (below any `InFile` wrappers).
    pub fn root(&self) -> &ConfigError {
        match self {
            ConfigError::InFile { source, .. } => source.root(),
            other => other,
        }
    }

    /// The key path this error is about, if it is about one key.
    pub fn key(&self) -> Option<&str> {
        match self.root() {
            ConfigError::Invalid { key, .. }
            | ConfigError::CrdtNotSupported { key }
            | ConfigError::Unsupported { key, .. } => Some(key),
            _ => None,
        }
    }
}
