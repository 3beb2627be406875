package certs

import (
	"cmp"
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"golang.org/x/net/publicsuffix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
)

// Issuer is a ClusterIssuer: it issues certificates for the names it
// serves.
type Issuer interface {
	Info() *core.Info
	// Ref is the reference a Certificate names it by.
	Ref() cmmeta.IssuerReference
	// Serves says whether it can issue a certificate for host (a DNS
	// name, "*.": a wildcard); if not, why not and what to change.
	Serves(host string) (ok bool, problem, fix string)
	// PubliclyTrusted is true when browsers and the tunnel's edge trust
	// its certificates without installing anything.
	PubliclyTrusted() bool
}

// Choose returns the issuer for host: the first publicly trusted one
// that serves it, else the first that serves it, else nil.
func Choose(issuers []Issuer, host string) Issuer {
	var found Issuer
	for _, is := range issuers {
		if ok, _, _ := is.Serves(host); ok {
			if is.PubliclyTrusted() {
				return is
			}
			found = cmp.Or(found, is)
		}
	}
	return found
}

// under says whether host (or the names a wildcard host covers) lies in
// one of domains, and returns that domain.
func under(host string, domains []string) (string, bool) {
	h := strings.TrimPrefix(host, "*.")
	for _, d := range domains {
		if h == d || strings.HasSuffix(h, "."+d) {
			return d, true
		}
	}
	return "", false
}

// hostProblem says what is wrong with host as a certificate's DNS name:
// lowercase DNS-1123, at most one wildcard label, first.
func hostProblem(host string) string {
	name := strings.TrimPrefix(host, "*.")
	if strings.Contains(name, "*") {
		return fmt.Sprintf("%q is not a DNS name: a wildcard is only \"*.\" at its start", host)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 || !strings.Contains(name, ".") {
		return fmt.Sprintf("%q is not a fully qualified DNS name", host)
	}
	return ""
}

// domainErrors checks a list of domains an issuer serves.
func domainErrors(path, field string, domains []string) []error {
	var errs []error
	if len(domains) == 0 {
		errs = append(errs, core.Errorf(path, fmt.Sprintf("set %s to the domains it issues for, such as \"home.arpa\"", field), "the issuer serves no domain"))
	}
	for _, d := range domains {
		if p := hostProblem(d); p != "" || strings.HasPrefix(d, "*.") {
			errs = append(errs, core.Errorf(path, fmt.Sprintf("write each of %s as a domain such as \"home.arpa\" (it covers every name below it)", field), "domain %q is not a DNS name", d))
		}
	}
	return errs
}

// CAIssuerProps configure a CAIssuer.
type CAIssuerProps struct {
	// Name of the ClusterIssuer and of its Secret. Default: "homelab-ca".
	Name string
	// Namespace is cert-manager's: where a ClusterIssuer reads its
	// Secret. Required (the part sets it).
	Namespace string
	// Domains it issues for, each covering the names below it (LAN names
	// such as "home.arpa"). Required.
	Domains []string
}

// CAIssuer is the homelab's own certificate authority: a ClusterIssuer
// that signs with the root whose certificate and key are the Secret of
// its name (keys tls.crt and tls.key, a SOPS Secret the part declares),
// so a rebuilt cluster keeps the CA its devices trust. docs/tls.md says
// how to make the root and install it on the devices.
type CAIssuer struct {
	constructs.Construct
	info *core.Info
	// Name of the ClusterIssuer and its Secret; Namespace the Secret's;
	// Domains it serves.
	Name, Namespace string
	Domains         []string
	// Object is the ClusterIssuer.
	Object *cmapi.ClusterIssuer
}

// CAKeys are the keys of a CAIssuer's Secret: the root's PEM certificate
// and private key.
var CAKeys = []string{"tls.crt", "tls.key"}

// NewCAIssuer adds a CA ClusterIssuer below scope (a chart applied after
// cert-manager's CRDs) and refers to its Secret.
func NewCAIssuer(scope constructs.Construct, id string, props *CAIssuerProps) *CAIssuer {
	props = cmp.Or(props, &CAIssuerProps{})
	c := &CAIssuer{Name: cmp.Or(props.Name, "homelab-ca"), Namespace: props.Namespace, Domains: slices.Clone(props.Domains)}
	c.info = core.Init(c, scope, id)
	cas := caIssuers.Of(c.info.Tree())
	*cas = append(*cas, c)
	c.Object = &cmapi.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: c.Name},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: c.Name}}},
	}
	kube.NewObject(c, "cluster-issuer", c.Object)
	tree, path := c.info.Tree(), c.info.Path()
	for _, k := range CAKeys {
		core.Secrets.Of(tree).Refer(core.SecretRef{Namespace: props.Namespace, Name: c.Name, Key: k, Source: path})
	}
	tree.AddValidation(func() []error { return domainErrors(path, "CAIssuerProps.Domains", c.Domains) })
	return c
}

