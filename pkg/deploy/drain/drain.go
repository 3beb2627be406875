// Package drain empties a Kubernetes node before it reboots, as
// `kubectl drain --ignore-daemonsets --delete-emptydir-data` does: it
// cordons the node and evicts its pods through the Eviction API, so
// PodDisruptionBudgets are honoured, skipping DaemonSet and mirror pods;
// Uncordon makes it schedulable again.
package drain

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Options bound a drain.
type Options struct {
	// Timeout bounds the whole drain. Default: 5m.
	Timeout time.Duration
	// Interval between eviction retries and checks. Default: 1s.
	Interval time.Duration
}

// Drain cordons node and evicts its pods, retrying evictions a
// PodDisruptionBudget refuses, until every evicted pod is gone. A node
// that is not registered is nothing to drain. On timeout the error names
// each pod still there and why.
func Drain(ctx context.Context, c client.Client, node string, opts Options) error {
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	if err := setUnschedulable(ctx, c, node, true); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("cordoning %s: %w", node, err)
	}
	// The drain ends at deadline, checked between rounds; the calls of a
	// round get a little longer, so one that starts just before it is
	// not cut short (the client's rate limiter refuses a call it could
	// not finish in time) and the last round's reasons are reported.
	deadline := time.Now().Add(opts.Timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(callGrace))
	defer cancel()
	blocked := map[string]string{} // pod -> why it is still there
	timedOut := func() error {
		var lines []string
		for id, why := range blocked {
			lines = append(lines, id+": "+why)
		}
		slices.Sort(lines)
		return fmt.Errorf("draining %s: %d pod(s) still there after %s (the node stays cordoned):\n  %s",
			node, len(lines), opts.Timeout, strings.Join(lines, "\n  "))
	}
	for {
		pods, err := evictable(ctx, c, node)
		if err != nil && ctx.Err() != nil && len(blocked) > 0 {
			return timedOut() // the deadline cut the listing short: report the last round
		}
		if err != nil {
			return fmt.Errorf("listing the pods on %s: %w", node, err)
		}
		if len(pods) == 0 {
			return nil
		}
		previous := blocked
		blocked = map[string]string{}
		for _, p := range pods {
			id := p.Namespace + "/" + p.Name
			if p.DeletionTimestamp != nil {
				blocked[id] = "terminating"
				continue
			}
			// Ask the budgets first: an eviction they refuse comes back as
			// 429, which the client retries on its own until the deadline.
			if why, err := budgetBlocks(ctx, c, &p); err != nil || why != "" {
				switch {
				case err != nil && ctx.Err() != nil && previous[id] != "":
					why = previous[id] // the deadline cut this try short
				case err != nil:
					why = "reading its PodDisruptionBudgets: " + err.Error()
				}
				blocked[id] = why
				continue
			}
			ev := &policyv1.Eviction{}
			ev.Namespace, ev.Name = p.Namespace, p.Name
			switch err := c.SubResource("eviction").Create(ctx, &p, ev); {
			case err == nil, apierrors.IsNotFound(err):
				blocked[id] = "evicted, terminating"
			case apierrors.IsTooManyRequests(err):
				blocked[id] = "its PodDisruptionBudget allows no disruption now: " + err.Error()
			case ctx.Err() != nil && previous[id] != "":
				blocked[id] = previous[id] // the deadline cut this try short
			default:
				blocked[id] = "eviction failed: " + err.Error()
			}
		}
		if time.Now().After(deadline) {
			return timedOut()
		}
		select {
		case <-ctx.Done():
			return timedOut()
		case <-time.After(opts.Interval):
		}
	}
}

// callGrace is how long the calls of a drain's last round may run past
// its deadline.
const callGrace = 10 * time.Second

// Uncordon makes node schedulable again.
func Uncordon(ctx context.Context, c client.Client, node string) error {
	if err := setUnschedulable(ctx, c, node, false); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("uncordoning %s: %w", node, err)
	}
	return nil
}

func setUnschedulable(ctx context.Context, c client.Client, node string, on bool) error {
	n := &corev1.Node{}
	n.Name = node
	patch := fmt.Appendf(nil, `{"spec":{"unschedulable":%t}}`, on)
	return c.Patch(ctx, n, client.RawPatch(types.StrategicMergePatchType, patch))
}

// evictable lists the pods on node a drain moves: not mirror pods, not
// DaemonSet pods, not finished ones.
func evictable(ctx context.Context, c client.Client, node string) ([]corev1.Pod, error) {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.MatchingFields{"spec.nodeName": node}); err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
			continue
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		daemon := false
		for _, o := range p.OwnerReferences {
			daemon = daemon || (o.Kind == "DaemonSet" && o.Controller != nil && *o.Controller)
		}
		if !daemon {
			out = append(out, p)
		}
	}
	return out, nil
}

// budgetBlocks names the PodDisruptionBudget that allows no disruption of
// p now ("" when none does).
func budgetBlocks(ctx context.Context, c client.Client, p *corev1.Pod) (string, error) {
	var pdbs policyv1.PodDisruptionBudgetList
	if err := c.List(ctx, &pdbs, client.InNamespace(p.Namespace)); err != nil {
		return "", err
	}
	for _, b := range pdbs.Items {
		sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		if err != nil || b.Spec.Selector == nil || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		if b.Status.ObservedGeneration < b.Generation || b.Status.DisruptionsAllowed < 1 {
			return fmt.Sprintf("its PodDisruptionBudget %s allows no disruption now (%d allowed, %d healthy of %d desired)",
				b.Name, b.Status.DisruptionsAllowed, b.Status.CurrentHealthy, b.Status.DesiredHealthy), nil
		}
	}
	return "", nil
}
