#!/usr/bin/env bash
# Fills the test fixture cache ($HOMELAB_FIXTURES, default
# ~/.cache/homelab/fixtures): the Proxmox API schema, talhelper's schema,
# the Flux install reference, the chart packages the tree installs, their
# CRDs and a Helm repository index. Each file comes from a local mirror
# ($HOMELAB_FIXTURES_MIRROR, or ../shared/fixtures beside the repository)
# or else from its upstream release or chart repository, is checked against
# its pinned version, and is fetched only once. Prints the cache directory.
# Flags: -offline (mirror and cache only).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && go build -o "$tmp/fixtures" ./hack/fixtures)
"$tmp/fixtures" -root "$root" "$@"
