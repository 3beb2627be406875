package talos

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// nodesReady waits until every node of the model has a Ready Kubernetes
// Node, as `talosctl health` requires of a cluster ("all k8s nodes are
// reported ready") before and after each node goes down; without
// Options.Kube (no cluster yet) it checks nothing. The error names the
// first node that is not Ready and its condition's reason.
func (d *deployer) nodesReady(ctx context.Context) error {
	if d.opts.Kube == nil {
		return nil
	}
	kc, err := d.opts.Kube(ctx)
	if err != nil {
		return err
	}
	last := "the Kubernetes API did not answer"
	// One list a poll, a few a second: the client's rate limit is never
	// what the wait runs into.
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, d.opts.Timeout, true, func(ctx context.Context) (bool, error) {
		var list corev1.NodeList
		if err := kc.List(ctx, &list); err != nil {
			return false, nil // keep the last thing seen
		}
		nodes := map[string]corev1.Node{}
		for _, n := range list.Items {
			nodes[n.Name] = n
		}
		for _, n := range d.cluster.Nodes() {
			node, ok := nodes[n.Hostname]
			if !ok {
				last = fmt.Sprintf("%s has no Kubernetes Node", n.Hostname)
				return false, nil
			}
			ready := false
			reason := "no Ready condition"
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady {
					ready, reason = c.Status == corev1.ConditionTrue, string(c.Status)+": "+c.Reason
				}
			}
			if !ready {
				last = fmt.Sprintf("the Kubernetes Node %s is not Ready (%s)", n.Hostname, reason)
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("%s after %s; every node must be Ready before one goes down, and again after it comes back: fix it, or take a dead node out of the model first", last, d.opts.Timeout)
	}
	return nil
}
