//! Guest plugin fixtures for the black-box plugin tests (`tests/all/plugins_rest.rs`): the
//! components of `tests/plugin_fixtures/` (the same sources `host/src/plugins/tests.rs` uses),
//! built once per test binary with `cargo build --target wasm32-unknown-unknown --release`
//! into `$CARGO_TARGET_DIR/plugin-fixtures` and wrapped into components with `wit-component`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The component bytes of each fixture.
pub struct Fixtures {
    /// An authorizer whose path selects a failure: `/trap`, `/loop`, `/hog`; Basic `admin`
    /// is allowed; a config containing `"deny-all"` denies everything with 403.
    pub authz: Vec<u8>,
    /// A CORS fixture.
    pub cors: Vec<u8>,
}

/// The fixtures, built on first use.
pub fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(build)
}

fn build() -> Fixtures {
    let dir = super::repo_root().join("tests/plugin_fixtures");
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => PathBuf::from(t).join("plugin-fixtures"),
        None => dir.join("target"),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .current_dir(&dir)
        .args([
            "build",
            "--locked",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run cargo to build the plugin fixtures");
    assert!(
        out.status.success(),
        "building tests/plugin_fixtures failed (is the wasm32-unknown-unknown target installed?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm_dir = target_dir.join("wasm32-unknown-unknown/release");
    let component = |name: &str| {
        let module = std::fs::read(wasm_dir.join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("read fixture {name}: {e}"));
        wit_component::ComponentEncoder::default()
            .module(&module)
            .and_then(|e| e.validate(true).encode())
            .unwrap_or_else(|e| panic!("wrap fixture {name} into a component: {e:#}"))
    };
    Fixtures {
        authz: component("fixture_authz"),
        cors: component("fixture_cors"),
    }
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write_component(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}
