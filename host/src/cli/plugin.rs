//! Try a plugin without a daemon.
//!
//! * `pinfold plugin check FILE [--config cfg.json]` loads the component the way the daemon
//!   will (sha256 of the bytes, no WASI, WIT `pinfold:plugin@0.1.x`, world), runs its `init`
//!   with the given configuration, and prints which world it implements, its sha256 and its
//!   configuration schema; any refusal is printed with the loader's reason and exits 1.
//! * `pinfold plugin run FILE --input request.json [--config cfg.json]` loads it the same way
//!   and makes one call with the request in `request.json`, then prints the decision (as JSON),
//!   the time of the call, and the peak linear memory of the plugin's instances, under the
//!   limits the daemon would apply (`--time-budget`, `--memory`). A trap, a time-out or the
//!   memory cap are reported as such, with the fail-safe answer the daemon would use, and exit
//!   2. `--repeat N` makes N calls and also reports the mean of the warm ones.
//!
//! The request file is the WIT record as JSON, with the WIT names in snake case:
//!
//! ```json
//! // authorizer: an authz-request ("authorization" may replace "credentials": the raw header)
//! {"endpoint": "rest", "operation": "pin.add", "method": "POST", "path": "/pins/Qm…",
//!  "query": "", "remote_addr": "203.0.113.7:5000", "tls": false,
//!  "credentials": {"basic": {"user": "alice", "password": "pw"}},
//!  "remote_peer": null, "tenant": null, "headers": []}
//! // cors: a cors-request
//! {"endpoint": "rest", "method": "OPTIONS", "path": "/id", "origin": "https://a.example",
//!  "request_method": "GET", "request_headers": ["content-type"]}
//! // allocator: the arguments of allocate
//! {"cid": "Qm…", "current": [], "candidates": [{"name": "freespace", "peer": "12D3…",
//!  "value": "100", "weight": 100, "partitionable": false, "valid": true, "expire": 0}],
//!  "priority": []}
//! ```
//! Every key but the world's essential ones (`method`/`path`, `cid`) may be omitted.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::plugins::{
    Allocator, Authorizer, BasicCredentials, Cors, CorsRequest, CorsResponse, Credentials,
    Decision, EndpointKind, EngineOptions, Metric, PeerTrust, PluginEngine, PluginError,
    PluginSource, PluginSpec, PluginStats, RemotePeer,
};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Load a plugin as the daemon would, validate its configuration, describe it.
    Check(CheckArgs),
    /// Load a plugin and make one call with a request from a JSON file: prints the decision,
    /// the time and the peak memory.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plugin component (.wasm).
    pub file: PathBuf,
    /// The request (JSON): an authz-request, a cors-request, or allocate's arguments.
    #[arg(long)]
    pub input: PathBuf,
    /// The plugin's configuration (a JSON file), passed to its `init`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The time budget of the call (a Go duration).
    #[arg(long, default_value = "50ms")]
    pub time_budget: String,
    /// The memory cap of the plugin (bytes, or e.g. "16MiB").
    #[arg(long, default_value = "16MiB")]
    pub memory: String,
    /// Calls to make (the first may be slower; the mean of the others is reported too).
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The plugin component (.wasm).
    pub file: PathBuf,
    /// The plugin's configuration (a JSON file), passed to its `init`.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

pub fn run(cmd: PluginCommand) -> anyhow::Result<()> {
    match cmd {
        PluginCommand::Check(args) => check(args),
        PluginCommand::Run(args) => {
            let report = run_plugin(&args)?;
            println!("{}", report.text());
            if report.failed {
                std::process::exit(2);
            }
            Ok(())
        }
    }
}

/// What `plugin run` found.
#[derive(Debug)]
pub struct RunReport {
    pub world: &'static str,
    /// The answer, as JSON (the fail-safe one when the plugin failed).
    pub decision: Value,
    /// The first call.
    pub first_call: Duration,
    /// The mean of the other calls (`--repeat` > 1).
    pub warm_mean: Option<Duration>,
    pub peak_memory_bytes: u64,
    pub memory_cap_bytes: usize,
    /// Why the plugin failed (trap, time-out, out of memory), if it did.
    pub failure: Option<&'static str>,
    pub failed: bool,
}

