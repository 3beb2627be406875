//go:build tools

// Package tools pins kube-controller-manager and kube-scheduler, of the
// same Kubernetes release as the kube-apiserver in tools/envtest, built by
// hack/e2e.sh for the end-to-end test (e2e/) that reconciles the
// synthesized tree on a simulated cluster.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
