package certs_test

import (
	"context"
	"strings"
	"testing"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	"github.com/cert-manager/cert-manager/pkg/util/solverpicker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/certs"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/secret"
)

// issuerLab is a chart with the two issuers and their Secrets declared,
// as the part does.
func issuerLab(t *testing.T, ca *certs.CAIssuerProps, acme *certs.ACMEIssuerProps) (*core.App, *kube.Chart, *certs.CAIssuer, *certs.ACMEIssuer) {
	t.Helper()
	app := core.NewApp(nil)
	chart := kube.NewChart(app, "config", &kube.ChartProps{Dir: "kubernetes/platform-config"})
	kube.NewNamespace(chart, "cert-manager", &kube.NamespaceProps{Name: "cert-manager"})
	kube.NewNamespace(chart, "apps", &kube.NamespaceProps{Name: "apps"})
	var c *certs.CAIssuer
	var a *certs.ACMEIssuer
	if ca != nil {
		ca.Namespace = "cert-manager"
		c = certs.NewCAIssuer(chart, "ca", ca)
		secret.New(chart, "ca-secret", &secret.Props{Namespace: "cert-manager", Name: c.Name, Keys: certs.CAKeys})
	}
	if acme != nil {
		acme.Namespace = "cert-manager"
		a = certs.NewACMEIssuer(chart, "acme", acme)
		secret.New(chart, "token", &secret.Props{Namespace: "cert-manager", Name: a.TokenSecret, Keys: []string{a.TokenKey}})
	}
	return app, chart, c, a
}

