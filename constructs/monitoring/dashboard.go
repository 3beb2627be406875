package monitoring

// GrafanaDashboard is the part of Grafana's dashboard JSON model this
// package builds.
type GrafanaDashboard struct {
	UID           string         `json:"uid"`
	Title         string         `json:"title"`
	Tags          []string       `json:"tags"`
	SchemaVersion int            `json:"schemaVersion"`
	Refresh       string         `json:"refresh"`
	Time          map[string]any `json:"time"`
	Panels        []Panel        `json:"panels"`
}

// Panel is a dashboard panel.
type Panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	GridPos    GridPos        `json:"gridPos"`
	Datasource map[string]any `json:"datasource"`
	Targets    []PanelTarget  `json:"targets"`
}

// GridPos places a panel on Grafana's 24-column grid. Grafana reads the
// keys case-sensitively (h, w, x, y).
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// PanelTarget is a panel's query.
type PanelTarget struct {
	Expr         string `json:"expr"`
	LegendFormat string `json:"legendFormat,omitempty"`
	RefID        string `json:"refId"`
}

// FluxDashboard returns the Flux reconciliation dashboard: objects not
// ready, suspended objects, and reconcile durations per kind.
func FluxDashboard() GrafanaDashboard {
	ds := map[string]any{"type": "prometheus", "uid": "prometheus"}
	panel := func(id int, typ, title string, x, y, w int, exprs ...[2]string) Panel {
		p := Panel{ID: id, Type: typ, Title: title, GridPos: GridPos{H: 8, W: w, X: x, Y: y}, Datasource: ds}
		for i, e := range exprs {
			p.Targets = append(p.Targets, PanelTarget{Expr: e[0], LegendFormat: e[1], RefID: string(rune('A' + i))})
		}
		return p
	}
	return GrafanaDashboard{
		UID: "homelab-flux", Title: "Flux reconciliation status", Tags: []string{"flux", "homelab"},
		SchemaVersion: 39, Refresh: "1m", Time: map[string]any{"from": "now-6h", "to": "now"},
		Panels: []Panel{
			panel(1, "stat", "Kustomizations not ready", 0, 0, 8, [2]string{`count(gotk_resource_info{customresource_kind="Kustomization", ready="False"}) or vector(0)`, ""}),
			panel(2, "stat", "HelmReleases not ready", 8, 0, 8, [2]string{`count(gotk_resource_info{customresource_kind="HelmRelease", ready="False"}) or vector(0)`, ""}),
			panel(3, "stat", "Suspended", 16, 0, 8, [2]string{`count(gotk_resource_info{suspended="true"}) or vector(0)`, ""}),
			panel(4, "table", "Objects", 0, 8, 24, [2]string{`gotk_resource_info`, "{{customresource_kind}} {{exported_namespace}}/{{name}}"}),
			panel(5, "timeseries", "Reconcile duration (p95)", 0, 16, 24,
				[2]string{`histogram_quantile(0.95, sum by (kind, le) (rate(gotk_reconcile_duration_seconds_bucket[5m])))`, "{{kind}}"}),
		},
	}
}
