#!/usr/bin/env bash
# Builds talhelper (the version pinned in tools/talhelper) into the cache
# ($HOMELAB_CACHE, default ~/.cache/homelab/talhelper) for the test that
# compares talhelper's rendering of talconfig.yaml with the deployer's
# per-node machine configs. Rebuilds only when the pin changes. Cold build:
# about 5 minutes on 2 cores. Prints the binary's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/hack/gobuild.sh"
out="${HOMELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/homelab}/talhelper"
stamp="$out/.stamp"
want="$(cat "$root/tools/talhelper/go.mod" "$root/tools/talhelper/go.sum" | sha256sum | cut -d' ' -f1)"
if [[ -x "$out/talhelper" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$out/talhelper"
  exit 0
fi
mkdir -p "$out"
cd "$root/tools/talhelper"
start=$SECONDS
echo "talhelper: building $(grep -o 'budimanjojo/talhelper/v3 v[0-9.]*' go.mod) into $out (first run: about 5 minutes on 2 cores, measured cold)" >&2
GOFLAGS=-mod=mod gobuild talhelper "$out/talhelper.tmp.$$" github.com/budimanjojo/talhelper/v3 -trimpath
mv "$out/talhelper.tmp.$$" "$out/talhelper"
echo "$want" > "$stamp"
echo "talhelper: built in $((SECONDS - start))s" >&2
echo "$out/talhelper"
