package testenv

import (
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/funoffshore/homelab/pkg/validate"
)

// TalosServiceAccountCRD is validate.TalosServiceAccountCRD.
func TalosServiceAccountCRD() *apiextensionsv1.CustomResourceDefinition {
	return validate.TalosServiceAccountCRD()
}

// ReplayOptions returns validate.FreshTalosCluster's options; a chart
// CRD file missing from the fixture cache fails the test with the script
// that fetches it.
func ReplayOptions(t testing.TB) validate.ReplayOptions {
	t.Helper()
	opts, missing := validate.FreshTalosCluster()
	for _, rel := range missing {
		Fixture(t, rel)
	}
	return opts
}
