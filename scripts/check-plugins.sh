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
say "all green"
