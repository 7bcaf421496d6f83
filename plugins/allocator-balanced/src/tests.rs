use super::*;

// IPFS Cluster's test peer IDs (test/cids.go).
const P1: &str = "QmXZrtE5jQwXNqCJMfHUTQkvhQ4ZAnqMnmzFMJfLewuabc";
const P2: &str = "QmUZ13osndQ5uL4tPWHXe3iBgBgq9gfewcBMSCAuMBsDJ6";
const P3: &str = "QmPGDFvBkgWhvzEK9qaTWrWurSwqXNmhnK3hgELPdZZNPa";
const P4: &str = "QmZ8naDy5mEz4GLuQwjWt9MPYqHTBbsm8tQBrNSjiq6zBc";
const P5: &str = "QmZVAo3wd8s5eTTy2kPYs34J9PvfxpKPuYsePPYGjgRRjg";
const P6: &str = "QmR8Vu6kZk7JvAN2rWVWgiduHatgBq2bb15Yyq8RRhYSbx";
const P7: &str = "12D3KooWGHTKzeT4KaLGLrbKKyT8zKrBPXAUBRzCAN6ZMDMo4M6M";
const P8: &str = "12D3KooWFBFCDQzAkQSwPZLV883pKdsmb6urQ3sMjfJHUxn5GCVv";
// test.Cid1
const CID1: &str = "QmP63DkAFEnDYNjDYBpyNDfttu1WTJF6sWG8E8jqWgGpB7";

fn m(name: &str, value: &str, weight: i64, peer: &str, partitionable: bool) -> Metric {
    Metric {
        name: name.into(),
        peer: peer.into(),
        value: value.into(),
        weight,
        partitionable,
        valid: true,
        expire: i64::MAX,
    }
}

/// The candidates of IPFS Cluster's `allocator/balanced/balanced_test.go` `TestAllocate`.
fn go_candidates() -> Vec<Metric> {
    vec![
        m("abc", "a", 0, P1, true),
        m("abc", "b", 0, P2, true),
        m("region", "a-us", 0, P1, true),
        m("region", "a-us", 0, P2, true),
        m("region", "b-eu", 0, P3, true),
        m("region", "b-eu", 0, P4, true),
        m("region", "b-eu", 0, P5, true),
        m("region", "c-au", 0, P6, true),
        m("region", "c-au", 0, P7, true),
        m("region", "c-au", 0, P8, true), // no az metric: must not appear
        m("az", "us1", 0, P1, true),
        m("az", "us2", 0, P2, true),
        m("az", "eu1", 0, P3, true),
        m("az", "eu1", 0, P4, true),
        m("az", "eu2", 0, P5, true),
        m("az", "au1", 0, P6, true),
        m("az", "au1", 0, P7, true),
        m("pinqueue", "100", 0, P1, true),
        m("pinqueue", "200", 0, P2, true),
        m("pinqueue", "100", 0, P3, true),
        m("pinqueue", "200", 0, P4, true),
        m("pinqueue", "300", 0, P5, true),
        m("pinqueue", "100", 0, P6, true),
        m("pinqueue", "1000", -1, P7, true),
        m("freespace", "100", 100, P1, false),
        m("freespace", "500", 500, P2, false),
        m("freespace", "200", 200, P3, false),
        m("freespace", "400", 400, P4, false),
        m("freespace", "10", 10, P5, false),
        m("freespace", "50", 50, P6, false),
        m("freespace", "600", 600, P7, false),
        m("freespace", "10000", 10000, P8, false),
    ]
}

fn by(names: &[&str]) -> Balanced {
    Balanced::new(names.iter().map(|s| s.to_string()).collect())
}

#[test]
fn go_test_allocate_fixture() {
    let a = by(&["region", "az", "pinqueue", "freespace"]);
    let peers = a.allocate(CID1, &[], &go_candidates(), &[]).unwrap();
    // c-au/au1 → P6, b-eu/eu1 → P4, a-us/us2 → P2, then P7, P5, P1, then P3.
    assert_eq!(peers, vec![P6, P4, P2, P7, P5, P1, P3]);
}

#[test]
fn go_fixture_order_is_independent_of_input_order_and_cid() {
    let a = by(&["region", "az", "pinqueue", "freespace"]);
    let mut ms = go_candidates();
    ms.reverse();
    for cid in [CID1, "bafyreigh2akiscaildc", "x"] {
        assert_eq!(
            a.allocate(cid, &[], &ms, &[]).unwrap(),
            vec![P6, P4, P2, P7, P5, P1, P3]
        );
    }
}

