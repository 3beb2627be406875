package apps

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/certs"
	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/ingress"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/security"
	"github.com/funoffshore/homelab/constructs/storage"
)

// Resources are a container's CPU and memory requests and memory limit.
type Resources struct {
	// CPU request. Default: "50m".
	CPU string
	// Memory request. Default: "64Mi".
	Memory string
	// MemoryLimit. Default: twice the memory request.
	MemoryLimit string
}

// requirements parses the quantities once: the container's requests and
// limits, and the fields that are no quantity (left out of them).
func (r Resources) requirements() (corev1.ResourceRequirements, []string) {
	req := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	var bad []string
	parse := func(field, v string) (resource.Quantity, bool) {
		q, err := resource.ParseQuantity(v)
		if err != nil && v != "" {
			bad = append(bad, fmt.Sprintf("Resources.%s %q", field, v))
		}
		return q, err == nil
	}
	if q, ok := parse("CPU", r.CPU); ok {
		req.Requests[corev1.ResourceCPU] = q
	}
	if q, ok := parse("Memory", r.Memory); ok {
		req.Requests[corev1.ResourceMemory] = q
		limit := q.DeepCopy()
		limit.Add(q)
		req.Limits[corev1.ResourceMemory] = limit
	}
	if r.MemoryLimit != "" {
		if q, ok := parse("MemoryLimit", r.MemoryLimit); ok {
			req.Limits[corev1.ResourceMemory] = q
		}
	}
	return req, bad
}

// AppProps configures an App.
type AppProps struct {
	// Name of the app and its objects. Default: the construct id.
	Name string
	// Namespace the app runs in. Default: "apps".
	Namespace string
	// Image with a pinned tag or digest ("ghcr.io/org/app:1.2.3"). Required.
	Image string
	// Port the container listens on (HTTP). Required.
	Port int32
	// PortName names the port in the container, the Service and the
	// probes: its protocol, as an IANA service name ("postgresql",
	// "redis"). Default: "http".
	PortName string
	// ServicePort the app's Service listens on. Default: 80, the web's
	// (an app that is no web server, such as a database, sets its own:
	// other apps reach it on ServiceHost():ServicePort()).
	ServicePort int32
	// Replicas of the Deployment. Default: 1 (0 means the default; use
	// Stopped to run none).
	Replicas int32
	// Stopped scales the app to zero: the Deployment, its Service, volumes
	// and Secrets stay, no pod runs (and none is counted by the capacity
	// checks). Unset it to start the app again with Replicas.
	Stopped bool
	// Resources of the container. Default: see Resources.
	Resources Resources
	// Args passed to the container.
	Args []string
	// Host is the app's name under the tunnel's domain
	// ("echo.funoffshore.com"), or in the LAN; empty keeps the app
	// internal. With a Host, the app gets an Ingress and the tunnel, if
	// any, a route.
	Host string
	// Tunnel routes Host from the Cloudflare edge. Required with Host
	// unless LAN is set.
	Tunnel *ingress.Tunnel
	// LAN serves Host only to the LAN, through the IngressClass's
	// controller on its node ports (ingress.NginxProps.LAN), without a
	// tunnel.
	LAN bool
	// Ingress is the controller serving Host: its IngressClass, and its
	// namespace, admitted by the app's AllowFrom policy. Default: the
	// IngressClass named IngressClass.
	Ingress *ingress.Nginx
	// IngressClass of the Ingress when Ingress is nil. Default: "nginx".
	IngressClass string
	// TLS serves Host over HTTPS with a certificate from this issuer
	// (cert-manager renews it): a Certificate "<app>-tls" whose Secret the
	// Ingress names, and, with a tunnel, a route to the controller's
	// HTTPS port that checks a publicly trusted certificate. The issuer
	// must serve Host. Nil: plain HTTP in the cluster (the tunnel's edge
	// still serves HTTPS to browsers).
	TLS certs.Issuer
	// Volume is a persistent volume mounted at VolumePath, its claim named
	// after the app (Mount adds more).
	Volume *storage.Volume
	// Traces sends the app's OpenTelemetry traces to Collector
	// (SendTraces): for an app instrumented with an OpenTelemetry SDK,
	// which reads the standard OTEL_* environment.
	Traces bool
	// Collector receives the traces of an app with Traces (the homelab
	// sets the platform's telemetry.Collector). Required with Traces.
	Collector TraceCollector
	// VolumePath is where Volume is mounted. Default: "/data".
	VolumePath string
	// Env sets environment variables.
	Env []corev1.EnvVar
	// EnvFromConfigMaps and EnvFromSecrets name ConfigMaps and Secrets
	// whose keys become environment variables.
	EnvFromConfigMaps, EnvFromSecrets []string
	// Files are rendered into a ConfigMap; each is mounted read-only into
	// FilesPath, which stays writable for files the app makes itself.
	Files map[string]string
	// FilesPath is where Files are mounted. Default: "/config".
	FilesPath string
	// ScratchPaths get empty writable directories (the root file system is
	// read-only).
	ScratchPaths []string
	// HealthPath is the HTTP path of the readiness and liveness probes;
	// empty probes the TCP port.
	HealthPath string
	// RunAsUser is the UID the container runs as. Default: 65532.
	RunAsUser int64
}

