#!/usr/bin/env bash
# Everything CI checks for the plugins workspace (plugins/), in one command:
# formatting, clippy (native and wasm32, warnings are errors), every native test (policies,
# SDK, WIT freeze, committed components target their worlds), and that plugins/dist is what a
# rebuild gives (scripts/build-plugins.sh --check).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
manifest="$root/plugins/Cargo.toml"
export CARGO_TARGET_DIR="$root/plugins/target"
say() { printf 'check-plugins: %s\n' "$*" >&2; }

say "cargo fmt --check"
cargo fmt --manifest-path "$manifest" --all --check
say "cargo clippy (native)"
cargo clippy --locked --quiet --manifest-path "$manifest" --workspace --all-targets -- -D warnings
for crate in pinfold-authz-default pinfold-cors-default pinfold-allocator-balanced; do
    say "cargo clippy $crate (wasm32-unknown-unknown)"
    cargo clippy --locked --quiet --manifest-path "$manifest" -p "$crate" \
        --target wasm32-unknown-unknown -- -D warnings
done
say "cargo test"
cargo test --locked --quiet --manifest-path "$manifest" --workspace
"$root/scripts/build-plugins.sh" --check

# The template plugin operators copy (examples/ip-allowlist): a crate of its own, checked the
# same way, and built into a component that must target the authorizer world.
example="$root/examples/ip-allowlist/Cargo.toml"
say "examples/ip-allowlist: fmt, clippy (native and wasm32), tests, component"
cargo fmt --manifest-path "$example" --check
cargo clippy --locked --quiet --manifest-path "$example" --all-targets -- -D warnings
cargo clippy --locked --quiet --manifest-path "$example" --target wasm32-unknown-unknown -- -D warnings
cargo test --locked --quiet --manifest-path "$example"
cargo build --locked --quiet --release --target wasm32-unknown-unknown --manifest-path "$example"
cargo build --locked --quiet --manifest-path "$manifest" -p pinfold-plugin-builder
wrapped="$(mktemp -d "${TMPDIR:-/tmp}/pinfold-example.XXXXXX")"
trap 'rm -rf "$wrapped"' EXIT
"$CARGO_TARGET_DIR/debug/pinfold-plugin-builder" wrap \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/pinfold_example_ip_allowlist.wasm" \
    "$wrapped/ip-allowlist.wasm" --world authorizer
say "all green"
