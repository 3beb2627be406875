package ingress

import (
	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
)

// NginxVersion pins the last ingress-nginx chart: the project stopped
// releasing in March 2026.
// renovate: datasource=helm depName=ingress-nginx registryUrl=https://kubernetes.github.io/ingress-nginx
const NginxVersion = "4.15.1"

// NginxProps configures Nginx.
type NginxProps struct {
	// Namespace of the controller. Default: "ingress-nginx".
	Namespace string
	// ClassName of the IngressClass. Default: "nginx".
	ClassName string
	// Replicas of the controller. Default: 1.
	Replicas int
}

// Nginx is ingress-nginx: a ClusterIP Service (cloudflared reaches it from
// inside) and the cluster's default IngressClass.
type Nginx struct {
	constructs.Construct
	info *core.Info

	// Release is the HelmRelease.
	Release *flux.HelmRelease
	// Namespace, ClassName after defaults; ServiceURL is the controller's
	// in-cluster HTTP address.
	Namespace, ClassName, ServiceURL string
	// MetricsPort is the controller's Prometheus port.
	MetricsPort int32
}

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
			Type string `json:"type"`
		} `json:"service"`
		Metrics struct {
			Enabled bool  `json:"enabled"`
			Port    int32 `json:"port"`
		} `json:"metrics"`
		// Config is the controller ConfigMap: trust the tunnel's forwarded headers.
		Config    map[string]string           `json:"config"`
		Resources corev1.ResourceRequirements `json:"resources"`
		// AdmissionWebhooks' jobs get resources too.
		AdmissionWebhooks struct {
			CreateSecretJob struct {
				Resources corev1.ResourceRequirements `json:"resources"`
			} `json:"createSecretJob"`
			PatchWebhookJob struct {
				Resources corev1.ResourceRequirements `json:"resources"`
			} `json:"patchWebhookJob"`
		} `json:"admissionWebhooks"`
	} `json:"controller"`
}

func requirements(cpu, mem, limit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(limit)},
	}
}

// NewNginx adds ingress-nginx below scope.
func NewNginx(scope constructs.Construct, id string, repo *flux.HelmRepository, props *NginxProps) *Nginx {
	if props == nil {
		props = &NginxProps{}
	}
	n := &Nginx{Namespace: props.Namespace, ClassName: props.ClassName, MetricsPort: 10254}
	if n.Namespace == "" {
		n.Namespace = "ingress-nginx"
	}
	if n.ClassName == "" {
		n.ClassName = "nginx"
	}
	replicas := props.Replicas
	if replicas == 0 {
		replicas = 1
	}
	n.ServiceURL = "http://ingress-nginx-controller." + n.Namespace + ".svc.cluster.local:80"
	n.info = core.Init(n, scope, id)
	var v nginxValues
	c := &v.Controller
	c.ReplicaCount = replicas
	c.IngressClassResource.Name, c.IngressClassResource.Enabled, c.IngressClassResource.Default = n.ClassName, true, true
	c.IngressClass = n.ClassName
	c.Service.Type = string(corev1.ServiceTypeClusterIP)
	c.Metrics.Enabled, c.Metrics.Port = true, n.MetricsPort
	c.Config = map[string]string{"use-forwarded-headers": "true", "enable-real-ip": "true", "forwarded-for-header": "CF-Connecting-IP"}
	c.Resources = requirements("100m", "128Mi", "256Mi")
	c.AdmissionWebhooks.CreateSecretJob.Resources = requirements("10m", "20Mi", "64Mi")
	c.AdmissionWebhooks.PatchWebhookJob.Resources = requirements("10m", "20Mi", "64Mi")
	n.Release = flux.NewHelmRelease(n, "release", &flux.HelmReleaseProps{
		Name: "ingress-nginx", Namespace: n.Namespace, Repository: repo, Chart: "ingress-nginx", Version: NginxVersion, Values: v,
	})
	if replicas < 0 {
		n.info.Tree().AddValidation(func() []error {
			return []error{core.Errorf(n.info.Path(), "use 1 or more replicas", "NginxProps.Replicas %d is negative", replicas)}
		})
	}
	n.info.Tree().DeclareExternal(core.ObjectID{Group: "networking.k8s.io", Kind: "IngressClass", Name: n.ClassName}, "created by the ingress-nginx chart")
	n.info.Tree().AddWorkload(core.Workload{Source: n.info.Path(), Name: "ingress-nginx-controller", Replicas: replicas,
		CPU: c.Resources.Requests[corev1.ResourceCPU], Memory: c.Resources.Requests[corev1.ResourceMemory], MemoryLimit: c.Resources.Limits[corev1.ResourceMemory]})
	return n
}

// Info returns the construct's place in the tree.
func (n *Nginx) Info() *core.Info { return n.info }

// ToString overrides the jsii method; it returns the construct path.
func (n *Nginx) ToString() *string { return core.PathString(n.info) }
