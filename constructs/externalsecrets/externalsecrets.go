// Package externalsecrets is the platform's external secrets: the
// External Secrets Operator, installed by its Helm chart in
// cluster/kubernetes/platform/external-secrets as a platform part (Part),
// with a ClusterSecretStore for HashiCorp Vault or a server with its API
// (OpenBao). A Secret declared with secret.Props.External names the store
// and a path in it; the operator makes that Secret, with the same name
// and keys, from the store.
package externalsecrets

import (
	"cmp"
	"encoding/base64"
	"encoding/pem"
	"net/netip"
	"net/url"
	"strconv"

	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
)

// Chart is the pinned external-secrets chart.
// renovate: datasource=helm
var Chart = flux.Chart{Repository: "https://charts.external-secrets.io", Name: "external-secrets", Version: "2.9.0"}

// CRDGroups are the API groups of the chart's CRDs.
var CRDGroups = []string{"external-secrets.io", "generators.external-secrets.io"}

// Props configure the operator.
type Props struct {
	// Namespace of the operator. Default: "external-secrets".
	Namespace string
	// Vault is the ClusterSecretStore for Vault; nil runs the operator
	// without a store.
	Vault *VaultProps
	// Metrics serves the controller's metrics (a Service for a
	// ServiceMonitor); the part sets it when the platform has a scraper.
	Metrics bool
}

// VaultProps configure the ClusterSecretStore for Vault's KV version 2
// secrets engine.
type VaultProps struct {
	// Store is the ClusterSecretStore's name, which secrets name in
	// secret.External.Store. Default: "vault".
	Store string
	// Server is Vault's address, https: "https://vault.home.arpa:8200".
	Server string
	// Address is the IP the server's name resolves to, for the
	// operator's egress policy (a NetworkPolicy admits addresses, not
	// names); not needed when Server is an IP.
	Address netip.Addr
	// Mount is the KV version 2 secrets engine's mount. Default: "secret".
	Mount string
	// CA is the PEM certificate of the CA that signed Vault's certificate
	// (a homelab's own CA); CASecret names a Secret key that holds it
	// instead (the homelab CA's cert-manager/homelab-ca tls.crt, which the
	// operator reads). Neither trusts the operator image's roots.
	CA       []byte
	CASecret *SecretKey
	// Kubernetes authenticates with Vault's Kubernetes auth method (the
	// operator's service account token, which Vault checks with the
	// cluster's TokenReview); AppRole with an AppRole. Exactly one.
	Kubernetes *KubernetesAuth
	AppRole    *AppRoleAuth
}

// SecretKey names a key of a Secret.
type SecretKey struct {
	Namespace, Name, Key string
}

// KubernetesAuth is Vault's Kubernetes auth method.
type KubernetesAuth struct {
	// Role is the Vault role bound to the operator's service account.
	Role string
	// Mount of the auth method. Default: "kubernetes".
	Mount string
}

// AppRoleAuth is Vault's AppRole auth method: the role ID here, the
// secret ID in the SOPS store (Secret SecretName, key "secret-id", in
// the operator's namespace).
type AppRoleAuth struct {
	RoleID string
	// Mount of the auth method. Default: "approle".
	Mount string
	// SecretName is the Secret holding the secret ID. Default:
	// "vault-approle".
	SecretName string
}

// SecretIDKey is the key of AppRoleAuth's Secret that holds the secret ID.
const SecretIDKey = "secret-id"

// Operator is the External Secrets Operator installed by its chart with
// its CRDs (kept when the release goes: deleting them deletes every
// ExternalSecret, and with creationPolicy Owner the Secrets they made),
// its controller's metrics served for the monitoring stack.
type Operator struct {
	constructs.Construct
	info *core.Info

	// Release is the HelmRelease; Namespace the namespace after defaults.
	Release   *flux.HelmRelease
	Namespace string
	// ServiceAccount is the controller's, which Vault's Kubernetes auth
	// role must bind.
	ServiceAccount string
	// WebhookPort is where the webhook listens (the API server calls
	// it); MetricsPort where each component serves metrics.
	WebhookPort, MetricsPort int32
}