impl RunReport {
    pub fn text(&self) -> String {
        let mut out = format!(
            "world: {}\ndecision: {}\n",
            self.world,
            serde_json::to_string(&self.decision).unwrap_or_default()
        );
        if let Some(f) = self.failure {
            out.push_str(&format!(
                "plugin failed: {f} (the decision above is the daemon's fail-safe answer)\n"
            ));
        }
        out.push_str(&format!(
            "time: {:.1} µs",
            self.first_call.as_secs_f64() * 1e6
        ));
        if let Some(m) = self.warm_mean {
            out.push_str(&format!(
                " (first call); {:.1} µs mean of the warm calls",
                m.as_secs_f64() * 1e6
            ));
        }
        out.push_str(&format!(
            "\npeak memory: {} bytes ({:.2} MiB of a {:.0} MiB cap)",
            self.peak_memory_bytes,
            self.peak_memory_bytes as f64 / 1048576.0,
            self.memory_cap_bytes as f64 / 1048576.0
        ));
        out
    }
}

fn failure_of(s: &PluginStats) -> Option<&'static str> {
    if s.timeouts > 0 {
        Some("time-out")
    } else if s.out_of_memory > 0 {
        Some("out of memory")
    } else if s.traps > 0 {
        Some("trap")
    } else if s.failsafe > 0 {
        Some("plugin error")
    } else {
        None
    }
}

/// Loads `args.file` and calls it with `args.input` (see the module docs).
pub fn run_plugin(args: &RunArgs) -> anyhow::Result<RunReport> {
    run_plugin_with(&PluginEngine::new(&EngineOptions::default())?, args)
}

/// [`run_plugin`] on a given engine.
pub fn run_plugin_with(engine: &PluginEngine, args: &RunArgs) -> anyhow::Result<RunReport> {
    let mut spec = PluginSpec::new("run", PluginSource::File(args.file.clone()));
    if let Some(cfg) = &args.config {
        spec.config_json = std::fs::read_to_string(cfg)
            .with_context(|| format!("cannot read {}", cfg.display()))?;
    }
    spec.limits.time_budget = crate::gocompat::duration::parse(&args.time_budget)
        .map_err(|e| anyhow::anyhow!("--time-budget: {e}"))?;
    spec.limits.memory_bytes = usize::try_from(
        crate::config::StorageSize::parse(&args.memory)
            .map_err(|e| anyhow::anyhow!("--memory: {e}"))?
            .bytes(),
    )?;
    spec.limits.trip_after = u32::MAX;
    let input: Value = serde_json::from_str(
        &std::fs::read_to_string(&args.input)
            .with_context(|| format!("cannot read {}", args.input.display()))?,
    )
    .with_context(|| format!("{}: not JSON", args.input.display()))?;
    let repeat = args.repeat.max(1);
    let cap = spec.limits.memory_bytes;

    fn timed<T>(repeat: u32, mut f: impl FnMut() -> T) -> (T, Duration, Option<Duration>) {
        let start = Instant::now();
        let first = f();
        let first_call = start.elapsed();
        let mut warm = Duration::ZERO;
        for _ in 1..repeat {
            let s = Instant::now();
            let _ = f();
            warm += s.elapsed();
        }
        let mean = (repeat > 1).then(|| warm / (repeat - 1));
        (first, first_call, mean)
    }
    macro_rules! report {
        ($world:literal, $plugin:expr, $decision:expr, $first:expr, $mean:expr) => {{
            let stats = $plugin.stats();
            let failure = failure_of(&stats);
            Ok(RunReport {
                world: $world,
                decision: $decision,
                first_call: $first,
                warm_mean: $mean,
                peak_memory_bytes: stats.peak_memory_bytes,
                memory_cap_bytes: cap,
                failure,
                failed: failure.is_some(),
            })
        }};
    }
    let wrong_world = |e: &PluginError| matches!(e, PluginError::WorldMismatch { .. });
    match Authorizer::load(engine, &spec) {
        Ok(p) => {
            let req = authz_request(&input)?;
            let (d, first, mean) = timed(repeat, || p.authorize(&req));
            return report!("authorizer", p, decision_json(&d), first, mean);
        }
        Err(e) if wrong_world(&e) => {}
        Err(e) => bail!("{}: refused: {e}", args.file.display()),
    }
    match Cors::load(engine, &spec) {
        Ok(p) => {
            let req = cors_request(&input)?;
            let (c, first, mean) = timed(repeat, || p.decide(&req));
            return report!("cors", p, cors_json(&c), first, mean);
        }
        Err(e) if wrong_world(&e) => {}
        Err(e) => bail!("{}: refused: {e}", args.file.display()),
    }
    match Allocator::load(engine, &spec) {
        Ok(p) => {
            let a: AllocInput = serde_json::from_value(input).context("allocate arguments")?;
            let conv = |v: &[JsonMetric]| v.iter().map(JsonMetric::to_wit).collect::<Vec<_>>();
            let (current, candidates, priority) =
                (conv(&a.current), conv(&a.candidates), conv(&a.priority));
            let (peers, first, mean) = timed(repeat, || {
                p.allocate(&a.cid, &current, &candidates, &priority, &[])
            });
            report!("allocator", p, json!({ "peers": peers }), first, mean)
        }
        Err(e) if wrong_world(&e) => bail!(
            "{}: implements none of the worlds authorizer, cors, allocator",
            args.file.display()
        ),
        Err(e) => bail!("{}: refused: {e}", args.file.display()),
    }
}

