//! Black-box test: the real Kubo RPC client (kubo-rpc-client 7.1.0, pinned in
//! tests/js/package-lock.json) against `pinfold ipfs daemon`.
//!
//! Needs Node.js >= 20 and npm. The JS client is installed into
//! `${PINFOLD_CACHE:-~/.cache/pinfold}/npm/` by scripts/install-test-deps.sh,
//! which this test runs (set `PINFOLD_NODE_MODULES` to skip that). The
//! assertions themselves live in tests/js/kubo-client.test.mjs.
//!
//! ```text
//! cargo test -p pinfold --test all kubo_client::
//! ```

use crate::support;

use std::time::Duration;

/// Whole `node --test` run; each JS test also has its own 120 s timeout.
const NODE_DEADLINE: Duration = Duration::from_secs(600);

#[test]
fn kubo_rpc_client_against_pinfold_ipfs_daemon() {
    let node_version = support::require_node(20);
    let deps = support::install_test_deps();
    let modules = &deps["PINFOLD_NODE_MODULES"];

    let daemon = support::IpfsDaemon::start(&[]);
    println!(
        "pinfold ipfs daemon: API {} repo {} (node {node_version}, modules {modules})",
        daemon.api_url(),
        daemon.repo().display()
    );

    let run = support::run_node_test(
        "tests/js/kubo-client.test.mjs",
        modules,
        &[
            ("PINFOLD_IPFS_API", daemon.api_url()),
            ("PINFOLD_IPFS_REPO", daemon.repo().display().to_string()),
        ],
        NODE_DEADLINE,
    );
    let daemon_output = daemon.stop();
    assert!(
        run.success(),
        "node --test tests/js/kubo-client.test.mjs failed: {}\n\n=== pinfold ipfs daemon ===\n{daemon_output}",
        run.describe()
    );
    println!("{}", run.stdout); // the per-test report, with --nocapture
}