// App is an application: ServiceAccount, Deployment and Service. Its
// wiring methods (Expose, Mount, Grant, AllowFrom) add what a user would
// otherwise write by hand, with the links back (the tunnel's route, the
// class's reservation, the token mount, the policy's admitted controller)
// derived from them.
type App struct {
	constructs.Construct
	info *core.Info

	// Name and Namespace after defaults.
	Name, Namespace string
	// Deployment, Service and ServiceAccount of the app.
	Deployment, Service, ServiceAccount *kube.Object

	props  AppProps
	labels map[string]string
	// resources are props.Resources parsed (once); badResources the
	// fields that are no quantity.
	resources    corev1.ResourceRequirements
	badResources []string
	// dep is the Deployment's typed object: the wiring methods change it
	// until synth.
	dep *appsv1.Deployment
	// exposed counts the hosts given (props or Expose); rwo is true once a
	// ReadWriteOnce volume is mounted; mountPaths are the container paths
	// of the mounted claims.
	exposed    int
	rwo        bool
	mountPaths []string
	// role is the Role Grant fills; policy the one AllowFrom fills, and
	// admitted whether it admits the ingress controller yet.
	role     *rbacv1.Role
	badRules []string
	policy   *security.PodPolicy
	admitted bool
}

// NewApp adds an app below scope.
func NewApp(scope constructs.Construct, id string, props *AppProps) *App {
	p := *cmp.Or(props, &AppProps{})
	p.Name = cmp.Or(p.Name, id)
	p.Namespace = cmp.Or(p.Namespace, "apps")
	if p.Replicas == 0 {
		p.Replicas = 1
	}
	if p.Stopped {
		p.Replicas = 0
	}
	p.Resources.CPU = cmp.Or(p.Resources.CPU, "50m")
	p.Resources.Memory = cmp.Or(p.Resources.Memory, "64Mi")
	if p.Ingress != nil {
		p.IngressClass = p.Ingress.ClassName
	}
	p.IngressClass = cmp.Or(p.IngressClass, "nginx")
	p.VolumePath = cmp.Or(p.VolumePath, "/data")
	p.FilesPath = cmp.Or(p.FilesPath, "/config")
	p.RunAsUser = cmp.Or(p.RunAsUser, 65532)
	p.ServicePort = cmp.Or(p.ServicePort, 80)
	p.PortName = cmp.Or(p.PortName, "http")
	a := &App{Name: p.Name, Namespace: p.Namespace, props: p, labels: map[string]string{"app.kubernetes.io/name": p.Name}}
	a.resources, a.badResources = p.Resources.requirements()
	a.info = core.Init(a, scope, id)
	a.info.Tree().AddValidation(a.validate)

	meta := a.meta()
	a.ServiceAccount = kube.NewObject(a, "service-account", &corev1.ServiceAccount{ObjectMeta: meta, AutomountServiceAccountToken: ptr.To(false)})
	if len(p.Files) > 0 {
		kube.NewObject(a, "files", &corev1.ConfigMap{ObjectMeta: meta, Data: p.Files})
	}
	a.dep = a.deployment(meta)
	if p.Volume != nil {
		a.mount("volume", p.Name, "data", p.VolumePath, *p.Volume)
	}
	a.files()
	a.Deployment = kube.NewObject(a, "deployment", a.dep)
	a.Service = kube.NewObject(a, "service", &corev1.Service{
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			Selector: a.labels,
			Ports:    []corev1.ServicePort{{Name: p.PortName, Port: p.ServicePort, TargetPort: intstr.FromString(p.PortName), Protocol: corev1.ProtocolTCP}},
		},
	})
	if p.Host != "" {
		a.expose()
	}
	if p.Traces && p.Collector != nil {
		a.SendTraces(p.Collector.OTLPEndpoint(), p.Collector.OTLPPeer())
	} else if p.Traces {
		path := a.info.Path()
		a.info.Tree().AddValidation(func() []error {
			return []error{core.Errorf(path, "run the telemetry parts with traces (Platform.Telemetry.TraceVolume), or set AppProps.Collector", "the app sends traces, and no collector receives them")}
		})
	}
	c := a.dep.Spec.Template.Spec.Containers[0]
	core.Workloads.Of(a.info.Tree()).Add(core.Workload{Source: a.info.Path(), Name: p.Name, Replicas: int(p.Replicas),
		CPU: c.Resources.Requests[corev1.ResourceCPU], Memory: c.Resources.Requests[corev1.ResourceMemory], MemoryLimit: c.Resources.Limits[corev1.ResourceMemory]})
	return a
}

