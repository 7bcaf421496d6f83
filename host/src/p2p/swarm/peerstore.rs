//! The `peerstore` file: one multiaddr (ending in `/p2p/<peer id>`) per line, as IPFS Cluster's
//! pstoremgr writes it. Read at start (unparsable lines and lines without a peer id are
//! skipped with a warning, as Go does), rewritten atomically (temp file, rename; mode 0600)
//! whenever the swarm's address book changes.

use std::io::Write;
use std::path::Path;

use multiaddr::Multiaddr;

/// The file's addresses; none when it is missing or unreadable (warned).
pub fn read(path: &Path) -> Vec<Multiaddr> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return vec![],
        Err(e) => {
            tracing::warn!("cannot read the peerstore {}: {e}", path.display());
            return vec![];
        }
    };
    let mut out = vec![];
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.parse::<Multiaddr>() {
            Ok(a) if matches!(a.iter().last(), Some(multiaddr::Protocol::P2p(_))) => out.push(a),
            Ok(_) => tracing::warn!(
                "{}:{}: skipped {line:?}: no /p2p/<peer id> at the end",
                path.display(),
                n + 1
            ),
            Err(e) => tracing::warn!("{}:{}: skipped {line:?}: {e}", path.display(), n + 1),
        }
    }
    out
}

/// Replaces the file with `addrs`, one per line.
pub(crate) fn write(path: &Path, addrs: &[Multiaddr]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let text: String = addrs.iter().map(|a| format!("{a}\n")).collect();
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_data()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peerstore_roundtrip_skips_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peerstore");
        assert!(read(&path).is_empty());
        let p = libp2p_identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let a: Multiaddr = format!("/ip4/127.0.0.1/tcp/9096/p2p/{p}").parse().unwrap();
        let b: Multiaddr = format!("/ip4/10.0.0.1/tcp/9096/p2p/{p}").parse().unwrap();
        write(&path, &[a.clone(), b.clone()]).unwrap();
        assert_eq!(read(&path), vec![a.clone(), b]);
        std::fs::write(&path, format!("garbage\n/ip4/1.2.3.4/tcp/1\n\n{a}\n")).unwrap();
        assert_eq!(read(&path), vec![a]);
    }
}