// TestIssuerAndCertificateValidation: each bad value is refused with
// the construct's path, the value and the fix.
func TestIssuerAndCertificateValidation(t *testing.T) {
	goodACME := func() *certs.ACMEIssuerProps {
		return &certs.ACMEIssuerProps{Email: "ops@example.org", Zones: []string{"example.org"}}
	}
	for _, tc := range []struct {
		name  string
		build func(t *testing.T) *core.App
		want  string
	}{{
		name: "a CA that serves no domain",
		build: func(t *testing.T) *core.App {
			app, _, _, _ := issuerLab(t, &certs.CAIssuerProps{}, nil)
			return app
		},
		want: `config/ca: the issuer serves no domain; set CAIssuerProps.Domains to the domains it issues for, such as "home.arpa"`,
	}, {
		name: "a CA domain written as a wildcard",
		build: func(t *testing.T) *core.App {
			app, _, _, _ := issuerLab(t, &certs.CAIssuerProps{Domains: []string{"*.home.arpa"}}, nil)
			return app
		},
		want: `config/ca: domain "*.home.arpa" is not a DNS name; write each of CAIssuerProps.Domains as a domain such as "home.arpa" (it covers every name below it)`,
	}, {
		name: "an ACME account without an email address",
		build: func(t *testing.T) *core.App {
			p := goodACME()
			p.Email = "ops"
			app, _, _, _ := issuerLab(t, nil, p)
			return app
		},
		want: `config/acme: email "ops" is not an email address; set ACMEIssuerProps.Email to your address (Let's Encrypt's account contact)`,
	}, {
		name: "an ACME zone no public CA issues for",
		build: func(t *testing.T) *core.App {
			p := goodACME()
			p.Zones = []string{"lab.home.arpa"}
			app, _, _, _ := issuerLab(t, nil, p)
			return app
		},
		want: `config/acme: zone "lab.home.arpa" is under "home.arpa", a name no public CA issues for; serve LAN names from the internal CA (CAIssuerProps.Domains) and use a public zone here`,
	}, {
		name: "an ACME zone under no public top-level domain",
		build: func(t *testing.T) *core.App {
			p := goodACME()
			p.Zones = []string{"lab.corp"}
			app, _, _, _ := issuerLab(t, nil, p)
			return app
		},
		want: `config/acme: zone "lab.corp" is not under a public top-level domain; use a zone you registered under a public suffix (a Cloudflare zone), or the internal CA for LAN names`,
	}, {
		name: "an ACME zone that is a public suffix",
		build: func(t *testing.T) *core.App {
			p := goodACME()
			p.Zones = []string{"co.uk"}
			app, _, _, _ := issuerLab(t, nil, p)
			return app
		},
		want: `config/acme: zone "co.uk" is a public suffix, not a domain; use the domain you registered, such as "example.org"`,
	}, {
		name: "a host outside the ACME zones with no CA",
		build: func(t *testing.T) *core.App {
			app, chart, _, a := issuerLab(t, nil, goodACME())
			certs.NewCertificate(chart, "wiki", &certs.CertificateProps{Name: "wiki-tls", Namespace: "apps", DNSNames: []string{"wiki.home.arpa"}, Issuer: a})
			return app
		},
		want: `config/wiki: no issuer can serve host "wiki.home.arpa": the ACME issuer "letsencrypt" solves challenges only in the zones example.org; use a host in one of those zones, add the host's Cloudflare zone to the ACME zones, or give the homelab an internal CA for it`,
	}, {
		name: "a host outside the CA's domains",
		build: func(t *testing.T) *core.App {
			app, chart, c, _ := issuerLab(t, &certs.CAIssuerProps{Domains: []string{"home.arpa"}}, nil)
			certs.NewCertificate(chart, "wiki", &certs.CertificateProps{Name: "wiki-tls", Namespace: "apps", DNSNames: []string{"wiki.example.org"}, Issuer: c})
			return app
		},
		want: `config/wiki: no issuer can serve host "wiki.example.org": the internal CA "homelab-ca" issues only under home.arpa; add the host's domain to the CA's domains, or serve it from the ACME issuer's zone`,
	}, {
		name: "a wildcard proven by HTTP-01",
		build: func(t *testing.T) *core.App {
			p := goodACME()
			p.HTTP01 = "nginx"
			app, chart, _, a := issuerLab(t, nil, p)
			certs.NewCertificate(chart, "wiki", &certs.CertificateProps{Name: "wiki-tls", Namespace: "apps", DNSNames: []string{"*.example.org"}, Issuer: a})
			return app
		},
		want: `config/wiki: no issuer can serve host "*.example.org": the ACME issuer "letsencrypt" proves names with HTTP-01, which cannot prove a wildcard; use DNS-01 (leave ACMEIssuerProps.HTTP01 empty and give it a Cloudflare token), or name each host`,
	}, {
		name: "a wildcard in the middle of a name",
		build: func(t *testing.T) *core.App {
			app, chart, c, _ := issuerLab(t, &certs.CAIssuerProps{Domains: []string{"home.arpa"}}, nil)
			certs.NewCertificate(chart, "wiki", &certs.CertificateProps{Name: "wiki-tls", Namespace: "apps", DNSNames: []string{"a.*.home.arpa"}, Issuer: c})
			return app
		},
		want: `config/wiki: "a.*.home.arpa" is not a DNS name: a wildcard is only "*." at its start; use a DNS name such as "app.home.arpa" (or "*.home.arpa")`,
	}, {
		name: "a certificate without an issuer",
		build: func(t *testing.T) *core.App {
			app, chart, _, _ := issuerLab(t, nil, nil)
			certs.NewCertificate(chart, "wiki", &certs.CertificateProps{Name: "wiki-tls", Namespace: "apps", DNSNames: []string{"wiki.home.arpa"}})
			return app
		},
		want: `config/wiki: no issuer for [wiki.home.arpa]; set CertificateProps.Issuer (an internal CA for LAN names, ACME for names in your Cloudflare zone)`,
	}, {
		name: "an issuer whose Secret no construct declares",
		build: func(t *testing.T) *core.App {
			app := core.NewApp(nil)
			chart := kube.NewChart(app, "config", &kube.ChartProps{Dir: "kubernetes/platform-config"})
			kube.NewNamespace(chart, "cert-manager", &kube.NamespaceProps{Name: "cert-manager"})
			certs.NewACMEIssuer(chart, "acme", &certs.ACMEIssuerProps{Namespace: "cert-manager", Email: "ops@example.org", Zones: []string{"example.org"}})
			return app
		},
		want: `config/acme: secret cert-manager/cloudflare-api-token is referenced but no construct declares it; declare it with secret.New in namespace "cert-manager"`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.build(t).Tree().Validate()
			require.Error(t, err)
			assert.Contains(t, strings.Split(err.Error(), "\n"), "  - "+tc.want, "got:\n%v", err)
		})
	}

	t.Run("good issuers and certificates validate", func(t *testing.T) {
		app, chart, c, a := issuerLab(t, &certs.CAIssuerProps{Domains: []string{"home.arpa"}}, goodACME())
		certs.NewCertificate(chart, "lan", &certs.CertificateProps{Name: "lan", Namespace: "apps", DNSNames: []string{"*.home.arpa", "nas.home.arpa"}, Issuer: c})
		certs.NewCertificate(chart, "pub", &certs.CertificateProps{Name: "pub", Namespace: "apps", DNSNames: []string{"example.org", "*.example.org"}, Issuer: a})
		require.NoError(t, app.Tree().Validate())
	})
}

