#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it. Installs what the tests need (pinned versions,
# into a cache folder) and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pinfold-target}"
# the layer rules of ARCHITECTURE.md: a forbidden import fails before anything is built
./scripts/check-layers.sh
./scripts/install-test-deps.sh
cargo test --workspace --all-targets --no-fail-fast
# the plugins workspace (wasm guests): lints, native policy tests, WIT freeze, and that the
# committed components are what a rebuild gives
./scripts/check-plugins.sh
