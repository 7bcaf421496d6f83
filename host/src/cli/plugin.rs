//! `pinfold plugin check FILE`: try a plugin without a daemon. It loads the component the way
//! the daemon will (sha256 of the bytes, no WASI, WIT `pinfold:plugin@0.1.x`, world), runs its
//! `init` with the given configuration, and prints which world it implements, its sha256 and
//! its configuration schema; any refusal is printed with the loader's reason and exits 1.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use crate::plugins::{
    Allocator, Authorizer, Cors, EngineOptions, PluginEngine, PluginError, PluginSource, PluginSpec,
};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Load a plugin as the daemon would, validate its configuration, describe it.
    Check(CheckArgs),
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