// meta is the metadata of each of the app's objects.
func (a *App) meta() metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: a.Name, Namespace: a.Namespace, Labels: a.labels}
}

// Expose serves the app at host through the ingress controller via: an
// Ingress of via's class and, with a tunnel, the tunnel's route to it;
// without one, host is served in the LAN on via's node ports
// (NginxProps.LAN). An AllowFrom policy admits via's namespace. It is
// what AppProps.Host, Tunnel, LAN and Ingress declare; an app has one host.
func (a *App) Expose(host string, via *ingress.Nginx, tunnel *ingress.Tunnel) {
	a.props.Host, a.props.Tunnel, a.props.LAN, a.props.Ingress = host, tunnel, tunnel == nil, via
	if via != nil {
		a.props.IngressClass = via.ClassName
	}
	a.expose()
}

func (a *App) expose() {
	a.exposed++
	if a.exposed > 1 {
		return // refused by validate
	}
	a.ingress(a.meta())
	switch t, is := a.props.Tunnel, a.props.TLS; {
	case t != nil && is != nil:
		t.ExposeTLS(a.props.Host, a.info.Path(), is.PubliclyTrusted())
	case t != nil:
		t.Expose(a.props.Host, a.info.Path())
	}
	a.admitController()
}

// Mount mounts a new claim of v at mountPath in the container: a
// PersistentVolumeClaim named "<app>-<last element of mountPath>",
// reserved in v's class (so the class's capacity checks count it). A
// ReadWriteOnce volume makes the Deployment replace its pod rather than
// roll (the volume attaches to one node) and allows one replica.
func (a *App) Mount(mountPath string, v storage.Volume) *kube.Object {
	name := a.Name + "-" + dnsLabel(path.Base(mountPath))
	return a.mount("volume-"+name, name, fmt.Sprintf("volume-%d", len(a.mountPaths)), mountPath, v)
}

