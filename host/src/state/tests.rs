use super::*;
use crate::types::{PinOptions, PinType, Timestamp};
use sha2::Digest;

/// A distinct CIDv1 (raw) for every `i`.
pub(crate) fn test_cid(i: u64) -> Cid {
    let digest = sha2::Sha256::digest(i.to_be_bytes());
    Cid::new_v1(
        0x55,
        cid::multihash::Multihash::<64>::wrap(0x12, &digest).expect("32 bytes"),
    )
}

/// A data pin of `test_cid(i)` named after `i`.
pub(crate) fn test_pin(i: u64) -> Pin {
    let mut p = Pin::new(
        test_cid(i),
        PinOptions {
            name: format!("pin-{i}"),
            replication_factor_min: -1,
            replication_factor_max: -1,
            ..Default::default()
        },
    );
    p.timestamp = Timestamp::from_unix_seconds(1_700_000_000 + i as i64).unwrap();
    p
}

fn open() -> (tempfile::TempDir, State) {
    let dir = tempfile::tempdir().unwrap();
    let s = State::open(&dir.path().join("pinset.redb")).unwrap();
    (dir, s)
}

fn batch(index: u64, ops: Vec<Op>) -> OpBatch {
    OpBatch {
        index,
        term: 1,
        ops,
    }
}

fn all(s: &State) -> Vec<Pin> {
    s.list().collect::<Result<Vec<_>, _>>().unwrap()
}

#[test]
fn apply_pins_and_unpins_with_applied_index() {
    let (_d, s) = open();
    assert_eq!(s.applied_index().unwrap(), AppliedIndex::default());
    let b = [
        batch(1, vec![Op::Pin(test_pin(1)), Op::Pin(test_pin(2))]),
        batch(2, vec![]),
        batch(3, vec![Op::Unpin(test_cid(1)), Op::Unpin(test_cid(99))]),
    ];
    assert_eq!(s.apply(&b).unwrap().len(), 3);
    assert!(!s.has(&test_cid(1)).unwrap());
    assert_eq!(s.get(&test_cid(2)).unwrap(), Some(test_pin(2)));
    assert_eq!(s.len().unwrap(), 1);
    assert_eq!(
        s.applied_index().unwrap(),
        AppliedIndex { index: 3, term: 1 }
    );

    // replay of the same entries changes nothing
    assert!(s.apply(&b).unwrap().is_empty());
    assert_eq!(s.len().unwrap(), 1);
    // an entry at or below the applied index is skipped even if its content differs
    assert!(
        s.apply(&[batch(2, vec![Op::Pin(test_pin(7))])])
            .unwrap()
            .is_empty()
    );
    assert!(!s.has(&test_cid(7)).unwrap());
    // a batch straddling the applied index applies only the new part
    let b = [
        batch(3, vec![Op::Pin(test_pin(8))]),
        batch(4, vec![Op::Pin(test_pin(9))]),
    ];
    let done = s.apply(&b).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].index, 4);
    assert!(!s.has(&test_cid(8)).unwrap());
    assert!(s.has(&test_cid(9)).unwrap());
    // re-pinning replaces
    let mut p = test_pin(9);
    p.options.name = "renamed".into();
    s.apply(&[batch(5, vec![Op::Pin(p.clone())])]).unwrap();
    assert_eq!(s.get(&test_cid(9)).unwrap(), Some(p));
    assert_eq!(s.len().unwrap(), 2);
}

#[test]
fn reopen_keeps_pins_and_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pinset.redb");
    {
        let s = State::open(&path).unwrap();
        s.apply(&[batch(10, (0..50).map(|i| Op::Pin(test_pin(i))).collect())])
            .unwrap();
    }
    let s = State::open(&path).unwrap();
    assert_eq!(s.len().unwrap(), 50);
    assert_eq!(s.applied_index().unwrap().index, 10);
    assert_eq!(s.get(&test_cid(49)).unwrap(), Some(test_pin(49)));
}

#[test]
fn list_streams_in_pages_across_transactions() {
    let (_d, s) = open();
    s.apply(&[batch(1, (0..100).map(|i| Op::Pin(test_pin(i))).collect())])
        .unwrap();
    let listed = s.list_paged(7).collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(listed.len(), 100);
    let keys: Vec<Vec<u8>> = listed.iter().map(|p| p.cid.to_bytes()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "CID-byte order, no duplicates");
    assert_eq!(all(&s).len(), 100);

    // Pages are separate read transactions: a pin written after the first page, with a key
    // beyond the cursor, shows up; one removed ahead of the cursor does not.
    let mut it = s.list_paged(7);
    let first: Vec<Pin> = (&mut it).take(7).map(Result::unwrap).collect();
    let cursor = first.last().unwrap().cid.to_bytes();
    let (ahead, behind): (Vec<u64>, Vec<u64>) =
        (100..400).partition(|i| test_cid(*i).to_bytes() > cursor);
    let last_key = keys.last().unwrap();
    let removed = listed
        .iter()
        .find(|p| p.cid.to_bytes() > cursor && &p.cid.to_bytes() != last_key)
        .unwrap()
        .cid;
    s.apply(&[batch(
        2,
        vec![
            Op::Pin(test_pin(ahead[0])),
            Op::Pin(test_pin(behind[0])),
            Op::Unpin(removed),
        ],
    )])
    .unwrap();
    let rest: Vec<Pin> = it.map(Result::unwrap).collect();
    assert!(rest.iter().any(|p| p.cid == test_cid(ahead[0])));
    assert!(!rest.iter().any(|p| p.cid == test_cid(behind[0])));
    assert!(!rest.iter().any(|p| p.cid == removed));
    assert_eq!(first.len() + rest.len(), 100);
}

