package externalsecrets_test

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/externalsecrets"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var vault = externalsecrets.VaultProps{Server: "https://10.0.0.6:8200", Kubernetes: &externalsecrets.KubernetesAuth{Role: "homelab"}}

// lab is the smallest lab the operator runs in: the part on a platform
// with a scraper-less monitoring, the namespaces declared as the
// composition does, an apps chart with a Secret from Vault.
func lab(t *testing.T, v *externalsecrets.VaultProps) (*core.App, *platform.Platform, *externalsecrets.Operator) {
	t.Helper()
	app := core.NewApp(nil)
	root := kube.NewChart(app, "platform", &kube.ChartProps{Dir: "kubernetes/platform"})
	p := platform.New(root, &platform.Props{
		Cluster: platform.Cluster{Nodes: netip.MustParsePrefix("10.0.0.0/24"), Pods: netip.MustParsePrefix("10.244.0.0/16"), NodeCount: 3},
		Parts:   []platform.Part{externalsecrets.Part(&externalsecrets.Props{Vault: v})},
	})
	for _, ns := range append(p.Namespaces(), platform.Namespace{Name: "flux-system"}, platform.Namespace{Name: "apps", PodSecurity: "restricted"}) {
		kube.NewNamespace(root, "ns-"+ns.Name, &kube.NamespaceProps{Name: ns.Name, PodSecurity: ns.PodSecurity})
	}
	p.Build()
	p.Isolate(p.Chart("security"))
	p.Configure(kube.NewChart(app, "platform-config", &kube.ChartProps{Dir: "kubernetes/platform-config"}))
	o, ok := platform.Find[*externalsecrets.Operator](p)
	require.True(t, ok)
	return app, p, o
}

func convert[T any](t *testing.T, o *unstructured.Unstructured) *T {
	t.Helper()
	var v T
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &v))
	return &v
}

// objects returns the tree's objects of kind.
func objects(t *testing.T, app *core.App, kind string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, o := range app.Tree().Objects() {
		if o.Identity().Kind != kind {
			continue
		}
		data, err := json.Marshal(o.(interface{ Typed() kube.Typed }).Typed())
		require.NoError(t, err)
		u := &unstructured.Unstructured{}
		require.NoError(t, json.Unmarshal(data, &u.Object))
		out = append(out, u)
	}
	return out
}

// TestOperatorChart renders the pinned chart with the part's values, as
// helm-controller installs it, and checks what it makes: the CRDs of the
// groups the HelmRelease declares, the webhook on the port the policy
// admits the API server to, the controller's service account (which
// Vault's Kubernetes auth role binds) and metrics Service selecting its
// pods, requests on every container, and every pod admitted by the
// namespace's Pod Security level (Kubernetes' own pod-security-admission
// code).
func TestOperatorChart(t *testing.T) {
	app, p, o := lab(t, &vault)
	require.NoError(t, app.Tree().Validate())
	objs := testenv.RenderRelease(t, o.Release)

	var crdGroups []string
	var webhookPort int32
	var controller *appsv1.Deployment
	var metrics *corev1.Service
	var pods []appsv1.Deployment
	for _, obj := range objs {
		switch obj.GetKind() {
		case "CustomResourceDefinition":
			g, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
			if !slices.Contains(crdGroups, g) {
				crdGroups = append(crdGroups, g)
			}
		case "Deployment":
			d := convert[appsv1.Deployment](t, obj)
			pods = append(pods, *d)
			assert.Equal(t, o.Namespace, d.Namespace)
			for _, ctr := range d.Spec.Template.Spec.Containers {
				assert.NotEmpty(t, ctr.Resources.Requests, "%s/%s has requests", d.Name, ctr.Name)
				for _, port := range ctr.Ports {
					if d.Name == "external-secrets-webhook" && port.Name == "webhook" {
						webhookPort = port.ContainerPort
					}
				}
			}
			if d.Name == "external-secrets" {
				controller = d
			}
		case "Service":
			if obj.GetName() == "external-secrets-metrics" {
				metrics = convert[corev1.Service](t, obj)
			}
		}
	}
	assert.ElementsMatch(t, externalsecrets.CRDGroups, crdGroups, "the chart installs the CRDs of the groups the HelmRelease declares")
	assert.Equal(t, o.WebhookPort, webhookPort, "the webhook listens where the policy admits the API server")
	require.NotNil(t, controller)
	assert.Equal(t, o.ServiceAccount, controller.Spec.Template.Spec.ServiceAccountName, "the store's Kubernetes auth names the controller's service account")
	require.Len(t, pods, 3, "controller, webhook and cert controller")

	// Scraped when the platform has a scraper: without one, no Service.
	assert.Nil(t, metrics, "no scraper, no metrics Service")

	level := p.Namespaces()[0].PodSecurity
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	lv, err := psaapi.ParseLevel(level)
	require.NoError(t, err)
	for _, d := range pods {
		res := policy.AggregateCheckResults(eval.EvaluatePod(psaapi.LevelVersion{Level: lv, Version: psaapi.LatestVersion()}, &d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec))
		assert.True(t, res.Allowed, "%s is refused by Pod Security %q: %s", d.Name, level, res.ForbiddenDetail())
	}

	// The metrics Service, when served, selects the controller's pods on
	// the port the scrape names.
	app2 := core.NewApp(nil)
	root := kube.NewChart(app2, "platform", &kube.ChartProps{Dir: "kubernetes/platform"})
	o2 := externalsecrets.NewOperator(root, "eso", nil, &externalsecrets.Props{Metrics: true})
	for _, obj := range testenv.RenderRelease(t, o2.Release) {
		if obj.GetKind() == "Service" && obj.GetName() == "external-secrets-metrics" {
			metrics = convert[corev1.Service](t, obj)
		}
	}
	require.NotNil(t, metrics)
	assert.True(t, labels.SelectorFromSet(metrics.Spec.Selector).Matches(labels.Set(controller.Spec.Template.Labels)), "the metrics Service selects the controller")
	require.Len(t, metrics.Spec.Ports, 1)
	assert.Equal(t, "metrics", metrics.Spec.Ports[0].Name)
	assert.Equal(t, o.MetricsPort, metrics.Spec.Ports[0].Port)
}