func (a *App) mount(id, claim, volume, mountPath string, v storage.Volume) *kube.Object {
	obj := storage.NewClaim(a, id, claim, a.Namespace, v)
	spec := &a.dep.Spec.Template.Spec
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
	c := &spec.Containers[0]
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: volume, MountPath: mountPath})
	a.mountPaths = append(a.mountPaths, mountPath)
	if rwo(&v) {
		// A ReadWriteOnce volume attaches to one node: a rolling update's
		// new pod on another node would wait for it forever
		// (Multi-Attach), so the old pod goes first.
		a.rwo = true
		a.dep.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
	return obj
}

// Grant lets the app's ServiceAccount do what rules allow in the app's
// namespace: a Role and RoleBinding named after the app, and the token
// mounted into its pods (which is off until then). Rules need verbs, API
// groups ("" for the core group) and resources.
func (a *App) Grant(rules ...rbacv1.PolicyRule) {
	if a.role == nil {
		meta := a.meta()
		a.role = &rbacv1.Role{ObjectMeta: meta}
		kube.NewObject(a, "role", a.role)
		kube.NewObject(a, "role-binding", &rbacv1.RoleBinding{
			ObjectMeta: meta,
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: a.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: a.Name, Namespace: a.Namespace}},
		})
		a.dep.Spec.Template.Spec.AutomountServiceAccountToken = ptr.To(true)
	}
	for _, r := range rules {
		if msg := ruleProblem(r); msg != "" {
			a.badRules = append(a.badRules, fmt.Sprintf("rule %s: %s", rbacRule(r), msg))
			continue
		}
		a.role.Rules = append(a.role.Rules, r)
	}
}

// ruleProblem is what the API server's RBAC validation would refuse in a
// Role's rule, or what would make it grant nothing.
func ruleProblem(r rbacv1.PolicyRule) string {
	switch {
	case len(r.Verbs) == 0:
		return "it has no verbs"
	case len(r.NonResourceURLs) > 0:
		return "non-resource URLs belong in a ClusterRole"
	case len(r.APIGroups) == 0:
		return `it has no API groups (use "" for the core group)`
	case len(r.Resources) == 0:
		return "it has no resources"
	}
	return ""
}

func rbacRule(r rbacv1.PolicyRule) string {
	return fmt.Sprintf("{verbs %v, apiGroups %q, resources %v}", r.Verbs, r.APIGroups, r.Resources)
}

// AllowFrom admits into the app's pods only the peers given here (each on
// the container's port unless the peer has ports of its own) and, once
// the app is exposed, its ingress controller: a NetworkPolicy named after
// the app, which isolates its pods from everything else. Use another
// app's Peer to let that app connect. The peers' own namespaces must let
// them out, if isolated for egress.
func (a *App) AllowFrom(peers ...security.Peer) {
	if a.policy == nil {
		a.policy = security.NewPodPolicy(a, "network-policy", &security.PodPolicyProps{Name: a.Name, Namespace: a.Namespace, Pods: a.labels})
		a.admitController()
		// The namespace's Isolation must not admit its sources too:
		// the pods (not the selectors, which cannot change on a live
		// Deployment) are marked as deciding their own ingress.
		tmpl := maps.Clone(a.labels)
		tmpl[security.OwnIngressLabel] = "true"
		a.dep.Spec.Template.Labels = tmpl
	}
	for _, p := range peers {
		if len(p.Ports()) == 0 {
			p = p.On(security.TCP(a.props.Port))
		}
		a.policy.Allow(p)
	}
}

// admitController lets the ingress controller into an exposed app whose
// pods a policy isolates.
func (a *App) admitController() {
	if a.policy == nil || a.admitted || a.exposed == 0 || a.props.Ingress == nil {
		return
	}
	a.admitted = true
	a.policy.Allow(security.Namespace(a.props.Ingress.Namespace).On(security.TCP(a.props.Port)))
}

// TraceCollector receives OTLP traces over HTTP (telemetry.Collector).
type TraceCollector interface {
	// OTLPEndpoint is the OTLP/HTTP URL; empty when it stores no traces.
	OTLPEndpoint() string
	// OTLPPeer are the collector's pods on that port.
	OTLPPeer() security.Peer
}

