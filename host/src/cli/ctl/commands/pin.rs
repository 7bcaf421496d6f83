//! `pin add|rm|update|ls`: pins by CID or IPFS path with Go's option handling
//! (`--replication` overriding min/max, `--allocations` that must all decode, `--expire-in`,
//! `--metadata`), then, as Go's `handlePinResponseFormatFlags`, either the pin itself
//! (`--no-status`), the status after `--wait`, or the status one second later.

use std::time::Duration;

use libp2p_identity::PeerId;

use super::{expire_at, parse_metadata};
use crate::cli::ctl::args::{PinCommand, PinWaitArgs};
use crate::cli::ctl::{Ctl, Res, format};
use crate::client::PinTypeFilter;
use crate::types::{Pin, PinMode, PinOptions, TrackerStatus};

impl Ctl<'_, '_> {
    /// Go's `handlePinResponseFormatFlags`.
    async fn after_pin(&mut self, pin: Pin, target: TrackerStatus, w: &PinWaitArgs) -> Res {
        let mut status = None;
        if w.wait {
            let limit = match w.wait_limit {
                Some(l) => l,
                None if target == TrackerStatus::Pinned => {
                    pin.options.replication_factor_min as i64
                }
                None => 0,
            };
            status = self
                .wait_for(&pin.cid, target, w.wait_timeout, limit)
                .await?;
        }
        if w.no_status {
            self.show(&pin, format::pin_text);
            return Ok(());
        }
        let status = match status {
            Some(s) => s,
            None => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                match self.client.status(&pin.cid, false).await {
                    Ok(s) => s,
                    Err(e) => return Err(self.fail(&e)),
                }
            }
        };
        self.show(&status, format::global_pin_info_text);
        Ok(())
    }

    pub(crate) async fn pin(&mut self, pc: PinCommand) -> Res {
        match pc {
            PinCommand::Add(a) => {
                let arg = a.args.first().cloned().unwrap_or_default();
                let (mut rmin, mut rmax) = (a.replication_min, a.replication_max);
                if a.replication != 0 {
                    rmin = a.replication;
                    rmax = a.replication;
                }
                let mut user_allocs = None;
                if !a.allocations.is_empty() {
                    let items: Vec<&str> = a.allocations.split(',').map(str::trim).collect();
                    let peers: Vec<PeerId> = items.iter().filter_map(|s| s.parse().ok()).collect();
                    if peers.len() != items.len() {
                        return Err(self.check_err(
                            "decoding allocations",
                            "some peer IDs could not be decoded",
                            1,
                        ));
                    }
                    user_allocs = Some(peers);
                }
                let expire = expire_at(&a.expire_in)
                    .map_err(|e| self.check_err("parsing expire-in", &e, 1))?;
                let metadata = parse_metadata(&a.metadata)
                    .map_err(|e| self.check_err("parsing metadata", &e, 1))?;
                let opts = PinOptions {
                    replication_factor_min: rmin as i32,
                    replication_factor_max: rmax as i32,
                    name: a.name.clone(),
                    mode: PinMode::from_param(&a.mode),
                    user_allocations: user_allocs,
                    expire_at: expire,
                    metadata: Some(metadata),
                    ..Default::default()
                };
                let pin = match self.client.pin_path(&arg, &opts).await {
                    Ok(p) => p,
                    Err(e) => return Err(self.fail(&e)),
                };
                self.after_pin(pin, TrackerStatus::Pinned, &a.wait).await
            }
            PinCommand::Rm { args, wait } => {
                let arg = args.first().cloned().unwrap_or_default();
                let pin = match self.client.unpin_path(&arg).await {
                    Ok(p) => p,
                    Err(e) => return Err(self.fail(&e)),
                };
                self.after_pin(pin, TrackerStatus::Unpinned, &wait).await
            }
            PinCommand::Update(u) => {
                let from = u.args.first().cloned().unwrap_or_default();
                let to = u.args.get(1).cloned().unwrap_or_default();
                let from = self.parse_cid("parsing from Cid", &from)?;
                let expire = expire_at(&u.expire_in)
                    .map_err(|e| self.check_err("parsing expire-in", &e, 1))?;
                let opts = PinOptions {
                    pin_update: Some(from),
                    name: u.name.clone(),
                    expire_at: expire,
                    ..Default::default()
                };
                let pin = match self.client.pin_path(&to, &opts).await {
                    Ok(p) => p,
                    Err(e) => return Err(self.fail(&e)),
                };
                self.after_pin(pin, TrackerStatus::Pinned, &u.wait).await
            }
            PinCommand::Ls { args, filter } => {
                let arg = args.first().cloned().unwrap_or_default();
                if !arg.is_empty() {
                    let c = self.parse_cid("parsing cid", &arg)?;
                    let r = self.client.allocation(&c).await;
                    self.respond(r, format::pin_text)
                } else {
                    let s = self.client.allocations(PinTypeFilter::parse(&filter)).await;
                    self.stream(s, format::pin_text).await
                }
            }
        }
    }
}
