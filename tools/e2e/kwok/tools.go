//go:build tools

// Package tools pins kwok (fake nodes and pods), built by hack/e2e.sh for the end-to-end
// test (e2e/) that reconciles the synthesized tree on a simulated cluster.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
