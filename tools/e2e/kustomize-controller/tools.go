//go:build tools

// Package tools pins Flux's kustomize-controller, built by hack/e2e.sh for the end-to-end
// test (e2e/) that reconciles the synthesized tree on a simulated cluster.
package tools

import _ "github.com/fluxcd/kustomize-controller"
