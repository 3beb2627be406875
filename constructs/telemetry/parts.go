package telemetry

import (
	"cmp"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/ingress"
	"github.com/funoffshore/homelab/constructs/monitoring"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/security"
	"github.com/funoffshore/homelab/constructs/storage"
)

// Dir is the directory of the telemetry parts below
// cluster/kubernetes/platform.
const Dir = "telemetry"

// Datasource uids in Grafana, by which the datasources refer to each
// other.
const (
	LokiDatasourceUID  = "loki"
	TempoDatasourceUID = "tempo"
)

// grafanaPods are the monitoring stack's Grafana pods.
func grafanaPods(namespace string) security.Peer {
	return security.Pods(namespace, map[string]string{"app.kubernetes.io/name": "grafana"})
}

// LokiPart runs Loki (NewLoki) as a platform part, after the monitoring
// stack (before it in the parts) when the homelab has one: its ruler
// sends to the stack's Alertmanager, Grafana gets it as a datasource
// (with a log line's trace ID opening the trace in Tempo, when TempoPart
// runs too), and the stack scrapes it. Its volume gets the platform's
// default class when props leave it out; the homelab's log alerts
// (HomelabLogRules) are added to props.Rules.
func LokiPart(props *LokiProps) platform.Part {
	lp := &lokiPart{props: *cmp.Or(props, &LokiProps{})}
	lp.props.Namespace = cmp.Or(lp.props.Namespace, "loki")
	return lp
}

type lokiPart struct {
	props LokiProps
	l     *Loki
	stack *monitoring.Stack
}

func (lp *lokiPart) Charts() []flux.Chart { return []flux.Chart{LokiChart} }

// Namespaces: Loki's pods run as the chart's restricted security
// contexts allow; internal (logs hold what the apps print).
func (lp *lokiPart) Namespaces() []platform.Namespace {
	return []platform.Namespace{{Name: lp.props.Namespace, PodSecurity: "restricted", Internal: true}}
}

func (lp *lokiPart) Build(p *platform.Platform) {
	props := lp.props
	if props.Volume.Class == nil {
		props.Volume.Class = storage.DefaultClass(p)
	}
	props.Rules = append(HomelabLogRules(), props.Rules...)
	lp.stack, _ = platform.Find[*monitoring.Stack](p)
	if lp.stack != nil && props.Alertmanager == "" {
		props.Alertmanager = lp.stack.AlertmanagerURL()
		lp.stack.AcceptAlertsFrom(security.Pods(props.Namespace, lokiPods()))
	}
	lp.l = NewLoki(p.Chart(Dir), "loki", p.Repository(LokiChart), &props)
	p.Add(lp.l)
	if lp.stack != nil {
		json := map[string]any{"maxLines": 1000}
		if hasPart[*tempoPart](p) {
			// A trace ID in a log line (trace_id=..., "traceID":"...")
			// opens the trace in Tempo.
			json["derivedFields"] = []map[string]any{{
				"name": "TraceID", "matcherRegex": `(?:trace_?[iI][dD])"?[=:]\s*"?([0-9a-fA-F]{16,32})`,
				"url": "${__value.raw}", "datasourceUid": TempoDatasourceUID, "urlDisplayLabel": "Open the trace",
			}}
		}
		newDashboard(p.Chart(Dir), "logs-dashboard", lp.l.Namespace)
		lp.stack.AddDatasource(monitoring.Datasource{Name: "Loki", UID: LokiDatasourceUID, Type: "loki", URL: lp.l.URL(), JSONData: json,
			To: security.Pods(lp.l.Namespace, lokiPods()).On(security.TCP(lp.l.Port))})
	}
}

// Scrapes: Loki serves its metrics on its API port.
func (lp *lokiPart) Scrapes() []platform.Scrape {
	l := lp.l
	return []platform.Scrape{{
		To: security.Pods(l.Namespace, lokiPods()).On(security.TCP(l.Port)),
		Monitor: &platform.Monitor{Name: "loki", Namespace: l.Namespace, Port: "http-metrics",
			Selector: map[string]string{"app.kubernetes.io/name": "loki", "app.kubernetes.io/instance": "loki", "app.kubernetes.io/component": "single-binary"}},
	}}
}

