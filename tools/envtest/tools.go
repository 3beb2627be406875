//go:build tools

// Package envtest pins the kube-apiserver and etcd sources that
// hack/envtest.sh builds for the tests.
package envtest

import (
	_ "go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
