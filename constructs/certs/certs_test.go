package certs_test

import (
	"encoding/json"
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/funoffshore/homelab/constructs/certs"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// lab is the smallest lab cert-manager runs in: three nodes, the part on
// a platform, and the namespaces declared as the composition does.
func lab(t *testing.T) (*core.App, *platform.Platform, *certs.CertManager) {
	t.Helper()
	app := core.NewApp(nil)
	root := kube.NewChart(app, "platform", &kube.ChartProps{Dir: "kubernetes/platform"})
	p := platform.New(root, &platform.Props{
		Cluster: platform.Cluster{Nodes: netip.MustParsePrefix("10.0.0.0/24"), Pods: netip.MustParsePrefix("10.244.0.0/16"), NodeCount: 3},
		Parts:   []platform.Part{certs.CertManagerPart(nil)},
	})
	for _, ns := range append(p.Namespaces(), platform.Namespace{Name: "flux-system"}) {
		kube.NewNamespace(root, ns.Name, &kube.NamespaceProps{Name: ns.Name, PodSecurity: ns.PodSecurity})
	}
	p.Build()
	p.Isolate(p.Chart("security"))
	c, ok := platform.Find[*certs.CertManager](p)
	require.True(t, ok)
	return app, p, c
}

func convert[T any](t *testing.T, o *unstructured.Unstructured) *T {
	t.Helper()
	var v T
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &v))
	return &v
}

// TestCertManagerChart renders the pinned chart with the part's values, as
// helm-controller installs it, and checks what it makes: the CRDs of the
// groups the HelmRelease declares, the webhook on the port the policy
// admits the API server to, the leader election out of kube-system, and
// every pod admitted by the namespace's Pod Security level, judged by
// Kubernetes' own pod-security-admission policy code at the pinned
// release.
func TestCertManagerChart(t *testing.T) {
	app, p, c := lab(t)
	require.NoError(t, app.Tree().Validate())
	objs := testenv.RenderRelease(t, c.Release)

	var crdGroups []string
	var webhookPort int32
	type pod struct {
		name string
		spec corev1.PodTemplateSpec
	}
	var pods []pod
	for _, o := range objs {
		switch o.GetKind() {
		case "CustomResourceDefinition":
			g, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			if !slices.Contains(crdGroups, g) {
				crdGroups = append(crdGroups, g)
			}
		case "Deployment":
			d := convert[appsv1.Deployment](t, o)
			pods = append(pods, pod{d.Name, d.Spec.Template})
			assert.Equal(t, c.Namespace, d.Namespace)
			for _, ctr := range d.Spec.Template.Spec.Containers {
				if d.Name == "cert-manager-webhook" {
					for _, port := range ctr.Ports {
						if port.Name == "https" {
							webhookPort = port.ContainerPort
						}
					}
				}
				if d.Name == "cert-manager" || d.Name == "cert-manager-cainjector" {
					assert.Contains(t, ctr.Args, "--leader-election-namespace="+c.Namespace, "%s elects its leader in its own namespace", d.Name)
				}
				assert.NotEmpty(t, ctr.Resources.Requests, "%s/%s has requests", d.Name, ctr.Name)
			}
		case "Job":
			j := convert[batchv1.Job](t, o)
			pods = append(pods, pod{j.Name, j.Spec.Template})
		}
	}
	assert.ElementsMatch(t, certs.CRDGroups, crdGroups, "the chart installs the CRDs of the groups the HelmRelease declares")
	assert.Equal(t, c.WebhookPort, webhookPort, "the webhook listens where the policy admits the API server")
	require.Len(t, pods, 4, "controller, webhook, cainjector and the startup API check")

	level := p.Namespaces()[0].PodSecurity
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	lv, err := psaapi.ParseLevel(level)
	require.NoError(t, err)
	for _, pd := range pods {
		res := policy.AggregateCheckResults(eval.EvaluatePod(psaapi.LevelVersion{Level: lv, Version: psaapi.LatestVersion()}, &pd.spec.ObjectMeta, &pd.spec.Spec))
		assert.True(t, res.Allowed, "%s is refused by Pod Security %q: %s", pd.name, level, res.ForbiddenDetail())
	}

	var allow *networkingv1.NetworkPolicy
	for _, o := range app.Tree().Objects() {
		if o.Identity().Kind == "NetworkPolicy" && o.Identity().Name == "allow-ingress" && o.Identity().Namespace == c.Namespace {
			data, err := json.Marshal(o.(interface{ Typed() kube.Typed }).Typed())
			require.NoError(t, err)
			allow = &networkingv1.NetworkPolicy{}
			require.NoError(t, json.Unmarshal(data, allow))
		}
	}
	require.NotNil(t, allow, "cert-manager's namespace admits what it serves")
	var admitted []int32
	for _, rule := range allow.Spec.Ingress {
		for _, port := range rule.Ports {
			admitted = append(admitted, port.Port.IntVal)
		}
	}
	assert.Contains(t, admitted, webhookPort, "the API server reaches the webhook")
}
