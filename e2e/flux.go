package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/pkg/manifest"
)

// jsonPatchOp is one RFC 6902 operation of a Flux Kustomization patch.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

func jsonPatch(ops ...jsonPatchOp) (string, error) {
	data, err := yaml.Marshal(ops)
	return string(data), err
}

// Redirect returns sync (gotk-sync.yaml) with the test-only patches of the
// bootstrap added to its flux-system Kustomization: the flux-system
// GitRepository pulls gitURL without credentials (also set on the
// GitRepository applied at bootstrap, for the first pull), and every other Flux
// Kustomization of the tree (kustomizations, from the rendered files)
// points the HelmRepositories it applies at helmURL. The tree in Git
// stays as synthesized; the patches live only in the cluster, owned by the
// deployer's field manager.
func Redirect(sync []byte, kustomizations []*kustomizev1.Kustomization, gitURL, helmURL string) ([]byte, error) {
	objs, err := manifest.Decode(sync)
	if err != nil {
		return nil, err
	}
	gitPatch, err := jsonPatch(
		jsonPatchOp{Op: "replace", Path: "/spec/url", Value: gitURL},
		jsonPatchOp{Op: "remove", Path: "/spec/secretRef"})
	if err != nil {
		return nil, err
	}
	helmPatch, err := jsonPatch(jsonPatchOp{Op: "replace", Path: "/spec/url", Value: helmURL})
	if err != nil {
		return nil, err
	}
	helmTarget := &kustomize.Selector{Group: sourcev1.GroupVersion.Group, Kind: sourcev1.HelmRepositoryKind}
	patches := []kustomize.Patch{{
		Patch:  gitPatch,
		Target: &kustomize.Selector{Group: sourcev1.GroupVersion.Group, Kind: sourcev1.GitRepositoryKind, Name: "flux-system", Namespace: "flux-system"},
	}}
	for _, k := range kustomizations {
		if k.Name == "flux-system" && k.Namespace == "flux-system" {
			continue
		}
		op := jsonPatchOp{Op: "add", Path: "/spec/patches", Value: []kustomize.Patch{{Patch: helmPatch, Target: helmTarget}}}
		if len(k.Spec.Patches) > 0 {
			op = jsonPatchOp{Op: "add", Path: "/spec/patches/-", Value: kustomize.Patch{Patch: helmPatch, Target: helmTarget}}
		}
		p, err := jsonPatch(op)
		if err != nil {
			return nil, err
		}
		patches = append(patches, kustomize.Patch{Patch: p, Target: &kustomize.Selector{
			Group: kustomizev1.GroupVersion.Group, Kind: kustomizev1.KustomizationKind, Name: k.Name, Namespace: k.Namespace}})
	}
	found := false
	var out []byte
	for _, u := range objs {
		if u.GetKind() == sourcev1.GitRepositoryKind && u.GetName() == "flux-system" {
			// The first pull, before the Kustomization's patches apply.
			if err := unstructured.SetNestedField(u.Object, gitURL, "spec", "url"); err != nil {
				return nil, err
			}
			unstructured.RemoveNestedField(u.Object, "spec", "secretRef")
		}
		if u.GetKind() == kustomizev1.KustomizationKind && u.GetName() == "flux-system" {
			found = true
			existing, _, _ := unstructured.NestedSlice(u.Object, "spec", "patches")
			for _, p := range patches {
				m, err := toMap(p)
				if err != nil {
					return nil, err
				}
				existing = append(existing, m)
			}
			if err := unstructured.SetNestedSlice(u.Object, existing, "spec", "patches"); err != nil {
				return nil, err
			}
		}
		data, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, err
		}
		out = append(append(out, "---\n"...), data...)
	}
	if !found {
		return nil, errors.New("gotk-sync.yaml has no flux-system Kustomization")
	}
	return out, nil
}

func toMap(v any) (map[string]any, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	return m, yaml.Unmarshal(data, &m)
}

// FluxKustomizations returns the Flux Kustomizations among objs.
func FluxKustomizations(objs []*unstructured.Unstructured) ([]*kustomizev1.Kustomization, error) {
	var out []*kustomizev1.Kustomization
	for _, u := range objs {
		if u.GroupVersionKind() != kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind) {
			continue
		}
		k := &kustomizev1.Kustomization{}
		if err := runtimeConvert(u, k); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

func runtimeConvert(u *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into)
}

