package homelab_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/funoffshore/homelab/constructs/apps"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/synth"
	"github.com/funoffshore/homelab/synth/synthtest"
)

// TestAllowFromHoldsInTheComposition: an app in the composition's
// isolated apps namespace that admits only its peers is reached by them
// alone, with every NetworkPolicy of the namespace evaluated (the
// composition's namespace-wide ones included) by kube-network-policies'
// engine; the namespace's other apps keep their namespace-wide rules.
func TestAllowFromHoldsInTheComposition(t *testing.T) {
	props := homelab.Funoffshore()
	for _, name := range []string{"gitea", "jellyfin"} {
		props.Apps = append(props.Apps, apps.AppProps{Name: name, Image: "nginx:1.27.3", Port: 8080})
	}
	props.Apps = append(props.Apps, apps.AppProps{Name: "postgres", Image: "postgres:17.2", Port: 5432, ServicePort: 5432, RunAsUser: 999})
	app, h := homelab.NewApp(props)
	h.App("postgres").AllowFrom(h.App("gitea").Peer())
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	policies := synthtest.NetworkPolicies(t, files)
	pod := func(ns, name string) synthtest.Pod {
		return synthtest.Pod{Namespace: ns, Labels: map[string]string{"app.kubernetes.io/name": name}}
	}
	// The pods as the Deployment labels them: postgres' carry the mark.
	pg := pod("apps", "postgres")
	pg.Labels["homelab.funoffshore.com/own-ingress"] = "true"
	for _, c := range []struct {
		name     string
		from, to synthtest.Pod
		port     int32
		want     bool
	}{
		{"the declared peer reaches the database", pod("apps", "gitea"), pg, 5432, true},
		{"another app of the namespace does not", pod("apps", "jellyfin"), pg, 5432, false},
		{"the ingress controller does not (the database is not exposed)", pod("ingress-nginx", "ingress-nginx"), pg, 5432, false},
		{"the other apps keep the namespace's own rules", pod("apps", "jellyfin"), pod("apps", "gitea"), 8080, true},
		{"and the ingress controller's", pod("ingress-nginx", "ingress-nginx"), pod("apps", "jellyfin"), 8080, true},
		{"the database still resolves names", pg, pod("kube-system", "coredns"), 53, true},
	} {
		proto := corev1.ProtocolTCP
		if c.port == 53 {
			proto = corev1.ProtocolUDP
		}
		assert.Equal(t, c.want, policies.Allows(c.from, c.to, c.port, proto), c.name)
	}
}