#[test]
fn defaults_spread_over_groups_then_free_space() {
    let a = Balanced::init("{}").unwrap();
    assert_eq!(
        a.metrics(),
        vec!["tag:group".to_string(), "freespace".to_string()]
    );
    let ms = vec![
        m("tag:group", "a", 0, P1, true),
        m("tag:group", "a", 0, P2, true),
        m("tag:group", "b", 0, P3, true),
        m("tag:group", "b", 0, P4, true),
        m("freespace", "100", 100, P1, false),
        m("freespace", "500", 500, P2, false),
        m("freespace", "300", 300, P3, false),
        m("freespace", "50", 50, P4, false),
    ];
    // group a (600) before group b (350); inside, most free space first
    assert_eq!(
        a.allocate(CID1, &[], &ms, &[]).unwrap(),
        vec![P2, P3, P1, P4]
    );
}

#[test]
fn priority_peers_come_first() {
    let a = by(&["freespace"]);
    let cand = vec![
        m("freespace", "9", 9, P1, false),
        m("freespace", "5", 5, P2, false),
    ];
    let prio = vec![
        m("freespace", "1", 1, P3, false),
        m("freespace", "2", 2, P4, false),
    ];
    let current = vec![m("freespace", "100", 100, P5, false)];
    assert_eq!(
        a.allocate(CID1, &current, &cand, &prio).unwrap(),
        vec![P4, P3, P1, P2]
    );
}

#[test]
fn invalid_and_missing_metrics() {
    let a = by(&["tag:group", "freespace"]);
    let mut bad = m("freespace", "999", 999, P2, false);
    bad.valid = false;
    let ms = vec![
        m("tag:group", "a", 0, P1, true),
        m("tag:group", "a", 0, P2, true),
        m("freespace", "1", 1, P1, false),
        bad,
        m("freespace", "5", 5, P3, false), // no tag
    ];
    assert_eq!(a.allocate(CID1, &[], &ms, &[]).unwrap(), vec![P1]);
    assert!(a.allocate(CID1, &[], &[], &[]).unwrap().is_empty());
}

#[test]
fn ties_are_deterministic_per_cid_and_spread_across_cids() {
    let a = Balanced::init("{}").unwrap();
    let peers = [P1, P2, P3, P4, P5, P6];
    let mut ms = Vec::new();
    for p in peers {
        ms.push(m("tag:group", "same", 0, p, true));
        ms.push(m("freespace", "100", 100, p, false));
    }
    let mut firsts = std::collections::BTreeSet::new();
    for i in 0..32 {
        let cid = format!("cid-{i}");
        let once = a.allocate(&cid, &[], &ms, &[]).unwrap();
        let mut shuffled = ms.clone();
        shuffled.rotate_left(i % ms.len());
        assert_eq!(
            once,
            a.allocate(&cid, &[], &shuffled, &[]).unwrap(),
            "{cid}"
        );
        let mut sorted = once.clone();
        sorted.sort();
        let mut all: Vec<String> = peers.iter().map(|p| p.to_string()).collect();
        all.sort();
        assert_eq!(sorted, all);
        firsts.insert(once[0].clone());
    }
    assert!(
        firsts.len() >= 3,
        "equal peers should share the load: {firsts:?}"
    );
}

#[test]
fn config() {
    assert_eq!(
        Balanced::init("").unwrap().metrics(),
        DEFAULT_ALLOCATE_BY.to_vec()
    );
    assert_eq!(
        Balanced::init(r#"{"allocate_by":[]}"#).unwrap().metrics(),
        DEFAULT_ALLOCATE_BY.to_vec()
    );
    assert_eq!(
        Balanced::init(r#"{"allocate_by":["freespace"]}"#)
            .unwrap()
            .metrics(),
        vec!["freespace".to_string()]
    );
    for bad in [r#"{"allocate_by":[""]}"#, r#"{"allocateby":[]}"#, "[]", "{"] {
        assert!(Balanced::init(bad).is_err(), "{bad}");
    }
    let s: serde_json::Value = serde_json::from_str(&Balanced::config_schema()).unwrap();
    assert_eq!(s["properties"]["allocate_by"]["default"][0], "tag:group");
}