// caIssuers are a tree's CA issuers, for CAIssuersOf.
var caIssuers = core.NewFacet("certs/ca-issuers", func() *[]*CAIssuer { return &[]*CAIssuer{} })

// CAIssuersOf returns the CA issuers of a tree, in the order they were
// made: the roots `homelab secrets ca` makes.
func CAIssuersOf(t *core.Tree) []*CAIssuer { return slices.Clone(*caIssuers.Of(t)) }

// Info returns the construct's place in the tree.
func (c *CAIssuer) Info() *core.Info { return c.info }

// ToString overrides the jsii method; it returns the construct path.
func (c *CAIssuer) ToString() *string { return core.PathString(c.info) }

// Ref names the ClusterIssuer.
func (c *CAIssuer) Ref() cmmeta.IssuerReference { return clusterIssuer(c.Name) }

// Serves is true for a name (or wildcard) under one of its domains.
func (c *CAIssuer) Serves(host string) (bool, string, string) {
	if _, ok := under(host, c.Domains); ok {
		return true, "", ""
	}
	return false, fmt.Sprintf("the internal CA %q issues only under %s", c.Name, strings.Join(c.Domains, ", ")),
		"add the host's domain to the CA's domains, or serve it from the ACME issuer's zone"
}

// PubliclyTrusted is false: devices trust it once its root is installed.
func (c *CAIssuer) PubliclyTrusted() bool { return false }

// Let's Encrypt's ACME directories.
const (
	LetsEncrypt        = "https://acme-v02.api.letsencrypt.org/directory"
	LetsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// ACMEIssuerProps configure an ACMEIssuer.
type ACMEIssuerProps struct {
	// Name of the ClusterIssuer. Default: "letsencrypt", or
	// "letsencrypt-staging" with Staging.
	Name string
	// Namespace is cert-manager's: where a ClusterIssuer reads its
	// Secrets. Required (the part sets it).
	Namespace string
	// Email of the ACME account (expiry notices). Required.
	Email string
	// Zones are the Cloudflare zones it solves DNS-01 challenges in (the
	// names below each, wildcards too). Required.
	Zones []string
	// Staging uses Let's Encrypt's staging directory: certificates no
	// browser trusts, for trying a setup without its rate limits.
	// Production is the default.
	Staging bool
	// TokenSecret holds a Cloudflare API token (Zone:DNS:Edit on the
	// zones) in key TokenKey. Default: "cloudflare-api-token", "api-token".
	TokenSecret, TokenKey string
	// HTTP01 proves names with the HTTP-01 challenge instead, answered by
	// a solver Ingress of this IngressClass: no API token, but every name
	// must be reachable from the internet on port 80 (through the
	// tunnel), and no wildcard can be proven. Empty: DNS-01 (the default).
	HTTP01 string
}

// ACMEIssuer issues publicly trusted certificates from Let's Encrypt,
// proving control of each name with a DNS-01 challenge: a TXT record
// cert-manager writes through Cloudflare's API. No port is opened, so
// LAN-only hosts under the public domain get trusted certificates too,
// and wildcards are possible. With ACMEIssuerProps.HTTP01 it answers the
// HTTP-01 challenge through a solver Ingress instead (public hosts only,
// no wildcards).
type ACMEIssuer struct {
	constructs.Construct
	info *core.Info
	// Name of the ClusterIssuer; Zones it serves; Server the ACME
	// directory.
	Name, Server string
	Zones        []string
	// TokenSecret and TokenKey hold the Cloudflare API token (DNS-01).
	TokenSecret, TokenKey string
	// HTTP01 is the IngressClass of the HTTP-01 solver; empty for DNS-01.
	HTTP01 string
	// Object is the ClusterIssuer.
	Object *cmapi.ClusterIssuer

	email string
}

// NewACMEIssuer adds an ACME ClusterIssuer below scope (a chart applied
// after cert-manager's CRDs) and refers to its token's Secret. Its
// account key is a Secret cert-manager makes ("<name>-account").
func NewACMEIssuer(scope constructs.Construct, id string, props *ACMEIssuerProps) *ACMEIssuer {
	props = cmp.Or(props, &ACMEIssuerProps{})
	a := &ACMEIssuer{Name: props.Name, Server: LetsEncrypt, Zones: slices.Clone(props.Zones), email: props.Email,
		TokenSecret: cmp.Or(props.TokenSecret, "cloudflare-api-token"), TokenKey: cmp.Or(props.TokenKey, "api-token")}
	if props.Staging {
		a.Server = LetsEncryptStaging
		a.Name = cmp.Or(a.Name, "letsencrypt-staging")
	}
	a.Name = cmp.Or(a.Name, "letsencrypt")
	a.info = core.Init(a, scope, id)
	a.Object = &cmapi.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: a.Name},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{ACME: &cmacme.ACMEIssuer{
			Server: a.Server, Email: a.email,
			PrivateKey: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: a.Name + "-account"}},
			Solvers:    []cmacme.ACMEChallengeSolver{{Selector: &cmacme.CertificateDNSNameSelector{DNSZones: slices.Clone(a.Zones)}}},
		}}},
	}
	solver := &a.Object.Spec.ACME.Solvers[0]
	tree := a.info.Tree()
	if a.HTTP01 = props.HTTP01; a.HTTP01 != "" {
		a.TokenSecret, a.TokenKey = "", ""
		solver.HTTP01 = &cmacme.ACMEChallengeSolverHTTP01{Ingress: &cmacme.ACMEChallengeSolverHTTP01Ingress{IngressClassName: &a.HTTP01}}
	} else {
		solver.DNS01 = &cmacme.ACMEChallengeSolverDNS01{Cloudflare: &cmacme.ACMEIssuerDNS01ProviderCloudflare{
			APIToken: &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: a.TokenSecret}, Key: a.TokenKey},
		}}
		core.Secrets.Of(tree).Refer(core.SecretRef{Namespace: props.Namespace, Name: a.TokenSecret, Key: a.TokenKey, Source: a.info.Path()})
	}
	kube.NewObject(a, "cluster-issuer", a.Object)
	tree.AddValidation(a.validate)
	return a
}

