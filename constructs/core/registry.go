package core

import "sort"

// Tree is the Go-side registry of one App: every construct's Info, the
// charts with their output directories, the Kubernetes objects and other
// file renderers in creation order, and the validations to run before synth.
type Tree struct {
	root        *Info
	paths       map[string]*Info
	dirs        map[string]*Info
	charts      []*Info
	objects     []Object
	files       []FileRenderer
	validations []func() []error
	checks      map[string]bool
	repoDir     string
	roots       map[string][]string
	facets      map[any]any
	chartFiles  []ChartFile
	externals   map[ObjectID]string
}

// Object is a Kubernetes object in the tree, rendered by synth into the
// directory of its chart.
type Object interface {
	Scope
	// Manifest renders the object as a JSON-compatible map.
	Manifest() (map[string]any, error)
	// Identity returns the object's group, kind, namespace and name.
	Identity() ObjectID
}

// ObjectID names a Kubernetes object.
type ObjectID struct {
	Group, Kind, Namespace, Name string
}

// String renders "Kind/namespace/name" (or "Kind/name" without namespace),
// with the group when it is not the core group: "Kustomization.kustomize.toolkit.fluxcd.io/flux-system/apps".
func (o ObjectID) String() string {
	k := o.Kind
	if o.Group != "" {
		k += "." + o.Group
	}
	if o.Namespace == "" {
		return k + "/" + o.Name
	}
	return k + "/" + o.Namespace + "/" + o.Name
}

// File is one output file that is no Kubernetes manifest (Talos configs,
// inventories), with its path relative to the output root.
type File struct {
	Path string
	Data []byte
}

// FileRenderer is a construct that renders files of its own.
type FileRenderer interface {
	Scope
	RenderFiles() ([]File, error)
}

// RepoDir returns the directory of the output root inside the Git
// repository ("cluster"), which Flux paths are relative to.
func (t *Tree) RepoDir() string { return t.repoDir }

// Root returns the App's Info.
func (t *Tree) Root() *Info { return t.root }

// Charts returns the charts in creation order.
func (t *Tree) Charts() []*Info { return t.charts }

// ChartAt returns the chart that renders to dir, or nil.
func (t *Tree) ChartAt(dir string) *Info { return t.dirs[dir] }

// Objects returns the Kubernetes objects in creation order.
func (t *Tree) Objects() []Object { return t.objects }

// FileRenderers returns the constructs that render files of their own.
func (t *Tree) FileRenderers() []FileRenderer { return t.files }

// AddObject registers a Kubernetes object for synth.
func (t *Tree) AddObject(o Object) { t.objects = append(t.objects, o) }

// AddFileRenderer registers a construct that renders files of its own.
func (t *Tree) AddFileRenderer(f FileRenderer) { t.files = append(t.files, f) }

// DeclareExternal records that the object id exists in the cluster
// without the tree creating it (the namespace Flux runs in, a Secret made
// by hand), for the checks that every referenced object exists; why says
// who needs it. Declaring the same object twice is harmless.
func (t *Tree) DeclareExternal(id ObjectID, why string) {
	if t.externals == nil {
		t.externals = map[ObjectID]string{}
	}
	if _, ok := t.externals[id]; !ok {
		t.externals[id] = why
	}
}

