package kube

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/funoffshore/homelab/constructs/core"
)

// podSpecOf returns the pod template of workload kinds, or nil.
func podSpecOf(obj Typed) *corev1.PodSpec {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		return &o.Spec.Template.Spec
	case *appsv1.DaemonSet:
		return &o.Spec.Template.Spec
	case *batchv1.Job:
		return &o.Spec.Template.Spec
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.Spec
	case *corev1.Pod:
		return &o.Spec
	}
	return nil
}

// podLabels returns the labels of a workload's pod template.
func podLabels(obj Typed) map[string]string {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Template.Labels
	case *appsv1.StatefulSet:
		return o.Spec.Template.Labels
	case *appsv1.DaemonSet:
		return o.Spec.Template.Labels
	case *batchv1.Job:
		return o.Spec.Template.Labels
	case *batchv1.CronJob:
		return o.Spec.JobTemplate.Spec.Template.Labels
	}
	return nil
}

// containerResources checks that every container the tree renders has CPU
// and memory requests and a memory limit: without them the scheduler
// cannot place pods on small nodes and one pod can starve the others.
func containerResources(t *core.Tree) []error {
	var errs []error
	for _, o := range t.Objects() {
		ko, ok := o.(*Object)
		if !ok {
			continue
		}
		spec := podSpecOf(ko.typed)
		if spec == nil {
			continue
		}
		all := append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...)
		for _, c := range all {
			var missing []string
			if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
				missing = append(missing, "a CPU request")
			}
			if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
				missing = append(missing, "a memory request")
			}
			if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
				missing = append(missing, "a memory limit")
			}
			if len(missing) > 0 {
				errs = append(errs, core.Errorf(o.Info().Path(), "set resources.requests (cpu, memory) and resources.limits.memory sized for the nodes",
					"container %q of %s lacks %s", c.Name, o.Identity(), joinAnd(missing)))
			}
		}
	}
	return errs
}

func joinAnd(s []string) string {
	switch len(s) {
	case 1:
		return s[0]
	case 2:
		return s[0] + " and " + s[1]
	}
	return fmt.Sprintf("%s, %s", s[0], joinAnd(s[1:]))
}

// Requirements are a container's requests of cpu and memory and its
// memory limit ("100m", "128Mi", "256Mi"): the shape every chart value
// and pod of the tree uses (no CPU limit: throttling hurts more than it
// protects on a homelab). A quantity that does not parse panics: the
// arguments are constants of the code.
func Requirements(cpu, memory, limit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(limit)},
	}
}

// Workload is the capacity record of a workload whose pod runs one
// container with requirements r: replicas pods, or one on every node
// (perNode, a DaemonSet), declared by the construct at source.
func Workload(source, name string, replicas int, perNode bool, r corev1.ResourceRequirements) core.Workload {
	return core.Workload{Source: source, Name: name, Replicas: replicas, PerNode: perNode,
		CPU: r.Requests[corev1.ResourceCPU], Memory: r.Requests[corev1.ResourceMemory], MemoryLimit: r.Limits[corev1.ResourceMemory]}
}
