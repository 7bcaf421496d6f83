//! Released WIT versions are frozen: every file of `wit/pinfold-plugin@<v>/` must match the
//! sha256 recorded in `wit/golden/pinfold-plugin@<v>.sha256`, and no file may be added or
//! removed. A change to the interface is a new version beside the old one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn wit_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn released_wit_versions_are_unchanged() {
    let golden_dir = wit_root().join("golden");
    let mut checked = 0;
    for entry in std::fs::read_dir(&golden_dir).expect("wit/golden exists") {
        let golden = entry.unwrap().path();
        let Some(name) = golden.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(version_dir) = name.strip_suffix(".sha256") else {
            continue;
        };
        let text = std::fs::read_to_string(&golden).unwrap();
        let expected: BTreeMap<String, String> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let (sum, file) = l.split_once("  ").expect("sha256sum format");
                (file.to_string(), sum.to_string())
            })
            .collect();
        let dir = wit_root().join(version_dir);
        let mut actual = BTreeMap::new();
        for f in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = f.unwrap().path();
            let file = p.file_name().unwrap().to_str().unwrap().to_string();
            actual.insert(file, hex(&Sha256::digest(std::fs::read(&p).unwrap())));
        }
        assert_eq!(
            actual, expected,
            "the released WIT package {version_dir} changed: released versions are never \
             edited; add a new version beside it instead"
        );
        checked += 1;
    }
    assert!(checked >= 1, "no golden WIT files found");
}

#[test]
fn version_0_1_0_is_golden() {
    assert!(
        wit_root()
            .join("golden/pinfold-plugin@0.1.0.sha256")
            .is_file()
    );
}
