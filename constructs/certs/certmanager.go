// Package certs is the platform's certificates: cert-manager, installed by
// its Helm chart in cluster/kubernetes/platform/certs (the memo's
// platform/certs/), as a platform part (CertManagerPart), with the
// ClusterIssuers a homelab needs: its own CA for LAN names (CAIssuer, the
// root kept as a SOPS Secret) and Let's Encrypt with the DNS-01 challenge
// in a Cloudflare zone (ACMEIssuer). A Certificate names the hosts it is
// for and an Issuer that must serve each of them (Issuer.Serves);
// apps.AppProps.TLS makes one per exposed app.
package certs

import (
	"cmp"

	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
)

// CertManagerProps configure CertManager.
type CertManagerProps struct {
	// Namespace of cert-manager. Default: "cert-manager".
	Namespace string
	// CA runs the internal CA issuer (CertManagerPart's Configure) for
	// LAN names; ACME the Let's Encrypt issuer for the Cloudflare zones.
	// Either, both, or none (cert-manager without issuers). Their
	// Namespace is this one's.
	CA   *CAIssuerProps
	ACME *ACMEIssuerProps
	// Metrics serves the controller's metrics (its Service for a
	// ServiceMonitor); the part sets it when the platform has a scraper.
	Metrics bool
}

// CertManager is cert-manager installed by its chart with its CRDs
// (crds.enabled, kept when the release goes: deleting a CRD deletes every
// Certificate and Issuer), its controller's metrics served for the
// monitoring stack, and its leader election in its own namespace rather
// than kube-system.
type CertManager struct {
	constructs.Construct
	info *core.Info

	// Release is the HelmRelease; Namespace the namespace after defaults.
	Release   *flux.HelmRelease
	Namespace string
	// WebhookPort is where the webhook listens (the API server calls it);
	// MetricsPort where the controller serves metrics.
	WebhookPort, MetricsPort int32
}

// CRDGroups are the API groups of cert-manager's CRDs.
var CRDGroups = []string{"cert-manager.io", "acme.cert-manager.io"}

// certManagerValues are the chart values this construct sets.
type certManagerValues struct {
	CRDs struct {
		Enabled bool `json:"enabled"`
		Keep    bool `json:"keep"`
	} `json:"crds"`
	Global struct {
		LeaderElection struct {
			Namespace string `json:"namespace"`
		} `json:"leaderElection"`
	} `json:"global"`
	Resources  corev1.ResourceRequirements `json:"resources"`
	Prometheus struct {
		Enabled bool `json:"enabled"`
	} `json:"prometheus"`
	Webhook struct {
		SecurePort int32                       `json:"securePort"`
		Resources  corev1.ResourceRequirements `json:"resources"`
	} `json:"webhook"`
	CAInjector struct {
		Resources corev1.ResourceRequirements `json:"resources"`
	} `json:"cainjector"`
	StartupAPICheck struct {
		Resources corev1.ResourceRequirements `json:"resources"`
	} `json:"startupapicheck"`
}

// NewCertManager adds cert-manager below scope; repo is its chart
// repository.
func NewCertManager(scope constructs.Construct, id string, repo *flux.HelmRepository, props *CertManagerProps) *CertManager {
	props = cmp.Or(props, &CertManagerProps{})
	c := &CertManager{Namespace: cmp.Or(props.Namespace, "cert-manager"), WebhookPort: 10250, MetricsPort: 9402}
	c.info = core.Init(c, scope, id)
	var v certManagerValues
	v.CRDs.Enabled, v.CRDs.Keep = true, true
	v.Global.LeaderElection.Namespace = c.Namespace
	v.Prometheus.Enabled = props.Metrics
	v.Webhook.SecurePort = c.WebhookPort
	v.Resources = kube.Requirements("10m", "64Mi", "192Mi")
	v.Webhook.Resources = kube.Requirements("10m", "32Mi", "96Mi")
	v.CAInjector.Resources = kube.Requirements("10m", "64Mi", "192Mi")
	v.StartupAPICheck.Resources = kube.Requirements("10m", "32Mi", "64Mi")
	c.Release = flux.NewHelmRelease(c, "release", &flux.HelmReleaseProps{
		Name: "cert-manager", Namespace: c.Namespace, Repository: repo, Chart: CertManagerChart.Name, Version: CertManagerChart.Version,
		Values: v, CRDGroups: CRDGroups,
	})
	w := core.Workloads.Of(c.info.Tree())
	for _, wl := range []struct {
		name string
		res  corev1.ResourceRequirements
	}{{"cert-manager", v.Resources}, {"cert-manager-webhook", v.Webhook.Resources}, {"cert-manager-cainjector", v.CAInjector.Resources}} {
		w.Add(core.Workload{Source: c.info.Path(), Name: wl.name, Replicas: 1,
			CPU: wl.res.Requests[corev1.ResourceCPU], Memory: wl.res.Requests[corev1.ResourceMemory], MemoryLimit: wl.res.Limits[corev1.ResourceMemory]})
	}
	return c
}

// Info returns the construct's place in the tree.
func (c *CertManager) Info() *core.Info { return c.info }

// ToString overrides the jsii method; it returns the construct path.
func (c *CertManager) ToString() *string { return core.PathString(c.info) }