// SendTraces sets the standard OpenTelemetry environment of the app's
// container (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL
// http/protobuf, OTEL_SERVICE_NAME the app's name), so that an app
// instrumented with an OpenTelemetry SDK sends its traces to the OTLP/HTTP
// endpoint, and lets its pods reach to (the collector's pods on that
// port) with a policy of their own: the namespace's egress rules stay as
// they are, and this one adds to them.
func (a *App) SendTraces(endpoint string, to security.Peer) {
	ctr := &a.dep.Spec.Template.Spec.Containers[0]
	ctr.Env = append(ctr.Env,
		corev1.EnvVar{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Value: endpoint},
		corev1.EnvVar{Name: "OTEL_EXPORTER_OTLP_PROTOCOL", Value: "http/protobuf"},
		corev1.EnvVar{Name: "OTEL_SERVICE_NAME", Value: a.Name})
	pp := security.NewPodPolicy(a, "traces-policy", &security.PodPolicyProps{Name: a.Name + "-traces", Namespace: a.Namespace, Pods: a.labels, EgressOnly: true})
	pp.AllowTo(to)
	if endpoint == "" {
		path := a.info.Path()
		a.info.Tree().AddValidation(func() []error {
			return []error{core.Errorf(path, "run the telemetry parts with Tempo (the collector's OTLPEndpoint is empty without it)", "the app sends traces to no endpoint")}
		})
	}
}

// Peer selects the app's pods, for another app's AllowFrom or a policy.
func (a *App) Peer() security.Peer { return security.Pods(a.Namespace, a.labels) }

// dnsLabel turns s into a DNS label part: lowercase letters, digits and
// '-' ("Data_1" -> "data-1").
func dnsLabel(s string) string {
	return strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s), "-")
}

func (a *App) ingress(meta metav1.ObjectMeta) {
	prefix := networkingv1.PathTypePrefix
	var tls []networkingv1.IngressTLS
	if a.props.TLS != nil {
		c := certs.NewCertificate(a, "certificate", &certs.CertificateProps{
			Name: a.Name + "-tls", Namespace: a.Namespace, DNSNames: []string{a.props.Host}, Issuer: a.props.TLS,
		})
		tls = []networkingv1.IngressTLS{{Hosts: c.DNSNames(), SecretName: c.SecretName}}
	}
	kube.NewObject(a, "ingress", &networkingv1.Ingress{
		ObjectMeta: meta,
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To(a.props.IngressClass),
			TLS:              tls,
			Rules: []networkingv1.IngressRule{{
				Host: a.props.Host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: &prefix,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: a.Name, Port: networkingv1.ServiceBackendPort{Name: a.props.PortName}}},
				}}}},
			}},
		},
	})
}

// Info returns the construct's place in the tree.
func (a *App) Info() *core.Info { return a.info }

// ServiceHost is the in-cluster DNS name other apps reach this one at.
func (a *App) ServiceHost() string { return a.Name + "." + a.Namespace + ".svc" }

// ServicePort is the port its Service listens on (AppProps.ServicePort).
func (a *App) ServicePort() int32 { return a.props.ServicePort }

// ToString overrides the jsii method; it returns the construct path.
func (a *App) ToString() *string { return core.PathString(a.info) }

