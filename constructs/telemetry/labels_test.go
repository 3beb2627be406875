package telemetry_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/grafana/alloy/syntax/ast"
	"github.com/grafana/alloy/syntax/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/telemetry"
	"github.com/funoffshore/homelab/homelab"
)

// collectedLabels are the stream labels the collector's configuration
// sets, read with Alloy's parser: the relabel rules' targets, the label
// stages' and listeners' keys, and the events' job.
func collectedLabels(t *testing.T, config []byte) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile("config.alloy", config)
	require.NoError(t, err)
	out := map[string]bool{}
	objectKeys := func(e ast.Expr) {
		if o, ok := e.(*ast.ObjectExpr); ok {
			for _, fl := range o.Fields {
				out[fl.Name.Name] = true
			}
		}
	}
	var walk func(body ast.Body, block string)
	walk = func(body ast.Body, block string) {
		for _, st := range body {
			switch s := st.(type) {
			case *ast.BlockStmt:
				walk(s.Body, strings.Join(s.Name, "."))
			case *ast.AttributeStmt:
				switch {
				case block == "rule" && s.Name.Name == "target_label":
					if lit, ok := s.Value.(*ast.LiteralExpr); ok {
						v, _ := strconv.Unquote(lit.Value)
						if !strings.HasPrefix(v, "__") {
							out[v] = true
						}
					}
				case (block == "stage.labels" || block == "stage.static_labels") && s.Name.Name == "values", block == "listener" && s.Name.Name == "labels":
					objectKeys(s.Value)
				case block == "loki.source.kubernetes_events" && s.Name.Name == "job_name":
					out["job"] = true
				}
			}
		}
	}
	walk(f.Body, "")
	return out
}

var selectorLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"`)

// TestLogQueriesSelectCollectedLabels: every stream label the log rules
// and the logs dashboard select on is one the collector sets, so no
// query silently matches nothing.
func TestLogQueriesSelectCollectedLabels(t *testing.T) {
	_, h := homelab.NewApp(nil)
	labels := collectedLabels(t, h.Collector.Config)
	for _, want := range []string{"namespace", "pod", "container", "app", "node", "job", "service", "level"} {
		assert.True(t, labels[want], "the collector sets %s", want)
	}
	var queries []string
	for _, r := range telemetry.HomelabLogRules() {
		queries = append(queries, r.Expr())
	}
	for _, p := range telemetry.LogsDashboard().Panels {
		for _, tg := range p.Targets {
			queries = append(queries, tg.Expr)
		}
	}
	for _, q := range queries {
		open := strings.Index(q, "{")
		end := strings.Index(q, "}")
		require.True(t, open >= 0 && end > open, "%q has a stream selector", q)
		for _, m := range selectorLabel.FindAllStringSubmatch(q[open:end], -1) {
			assert.True(t, labels[m[1]], "%q selects on %s, which the collector does not set", q, m[1])
		}
	}
}
