//! Black-box test: the real IPFS Cluster JS client (@nftstorage/ipfs-cluster 5.0.1, pinned in
//! tests/js/package-lock.json) against a single-peer `pinfold daemon`.
//!
//! Needs Node.js >= 20 and npm. The JS client is installed into
//! `${PINFOLD_CACHE:-~/.cache/pinfold}/npm/` by scripts/install-test-deps.sh, which this test
//! runs (set `PINFOLD_NODE_MODULES` to skip that). The assertions live in
//! tests/js/cluster-client.test.mjs.
//!
//! Assumed daemon behaviour: as cluster_rest.rs (`pinfold init --randomports`,
//! `pinfold daemon` printing `** IPFS Cluster is READY **`, IPFS Cluster's REST API), with
//! `pin_recover_interval` set to 1 h here so that `recover()` is what brings a lost pin back.
//!
//! ```text
//! cargo test -p pinfold --test all cluster_js_client::
//! ```

use crate::support;

use std::time::Duration;

use serde_json::json;
use support::cluster::ClusterPeer;

/// Whole `node --test` run; each JS test also has its own timeout.
const NODE_DEADLINE: Duration = Duration::from_secs(600);

#[test]
fn nftstorage_ipfs_cluster_client_against_pinfold_daemon() {
    let node_version = support::require_node(20);
    let deps = support::install_test_deps();
    let modules = &deps["PINFOLD_NODE_MODULES"];

    let peer = ClusterPeer::start_with(|cfg| {
        cfg["cluster"]["pin_recover_interval"] = json!("1h0m0s");
    });
    println!(
        "pinfold daemon: REST {} peer {} IPFS {} (node {node_version}, modules {modules})",
        peer.rest_url(),
        peer.peer_id(),
        peer.ipfs_api_url(),
    );

    let run = support::run_node_test(
        "tests/js/cluster-client.test.mjs",
        modules,
        &[
            ("PINFOLD_CLUSTER_API", peer.rest_url()),
            ("PINFOLD_CLUSTER_PEER_ID", peer.peer_id().to_string()),
            ("PINFOLD_IPFS_API", peer.ipfs_api_url()),
        ],
        NODE_DEADLINE,
    );
    assert!(
        run.success(),
        "node --test tests/js/cluster-client.test.mjs failed: {}\n\n=== pinfold daemon ===\n{}",
        run.describe(),
        peer.output_tail()
    );
    println!("{}", run.stdout); // the per-test report, with --nocapture
}
