//! `ipfs gc`: garbage collection on the IPFS daemons of the cluster's peers (or `--local`).

use crate::cli::ctl::{Ctl, Res, format};

impl Ctl<'_, '_> {
    /// `ipfs gc [--local]`.
    pub(crate) async fn ipfs_gc(&mut self, local: bool) -> Res {
        let r = self.client.repo_gc(local).await;
        self.respond(r, format::repo_gc_text)
    }
}