fn endpoint(v: &Value) -> anyhow::Result<EndpointKind> {
    Ok(
        match v.get("endpoint").and_then(Value::as_str).unwrap_or("rest") {
            "rest" => EndpointKind::Rest,
            "pinning-service" | "pinning_service" => EndpointKind::PinningService,
            "ipfs-proxy" | "ipfs_proxy" => EndpointKind::IpfsProxy,
            "libp2p-api" | "libp2p_api" => EndpointKind::Libp2pApi,
            "cluster-rpc" | "cluster_rpc" => EndpointKind::ClusterRpc,
            other => bail!("endpoint: unknown kind {other:?}"),
        },
    )
}

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

fn opt_text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

fn authz_request(v: &Value) -> anyhow::Result<crate::plugins::AuthzRequest> {
    let credentials = if let Some(raw) = v.get("authorization").and_then(Value::as_str) {
        crate::api::rest::access::parse_credentials(raw)
    } else {
        match v.get("credentials") {
            None | Some(Value::Null) => Credentials::None,
            Some(Value::String(s)) if s == "none" => Credentials::None,
            Some(c) => {
                if let Some(b) = c.get("basic") {
                    Credentials::Basic(BasicCredentials {
                        user: text(b, "user"),
                        password: text(b, "password"),
                    })
                } else if let Some(t) = c.get("bearer").and_then(Value::as_str) {
                    Credentials::Bearer(t.to_string())
                } else if let Some(t) = c.get("other").and_then(Value::as_str) {
                    Credentials::Other(t.to_string())
                } else {
                    bail!(
                        "credentials: expected \"none\", {{\"basic\": {{\"user\", \"password\"}}}}, {{\"bearer\": …}} or {{\"other\": …}}"
                    )
                }
            }
        }
    };
    let remote_peer = match v.get("remote_peer") {
        None | Some(Value::Null) => None,
        Some(p) => Some(RemotePeer {
            id: text(p, "id"),
            trust: match p
                .get("trust")
                .and_then(Value::as_str)
                .unwrap_or("untrusted")
            {
                "local" => PeerTrust::Local,
                "trusted" => PeerTrust::Trusted,
                "untrusted" => PeerTrust::Untrusted,
                other => bail!("remote_peer.trust: unknown {other:?}"),
            },
        }),
    };
    let headers = match v.get("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(h) => serde_json::from_value::<Vec<(String, String)>>(h.clone())
            .context("headers: expected [[name, value], …]")?,
    };
    Ok(crate::plugins::AuthzRequest {
        endpoint: endpoint(v)?,
        operation: text(v, "operation"),
        method: text(v, "method"),
        path: text(v, "path"),
        query: text(v, "query"),
        remote_addr: opt_text(v, "remote_addr"),
        tls: v.get("tls").and_then(Value::as_bool).unwrap_or(false),
        credentials,
        remote_peer,
        tenant: opt_text(v, "tenant"),
        headers,
    })
}

