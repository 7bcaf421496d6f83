#!/usr/bin/env bash
# Installs everything Pinfold's black-box tests need, into a cache outside the
# work tree. This is the one place test dependencies get installed.
#
#   scripts/install-test-deps.sh            # install (idempotent), print exports
#   eval "$(scripts/install-test-deps.sh)"  # ...and use them in this shell
#
# Progress goes to stderr; stdout carries only `export NAME=value` lines, so
# callers (tests/all/kubo_client.rs) can parse them.
#
# Cache root: ${PINFOLD_CACHE:-$HOME/.cache/pinfold}
#   npm/kubo-client-<hash>/node_modules   the JS clients the tests drive
#                                          (kubo-rpc-client, @nftstorage/ipfs-cluster)
#                                          and their dependencies, installed with
#                                          `npm ci --ignore-scripts` from
#                                          tests/js/package-lock.json; <hash> covers
#                                          package.json and the lockfile, so a
#                                          lockfile change installs afresh.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${PINFOLD_CACHE:-$HOME/.cache/pinfold}"

say() { printf 'install-test-deps: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"; else shasum -a 256 "$@"; fi
}

# --- JavaScript: the real Kubo RPC and IPFS Cluster clients -----------------
# Every package the tests import; an install missing one of them is redone.
js_packages=(kubo-rpc-client @nftstorage/ipfs-cluster)

install_js_client() {
    local src="$root/tests/js"
    command -v node >/dev/null 2>&1 || die "node is not installed (Node.js >= 20 is required)"
    command -v npm >/dev/null 2>&1 || die "npm is not installed (it comes with Node.js >= 20)"
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 20 ] || die "Node.js >= 20 is required, found $(node --version)"

    local hash dest
    hash="$(cat "$src/package.json" "$src/package-lock.json" | sha256 | cut -c1-16)"
    dest="$cache/npm/kubo-client-$hash"

    local complete=1 pkg
    for pkg in "${js_packages[@]}"; do
        [ -f "$dest/node_modules/$pkg/package.json" ] || complete=0
    done
    if [ -f "$dest/.installed" ] && [ "$complete" = 1 ]; then
        say "${js_packages[*]} already installed in $dest (lockfile hash $hash)"
    else
        mkdir -p "$cache/npm"
        local tmp
        tmp="$(mktemp -d "$cache/npm/.kubo-client-$hash.XXXXXX")"
        # shellcheck disable=SC2064 # expand now: $tmp is local
        trap "rm -rf '$tmp'" EXIT
        cp "$src/package.json" "$src/package-lock.json" "$tmp/"
        say "installing ${js_packages[*]} into $dest: npm ci --ignore-scripts (lockfile hash $hash)"
        (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2) \
            || die "npm ci failed in $tmp"
        printf '%s\n' "$hash" > "$tmp/.installed"
        chmod 755 "$tmp"
        if [ -f "$dest/.installed" ]; then
            # A concurrent run finished first (and may be using it): keep its copy.
            say "another run installed $dest meanwhile; keeping it"
        else
            rm -rf "$dest" # leftovers of an interrupted install, never a complete one
            # GNU `mv -T` refuses to move into an existing directory; elsewhere, plain mv.
            mv -T "$tmp" "$dest" 2>/dev/null || { [ ! -e "$dest" ] && mv "$tmp" "$dest"; } \
                || [ -f "$dest/.installed" ] || die "could not move $tmp to $dest"
        fi
        rm -rf "$tmp"
        trap - EXIT
        for pkg in "${js_packages[@]}"; do
            [ -f "$dest/node_modules/$pkg/package.json" ] \
                || die "npm ci did not install $pkg: is it in tests/js/package.json and the lockfile?"
            say "installed $pkg $(node -p "require('$dest/node_modules/$pkg/package.json').version" 2>/dev/null || echo '?') into $dest"
        done
    fi
    printf 'export PINFOLD_NODE_MODULES=%q\n' "$dest/node_modules"
}

# The wasm target the plugin guests build for (a no-op when present; loud when refused).
install_wasm_target() {
    local target=wasm32-unknown-unknown
    if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
        say "adding the Rust target $target"
        rustup target add "$target" >&2 || die "rustup target add $target failed"
    fi
}

install_wasm_target
install_js_client
