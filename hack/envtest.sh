#!/usr/bin/env bash
# Builds the kube-apiserver and etcd binaries the tests run (controller-runtime
# envtest) from the pinned module in tools/envtest, into a cache directory
# outside the repository ($HOMELAB_CACHE, default ~/.cache/homelab), so every
# clone on the machine shares them. Rebuilds only when a binary is missing or
# tools/envtest/go.mod or go.sum changed. Cold build: about 15 minutes on 2 cores (measured: 906 s).
# Prints the asset directory; export KUBEBUILDER_ASSETS to it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/hack/gobuild.sh"
out="${ENVTEST_ASSETS_DIR:-${HOMELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/homelab}/envtest}"
stamp="$out/.stamp"
# The release the API server reports (/version): Helm charts check it
# against their kubeVersion, and a build from the module has none.
kube_version="$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$root/tools/envtest/go.mod")"
minor="${kube_version#v1.}"; minor="${minor%%.*}"
ldflags="-X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
want="$( (cat "$root/tools/envtest/go.mod" "$root/tools/envtest/go.sum"; echo "$ldflags") | sha256sum | cut -d' ' -f1)"
if [[ -x "$out/kube-apiserver" && -x "$out/etcd" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
cd "$root/tools/envtest"
start=$SECONDS
echo "envtest: building kube-apiserver and etcd into $out (first run: about 15 minutes on 2 cores, measured cold)" >&2
export GOFLAGS=-mod=mod
gobuild "envtest: kube-apiserver" "$out/kube-apiserver.tmp.$$" k8s.io/kubernetes/cmd/kube-apiserver -trimpath -ldflags="$ldflags"
gobuild "envtest: etcd" "$out/etcd.tmp.$$" ./etcd -trimpath
mv "$out/kube-apiserver.tmp.$$" "$out/kube-apiserver"
mv "$out/etcd.tmp.$$" "$out/etcd"
echo "$want" > "$stamp"
echo "envtest: built kube-apiserver and etcd in $((SECONDS - start))s" >&2
echo "$out"
