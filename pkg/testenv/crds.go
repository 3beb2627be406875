package testenv

import (
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/validate"
)

// TalosServiceAccountCRD is validate.TalosServiceAccountCRD.
func TalosServiceAccountCRD() *apiextensionsv1.CustomResourceDefinition {
	return validate.TalosServiceAccountCRD()
}

// ReplayOptions returns the options that replay the Funoffshore tree the
// way a fresh Talos cluster sees it: the CRDs of Longhorn and
// kube-prometheus-stack from the fixture cache, and Talos' own CRD.
func ReplayOptions(t testing.TB) validate.ReplayOptions {
	t.Helper()
	return validate.ReplayOptions{
		ChartCRDs: map[string][]byte{
			"longhorn":              ReadFixture(t, fixtures.LonghornCRDs),
			"kube-prometheus-stack": ReadFixture(t, fixtures.PrometheusCRDs),
		},
		ClusterCRDs: []*apiextensionsv1.CustomResourceDefinition{TalosServiceAccountCRD()},
	}
}
