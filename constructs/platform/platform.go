// Package platform is the one shape of every platform part (Longhorn,
// NFS, ingress-nginx, the tunnel, the monitoring stack, the etcd
// snapshots, and whatever comes next).
//
// A Part declares its Helm charts and its namespaces, and builds its
// constructs into a Platform. A part may also implement Isolated (it
// renders its namespaces' NetworkPolicies), Scraped (it exposes metrics
// for the monitoring stack) and Configured (it adds custom resources of
// the charts' CRDs, applied after every chart is ready). The composition
// holds a list of parts and runs them in phases, in list order: Build,
// then Isolate, then Configure. A part that does not run is absent from
// the list; parts find each other's constructs with Find.
//
// What a part needs from the nodes (Talos extensions, mounts, volumes)
// and the workloads it runs (for the capacity check) are declared by its
// constructs in the tree's records (core.NodeNeeds, core.Workloads), so
// the platform never imports the OS layer.
package platform

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/constructs/security"
)

// Part is a piece of the platform.
type Part interface {
	// Charts are the Helm charts the part installs; each gets a
	// HelmRepository (shared by name with other parts') before any part
	// builds. None for a part of plain objects.
	Charts() []flux.Chart
	// Namespaces the part creates, with their Pod Security levels.
	Namespaces() []Namespace
	// Build adds the part's constructs to p, below p.Chart of its
	// directory. Parts build in list order: a part finds the constructs
	// of those before it with Find.
	Build(p *Platform)
}

// Isolated is a part that renders the NetworkPolicies of its namespaces
// (after every part has built), below scope.
type Isolated interface {
	Isolate(p *Platform, scope constructs.Construct)
}

// Scraped is a part whose metrics the monitoring stack scrapes.
type Scraped interface {
	// Scrapes are its metrics endpoints (after Build).
	Scrapes() []Scrape
}

// Alerted is a part with alerting rules of its own, which the
// monitoring stack evaluates: a part that does not run brings none, so
// no alert watches for something the homelab does not have.
type Alerted interface {
	// Alerts are its groups of alerting rules.
	Alerts() []AlertGroup
}

// AlertGroup is a named group of alerting rules.
type AlertGroup struct {
	Name   string
	Alerts []Alert
}

// Alert is an alerting rule: it fires when Expr (PromQL) has been true
// for For (a Prometheus duration), with a severity ("critical",
// "warning", "info") and a summary (a template over the series' labels).
type Alert struct {
	Name, Expr, For, Severity, Summary string
}

// Dashboarded is a part with Grafana dashboards of its own, which the
// monitoring stack provisions. Dashboards is called before the part
// builds: it depends on the part's props only.
type Dashboarded interface {
	Dashboards() []Dashboard
}

// Dashboard is a grafana.com dashboard pinned by id and revision.
type Dashboard struct {
	// Name is the key in Grafana's provider ("longhorn").
	Name string
	// GnetID and Revision pin the dashboard on grafana.com.
	GnetID, Revision int
}

// Configured is a part with custom resources of the charts' CRDs (a
// recurring backup, monitors, alerting): they go below scope, a chart
// applied once every chart of the platform is ready.
type Configured interface {
	Configure(p *Platform, scope constructs.Construct)
}

// Scraper is the part that scrapes the others' metrics: the monitoring
// stack.
type Scraper interface {
	// ScraperPods are the pods that scrape (Prometheus'), which the
	// metrics ports admit.
	ScraperPods() security.Peer
}

// Namespace is a namespace a part runs in.
type Namespace struct {
	// Name of the namespace.
	Name string
	// PodSecurity level enforced in it ("privileged", "baseline",
	// "restricted"); empty keeps the cluster default.
	PodSecurity string
	// Existing marks a namespace the cluster already has (kube-system):
	// Flux labels it but never deletes it.
	Existing bool
	// Internal marks a namespace that serves no Ingress and no
	// dashboard (storage): the ingress controller does not reach it.
	Internal bool
}

// Scrape is a metrics endpoint of a part.
type Scrape struct {
	// To is what Prometheus reaches: the pods (or namespace) and the
	// metrics port, for the monitoring stack's egress.
	To security.Peer
	// Monitor is the ServiceMonitor or PodMonitor to make; nil when the
	// stack scrapes the endpoint already (the cluster DNS).
	Monitor *Monitor
}

// Monitor is a ServiceMonitor (or PodMonitor) target.
type Monitor struct {
	// Name of the monitor.
	Name string
	// Namespace the target runs in.
	Namespace string
	// Selector labels of the pods (Pod) or Service.
	Selector map[string]string
	// Pod scrapes pods directly (PodMonitor) instead of a Service.
	Pod bool
	// Port is the name of the metrics port.
	Port string
}

