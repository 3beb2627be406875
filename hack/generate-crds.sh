#!/usr/bin/env bash
# Regenerates the Flux CRDs embedded by constructs/flux with controller-gen
# from the fluxcd API modules pinned in tools/generate/go.mod (kept equal to
# the main go.mod; a test checks both). Usage: hack/generate-crds.sh [OUTDIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(realpath -m "${1:-$root/constructs/flux/crds}")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$root/tools/generate"
GOFLAGS=-mod=mod go run sigs.k8s.io/controller-tools/cmd/controller-gen crd \
  paths=github.com/fluxcd/source-controller/api/v1 \
  paths=github.com/fluxcd/kustomize-controller/api/v1 \
  paths=github.com/fluxcd/helm-controller/api/v2 \
  paths=github.com/fluxcd/notification-controller/api/v1 \
  paths=github.com/fluxcd/notification-controller/api/v1beta3 \
  output:crd:dir="$tmp"
mkdir -p "$out"
rm -f "$out"/*.yaml
cp "$tmp"/*.yaml "$out"/
