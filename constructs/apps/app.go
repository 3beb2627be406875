package apps

import (
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
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
	// Replicas of the Deployment. Default: 1.
	Replicas int32
	// Resources of the container. Default: see Resources.
	Resources Resources
	// Args passed to the container.
	Args []string
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
	a := &App{Name: p.Name, Namespace: p.Namespace, props: p}
	a.info = core.Init(a, scope, id)
	a.info.Tree().AddValidation(a.validate)

	labels := map[string]string{"app.kubernetes.io/name": p.Name}
	meta := metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: labels}
	a.ServiceAccount = kube.NewObject(a, "service-account", &corev1.ServiceAccount{ObjectMeta: meta, AutomountServiceAccountToken: ptr.To(false)})
	a.Deployment = kube.NewObject(a, "deployment", a.deployment(meta, labels))
	a.Service = kube.NewObject(a, "service", &corev1.Service{
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	})
	return a
}

// Info returns the construct's place in the tree.
func (a *App) Info() *core.Info { return a.info }

// ToString overrides the jsii method; it returns the construct path.
func (a *App) ToString() *string { return core.PathString(a.info) }

func (a *App) deployment(meta metav1.ObjectMeta, labels map[string]string) *appsv1.Deployment {
	p := a.props
	limits := corev1.ResourceList{}
	requests := corev1.ResourceList{}
	if q, err := resource.ParseQuantity(p.Resources.CPU); err == nil {
		requests[corev1.ResourceCPU] = q
	}
	if q, err := resource.ParseQuantity(p.Resources.Memory); err == nil {
		requests[corev1.ResourceMemory] = q
		limit := q.DeepCopy()
		limit.Add(q)
		limits[corev1.ResourceMemory] = limit
	}
	if p.Resources.MemoryLimit != "" {
		if q, err := resource.ParseQuantity(p.Resources.MemoryLimit); err == nil {
			limits[corev1.ResourceMemory] = q
		}
	}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}}
	return &appsv1.Deployment{
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(p.Replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName:           p.Name,
					AutomountServiceAccountToken: ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:           "app",
						Image:          p.Image,
						Args:           p.Args,
						Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: p.Port, Protocol: corev1.ProtocolTCP}},
						Resources:      corev1.ResourceRequirements{Requests: requests, Limits: limits},
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
	if a.props.Port < 1 || a.props.Port > 65535 {
		errs = append(errs, core.Errorf(p, "set AppProps.Port to the container's HTTP port (1-65535)", "port %d is out of range", a.props.Port))
	}
	for _, f := range [][2]string{{"CPU", a.props.Resources.CPU}, {"Memory", a.props.Resources.Memory}, {"MemoryLimit", a.props.Resources.MemoryLimit}} {
		field, v := f[0], f[1]
		if v == "" {
			continue
		}
		if _, err := resource.ParseQuantity(v); err != nil {
			errs = append(errs, core.Errorf(p, "use a Kubernetes quantity such as \"100m\" or \"128Mi\"", "Resources.%s %q is not a quantity", field, v))
		}
	}
	return errs
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
