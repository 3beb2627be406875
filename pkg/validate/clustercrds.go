package validate

import (
	"os"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/pkg/fixtures"
)

// TalosServiceAccountCRD is the talos.dev/v1alpha1 ServiceAccount CRD that
// Talos installs on clusters with Kubernetes Talos API access, reduced to
// what the API server needs to accept the project's objects: its spec
// holds the roles.
func TalosServiceAccountCRD() *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "serviceaccounts.talos.dev"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "talos.dev", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "serviceaccounts", Singular: "serviceaccount", Kind: "ServiceAccount", ListKind: "ServiceAccountList", ShortNames: []string{"tsa"}},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1alpha1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
							"roles": {Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &apiextensionsv1.JSONSchemaProps{Type: "string"}}},
						}},
						"status": {Type: "object", XPreserveUnknownFields: ptr.To(true)},
					},
				}},
			}},
		},
	}
}

// FreshTalosCluster returns the options that replay a tree the way a
// fresh Talos cluster sees it: Talos' own CRD, and the CRDs the platform
// charts install (Longhorn, kube-prometheus-stack, cert-manager, external-secrets) read from the fixture
// cache. It also returns the fixtures that are missing, whose charts'
// custom resources would then be refused.
func FreshTalosCluster() (ReplayOptions, []string) {
	opts := ReplayOptions{
		ClusterCRDs: []*apiextensionsv1.CustomResourceDefinition{TalosServiceAccountCRD()},
		ChartCRDs:   map[string][]byte{},
	}
	var missing []string
	for _, c := range []struct{ chart, rel string }{{"longhorn", fixtures.LonghornCRDs}, {"kube-prometheus-stack", fixtures.PrometheusCRDs}, {"cert-manager", fixtures.CertManagerCRDs}, {"external-secrets", fixtures.ExternalSecretsCRDs}} {
		data, err := os.ReadFile(fixtures.Path(c.rel))
		if err != nil {
			missing = append(missing, c.rel)
			continue
		}
		opts.ChartCRDs[c.chart] = data
	}
	return opts, missing
}