// deployment is the app's Deployment before claims, files and scratch
// directories are mounted.
func (a *App) deployment(meta metav1.ObjectMeta) *appsv1.Deployment {
	p := a.props
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(p.PortName)}}}
	if p.HealthPath != "" {
		probe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: p.HealthPath, Port: intstr.FromString(p.PortName)}}}
	}
	var envFrom []corev1.EnvFromSource
	for _, cm := range p.EnvFromConfigMaps {
		envFrom = append(envFrom, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}}})
	}
	for _, sec := range p.EnvFromSecrets {
		envFrom = append(envFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: sec}}})
	}
	return &appsv1.Deployment{
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(p.Replicas),
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType},
			Selector: &metav1.LabelSelector{MatchLabels: a.labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: a.labels},
				Spec: corev1.PodSpec{
					ServiceAccountName:           p.Name,
					AutomountServiceAccountToken: ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						RunAsUser:      ptr.To(p.RunAsUser),
						RunAsGroup:     ptr.To(p.RunAsUser),
						FSGroup:        ptr.To(p.RunAsUser),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:           "app",
						Image:          p.Image,
						Args:           p.Args,
						Env:            p.Env,
						EnvFrom:        envFrom,
						Ports:          []corev1.ContainerPort{{Name: p.PortName, ContainerPort: p.Port, Protocol: corev1.ProtocolTCP}},
						Resources:      *a.resources.DeepCopy(),
						ReadinessProbe: probe,
						LivenessProbe:  probe,
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							ReadOnlyRootFilesystem:   ptr.To(true),
							RunAsNonRoot:             ptr.To(true),
						},
					}},
				},
			},
		},
	}
}

// files mounts the Files and the ScratchPaths.
func (a *App) files() {
	p := a.props
	spec := &a.dep.Spec.Template.Spec
	c := &spec.Containers[0]
	if len(p.Files) > 0 {
		// FilesPath is a writable directory (apps such as Homepage write
		// their own files beside the given ones) with each file mounted
		// read-only into it.
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "files-dir", MountPath: p.FilesPath})
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "files-dir", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		for _, name := range slices.Sorted(maps.Keys(p.Files)) {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "files", MountPath: path.Join(p.FilesPath, name), SubPath: name, ReadOnly: true})
		}
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "files", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: p.Name}}}})
	}
	for i, sp := range p.ScratchPaths {
		name := fmt.Sprintf("scratch-%d", i)
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: sp})
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
}

