#!/usr/bin/env bash
# Builds the programs of the end-to-end test's simulated cluster, each from
# the Go module registry at the version pinned in the repository, into a
# cache directory outside the repository ($HOMELAB_CACHE, default
# ~/.cache/homelab/e2e) shared by every clone on the machine:
#   kube-controller-manager, kube-scheduler  tools/e2e/kubernetes (the same Kubernetes
#                                            release as tools/envtest)
#   kwok                                     tools/e2e/kwok
#   source-controller, kustomize-controller,
#   helm-controller                          tools/e2e/<name> (the versions
#                                            gotk-components.yaml installs)
#   prometheus-operator                      tools/e2e/prometheus-operator (the
#                                            version kube-prometheus-stack runs)
#   etcd-recover                             tools/e2e/etcd-recover (etcd's snapshot
#                                            and restore code, at the tests' etcd)
#   external-secrets                         tools/e2e/external-secrets (the External
#                                            Secrets Operator's controller, v0.16.2)
# Each binary is rebuilt only when its module's go.mod or go.sum changed.
# Cold build: about 30 minutes on 2 cores (measured: 1772 s); warm: under a second.
# Prints the directory; export HOMELAB_E2E_BIN to it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/hack/gobuild.sh"
out="${HOMELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/homelab}/e2e"
mkdir -p "$out"

# The release Kubernetes components report (/version, kubelet versions).
kube_version="$(grep -o 'k8s.io/kubernetes v[0-9.]*' "$root/tools/e2e/kubernetes/go.mod" | cut -d' ' -f2)"
[[ -n "$kube_version" ]] || { echo "e2e: no k8s.io/kubernetes version in tools/e2e/kubernetes/go.mod" >&2; exit 1; }
minor="${kube_version#v1.}"; minor="${minor%%.*}"
kube_ldflags="-X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"

# build NAME MODULE-DIR PACKAGE [LDFLAGS]
build() {
  local name="$1" dir="$root/$2" pkg="$3" ldflags="-s -w ${4:-}"
  local want stamp="$out/.$name.stamp"
  want="$( (cat "$dir/go.mod" "$dir/go.sum"; echo "$ldflags") | sha256sum | cut -d' ' -f1)"
  if [[ -x "$out/$name" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  local start=$SECONDS
  echo "e2e: building $name ($pkg) into $out" >&2
  (cd "$dir" && GOFLAGS=-mod=mod gobuild "e2e: $name" "$out/$name.tmp.$$" "$pkg" -trimpath -ldflags="$ldflags")
  mv "$out/$name.tmp.$$" "$out/$name"
  echo "$want" > "$stamp"
  echo "e2e: built $name in $((SECONDS - start))s" >&2
}

build kube-controller-manager tools/e2e/kubernetes k8s.io/kubernetes/cmd/kube-controller-manager "$kube_ldflags"
build kube-scheduler tools/e2e/kubernetes k8s.io/kubernetes/cmd/kube-scheduler "$kube_ldflags"
build kwok tools/e2e/kwok sigs.k8s.io/kwok/cmd/kwok
# kwok's lifecycle stages, from its own release: nodes become Ready and keep
# a lease; pods are created, run their init containers, become Ready, and
# complete when a Job owns them; a deleted pod goes within a second, as one
# whose containers exit on SIGTERM (kwok's own stage waits a random part of
# the grace period, up to 10 minutes for Prometheus, which a drain would
# wait out). Written on every run (cheap), so a change here takes effect.
kwok_dir="$(cd "$root/tools/e2e/kwok" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
  pod/general/pod-create.yaml pod/general/pod-init-container-running.yaml pod/general/pod-init-container-completed.yaml \
  pod/general/pod-ready.yaml pod/general/pod-complete.yaml pod/general/pod-delete.yaml; do
  echo "---"
  if [[ "$f" == pod/general/pod-delete.yaml ]]; then
    sed '/jitterDurationFrom:/,+1d' "$kwok_dir/kustomize/stage/$f"
  else
    cat "$kwok_dir/kustomize/stage/$f"
  fi
done > "$out/kwok.yaml.tmp.$$"
# One stage of our own: a running pod that something marked NotReady (the
# controller manager does when its node's heartbeat is stale, as after the
# restore rehearsal brings back an older etcd) is reported Ready again, as
# a real kubelet's status manager does on its next sync when the probes
# pass; kwok's own stages only make pods Ready once, at their start.
cat >> "$out/kwok.yaml.tmp.$$" <<'STAGE'
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready-again
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Running'
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'In'
      values:
      - 'False'
    - key: '.status.containerStatuses.[].state.running.startedAt'
      operator: 'Exists'
  delay:
    durationMilliseconds: 1000
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastProbeTime: null
        lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Ready
      - lastProbeTime: null
        lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ContainersReady
STAGE
grep -q 'name: pod-delete' "$out/kwok.yaml.tmp.$$" && ! grep -q jitterDurationFrom <(awk '/name: pod-delete/,0' "$out/kwok.yaml.tmp.$$") || {
  echo "e2e: kwok's pod-delete stage changed shape; update hack/e2e.sh" >&2; exit 1; }
mv "$out/kwok.yaml.tmp.$$" "$out/kwok.yaml"
build source-controller tools/e2e/source-controller github.com/fluxcd/source-controller
build kustomize-controller tools/e2e/kustomize-controller github.com/fluxcd/kustomize-controller
build helm-controller tools/e2e/helm-controller github.com/fluxcd/helm-controller
build prometheus-operator tools/e2e/prometheus-operator github.com/prometheus-operator/prometheus-operator/cmd/operator
# The restore code must be the etcd release whose data it restores.
etcd_server="$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2 }' "$root/tools/envtest/go.mod")"
etcd_recover="$(awk '$1 == "go.etcd.io/etcd/etcdutl/v3" { print $2 }' "$root/tools/e2e/etcd-recover/go.mod")"
[[ "$etcd_server" == "$etcd_recover" ]] || {
  echo "e2e: tools/e2e/etcd-recover uses etcdutl $etcd_recover, the tests' etcd is $etcd_server: pin the same release" >&2; exit 1; }
build etcd-recover tools/e2e/etcd-recover github.com/funoffshore/homelab/tools/e2e/etcd-recover
build external-secrets tools/e2e/external-secrets github.com/external-secrets/external-secrets
echo "$out"