// Isolate admits the collectors' pushes, Grafana's queries and the
// scrapes on Loki's API port (its components reach each other in the
// process and on loopback: NewLoki); Loki reaches the API
// server (the rules sidecar watches ConfigMaps), the cluster DNS and the
// stack's Alertmanager.
func (lp *lokiPart) Isolate(p *platform.Platform, scope constructs.Construct) {
	l := lp.l
	api := security.TCP(l.Port)
	var ingress []security.Peer
	if c, ok := platform.Find[*Collector](p); ok {
		ingress = append(ingress, security.Pods(c.Namespace, collectorPods()).On(api))
	}
	egress := []security.Peer{security.DNS(), p.APIServer()}
	if lp.stack != nil {
		ingress = append(ingress, grafanaPods(lp.stack.Namespace).On(api))
		egress = append(egress, lp.stack.AlertmanagerPods())
	}
	security.NewIsolation(scope, "loki", &security.IsolationProps{
		Namespace: l.Namespace,
		Ingress:   append(ingress, p.ScrapedOn(api)...),
		Egress:    egress,
	})
}

// TempoPart runs Tempo (NewTempo) as a platform part, after the
// monitoring stack when the homelab has one: Grafana gets it as a
// datasource (a trace opens its logs in Loki, when LokiPart runs too, and
// its metrics in Prometheus), and the stack scrapes it.
func TempoPart(props *TempoProps) platform.Part {
	tp := &tempoPart{props: *cmp.Or(props, &TempoProps{})}
	tp.props.Namespace = cmp.Or(tp.props.Namespace, "tempo")
	return tp
}

type tempoPart struct {
	props TempoProps
	t     *Tempo
	stack *monitoring.Stack
}

func (tp *tempoPart) Charts() []flux.Chart { return []flux.Chart{TempoChart} }

// Namespaces: Tempo runs with restricted security contexts (set here:
// the chart sets only the user); internal.
func (tp *tempoPart) Namespaces() []platform.Namespace {
	return []platform.Namespace{{Name: tp.props.Namespace, PodSecurity: "restricted", Internal: true}}
}

func (tp *tempoPart) Build(p *platform.Platform) {
	props := tp.props
	if props.Volume.Class == nil {
		props.Volume.Class = storage.DefaultClass(p)
	}
	tp.t = NewTempo(p.Chart(Dir), "tempo", p.Repository(TempoChart), &props)
	p.Add(tp.t)
	tp.stack, _ = platform.Find[*monitoring.Stack](p)
	if tp.stack == nil {
		return
	}
	json := map[string]any{
		"tracesToMetrics": map[string]any{"datasourceUid": monitoring.PrometheusDatasourceUID},
		"serviceMap":      map[string]any{"datasourceUid": monitoring.PrometheusDatasourceUID},
		"nodeGraph":       map[string]any{"enabled": true},
	}
	if hasPart[*lokiPart](p) {
		// A span opens the logs of its service's pods around its time,
		// those with its trace ID.
		json["tracesToLogsV2"] = map[string]any{"datasourceUid": LokiDatasourceUID, "filterByTraceID": true,
			"spanStartTimeShift": "-5m", "spanEndTimeShift": "5m",
			"tags": []map[string]any{{"key": "k8s.namespace.name", "value": "namespace"}, {"key": "service.name", "value": "app"}}}
		json["lokiSearch"] = map[string]any{"datasourceUid": LokiDatasourceUID}
	}
	tp.stack.AddDatasource(monitoring.Datasource{Name: "Tempo", UID: TempoDatasourceUID, Type: "tempo", URL: tp.t.URL(), JSONData: json,
		To: security.Pods(tp.t.Namespace, tempoPods()).On(security.TCP(tp.t.HTTPPort))})
}

// Scrapes: Tempo serves its metrics on its HTTP port.
func (tp *tempoPart) Scrapes() []platform.Scrape {
	t := tp.t
	return []platform.Scrape{{
		To:      security.Pods(t.Namespace, tempoPods()).On(security.TCP(t.HTTPPort)),
		Monitor: &platform.Monitor{Name: "tempo", Namespace: t.Namespace, Port: "tempo-prom-metrics", Selector: tempoPods()},
	}}
}

// Isolate admits the collectors' OTLP, Grafana's queries and the scrapes;
// Tempo reaches the cluster DNS only (one process: no peers to gossip
// with).
func (tp *tempoPart) Isolate(p *platform.Platform, scope constructs.Construct) {
	t := tp.t
	var ingress []security.Peer
	if c, ok := platform.Find[*Collector](p); ok {
		ingress = append(ingress, security.Pods(c.Namespace, collectorPods()).On(security.TCP(t.OTLPPort)))
	}
	if tp.stack != nil {
		ingress = append(ingress, grafanaPods(tp.stack.Namespace).On(security.TCP(t.HTTPPort)))
	}
	security.NewIsolation(scope, "tempo", &security.IsolationProps{
		Namespace: t.Namespace,
		Ingress:   append(ingress, p.ScrapedOn(security.TCP(t.HTTPPort))...),
		Egress:    []security.Peer{security.DNS()},
	})
}

