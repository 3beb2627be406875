package ingress

import (
	"cmp"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/google/uuid"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
)

// CloudflaredImage is the pinned cloudflared image.
const CloudflaredImage = "cloudflare/cloudflared:2026.9.3"

// TunnelProps configures Tunnel.
type TunnelProps struct {
	// Domain the apps live under, such as "funoffshore.com". Required.
	Domain string
	// TunnelID is the Cloudflare Tunnel's UUID (not a secret). Required.
	TunnelID string
	// CredentialsSecret is the Secret holding the tunnel's credentials.json
	// (key "credentials.json"). Default: "cloudflared-credentials".
	CredentialsSecret string
	// Namespace of cloudflared. Default: "cloudflared".
	Namespace string
	// Replicas of cloudflared. Default: 2.
	Replicas int32
	// Origin is the in-cluster address every route goes to: ingress-nginx.
	Origin *Nginx
	// OriginTLS lets routes reach the origin over TLS (ExposeTLS): the
	// tunnel's policy admits it to the origin's HTTPS port too.
	OriginTLS bool
}

// Tunnel is cloudflared: a Deployment connecting the cluster to the
// Cloudflare edge, whose ingress rules route every exposed host to
// ingress-nginx and answer anything else with 404.
type Tunnel struct {
	constructs.Construct
	info *core.Info

	// Domain, Namespace after defaults.
	Domain, Namespace string
	// MetricsPort of cloudflared.
	MetricsPort int32

	props  TunnelProps
	hosts  map[string]string // host -> construct path that exposed it
	tls    map[string]bool   // host served over TLS -> verify the origin's certificate
	config *corev1.ConfigMap
}

// CloudflaredConfig is cloudflared's config.yaml.
type CloudflaredConfig struct {
	Tunnel          string        `json:"tunnel"`
	CredentialsFile string        `json:"credentials-file"`
	Metrics         string        `json:"metrics"`
	NoAutoupdate    bool          `json:"no-autoupdate"`
	Ingress         []IngressRule `json:"ingress"`
}

// IngressRule routes a hostname (or, without one, everything else) to a service.
type IngressRule struct {
	Hostname      string         `json:"hostname,omitempty"`
	Service       string         `json:"service"`
	OriginRequest *OriginRequest `json:"originRequest,omitempty"`
}

// OriginRequest is how cloudflared connects to a rule's origin: the
// name it sends (SNI) and checks the origin's certificate against, and
// whether it skips that check (Cloudflare's "Origin configuration"
// reference: originServerName, noTLSVerify).
type OriginRequest struct {
	OriginServerName string `json:"originServerName,omitempty"`
	NoTLSVerify      bool   `json:"noTLSVerify,omitempty"`
}

// NewTunnel adds cloudflared below scope.
func NewTunnel(scope constructs.Construct, id string, props *TunnelProps) *Tunnel {
	props = cmp.Or(props, &TunnelProps{})
	t := &Tunnel{Domain: strings.TrimSuffix(props.Domain, "."), Namespace: props.Namespace, MetricsPort: 2000, props: *props, hosts: map[string]string{}, tls: map[string]bool{}}
	t.Namespace = cmp.Or(t.Namespace, "cloudflared")
	t.props.CredentialsSecret = cmp.Or(t.props.CredentialsSecret, "cloudflared-credentials")
	t.props.Replicas = cmp.Or(t.props.Replicas, 2)
	t.info = core.Init(t, scope, id)
	labels := map[string]string{"app.kubernetes.io/name": "cloudflared"}
	meta := metav1.ObjectMeta{Name: "cloudflared", Namespace: t.Namespace, Labels: labels}

	kube.NewObject(t, "service-account", &corev1.ServiceAccount{ObjectMeta: meta, AutomountServiceAccountToken: ptr.To(false)})
	t.config = &corev1.ConfigMap{ObjectMeta: meta}
	cm := kube.NewObject(t, "config", t.config)
	cm.BeforeRender(t.renderConfig)
	res := kube.Requirements("20m", "48Mi", "128Mi")
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("metrics")}},
		PeriodSeconds: 10, FailureThreshold: 3}
	kube.NewObject(t, "deployment", &appsv1.Deployment{
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(t.props.Replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName:           "cloudflared",
					AutomountServiceAccountToken: ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:          "cloudflared",
						Image:         CloudflaredImage,
						Args:          []string{"tunnel", "--config", "/etc/cloudflared/config/config.yaml", "run"},
						Ports:         []corev1.ContainerPort{{Name: "metrics", ContainerPort: t.MetricsPort, Protocol: corev1.ProtocolTCP}},
						LivenessProbe: probe, ReadinessProbe: probe,
						Resources: res,
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true), RunAsNonRoot: ptr.To(true),
							Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "config", MountPath: "/etc/cloudflared/config", ReadOnly: true},
							{Name: "credentials", MountPath: "/etc/cloudflared/creds", ReadOnly: true},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cloudflared"}}}},
						{Name: "credentials", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: t.props.CredentialsSecret}}},
					},
				},
			},
		},
	})
	kube.NewObject(t, "metrics-service", &corev1.Service{
		ObjectMeta: meta,
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "metrics", Port: t.MetricsPort, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP}}},
	})
	tree := t.info.Tree()
	core.Workloads.Of(tree).Add(core.Workload{Source: t.info.Path(), Name: "cloudflared", Replicas: int(t.props.Replicas),
		CPU: res.Requests[corev1.ResourceCPU], Memory: res.Requests[corev1.ResourceMemory], MemoryLimit: res.Limits[corev1.ResourceMemory]})
	tree.AddValidation(t.validate)
	core.Secrets.Of(tree).Refer(core.SecretRef{Namespace: t.Namespace, Name: t.props.CredentialsSecret, Key: "credentials.json", Source: t.info.Path()})
	return t
}