// Cluster is what the platform's policies need to know of the cluster
// it runs on, as neutral values (the composition fills it from the OS
// layer).
type Cluster struct {
	// Nodes is the node network; Pods the pod network.
	Nodes, Pods netip.Prefix
	// NodeCount is the number of nodes.
	NodeCount int
	// ControlPlanesRunPods says pods run on the control planes too.
	ControlPlanesRunPods bool
	// Namespaces are the cluster's own namespaces the platform reaches
	// (kube-system, flux-system): internal to every part.
	Namespaces []string
	// Scrapes are the cluster's own metrics endpoints (the cluster DNS,
	// the Flux controllers), scraped before the parts'.
	Scrapes []Scrape
}

// Props configure a Platform.
type Props struct {
	// Cluster describes the cluster the parts run on.
	Cluster Cluster
	// Secrets supply the parts' Secrets (secret.Props.Source).
	Secrets secret.Source
	// Parts are the parts to run, in order.
	Parts []Part
}

// Platform is the context every part builds into: the chart of
// cluster/kubernetes/platform, one chart per part directory below it,
// the HelmRepositories, the cluster and the constructs built so far.
type Platform struct {
	root    *kube.Chart
	props   Props
	charts  map[string]*kube.Chart
	repos   map[string]*flux.HelmRepository
	built   []any
	secrets []*secret.Secret
}

// New makes the platform below root (cluster/kubernetes/platform) and
// the HelmRepository of every part's charts, in the parts' order, in
// root's group "repositories". A repository name used by two parts with
// different URLs panics: a programming error of the parts.
func New(root *kube.Chart, props *Props) *Platform {
	p := &Platform{root: root, props: *props, charts: map[string]*kube.Chart{}, repos: map[string]*flux.HelmRepository{}}
	var group constructs.Construct
	for _, part := range props.Parts {
		for _, c := range part.Charts() {
			name := c.Repo()
			if r := p.repos[name]; r != nil {
				if r.Spec.Spec.URL != c.Repository {
					panic(fmt.Sprintf("platform: HelmRepository %q is both %s and %s", name, r.Spec.Spec.URL, c.Repository))
				}
				continue
			}
			if group == nil {
				group = kube.NewGroup(root, "repositories")
			}
			p.repos[name] = flux.NewHelmRepository(group, name, &flux.HelmRepositoryProps{URL: c.Repository})
		}
	}
	return p
}

// Build runs every part's Build, in order.
func (p *Platform) Build() {
	for _, part := range p.props.Parts {
		part.Build(p)
	}
}

// Isolate runs every Isolated part's Isolate below scope, in order.
func (p *Platform) Isolate(scope constructs.Construct) {
	for _, part := range p.props.Parts {
		if i, ok := part.(Isolated); ok {
			i.Isolate(p, scope)
		}
	}
}

// Configure runs every Configured part's Configure below scope, in
// order.
func (p *Platform) Configure(scope constructs.Construct) {
	for _, part := range p.props.Parts {
		if c, ok := part.(Configured); ok {
			c.Configure(p, scope)
		}
	}
}

// Chart returns the chart of cluster/kubernetes/platform/dir, made on
// first use (its construct id is dir): parts of one directory share it.
func (p *Platform) Chart(dir string) *kube.Chart {
	c := p.charts[dir]
	if c == nil {
		c = kube.NewChart(p.root, dir, &kube.ChartProps{Dir: "kubernetes/platform/" + dir})
		p.charts[dir] = c
	}
	return c
}

// Repository returns the HelmRepository of c (made by New from the
// parts' Charts). A chart no part declared panics: declare it in Charts.
func (p *Platform) Repository(c flux.Chart) *flux.HelmRepository {
	r := p.repos[c.Repo()]
	if r == nil {
		panic(fmt.Sprintf("platform: chart %s is in no part's Charts", c.Name))
	}
	return r
}

// Add records constructs a part built, for the others' Find.
func (p *Platform) Add(built ...any) { p.built = append(p.built, built...) }

// Find returns the first construct of type T a part built (Add), in
// build order.
func Find[T any](p *Platform) (T, bool) {
	for _, b := range p.built {
		if t, ok := b.(T); ok {
			return t, true
		}
	}
	var zero T
	return zero, false
}

// Parts returns the parts, in order.
func (p *Platform) Parts() []Part { return slices.Clone(p.props.Parts) }

// Cluster returns the cluster the platform runs on.
func (p *Platform) Cluster() Cluster { return p.props.Cluster }

