package apps

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/ingress"
	"github.com/funoffshore/homelab/constructs/kube"
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
	// ServicePort the app's Service listens on. Default: 80, the web's
	// (an app that is no web server, such as a database, sets its own:
	// other apps reach it on ServiceHost():ServicePort()).
	ServicePort int32
	// Replicas of the Deployment. Default: 1.
	Replicas int32
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
	// IngressClass of the Ingress. Default: "nginx".
	IngressClass string
	// Volume is a persistent volume mounted at VolumePath.
	Volume *storage.Volume
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

// App is an application: ServiceAccount, Deployment and Service.
type App struct {
	constructs.Construct
	info *core.Info

	// Name and Namespace after defaults.
	Name, Namespace string
	// Deployment, Service and ServiceAccount of the app.
	Deployment, Service, ServiceAccount *kube.Object

	props AppProps
	// resources are props.Resources parsed (once); badResources the
	// fields that are no quantity.
	resources    corev1.ResourceRequirements
	badResources []string
}

// NewApp adds an app below scope.
func NewApp(scope constructs.Construct, id string, props *AppProps) *App {
	if props == nil {
		props = &AppProps{}
	}
	p := *props
	if p.Name == "" {
		p.Name = id
	}
	if p.Namespace == "" {
		p.Namespace = "apps"
	}
	if p.Replicas == 0 {
		p.Replicas = 1
	}
	if p.Resources.CPU == "" {
		p.Resources.CPU = "50m"
	}
	if p.Resources.Memory == "" {
		p.Resources.Memory = "64Mi"
	}
	if p.IngressClass == "" {
		p.IngressClass = "nginx"
	}
	if p.VolumePath == "" {
		p.VolumePath = "/data"
	}
	if p.FilesPath == "" {
		p.FilesPath = "/config"
	}
	if p.RunAsUser == 0 {
		p.RunAsUser = 65532
	}
	if p.ServicePort == 0 {
		p.ServicePort = 80
	}
	a := &App{Name: p.Name, Namespace: p.Namespace, props: p}
	a.resources, a.badResources = p.Resources.requirements()
	a.info = core.Init(a, scope, id)
	a.info.Tree().AddValidation(a.validate)

	labels := map[string]string{"app.kubernetes.io/name": p.Name}
	meta := metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: labels}
	a.ServiceAccount = kube.NewObject(a, "service-account", &corev1.ServiceAccount{ObjectMeta: meta, AutomountServiceAccountToken: ptr.To(false)})
	if len(p.Files) > 0 {
		kube.NewObject(a, "files", &corev1.ConfigMap{ObjectMeta: meta, Data: p.Files})
	}
	if p.Volume != nil {
		storage.NewClaim(a, "volume", p.Name, p.Namespace, *p.Volume)
	}
	dep := a.deployment(meta, labels)
	a.Deployment = kube.NewObject(a, "deployment", dep)
	a.Service = kube.NewObject(a, "service", &corev1.Service{
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: p.ServicePort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	})
	if p.Host != "" {
		a.ingress(meta)
		if p.Tunnel != nil {
			p.Tunnel.Expose(p.Host, a.info.Path())
		}
	}
	c := dep.Spec.Template.Spec.Containers[0]
	a.info.Tree().AddWorkload(core.Workload{Source: a.info.Path(), Name: p.Name, Replicas: int(p.Replicas),
		CPU: c.Resources.Requests[corev1.ResourceCPU], Memory: c.Resources.Requests[corev1.ResourceMemory], MemoryLimit: c.Resources.Limits[corev1.ResourceMemory]})
	return a
}

