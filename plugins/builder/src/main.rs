//! `pinfold-plugin-builder`: turns a plugin's core wasm module (built for
//! `wasm32-unknown-unknown`) into a component of a `pinfold:plugin` world, and checks
//! components.
//!
//! ```text
//! pinfold-plugin-builder wrap  <core.wasm> <out.wasm> --world <authorizer|cors|allocator>
//! pinfold-plugin-builder check <component.wasm>      --world <authorizer|cors|allocator>
//! ```
//!
//! `wrap` refuses a core module that imports anything but `pinfold:plugin/host@0.1.0` (no
//! WASI, no stray `env` imports), encodes the component with `wit-component` (validated),
//! then runs `check` on it. `check` decodes a component and requires that it targets the
//! world exactly: it imports only `pinfold:plugin/host` (and the type-only
//! `pinfold:plugin/types`), exports exactly the world's interfaces, and conforms to the
//! world's types (`wit_component::targets`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use wit_component::{ComponentEncoder, DecodedWasm};
use wit_parser::{Resolve, WorldId, WorldItem, WorldKey};

/// The WIT package the plugins are built against.
const PACKAGE_DIR: &str = "pinfold-plugin@0.1.0";
const HOST_IMPORT: &str = "pinfold:plugin/host@0.1.0";
const TYPES_IMPORT: &str = "pinfold:plugin/types@0.1.0";

fn wit_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../wit")
        .join(PACKAGE_DIR)
}

/// The released package and the id of `world` in it.
pub fn load_world(world: &str) -> Result<(Resolve, WorldId)> {
    let mut resolve = Resolve::default();
    let (pkg, _) = resolve
        .push_dir(wit_dir())
        .with_context(|| format!("parsing {}", wit_dir().display()))?;
    let id = resolve.select_world(&[pkg], Some(world))?;
    Ok((resolve, id))
}

/// The names a world imports and exports (`pinfold:plugin/host@0.1.0` …), types left out.
fn world_names(resolve: &Resolve, world: WorldId) -> (BTreeSet<String>, BTreeSet<String>) {
    let w = &resolve.worlds[world];
    let names = |items: &mut dyn Iterator<Item = (&WorldKey, &WorldItem)>| -> BTreeSet<String> {
        items
            .filter(|(_, item)| !matches!(item, WorldItem::Type { .. }))
            .map(|(k, _)| resolve.name_world_key(k))
            .collect()
    };
    (names(&mut w.imports.iter()), names(&mut w.exports.iter()))
}

/// Imports of a core module, as `module::name`.
fn core_imports(module: &[u8]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::ImportSection(reader) = payload? {
            for imp in reader.into_imports() {
                let imp = imp?;
                out.push((imp.module.to_string(), imp.name.to_string()));
            }
        }
    }
    Ok(out)
}

fn wrap(core: &Path, out: &Path, world: &str) -> Result<()> {
    let module = std::fs::read(core).with_context(|| format!("reading {}", core.display()))?;
    for (m, n) in core_imports(&module)? {
        if m != HOST_IMPORT {
            bail!(
                "{} imports {m}::{n}: a plugin may import only {HOST_IMPORT} (no WASI, no env)",
                core.display()
            );
        }
    }
    let component = ComponentEncoder::default()
        .module(&module)?
        .validate(true)
        .encode()
        .with_context(|| format!("encoding {} as a component", core.display()))?;
    check_bytes(&component, world)?;
    std::fs::write(out, &component).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// Checks that `component` targets exactly `world` of the released package.
pub fn check_bytes(component: &[u8], world: &str) -> Result<()> {
    let (resolve, world_id) = load_world(world)?;
    let (want_imports, want_exports) = world_names(&resolve, world_id);
    let DecodedWasm::Component(got_resolve, got_world) = wit_component::decode(component)? else {
        bail!("not a component");
    };
    let (got_imports, got_exports) = world_names(&got_resolve, got_world);
    let allowed: BTreeSet<String> = [HOST_IMPORT.to_string(), TYPES_IMPORT.to_string()].into();
    let stray: Vec<_> = got_imports.difference(&allowed).collect();
    if !stray.is_empty() {
        bail!("the component imports {stray:?}; only {HOST_IMPORT} is allowed");
    }
    if !got_imports.is_subset(&want_imports.union(&allowed).cloned().collect()) {
        bail!("imports {got_imports:?} are not those of world {world}: {want_imports:?}");
    }
    if got_exports != want_exports {
        bail!("the component exports {got_exports:?}; world {world} exports {want_exports:?}");
    }
    wit_component::targets(&resolve, world_id, component, false)
        .with_context(|| format!("the component does not conform to world {world}"))?;
    Ok(())
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: pinfold-plugin-builder wrap <core.wasm> <out.wasm> --world <world>\n       \
         pinfold-plugin-builder check <component.wasm> --world <world>"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let world = match args.iter().position(|a| a == "--world") {
        Some(i) if i + 1 < args.len() => args[i + 1].clone(),
        _ => return usage(),
    };
    let pos: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            !a.starts_with("--") && args.get(i.wrapping_sub(1)).is_none_or(|p| p != "--world")
        })
        .map(|(_, a)| a)
        .collect();
    let result = match pos.as_slice() {
        [cmd, core, out] if *cmd == "wrap" => wrap(Path::new(core), Path::new(out), &world),
        [cmd, comp] if *cmd == "check" => std::fs::read(comp)
            .with_context(|| format!("reading {comp}"))
            .and_then(|b| check_bytes(&b, &world)),
        _ => return usage(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pinfold-plugin-builder: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_released_package_parses_and_has_three_worlds() {
        for (world, export) in [
            ("authorizer", "pinfold:plugin/authorization@0.1.0"),
            ("cors", "pinfold:plugin/cross-origin@0.1.0"),
            ("allocator", "pinfold:plugin/placement@0.1.0"),
        ] {
            let (resolve, id) = load_world(world).unwrap();
            let (imports, exports) = world_names(&resolve, id);
            assert!(imports.contains(HOST_IMPORT), "{world}: {imports:?}");
            assert!(
                imports
                    .iter()
                    .all(|i| i == HOST_IMPORT || i == TYPES_IMPORT),
                "{world}: {imports:?}"
            );
            let want: BTreeSet<String> = [
                "pinfold:plugin/lifecycle@0.1.0".to_string(),
                export.to_string(),
            ]
            .into();
            assert_eq!(exports, want, "{world}");
        }
    }

    #[test]
    fn committed_components_target_their_worlds() {
        let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist");
        for (file, world) in [
            ("authz-default.wasm", "authorizer"),
            ("cors-default.wasm", "cors"),
            ("allocator-balanced.wasm", "allocator"),
        ] {
            let bytes = std::fs::read(dist.join(file)).unwrap();
            check_bytes(&bytes, world).unwrap_or_else(|e| panic!("{file}: {e:#}"));
            // and not any other world
            for other in ["authorizer", "cors", "allocator"] {
                if other != world {
                    assert!(
                        check_bytes(&bytes, other).is_err(),
                        "{file} also passes as {other}"
                    );
                }
            }
        }
    }
}
