//! `pinfold-bench`: a load generator for a Pinfold (or IPFS Cluster) REST API.
//!
//! ```text
//! pinfold-bench pins --api http://127.0.0.1:9094 --concurrency 64 --count 10000 \
//!     [--basic-auth user:pass] [--json figures.json]
//! pinfold-bench pins --api http://127.0.0.1:9094,http://127.0.0.1:9194 ...   # spread over peers
//! ```
//!
//! `pins` measures the write path: it makes `--count` distinct CIDs locally (CIDv1, raw codec,
//! sha2-256 of random bytes: their blocks exist nowhere, so they never reach `pinned`; only the
//! `POST /pins/<cid>` answer is timed), then sends them over `--concurrency` keep-alive
//! connections (one shared connection pool, one request in flight per worker) and prints the
//! throughput and the latency percentiles. Every answer other than 200 counts as an error;
//! the exit code is 1 when any request failed.
//!
//! The load is bounded (a fixed count, a per-request timeout) and, unless `--allow-remote`,
//! only sent to a loopback address.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cid::Cid;
use clap::{Args, Parser, Subcommand};
use pinfold::ipfs::hash::{HashFn, RAW};
use rand::RngCore;
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(
    name = "pinfold-bench",
    about = "Load generator for the Pinfold / IPFS Cluster REST API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// POST /pins/<cid> with distinct fresh CIDs: throughput and latency of the write path.
    Pins(PinsArgs),
}

#[derive(Debug, Args)]
struct PinsArgs {
    /// REST API base URL. Repeat it (or separate URLs with commas) to spread the load over
    /// several peers: worker `i` sends to URL `i mod n`.
    #[arg(long, default_value = "http://127.0.0.1:9094", value_delimiter = ',')]
    api: Vec<String>,
    /// Requests in flight at once (one keep-alive connection each).
    #[arg(short = 'c', long, default_value_t = 16)]
    concurrency: usize,
    /// Number of pins to send.
    #[arg(short = 'n', long, default_value_t = 1000)]
    count: usize,
    /// `user:pass` for the API's basic authentication.
    #[arg(long = "basic-auth")]
    basic_auth: Option<String>,
    /// Extra query string for every pin, e.g. `replication=1&name=bench`.
    #[arg(long, default_value = "")]
    query: String,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Accept any TLS certificate (self-signed test servers).
    #[arg(long = "no-check-certificate")]
    no_check_certificate: bool,
    /// Allow a non-loopback API address.
    #[arg(long = "allow-remote")]
    allow_remote: bool,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The figures of one run (also the `--json` file).
#[derive(Debug, Serialize)]
struct Report {
    kind: &'static str,
    api: String,
    concurrency: usize,
    count: usize,
    ok: usize,
    errors: usize,
    elapsed_s: f64,
    pins_per_sec: f64,
    latency_ms: Latency,
    first_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Latency {
    p50: f64,
    p90: f64,
    p95: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A CIDv1 (raw, sha2-256) of 32 random bytes.
fn random_cid() -> Cid {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    Cid::new_v1(RAW, HashFn::Sha2_256.digest(&bytes))
}

fn check_target(api: &str, allow_remote: bool) -> anyhow::Result<reqwest::Url> {
    let url = reqwest::Url::parse(api).with_context(|| format!("bad --api URL {api:?}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("--api must be an http:// or https:// URL, not {api:?}");
    }
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback && !allow_remote {
        bail!("{host} is not a loopback address; pass --allow-remote to load a remote API");
    }
    Ok(url)
}

async fn run_pins(args: PinsArgs) -> anyhow::Result<Report> {
    if args.concurrency == 0 || args.count == 0 {
        bail!("--concurrency and --count must be at least 1");
    }
    if args.api.is_empty() {
        bail!("--api needs at least one URL");
    }
    let bases: Vec<String> = args
        .api
        .iter()
        .map(|a| {
            check_target(a, args.allow_remote).map(|u| u.as_str().trim_end_matches('/').to_string())
        })
        .collect::<anyhow::Result<_>>()?;
    let auth = match &args.basic_auth {
        None => None,
        Some(s) => match s.split_once(':') {
            Some((u, p)) => Some((u.to_string(), p.to_string())),
            None => bail!("--basic-auth takes user:pass"),
        },
    };
    let http = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(args.concurrency)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(args.timeout))
        .danger_accept_invalid_certs(args.no_check_certificate)
        .build()
        .context("building the HTTP client")?;
    let with_auth = |rb: reqwest::RequestBuilder| match &auth {
        Some((u, p)) => rb.basic_auth(u, Some(p)),
        None => rb,
    };

    // Every API must answer before the clock starts.
    for base in &bases {
        let id = with_auth(http.get(format!("{base}/id")))
            .send()
            .await
            .with_context(|| format!("GET {base}/id: is the daemon running?"))?;
        if !id.status().is_success() {
            let status = id.status();
            let body = id.text().await.unwrap_or_default();
            bail!("GET {base}/id answered {status}: {body}");
        }
    }

    let query = args.query.trim_start_matches('?');
    // Paths only: worker `w` sends them to `bases[w % bases.len()]`.
    let paths: Arc<Vec<String>> = Arc::new(
        (0..args.count)
            .map(|_| {
                let cid = random_cid();
                if query.is_empty() {
                    format!("/pins/{cid}")
                } else {
                    format!("/pins/{cid}?{query}")
                }
            })
            .collect(),
    );

    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::with_capacity(args.concurrency);
    for w in 0..args.concurrency.min(args.count) {
        let http = http.clone();
        let paths = paths.clone();
        let base = bases[w % bases.len()].clone();
        let next = next.clone();
        let auth = auth.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = paths.get(i) else { break };
                let url = format!("{base}{path}");
                let mut rb = http.post(&url);
                if let Some((u, p)) = &auth {
                    rb = rb.basic_auth(u, Some(p));
                }
                let t0 = Instant::now();
                let outcome = match rb.send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        // read the whole answer so the connection is reused
                        let body = resp.bytes().await;
                        match body {
                            Ok(_) if status == reqwest::StatusCode::OK => Ok(()),
                            Ok(b) => Err(format!(
                                "POST {url}: {status} {}",
                                String::from_utf8_lossy(&b)
                            )),
                            Err(e) => Err(format!("POST {url}: reading the answer: {e}")),
                        }
                    }
                    Err(e) => Err(format!("POST {url}: {e}")),
                };
                let took = t0.elapsed();
                match outcome {
                    Ok(()) => latencies.push(took),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (latencies, errors, first_error)
        }));
    }
    let mut latencies = Vec::with_capacity(args.count);
    let mut errors = 0;
    let mut first_error = None;
    for w in workers {
        let (l, e, f) = w.await.context("a worker panicked")?;
        latencies.extend(l);
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let ok = latencies.len();
    let mean = if ok == 0 {
        Duration::ZERO
    } else {
        latencies.iter().sum::<Duration>() / ok as u32
    };
    Ok(Report {
        kind: "pins",
        api: bases.join(","),
        concurrency: args.concurrency,
        count: args.count,
        ok,
        errors,
        elapsed_s: elapsed.as_secs_f64(),
        pins_per_sec: ok as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
        latency_ms: Latency {
            p50: ms(percentile(&latencies, 50.0)),
            p90: ms(percentile(&latencies, 90.0)),
            p95: ms(percentile(&latencies, 95.0)),
            p99: ms(percentile(&latencies, 99.0)),
            max: ms(latencies.last().copied().unwrap_or_default()),
            mean: ms(mean),
        },
        first_error,
    })
}

