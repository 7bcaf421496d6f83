#!/usr/bin/env bash
# The layer check: fails when a module of the host crate imports one it must not.
# ARCHITECTURE.md explains the rules; this is their executable form. It reads every
# `crate::<module>` path (in `use` lines, grouped `use crate::{…}` and inline paths) of
# each file under host/src/<module>/, comments excluded, and compares the modules named
# with the rules below.
#
#   scripts/check-layers.sh        # exit 1 and one line per violation, or "layers: ok"
set -euo pipefail
cd "$(dirname "$0")/../host/src"

# module: the crate modules it must never import ("*" = every module but itself,
# "types"/"gocompat" excepted where listed after "except").
rules=(
    "types: * except gocompat"
    "gocompat: *"
    "http: * except types gocompat"
    "config: * except types gocompat"
    "state: api cli cluster consensus p2p tracker plugins client ipfs ipfsconn"
    "ipfs: api cli cluster consensus client tracker plugins p2p"
    "ipfsconn: api cli cluster consensus client tracker plugins p2p"
    "plugins: api cli cluster client"
    "p2p: api cli cluster client"
    "consensus: api cli cluster client"
    "tracker: api cli cluster client"
    "allocate: api cli cluster client"
    "client: api cli cluster"
    "cluster: api cli client"
    "api: cli"
)

all_modules=$(for d in */; do echo "${d%/}"; done)

# Prints "file<TAB>module" for every crate module a file of $1 names.
imports_of() {
    find "$1" -name '*.rs' -print0 | xargs -0 perl -ne '
        next if m{^\s*//};
        s{//.*$}{};
        while (/crate::(\w+)/g) { print "$ARGV\t$1\n" }
        if (/crate::\{/) { $grp = 1 }
        if ($grp) {
            my $line = $_;
            $line =~ s/.*crate::\{//;
            while ($line =~ /(?:^|[{,\s])(\w+)(?=::|\s*[,}]|\s*$)/g) { print "$ARGV\t$1\n" }
            $grp = 0 if /\}\s*;/;
        }
    ' | sort -u
}

status=0
for rule in "${rules[@]}"; do
    module="${rule%%:*}"
    spec="${rule#*: }"
    [ -d "$module" ] || continue
    forbidden=""
    if [[ "$spec" == \** ]]; then
        except=" ${spec#*except} "
        for m in $all_modules; do
            [ "$m" = "$module" ] && continue
            [[ "$except" == *" $m "* ]] && continue
            forbidden="$forbidden $m"
        done
    else
        forbidden=" $spec"
    fi
    while IFS=$'\t' read -r file imported; do
        [ -n "$file" ] || continue
        if [[ " $forbidden " == *" $imported "* ]]; then
            echo "layers: $module must not import $imported: host/src/$file"
            status=1
        fi
    done < <(imports_of "$module")
done
[ "$status" = 0 ] && echo "layers: ok"
exit "$status"