// Secret declares a Secret of a part below scope, its value from the
// platform's source (Props.Secrets).
func (p *Platform) Secret(scope constructs.Construct, id string, props *secret.Props) *secret.Secret {
	sp := *props
	sp.Source = p.props.Secrets
	s := secret.New(scope, id, &sp)
	p.secrets = append(p.secrets, s)
	return s
}

// Secrets are the Secrets the parts declared, in order.
func (p *Platform) Secrets() []*secret.Secret { return slices.Clone(p.secrets) }

// Namespaces are the namespaces of every part, in order.
func (p *Platform) Namespaces() []Namespace {
	var out []Namespace
	for _, part := range p.props.Parts {
		out = append(out, part.Namespaces()...)
	}
	return out
}

// InternalNamespaces are the cluster's own namespaces and those of the
// parts marked Internal: the ones the ingress controller and the
// monitoring stack, which reach every other namespace, do not reach
// (beyond DNS and metrics ports), so that a compromise of either, the
// parts closest to the internet, does not reach storage, Flux or the
// cluster's system pods.
func (p *Platform) InternalNamespaces() []string {
	out := slices.Clone(p.props.Cluster.Namespaces)
	for _, ns := range p.Namespaces() {
		if ns.Internal {
			out = append(out, ns.Name)
		}
	}
	return out
}

// Scraper returns the pods that scrape metrics, if a part scrapes.
func (p *Platform) Scraper() (security.Peer, bool) {
	for _, part := range p.props.Parts {
		if s, ok := part.(Scraper); ok {
			return s.ScraperPods(), true
		}
	}
	return security.Peer{}, false
}

// ScrapedOn admits the scraper's pods to the metrics ports; none when no
// part scrapes.
func (p *Platform) ScrapedOn(ports ...security.Port) []security.Peer {
	pods, ok := p.Scraper()
	if !ok {
		return nil
	}
	return []security.Peer{pods.On(ports...)}
}

// Scrapes are the cluster's metrics endpoints and then every Scraped
// part's, in order.
func (p *Platform) Scrapes() []Scrape {
	out := slices.Clone(p.props.Cluster.Scrapes)
	for _, part := range p.props.Parts {
		if s, ok := part.(Scraped); ok {
			out = append(out, s.Scrapes()...)
		}
	}
	return out
}

// Alerts are every Alerted part's alert groups, in order.
func (p *Platform) Alerts() []AlertGroup {
	var out []AlertGroup
	for _, part := range p.props.Parts {
		if a, ok := part.(Alerted); ok {
			out = append(out, a.Alerts()...)
		}
	}
	return out
}

// Dashboards are every Dashboarded part's dashboards, in order.
func (p *Platform) Dashboards() []Dashboard {
	var out []Dashboard
	for _, part := range p.props.Parts {
		if d, ok := part.(Dashboarded); ok {
			out = append(out, d.Dashboards()...)
		}
	}
	return out
}

// APIServer is the Kubernetes API server, on the nodes' addresses.
func (p *Platform) APIServer() security.Peer {
	return security.Prefix(p.props.Cluster.Nodes).On(security.TCP(6443))
}

// Nodes are the nodes' addresses (host-network pods and the nodes'
// services).
func (p *Platform) Nodes() security.Peer { return security.Prefix(p.props.Cluster.Nodes) }

// Internet is every address outside the pod network.
func (p *Platform) Internet() security.Peer { return security.Internet(p.props.Cluster.Pods) }

// WebhookCallers admits the API server (host network on the control
// planes) to an admission webhook listening on port, called through its
// Service (see HostCallers); only a control plane that runs pods can be
// the webhook pod's own node.
func (p *Platform) WebhookCallers(port int32) []security.Peer {
	return p.callersFromHosts(port, p.props.Cluster.ControlPlanesRunPods)
}

// HostCallers admits host processes of any node (the kernel's NFS
// client, say) to a pod's port through its Service.
func (p *Platform) HostCallers(port int32) []security.Peer {
	return p.callersFromHosts(port, true)
}

// callersFromHosts admits host processes to a pod's port through its
// Service. From another node than the pod's, which only a cluster of more
// than one node has, they arrive masqueraded into the pod network
// (flannel.1's address: flannel --ip-masq, and kube-proxy's masquerade
// of off-cluster clients); from the pod's own node (sameNode), the policy
// engine sees the node's address, before source NAT (pkg/oracle/netpol).
func (p *Platform) callersFromHosts(port int32, sameNode bool) []security.Peer {
	var out []security.Peer
	if p.props.Cluster.NodeCount > 1 {
		out = append(out, security.Prefix(p.props.Cluster.Pods).On(security.TCP(port)))
	}
	if sameNode {
		out = append(out, security.Prefix(p.props.Cluster.Nodes).On(security.TCP(port)))
	}
	return out
}