// TestChoose prefers the publicly trusted issuer and finds none for a
// host no issuer serves.
func TestChoose(t *testing.T) {
	_, _, c, a := issuerLab(t, &certs.CAIssuerProps{Domains: []string{"home.arpa", "example.org"}}, &certs.ACMEIssuerProps{Email: "ops@example.org", Zones: []string{"example.org"}})
	issuers := certs.Issuers{c, a}
	assert.Equal(t, certs.Issuer(a), certs.Choose(issuers, "wiki.example.org"), "Let's Encrypt before the CA where both serve")
	assert.Equal(t, certs.Issuer(c), certs.Choose(issuers, "nas.home.arpa"))
	assert.Nil(t, certs.Choose(issuers, "wiki.example.net"))

	_, _, _, staging := issuerLab(t, nil, &certs.ACMEIssuerProps{Email: "ops@example.org", Zones: []string{"example.org"}, Staging: true})
	assert.False(t, staging.PubliclyTrusted(), "staging certificates are trusted by no browser")
	assert.Equal(t, "letsencrypt-staging", staging.Name)
	assert.Equal(t, certs.LetsEncryptStaging, staging.Object.Spec.ACME.Server)
}

// TestACMESolverAsCertManagerPicksIt checks the ACME issuer's idea of the
// names it serves against cert-manager's own solver selection at the
// pinned release (pkg/util/solverpicker.Pick, which the order controller
// calls with "*." before a wildcard authorization's identifier,
// pkg/controller/acmeorders/util.go): a name the issuer says it serves
// gets the DNS-01 solver with the declared Cloudflare token, and a name
// it refuses gets no solver, so its validation refuses exactly what
// cert-manager would leave pending for ever.
func TestACMESolverAsCertManagerPicksIt(t *testing.T) {
	hosts := []string{
		"example.org", "wiki.example.org", "a.b.example.org", "*.example.org",
		"lab.example.net", "x.lab.example.net", "*.lab.example.net",
		"example.net", "other.example.net", "notexample.org", "example.org.evil.com", "*.org",
	}
	// The challenges the ACME server offers: none but dns-01 for a
	// wildcard (RFC 8555, 7.1.3 and 8.3).
	offered := func(host string) []cmacme.ACMEChallenge {
		if strings.HasPrefix(host, "*.") {
			return []cmacme.ACMEChallenge{{Type: "dns-01"}}
		}
		return []cmacme.ACMEChallenge{{Type: "http-01"}, {Type: "dns-01"}, {Type: "tls-alpn-01"}}
	}
	zones := []string{"example.org", "lab.example.net"}
	t.Run("DNS-01", func(t *testing.T) {
		_, _, _, a := issuerLab(t, nil, &certs.ACMEIssuerProps{Email: "ops@example.org", Zones: zones})
		for _, host := range hosts {
			serves, _, _ := a.Serves(host)
			solver, ch := solverpicker.Pick(context.Background(), host, offered(host), a.Object.Spec.ACME.Solvers, &cmacme.Order{})
			assert.Equal(t, serves, solver != nil, "%s: the issuer says it serves it: %v; cert-manager picks a solver: %v", host, serves, solver != nil)
			if solver == nil {
				continue
			}
			require.NotNil(t, solver.DNS01, "%s: a DNS-01 solver", host)
			require.NotNil(t, solver.DNS01.Cloudflare, "%s: through Cloudflare", host)
			assert.Equal(t, "dns-01", ch.Type)
			tok := solver.DNS01.Cloudflare.APIToken
			require.NotNil(t, tok)
			assert.Equal(t, a.TokenSecret, tok.Name)
			assert.Equal(t, a.TokenKey, tok.Key)
		}
	})
	t.Run("HTTP-01", func(t *testing.T) {
		app := core.NewApp(nil)
		chart := kube.NewChart(app, "config", &kube.ChartProps{Dir: "kubernetes/platform-config"})
		a := certs.NewACMEIssuer(chart, "acme", &certs.ACMEIssuerProps{Namespace: "cert-manager", Email: "ops@example.org", Zones: zones, HTTP01: "nginx"})
		for _, host := range hosts {
			serves, _, _ := a.Serves(host)
			solver, ch := solverpicker.Pick(context.Background(), host, offered(host), a.Object.Spec.ACME.Solvers, &cmacme.Order{})
			assert.Equal(t, serves, solver != nil, "%s: the issuer says it serves it: %v; cert-manager picks a solver: %v", host, serves, solver != nil)
			if solver != nil {
				require.NotNil(t, solver.HTTP01)
				assert.Equal(t, "http-01", ch.Type)
				assert.Equal(t, "nginx", *solver.HTTP01.Ingress.IngressClassName)
			}
		}
		kube.NewNamespace(chart, "cert-manager", &kube.NamespaceProps{Name: "cert-manager"})
		require.NoError(t, app.Tree().Validate(), "HTTP-01 needs no token Secret")
	})
}
