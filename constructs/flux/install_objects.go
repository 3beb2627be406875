package flux

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
)

// installBuilder builds the objects of one Install.
type installBuilder struct {
	in    *Install
	props InstallProps
}

func (b *installBuilder) add(id string, obj kube.Typed) {
	b.in.Objects = append(b.in.Objects, kube.NewObject(b.in, id, obj))
}

// labels returns the labels flux puts on every object, plus the component's.
func (b *installBuilder) labels(component string, extra map[string]string) map[string]string {
	l := map[string]string{
		"app.kubernetes.io/instance": b.props.Namespace,
		"app.kubernetes.io/part-of":  "flux",
		"app.kubernetes.io/version":  b.props.Distribution.Version,
	}
	if component != "" {
		l["app.kubernetes.io/component"] = component
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

func (b *installBuilder) meta(name, component string, extra map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: b.props.Namespace, Labels: b.labels(component, extra)}
}

func (b *installBuilder) clusterMeta(name string, extra map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name + "-" + b.props.Namespace, Labels: b.labels("", extra)}
}

func (b *installBuilder) namespace() {
	b.add("namespace", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: b.props.Namespace,
		Labels: b.labels("", map[string]string{
			"pod-security.kubernetes.io/warn":         "restricted",
			"pod-security.kubernetes.io/warn-version": "latest",
		}),
	}})
	b.add("critical-pods-quota", &corev1.ResourceQuota{
		ObjectMeta: b.meta("critical-pods-"+b.props.Namespace, "", nil),
		Spec: corev1.ResourceQuotaSpec{
			Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1000")},
			ScopeSelector: &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{{
				ScopeName: corev1.ResourceQuotaScopePriorityClass,
				Operator:  corev1.ScopeSelectorOpIn,
				Values:    []string{"system-node-critical", "system-cluster-critical"},
			}}},
		},
	})
}

func (b *installBuilder) crds() {
	crds, err := CRDs()
	if err != nil {
		// The CRDs are embedded at build time; a broken file is a build bug.
		panic(fmt.Errorf("flux: %w", err))
	}
	for _, crd := range crds {
		crd.Labels = b.labels(componentOfGroup[crd.Spec.Group], crd.Labels)
		b.add(crdID(crd), crd)
	}
}

var fluxGroups = []string{
	"source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io",
	"notification.toolkit.fluxcd.io", "image.toolkit.fluxcd.io", "source.extensions.fluxcd.io",
}

// serviceAccounts bound to crd-controller: the four installed controllers
// and the optional ones flux also names, so adding them later needs no RBAC change.
var crdControllerSubjects = []string{
	"kustomize-controller", "helm-controller", "source-controller", "notification-controller",
	"image-reflector-controller", "image-automation-controller", "source-watcher",
}