// TestVaultStore: the ClusterSecretStore names the server, the KV v2
// mount and the auth method with the operator's service account; the
// operator's egress admits Vault's address and port and nothing else on
// the network; a Secret from the store renders the ExternalSecret that
// makes it under its own name and keys.
func TestVaultStore(t *testing.T) {
	app, _, o := lab(t, &vault)
	secret.New(kube.NewChart(app, "apps", &kube.ChartProps{Dir: "kubernetes/apps"}), "wiki-db", &secret.Props{Namespace: "apps", Keys: []string{"password", "user"},
		External: &secret.External{Store: "vault", Path: "homelab/wiki", Properties: map[string]string{"user": "username"}}})
	require.NoError(t, app.Tree().Validate())

	stores := objects(t, app, "ClusterSecretStore")
	require.Len(t, stores, 1)
	v, _, _ := unstructured.NestedMap(stores[0].Object, "spec", "provider", "vault")
	assert.Equal(t, "https://10.0.0.6:8200", v["server"])
	assert.Equal(t, "secret", v["path"])
	assert.Equal(t, "v2", v["version"])
	k8s, _, _ := unstructured.NestedMap(v, "auth", "kubernetes")
	assert.Equal(t, "homelab", k8s["role"])
	assert.Equal(t, map[string]any{"name": o.ServiceAccount, "namespace": o.Namespace}, k8s["serviceAccountRef"])

	es := objects(t, app, "ExternalSecret")
	require.Len(t, es, 1)
	assert.Equal(t, "wiki-db", es[0].GetName())
	assert.Equal(t, "apps", es[0].GetNamespace())
	target, _, _ := unstructured.NestedMap(es[0].Object, "spec", "target")
	assert.Equal(t, "wiki-db", target["name"], "the same Secret name, so its readers do not change")
	ref, _, _ := unstructured.NestedMap(es[0].Object, "spec", "secretStoreRef")
	assert.Equal(t, map[string]any{"kind": "ClusterSecretStore", "name": "vault"}, ref)
	data, _, _ := unstructured.NestedSlice(es[0].Object, "spec", "data")
	assert.Equal(t, []any{
		map[string]any{"secretKey": "password", "remoteRef": map[string]any{"key": "homelab/wiki", "property": "password"}},
		map[string]any{"secretKey": "user", "remoteRef": map[string]any{"key": "homelab/wiki", "property": "username"}},
	}, data)
	interval, _, _ := unstructured.NestedString(es[0].Object, "spec", "refreshInterval")
	assert.Equal(t, "1h0m0s", interval)

	var egress []networkingv1.NetworkPolicyEgressRule
	for _, np := range objects(t, app, "NetworkPolicy") {
		if np.GetNamespace() == o.Namespace {
			egress = append(egress, convert[networkingv1.NetworkPolicy](t, np).Spec.Egress...)
		}
	}
	var blocks []string
	for _, r := range egress {
		for _, to := range r.To {
			if to.IPBlock != nil {
				for _, port := range r.Ports {
					blocks = append(blocks, to.IPBlock.CIDR+":"+port.Port.String())
				}
			}
		}
	}
	assert.Contains(t, blocks, "10.0.0.6/32:8200", "the operator reaches Vault")
	for _, b := range blocks {
		assert.False(t, strings.HasPrefix(b, "0.0.0.0/0"), "the operator reaches the internet: %s", b)
	}
}

// The store's AppRole reads its secret ID from a Secret the part
// declares in the SOPS store; the CA comes from a Secret the tree must
// declare.
func TestVaultAppRole(t *testing.T) {
	v := externalsecrets.VaultProps{Store: "bao", Server: "https://bao.lan:8200", Address: netip.MustParseAddr("10.0.0.7"),
		AppRole: &externalsecrets.AppRoleAuth{RoleID: "1c5a1b4e"}, CASecret: &externalsecrets.SecretKey{Namespace: "cert-manager", Name: "homelab-ca", Key: "tls.crt"}}
	app, _, o := lab(t, &v)
	err := app.Tree().Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "secret cert-manager/homelab-ca is referenced but no construct declares it")

	store := objects(t, app, "ClusterSecretStore")[0]
	role, _, _ := unstructured.NestedMap(store.Object, "spec", "provider", "vault", "auth", "appRole")
	assert.Equal(t, map[string]any{"path": "approle", "roleId": "1c5a1b4e", "secretRef": map[string]any{"name": "vault-approle", "namespace": o.Namespace, "key": "secret-id"}}, role)
	ca, _, _ := unstructured.NestedMap(store.Object, "spec", "provider", "vault", "caProvider")
	assert.Equal(t, map[string]any{"type": "Secret", "namespace": "cert-manager", "name": "homelab-ca", "key": "tls.crt"}, ca)
	var declared []string
	for _, d := range core.Secrets.Of(app.Tree()).All() {
		declared = append(declared, d.Namespace+"/"+d.Name+" "+strings.Join(d.Keys, ","))
	}
	assert.Contains(t, declared, o.Namespace+"/vault-approle secret-id")
}
