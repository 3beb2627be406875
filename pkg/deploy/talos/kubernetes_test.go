package talos_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/deploy/talos"
	"github.com/funoffshore/homelab/pkg/testenv"
)

// The Kubernetes versions the cluster reports against the model's
// (1.36.3): the same gives no note, one minor behind a component that did
// not come back on its config (where to look), two minors behind a
// refusal naming the minor to go to first, and a newer one a refusal.
func TestKubernetesDrift(t *testing.T) {
	ctx := context.Background()
	api := testenv.StartAPIServer(t)
	_, h := homelab.NewApp(nil)
	cluster := h.Cluster
	if cluster.KubernetesVersion != "1.36.3" {
		t.Fatalf("the model runs Kubernetes %s; the cases below assume 1.36.3", cluster.KubernetesVersion)
	}
	setKubelet := func(name, v string) {
		t.Helper()
		n := &corev1.Node{}
		n.Name = name
		if err := api.Client.Get(ctx, crclient.ObjectKeyFromObject(n), n); err != nil {
			require.NoError(t, api.Client.Create(ctx, n))
		}
		n.Status.NodeInfo.KubeletVersion = v
		require.NoError(t, api.Client.Status().Update(ctx, n))
	}
	setAPIServer := func(node, v string) {
		t.Helper()
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "kube-apiserver-" + node, Namespace: "kube-system",
			Labels: map[string]string{"k8s-app": "kube-apiserver", "app.kubernetes.io/version": v}},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "kube-apiserver", Image: "registry.k8s.io/kube-apiserver:" + v}}}}
		_ = api.Client.Delete(ctx, p, crclient.GracePeriodSeconds(0))
		require.NoError(t, api.Client.Create(ctx, p))
	}
	drift := func() []string {
		t.Helper()
		notes, err := talos.KubernetesDrift(ctx, api.Client, cluster)
		require.NoError(t, err)
		return notes
	}
	for _, n := range []string{"talos-cp-1", "talos-w-1", "talos-w-2"} {
		setKubelet(n, "v1.36.3")
	}
	setAPIServer("talos-cp-1", "v1.36.3")
	if notes := drift(); len(notes) != 0 {
		t.Errorf("all on the model's version: got %q, want no note", notes)
	}

	setKubelet("talos-w-1", "v1.35.2")
	want := []string{"Kubernetes: kubelet on talos-w-1 reports 1.35.2 although the machine config names the model's 1.36.3: it has not come back on it; see `talosctl -n 192.168.1.111 service kubelet`"}
	if diff := cmp.Diff(want, drift()); diff != "" {
		t.Errorf("one minor behind (-want +got):\n%s", diff)
	}

	setKubelet("talos-w-1", "v1.36.3")
	setAPIServer("talos-cp-1", "v1.34.1")
	want = []string{"Kubernetes: kube-apiserver on talos-cp-1 at 1.34.1, the model 1.36.3: refused, the version-skew policy allows one minor at a time; set the model to the latest 1.35.x release first, deploy, then 1.36.3"}
	if diff := cmp.Diff(want, drift()); diff != "" {
		t.Errorf("two minors behind (-want +got):\n%s", diff)
	}

	setAPIServer("talos-cp-1", "v1.37.0")
	want = []string{"Kubernetes: kube-apiserver on talos-cp-1 at 1.37.0, newer than the model's 1.36.3: Kubernetes does not downgrade; set the model to 1.37.0"}
	if diff := cmp.Diff(want, drift()); diff != "" {
		t.Errorf("newer than the model (-want +got):\n%s", diff)
	}
}
