#!/usr/bin/env bash
# Builds Pinfold's default WASM plugins into plugins/dist/ (committed; the daemon embeds them).
#
#   scripts/build-plugins.sh           # rebuild plugins/dist/<name>.wasm and SHA256SUMS
#   scripts/build-plugins.sh --check   # rebuild into a temp dir; fail if plugins/dist differs
#
# For each plugin: `cargo build --release --target wasm32-unknown-unknown` in its own cargo
# invocation (the plugins/ workspace, its Cargo.lock, target dir plugins/target), then
# `pinfold-plugin-builder wrap`, which refuses a core module importing anything but
# pinfold:plugin/host@0.1.0, encodes the component with wit-component and checks that it
# targets its world exactly. Zero WASI imports are checked once more on the bytes.
#
# Reproducible: the same rustc and Cargo.lock give identical bytes whatever the checkout path
# or CARGO_HOME (both are remapped out of the binaries). SHA256SUMS records the rustc used;
# a --check with another rustc may differ for that reason alone, and says so.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
plugins="$root/plugins"
manifest="$plugins/Cargo.toml"
target=wasm32-unknown-unknown
# name:world — the crate is pinfold-<name>.
list=(authz-default:authorizer cors-default:cors allocator-balanced:allocator)

say() { printf 'build-plugins: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

mode=build
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (use --check)" ;;
esac

command -v cargo >/dev/null || die "cargo not found"
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    say "installing the $target target"
    rustup target add "$target" || die "rustup target add $target failed"
fi

# The plugins' own target dir, whatever the environment says for the host's build.
export CARGO_TARGET_DIR="$plugins/target"
# Remap CARGO_HOME and the checkout out of panic locations, as written and as resolved (a
# symlinked path may reach rustc either way).
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
remap=""
for prefix in "$cargo_home=/cargo-home" "$(cd "$cargo_home" && pwd -P)=/cargo-home" \
              "$root=/pinfold" "$(cd "$root" && pwd -P)=/pinfold"; do
    remap="$remap --remap-path-prefix=$prefix"
done
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${remap# }"
rustc_version="$(rustc -V)"

if [ "$mode" = check ]; then
    out="$(mktemp -d "${TMPDIR:-/tmp}/pinfold-plugins.XXXXXX")"
    trap 'rm -rf "$out"' EXIT
else
    out="$plugins/dist"
    mkdir -p "$out"
fi

say "building pinfold-plugin-builder"
cargo build --locked --quiet --manifest-path "$manifest" -p pinfold-plugin-builder
builder="$CARGO_TARGET_DIR/debug/pinfold-plugin-builder"

for entry in "${list[@]}"; do
    name="${entry%%:*}"
    world="${entry##*:}"
    crate="pinfold-$name"
    say "building $crate (world $world) with $rustc_version"
    # One cargo invocation per plugin: world features of the SDK never unify.
    cargo build --locked --quiet --release --target "$target" --manifest-path "$manifest" -p "$crate"
    core="$CARGO_TARGET_DIR/$target/release/${crate//-/_}.wasm"
    [ -f "$core" ] || die "$core was not produced"
    "$builder" wrap "$core" "$out/$name.wasm" --world "$world"
    if grep -aq 'wasi:' "$out/$name.wasm"; then
        die "$name.wasm mentions a WASI interface"
    fi
done

sums="$out/SHA256SUMS"
{
    printf '# %s\n' "$rustc_version"
    (cd "$out" && for entry in "${list[@]}"; do sha256sum "${entry%%:*}.wasm"; done)
} > "$sums"

if [ "$mode" = check ]; then
    failed=0
    for entry in "${list[@]}"; do
        name="${entry%%:*}"
        if ! cmp -s "$out/$name.wasm" "$plugins/dist/$name.wasm"; then
            say "plugins/dist/$name.wasm is stale (a rebuild gives other bytes)"
            failed=1
        fi
    done
    if [ "$failed" = 1 ]; then
        committed_rustc="$(head -n1 "$plugins/dist/SHA256SUMS" 2>/dev/null | sed 's/^# //')"
        if [ "$committed_rustc" != "$rustc_version" ]; then
            say "note: the committed files were built with '$committed_rustc', this is '$rustc_version'"
        fi
        die "run scripts/build-plugins.sh and commit plugins/dist"
    fi
    cmp -s "$sums" "$plugins/dist/SHA256SUMS" || die "plugins/dist/SHA256SUMS is stale"
    say "plugins/dist is up to date"
else
    for entry in "${list[@]}"; do
        name="${entry%%:*}"
        say "$(printf '%-26s %8d bytes' "dist/$name.wasm" "$(wc -c < "$out/$name.wasm")")"
    done
fi