fn cors_request(v: &Value) -> anyhow::Result<CorsRequest> {
    let request_headers = match v.get("request_headers") {
        None | Some(Value::Null) => None,
        Some(h) => Some(
            serde_json::from_value::<Vec<String>>(h.clone())
                .context("request_headers: expected a list of strings")?,
        ),
    };
    Ok(CorsRequest {
        endpoint: endpoint(v)?,
        method: text(v, "method"),
        path: text(v, "path"),
        origin: opt_text(v, "origin"),
        request_method: opt_text(v, "request_method"),
        request_headers,
        request_private_network: opt_text(v, "request_private_network"),
    })
}

fn decision_json(d: &Decision) -> Value {
    match d {
        Decision::Allow(g) => json!({"allow": {"principal": g.principal, "tenant": g.tenant}}),
        Decision::Deny(d) => json!({"deny": {"status": d.status, "reason": d.reason}}),
        Decision::Challenge(c) => {
            json!({"challenge": {"www_authenticate": c.www_authenticate, "reason": c.reason}})
        }
    }
}

fn cors_json(c: &CorsResponse) -> Value {
    json!({
        "preflight": c.preflight,
        "vary": c.vary,
        "allow_origin": c.allow_origin,
        "allow_methods": c.allow_methods,
        "allow_headers": c.allow_headers,
        "allow_credentials": c.allow_credentials,
        "allow_private_network": c.allow_private_network,
        "expose_headers": c.expose_headers,
        "max_age_seconds": c.max_age_seconds,
    })
}

#[derive(Deserialize)]
struct AllocInput {
    cid: String,
    #[serde(default)]
    current: Vec<JsonMetric>,
    #[serde(default)]
    candidates: Vec<JsonMetric>,
    #[serde(default)]
    priority: Vec<JsonMetric>,
}

#[derive(Deserialize)]
struct JsonMetric {
    name: String,
    peer: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    weight: i64,
    #[serde(default)]
    partitionable: bool,
    #[serde(default = "yes")]
    valid: bool,
    #[serde(default)]
    expire: i64,
}

fn yes() -> bool {
    true
}

impl JsonMetric {
    fn to_wit(&self) -> Metric {
        Metric {
            name: self.name.clone(),
            peer: self.peer.clone(),
            value: self.value.clone(),
            weight: self.weight,
            partitionable: self.partitionable,
            valid: self.valid,
            expire: self.expire,
        }
    }
}

