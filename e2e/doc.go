// Package e2e reconciles a synthesized homelab with Flux on a simulated
// cluster made of real programs, offline:
//
//   - kube-apiserver and etcd (envtest), kube-controller-manager and
//     kube-scheduler of the same Kubernetes release;
//   - kwok, which plays the kubelet of one fake Node per Talos node of the
//     tree (name, labels, taints and allocatable resolved from the node's
//     machine config by Talos machinery), so pods are scheduled for real
//     and become Ready, and Job pods complete;
//   - Flux's source-controller, kustomize-controller and helm-controller
//     at the versions gotk-components.yaml installs, with the flags it
//     gives them, run as processes next to the API server;
//   - a Git server (git http-backend over loopback) serving commits of the
//     synthesized tree, and a Helm repository serving the pinned chart
//     packages of the fixture cache;
//   - a stand-in for the storage drivers (Longhorn's manager and CSI
//     provisioner, the NFS provisioner), which do not run on fake nodes:
//     it creates Longhorn's StorageClass from the ConfigMap the chart
//     renders, as the Longhorn manager does, and provisions a volume for
//     each claim of a known provisioner.
//
// What the simulation cannot do is said where it is done: admission
// webhooks are off in the API server (their servers are fake pods), and
// the GitRepository and HelmRepository URLs are redirected to the local
// servers by patches the test adds to the flux-system Kustomization at
// bootstrap; the synthesized tree itself is served unchanged.
//
// The programs are built by hack/e2e.sh (make e2e) into a cache shared by
// every clone; the test in this package runs only when HOMELAB_E2E_BIN
// names that directory (make e2e and .ci/run set it).
package e2e
