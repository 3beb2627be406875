package telemetry_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/grafana/alloy/syntax/ast"
	"github.com/grafana/alloy/syntax/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/funoffshore/homelab/constructs/telemetry"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/fixtures/fetch"
	"github.com/funoffshore/homelab/pkg/testenv"
)

// alloySource is Grafana Alloy's source at the release the pinned chart
// runs (its appVersion), from the Go module proxy.
func alloySource(t *testing.T) string {
	t.Helper()
	chrt, err := loader.Load(testenv.Fixture(t, fixtures.ChartFile(telemetry.AlloyChart)))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := fetch.ModuleDir(ctx, "github.com/grafana/alloy", chrt.Metadata.AppVersion)
	require.NoError(t, err, "Alloy %s's source from the module proxy", chrt.Metadata.AppVersion)
	return filepath.Join(dir, "internal", "component")
}

var (
	// A registration: component.Register(component.Registration{Name:
	// "loki.write", Stability: featuregate.StabilityGenerallyAvailable, ...
	registered = regexp.MustCompile(`Name:\s+"([a-z0-9_.]+)",\s+Stability:\s+featuregate\.(\w+),`)
	alloyTag   = regexp.MustCompile("`[^`]*alloy:\"([a-z0-9_]+),")
)

// component is what Alloy's source says of a component: where it is
// registered, whether it is experimental, the argument names of its
// package (and the shared argument types it embeds).
type component struct {
	dir          string
	experimental bool
	args         map[string]bool
}

// components indexes the components registered in Alloy's source.
func components(t *testing.T, src string) map[string]*component {
	t.Helper()
	tags := func(dirs ...string) map[string]bool {
		out := map[string]bool{}
		for _, d := range dirs {
			_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
				if err != nil || e.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
					return err
				}
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				for _, m := range alloyTag.FindAllStringSubmatch(string(data), -1) {
					out[m[1]] = true
				}
				return nil
			})
		}
		return out
	}
	shared := []string{filepath.Join(src, "common"), filepath.Join(src, "otelcol", "config")}
	// The otelcol package's own files hold the shared client/server types.
	otelShared := map[string]bool{}
	entries, err := os.ReadDir(filepath.Join(src, "otelcol"))
	require.NoError(t, err)
	for _, e := range entries {
		if !e.IsDir() {
			shared = append(shared, filepath.Join(src, "otelcol", e.Name()))
			otelShared[e.Name()] = true
		}
	}
	out := map[string]*component{}
	require.NoError(t, filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		text := string(data)
		if !strings.Contains(text, "component.Register(") {
			return nil
		}
		for _, m := range registered.FindAllStringSubmatch(text, -1) {
			dir := filepath.Dir(p)
			args := tags(append([]string{dir}, shared...)...)
			out[m[1]] = &component{dir: dir, experimental: m[2] == "StabilityExperimental", args: args}
		}
		return nil
	}))
	return out
}

// TestCollectorConfigAgainstAlloy reads the collector's configuration
// with Alloy's own parser and checks it against Alloy's source at the
// release the chart runs: every block is a registered component, every
// argument and nested block name is one its arguments declare, and the
// stability level the chart runs admits each component and the raw
// syslog format (loki/source/syslog/syslog.go:150 refuses it below
// experimental).
func TestCollectorConfigAgainstAlloy(t *testing.T) {
	_, h := homelab.NewApp(nil)
	c := h.Collector
	src := alloySource(t)
	comps := components(t, src)
	require.Contains(t, comps, "loki.write", "the index of Alloy's components is empty: the source layout changed")

	f, err := parser.ParseFile("config.alloy", c.Config)
	require.NoError(t, err)
	level := ""
	for _, o := range testenv.RenderRelease(t, c.Release) {
		if o.GetKind() != "DaemonSet" {
			continue
		}
		ds := convert[appsv1.DaemonSet](t, o)
		for _, ct := range ds.Spec.Template.Spec.Containers {
			for _, a := range ct.Args {
				if v, ok := strings.CutPrefix(a, "--stability.level="); ok {
					level = v
				}
			}
		}
	}
	require.NotEmpty(t, level, "the chart passes Alloy a stability level")

	var names []string
	for _, st := range f.Body {
		b, ok := st.(*ast.BlockStmt)
		if !ok {
			continue
		}
		name := strings.Join(b.Name, ".")
		names = append(names, name)
		comp, ok := comps[name]
		if !assert.True(t, ok, "%s is no component of Alloy", name) {
			continue
		}
		if comp.experimental {
			assert.Equal(t, "experimental", level, "%s is experimental", name)
		}
		var check func(body ast.Body, at string)
		check = func(body ast.Body, at string) {
			for _, st := range body {
				switch s := st.(type) {
				case *ast.AttributeStmt:
					assert.True(t, comp.args[s.Name.Name], "%s: %s.%s is no argument of %s (in %s)", name, at, s.Name.Name, name, comp.dir)
					if name == "loki.source.syslog" && s.Name.Name == "syslog_format" {
						if lit, ok := s.Value.(*ast.LiteralExpr); ok && lit.Value == `"raw"` {
							assert.Equal(t, "experimental", level, "the raw syslog format needs the experimental level")
						}
					}
				case *ast.BlockStmt:
					for _, part := range s.Name {
						assert.True(t, comp.args[part], "%s: block %s.%s is none of %s's", name, at, strings.Join(s.Name, "."), name)
					}
					check(s.Body, at+"."+strings.Join(s.Name, "."))
				}
			}
		}
		check(b.Body, b.Label)
	}
	// The pipelines the homelab's parts ask for are all there.
	for _, want := range []string{"loki.source.file", "loki.source.kubernetes_events", "loki.source.syslog", "loki.write", "otelcol.receiver.otlp", "otelcol.exporter.otlp"} {
		assert.Contains(t, names, want)
	}
	// Where the upstream line is: the raw format's refusal below
	// experimental.
	data, err := os.ReadFile(filepath.Join(src, "loki", "source", "syslog", "syslog.go"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "syslog format is available only at experimental stability level")
}