func (a *App) ingress(meta metav1.ObjectMeta) {
	prefix := networkingv1.PathTypePrefix
	kube.NewObject(a, "ingress", &networkingv1.Ingress{
		ObjectMeta: meta,
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To(a.props.IngressClass),
			Rules: []networkingv1.IngressRule{{
				Host: a.props.Host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: &prefix,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: a.Name, Port: networkingv1.ServiceBackendPort{Name: "http"}}},
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

func (a *App) deployment(meta metav1.ObjectMeta, labels map[string]string) *appsv1.Deployment {
	p := a.props
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}}
	if p.HealthPath != "" {
		probe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: p.HealthPath, Port: intstr.FromString("http")}}}
	}
	var mounts []corev1.VolumeMount
	var volumes []corev1.Volume
	if p.Volume != nil {
		mounts = append(mounts, corev1.VolumeMount{Name: "data", MountPath: p.VolumePath})
		volumes = append(volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: p.Name}}})
	}
	if len(p.Files) > 0 {
		// FilesPath is a writable directory (apps such as Homepage write
		// their own files beside the given ones) with each file mounted
		// read-only into it.
		mounts = append(mounts, corev1.VolumeMount{Name: "files-dir", MountPath: p.FilesPath})
		volumes = append(volumes, corev1.Volume{Name: "files-dir", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		for _, name := range slices.Sorted(maps.Keys(p.Files)) {
			mounts = append(mounts, corev1.VolumeMount{Name: "files", MountPath: path.Join(p.FilesPath, name), SubPath: name, ReadOnly: true})
		}
		volumes = append(volumes, corev1.Volume{Name: "files", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: p.Name}}}})
	}
	for i, sp := range p.ScratchPaths {
		name := fmt.Sprintf("scratch-%d", i)
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: sp})
		volumes = append(volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	var envFrom []corev1.EnvFromSource
	for _, cm := range p.EnvFromConfigMaps {
		envFrom = append(envFrom, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}}})
	}
	for _, sec := range p.EnvFromSecrets {
		envFrom = append(envFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: sec}}})
	}
	// A ReadWriteOnce volume attaches to one node: a rolling update's new
	// pod on another node would wait for it forever (Multi-Attach), so the
	// old pod goes first.
	strategy := appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}
	if rwo(p.Volume) {
		strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
	return &appsv1.Deployment{
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(p.Replicas),
			Strategy: strategy,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
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
					Volumes: volumes,
					Containers: []corev1.Container{{
						Name:           "app",
						Image:          p.Image,
						Args:           p.Args,
						Env:            p.Env,
						EnvFrom:        envFrom,
						VolumeMounts:   mounts,
						Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: p.Port, Protocol: corev1.ProtocolTCP}},
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

func (a *App) validate() []error {
	var errs []error
	p := a.info.Path()
	img := a.props.Image
	if img == "" {
		errs = append(errs, core.Errorf(p, "set AppProps.Image", "app %q has no image", a.Name))
	} else if !pinned(img) {
		errs = append(errs, core.Errorf(p, "pin a tag or digest such as \"nginx:1.27.3\"", "image %q is not pinned", img))
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
	if rwo(a.props.Volume) && a.props.Replicas > 1 {
		errs = append(errs, core.Errorf(p, "use Replicas: 1, or a ReadWriteMany volume (NFS)",
			"%d replicas share a ReadWriteOnce volume, which attaches to one node at a time", a.props.Replicas))
	}
	if a.props.Replicas < 0 {
		errs = append(errs, core.Errorf(p, "use 0 (stopped) or more replicas", "replicas %d is negative", a.props.Replicas))
	}
	if msgs := validation.IsDNS1035Label(a.Name); len(msgs) > 0 {
		errs = append(errs, core.Errorf(p, "name the app with a letter first and at most 63 lowercase letters, digits and '-': it names its Service",
			"app name %q is not a valid Service name", a.Name))
	}
	if hp := a.props.HealthPath; hp != "" && !strings.HasPrefix(hp, "/") {
		errs = append(errs, core.Errorf(p, fmt.Sprintf("start the path with \"/\", such as %q", "/"+hp), "health path %q is not an absolute HTTP path", hp))
	}
	for _, sp := range append(slices.Clone(a.props.ScratchPaths), a.props.VolumePath, a.props.FilesPath) {
		if !path.IsAbs(sp) {
			errs = append(errs, core.Errorf(p, "use absolute container paths such as \"/tmp\"", "mount path %q is not absolute", sp))
		}
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

// rwo reports whether v is a ReadWriteOnce volume (the default mode).
func rwo(v *storage.Volume) bool {
	return v != nil && (v.AccessMode == "" || v.AccessMode == corev1.ReadWriteOnce || v.AccessMode == corev1.ReadWriteOncePod)
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
