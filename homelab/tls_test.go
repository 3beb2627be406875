package homelab_test

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/constructs/certs"
	"github.com/funoffshore/homelab/constructs/ingress"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/testenv"
)

// TestEveryHostServedOverTLS: with cert-manager, every Ingress the tree
// renders names a TLS Secret that a Certificate of its namespace
// produces for each of its hosts, from a ClusterIssuer the tree renders
// that serves them; and the tunnel reaches each host on the port of
// ingress-nginx's Service (as its chart renders it) that leads to the
// controller's HTTPS container port, sending the host as the TLS server
// name and verifying the publicly trusted certificate.
func TestEveryHostServedOverTLS(t *testing.T) {
	app, h := homelab.NewApp(nil)
	require.NoError(t, app.Tree().Validate())
	require.NotEmpty(t, h.Issuers)
	issuers := map[string]certs.Issuer{}
	for _, is := range h.Issuers {
		issuers[is.Ref().Name] = is
	}
	var ingresses []networkingv1.Ingress
	certificates := map[string]cmapi.Certificate{} // namespace/secret
	clusterIssuers := map[string]bool{}
	for _, o := range app.Tree().Objects() {
		m, err := o.Manifest()
		require.NoError(t, err)
		data, err := yaml.Marshal(m)
		require.NoError(t, err)
		switch o.Identity().Kind {
		case "Ingress":
			var ing networkingv1.Ingress
			require.NoError(t, yaml.Unmarshal(data, &ing))
			ingresses = append(ingresses, ing)
		case "Certificate":
			var c cmapi.Certificate
			require.NoError(t, yaml.Unmarshal(data, &c))
			certificates[c.Namespace+"/"+c.Spec.SecretName] = c
		case "ClusterIssuer":
			clusterIssuers[o.Identity().Name] = true
		}
	}
	require.NotEmpty(t, ingresses)
	for _, ing := range ingresses {
		require.NotEmpty(t, ing.Spec.TLS, "Ingress %s/%s serves no TLS", ing.Namespace, ing.Name)
		covered := map[string]bool{}
		for _, tls := range ing.Spec.TLS {
			c, ok := certificates[ing.Namespace+"/"+tls.SecretName]
			require.True(t, ok, "Ingress %s/%s: no Certificate produces Secret %s", ing.Namespace, ing.Name, tls.SecretName)
			assert.True(t, clusterIssuers[c.Spec.IssuerRef.Name], "Certificate %s names ClusterIssuer %q, which the tree does not render", c.Name, c.Spec.IssuerRef.Name)
			for _, host := range tls.Hosts {
				assert.Contains(t, c.Spec.DNSNames, host, "Certificate %s is for the Ingress's TLS host", c.Name)
				ok, problem, _ := issuers[c.Spec.IssuerRef.Name].Serves(host)
				assert.True(t, ok, "%s: %s", host, problem)
				covered[host] = true
			}
		}
		for _, r := range ing.Spec.Rules {
			assert.True(t, covered[r.Host], "Ingress %s/%s: host %s has no certificate", ing.Namespace, ing.Name, r.Host)
		}
	}

	// The tunnel's routes, against the controller's Service and pods as the
	// chart renders them.
	var svc corev1.Service
	var httpsPort int32
	for _, o := range testenv.RenderRelease(t, h.Nginx.Release) {
		switch {
		case o.GetKind() == "Service" && o.GetName() == "ingress-nginx-controller":
			decodeInto(t, o, &svc)
		case o.GetKind() == "Deployment" && o.GetName() == "ingress-nginx-controller":
			tmpl, _ := podTemplate(t, o)
			for _, p := range tmpl.Spec.Containers[0].Ports {
				if p.Name == "https" {
					httpsPort = p.ContainerPort
				}
			}
		}
	}
	require.NotZero(t, httpsPort, "the controller listens on no https port")
	cfg := h.Tunnel.Config()
	hosts := 0
	for _, r := range cfg.Ingress {
		if r.Hostname == "" {
			continue
		}
		hosts++
		u, err := url.Parse(r.Service)
		require.NoError(t, err)
		assert.Equal(t, "https", u.Scheme, "%s reaches its origin over TLS", r.Hostname)
		assert.Equal(t, svc.Name+"."+h.Nginx.Namespace+".svc.cluster.local", u.Hostname())
		port, _ := strconv.Atoi(u.Port())
		i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == int32(port) })
		require.GreaterOrEqual(t, i, 0, "%s: the Service has no port %d", r.Hostname, port)
		assert.Equal(t, "https", svc.Spec.Ports[i].TargetPort.String(), "port %d leads to the controller's HTTPS port (%d)", port, httpsPort)
		require.NotNil(t, r.OriginRequest, r.Hostname)
		assert.Equal(t, r.Hostname, r.OriginRequest.OriginServerName, "the TLS server name is the host the certificate is for")
		assert.False(t, r.OriginRequest.NoTLSVerify, "%s: a Let's Encrypt certificate is verified", r.Hostname)
	}
	assert.Equal(t, len(ingresses), hosts)
	assert.Equal(t, []int32{80, 443}, h.Tunnel.OriginPorts())
}

// TestTLSRouteNeedsOriginTLS: a tunnel that reaches its origin only on
// HTTP refuses a TLS route, naming the fix, rather than render a policy
// that drops it.
func TestTLSRouteNeedsOriginTLS(t *testing.T) {
	app, h := homelab.NewApp(nil)
	tun := ingress.NewTunnel(h.Platform, "tunnel-2", &ingress.TunnelProps{Domain: "funoffshore.com", TunnelID: homelab.ExampleTunnelID, Namespace: "cloudflared", Origin: h.Nginx})
	tun.ExposeTLS("wiki.funoffshore.com", "apps/wiki", true)
	err := app.Tree().Validate()
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), `apps/wiki: host "wiki.funoffshore.com" is routed over TLS by a tunnel that reaches its origin only on HTTP; set TunnelProps.OriginTLS on platform/tunnel-2 so its policy admits the origin's HTTPS port`), err.Error())
}
