package kube

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/funoffshore/homelab/constructs/core"
)

// validate checks what the API server would refuse in the object's
// metadata: a missing or malformed name or namespace.
func (o *Object) validate() []error {
	var errs []error
	p := o.info.Path()
	if o.gvkErr != nil {
		errs = append(errs, core.Errorf(p, "register the type in kube.Scheme", "%v", o.gvkErr))
	}
	name := o.typed.GetName()
	kind := o.Identity().Kind
	switch {
	case name == "":
		errs = append(errs, core.Errorf(p, "set metadata.name", "%s has no metadata.name", kind))
	case kind == "Service" && o.Identity().Group == "":
		// A Service name becomes a DNS label: DNS-1035 (starts with a letter).
		if msgs := validation.IsDNS1035Label(name); len(msgs) > 0 {
			errs = append(errs, core.Errorf(p, "start with a letter; use at most 63 lowercase letters, digits and '-'",
				"Service name %q is not a valid DNS-1035 label: %s", name, strings.Join(msgs, "; ")))
		}
	case kind == "Namespace" && o.Identity().Group == "":
		if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
			errs = append(errs, core.Errorf(p, "use at most 63 lowercase letters, digits and '-'",
				"Namespace name %q is not a valid DNS label: %s", name, strings.Join(msgs, "; ")))
		}
	default:
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			errs = append(errs, core.Errorf(p, "use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
				"metadata.name %q is not a valid Kubernetes name: %s", name, strings.Join(msgs, "; ")))
		}
	}
	errs = append(errs, labelErrors(p, "metadata.labels", o.typed.GetLabels())...)
	if spec := podSpecOf(o.typed); spec != nil {
		errs = append(errs, labelErrors(p, "pod template labels", podLabels(o.typed))...)
	}
	if ns := o.typed.GetNamespace(); ns != "" {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			errs = append(errs, core.Errorf(p, "use at most 63 lowercase letters, digits and '-'",
				"metadata.namespace %q is not a valid namespace name: %s", ns, strings.Join(msgs, "; ")))
		}
	}
	return errs
}

// uniqueObjects fails for every object whose kind, namespace and name is
// already taken by an object created before it: the API server would see
// one object, and whichever file is applied last would win.
func uniqueObjects(t *core.Tree) []error {
	seen := map[core.ObjectID]string{}
	var errs []error
	for _, o := range t.Objects() {
		id := o.Identity()
		if first, ok := seen[id]; ok {
			errs = append(errs, core.Errorf(o.Info().Path(), fmt.Sprintf("rename one of them or remove the duplicate at %q", first),
				"%s is defined twice (also at %q)", id, first))
			continue
		}
		seen[id] = o.Info().Path()
	}
	return errs
}

// BuiltinNamespaces exist on every Kubernetes cluster; objects may use
// them without declaring them.
func BuiltinNamespaces() []string {
	return []string{"default", "kube-node-lease", "kube-public", "kube-system"}
}

// declaredNamespaces fails for every object in a namespace that no
// Namespace object of the tree declares, that is not built in and not
// declared external (core.Tree.DeclareExternal): Flux would fail to apply
// it on a fresh cluster.
func declaredNamespaces(t *core.Tree) []error {
	declared := map[string]bool{}
	for _, n := range BuiltinNamespaces() {
		declared[n] = true
	}
	for _, o := range t.Objects() {
		if id := o.Identity(); id.Kind == "Namespace" && id.Group == "" {
			declared[id.Name] = true
		}
	}
	var errs []error
	for _, o := range t.Objects() {
		id := o.Identity()
		if id.Namespace == "" || declared[id.Namespace] || t.IsExternal(core.ObjectID{Kind: "Namespace", Name: id.Namespace}) {
			continue
		}
		errs = append(errs, core.Errorf(o.Info().Path(),
			fmt.Sprintf("declare it with kube.NewNamespace(chart, %q, ...) in a chart Flux applies first, or use a declared namespace", id.Namespace),
			"%s is in namespace %q, which the tree does not declare", id, id.Namespace))
	}
	// A NetworkPolicy peer that names a namespace by its name label
	// (kubernetes.io/metadata.name, which the API server sets on every
	// namespace) matches nothing when no such namespace exists: the flow
	// the rule was written for stays cut, silently.
	for _, o := range t.Objects() {
		ko, ok := o.(*Object)
		if !ok {
			continue
		}
		np, ok := ko.typed.(*networkingv1.NetworkPolicy)
		if !ok {
			continue
		}
		for _, ns := range peerNamespaces(np) {
			if declared[ns] || t.IsExternal(core.ObjectID{Kind: "Namespace", Name: ns}) {
				continue
			}
			names := slices.Sorted(maps.Keys(declared))
			errs = append(errs, core.Errorf(o.Info().Path(),
				fmt.Sprintf("name a namespace the tree declares (%s), or declare %q", strings.Join(names, ", "), ns),
				"%s has a peer in namespace %q, which the tree does not declare: the rule matches no pod", o.Identity(), ns))
		}
	}
	return errs
}

// peerNamespaces returns the namespaces a NetworkPolicy's peers name by
// their kubernetes.io/metadata.name label, in order, each once.
func peerNamespaces(np *networkingv1.NetworkPolicy) []string {
	var out []string
	add := func(peers []networkingv1.NetworkPolicyPeer) {
		for _, p := range peers {
			if p.NamespaceSelector == nil {
				continue
			}
			if ns, ok := p.NamespaceSelector.MatchLabels[corev1.LabelMetadataName]; ok && !slices.Contains(out, ns) {
				out = append(out, ns)
			}
		}
	}
	for _, r := range np.Spec.Ingress {
		add(r.From)
	}
	for _, r := range np.Spec.Egress {
		add(r.To)
	}
	return out
}

// labelErrors returns a problem for every label key or value the API
// server refuses.
func labelErrors(path, where string, labels map[string]string) []error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			errs = append(errs, core.Errorf(path, "use a key such as \"app.kubernetes.io/name\"", "%s: key %q is invalid: %s", where, k, strings.Join(msgs, "; ")))
		}
		if msgs := validation.IsValidLabelValue(labels[k]); len(msgs) > 0 {
			errs = append(errs, core.Errorf(path, "use at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit", "%s: value %q of %q is invalid: %s", where, labels[k], k, strings.Join(msgs, "; ")))
		}
	}
	return errs
}