// Externals returns the ids declared with DeclareExternal, sorted.
func (t *Tree) Externals() []ObjectID {
	out := make([]ObjectID, 0, len(t.externals))
	for id := range t.externals {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// IsExternal reports whether id was declared with DeclareExternal.
func (t *Tree) IsExternal(id ObjectID) bool {
	_, ok := t.externals[id]
	return ok
}

// AddValidation registers a validation that runs before synth. It returns
// every problem it finds; nil means valid.
func (t *Tree) AddValidation(v func() []error) { t.validations = append(t.validations, v) }

// AddCheck registers a tree-wide validation once per key, however many
// constructs ask for it.
func (t *Tree) AddCheck(key string, v func() []error) {
	if t.checks[key] {
		return
	}
	t.checks[key] = true
	t.AddValidation(v)
}

// Validate runs every validation and returns all problems as a
// *ValidationError sorted by construct path, or nil.
func (t *Tree) Validate() error {
	var errs []error
	for _, v := range t.validations {
		errs = append(errs, v()...)
	}
	return newValidationError(errs)
}

func parentDir(dir string) string {
	for i := len(dir) - 1; i >= 0; i-- {
		if dir[i] == '/' {
			return dir[:i]
		}
	}
	return ""
}

// MarkRoot records that the Kustomization at construct path k applies the
// chart directory dir. Synth leaves a root out of its parent chart's
// kustomization.yaml, so no object is applied twice.
func (t *Tree) MarkRoot(dir, k string) {
	if t.roots == nil {
		t.roots = map[string][]string{}
	}
	t.roots[dir] = append(t.roots[dir], k)
}

// IsRoot reports whether a Kustomization applies dir.
func (t *Tree) IsRoot(dir string) bool { return len(t.roots[dir]) > 0 }

// ParentChart returns the nearest chart whose directory is above dir, or nil.
func (t *Tree) ParentChart(dir string) *Info {
	for d := parentDir(dir); d != ""; d = parentDir(d) {
		if c := t.dirs[d]; c != nil {
			return c
		}
	}
	return nil
}

// RootsOf returns the paths of the Kustomizations that apply the objects of
// the chart at dir: those whose path is dir, or, when none is, those that
// apply the parent chart (whose kustomization.yaml then lists dir).
func (t *Tree) RootsOf(dir string) []string {
	for d := dir; ; {
		if r := t.roots[d]; len(r) > 0 {
			return append([]string(nil), r...)
		}
		p := t.ParentChart(d)
		if p == nil {
			return nil
		}
		d = p.dir
	}
}

// TopChartDir returns the directory of the outermost chart above (or at) dir.
func (t *Tree) TopChartDir(dir string) string {
	top := dir
	for p := t.ParentChart(dir); p != nil; p = t.ParentChart(p.dir) {
		top = p.dir
	}
	return top
}

// Listed returns the charts the kustomization.yaml of the chart at dir
// lists: the charts whose nearest chart above is dir and that no
// Kustomization applies on its own, sorted by directory.
func (t *Tree) Listed(dir string) []*Info {
	var out []*Info
	for _, c := range t.charts {
		if p := t.ParentChart(c.dir); p != nil && p.dir == dir && !t.IsRoot(c.dir) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dir < out[j].dir })
	return out
}

// Facet is a typed value a package keeps per tree, such as its registry
// of the tree's objects for checks across them, made on first use. The
// Facet itself is the key, so no two packages share a value by accident
// and no caller asserts a type.
type Facet[T any] struct {
	name string
	make func(t *Tree) T
}

// NewFacet returns a facet (name says whose, for reading the code) whose
// value in each tree starts as make(). Declare it once, in a package
// variable.
func NewFacet[T any](name string, make func() T) *Facet[T] {
	return &Facet[T]{name: name, make: func(*Tree) T { return make() }}
}

// NewTreeFacet is NewFacet for a value that needs its tree (to register
// a check on it, say): its value starts as make(t).
func NewTreeFacet[T any](name string, make func(t *Tree) T) *Facet[T] {
	return &Facet[T]{name: name, make: make}
}

// Of returns the facet's value in t, made on first use.
func (f *Facet[T]) Of(t *Tree) T {
	if v, ok := f.Peek(t); ok {
		return v
	}
	if t.facets == nil {
		t.facets = map[any]any{}
	}
	v := f.make(t)
	t.facets[f] = v
	return v
}

// Peek returns the facet's value in t and whether it was made, without
// making it.
func (f *Facet[T]) Peek(t *Tree) (T, bool) {
	v, ok := t.facets[f].(T)
	return v, ok
}
