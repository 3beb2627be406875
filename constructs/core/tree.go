package core

import (
	"cmp"
	"fmt"
	"path"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
)

// Scope is a construct that knows its place in the Go-side tree. Every
// construct of this module is a Scope; constructs from elsewhere (plain
// constructs-go or cdk8s ones) can be used as scopes too, at the cost of a
// few calls into jsii to learn their path.
type Scope interface {
	constructs.IConstruct
	// Info returns the construct's place in the tree.
	Info() *Info
}

// Info is a construct's place in the tree: its tree, parent, id, path and,
// for charts, the output directory it renders to.
type Info struct {
	tree   *Tree
	parent *Info
	id     string
	path   string
	dir    string
}

// Tree returns the registry of the App this construct belongs to.
func (i *Info) Tree() *Tree { return i.tree }

// ID returns the construct id.
func (i *Info) ID() string { return i.id }

// Path returns the construct path: the ids from the App down, joined by "/"
// (the App's own id is empty and left out).
func (i *Info) Path() string { return i.path }

// Parent returns the enclosing construct, nil for the App.
func (i *Info) Parent() *Info { return i.parent }

// Dir returns the output directory of a chart, relative to the output root
// ("kubernetes/flux"), or "" for a construct that is no chart.
func (i *Info) Dir() string { return i.dir }

// Chart returns the nearest chart enclosing the construct (the construct
// itself if it is a chart), or nil.
func (i *Info) Chart() *Info {
	for c := i; c != nil; c = c.parent {
		if c.dir != "" {
			return c
		}
	}
	return nil
}

// Unit returns the id of the construct directly below the nearest chart on
// the way to this one: objects created under the same child of a chart
// share a unit, and synth writes each unit to its own file.
func (i *Info) Unit() string {
	for c := i; c != nil && c.parent != nil; c = c.parent {
		if c.parent.dir != "" {
			return c.id
		}
	}
	return i.id
}

// File returns the file synth writes the construct's objects to, relative
// to the output root ("kubernetes/flux/gotk-components.yaml"): the unit's
// file in its chart's directory; "" for a construct in no chart.
func (i *Info) File() string {
	c := i.Chart()
	if c == nil || c == i {
		return ""
	}
	return path.Join(c.dir, i.Unit()+".yaml")
}

// NewChild registers a child construct with the given id below parent and
// returns its Info. dir is the output directory for a chart, "" otherwise.
// It fails when the id is empty, contains "/", or is taken, or when dir is
// not a clean relative path or another chart already renders to it.
func NewChild(parent *Info, id, dir string) (*Info, error) {
	if id == "" || strings.Contains(id, "/") {
		return nil, fmt.Errorf("construct id %q below %q is invalid; use a non-empty id without \"/\"", id, parent.path)
	}
	p := id
	if parent.path != "" {
		p = parent.path + "/" + id
	}
	t := parent.tree
	if _, taken := t.paths[p]; taken {
		return nil, fmt.Errorf("construct path %q is taken; give the construct another id", p)
	}
	if dir != "" {
		if path.Clean(dir) != dir || path.IsAbs(dir) || dir == "." || strings.HasPrefix(dir, "..") {
			return nil, fmt.Errorf("chart %q: output directory %q is not a clean relative path; use a form like \"kubernetes/apps\"", p, dir)
		}
		if other, ok := t.dirs[dir]; ok {
			return nil, fmt.Errorf("chart %q: output directory %q is already rendered by chart %q; give each chart its own directory", p, dir, other.path)
		}
	}
	info := &Info{tree: t, parent: parent, id: id, path: p, dir: dir}
	t.paths[p] = info
	if dir != "" {
		t.dirs[dir] = info
		t.charts = append(t.charts, info)
	}
	return info, nil
}

// Child is NewChild for ids and directories that come from user input: a
// bad or taken id, or a bad or taken directory, becomes a validation error
// on the tree (so synth fails with the construct path and the fix) instead
// of a panic, and the construct is registered under a substitute id (and
// directory), which Child returns for the constructs-go node.
func Child(parent *Info, id, dir string) (*Info, string) {
	info, err := NewChild(parent, id, dir)
	if err == nil {
		return info, id
	}
	p := id
	if parent.path != "" {
		p = parent.path + "/" + id
	}
	parent.tree.AddValidation(func() []error { return []error{&Error{Path: p, Problem: err.Error()}} })
	for n := 1; ; n++ {
		sub := fmt.Sprintf("%s~invalid-%d", strings.ReplaceAll(cmp.Or(id, "empty"), "/", "_"), n)
		subDir := ""
		if dir != "" {
			subDir = fmt.Sprintf(".invalid/%s-%d", strings.ReplaceAll(sub, "/", "_"), n)
		}
		if info, err := NewChild(parent, sub, subDir); err == nil {
			return info, sub
		}
	}
}

// MustChild is NewChild that panics on error, for constructors whose ids are
// fixed by the program rather than by user input.
func MustChild(parent *Info, id, dir string) *Info {
	info, err := NewChild(parent, id, dir)
	if err != nil {
		panic(err)
	}
	return info
}

// InfoOf returns the Info of scope. For a construct that is not a Scope it
// asks jsii for the path and registers the construct on first use.
func InfoOf(scope constructs.IConstruct) *Info {
	if s, ok := scope.(Scope); ok {
		return s.Info()
	}
	root := scope.Node().Root()
	rs, ok := root.(Scope)
	if !ok {
		panic(fmt.Errorf("construct %q is not inside a core.App: create the tree with core.NewApp", *scope.Node().Path()))
	}
	t := rs.Info().tree
	p := *scope.Node().Path()
	if info, ok := t.paths[p]; ok {
		return info
	}
	parent := rs.Info()
	if i := strings.LastIndex(p, "/"); i >= 0 {
		parent = InfoOf(scope.Node().Scope())
		return MustChild(parent, p[i+1:], "")
	}
	return MustChild(parent, p, "")
}
