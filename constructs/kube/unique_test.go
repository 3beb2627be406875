package kube_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
)

// Uniqueness across the whole tree, where the consumer needs it: one
// path per mount in a container (the API server refuses a repeat), one
// backend per host and path of an ingress class (the controller keeps
// one of two).
func TestTreeWideUniqueness(t *testing.T) {
	deployment := func(name string, mounts ...corev1.VolumeMount) *appsv1.Deployment {
		labels := map[string]string{"app": name}
		var vols []corev1.Volume
		for _, m := range mounts {
			vols = append(vols, corev1.Volume{Name: m.Name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		}
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps"}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Volumes:    vols,
				Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27.3", VolumeMounts: mounts}},
			}},
		}}
	}
	ingress := func(name, host string) *networkingv1.Ingress {
		return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps"}, Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("nginx"),
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
			}}}},
		}}
	}
	service := func(name string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	}
	cases := []struct {
		name    string
		objects []any
		want    string
	}{
		{"two mounts at one path", []any{deployment("web", corev1.VolumeMount{Name: "a", MountPath: "/data"}, corev1.VolumeMount{Name: "b", MountPath: "/data/"})},
			`apps/web: Deployment.apps/apps/web: container "app" mounts volumes "a" and "b" at one path /data; mount each volume at its own path`},
		{"mounts at their own paths", []any{deployment("web", corev1.VolumeMount{Name: "a", MountPath: "/data"}, corev1.VolumeMount{Name: "b", MountPath: "/data/cache"})}, ""},
		{"two apps on one host", []any{service("a"), service("b"), ingress("a", "wiki.example.org"), ingress("b", "Wiki.example.org.")},
			`apps/b-ingress: Ingress.networking.k8s.io/apps/b serves host "Wiki.example.org." path "/", which "apps/a-ingress" already serves through IngressClass nginx; give each app its own host (or path)`},
		{"two apps on two hosts", []any{service("a"), service("b"), ingress("a", "wiki.example.org"), ingress("b", "git.example.org")}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := core.NewApp(nil)
			c := kube.NewChart(app, "apps", &kube.ChartProps{Dir: "apps"})
			kube.NewNamespace(c, "ns", &kube.NamespaceProps{Name: "apps", PodSecurity: "baseline"})
			kube.NewObject(c, "nginx-class", &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}, Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}})
			for _, o := range tc.objects {
				switch o := o.(type) {
				case *appsv1.Deployment:
					kube.NewObject(c, o.Name, o)
				case *networkingv1.Ingress:
					kube.NewObject(c, o.Name+"-ingress", o)
				case *corev1.Service:
					kube.NewObject(c, o.Name+"-service", o)
				}
			}
			err := app.Tree().Validate()
			if tc.want == "" {
				if err != nil {
					assert.NotContains(t, err.Error(), "at one path")
					assert.NotContains(t, err.Error(), "already serves")
				}
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// A NetworkPolicy peer names a namespace the tree declares (or one every
// cluster has): a misspelt one matches nothing and cuts the flow
// silently.
func TestPolicyPeerNamespaces(t *testing.T) {
	policy := func(ns string) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "allow", Namespace: "apps"}, Spec: networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}}}}},
		}}
	}
	cases := []struct{ ns, want string }{
		{"apps", ""},
		{"kube-system", ""},
		{"monitorng", `apps/allow: NetworkPolicy.networking.k8s.io/apps/allow has a peer in namespace "monitorng", which the tree does not declare: the rule matches no pod; name a namespace the tree declares (apps, default, kube-node-lease, kube-public, kube-system), or declare "monitorng"`},
	}
	for _, tc := range cases {
		t.Run(tc.ns, func(t *testing.T) {
			app := core.NewApp(nil)
			c := kube.NewChart(app, "apps", &kube.ChartProps{Dir: "apps"})
			kube.NewNamespace(c, "ns", &kube.NamespaceProps{Name: "apps", PodSecurity: "baseline"})
			kube.NewObject(c, "allow", policy(tc.ns))
			err := app.Tree().Validate()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
