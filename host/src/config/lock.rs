//! The folder lock: one daemon (or state command, or `init --force`) per configuration folder.
//!
//! IPFS Cluster takes `cluster.lock` in the configuration folder (go-fs-lock) for `daemon`,
//! `state *` and overwriting `init`. Pinfold takes an exclusive, non-blocking `flock(2)` on the
//! same file name, held as long as the [`FolderLock`] lives; the kernel drops it when the
//! process dies, so a crashed daemon never leaves a stale lock behind (the file itself stays:
//! removing it on release would race with a process that has just opened it).
//!
//! `flock` locks belong to the open file description, so a second `acquire` fails even from
//! the same process, which is what the tests rely on. Not for NFS folders (flock there is
//! emulated or local-only), same caveat as Go's lock.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

use super::error::ConfigError;

/// The lock file's name inside the configuration folder (IPFS Cluster's).
pub const LOCK_FILE: &str = "cluster.lock";

/// An exclusive lock on a configuration folder; released on drop.
#[derive(Debug)]
pub struct FolderLock {
    path: PathBuf,
    _file: File,
}

impl FolderLock {
    /// Takes the lock, or fails at once with "another pinfold daemon is already running…".
    /// The folder must exist.
    pub fn acquire(folder: &Path) -> Result<FolderLock, ConfigError> {
        let path = folder.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| ConfigError::io(&path, e))?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(FolderLock { path, _file: file }),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(ConfigError::Locked {
                folder: folder.to_path_buf(),
                lock: path,
            }),
            Err(e) => Err(ConfigError::io(&path, e.into())),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = FolderLock::acquire(dir.path()).unwrap();
        assert_eq!(first.path(), dir.path().join("cluster.lock"));
        let err = FolderLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(err, ConfigError::Locked { .. }));
        assert_eq!(
            err.to_string(),
            format!(
                "another pinfold daemon is already running with the folder {} (lock {} is held)",
                dir.path().display(),
                dir.path().join("cluster.lock").display()
            )
        );
        drop(first);
        let again = FolderLock::acquire(dir.path()).unwrap();
        drop(again);
    }

    #[test]
    fn missing_folder_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = FolderLock::acquire(&dir.path().join("nope")).unwrap_err();
        assert!(matches!(err, ConfigError::Io { .. }), "{err}");
    }
}