// RequestReconcile asks Flux to reconcile the flux-system GitRepository
// and every Kustomization now, as `flux reconcile --with-source` does.
func (c *Cluster) RequestReconcile(ctx context.Context) error {
	now := time.Now().Format(time.RFC3339Nano)
	objs := []client.Object{&sourcev1.GitRepository{}}
	objs[0].SetNamespace("flux-system")
	objs[0].SetName("flux-system")
	var ks kustomizev1.KustomizationList
	if err := c.Client.List(ctx, &ks); err != nil {
		return err
	}
	for i := range ks.Items {
		objs = append(objs, &ks.Items[i])
	}
	for _, o := range objs {
		patch := client.RawPatch("application/merge-patch+json",
			fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, meta.ReconcileRequestAnnotation, now))
		if err := c.Client.Patch(ctx, o, patch); err != nil {
			return fmt.Errorf("requesting reconcile of %s: %w", o.GetName(), err)
		}
	}
	return nil
}

// FluxStatus is the readiness of every Kustomization and HelmRelease.
type FluxStatus struct {
	// NotReady names each object that is not Ready, with its Ready
	// condition's reason and message.
	NotReady []string
	// Revisions maps each Kustomization to its last applied revision (set
	// once it is Ready), Attempted to the last it began to apply.
	Revisions, Attempted map[string]string
}

// Flux reads the readiness of the Flux objects.
func (c *Cluster) Flux(ctx context.Context) (FluxStatus, error) {
	st := FluxStatus{Revisions: map[string]string{}, Attempted: map[string]string{}}
	var ks kustomizev1.KustomizationList
	if err := c.Client.List(ctx, &ks); err != nil {
		return st, err
	}
	var hrs helmv2.HelmReleaseList
	if err := c.Client.List(ctx, &hrs); err != nil {
		return st, err
	}
	check := func(kind, ns, name string, generation int64, conds []metav1.Condition) {
		ready := apimeta.FindStatusCondition(conds, meta.ReadyCondition)
		switch {
		case ready == nil:
			st.NotReady = append(st.NotReady, fmt.Sprintf("%s %s/%s: no Ready condition yet", kind, ns, name))
		case ready.Status != "True" || ready.ObservedGeneration != generation:
			st.NotReady = append(st.NotReady, fmt.Sprintf("%s %s/%s: %s: %s", kind, ns, name, ready.Reason, ready.Message))
		}
	}
	// A reconcile asked for (RequestReconcile) and not handled yet is not
	// Ready: its object may be mid-reconcile, health checks running.
	handled := func(kind, ns, name string, annotations map[string]string, last string) {
		if req := annotations[meta.ReconcileRequestAnnotation]; req != "" && req != last {
			st.NotReady = append(st.NotReady, fmt.Sprintf("%s %s/%s: reconcile request %s not handled yet", kind, ns, name, req))
		}
	}
	for _, k := range ks.Items {
		check("Kustomization", k.Namespace, k.Name, k.Generation, k.Status.Conditions)
		handled("Kustomization", k.Namespace, k.Name, k.Annotations, k.Status.LastHandledReconcileAt)
		st.Revisions[k.Name] = k.Status.LastAppliedRevision
		st.Attempted[k.Name] = k.Status.LastAttemptedRevision
	}
	for _, h := range hrs.Items {
		check("HelmRelease", h.Namespace, h.Name, h.Generation, h.Status.Conditions)
		handled("HelmRelease", h.Namespace, h.Name, h.Annotations, h.Status.LastHandledReconcileAt)
	}
	slices.Sort(st.NotReady)
	return st, nil
}