// values are the chart values this construct sets.
type values struct {
	InstallCRDs bool `json:"installCRDs"`
	CRDs        struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"crds"`
	Resources corev1.ResourceRequirements `json:"resources"`
	Metrics   struct {
		Service struct {
			Enabled bool `json:"enabled"`
		} `json:"service"`
	} `json:"metrics"`
	Webhook struct {
		Port      int32                       `json:"port"`
		Resources corev1.ResourceRequirements `json:"resources"`
	} `json:"webhook"`
	CertController struct {
		Resources corev1.ResourceRequirements `json:"resources"`
	} `json:"certController"`
}

// NewOperator adds the operator below scope; repo is its chart
// repository.
func NewOperator(scope constructs.Construct, id string, repo *flux.HelmRepository, props *Props) *Operator {
	props = cmp.Or(props, &Props{})
	o := &Operator{Namespace: cmp.Or(props.Namespace, "external-secrets"), ServiceAccount: "external-secrets", WebhookPort: 10250, MetricsPort: 8080}
	o.info = core.Init(o, scope, id)
	var v values
	v.InstallCRDs = true
	// Helm keeps the CRDs when the release is uninstalled.
	v.CRDs.Annotations = map[string]string{"helm.sh/resource-policy": "keep"}
	v.Metrics.Service.Enabled = props.Metrics
	v.Webhook.Port = o.WebhookPort
	v.Resources = kube.Requirements("10m", "64Mi", "192Mi")
	v.Webhook.Resources = kube.Requirements("10m", "32Mi", "96Mi")
	v.CertController.Resources = kube.Requirements("10m", "64Mi", "192Mi")
	o.Release = flux.NewHelmRelease(o, "release", &flux.HelmReleaseProps{
		Name: "external-secrets", Namespace: o.Namespace, Repository: repo, Chart: Chart.Name, Version: Chart.Version,
		Values: v, CRDGroups: CRDGroups,
	})
	w := core.Workloads.Of(o.info.Tree())
	for _, wl := range []struct {
		name string
		res  corev1.ResourceRequirements
	}{{"external-secrets", v.Resources}, {"external-secrets-webhook", v.Webhook.Resources}, {"external-secrets-cert-controller", v.CertController.Resources}} {
		w.Add(core.Workload{Source: o.info.Path(), Name: wl.name, Replicas: 1,
			CPU: wl.res.Requests[corev1.ResourceCPU], Memory: wl.res.Requests[corev1.ResourceMemory], MemoryLimit: wl.res.Limits[corev1.ResourceMemory]})
	}
	return o
}

// Info returns the construct's place in the tree.
func (o *Operator) Info() *core.Info { return o.info }

// ToString overrides the jsii method; it returns the construct path.
func (o *Operator) ToString() *string { return core.PathString(o.info) }

// VaultStore is a ClusterSecretStore for Vault.
type VaultStore struct {
	constructs.Construct
	info *core.Info

	// Name is the store's name; Server Vault's address, Mount the KV
	// mount, after defaults.
	Name, Server, Mount string
	// Endpoint is the address and port the operator reaches.
	Endpoint netip.AddrPort
}

// NewVaultStore adds the ClusterSecretStore below scope (a chart applied
// after the operator's CRDs); namespace and serviceAccount are the
// operator's.
func NewVaultStore(scope constructs.Construct, id string, namespace, serviceAccount string, props *VaultProps) *VaultStore {
	p := *cmp.Or(props, &VaultProps{})
	s := &VaultStore{Name: cmp.Or(p.Store, "vault"), Server: p.Server, Mount: cmp.Or(p.Mount, "secret")}
	s.info = core.Init(s, scope, id)
	s.Endpoint = endpoint(p.Server, p.Address)
	vault := map[string]any{"server": p.Server, "path": s.Mount, "version": "v2"}
	if len(p.CA) > 0 {
		vault["caBundle"] = base64.StdEncoding.EncodeToString(p.CA)
	}
	if c := p.CASecret; c != nil {
		vault["caProvider"] = map[string]any{"type": "Secret", "namespace": c.Namespace, "name": c.Name, "key": c.Key}
		core.Secrets.Of(s.info.Tree()).Refer(core.SecretRef{Namespace: c.Namespace, Name: c.Name, Key: c.Key, Source: s.info.Path()})
	}
	switch {
	case p.Kubernetes != nil:
		vault["auth"] = map[string]any{"kubernetes": map[string]any{
			"mountPath":         cmp.Or(p.Kubernetes.Mount, "kubernetes"),
			"role":              p.Kubernetes.Role,
			"serviceAccountRef": map[string]any{"name": serviceAccount, "namespace": namespace},
		}}
	case p.AppRole != nil:
		vault["auth"] = map[string]any{"appRole": map[string]any{
			"path":      cmp.Or(p.AppRole.Mount, "approle"),
			"roleId":    p.AppRole.RoleID,
			"secretRef": map[string]any{"name": cmp.Or(p.AppRole.SecretName, "vault-approle"), "namespace": namespace, "key": SecretIDKey},
		}}
	}
	kube.NewObject(s, "store", &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "external-secrets.io/v1",
		"kind":       "ClusterSecretStore",
		"metadata":   map[string]any{"name": s.Name},
		"spec":       map[string]any{"provider": map[string]any{"vault": vault}},
	}})
	t := s.info.Tree()
	core.Secrets.Of(t).DeclareStore(core.SecretStore{Name: s.Name, Kind: "Vault at " + p.Server, Source: s.info.Path()})
	path := s.info.Path()
	t.AddValidation(func() []error { return validateVault(path, p, s.Endpoint) })
	return s
}

// Info returns the construct's place in the tree.
func (s *VaultStore) Info() *core.Info { return s.info }

// ToString overrides the jsii method; it returns the construct path.
func (s *VaultStore) ToString() *string { return core.PathString(s.info) }

// endpoint is where the operator connects: the server's IP (or
// Address) and the URL's port (443 for https when it names none, as the
// Vault client dials it).
func endpoint(server string, addr netip.Addr) netip.AddrPort {
	u, err := url.Parse(server)
	if err != nil {
		return netip.AddrPort{}
	}
	port := uint64(443)
	if u.Scheme == "http" {
		port = 80
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.ParseUint(p, 10, 16); err != nil {
			return netip.AddrPort{}
		}
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
		addr = ip
	}
	if !addr.IsValid() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(addr, uint16(port))
}

// validateVault: an https URL (the token and secrets cross the LAN), an
// address the egress policy can name, one auth method with what it needs.
func validateVault(path string, p VaultProps, ep netip.AddrPort) []error {
	var errs []error
	u, err := url.Parse(p.Server)
	switch {
	case p.Server == "" || err != nil || u.Host == "":
		errs = append(errs, core.Errorf(path, `set VaultProps.Server to Vault's URL ("https://vault.home.arpa:8200")`, "Vault's address %q is no URL", p.Server))
	case u.Scheme != "https":
		errs = append(errs, core.Errorf(path, "serve Vault over https and set an https URL (VaultProps.CA for a homelab CA)",
			"Vault at %s: over %s, the operator's token and every secret would cross the network in clear", p.Server, u.Scheme))
	case !ep.IsValid():
		errs = append(errs, core.Errorf(path, "set VaultProps.Address to the IP the name resolves to",
			"Vault at %s: a NetworkPolicy admits addresses, not names, so the operator's egress to it needs the address", p.Server))
	}
	if len(p.CA) > 0 && p.CASecret != nil {
		errs = append(errs, core.Errorf(path, "set one of VaultProps.CA and VaultProps.CASecret", "Vault at %s: two CAs given", p.Server))
	}
	if len(p.CA) > 0 {
		if b, _ := pem.Decode(p.CA); b == nil || b.Type != "CERTIFICATE" {
			errs = append(errs, core.Errorf(path, "set VaultProps.CA to the CA's PEM certificate (-----BEGIN CERTIFICATE-----)", "Vault at %s: the CA is not a PEM certificate", p.Server))
		}
	}
	switch {
	case (p.Kubernetes == nil) == (p.AppRole == nil):
		errs = append(errs, core.Errorf(path, "set exactly one of VaultProps.Kubernetes and VaultProps.AppRole", "Vault at %s: the store needs one way to log in", p.Server))
	case p.Kubernetes != nil && p.Kubernetes.Role == "":
		errs = append(errs, core.Errorf(path, "set KubernetesAuth.Role to the Vault role bound to the operator's service account", "Vault at %s: the Kubernetes auth method needs a role", p.Server))
	case p.AppRole != nil && p.AppRole.RoleID == "":
		errs = append(errs, core.Errorf(path, "set AppRoleAuth.RoleID (`vault read auth/approle/role/<name>/role-id`)", "Vault at %s: the AppRole auth method needs a role ID", p.Server))
	}
	return errs
}
