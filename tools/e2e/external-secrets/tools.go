//go:build tools

// Package tools pins the External Secrets Operator's controller, which
// hack/e2e.sh builds.
package tools

import _ "github.com/external-secrets/external-secrets"