func (a *App) validate() []error {
	var errs []error
	p := a.info.Path()
	img := a.props.Image
	if img == "" {
		errs = append(errs, core.Errorf(p, "set AppProps.Image", "app %q has no image", a.Name))
	} else if !pinned(img) {
		errs = append(errs, core.Errorf(p, "pin a tag or digest such as \"nginx:1.27.3\"", "image %q is not pinned", img))
	}
	if port, why, ok := listenPort(img, a.props.Args, a.props.Env); ok && a.props.Port != 0 && port != a.props.Port {
		errs = append(errs, core.Errorf(p, fmt.Sprintf("set AppProps.Port to %d, or make the container listen on %d", port, a.props.Port),
			"the container listens on port %d (%s) but AppProps.Port is %d: probes, Service and policies would point at a port nothing serves", port, why, a.props.Port))
	}
	if h := a.props.Host; h != "" {
		// An Ingress host is a DNS name, never an address (the API
		// server refuses an IP); core.ParseHost adds what it does not
		// check: labels of at most 63 and names that are malformed
		// addresses. Non-ASCII names are refused with their punycode.
		addr, problem := core.ParseHost(h, "host")
		switch {
		case problem != nil:
			errs = append(errs, problem.At(p))
		case addr.IsValid():
			errs = append(errs, core.Errorf(p, "use a DNS name such as \"app.lan\": an Ingress serves names, not addresses", "host %q is an IP address", h))
		}
	}
	if a.props.Host != "" && a.props.Tunnel == nil && !a.props.LAN {
		errs = append(errs, core.Errorf(p, "set AppProps.Tunnel to the homelab's tunnel, or LAN to serve it only in the LAN", "host %q has no tunnel to reach it", a.props.Host))
	}
	if a.props.Tunnel != nil && a.props.LAN {
		errs = append(errs, core.Errorf(p, "set either AppProps.Tunnel or LAN", "host %q is both routed through a tunnel and served in the LAN", a.props.Host))
	}
	if a.props.Tunnel != nil && a.props.Tunnel.Info().Tree() != a.info.Tree() {
		errs = append(errs, core.Errorf(p, "use the tunnel of this homelab", "tunnel %q is not in this homelab", a.props.Tunnel.Info().Path()))
	}
	if a.exposed > 1 {
		errs = append(errs, core.Errorf(p, "give the app one host: AppProps.Host or one Expose call", "app %q is exposed %d times", a.Name, a.exposed))
	}
	if ing := a.props.Ingress; ing != nil && a.props.LAN && ing.LAN == nil {
		errs = append(errs, core.Errorf(p, "set NginxProps.LAN on the controller, or expose the app through a tunnel",
			"host %q is served in the LAN by %q, which listens on no node port", a.props.Host, ing.Info().Path()))
	}
	if a.policy != nil && a.exposed > 0 && a.props.Ingress == nil {
		errs = append(errs, core.Errorf(p, "set AppProps.Ingress to the controller (or use Expose) so the policy admits it",
			"host %q would be unreachable: AllowFrom's policy isolates the app and no ingress controller is known to admit", a.props.Host))
	}
	for _, bad := range a.badRules {
		errs = append(errs, core.Errorf(p, "give each rule verbs, API groups (\"\" for the core group) and resources",
			"Grant: %s", bad))
	}
	if a.rwo && a.props.Replicas > 1 {
		errs = append(errs, core.Errorf(p, "use Replicas: 1, or a ReadWriteMany volume (NFS)",
			"%d replicas share a ReadWriteOnce volume, which attaches to one node at a time", a.props.Replicas))
	}
	if a.props.Replicas < 0 {
		errs = append(errs, core.Errorf(p, "use 1 or more replicas, or AppProps.Stopped to run none", "replicas %d is negative", a.props.Replicas))
	}
	if msgs := validation.IsDNS1035Label(a.Name); len(msgs) > 0 {
		errs = append(errs, core.Errorf(p, "name the app with a letter first and at most 63 lowercase letters, digits and '-': it names its Service",
			"app name %q is not a valid Service name", a.Name))
	}
	if hp := a.props.HealthPath; hp != "" && !strings.HasPrefix(hp, "/") {
		errs = append(errs, core.Errorf(p, fmt.Sprintf("start the path with \"/\", such as %q", "/"+hp), "health path %q is not an absolute HTTP path", hp))
	}
	for _, sp := range slices.Concat(a.props.ScratchPaths, a.mountPaths, []string{a.props.VolumePath, a.props.FilesPath}) {
		if !path.IsAbs(sp) {
			errs = append(errs, core.Errorf(p, "use absolute container paths such as \"/tmp\"", "mount path %q is not absolute", sp))
		}
	}
	if msgs := validation.IsValidPortName(a.props.PortName); len(msgs) > 0 {
		errs = append(errs, core.Errorf(p, "name the port by its protocol as an IANA service name: lowercase letters, digits and '-', at most 15, such as \"postgresql\"", "port name %q: %s", a.props.PortName, strings.Join(msgs, "; ")))
	}
	if a.props.Port < 1 || a.props.Port > 65535 {
		errs = append(errs, core.Errorf(p, "set AppProps.Port to the container's HTTP port (1-65535)", "port %d is out of range", a.props.Port))
	}
	if a.props.ServicePort < 1 || a.props.ServicePort > 65535 {
		errs = append(errs, core.Errorf(p, "set AppProps.ServicePort to 1-65535, or leave it 0 for 80", "service port %d is out of range", a.props.ServicePort))
	}
	for _, bad := range a.badResources {
		errs = append(errs, core.Errorf(p, "use a Kubernetes quantity such as \"100m\" or \"128Mi\"", "%s is not a quantity", bad))
	}
	return errs
}

// rwo reports whether v attaches to one node (ReadWriteOnce, the default
// mode of a new volume, or ReadWriteOncePod).
func rwo(v *storage.Volume) bool {
	m := v.Mode()
	return m == corev1.ReadWriteOnce || m == corev1.ReadWriteOncePod
}

// pinned reports whether an image reference has a tag other than latest, or a digest.
func pinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	slash := strings.LastIndex(image, "/")
	colon := strings.LastIndex(image, ":")
	if colon <= slash {
		return false
	}
	return image[colon+1:] != "latest" && image[colon+1:] != ""
}
