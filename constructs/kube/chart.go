package kube

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"strings"

	"github.com/funoffshore/homelab/constructs/core"
)

// ChartProps configures a Chart.
type ChartProps struct {
	// Dir is the output directory relative to the output root, such as
	// "kubernetes/platform/storage". Required.
	Dir string
}

// Chart is a cdk8s Chart that renders to one output directory. Synth writes
// each of its units (the constructs directly below it) to "<id>.yaml" in
// Dir, plus a kustomization.yaml listing those files and the charts below.
type Chart struct {
	cdk8s.Chart
	info *core.Info
}

// NewChart returns a chart below scope rendering to props.Dir. A missing,
// malformed or taken directory or id is a validation error naming the
// chart's path.
func NewChart(scope constructs.Construct, id string, props *ChartProps) *Chart {
	parent := core.InfoOf(scope)
	dir := ""
	if props != nil {
		dir = props.Dir
	}
	if dir == "" {
		p := strings.TrimPrefix(parent.Path()+"/"+id, "/")
		parent.Tree().AddValidation(func() []error {
			return []error{core.Errorf(p, `set ChartProps.Dir to the output directory, such as "kubernetes/apps"`, "chart has no output directory")}
		})
		dir = ".invalid/no-dir-" + strings.ReplaceAll(id, "/", "_")
	}
	info, jsiiID := core.Child(parent, id, dir)
	c := &Chart{info: info}
	cdk8s.NewChart_Override(c, scope, jsii.String(jsiiID), &cdk8s.ChartProps{DisableResourceNameHashes: jsii.Bool(true)})
	return c
}

// Info returns the chart's place in the tree.
func (c *Chart) Info() *core.Info { return c.info }

// Dir returns the output directory.
func (c *Chart) Dir() string { return c.info.Dir() }

// ToString overrides the jsii method; it returns the construct path.
func (c *Chart) ToString() *string { return core.PathString(c.info) }

// Group is a construct that only groups others; below a chart, its id names
// the file its objects are written to.
type Group struct {
	constructs.Construct
	info *core.Info
}

// NewGroup returns an empty group below scope.
func NewGroup(scope constructs.Construct, id string) *Group {
	g := &Group{}
	g.info = core.Init(g, scope, id)
	return g
}

// Info returns the group's place in the tree.
func (g *Group) Info() *core.Info { return g.info }

// ToString overrides the jsii method; it returns the construct path.
func (g *Group) ToString() *string { return core.PathString(g.info) }
