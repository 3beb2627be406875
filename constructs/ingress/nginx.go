package ingress

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/security"
)

// NginxProps configures Nginx.
type NginxProps struct {
	// Namespace of the controller. Default: "ingress-nginx".
	Namespace string
	// ClassName of the IngressClass. Default: "nginx".
	ClassName string
	// Replicas of the controller. Default: 1.
	Replicas int
	// LAN exposes the controller on these ports of every node, for
	// clients in the LAN, instead of a ClusterIP Service only a tunnel
	// reaches from inside; the forwarded headers of clients are then not
	// trusted. Nil: behind a tunnel (Cloudflare's client address headers
	// trusted).
	LAN *NodePorts
}

// NodePorts are the node ports a Service listens on.
type NodePorts struct {
	// HTTP and HTTPS ports, in the cluster's NodePort range
	// (30000-32767). Default: 30080 and 30443.
	HTTP, HTTPS int32
}

// Nginx is ingress-nginx: the cluster's default IngressClass, behind a
// ClusterIP Service that cloudflared reaches from inside, or on node
// ports for the LAN (NginxProps.LAN).
type Nginx struct {
	constructs.Construct
	info *core.Info

	// Release is the HelmRelease.
	Release *flux.HelmRelease
	// Namespace, ClassName after defaults; ServiceURL is the controller's
	// in-cluster HTTP address, TLSServiceURL its HTTPS one.
	Namespace, ClassName, ServiceURL, TLSServiceURL string
	// MetricsPort is the controller's Prometheus port; WebhookPort its
	// admission webhook's (the chart's controller.admissionWebhooks.port).
	MetricsPort, WebhookPort int32
	// LAN is the node ports it is exposed on, after defaults; nil behind
	// a tunnel.
	LAN *NodePorts

	values *nginxValues
	egress []security.Peer
}

// SendTraces has the controller emit a span for every request it proxies
// (its OpenTelemetry module: the controller ConfigMap's
// enable-opentelemetry, otlp-collector-host and -port), to an OTLP/gRPC
// collector at host:port; to are the collector's pods on that port, which
// the controller's egress admits.
func (n *Nginx) SendTraces(host string, port int32, to security.Peer) {
	c := &n.values.Controller
	if c.Config == nil {
		c.Config = map[string]string{}
	}
	c.Config["enable-opentelemetry"] = "true"
	c.Config["otlp-collector-host"] = host
	c.Config["otlp-collector-port"] = strconv.Itoa(int(port))
	c.Config["otel-service-name"] = "ingress-nginx"
	n.egress = append(n.egress, to)
}

// Egress are the destinations wiring methods added (SendTraces).
func (n *Nginx) Egress() []security.Peer { return slices.Clone(n.egress) }

type nginxValues struct {
	Controller struct {
		ReplicaCount         int `json:"replicaCount"`
		IngressClassResource struct {
			Name    string `json:"name"`
			Enabled bool   `json:"enabled"`
			Default bool   `json:"default"`
		} `json:"ingressClassResource"`
		IngressClass string `json:"ingressClass"`
		Service      struct {
			Type      string `json:"type"`
			NodePorts *struct {
				HTTP  int32 `json:"http"`
				HTTPS int32 `json:"https"`
			} `json:"nodePorts,omitempty"`
		} `json:"service"`
		Metrics struct {
			Enabled bool  `json:"enabled"`
			Port    int32 `json:"port"`
		} `json:"metrics"`
		// Config is the controller ConfigMap: trust the tunnel's forwarded headers.
		Config    map[string]string           `json:"config"`
		Resources corev1.ResourceRequirements `json:"resources"`
		// AdmissionWebhooks' jobs get resources too; the webhook listens
		// on Port (the namespace's isolation admits the API server there).
		AdmissionWebhooks struct {
			Port            int32 `json:"port"`
			CreateSecretJob struct {
				Resources corev1.ResourceRequirements `json:"resources"`
			} `json:"createSecretJob"`
			PatchWebhookJob struct {
				Resources corev1.ResourceRequirements `json:"resources"`
			} `json:"patchWebhookJob"`
		} `json:"admissionWebhooks"`
	} `json:"controller"`
}