fn check(args: CheckArgs) -> anyhow::Result<()> {
    let engine = PluginEngine::new(&EngineOptions::default())?;
    let mut spec = PluginSpec::new("check", PluginSource::File(args.file.clone()));
    if let Some(cfg) = &args.config {
        spec.config_json = std::fs::read_to_string(cfg)
            .with_context(|| format!("cannot read {}", cfg.display()))?;
    }
    // the world is whichever loads; a failure other than "wrong world" is the answer
    let mut tried = Vec::new();
    macro_rules! attempt {
        ($ty:ident, $world:literal) => {
            match $ty::load(&engine, &spec) {
                Ok(p) => {
                    println!(
                        "{}: world {} (pinfold:plugin@0.1.x)",
                        args.file.display(),
                        $world
                    );
                    println!("sha256 {}", p.sha256());
                    println!("init: configuration accepted");
                    if let Some(schema) = p.config_schema() {
                        println!("config schema: {schema}");
                    }
                    return Ok(());
                }
                Err(e @ PluginError::WorldMismatch { .. }) => {
                    tried.push(format!("{}: {e}", $world))
                }
                Err(e) => bail!("{}: refused: {e}", args.file.display()),
            }
        };
    }
    attempt!(Authorizer, "authorizer");
    attempt!(Cors, "cors");
    attempt!(Allocator, "allocator");
    bail!(
        "{}: implements none of the worlds authorizer, cors, allocator:\n  {}",
        args.file.display(),
        tried.join("\n  ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../plugins/dist")
            .join(name)
    }

    fn run_args(file: &str, input: Value, config: Option<Value>) -> (RunArgs, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let input_path = dir.path().join("request.json");
        std::fs::write(&input_path, input.to_string()).unwrap();
        let config = config.map(|c| {
            let p = dir.path().join("config.json");
            std::fs::write(&p, c.to_string()).unwrap();
            p
        });
        (
            RunArgs {
                file: dist(file),
                input: input_path,
                config,
                time_budget: "2s".into(),
                memory: "16MiB".into(),
                repeat: 3,
            },
            dir,
        )
    }

    fn run_plugin(args: &RunArgs) -> anyhow::Result<RunReport> {
        run_plugin_with(&crate::plugins::shared_engine().unwrap(), args)
    }

    #[test]
    fn run_prints_decisions_time_and_memory() {
        let digest = {
            use sha2::Digest;
            let d = sha2::Sha256::digest(b"pw");
            d.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let cfg = json!({"basic_auth_credentials": {"alice": format!("sha256:{digest}")}});
        let (args, _d) = run_args(
            "authz-default.wasm",
            json!({"method": "GET", "path": "/id", "credentials": {"basic": {"user": "alice", "password": "pw"}}}),
            Some(cfg.clone()),
        );
        let r = run_plugin(&args).unwrap();
        assert_eq!(r.world, "authorizer");
        assert_eq!(
            r.decision,
            json!({"allow": {"principal": "alice", "tenant": null}})
        );
        assert!(r.peak_memory_bytes > 0 && r.warm_mean.is_some() && !r.failed);
        let text = r.text();
        assert!(
            text.contains("time: ") && text.contains("peak memory: "),
            "{text}"
        );
        // the raw header form, and a refusal
        let (args, _d) = run_args(
            "authz-default.wasm",
            json!({"method": "GET", "path": "/id", "authorization": "Bearer nope"}),
            Some(cfg),
        );
        let r = run_plugin(&args).unwrap();
        assert_eq!(
            r.decision["challenge"]["reason"],
            "unauthorized: invalid token"
        );
        // cors
        let (args, _d) = run_args(
            "cors-default.wasm",
            json!({"method": "OPTIONS", "path": "/id", "origin": "https://a.example", "request_method": "GET"}),
            None,
        );
        let r = run_plugin(&args).unwrap();
        assert_eq!(r.world, "cors");
        assert_eq!(r.decision["preflight"], true);
        assert_eq!(r.decision["allow_origin"], "*");
        // allocator
        let (args, _d) = run_args(
            "allocator-balanced.wasm",
            json!({"cid": "QmX", "candidates": [
                {"name": "freespace", "peer": "p1", "value": "10", "weight": 10},
                {"name": "freespace", "peer": "p2", "value": "20", "weight": 20}]}),
            Some(json!({"allocate_by": ["freespace"]})),
        );
        let r = run_plugin(&args).unwrap();
        assert_eq!(r.world, "allocator");
        assert_eq!(r.decision, json!({"peers": ["p2", "p1"]}));
        // bad input names the problem
        let (args, _d) = run_args(
            "authz-default.wasm",
            json!({"credentials": {"kerberos": 1}}),
            None,
        );
        assert!(
            run_plugin(&args)
                .unwrap_err()
                .to_string()
                .contains("credentials")
        );
    }

    #[test]
    fn check_accepts_the_default_plugins_and_refuses_bad_input() {
        for f in [
            "authz-default.wasm",
            "cors-default.wasm",
            "allocator-balanced.wasm",
        ] {
            check(CheckArgs {
                file: dist(f),
                config: None,
            })
            .unwrap_or_else(|e| panic!("{f}: {e:#}"));
        }
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"basic_auth_credentials": 5}"#).unwrap();
        let err = check(CheckArgs {
            file: dist("authz-default.wasm"),
            config: Some(bad),
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("init rejected the configuration"),
            "{err:#}"
        );
        let not_wasm = dir.path().join("x.wasm");
        std::fs::write(&not_wasm, b"not wasm").unwrap();
        assert!(
            check(CheckArgs {
                file: not_wasm,
                config: None
            })
            .is_err()
        );
    }
}