fn print_report(r: &Report) {
    println!(
        "pins: {} requests to {} over {} connections: {} ok, {} errors",
        r.count, r.api, r.concurrency, r.ok, r.errors
    );
    println!(
        "elapsed {:.3} s, throughput {:.1} pins/s",
        r.elapsed_s, r.pins_per_sec
    );
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}  mean {:.2}",
        r.latency_ms.p50,
        r.latency_ms.p90,
        r.latency_ms.p95,
        r.latency_ms.p99,
        r.latency_ms.max,
        r.latency_ms.mean
    );
    if let Some(e) = &r.first_error {
        println!("first error: {e}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pinfold-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Command::Pins(args) = cli.command;
    let json = args.json.clone();
    let report = match rt.block_on(run_pins(args)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pinfold-bench: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    print_report(&report);
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).expect("serializable") + "\n";
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("pinfold-bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if report.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 90.0), Duration::from_millis(90));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(100));
        assert_eq!(
            percentile(&[Duration::from_millis(7)], 99.0),
            Duration::from_millis(7)
        );
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn fresh_cids_are_raw_v1_and_distinct() {
        let a = random_cid();
        let b = random_cid();
        assert_ne!(a, b);
        assert_eq!(a.codec(), RAW);
        assert!(a.to_string().starts_with("bafkrei"));
    }

    #[test]
    fn only_loopback_unless_allowed() {
        assert!(check_target("http://127.0.0.1:9094", false).is_ok());
        assert!(check_target("http://localhost:9094", false).is_ok());
        assert!(check_target("http://[::1]:9094", false).is_ok());
        assert!(check_target("http://10.0.0.1:9094", false).is_err());
        assert!(check_target("http://10.0.0.1:9094", true).is_ok());
        assert!(check_target("ftp://127.0.0.1", false).is_err());
    }
}
