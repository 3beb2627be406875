package ingress

import (
	"cmp"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/secret"
	"github.com/funoffshore/homelab/constructs/security"
)

// NginxChart pins the last ingress-nginx chart: the project stopped
// releasing in March 2026.
// renovate: datasource=helm
var NginxChart = flux.Chart{Repository: "https://kubernetes.github.io/ingress-nginx", Name: "ingress-nginx", Version: "4.15.1"}

// Dir is the directory of the ingress parts below
// cluster/kubernetes/platform.
const Dir = "ingress"

// NginxPart runs ingress-nginx (NewNginx) as a platform part. Without a
// tunnel (TunnelPart), set props.LAN so that the LAN reaches it.
func NginxPart(props *NginxProps) platform.Part {
	np := &nginxPart{props: *cmp.Or(props, &NginxProps{})}
	np.props.Namespace = cmp.Or(np.props.Namespace, "ingress-nginx")
	return np
}

type nginxPart struct {
	props NginxProps
	n     *Nginx
}

func (np *nginxPart) Charts() []flux.Chart { return []flux.Chart{NginxChart} }

func (np *nginxPart) Namespaces() []platform.Namespace {
	return []platform.Namespace{{Name: np.props.Namespace, PodSecurity: "baseline"}}
}

func (np *nginxPart) Build(p *platform.Platform) {
	np.n = NewNginx(p.Chart(Dir), "ingress-nginx", p.Repository(NginxChart), &np.props)
	p.Add(np.n)
}

func (np *nginxPart) Scrapes() []platform.Scrape {
	n := np.n
	return []platform.Scrape{{
		To: security.Namespace(n.Namespace).On(security.TCP(n.MetricsPort)),
		Monitor: &platform.Monitor{Name: "ingress-nginx", Namespace: n.Namespace, Port: "metrics",
			Selector: map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}},
	}}
}

// Isolate admits the tunnel (or, on node ports, the LAN), the scrapes of
// its metrics and the API server's calls of its admission webhook; it
// reaches the backends of Ingresses in any namespace but the platform's
// internal ones, the cluster DNS and the API server, not the internet.
func (np *nginxPart) Isolate(p *platform.Platform, scope constructs.Construct) {
	n := np.n
	var web []security.Peer
	if t, ok := platform.Find[*Tunnel](p); ok {
		web = append(web, security.Namespace(t.Namespace).On(tcp(t.OriginPorts())...))
	}
	if n.LAN != nil {
		// kube-proxy forwards node-port clients with their own address.
		web = append(web, security.CIDR("0.0.0.0/0").On(security.TCP(80), security.TCP(443)))
	}
	web = append(web, p.ScrapedOn(security.TCP(n.MetricsPort))...)
	security.NewIsolation(scope, "ingress-nginx", &security.IsolationProps{
		Namespace: n.Namespace,
		Ingress:   append(web, p.WebhookCallers(n.WebhookPort)...),
		Egress:    append([]security.Peer{security.DNS(), security.AllNamespacesExcept(p.InternalNamespaces()...), p.APIServer()}, n.Egress()...),
	})
}

// TunnelPart runs the Cloudflare Tunnel (NewTunnel) as a platform part,
// with ingress-nginx (NginxPart, before it in the parts) as its origin
// and its credentials declared as a Secret.
func TunnelPart(props *TunnelProps) platform.Part {
	tp := &tunnelPart{props: *cmp.Or(props, &TunnelProps{})}
	tp.props.Namespace = cmp.Or(tp.props.Namespace, "cloudflared")
	return tp
}

type tunnelPart struct {
	props TunnelProps
	t     *Tunnel
}

func (tp *tunnelPart) Charts() []flux.Chart { return nil }

func (tp *tunnelPart) Namespaces() []platform.Namespace {
	return []platform.Namespace{{Name: tp.props.Namespace, PodSecurity: "restricted"}}
}

func (tp *tunnelPart) Build(p *platform.Platform) {
	props := tp.props
	if props.Origin == nil {
		props.Origin, _ = platform.Find[*Nginx](p)
	}
	tp.t = NewTunnel(p.Chart(Dir), "cloudflared", &props)
	p.Add(tp.t)
	p.Secret(p.Chart(Dir), "cloudflared-credentials", &secret.Props{
		Namespace: tp.t.Namespace, Name: tp.t.CredentialsSecret(), Keys: []string{"credentials.json"},
	})
}

func (tp *tunnelPart) Scrapes() []platform.Scrape {
	t := tp.t
	return []platform.Scrape{{
		To:      security.Namespace(t.Namespace).On(security.TCP(t.MetricsPort)),
		Monitor: &platform.Monitor{Name: "cloudflared", Namespace: t.Namespace, Port: "metrics", Selector: map[string]string{"app.kubernetes.io/name": "cloudflared"}},
	}}
}

// Isolate: the tunnel takes only the scrapes of its metrics and reaches
// ingress-nginx and the Cloudflare edge.
func (tp *tunnelPart) Isolate(p *platform.Platform, scope constructs.Construct) {
	t := tp.t
	egress := []security.Peer{security.DNS()}
	if n, ok := platform.Find[*Nginx](p); ok {
		egress = append(egress, security.Namespace(n.Namespace).On(tcp(t.OriginPorts())...))
	}
	security.NewIsolation(scope, "cloudflared", &security.IsolationProps{
		Namespace: t.Namespace,
		Ingress:   p.ScrapedOn(security.TCP(t.MetricsPort)),
		// The Cloudflare edge: QUIC or HTTP/2 on 7844, the API on 443.
		Egress: append(egress, p.Internet().On(security.TCP(7844), security.UDP(7844), security.TCP(443))),
	})
}

// tcp are TCP ports.
func tcp(ports []int32) []security.Port {
	out := make([]security.Port, len(ports))
	for i, p := range ports {
		out[i] = security.TCP(p)
	}
	return out
}
