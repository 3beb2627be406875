//go:build tools

// Package tools pins the Prometheus operator at the version the
// kube-prometheus-stack chart of the tree deploys, built by hack/e2e.sh for
// the end-to-end test (e2e/): it makes the Prometheus and Alertmanager
// StatefulSets, the kubelet Service and the scrape configuration from the
// tree's monitoring objects, as it does on a real cluster.
package tools

import _ "github.com/prometheus-operator/prometheus-operator/cmd/operator"
