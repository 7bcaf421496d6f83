//! `health graph|metrics|alerts|bandwidth`: the connectivity graph as Graphviz dot (to stdout
//! or `--file`), the metric names or one metric per peer with its expiry, the alerts, and the
//! bandwidth per protocol.

use std::io::Write;

use crate::cli::ctl::args::HealthCommand;
use crate::cli::ctl::{Ctl, Res, format, graph};
use crate::types::{Alert, Metric, Timestamp};

impl Ctl<'_, '_> {
    pub(crate) async fn health(&mut self, h: HealthCommand) -> Res {
        match h {
            HealthCommand::Graph {
                file,
                all_ipfs_peers,
            } => {
                let g = match self.client.health_graph().await {
                    Ok(g) => g,
                    Err(e) => return Err(self.fail(&e)),
                };
                let dot = graph::make_dot(&g, all_ipfs_peers);
                if file.is_empty() {
                    self.out(&dot);
                } else {
                    let mut f = std::fs::File::create(&file).map_err(|e| {
                        self.check_err("creating output file", &format!("open {file}: {e}"), 1)
                    })?;
                    f.write_all(dot.as_bytes())
                        .map_err(|e| self.check_err("printing graph", &e.to_string(), 1))?;
                }
                Ok(())
            }
            HealthCommand::Metrics { args } => {
                let name = args.first().cloned().unwrap_or_default();
                if name.is_empty() {
                    let r = self.client.metric_names().await;
                    self.respond(r, |v: &Vec<String>| format::strings_text(v))
                } else {
                    let r = self.client.metrics(&name).await;
                    self.respond(r, |v: &Vec<Metric>| {
                        let now = Timestamp::now().unix_nanos();
                        v.iter().map(|m| format::metric_text(m, now)).collect()
                    })
                }
            }
            HealthCommand::Alerts => {
                let r = self.client.alerts().await;
                self.respond(r, |v: &Vec<Alert>| {
                    let now = Timestamp::now().unix_nanos();
                    v.iter().map(|a| format::alert_text(a, now)).collect()
                })
            }
            HealthCommand::Bandwidth => {
                let r = self.client.bandwidth().await;
                self.respond(r, format::bandwidth_text)
            }
        }
    }
}