func (b *installBuilder) rbac() {
	for _, c := range Controllers() {
		b.add("sa-"+c, &corev1.ServiceAccount{ObjectMeta: b.meta(c, c, nil)})
	}
	var crdRules []rbacv1.PolicyRule
	for _, g := range fluxGroups {
		crdRules = append(crdRules, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{"*"}, Verbs: []string{"*"}})
	}
	crdRules = append(crdRules,
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces", "secrets", "configmaps", "serviceaccounts"}, Verbs: []string{"get", "list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps/status"}, Verbs: []string{"get", "update", "patch"}},
		rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}},
		rbacv1.PolicyRule{NonResourceURLs: []string{"/livez/ping"}, Verbs: []string{"head"}},
	)
	b.add("crd-controller-role", &rbacv1.ClusterRole{ObjectMeta: b.clusterMeta("crd-controller", nil), Rules: crdRules})

	editGroups := []string{
		"notification.toolkit.fluxcd.io", "source.toolkit.fluxcd.io", "source.extensions.fluxcd.io",
		"helm.toolkit.fluxcd.io", "image.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io",
	}
	b.add("edit-role", &rbacv1.ClusterRole{
		ObjectMeta: b.clusterMeta("flux-edit", map[string]string{
			"rbac.authorization.k8s.io/aggregate-to-admin": "true",
			"rbac.authorization.k8s.io/aggregate-to-edit":  "true",
		}),
		Rules: []rbacv1.PolicyRule{{APIGroups: editGroups, Resources: []string{"*"}, Verbs: []string{"create", "delete", "deletecollection", "patch", "update"}}},
	})
	b.add("view-role", &rbacv1.ClusterRole{
		ObjectMeta: b.clusterMeta("flux-view", map[string]string{
			"rbac.authorization.k8s.io/aggregate-to-admin": "true",
			"rbac.authorization.k8s.io/aggregate-to-edit":  "true",
			"rbac.authorization.k8s.io/aggregate-to-view":  "true",
		}),
		Rules: []rbacv1.PolicyRule{{APIGroups: editGroups, Resources: []string{"*"}, Verbs: []string{"get", "list", "watch"}}},
	})
	b.add("cluster-reconciler-binding", &rbacv1.ClusterRoleBinding{
		ObjectMeta: b.clusterMeta("cluster-reconciler", nil),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   b.subjects("kustomize-controller", "helm-controller"),
	})
	b.add("crd-controller-binding", &rbacv1.ClusterRoleBinding{
		ObjectMeta: b.clusterMeta("crd-controller", nil),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "crd-controller-" + b.props.Namespace},
		Subjects:   b.subjects(crdControllerSubjects...),
	})
}

func (b *installBuilder) subjects(names ...string) []rbacv1.Subject {
	out := make([]rbacv1.Subject, 0, len(names))
	for _, n := range names {
		out = append(out, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: n, Namespace: b.props.Namespace})
	}
	return out
}

func (b *installBuilder) services() {
	svc := func(name, component, targetPort string) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: b.meta(name, component, map[string]string{"control-plane": "controller"}),
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeClusterIP,
				Selector: map[string]string{"app": component},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString(targetPort)}},
			},
		}
	}
	b.add("notification-controller-service", svc("notification-controller", "notification-controller", "http"))
	b.add("source-controller-service", svc("source-controller", "source-controller", "http"))
	b.add("webhook-receiver-service", svc("webhook-receiver", "notification-controller", "http-webhook"))
}

// controllerSpec is what differs between the controllers' Deployments.
type controllerSpec struct {
	name        string
	eventsAddr  bool
	extraArgs   []string
	extraEnv    []corev1.EnvVar
	ports       []corev1.ContainerPort
	readiness   *corev1.HTTPGetAction
	cpuRequest  string
	critical    bool
	gracePeriod int64
	volumes     map[string]string // volume name -> mount path, in mount order
	volumeOrder []string
	recreate    bool
}

func port(name string, n int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: n, Protocol: corev1.ProtocolTCP}
}

func (b *installBuilder) deployments() {
	healthz := &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("healthz")}
	specs := []controllerSpec{
		{name: "helm-controller", eventsAddr: true, ports: []corev1.ContainerPort{port("http-prom", 8080), port("healthz", 9440)},
			readiness: healthz, cpuRequest: "100m", critical: true, gracePeriod: 600, volumeOrder: []string{"temp"}, volumes: map[string]string{"temp": "/tmp"}},
		{name: "kustomize-controller", eventsAddr: true, ports: []corev1.ContainerPort{port("http-prom", 8080), port("healthz", 9440)},
			readiness: healthz, cpuRequest: "100m", critical: true, gracePeriod: 60, volumeOrder: []string{"temp"}, volumes: map[string]string{"temp": "/tmp"}},
		{name: "notification-controller", ports: []corev1.ContainerPort{port("http", 9090), port("http-webhook", 9292), port("http-prom", 8080), port("healthz", 9440)},
			readiness: healthz, cpuRequest: "100m", gracePeriod: 10, volumeOrder: []string{"temp"}, volumes: map[string]string{"temp": "/tmp"}},
		{name: "source-controller", eventsAddr: true, recreate: true,
			extraArgs: []string{"--storage-path=/data", "--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc." + b.props.ClusterDomain + "."},
			extraEnv:  []corev1.EnvVar{{Name: "TUF_ROOT", Value: "/tmp/.sigstore"}},
			ports:     []corev1.ContainerPort{port("http", 9090), port("http-prom", 8080), port("healthz", 9440)},
			readiness: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")}, cpuRequest: "50m", critical: true, gracePeriod: 10,
			volumeOrder: []string{"data", "tmp"}, volumes: map[string]string{"data": "/data", "tmp": "/tmp"}},
	}
	for _, s := range specs {
		d := b.deployment(s)
		b.add(s.name+"-deployment", d)
		r := d.Spec.Template.Spec.Containers[0].Resources
		core.Workloads.Of(b.in.info.Tree()).Add(core.Workload{Source: b.in.info.Path(), Name: s.name, Replicas: 1,
			CPU: r.Requests[corev1.ResourceCPU], Memory: r.Requests[corev1.ResourceMemory], MemoryLimit: r.Limits[corev1.ResourceMemory]})
	}
}