#[test]
fn export_cleanup_import_round_trip() {
    let (_d, s) = open();
    let mut pins: Vec<Op> = (0..300).map(|i| Op::Pin(test_pin(i))).collect();
    if let Op::Pin(p) = &mut pins[3] {
        p.pin_type = PinType::Meta;
        p.options.metadata = Some([("k".to_string(), "v".to_string())].into());
        p.reference = Some(test_cid(1000));
        p.allocations = vec![PeerId::random()];
    }
    s.apply(&[batch(5, pins)]).unwrap();
    let before = all(&s);
    let mut out = Vec::new();
    assert_eq!(s.export(&mut out).unwrap(), 300);
    assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 300);

    s.cleanup().unwrap();
    assert_eq!(s.len().unwrap(), 0);
    assert_eq!(s.applied_index().unwrap(), AppliedIndex::default());

    assert_eq!(
        s.import(out.as_slice(), &ImportOverrides::default())
            .unwrap(),
        300
    );
    assert_eq!(all(&s), before);
    let mut again = Vec::new();
    s.export(&mut again).unwrap();
    assert_eq!(again, out);
}

#[test]
fn go_export_lines_import_and_bad_input_changes_nothing() {
    let (_d, s) = open();
    s.apply(&[batch(1, vec![Op::Pin(test_pin(1))])]).unwrap();
    // a line as Go v1.1.6 writes it (local-time offset), the sharness importState line with
    // most fields missing, and a blank line between
    let go = concat!(
        r#"{"replication_factor_min":-1,"replication_factor_max":-1,"name":"go","mode":"recursive","shard_size":0,"user_allocations":null,"expire_at":"0001-01-01T00:00:00Z","metadata":null,"pin_update":null,"origins":[],"cid":"QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY","type":"pin","allocations":[],"max_depth":-1,"reference":null,"timestamp":"2022-04-12T10:08:29.478925+02:00"}"#,
        "\n\n",
        r#"{"cid":"Qmbr5Yo8KV1VBcHzSgdmrhDH9ASn5RKCoDCWMUkaXYMtNK","name":"","allocations":[],"replication_factor_min":-1,"replication_factor_max":-1}"#,
        "\n"
    );
    // a bad stream (second item broken) leaves the old pinset untouched
    let bad = format!("{}{{\"cid\":\"notacid\"}}\n", go.lines().next().unwrap());
    let err = s
        .import(bad.as_bytes(), &ImportOverrides::default())
        .unwrap_err();
    assert!(
        matches!(err, StateError::BadImport { item: 2, .. }),
        "{err}"
    );
    assert_eq!(all(&s), vec![test_pin(1)]);

    let peer = PeerId::random();
    let o = ImportOverrides {
        replication_factor_min: Some(2),
        replication_factor_max: None,
        allocations: Some(vec![peer]),
    };
    assert_eq!(s.import(go.as_bytes(), &o).unwrap(), 2);
    assert!(!s.has(&test_cid(1)).unwrap(), "import cleans first");
    let p = s
        .get(&Cid::try_from("QmWSgS32xQEcXMeqd3YPJLrNBLSdsfYCep2U7CFkyrjXwY").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(p.options.name, "go");
    assert_eq!(p.max_depth, -1);
    assert_eq!(
        (
            p.options.replication_factor_min,
            p.options.replication_factor_max
        ),
        (2, -1)
    );
    assert_eq!(p.allocations, vec![peer]);
    assert_eq!(
        p.timestamp,
        crate::types::parse_rfc3339("2022-04-12T08:08:29.478925Z").unwrap()
    );
    let p = s
        .get(&Cid::try_from("Qmbr5Yo8KV1VBcHzSgdmrhDH9ASn5RKCoDCWMUkaXYMtNK").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(p.pin_type, PinType::Data);
    assert_eq!(
        s.applied_index().unwrap().index,
        1,
        "import keeps the index"
    );
}

#[test]
fn snapshot_restore_round_trip_and_truncation_refused() {
    let (_d, s) = open();
    s.apply(&[OpBatch {
        index: 42,
        term: 3,
        ops: (0..200).map(|i| Op::Pin(test_pin(i))).collect(),
    }])
    .unwrap();
    let mut snap = Vec::new();
    let h = s.snapshot_to(&mut snap).unwrap();
    assert_eq!((h.index, h.term, h.pins), (42, 3, 200));

    let (_d2, t) = open();
    t.apply(&[batch(1, vec![Op::Pin(test_pin(5000))])]).unwrap();
    // a truncated snapshot is refused and changes nothing
    let cut = &snap[..snap.len() / 2];
    let cut = &cut[..cut.iter().rposition(|b| *b == b'\n').unwrap() + 1];
    assert!(matches!(
        t.restore_from(cut).unwrap_err(),
        StateError::BadSnapshot(_)
    ));
    assert_eq!(all(&t), vec![test_pin(5000)]);

    assert_eq!(t.restore_from(snap.as_slice()).unwrap(), h);
    assert_eq!(all(&t), all(&s));
    assert_eq!(
        t.applied_index().unwrap(),
        AppliedIndex { index: 42, term: 3 }
    );
}

#[test]
fn view_is_a_consistent_snapshot() {
    let (_d, s) = open();
    s.apply(&[batch(1, vec![Op::Pin(test_pin(1))])]).unwrap();
    let v = s.view().unwrap();
    s.apply(&[batch(2, vec![Op::Pin(test_pin(2))])]).unwrap();
    let mut out = Vec::new();
    let h = v.write_snapshot(&mut out).unwrap();
    assert_eq!((h.index, h.pins), (1, 1));
    assert_eq!(s.len().unwrap(), 2);
}
