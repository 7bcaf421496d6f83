//! `status` and `recover`: one CID (Go prints the zero status along with an error), several
//! CIDs, or every pin filtered by `--filter` (streamed); `recover` without a CID recovers
//! every pin in error.

use crate::cli::ctl::args::{RecoverArgs, StatusArgs};
use crate::cli::ctl::{Ctl, Res, format};
use crate::types::TrackerStatusFilter;

impl Ctl<'_, '_> {
    pub(crate) async fn status(&mut self, s: StatusArgs) -> Res {
        let mut cids = Vec::new();
        for c in &s.cids {
            cids.push(self.parse_cid("parsing cid", c)?);
        }
        match cids.len() {
            1 => match self.client.status(&cids[0], s.local).await {
                Ok(g) => {
                    self.show(&g, format::global_pin_info_text);
                    Ok(())
                }
                Err(e) => {
                    // Go prints the zero GlobalPinInfo it got along with the error.
                    if self.json {
                        self.out(format::ZERO_GLOBAL_PIN_INFO_JSON);
                    } else {
                        self.out(&format::zero_global_pin_info_text());
                    }
                    Err(self.fail(&e))
                }
            },
            0 => {
                let stripped: String = s.filter.chars().filter(|c| *c != ' ').collect();
                if !s.filter.is_empty() && TrackerStatusFilter::parse(&stripped).is_all() {
                    return Err(self.check_err("parsing filter flag", "invalid filter name", 1));
                }
                let st = self.client.status_all(&stripped, &[], s.local).await;
                self.stream(st, format::global_pin_info_text).await
            }
            _ => {
                let st = self.client.status_all("", &cids, s.local).await;
                self.stream(st, format::global_pin_info_text).await
            }
        }
    }

    /// `recover [cid]`: one CID, or every pin in error (streamed).
    pub(crate) async fn recover(&mut self, r: RecoverArgs) -> Res {
        let arg = r.args.first().cloned().unwrap_or_default();
        if arg.is_empty() {
            let s = self.client.recover_all(r.local).await;
            self.stream(s, format::global_pin_info_text).await
        } else {
            let c = self.parse_cid("parsing cid", &arg)?;
            let res = self.client.recover(&c, r.local).await;
            self.respond(res, format::global_pin_info_text)
        }
    }
}
