package drain_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/pkg/deploy/drain"
	"github.com/funoffshore/homelab/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func pod(name, node string, labels map[string]string, owner string, mirror bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if owner != "" {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: owner, Name: "x", UID: types.UID("u-" + name), Controller: ptr.To(true)}}
	}
	if mirror {
		p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
	}
	return p
}

// kubelet finishes the deletion of terminating pods, as a kubelet does
// once their containers stopped.
func kubelet(ctx context.Context, c client.Client) {
	for ctx.Err() == nil {
		var pods corev1.PodList
		if c.List(ctx, &pods) == nil {
			for _, p := range pods.Items {
				if p.DeletionTimestamp != nil {
					_ = c.Delete(ctx, &p, client.GracePeriodSeconds(0))
				}
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestDrain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	api := testenv.StartAPIServer(t)
	c := api.Client
	go kubelet(ctx, c)
	for _, n := range []string{"w-1", "w-2"} {
		require.NoError(t, c.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}))
	}
	for _, p := range []*corev1.Pod{
		pod("app", "w-1", map[string]string{"app": "web"}, "ReplicaSet", false),
		pod("agent", "w-1", nil, "DaemonSet", false),
		pod("static", "w-1", nil, "", true),
		pod("db", "w-2", map[string]string{"app": "db"}, "StatefulSet", false),
	} {
		require.NoError(t, c.Create(ctx, p))
	}

	t.Run("evicts the workload, keeps DaemonSet and mirror pods, cordons", func(t *testing.T) {
		require.NoError(t, drain.Drain(ctx, c, "w-1", drain.Options{Timeout: 20 * time.Second, Interval: 100 * time.Millisecond}))
		var pods corev1.PodList
		require.NoError(t, c.List(ctx, &pods, client.InNamespace("default")))
		var left []string
		for _, p := range pods.Items {
			if p.Spec.NodeName == "w-1" {
				left = append(left, p.Name)
			}
		}
		if strings.Join(left, ",") != "agent,static" {
			t.Errorf("pods left on w-1: %v, want agent and static", left)
		}
		n := &corev1.Node{}
		if err := c.Get(ctx, client.ObjectKey{Name: "w-1"}, n); err != nil || !n.Spec.Unschedulable {
			t.Errorf("w-1 not cordoned (err %v)", err)
		}
		require.NoError(t, drain.Uncordon(ctx, c, "w-1"))
		if err := c.Get(ctx, client.ObjectKey{Name: "w-1"}, n); err != nil || n.Spec.Unschedulable {
			t.Errorf("w-1 still cordoned (err %v)", err)
		}
	})

	t.Run("a PodDisruptionBudget that allows nothing stops the drain, naming the pod", func(t *testing.T) {
		pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}}
		require.NoError(t, c.Create(ctx, pdb))
		// A budget protects running pods (a pending one is evicted anyway).
		db := &corev1.Pod{}
		require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "db"}, db))
		db.Status.Phase = corev1.PodRunning
		db.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		require.NoError(t, c.Status().Update(ctx, db))
		err := drain.Drain(ctx, c, "w-2", drain.Options{Timeout: 2 * time.Second, Interval: 100 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), "default/db: its PodDisruptionBudget db allows no disruption now") {
			t.Fatalf("want the drain stopped by the budget naming default/db, got %v", err)
		}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "db"}, &corev1.Pod{}); err != nil {
			t.Errorf("the budget's pod is gone: %v", err)
		}
	})

	t.Run("an unregistered node is nothing to drain", func(t *testing.T) {
		if err := drain.Drain(ctx, c, "w-9", drain.Options{Timeout: time.Second}); err != nil {
			t.Errorf("got %v", err)
		}
	})
}
