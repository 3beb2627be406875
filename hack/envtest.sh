#!/usr/bin/env bash
# Builds the kube-apiserver and etcd binaries the tests run (controller-runtime
# envtest) from the pinned module in tools/envtest, into bin/envtest (gitignored).
# Rebuilds only when a binary is missing or tools/envtest/go.sum changed.
# Prints the asset directory; export KUBEBUILDER_ASSETS to it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${ENVTEST_ASSETS_DIR:-$root/bin/envtest}"
stamp="$out/.stamp"
want="$(sha256sum "$root/tools/envtest/go.mod" "$root/tools/envtest/go.sum" | sha256sum | cut -d' ' -f1)"
if [[ -x "$out/kube-apiserver" && -x "$out/etcd" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
cd "$root/tools/envtest"
start=$SECONDS
GOFLAGS=-mod=mod go build -trimpath -o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2
GOFLAGS=-mod=mod go build -trimpath -o "$out/etcd.tmp" ./etcd >&2
mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
mv "$out/etcd.tmp" "$out/etcd"
echo "$want" > "$stamp"
echo "envtest: built kube-apiserver and etcd in $((SECONDS - start))s" >&2
echo "$out"
