//! Benchmark: add a large file (1 GiB by default) through `/api/v0/add` of a real
//! `pinfold ipfs daemon`, and hash the same file with `sha256sum` in the same run.
//!
//! Prints, and writes to `$CARGO_TARGET_DIR/bench/add_throughput.json`: both throughputs, their
//! ratio (the figure to compare across runs: this machine is shared and noisy) and the daemon's
//! peak RSS (VmHWM). Run with `cargo bench -p pinfold --bench add_throughput`; set
//! `PINFOLD_BENCH_BYTES` for another size.

#[path = "../../tests/all/support/mod.rs"]
mod support;

use std::io::Write;
use std::time::Instant;

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use sha2::Digest;

fn write_content(path: &std::path::Path, len: u64) {
    let key: [u8; 32] = sha2::Sha256::digest(b"pinfold-bench").into();
    let mut cipher = ChaCha20::new(&key.into(), &[0u8; 12].into());
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        buf[..n].fill(0);
        cipher.apply_keystream(&mut buf[..n]);
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it
    // (and `--list` asks it to list itself): then there is nothing to do
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let len: u64 = std::env::var("PINFOLD_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    let dir = support::temp_dir("pinfold-bench-");
    let file = dir.path().join("content.bin");
    write_content(&file, len);
    let mb = len as f64 / 1e6;

    let t = Instant::now();
    let out = std::process::Command::new("sha256sum")
        .arg(&file)
        .output()
        .expect("sha256sum runs");
    assert!(out.status.success());
    let sha_secs = t.elapsed().as_secs_f64();

    let daemon = support::IpfsDaemon::start(&[]);
    let url = format!("{}/api/v0/add", daemon.api_url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    let answer = rt.block_on(async {
        let f = tokio::fs::File::open(&file).await.unwrap();
        let body =
            reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(f, 1 << 18));
        let part = reqwest::multipart::Part::stream_with_length(body, len).file_name("content.bin");
        let form = reqwest::multipart::Form::new().part("file", part);
        let r = reqwest::Client::new()
            .post(&url)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "add failed: {}", r.status());
        r.text().await.unwrap()
    });
    let add_secs = t.elapsed().as_secs_f64();
    let rss_mib = vm_hwm_kib(daemon.pid()) as f64 / 1024.0;
    let cid = answer.lines().last().unwrap_or("").to_string();
    drop(daemon);

    let ratio = sha_secs / add_secs;
    let report = serde_json::json!({
        "bytes": len,
        "sha256sum_mb_per_s": mb / sha_secs,
        "add_mb_per_s": mb / add_secs,
        "add_vs_sha256sum_throughput_ratio": ratio,
        "daemon_peak_rss_mib": rss_mib,
        "answer": cid,
    });
    println!("add_throughput: {len} bytes");
    println!("  sha256sum      {:8.1} MB/s", mb / sha_secs);
    println!("  /api/v0/add    {:8.1} MB/s", mb / add_secs);
    println!("  ratio add/sha  {ratio:8.2}   (aim >= 0.8)");
    println!("  daemon VmHWM   {rss_mib:8.1} MiB (aim < 64)");
    let out_dir = std::path::PathBuf::from(
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()),
    )
    .join("bench");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(
        out_dir.join("add_throughput.json"),
        serde_json::to_vec_pretty(&report).unwrap(),
    )
    .unwrap();
}
