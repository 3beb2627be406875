package certs

import (
	"cmp"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/secret"
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

// Build installs cert-manager and declares the issuers' Secrets (the
// CA's root, the Cloudflare token) in its namespace, from the platform's
// store: applied with the chart, before the issuers that read them.
func (cp *certManagerPart) Build(p *platform.Platform) {
	chart := p.Chart(Dir)
	_, cp.props.Metrics = p.Scraper()
	cp.c = NewCertManager(chart, "cert-manager", p.Repository(CertManagerChart), &cp.props)
	p.Add(cp.c)
	if ca := cp.props.CA; ca != nil {
		p.Secret(chart, "ca", &secret.Props{Namespace: cp.c.Namespace, Name: cmp.Or(ca.Name, "homelab-ca"), Keys: CAKeys})
	}
	if a := cp.props.ACME; a != nil && a.HTTP01 == "" {
		p.Secret(chart, "cloudflare-api-token", &secret.Props{Namespace: cp.c.Namespace,
			Name: cmp.Or(a.TokenSecret, "cloudflare-api-token"), Keys: []string{cmp.Or(a.TokenKey, "api-token")}})
	}
}

// Issuers are the ClusterIssuers a part made, for Certificates: found
// with platform.Find[certs.Issuers] after Configure.
type Issuers []Issuer

// Configure adds the ClusterIssuers: custom resources of cert-manager's
// CRDs, applied once the chart is ready. ACME comes first: Choose
// prefers a publicly trusted issuer anyway.
func (cp *certManagerPart) Configure(p *platform.Platform, scope constructs.Construct) {
	var out Issuers
	if a := cp.props.ACME; a != nil {
		props := *a
		props.Namespace = cp.c.Namespace
		out = append(out, NewACMEIssuer(scope, "acme-issuer", &props))
	}
	if ca := cp.props.CA; ca != nil {
		props := *ca
		props.Namespace = cp.c.Namespace
		out = append(out, NewCAIssuer(scope, "ca-issuer", &props))
	}
	p.Add(out)
}

// Alerts watch the certificates cert-manager manages: one not Ready for
// long (an issuer refused it, a challenge fails), and one close to expiry,
// which means renewal (at two thirds of its life) has failed for weeks.
// The metrics are the controller's (internal/collectors at v1.21.1).
func (cp *certManagerPart) Alerts() []platform.AlertGroup {
	return []platform.AlertGroup{{Name: "certificates", Alerts: []platform.Alert{
		{Name: "CertificateNotReady", Expr: `max by (namespace, name) (certmanager_certificate_ready_status{condition=~"False|Unknown"}) == 1`, For: "30m", Severity: "warning",
			Summary: "Certificate {{ $labels.namespace }}/{{ $labels.name }} is not Ready: kubectl describe certificate -n {{ $labels.namespace }} {{ $labels.name }}"},
		{Name: "CertificateExpiresSoon", Expr: `certmanager_certificate_expiration_timestamp_seconds - time() < 14 * 24 * 3600`, For: "1h", Severity: "critical",
			Summary: "Certificate {{ $labels.namespace }}/{{ $labels.name }} expires in less than 14 days: its renewal is failing"},
	}}}
}

// controllerPods are the controller's pods (and its metrics Service's
// selector).
func controllerPods() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller"}
}

func (cp *certManagerPart) Scrapes() []platform.Scrape {
	c := cp.c
	if !cp.props.Metrics {
		return nil
	}
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