// NewNginx adds ingress-nginx below scope.
func NewNginx(scope constructs.Construct, id string, repo *flux.HelmRepository, props *NginxProps) *Nginx {
	props = cmp.Or(props, &NginxProps{})
	n := &Nginx{Namespace: props.Namespace, ClassName: props.ClassName, MetricsPort: 10254, WebhookPort: 8443}
	n.Namespace = cmp.Or(n.Namespace, "ingress-nginx")
	n.ClassName = cmp.Or(n.ClassName, "nginx")
	replicas := cmp.Or(props.Replicas, 1)
	n.ServiceURL = "http://ingress-nginx-controller." + n.Namespace + ".svc.cluster.local:80"
	n.TLSServiceURL = "https://ingress-nginx-controller." + n.Namespace + ".svc.cluster.local:443"
	n.info = core.Init(n, scope, id)
	v := &nginxValues{}
	n.values = v
	c := &v.Controller
	c.ReplicaCount = replicas
	c.IngressClassResource.Name, c.IngressClassResource.Enabled, c.IngressClassResource.Default = n.ClassName, true, true
	c.IngressClass = n.ClassName
	c.Service.Type = string(corev1.ServiceTypeClusterIP)
	c.Metrics.Enabled, c.Metrics.Port = true, n.MetricsPort
	c.Config = map[string]string{"use-forwarded-headers": "true", "enable-real-ip": "true", "forwarded-for-header": "CF-Connecting-IP"}
	if lan := props.LAN; lan != nil {
		ports := NodePorts{HTTP: cmp.Or(lan.HTTP, 30080), HTTPS: cmp.Or(lan.HTTPS, 30443)}
		n.LAN = &ports
		c.Service.Type = string(corev1.ServiceTypeNodePort)
		c.Service.NodePorts = &struct {
			HTTP  int32 `json:"http"`
			HTTPS int32 `json:"https"`
		}{ports.HTTP, ports.HTTPS}
		// Clients in the LAN reach it directly: their headers are theirs
		// to forge, so none is trusted.
		c.Config = nil
		n.info.Tree().AddValidation(func() []error {
			var errs []error
			for _, p := range []int32{ports.HTTP, ports.HTTPS} {
				if p < 30000 || p > 32767 {
					errs = append(errs, core.Errorf(n.info.Path(), "use a port in 30000-32767, or 0 for the default", "node port %d is outside the cluster's NodePort range", p))
				}
			}
			if ports.HTTP == ports.HTTPS {
				errs = append(errs, core.Errorf(n.info.Path(), "give HTTP and HTTPS their own ports", "HTTP and HTTPS share node port %d", ports.HTTP))
			}
			return errs
		})
	}
	c.Resources = kube.Requirements("100m", "128Mi", "256Mi")
	c.AdmissionWebhooks.Port = n.WebhookPort
	c.AdmissionWebhooks.CreateSecretJob.Resources = kube.Requirements("10m", "20Mi", "64Mi")
	c.AdmissionWebhooks.PatchWebhookJob.Resources = kube.Requirements("10m", "20Mi", "64Mi")
	n.Release = flux.NewHelmRelease(n, "release", &flux.HelmReleaseProps{
		Name: "ingress-nginx", Namespace: n.Namespace, Repository: repo, Chart: NginxChart.Name, Version: NginxChart.Version, Values: v,
	})
	if replicas < 0 {
		n.info.Tree().AddValidation(func() []error {
			return []error{core.Errorf(n.info.Path(), "use 1 or more replicas", "NginxProps.Replicas %d is negative", replicas)}
		})
	}
	n.info.Tree().DeclareExternal(core.ObjectID{Group: "networking.k8s.io", Kind: "IngressClass", Name: n.ClassName}, "created by the ingress-nginx chart")
	core.Workloads.Of(n.info.Tree()).Add(core.Workload{Source: n.info.Path(), Name: "ingress-nginx-controller", Replicas: replicas,
		CPU: c.Resources.Requests[corev1.ResourceCPU], Memory: c.Resources.Requests[corev1.ResourceMemory], MemoryLimit: c.Resources.Limits[corev1.ResourceMemory]})
	return n
}

// Info returns the construct's place in the tree.
func (n *Nginx) Info() *core.Info { return n.info }

// ToString overrides the jsii method; it returns the construct path.
func (n *Nginx) ToString() *string { return core.PathString(n.info) }