// CredentialsSecret is the Secret holding the tunnel's credentials.json.
func (t *Tunnel) CredentialsSecret() string { return t.props.CredentialsSecret }

// Info returns the construct's place in the tree.
func (t *Tunnel) Info() *core.Info { return t.info }

// ToString overrides the jsii method; it returns the construct path.
func (t *Tunnel) ToString() *string { return core.PathString(t.info) }

// Expose routes host (a name under the domain) through the tunnel to
// ingress-nginx; source is the construct path asking for it.
func (t *Tunnel) Expose(host, source string) {
	if first, ok := t.hosts[host]; ok && first != source {
		t.info.Tree().AddValidation(func() []error {
			return []error{core.Errorf(source, "give each app its own host", "host %q is already exposed by %q", host, first)}
		})
		return
	}
	t.hosts[host] = source
}

// ExposeTLS routes host like Expose, to the origin's HTTPS port, sending
// host as the TLS server name; verify checks the origin's certificate
// against the system's roots (a publicly trusted issuer's; an internal
// CA's certificate is encrypted but not verified). It needs
// TunnelProps.OriginTLS.
func (t *Tunnel) ExposeTLS(host, source string, verify bool) {
	t.Expose(host, source)
	if t.hosts[host] != source {
		return
	}
	t.tls[host] = verify
	if !t.props.OriginTLS {
		path := t.info.Path()
		t.info.Tree().AddValidation(func() []error {
			return []error{core.Errorf(source, fmt.Sprintf("set TunnelProps.OriginTLS on %s so its policy admits the origin's HTTPS port", path),
				"host %q is routed over TLS by a tunnel that reaches its origin only on HTTP", host)}
		})
	}
}

// OriginPorts are the origin's ports the tunnel connects to: HTTP, and
// HTTPS with OriginTLS.
func (t *Tunnel) OriginPorts() []int32 {
	if t.props.OriginTLS {
		return []int32{80, 443}
	}
	return []int32{80}
}

// Hosts returns the exposed hosts, sorted.
func (t *Tunnel) Hosts() []string {
	out := make([]string, 0, len(t.hosts))
	for h := range t.hosts {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// Config returns cloudflared's configuration: one rule per exposed host,
// all to ingress-nginx (over TLS for ExposeTLS's), then a catch-all 404.
func (t *Tunnel) Config() CloudflaredConfig {
	cfg := CloudflaredConfig{
		Tunnel: t.props.TunnelID, CredentialsFile: "/etc/cloudflared/creds/credentials.json",
		Metrics: fmt.Sprintf("0.0.0.0:%d", t.MetricsPort), NoAutoupdate: true,
	}
	origin, tlsOrigin := "", ""
	if t.props.Origin != nil {
		origin, tlsOrigin = t.props.Origin.ServiceURL, t.props.Origin.TLSServiceURL
	}
	for _, h := range t.Hosts() {
		if verify, ok := t.tls[h]; ok {
			cfg.Ingress = append(cfg.Ingress, IngressRule{Hostname: h, Service: tlsOrigin, OriginRequest: &OriginRequest{OriginServerName: h, NoTLSVerify: !verify}})
			continue
		}
		cfg.Ingress = append(cfg.Ingress, IngressRule{Hostname: h, Service: origin})
	}
	cfg.Ingress = append(cfg.Ingress, IngressRule{Service: "http_status:404"})
	return cfg
}

func (t *Tunnel) renderConfig() error {
	data, err := yaml.Marshal(t.Config())
	if err != nil {
		return err
	}
	t.config.Data = map[string]string{"config.yaml": string(data)}
	return nil
}

func (t *Tunnel) validate() []error {
	var errs []error
	p := t.info.Path()
	if msgs := validation.IsDNS1123Subdomain(t.Domain); t.Domain == "" || len(msgs) > 0 {
		errs = append(errs, core.Errorf(p, `set TunnelProps.Domain, such as "example.org"`, "domain %q is not a DNS name", t.Domain))
	}
	// cloudflared parses the ID with github.com/google/uuid's Parse; the
	// canonical 36-character form is the one `cloudflared tunnel list`
	// prints and the credentials file is named after.
	if id, err := uuid.Parse(t.props.TunnelID); err != nil || len(t.props.TunnelID) != 36 {
		errs = append(errs, core.Errorf(p, "set TunnelProps.TunnelID to the tunnel's UUID (cloudflared tunnel list)", "tunnel ID %q is not a UUID", t.props.TunnelID))
	} else if id.String() != t.props.TunnelID {
		errs = append(errs, core.Errorf(p, "write it as "+id.String(), "tunnel ID %q is not in the lowercase form cloudflared prints", t.props.TunnelID))
	}
	if t.props.Origin == nil {
		errs = append(errs, core.Errorf(p, "set TunnelProps.Origin to the ingress-nginx construct", "the tunnel has no origin"))
	}
	for _, h := range t.Hosts() {
		if h != t.Domain && !strings.HasSuffix(h, "."+t.Domain) {
			errs = append(errs, core.Errorf(t.hosts[h], fmt.Sprintf("use a host under %s, such as \"app.%s\"", t.Domain, t.Domain), "host %q is outside the domain %q", h, t.Domain))
		} else if msgs := validation.IsDNS1123Subdomain(h); len(msgs) > 0 {
			errs = append(errs, core.Errorf(t.hosts[h], "use lowercase letters, digits, '-' and '.'", "host %q is not a DNS name", h))
		}
	}
	return errs
}