func (b *installBuilder) deployment(s controllerSpec) *appsv1.Deployment {
	var args []string
	if s.eventsAddr {
		args = append(args, "--events-addr=http://notification-controller.$(RUNTIME_NAMESPACE).svc."+b.props.ClusterDomain+"./")
	}
	args = append(args, "--watch-all-namespaces=true", "--log-level="+b.props.LogLevel, "--log-encoding=json", "--enable-leader-election")
	args = append(args, s.extraArgs...)

	env := []corev1.EnvVar{{Name: "RUNTIME_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}
	env = append(env, s.extraEnv...)
	env = append(env, corev1.EnvVar{Name: "GOMEMLIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "manager", Resource: "limits.memory"}}})

	var mounts []corev1.VolumeMount
	var volumes []corev1.Volume
	for _, v := range s.volumeOrder {
		mounts = append(mounts, corev1.VolumeMount{Name: v, MountPath: s.volumes[v]})
		volumes = append(volumes, corev1.Volume{Name: v, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	podLabels := b.labels(s.name, map[string]string{"app": s.name})
	d := &appsv1.Deployment{
		ObjectMeta: b.meta(s.name, s.name, map[string]string{"control-plane": "controller"}),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": s.name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      podLabels,
					Annotations: map[string]string{"prometheus.io/port": "8080", "prometheus.io/scrape": "true"},
				},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:            "manager",
						Image:           b.props.Distribution.Image(s.name),
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            args,
						Env:             env,
						Ports:           s.ports,
						LivenessProbe:   &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("healthz")}}},
						ReadinessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: s.readiness}},
						Resources: corev1.ResourceRequirements{
							Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1000m"), corev1.ResourceMemory: resource.MustParse("1Gi")},
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(s.cpuRequest), corev1.ResourceMemory: resource.MustParse("64Mi")},
						},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							ReadOnlyRootFilesystem:   ptr.To(true),
							RunAsNonRoot:             ptr.To(true),
							SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						VolumeMounts: mounts,
					}},
					NodeSelector:                  map[string]string{"kubernetes.io/os": "linux"},
					SecurityContext:               &corev1.PodSecurityContext{FSGroup: ptr.To[int64](1337)},
					ServiceAccountName:            s.name,
					TerminationGracePeriodSeconds: ptr.To(s.gracePeriod),
					Volumes:                       volumes,
				},
			},
		},
	}
	if s.critical {
		d.Spec.Template.Spec.PriorityClassName = "system-cluster-critical"
	}
	if s.recreate {
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
	return d
}

func (b *installBuilder) networkPolicies() {
	b.add("allow-egress-policy", &networkingv1.NetworkPolicy{
		ObjectMeta: b.meta("allow-egress", "", nil),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{}},
		},
	})
	tcp := corev1.ProtocolTCP
	b.add("allow-scraping-policy", &networkingv1.NetworkPolicy{
		ObjectMeta: b.meta("allow-scraping", "", nil),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(8080))}},
			}},
		},
	})
	b.add("allow-webhooks-policy", &networkingv1.NetworkPolicy{
		ObjectMeta: b.meta("allow-webhooks", "", nil),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "notification-controller"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}},
		},
	})
}
