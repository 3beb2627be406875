package externalsecrets

import (
	"cmp"
	"net/netip"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/constructs/security"
)

// Dir is the directory of the part below cluster/kubernetes/platform.
const Dir = "external-secrets"

// Part runs the External Secrets Operator (NewOperator) as a platform
// part: in a restricted namespace, isolated, scraped, with the Vault
// store (NewVaultStore) once its CRDs are in.
func Part(props *Props) platform.Part {
	pt := &part{props: *cmp.Or(props, &Props{})}
	pt.props.Namespace = cmp.Or(pt.props.Namespace, "external-secrets")
	return pt
}

type part struct {
	props Props
	o     *Operator
	store *VaultStore
}

func (pt *part) Charts() []flux.Chart { return []flux.Chart{Chart} }

// Namespaces: every pod of the chart runs as its restricted security
// contexts allow.
func (pt *part) Namespaces() []platform.Namespace {
	return []platform.Namespace{{Name: pt.props.Namespace, PodSecurity: "restricted"}}
}

// Build installs the operator and declares the AppRole's secret ID (in
// the SOPS store: the one secret the operator needs before it can read
// any other).
func (pt *part) Build(p *platform.Platform) {
	chart := p.Chart(Dir)
	_, pt.props.Metrics = p.Scraper()
	pt.o = NewOperator(chart, "external-secrets", p.Repository(Chart), &pt.props)
	p.Add(pt.o)
	if v := pt.props.Vault; v != nil && v.AppRole != nil {
		p.Secret(chart, "vault-approle", &secret.Props{Namespace: pt.o.Namespace, Name: cmp.Or(v.AppRole.SecretName, "vault-approle"), Keys: []string{SecretIDKey}})
	}
}

// Configure adds the ClusterSecretStore: a custom resource of the
// operator's CRDs, applied once the chart is ready.
func (pt *part) Configure(p *platform.Platform, scope constructs.Construct) {
	if v := pt.props.Vault; v != nil {
		pt.store = NewVaultStore(scope, "vault-store", pt.o.Namespace, pt.o.ServiceAccount, v)
		p.Add(pt.store)
	}
}

// Alerts: an ExternalSecret that cannot sync (the store refuses, the
// path or a property is missing) keeps the Secret it made last, so the
// app runs on; the alert says the value is stale. The metric is the
// controller's (pkg/controllers/externalsecret/esmetrics at v0.16.2,
// the release whose source the module proxy serves; the chart runs
// v2.9.0, which keeps the name).
func (pt *part) Alerts() []platform.AlertGroup {
	return []platform.AlertGroup{{Name: "external-secrets", Alerts: []platform.Alert{
		{Name: "ExternalSecretNotSynced", Expr: `max by (namespace, name) (externalsecret_status_condition{condition="Ready", status="False"}) == 1`, For: "30m", Severity: "warning",
			Summary: "ExternalSecret {{ $labels.namespace }}/{{ $labels.name }} does not sync from its store: kubectl describe externalsecret -n {{ $labels.namespace }} {{ $labels.name }}"},
	}}}
}

// controllerPods are the controller's pods (and its metrics Service's
// selector).
func controllerPods() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "external-secrets", "app.kubernetes.io/instance": "external-secrets"}
}

func (pt *part) Scrapes() []platform.Scrape {
	if !pt.props.Metrics {
		return nil
	}
	o := pt.o
	return []platform.Scrape{{
		To:      security.Pods(o.Namespace, controllerPods()).On(security.TCP(o.MetricsPort)),
		Monitor: &platform.Monitor{Name: "external-secrets", Namespace: o.Namespace, Port: "metrics", Selector: controllerPods()},
	}}
}

// Isolate admits the API server's calls of the webhook and the scrapes;
// the operator reaches the API server, the cluster DNS and Vault, at its
// address and port only.
func (pt *part) Isolate(p *platform.Platform, scope constructs.Construct) {
	o := pt.o
	egress := []security.Peer{security.DNS(), p.APIServer()}
	if v := pt.props.Vault; v != nil {
		if ep := endpoint(v.Server, v.Address); ep.IsValid() {
			egress = append(egress, security.Prefix(netipPrefix(ep)).On(security.TCP(int32(ep.Port()))))
		}
	}
	security.NewIsolation(scope, "external-secrets", &security.IsolationProps{
		Namespace: o.Namespace,
		Ingress:   append(p.WebhookCallers(o.WebhookPort), p.ScrapedOn(security.TCP(o.MetricsPort))...),
		Egress:    egress,
	})
}

func netipPrefix(ep netip.AddrPort) netip.Prefix {
	return netip.PrefixFrom(ep.Addr(), ep.Addr().BitLen())
}