// Info returns the construct's place in the tree.
func (a *ACMEIssuer) Info() *core.Info { return a.info }

// ToString overrides the jsii method; it returns the construct path.
func (a *ACMEIssuer) ToString() *string { return core.PathString(a.info) }

// Ref names the ClusterIssuer.
func (a *ACMEIssuer) Ref() cmmeta.IssuerReference { return clusterIssuer(a.Name) }

// clusterIssuer is the reference to the ClusterIssuer name.
func clusterIssuer(name string) cmmeta.IssuerReference {
	return cmmeta.IssuerReference{Name: name, Kind: cmapi.ClusterIssuerKind, Group: cmapi.SchemeGroupVersion.Group}
}

// Serves is true for a name in one of its zones; a wildcard only with
// DNS-01 (RFC 8555, 8.3: a wildcard's authorization takes no HTTP-01
// challenge).
func (a *ACMEIssuer) Serves(host string) (bool, string, string) {
	if _, ok := under(host, a.Zones); ok {
		if a.HTTP01 != "" && strings.HasPrefix(host, "*.") {
			return false, fmt.Sprintf("the ACME issuer %q proves names with HTTP-01, which cannot prove a wildcard", a.Name),
				"use DNS-01 (leave ACMEIssuerProps.HTTP01 empty and give it a Cloudflare token), or name each host"
		}
		return true, "", ""
	}
	return false, fmt.Sprintf("the ACME issuer %q solves challenges only in the zones %s", a.Name, strings.Join(a.Zones, ", ")),
		"use a host in one of those zones, add the host's Cloudflare zone to the ACME zones, or give the homelab an internal CA for it"
}

// PubliclyTrusted is true for Let's Encrypt's production directory.
func (a *ACMEIssuer) PubliclyTrusted() bool { return a.Server == LetsEncrypt }

// specialUse are names no public CA issues for (RFC 6761, RFC 8375,
// ICANN's .internal).
var specialUse = []string{"home.arpa", "local", "localhost", "test", "invalid", "example", "internal", "onion", "lan"}

func (a *ACMEIssuer) validate() []error {
	p := a.info.Path()
	errs := domainErrors(p, "ACMEIssuerProps.Zones", a.Zones)
	if addr, err := mail.ParseAddress(a.email); err != nil || addr.Address != a.email || !strings.Contains(addr.Address[strings.LastIndex(addr.Address, "@")+1:], ".") {
		errs = append(errs, core.Errorf(p, "set ACMEIssuerProps.Email to your address (Let's Encrypt's account contact)", "email %q is not an email address", a.email))
	}
	for _, z := range a.Zones {
		if hostProblem(z) != "" {
			continue
		}
		if d, ok := under(z, specialUse); ok {
			errs = append(errs, core.Errorf(p, "serve LAN names from the internal CA (CAIssuerProps.Domains) and use a public zone here",
				"zone %q is under %q, a name no public CA issues for", z, d))
			continue
		}
		if _, icann := publicsuffix.PublicSuffix(z); !icann {
			errs = append(errs, core.Errorf(p, "use a zone you registered under a public suffix (a Cloudflare zone), or the internal CA for LAN names",
				"zone %q is not under a public top-level domain", z))
		} else if _, err := publicsuffix.EffectiveTLDPlusOne(z); err != nil {
			errs = append(errs, core.Errorf(p, "use the domain you registered, such as \"example.org\"", "zone %q is a public suffix, not a domain", z))
		}
	}
	return errs
}
