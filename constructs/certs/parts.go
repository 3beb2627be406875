package certs

import (
	"cmp"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/security"
)

// CertManagerChart is the pinned cert-manager chart.
// renovate: datasource=helm
var CertManagerChart = flux.Chart{Repository: "https://charts.jetstack.io", Name: "cert-manager", Version: "v1.21.1"}

// Dir is the directory of the certificates part below
// cluster/kubernetes/platform.
const Dir = "certs"

// CertManagerPart runs cert-manager (NewCertManager) as a platform part:
// in a restricted namespace, isolated, scraped.
func CertManagerPart(props *CertManagerProps) platform.Part {
	cp := &certManagerPart{props: *cmp.Or(props, &CertManagerProps{})}
	cp.props.Namespace = cmp.Or(cp.props.Namespace, "cert-manager")
	return cp
}

type certManagerPart struct {
	props CertManagerProps
	c     *CertManager
}

func (cp *certManagerPart) Charts() []flux.Chart { return []flux.Chart{CertManagerChart} }

// Namespaces: every cert-manager pod runs as the chart's restricted
// security contexts allow.
func (cp *certManagerPart) Namespaces() []platform.Namespace {
	return []platform.Namespace{{Name: cp.props.Namespace, PodSecurity: "restricted"}}
}

func (cp *certManagerPart) Build(p *platform.Platform) {
	cp.c = NewCertManager(p.Chart(Dir), "cert-manager", p.Repository(CertManagerChart), &cp.props)
	p.Add(cp.c)
}

// controllerPods are the controller's pods (and its metrics Service's
// selector).
func controllerPods() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller"}
}

func (cp *certManagerPart) Scrapes() []platform.Scrape {
	c := cp.c
	return []platform.Scrape{{
		To:      security.Pods(c.Namespace, controllerPods()).On(security.TCP(c.MetricsPort)),
		Monitor: &platform.Monitor{Name: "cert-manager", Namespace: c.Namespace, Port: "http-metrics", Selector: controllerPods()},
	}}
}

// Isolate admits the API server's calls of the webhook and the scrapes of
// the controller's metrics; cert-manager reaches the API server, the
// cluster DNS, and on the internet the ACME servers and DNS providers'
// APIs (HTTPS) and the zones' authoritative name servers, which the
// DNS-01 self-check asks directly (port 53).
func (cp *certManagerPart) Isolate(p *platform.Platform, scope constructs.Construct) {
	c := cp.c
	internet := p.Internet()
	security.NewIsolation(scope, "cert-manager", &security.IsolationProps{
		Namespace: c.Namespace,
		Ingress:   append(p.WebhookCallers(c.WebhookPort), p.ScrapedOn(security.TCP(c.MetricsPort))...),
		Egress: []security.Peer{security.DNS(), p.APIServer(),
			internet.On(security.TCP(443), security.UDP(53), security.TCP(53))},
	})
}