// Unschedulable names each pod the scheduler could place on no node, with
// the scheduler's reason; since not zero, only pods made after it that
// wait for no volume (a claim being provisioned is no lack of room).
func (c *Cluster) Unschedulable(ctx context.Context, since time.Time) ([]string, error) {
	var pods corev1.PodList
	if err := c.Client.List(ctx, &pods); err != nil {
		return nil, err
	}
	var out []string
	for _, p := range pods.Items {
		if !since.IsZero() && p.CreationTimestamp.Time.Before(since) {
			continue
		}
		for _, cond := range p.Status.Conditions {
			if !since.IsZero() && strings.Contains(cond.Message, "unbound immediate PersistentVolumeClaims") {
				continue
			}
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
				out = append(out, fmt.Sprintf("pod %s/%s: %s", p.Namespace, p.Name, cond.Message))
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// sourceAt reports whether the Git source's artifact is commit.
func (c *Cluster) sourceAt(ctx context.Context, commit string) bool {
	var g sourcev1.GitRepository
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: "flux-system"}, &g); err != nil {
		return false
	}
	return g.Status.Artifact != nil && strings.HasSuffix(g.Status.Artifact.Revision, commit)
}

// WaitReady waits until every Kustomization and HelmRelease is Ready and
// each Kustomization has applied a revision of commit (when not empty).
// It fails early, naming the pods, when pods fit on no node for 20
// seconds: pods made after the source fetched commit (an old revision's
// are about to go), or any once every Kustomization is applying it. On
// timeout it names each object that is not Ready.
func (c *Cluster) WaitReady(ctx context.Context, commit string, timeout time.Duration) error {
	var last FluxStatus
	var stuck []string
	stuckSince := time.Time{}
	var fetched time.Time // when the source first had commit
	err := poll(ctx, time.Second, timeout, func(ctx context.Context) (bool, error) {
		if fetched.IsZero() && commit != "" && c.sourceAt(ctx, commit) {
			fetched = time.Now()
		}
		st, err := c.Flux(ctx)
		if err != nil {
			return false, nil
		}
		last = st
		at := func(revs map[string]string) bool {
			ok := len(revs) > 0
			for _, rev := range revs {
				ok = ok && (commit == "" || strings.HasSuffix(rev, commit))
			}
			return ok
		}
		var pods []string
		switch {
		case at(st.Attempted):
			pods, err = c.Unschedulable(ctx, time.Time{})
		case !fetched.IsZero():
			pods, err = c.Unschedulable(ctx, fetched)
		}
		if err == nil && len(pods) > 0 {
			if stuckSince.IsZero() || !slices.Equal(pods, stuck) {
				stuck, stuckSince = pods, time.Now()
			} else if time.Since(stuckSince) > 20*time.Second {
				return false, fmt.Errorf("%d pod(s) fit on no node:\n  %s", len(pods), strings.Join(pods, "\n  "))
			}
		} else {
			stuck, stuckSince = nil, time.Time{}
		}
		return at(st.Revisions) && len(st.NotReady) == 0, nil
	})
	if errors.Is(err, errTimeout) {
		return fmt.Errorf("not ready after %s:\n  %s\nrevisions: %v", timeout, strings.Join(last.NotReady, "\n  "), last.Revisions)
	}
	return err
}

// Unavailable names each Deployment, DaemonSet and StatefulSet that is
// not fully available (a DaemonSet that schedules no pod counts).
func (c *Cluster) Unavailable(ctx context.Context) ([]string, error) {
	var deps appsv1.DeploymentList
	var dss appsv1.DaemonSetList
	var sts appsv1.StatefulSetList
	for _, l := range []client.ObjectList{&deps, &dss, &sts} {
		if err := c.Client.List(ctx, l); err != nil {
			return nil, err
		}
	}
	var out []string
	replicas := func(r *int32) int32 {
		if r == nil {
			return 1
		}
		return *r
	}
	for _, d := range deps.Items {
		if want := replicas(d.Spec.Replicas); d.Status.AvailableReplicas != want || d.Status.UpdatedReplicas != want {
			out = append(out, fmt.Sprintf("Deployment %s/%s: %d of %d available (%d updated)", d.Namespace, d.Name, d.Status.AvailableReplicas, want, d.Status.UpdatedReplicas))
		}
	}
	for _, d := range dss.Items {
		if d.Status.DesiredNumberScheduled == 0 || d.Status.NumberAvailable != d.Status.DesiredNumberScheduled {
			out = append(out, fmt.Sprintf("DaemonSet %s/%s: %d of %d available", d.Namespace, d.Name, d.Status.NumberAvailable, d.Status.DesiredNumberScheduled))
		}
	}
	for _, s := range sts.Items {
		if want := replicas(s.Spec.Replicas); s.Status.AvailableReplicas != want {
			out = append(out, fmt.Sprintf("StatefulSet %s/%s: %d of %d available", s.Namespace, s.Name, s.Status.AvailableReplicas, want))
		}
	}
	slices.Sort(out)
	return out, nil
}

// WaitAvailable waits until every workload is available (see
// Unavailable), including those operators make after Flux is Ready, and
// on timeout names the rest.
func (c *Cluster) WaitAvailable(ctx context.Context, timeout time.Duration) error {
	var last []string
	err := poll(ctx, time.Second, timeout, func(ctx context.Context) (bool, error) {
		var err error
		last, err = c.Unavailable(ctx)
		return err == nil && len(last) == 0, nil
	})
	if errors.Is(err, errTimeout) {
		return fmt.Errorf("not available after %s:\n  %s", timeout, strings.Join(last, "\n  "))
	}
	return err
}
