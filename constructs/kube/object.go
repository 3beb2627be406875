package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/funoffshore/homelab/constructs/core"
)

// Typed is a typed Kubernetes object: a k8s.io/api or fluxcd API struct.
type Typed interface {
	runtime.Object
	metav1.Object
}

// Object is a typed Kubernetes object in the construct tree: a cdk8s
// ApiObject whose JSON is the typed object's. It costs one call into jsii.
// The typed object stays live: changes made to it (or by BeforeRender hooks)
// until synth reach the output.
type Object struct {
	cdk8s.ApiObject
	info   *core.Info
	typed  Typed
	gvkErr error
	hooks  []func() error
}

// NewObject adds obj below scope. apiVersion and kind come from Scheme;
// metadata.name is required.
func NewObject(scope constructs.Construct, id string, obj Typed) *Object {
	info, jsiiID := core.Child(core.InfoOf(scope), id, "")
	o := &Object{info: info, typed: obj}
	if o.info.Chart() == nil {
		// cdk8s refuses an ApiObject outside a Chart with an obscure
		// panic: the object stays out of the jsii tree and the output, and
		// the tree fails validation.
		p := o.info.Path()
		o.info.Tree().AddValidation(func() []error {
			return []error{core.Errorf(p, "create Kubernetes objects inside a kube.Chart (kube.NewChart)", "the object is in no chart, so no directory would hold it")}
		})
		return o
	}
	gvk, err := kindOf(obj)
	if err != nil {
		o.gvkErr = fmt.Errorf("%T is not a known Kubernetes type: add it to kube.Scheme: %w", obj, err)
	} else {
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	meta := &cdk8s.ApiObjectMetadata{Name: jsii.String(obj.GetName())}
	if ns := obj.GetNamespace(); ns != "" {
		meta.Namespace = jsii.String(ns)
	}
	cdk8s.NewApiObject_Override(o, scope, jsii.String(jsiiID), &cdk8s.ApiObjectProps{
		ApiVersion: jsii.String(gvk.GroupVersion().String()),
		Kind:       jsii.String(gvk.Kind),
		Metadata:   meta,
	})
	t := o.info.Tree()
	t.AddObject(o)
	t.AddValidation(o.validate)
	t.AddCheck("kube/unique-objects", func() []error { return uniqueObjects(t) })
	t.AddCheck("kube/declared-namespaces", func() []error { return declaredNamespaces(t) })
	t.AddCheck("kube/container-resources", func() []error { return containerResources(t) })
	t.AddCheck("kube/references", func() []error { return references(t) })
	t.AddCheck("kube/workload-semantics", func() []error { return workloadSemantics(t) })
	t.AddCheck("kube/host-network-policies", func() []error { return hostNetworkPolicies(t) })
	if s, ok := obj.(*corev1.Secret); ok {
		keys := slices.Sorted(maps.Keys(s.Data))
		for k := range s.StringData {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		core.Secrets.Of(t).Declare(core.SecretDecl{Namespace: s.Namespace, Name: s.Name, Keys: keys, Source: o.info.Path()})
	}
	return o
}

// Info returns the object's place in the tree.
func (o *Object) Info() *core.Info { return o.info }

// ToString overrides the jsii method; it returns the construct path.
func (o *Object) ToString() *string { return core.PathString(o.info) }

// Typed returns the typed object; changes to it reach the output.
func (o *Object) Typed() Typed { return o.typed }

// BeforeRender registers a hook that runs before the object is rendered,
// for fields that depend on other constructs (Flux dependsOn, references).
func (o *Object) BeforeRender(hook func() error) { o.hooks = append(o.hooks, hook) }

// Identity returns the object's group, kind, namespace and name.
func (o *Object) Identity() core.ObjectID {
	gvk := o.typed.GetObjectKind().GroupVersionKind()
	return core.ObjectID{Group: gvk.Group, Kind: gvk.Kind, Namespace: o.typed.GetNamespace(), Name: o.typed.GetName()}
}

// Manifest renders the object as a JSON-compatible map: the typed object
// after the BeforeRender hooks, without status and creationTimestamp.
func (o *Object) Manifest() (map[string]any, error) {
	if o.gvkErr != nil {
		return nil, fmt.Errorf("%s: %w", o.info.Path(), o.gvkErr)
	}
	for _, h := range o.hooks {
		if err := h(); err != nil {
			return nil, fmt.Errorf("%s: %w", o.info.Path(), err)
		}
	}
	m, err := toMap(o.typed)
	if err != nil {
		return nil, fmt.Errorf("%s: rendering %s: %w", o.info.Path(), o.Identity(), err)
	}
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	return m, nil
}

// ToJson overrides the cdk8s method, so cdk8s's own synth of a chart (and
// Chart.ToJson) yields the typed object.
func (o *Object) ToJson() interface{} {
	m, err := o.Manifest()
	if err != nil {
		panic(err)
	}
	return m
}

// toMap converts obj to the JSON-compatible map ToUnstructured makes
// (integers as int64, other numbers as float64), through encoding/json:
// apimachinery's converter rebuilds its field cache on every new field, so
// a tree's first conversions (CRDs hold thousands of fields) cost tens of
// milliseconds for nothing.
func toMap(obj any) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return fixNumbers(m).(map[string]any), nil
}

// fixNumbers replaces the json.Numbers in v by int64 or float64.
func fixNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = fixNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = fixNumbers(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// KindOf returns the GroupVersionKind Scheme knows for obj's Go type.
func KindOf(obj runtime.Object) (schema.GroupVersionKind, error) { return kindOf(obj) }

// kindOf is the one GroupVersionKind Scheme knows for obj's Go type (as
// controller-runtime's apiutil.GVKForObject decides it, without linking the
// client machinery that package brings along): a type registered under
// several kinds is resolved by the kind already set on the object.
func kindOf(obj runtime.Object) (schema.GroupVersionKind, error) {
	gvks, unversioned, err := Scheme.ObjectKinds(obj)
	switch {
	case err != nil:
		return schema.GroupVersionKind{}, err
	case unversioned:
		return schema.GroupVersionKind{}, fmt.Errorf("%T is unversioned", obj)
	case len(gvks) == 1:
		return gvks[0], nil
	}
	set := obj.GetObjectKind().GroupVersionKind()
	if i := slices.Index(gvks, set); i >= 0 {
		return gvks[i], nil
	}
	return schema.GroupVersionKind{}, fmt.Errorf("%T is registered as %d kinds: set apiVersion and kind on it", obj, len(gvks))
}
