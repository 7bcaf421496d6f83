//! `id`, `version` and `peers ls|rm`: the contacted peer, its IPFS Cluster version, and the
//! cluster's members.

use libp2p_identity::PeerId;

use crate::cli::ctl::{Ctl, Res, format};

impl Ctl<'_, '_> {
    /// `id`: the contacted peer.
    pub(crate) async fn id(&mut self) -> Res {
        let r = self.client.id().await;
        self.respond(r, format::id_text)
    }

    /// `version`: the peer's IPFS Cluster version.
    pub(crate) async fn version(&mut self) -> Res {
        let r = self.client.version().await;
        self.respond(r, format::version_text)
    }

    /// `peers ls`: every member, streamed.
    pub(crate) async fn peers_ls(&mut self) -> Res {
        let s = self.client.peers().await;
        self.stream(s, format::id_text).await
    }

    /// `peers rm <peer id>`.
    pub(crate) async fn peers_rm(&mut self, args: Vec<String>) -> Res {
        let arg = args.first().cloned().unwrap_or_default();
        let pid: PeerId = arg.parse().map_err(|e: libp2p_identity::ParseError| {
            self.check_err("parsing peer ID", &e.to_string(), 1)
        })?;
        match self.client.peer_rm(&pid).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(&e)),
        }
    }
}
