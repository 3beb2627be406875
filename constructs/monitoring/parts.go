package monitoring

import (
	"cmp"
	"slices"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/constructs/security"
	"github.com/funoffshore/homelab/constructs/storage"
)

// StackChart pins kube-prometheus-stack (prometheus-operator v0.93.1)
// and the subcharts its values are written for.
// renovate: datasource=helm
var StackChart = flux.Chart{Repository: "https://prometheus-community.github.io/helm-charts", Name: "kube-prometheus-stack", Version: "88.5.3",
	RepositoryName: "prometheus-community",
	Dependencies:   map[string]string{"crds": "0.0.0", "kube-state-metrics": "8.4.0", "prometheus-node-exporter": "4.56.1", "grafana": "12.11.1", "prometheus-windows-exporter": "0.12.8"}}

// Dir is the directory of the monitoring part below
// cluster/kubernetes/platform.
const Dir = "monitoring"

// PartProps configure the monitoring part.
type PartProps struct {
	// Stack configures kube-prometheus-stack. A Volume without a class
	// gets the platform's default class (storage.DefaultClass).
	Stack StackProps
	// Alerts is where Alertmanager sends alerts; its Secret is declared.
	// Required.
	Alerts Receiver
}

// StackPart runs kube-prometheus-stack (NewStack) as a platform part: it
// scrapes every part's metrics (platform.Scraped) with monitors, routes
// its alerts (NewAlerting), declares the Secrets of Grafana's admin and
// of the receiver, and isolates its namespace.
func StackPart(props *PartProps) platform.Part {
	sp := &stackPart{props: *cmp.Or(props, &PartProps{})}
	sp.props.Stack.Namespace = cmp.Or(sp.props.Stack.Namespace, "monitoring")
	return sp
}

type stackPart struct {
	props PartProps
	s     *Stack
}

func (sp *stackPart) Charts() []flux.Chart { return []flux.Chart{StackChart} }

// Namespaces: the node exporter runs privileged.
func (sp *stackPart) Namespaces() []platform.Namespace {
	return []platform.Namespace{{Name: sp.props.Stack.Namespace, PodSecurity: "privileged"}}
}

func (sp *stackPart) Build(p *platform.Platform) {
	props := sp.props.Stack
	if props.Dashboards == nil {
		props.Dashboards = append(DefaultDashboards(), p.Dashboards()...)
	}
	if props.Volume.Class == nil {
		props.Volume.Class = storage.DefaultClass(p)
	}
	chart := p.Chart(Dir)
	sp.s = NewStack(chart, "kube-prometheus-stack", p.Repository(StackChart), &props)
	p.Add(sp.s)
	if name, keys := sp.props.Alerts.Secret(); name != "" {
		p.Secret(chart, name, &secret.Props{Namespace: sp.s.Namespace, Name: name, Keys: keys})
	}
	p.Secret(chart, "grafana-admin", &secret.Props{Namespace: sp.s.Namespace, Name: sp.s.AdminSecret, Keys: []string{"admin-user", "admin-password"}})
}

// ScraperPods are Prometheus' pods, as prometheus-operator labels them.
func (sp *stackPart) ScraperPods() security.Peer {
	return security.Pods(sp.props.Stack.Namespace, map[string]string{"app.kubernetes.io/name": "prometheus"})
}

// Configure adds the monitors of every scraped endpoint and the alert
// routing.
func (sp *stackPart) Configure(p *platform.Platform, scope constructs.Construct) {
	var targets []Target
	for _, s := range p.Scrapes() {
		if s.Monitor != nil {
			targets = append(targets, *s.Monitor)
		}
	}
	NewMonitors(scope, "monitors", sp.s.Namespace, targets, p.Alerts())
	p.Add(NewAlerting(scope, "alerting", sp.s, &AlertingProps{Receiver: sp.props.Alerts}))
}

// Isolate: the API server calls the operator's admission webhook for
// PrometheusRules and AlertmanagerConfigs (the chart's port 10250); the
// stack scrapes and queries any namespace but the platform's, where it
// reaches only the metrics ports (platform.Scraped), the nodes' metrics
// and API server, and the alert receivers on the internet.
func (sp *stackPart) Isolate(p *platform.Platform, scope constructs.Construct) {
	ns := sp.s.Namespace
	var egress []security.Peer
	for _, s := range p.Scrapes() {
		egress = append(egress, s.To)
	}
	// Other parts' senders of alerts reach Alertmanager's port only.
	var senders []security.Peer
	for _, from := range sp.s.AlertSenders() {
		senders = append(senders, from.On(security.TCP(9093)))
	}
	// Grafana queries the datasources other parts added.
	// (A datasource that is also a scrape target on the same port is
	// admitted once.)
	for _, d := range sp.s.Datasources() {
		if !slices.ContainsFunc(egress, func(e security.Peer) bool { return e.String() == d.To.String() }) {
			egress = append(egress, d.To)
		}
	}
	// The platform's namespaces: the internal ones and the edge
	// (ingress-nginx, whose admission webhook a pod must not reach: an
	// injection there ran code in the controller, CVE-2025-1974; and the
	// tunnel).
	platformNS := p.InternalNamespaces()
	for _, n := range p.Namespaces() {
		if !n.Internal && n.Name != ns {
			platformNS = append(platformNS, n.Name)
		}
	}
	security.NewIsolation(scope, "monitoring", &security.IsolationProps{
		Namespace: ns,
		Ingress:   append(append([]security.Peer{security.OwnNamespace()}, p.WebhookCallers(10250)...), senders...),
		Egress: append(egress, security.DNS(), security.AllNamespacesExcept(platformNS...),
			// Scrapes of host-network targets and the API server on the nodes.
			p.Nodes().On(security.TCP(6443), security.TCP(9100), security.TCP(10250), security.TCP(10257), security.TCP(10259), security.TCP(2381)),
			// Alertmanager's receivers (Telegram, Discord, webhooks on
			// HTTPS; mail on submission ports) and grafana.com, for the
			// dashboards pinned by id.
			p.Internet().On(security.TCP(443), security.TCP(587), security.TCP(465)),
		),
	})
}