// CollectorPart runs the collector (NewCollector) as a platform part,
// after LokiPart and TempoPart: it sends to those the homelab runs, has
// every node send its Talos logs to it when Loki runs, and has the
// ingress controller (ingress.NginxPart) send a span per request when
// Tempo runs.
func CollectorPart(props *CollectorProps) platform.Part {
	cp := &collectorPart{props: *cmp.Or(props, &CollectorProps{})}
	cp.props.Namespace = cmp.Or(cp.props.Namespace, "alloy")
	return cp
}

type collectorPart struct {
	props CollectorProps
	c     *Collector
}

func (cp *collectorPart) Charts() []flux.Chart { return []flux.Chart{AlloyChart} }

// Namespaces: the collector reads the nodes' /var/log and listens on a
// host port, which only the privileged level admits; internal.
func (cp *collectorPart) Namespaces() []platform.Namespace {
	return []platform.Namespace{{Name: cp.props.Namespace, PodSecurity: "privileged", Internal: true}}
}

func (cp *collectorPart) Build(p *platform.Platform) {
	_, cp.props.Metrics = p.Scraper()
	props := cp.props
	loki, _ := platform.Find[*Loki](p)
	tempo, _ := platform.Find[*Tempo](p)
	cp.c = NewCollector(p.Chart(Dir), "alloy", p.Repository(AlloyChart), &props, loki, tempo)
	p.Add(cp.c)
	if n, ok := platform.Find[*ingress.Nginx](p); ok && tempo != nil {
		n.SendTraces(cp.c.Service+"."+cp.c.Namespace+".svc.cluster.local", cp.c.OTLPGRPCPort,
			security.Pods(cp.c.Namespace, collectorPods()).On(security.TCP(cp.c.OTLPGRPCPort)))
	}
}

// Scrapes: the collector serves its metrics on its HTTP port.
func (cp *collectorPart) Scrapes() []platform.Scrape {
	c := cp.c
	if !cp.props.Metrics {
		return nil
	}
	return []platform.Scrape{{
		To:      security.Pods(c.Namespace, collectorPods()).On(security.TCP(c.HTTPPort)),
		Monitor: &platform.Monitor{Name: "alloy", Namespace: c.Namespace, Port: "http-metrics", Selector: collectorPods()},
	}}
}

// Isolate admits OTLP from every namespace's pods (an
// app's egress must let it out: apps.App.SendTraces) and the scrapes; the
// collector reaches the API server (discovery, events), the cluster DNS,
// Loki and Tempo.
func (cp *collectorPart) Isolate(p *platform.Platform, scope constructs.Construct) {
	c := cp.c
	// No rule admits the nodes' logs: machined sends them as root, and
	// the policy engine Talos runs never queues root's packets
	// (kube-network-policies controller.go:625-640, pkg/oracle/netpol),
	// while anything else reaching the host port (a pod, a LAN host
	// forging a node's logs) is not admitted.
	var ingress []security.Peer
	if c.tempo != nil {
		ingress = append(ingress, security.AllNamespaces().On(security.TCP(c.OTLPGRPCPort), security.TCP(c.OTLPHTTPPort)))
	}
	egress := []security.Peer{security.DNS(), p.APIServer()}
	if l := c.loki; l != nil {
		egress = append(egress, security.Pods(l.Namespace, lokiPods()).On(security.TCP(l.Port)))
	}
	if t := c.tempo; t != nil {
		egress = append(egress, security.Pods(t.Namespace, tempoPods()).On(security.TCP(t.OTLPPort)))
	}
	security.NewIsolation(scope, "alloy", &security.IsolationProps{
		Namespace: c.Namespace,
		Ingress:   append(ingress, p.ScrapedOn(security.TCP(c.HTTPPort))...),
		Egress:    egress,
	})
}

// hasPart reports whether the platform runs a part of type T.
func hasPart[T platform.Part](p *platform.Platform) bool {
	for _, part := range p.Parts() {
		if _, ok := part.(T); ok {
			return true
		}
	}
	return false
}
