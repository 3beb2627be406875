package kube

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
)

// Objects every namespace has without the tree making them: the default
// ServiceAccount and the cluster CA bundle the API server publishes.
const (
	defaultServiceAccount = "default"
	rootCAConfigMap       = "kube-root-ca.crt"
)

// refIndex is what exists in the cluster once the tree is applied: its
// objects by identity, and what is declared external.
type refIndex struct {
	t       *core.Tree
	objects map[core.ObjectID]*Object
}

func newRefIndex(t *core.Tree) *refIndex {
	ix := &refIndex{t: t, objects: map[core.ObjectID]*Object{}}
	for _, o := range t.Objects() {
		if ko, ok := o.(*Object); ok {
			ix.objects[ko.Identity()] = ko
		}
	}
	return ix
}

func (ix *refIndex) has(id core.ObjectID) bool {
	_, ok := ix.objects[id]
	return ok || ix.t.IsExternal(id)
}

// names lists the objects of a kind (and namespace) the tree has, for the
// fix in a message.
func (ix *refIndex) names(group, kind, ns string) string {
	var out []string
	for _, id := range append(slices.Collect(maps.Keys(ix.objects)), ix.t.Externals()...) {
		if id.Group == group && id.Kind == kind && id.Namespace == ns && !slices.Contains(out, id.Name) {
			out = append(out, id.Name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// references checks that every object a synthesized object names exists:
// Secrets, ConfigMaps, PersistentVolumeClaims and the ServiceAccount of
// every pod spec (env, envFrom, volumes, projected volumes,
// imagePullSecrets), the StorageClass of every claim, and the IngressClass
// and backend Services of every Ingress. A missing one leaves a pod in
// ContainerCreating, a claim Pending or an Ingress unserved.
func references(t *core.Tree) []error {
	ix := newRefIndex(t)
	var errs []error
	var secretRefs []core.SecretRef
	served := map[string]string{} // class, host and path -> the first Ingress's construct path
	for _, o := range t.Objects() {
		ko, ok := o.(*Object)
		if !ok {
			continue
		}
		p, id := ko.info.Path(), ko.Identity()
		missing := func(kind, name, where, fix string) {
			errs = append(errs, core.Errorf(p, fix, "%s refers to %s %s/%s (%s), which the tree does not define", id, kind, id.Namespace, name, where))
		}
		if spec := podSpecOf(ko.typed); spec != nil {
			ns := id.Namespace
			each := func(f func(where string, r podRef)) { podRefs(spec, f) }
			each(func(where string, r podRef) {
				switch r.kind {
				case "Secret":
					secretRefs = append(secretRefs, core.SecretRef{Namespace: ns, Name: r.name, Key: r.key, Source: p})
				case "ConfigMap":
					if r.name == rootCAConfigMap {
						return
					}
					cid := core.ObjectID{Kind: "ConfigMap", Namespace: ns, Name: r.name}
					cm, ok := ix.objects[cid]
					switch {
					case !ok && !ix.has(cid):
						missing("ConfigMap", r.name, where, fmt.Sprintf("create it with kube.NewObject in namespace %q (it has: %s), or mark the reference optional", ns, ix.names("", "ConfigMap", ns)))
					case ok && r.key != "":
						c, _ := cm.typed.(*corev1.ConfigMap)
						if c != nil && !hasKey(c, r.key) {
							errs = append(errs, core.Errorf(p, fmt.Sprintf("use one of its keys (%s)", strings.Join(slices.Sorted(maps.Keys(c.Data)), ", ")),
								"%s refers to key %q of ConfigMap %s/%s (%s), which it does not have", id, r.key, ns, r.name, where))
						}
					}
				case "PersistentVolumeClaim":
					if !ix.has(core.ObjectID{Kind: "PersistentVolumeClaim", Namespace: ns, Name: r.name}) {
						missing("PersistentVolumeClaim", r.name, where, fmt.Sprintf("create the claim (storage.NewClaim) in namespace %q (it has: %s)", ns, ix.names("", "PersistentVolumeClaim", ns)))
					}
				case "ServiceAccount":
					if r.name != defaultServiceAccount && !ix.has(core.ObjectID{Kind: "ServiceAccount", Namespace: ns, Name: r.name}) {
						missing("ServiceAccount", r.name, where, fmt.Sprintf("create the ServiceAccount in namespace %q (it has: %s)", ns, ix.names("", "ServiceAccount", ns)))
					}
				}
			})
		}
		for _, claim := range claimsOf(ko.typed) {
			sc := claim.Spec.StorageClassName
			if sc == nil || *sc == "" {
				continue // the default class, or static binding
			}
			if !ix.has(core.ObjectID{Group: "storage.k8s.io", Kind: "StorageClass", Name: *sc}) {
				errs = append(errs, core.Errorf(p, fmt.Sprintf("use a class the tree defines (%s), or leave the class empty for the default", ix.names("storage.k8s.io", "StorageClass", "")),
					"%s asks for StorageClass %q, which the tree does not define: the claim would stay Pending", id, *sc))
			}
		}
		if ing, ok := ko.typed.(*networkingv1.Ingress); ok {
			if c := ing.Spec.IngressClassName; c != nil && !ix.has(core.ObjectID{Group: "networking.k8s.io", Kind: "IngressClass", Name: *c}) {
				errs = append(errs, core.Errorf(p, fmt.Sprintf("use an IngressClass the tree installs (%s)", ix.names("networking.k8s.io", "IngressClass", "")),
					"%s uses IngressClass %q, which no controller of the tree serves", id, *c))
			}
			// One host and path of one ingress class goes to one
			// backend: a second Ingress for it is merged or dropped by the
			// controller (ingress-nginx keeps the oldest), whatever the
			// tree meant. Hosts are compared as DNS compares them.
			class := ptr.Deref(ing.Spec.IngressClassName, "(default class)")
			for _, r := range ing.Spec.Rules {
				if r.HTTP == nil {
					continue
				}
				for _, hp := range r.HTTP.Paths {
					key := class + " " + strings.ToLower(strings.TrimSuffix(r.Host, ".")) + hp.Path
					if first, ok := served[key]; ok && first != p {
						errs = append(errs, core.Errorf(p, "give each app its own host (or path)", "%s serves host %q path %q, which %q already serves through IngressClass %s", id, r.Host, hp.Path, first, class))
						continue
					}
					served[key] = p
				}
			}
			for _, svc := range ingressServices(ing) {
				if !ix.has(core.ObjectID{Kind: "Service", Namespace: id.Namespace, Name: svc}) {
					missing("Service", svc, "backend", fmt.Sprintf("point the backend at a Service in namespace %q (it has: %s)", id.Namespace, ix.names("", "Service", id.Namespace)))
				}
			}
		}
	}
	return append(errs, core.Secrets.Of(t).Check(secretRefs)...)
}

func hasKey(c *corev1.ConfigMap, key string) bool {
	_, a := c.Data[key]
	_, b := c.BinaryData[key]
	return a || b
}

// podRef is one object a pod spec names; key is "" for the whole object.
type podRef struct{ kind, name, key string }

// podRefs calls f for every required reference of spec; optional ones are
// left out (the pod starts without them).
func podRefs(spec *corev1.PodSpec, f func(where string, r podRef)) {
	optional := func(b *bool) bool { return b != nil && *b }
	f("serviceAccountName", podRef{kind: "ServiceAccount", name: cmp.Or(spec.ServiceAccountName, defaultServiceAccount)})
	for _, s := range spec.ImagePullSecrets {
		f("imagePullSecrets", podRef{kind: "Secret", name: s.Name})
	}
	for _, c := range allContainers(spec) {
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil && !optional(e.SecretRef.Optional) {
				f("envFrom of container "+c.Name, podRef{kind: "Secret", name: e.SecretRef.Name})
			}
			if e.ConfigMapRef != nil && !optional(e.ConfigMapRef.Optional) {
				f("envFrom of container "+c.Name, podRef{kind: "ConfigMap", name: e.ConfigMapRef.Name})
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			where := fmt.Sprintf("env %s of container %s", e.Name, c.Name)
			if r := e.ValueFrom.SecretKeyRef; r != nil && !optional(r.Optional) {
				f(where, podRef{kind: "Secret", name: r.Name, key: r.Key})
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil && !optional(r.Optional) {
				f(where, podRef{kind: "ConfigMap", name: r.Name, key: r.Key})
			}
		}
	}
	for _, v := range spec.Volumes {
		where := "volume " + v.Name
		switch {
		case v.Secret != nil && !optional(v.Secret.Optional):
			for _, k := range keysOf(v.Secret.Items) {
				f(where, podRef{kind: "Secret", name: v.Secret.SecretName, key: k})
			}
		case v.ConfigMap != nil && !optional(v.ConfigMap.Optional):
			for _, k := range keysOf(v.ConfigMap.Items) {
				f(where, podRef{kind: "ConfigMap", name: v.ConfigMap.Name, key: k})
			}
		case v.PersistentVolumeClaim != nil:
			f(where, podRef{kind: "PersistentVolumeClaim", name: v.PersistentVolumeClaim.ClaimName})
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.Secret != nil && !optional(s.Secret.Optional) {
					for _, k := range keysOf(s.Secret.Items) {
						f("projected "+where, podRef{kind: "Secret", name: s.Secret.Name, key: k})
					}
				}
				if s.ConfigMap != nil && !optional(s.ConfigMap.Optional) {
					for _, k := range keysOf(s.ConfigMap.Items) {
						f("projected "+where, podRef{kind: "ConfigMap", name: s.ConfigMap.Name, key: k})
					}
				}
			}
		}
	}
}

// keysOf returns the keys a volume projects, or [""] for all of them.
func keysOf(items []corev1.KeyToPath) []string {
	if len(items) == 0 {
		return []string{""}
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Key
	}
	return out
}

func allContainers(spec *corev1.PodSpec) []corev1.Container {
	return append(slices.Clone(spec.InitContainers), spec.Containers...)
}

// claimsOf returns the claims an object makes: itself, or a StatefulSet's
// templates.
func claimsOf(obj Typed) []*corev1.PersistentVolumeClaim {
	switch o := obj.(type) {
	case *corev1.PersistentVolumeClaim:
		return []*corev1.PersistentVolumeClaim{o}
	case *appsv1.StatefulSet:
		out := make([]*corev1.PersistentVolumeClaim, len(o.Spec.VolumeClaimTemplates))
		for i := range o.Spec.VolumeClaimTemplates {
			out[i] = &o.Spec.VolumeClaimTemplates[i]
		}
		return out
	}
	return nil
}

func ingressServices(ing *networkingv1.Ingress) []string {
	var out []string
	add := func(b *networkingv1.IngressBackend) {
		if b != nil && b.Service != nil && !slices.Contains(out, b.Service.Name) {
			out = append(out, b.Service.Name)
		}
	}
	add(ing.Spec.DefaultBackend)
	for _, r := range ing.Spec.Rules {
		if r.HTTP != nil {
			for i := range r.HTTP.Paths {
				add(&r.HTTP.Paths[i].Backend)
			}
		}
	}
	return out
}

// workloadSemantics checks what the API server or the kubelet would refuse
// or never run in a workload: negative replicas, a selector that does not
// match the pod template, container, port and volume names, duplicate
// ports, probes on ports the container does not have, mounts of volumes
// the pod does not have or two at one path, and limits below requests.
func workloadSemantics(t *core.Tree) []error {
	var errs []error
	for _, o := range t.Objects() {
		ko, ok := o.(*Object)
		if !ok {
			continue
		}
		p, id := ko.info.Path(), ko.Identity()
		add := func(fix, format string, args ...any) {
			errs = append(errs, core.Errorf(p, fix, "%s: "+format, append([]any{id}, args...)...))
		}
		if r, ok := replicasOf(ko.typed); ok && r < 0 {
			add("use 0 or more replicas", "replicas %d is negative", r)
		}
		if sel, tmpl, required := selectorOf(ko.typed); required || sel != nil {
			s, err := metav1.LabelSelectorAsSelector(sel)
			switch {
			case sel == nil:
				add("set spec.selector to the pod template's labels", "the workload has no selector")
			case err != nil:
				add("use a valid label selector", "selector does not parse: %v", err)
			case s.Empty():
				add("select the pod template's labels", "the selector is empty")
			case !s.Matches(labels.Set(tmpl)):
				add("make the selector match the pod template's labels", "selector %s does not match the pod template labels %v", s, tmpl)
			}
		}
		spec := podSpecOf(ko.typed)
		if spec == nil {
			continue
		}
		// uniqueLabel checks that name is a DNS label not yet in seen.
		uniqueLabel := func(kind, name string, seen map[string]bool) {
			if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
				add("use at most 63 lowercase letters, digits and '-'", "%s name %q is invalid: %s", kind, name, strings.Join(msgs, "; "))
			}
			if seen[name] {
				add("give each "+kind+" its own name", "%s %q is defined twice", kind, name)
			}
			seen[name] = true
		}
		volumes := map[string]bool{}
		for _, v := range spec.Volumes {
			uniqueLabel("volume", v.Name, volumes)
		}
		names := map[string]bool{}
		portNames, portNumbers := map[string]string{}, map[string]string{}
		for _, c := range allContainers(spec) {
			uniqueLabel("container", c.Name, names)
			own := map[string]bool{}
			for _, port := range c.Ports {
				if port.ContainerPort < 1 || port.ContainerPort > 65535 {
					add("use a port from 1 to 65535", "container %q: port %d is out of range", c.Name, port.ContainerPort)
				}
				if port.Name != "" {
					if msgs := validation.IsValidPortName(port.Name); len(msgs) > 0 {
						add("use at most 15 lowercase letters, digits and '-', with a letter", "container %q: port name %q is invalid: %s", c.Name, port.Name, strings.Join(msgs, "; "))
					}
					if other, ok := portNames[port.Name]; ok {
						add("give each port of the pod its own name", "container %q: port name %q is also used by container %q", c.Name, port.Name, other)
					}
					portNames[port.Name] = c.Name
					own[port.Name] = true
				}
				key := fmt.Sprintf("%d/%s", port.ContainerPort, cmp.Or(string(port.Protocol), "TCP"))
				if other, ok := portNumbers[key]; ok {
					add("give each port of the pod its own number", "container %q: port %s is also declared by container %q", c.Name, key, other)
				}
				portNumbers[key] = c.Name
			}
			for _, pr := range []struct {
				kind  string
				probe *corev1.Probe
			}{{"readiness", c.ReadinessProbe}, {"liveness", c.LivenessProbe}, {"startup", c.StartupProbe}} {
				if port, ok := probePort(pr.probe); ok && port.Type == intstr.String && !own[port.StrVal] {
					add(fmt.Sprintf("use one of the container's named ports (%s) or a number", strings.Join(slices.Sorted(maps.Keys(own)), ", ")),
						"container %q: the %s probe uses port %q, which the container does not declare", c.Name, pr.kind, port.StrVal)
				}
			}
			// The API server refuses a repeated mountPath in a container
			// (pkg/apis/core/validation ValidateVolumeMounts: "must be
			// unique"); "/data" and "/data/" are one directory to the
			// runtime, so paths are compared cleaned.
			mountedAt := map[string]string{}
			for _, m := range c.VolumeMounts {
				if !volumes[m.Name] {
					add("add the volume to the pod or fix the mount's name", "container %q mounts volume %q, which the pod does not define", c.Name, m.Name)
				}
				at := path.Clean(m.MountPath)
				if other, ok := mountedAt[at]; ok {
					add("mount each volume at its own path (an app's Volume at VolumePath, each Mount, ScratchPaths and FilesPath)", "container %q mounts volumes %q and %q at one path %s", c.Name, other, m.Name, at)
				}
				mountedAt[at] = m.Name
			}
			for name, limit := range c.Resources.Limits {
				if req, ok := c.Resources.Requests[name]; ok && limit.Cmp(req) < 0 {
					add(fmt.Sprintf("raise the %s limit to at least the request, or lower the request", name),
						"container %q: %s limit %s is below its request %s", c.Name, name, limit.String(), req.String())
				}
			}
		}
	}
	return errs
}

func probePort(p *corev1.Probe) (intstr.IntOrString, bool) {
	switch {
	case p == nil:
	case p.HTTPGet != nil:
		return p.HTTPGet.Port, true
	case p.TCPSocket != nil:
		return p.TCPSocket.Port, true
	}
	return intstr.IntOrString{}, false
}

func replicasOf(obj Typed) (int32, bool) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		if o.Spec.Replicas != nil {
			return *o.Spec.Replicas, true
		}
	case *appsv1.StatefulSet:
		if o.Spec.Replicas != nil {
			return *o.Spec.Replicas, true
		}
	}
	return 0, false
}

func selectorOf(obj Typed) (sel *metav1.LabelSelector, template map[string]string, required bool) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Selector, o.Spec.Template.Labels, true
	case *appsv1.StatefulSet:
		return o.Spec.Selector, o.Spec.Template.Labels, true
	case *appsv1.DaemonSet:
		return o.Spec.Selector, o.Spec.Template.Labels, true
	case *batchv1.Job:
		return o.Spec.Selector, o.Spec.Template.Labels, false
	}
	return nil, nil, false
}
