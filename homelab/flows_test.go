package homelab_test

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/siderolabs/talos/pkg/machinery/constants"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/backup"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/testenv"
)

// endpoint is one side of a flow: pods in a namespace, or an address
// outside the pod network (a node, the internet).
type endpoint struct {
	Namespace string
	// Pods narrows a namespace to the pods with these labels.
	Pods map[string]string
	IP   netip.Addr
	// Kernel: the client is the node's kernel (an NFS mount), whose
	// sockets have no owning user.
	Kernel bool
	// OwnNode: IP is a local address of the client's own node (Talos'
	// host DNS address), served by a host process there.
	OwnNode bool
	// Root: the client is a host process running as root (machined).
	Root bool
	// SameNode: only the pods on the client's own node serve it (a host
	// port the node sends to on its own address).
	SameNode bool
}

func (e endpoint) String() string {
	if e.Namespace != "" {
		return e.Namespace
	}
	return e.IP.String()
}

// flow is a connection the homelab needs to work.
type flow struct {
	From, To endpoint
	Port     int32
	Protocol corev1.Protocol
	Why      string
}

func (f flow) String() string {
	return fmt.Sprintf("%s -> %s %d/%s (%s)", f.From, f.To, f.Port, f.Protocol, f.Why)
}

// cluster indexes the objects the cluster will run: the tree's and those
// its charts render.
type cluster struct {
	objects []*unstructured.Unstructured
}

func (c *cluster) pods(t *testing.T, ns string) []corev1.PodTemplateSpec {
	var out []corev1.PodTemplateSpec
	for _, o := range c.objects {
		// prometheus-operator makes the Prometheus and Alertmanager pods
		// from these resources: their server and config-reloader ports.
		if o.GetNamespace() == ns && (o.GetKind() == "Prometheus" || o.GetKind() == "Alertmanager") {
			web := int32(9090)
			if o.GetKind() == "Alertmanager" {
				web = 9093
			}
			out = append(out, corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: strings.ToLower(o.GetKind()), Ports: []corev1.ContainerPort{{Name: "http-web", ContainerPort: web}, {Name: "web", ContainerPort: web}}},
				{Name: "config-reloader", Ports: []corev1.ContainerPort{{Name: "reloader-web", ContainerPort: 8080}}},
			}}})
		}
		if o.GetNamespace() != ns {
			continue
		}
		if tmpl, ok := podTemplate(t, o); ok {
			out = append(out, tmpl)
		}
	}
	return out
}

// podTemplate returns the pod template of a workload (a CronJob's is
// its job template's).
func podTemplate(t *testing.T, o *unstructured.Unstructured) (corev1.PodTemplateSpec, bool) {
	var w struct {
		Spec struct {
			Template    corev1.PodTemplateSpec `json:"template"`
			JobTemplate struct {
				Spec struct {
					Template corev1.PodTemplateSpec `json:"template"`
				} `json:"spec"`
			} `json:"jobTemplate"`
		} `json:"spec"`
	}
	switch o.GetKind() {
	case "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob":
	default:
		return corev1.PodTemplateSpec{}, false
	}
	decodeInto(t, o, &w)
	if o.GetKind() == "CronJob" {
		return w.Spec.JobTemplate.Spec.Template, true
	}
	return w.Spec.Template, true
}

// containerPorts returns the numbers of the container ports named name
// (or numbered so) in namespace ns, of pods matching selector (nil: all).
func (c *cluster) containerPorts(t *testing.T, ns, name string, selector map[string]string) []int32 {
	var out []int32
	for _, p := range c.pods(t, ns) {
		if selector != nil && !labelsMatch(selector, p.Labels) {
			continue
		}
		for _, ct := range p.Spec.Containers {
			for _, port := range ct.Ports {
				if port.Name == name || fmt.Sprint(port.ContainerPort) == name {
					out = append(out, port.ContainerPort)
				}
			}
		}
	}
	return out
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (c *cluster) find(kind, ns, name string) *unstructured.Unstructured {
	return find(c.objects, kind, ns, name)
}

// renderCluster builds the homelab of props (nil: Funoffshore) and
// returns the objects the cluster will run: the tree's, those its charts
// render, Talos' system pods and the pods Longhorn makes at run time;
// own holds the tree's own NetworkPolicies ("namespace/name").
func renderCluster(t *testing.T, props *homelab.Props) (*homelab.Homelab, *cluster, map[string]bool) {
	t.Helper()
	app, h := homelab.NewApp(props)
	c := &cluster{}
	own := map[string]bool{}
	for _, o := range app.Tree().Objects() {
		m, err := o.Manifest()
		require.NoError(t, err)
		u := &unstructured.Unstructured{Object: m}
		c.objects = append(c.objects, u)
		if u.GetKind() == "NetworkPolicy" {
			own[u.GetNamespace()+"/"+u.GetName()] = true
		}
	}
	for _, rel := range releases(h) {
		objs := testenv.RenderRelease(t, rel)
		for _, o := range objs {
			if o.GetNamespace() == "" && o.GetKind() != "ValidatingWebhookConfiguration" && o.GetKind() != "MutatingWebhookConfiguration" {
				o.SetNamespace(rel.Spec.Namespace)
			}
		}
		c.objects = append(c.objects, objs...)
	}
	c.objects = append(c.objects, systemPods(t, h)...)
	if h.Longhorn != nil {
		c.objects = append(c.objects, longhornRuntime(t, h, c)...)
	}
	return h, c, own
}

// workload is a Deployment (or, perNode, a DaemonSet) of the pods of
// tmpl, as the cluster would run it though no manifest of the tree shows
// it.
func workload(t *testing.T, namespace, name string, tmpl corev1.PodTemplateSpec, perNode bool) *unstructured.Unstructured {
	meta := metav1.ObjectMeta{Name: name, Namespace: namespace}
	var obj any = &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{Template: tmpl}}
	if perNode {
		obj = &appsv1.DaemonSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"}, ObjectMeta: meta,
			Spec: appsv1.DaemonSetSpec{Template: tmpl}}
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	require.NoError(t, err)
	return &unstructured.Unstructured{Object: m}
}

// systemPods are the Deployments of Talos' system pods on the pod network
// (talos.SystemPods: the cluster DNS, with the labels and ports of Talos'
// template; it tolerates the control-plane taint, talos v1.13.9
// k8stemplates/coredns.go:277, and resolves with its node's resolv.conf,
// :366).
func systemPods(t *testing.T, h *homelab.Homelab) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, sp := range h.Cluster.SystemPods() {
		if len(sp.Ports) == 0 {
			continue
		}
		tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sp.Labels}, Spec: corev1.PodSpec{
			Tolerations: []corev1.Toleration{{Key: controlPlaneTaint.Key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			Containers:  []corev1.Container{{Name: sp.Name, Ports: sp.Ports}},
			DNSPolicy:   corev1.DNSDefault,
		}}
		out = append(out, workload(t, "kube-system", sp.Name, tmpl, false))
	}
	return out
}

// longhornRuntime gives longhorn-manager's pods the labels it adds to
// them at run time, and returns the workloads of the pods Longhorn makes
// (storage.RuntimePods).
func longhornRuntime(t *testing.T, h *homelab.Homelab, c *cluster) []*unstructured.Unstructured {
	mgr := c.find("DaemonSet", h.Longhorn.Namespace, "longhorn-manager")
	require.NotNil(t, mgr, "the chart renders no longhorn-manager DaemonSet")
	labels, _, _ := unstructured.NestedStringMap(mgr.Object, "spec", "template", "metadata", "labels")
	maps.Copy(labels, storage.ManagerRuntimeLabels())
	require.NoError(t, unstructured.SetNestedStringMap(mgr.Object, labels, "spec", "template", "metadata", "labels"))
	var out []*unstructured.Unstructured
	for _, rp := range h.Longhorn.RuntimePods() {
		tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: rp.Labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: rp.Name, Ports: rp.Ports}}}}
		out = append(out, workload(t, h.Longhorn.Namespace, rp.Name, tmpl, rp.PerNode))
	}
	return out
}

// longhornFlows are the connections Longhorn needs: between its
// components (longhorn-manager v1.12.1: the manager drives the instance
// managers, engineapi/instance_manager.go:131 and engineapi/proxy.go:93;
// replicas stream across nodes; the UI, CSI plugin and driver deployer
// call the manager's API; a share manager reports to the recovery
// backend and serves NFS to the nodes; the manager fetches support
// bundles), to the API server both ways, and to the backup target.
func longhornFlows(h *homelab.Homelab, controlPlanes, nodes []endpoint, add func(from, to endpoint, port int32, proto corev1.Protocol, why string)) {
	l := h.Longhorn
	pods := func(labels map[string]string) endpoint { return endpoint{Namespace: l.Namespace, Pods: labels} }
	manager := pods(map[string]string{"app": "longhorn-manager"})
	im := pods(map[string]string{"longhorn.io/component": "instance-manager"})
	shareManager := pods(map[string]string{"longhorn.io/component": "share-manager"})
	tcp := corev1.ProtocolTCP
	for _, cp := range controlPlanes {
		add(manager, cp, 6443, tcp, "longhorn-manager's controllers")
		add(pods(map[string]string{"app": "longhorn-driver-deployer"}), cp, 6443, tcp, "the driver deployer makes the CSI workloads")
		for _, rp := range l.RuntimePods() {
			if rp.CallsAPIServer {
				add(pods(rp.Labels), cp, 6443, tcp, rp.Name+" to the API server")
			}
		}
		add(cp, pods(map[string]string{"longhorn.io/admission-webhook": "longhorn-admission-webhook"}), storage.AdmissionWebhookPort, tcp, "Longhorn's admission webhook")
	}
	for p := int32(storage.InstanceManagerPort); p <= storage.InstanceManagerPort+3; p++ {
		add(manager, im, p, tcp, "the manager drives the instance managers")
	}
	add(im, im, storage.ReplicaPort, tcp, "an engine streams to the volume's replicas on other nodes")
	for _, client := range []string{"longhorn-ui", "longhorn-csi-plugin", "longhorn-driver-deployer"} {
		add(pods(map[string]string{"app": client}), manager, storage.ManagerAPIPort, tcp, client+" calls the manager's API")
	}
	add(shareManager, manager, storage.RecoveryBackendPort, tcp, "a share manager reports its NFS clients")
	add(manager, shareManager, storage.ShareManagerPort, tcp, "the manager drives a share manager")
	for _, n := range nodes {
		add(endpoint{IP: n.IP, Kernel: true}, shareManager, storage.NFSPort, tcp, "a node mounts a ReadWriteMany volume")
	}
	add(manager, pods(map[string]string{"app": "support-bundle-manager"}), storage.SupportBundlePort, tcp, "the manager fetches a support bundle")
	if dest, port, ok := l.BackupTargetEndpoint(); ok {
		nas := endpoint{IP: dest.Addr()}
		add(manager, nas, port, tcp, "the manager lists backups on the backup target")
		add(im, nas, port, tcp, "replicas write backups to the backup target")
	}
}

// TestNetworkPoliciesAllowWhatMustFlow derives from the tree every
// connection the homelab needs (DNS, scrapes by every monitor, the tunnel
// to ingress-nginx and the edge, ingress-nginx to each exposed app, the
// API server to admission webhooks, the receivers of alerts, Longhorn's
// components and the cluster DNS' upstream) and checks that the
// NetworkPolicies, as the CNI enforces them, let each through, and that
// every allow rule is needed by some flow: for Funoffshore (tainted
// control plane, two workers) and a single node that runs everything.
func TestNetworkPoliciesAllowWhatMustFlow(t *testing.T) {
	for name, props := range map[string]*homelab.Props{"funoffshore": nil, "single node": singleNode()} {
		t.Run(name, func(t *testing.T) { checkHomelabFlows(t, props) })
	}
}

func checkHomelabFlows(t *testing.T, props *homelab.Props) {
	h, c, own := renderCluster(t, props)

	isolated := map[string]bool{}
	for _, o := range c.objects {
		if o.GetKind() == "NetworkPolicy" {
			isolated[o.GetNamespace()] = true
		}
	}
	internet := endpoint{IP: netip.MustParseAddr("198.51.100.7")}
	var nodes, controlPlanes []endpoint
	for _, n := range h.Cluster.Nodes() {
		nodes = append(nodes, endpoint{IP: n.IP})
		if n.Role == "controlplane" {
			controlPlanes = append(controlPlanes, endpoint{IP: n.IP})
		}
	}
	ns := func(n string) endpoint { return endpoint{Namespace: n} }
	var flows []flow
	add := func(from, to endpoint, port int32, proto corev1.Protocol, why string) {
		flows = append(flows, flow{From: from, To: to, Port: port, Protocol: proto, Why: why})
	}
	mon := h.Monitoring.Namespace
	// Prometheus' pods, as prometheus-operator labels them.
	prometheus := endpoint{Namespace: mon, Pods: map[string]string{"app.kubernetes.io/name": "prometheus"}}

	// Name resolution everywhere, by every pod that asks the cluster DNS
	// (not those with dnsPolicy Default, such as the cluster DNS itself).
	for n := range isolated {
		for _, p := range c.pods(t, n) {
			if p.Spec.HostNetwork || p.Spec.DNSPolicy == corev1.DNSDefault {
				continue
			}
			add(endpoint{Namespace: n, Pods: p.Labels}, ns("kube-system"), 53, corev1.ProtocolUDP, "DNS")
			add(endpoint{Namespace: n, Pods: p.Labels}, ns("kube-system"), 53, corev1.ProtocolTCP, "DNS")
		}
	}
	// The cluster DNS reads Services from the API server and forwards
	// other names upstream (Talos' host DNS on its own node, or the
	// resolvers).
	for _, sp := range h.Cluster.SystemPods() {
		if len(sp.Ports) == 0 {
			continue
		}
		dns := endpoint{Namespace: "kube-system", Pods: sp.Labels}
		for _, cp := range controlPlanes {
			add(dns, cp, 6443, corev1.ProtocolTCP, "the cluster DNS watches Services")
		}
		for _, up := range h.Cluster.DNSUpstreams() {
			to := endpoint{IP: up, OwnNode: up == netip.MustParseAddr(constants.HostDNSAddress)}
			add(dns, to, 53, corev1.ProtocolUDP, "the cluster DNS forwards upstream")
			add(dns, to, 53, corev1.ProtocolTCP, "the cluster DNS forwards upstream")
		}
	}
	// Pods talk to pods of their own namespace where that is the design:
	// the monitoring stack (Grafana to Prometheus and Alertmanager,
	// Prometheus to Alertmanager, scrapes of itself), the apps (Homepage
	// widgets query the other apps) and Flux (the controllers fetch
	// artifacts from source-controller).
	for _, n := range []string{h.Monitoring.Namespace, "apps", "flux-system"} {
		for _, p := range c.pods(t, n) {
			for _, ct := range p.Spec.Containers {
				for _, port := range ct.Ports {
					if !p.Spec.HostNetwork {
						add(ns(n), ns(n), port.ContainerPort, corev1.ProtocolTCP, "within "+n)
					}
				}
			}
		}
	}
	// Prometheus scrapes what every monitor of the tree selects.
	for _, o := range c.objects {
		if o.GetKind() != "ServiceMonitor" && o.GetKind() != "PodMonitor" {
			continue
		}
		namespaces, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "namespaceSelector", "matchNames")
		if len(namespaces) == 0 {
			namespaces = []string{o.GetNamespace()}
		}
		field := "endpoints"
		if o.GetKind() == "PodMonitor" {
			field = "podMetricsEndpoints"
		}
		eps, _, _ := unstructured.NestedSlice(o.Object, "spec", field)
		for _, e := range eps {
			port, _ := e.(map[string]any)["port"].(string)
			if port == "" {
				continue
			}
			for _, target := range namespaces {
				to := ns(target)
				var numbers []int32
				if o.GetKind() == "ServiceMonitor" {
					// A Service's port name: the pods its selector picks,
					// on its targetPort (prometheus-operator's endpoints).
					for _, s := range c.objects {
						if s.GetKind() != "Service" || s.GetNamespace() != target {
							continue
						}
						var svc corev1.Service
						decodeInto(t, s, &svc)
						sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "selector", "matchLabels")
						if !labelsMatch(sel, svc.Labels) {
							continue
						}
						for _, sp := range svc.Spec.Ports {
							// An unset targetPort is the port's number (the
							// Service API's default).
							tp := sp.TargetPort.String()
							if sp.TargetPort == (intstr.IntOrString{}) {
								tp = fmt.Sprint(sp.Port)
							}
							if n := c.containerPorts(t, target, tp, svc.Spec.Selector); sp.Name == port && len(n) > 0 {
								to = endpoint{Namespace: target, Pods: svc.Spec.Selector}
								numbers = append(numbers, n...)
							}
						}
					}
				}
				if len(numbers) == 0 {
					numbers = c.containerPorts(t, target, port, nil)
				}
				// kube-system's targets are Talos' host-network
				// components, scraped through the nodes' addresses below.
				if len(numbers) == 0 && isolated[target] && target != "kube-system" {
					t.Errorf("%s %s/%s scrapes port %q in %s, which no pod there has", o.GetKind(), o.GetNamespace(), o.GetName(), port, target)
				}
				for _, n := range numbers {
					add(prometheus, to, n, corev1.ProtocolTCP, "scrape by "+o.GetName())
				}
			}
		}
	}
	// Host-network targets and the control plane (kube-prometheus-stack).
	for _, n := range nodes {
		add(ns(mon), n, 10250, corev1.ProtocolTCP, "kubelet metrics")
		add(ns(mon), n, 9100, corev1.ProtocolTCP, "node-exporter")
	}
	for _, n := range controlPlanes {
		for _, p := range []int32{6443, 10257, 10259, 2381} {
			add(ns(mon), n, p, corev1.ProtocolTCP, "control plane")
		}
	}
	// The tunnel: to the Cloudflare edge, and to its origin.
	tun := h.Tunnel.Namespace
	add(ns(tun), internet, 7844, corev1.ProtocolTCP, "tunnel to the edge (HTTP/2)")
	add(ns(tun), internet, 7844, corev1.ProtocolUDP, "tunnel to the edge (QUIC)")
	add(ns(tun), internet, 443, corev1.ProtocolTCP, "Cloudflare API")
	for _, p := range c.containerPorts(t, h.Nginx.Namespace, "http", nil) {
		add(ns(tun), ns(h.Nginx.Namespace), p, corev1.ProtocolTCP, "tunnel origin")
	}
	if h.CertManager != nil {
		// Apps served over TLS: the tunnel reaches the controller's HTTPS port.
		for _, p := range c.containerPorts(t, h.Nginx.Namespace, "https", nil) {
			add(ns(tun), ns(h.Nginx.Namespace), p, corev1.ProtocolTCP, "tunnel origin over TLS")
		}
		// cert-manager: the ACME directory and Cloudflare's API (HTTPS),
		// the zone's authoritative servers for the DNS-01 self-check.
		cm := h.CertManager.Namespace
		add(ns(cm), internet, 443, corev1.ProtocolTCP, "ACME and the DNS provider's API")
		add(ns(cm), internet, 53, corev1.ProtocolUDP, "DNS-01 self-check")
		add(ns(cm), internet, 53, corev1.ProtocolTCP, "DNS-01 self-check")
		for _, cp := range controlPlanes {
			add(ns(cm), cp, 6443, corev1.ProtocolTCP, "cert-manager's controller, cainjector and webhook to the API server")
		}
	}
	// ingress-nginx to every app with a public host.
	for _, a := range h.AppConstructs {
		for _, p := range c.containerPorts(t, a.Namespace, "http", map[string]string{"app.kubernetes.io/name": a.Name}) {
			add(ns(h.Nginx.Namespace), ns(a.Namespace), p, corev1.ProtocolTCP, "ingress to "+a.Name)
		}
	}
	// The API server (on the control planes) calls admission webhooks.
	for _, o := range c.objects {
		if o.GetKind() != "ValidatingWebhookConfiguration" && o.GetKind() != "MutatingWebhookConfiguration" {
			continue
		}
		var cfg admissionregistrationv1.ValidatingWebhookConfiguration
		decodeInto(t, o, &cfg)
		for _, w := range cfg.Webhooks {
			ref := w.ClientConfig.Service
			if ref == nil {
				continue
			}
			svcObj := c.find("Service", ref.Namespace, ref.Name)
			if svcObj == nil {
				t.Errorf("webhook %s calls Service %s/%s, which nothing renders", w.Name, ref.Namespace, ref.Name)
				continue
			}
			var svc corev1.Service
			decodeInto(t, svcObj, &svc)
			// The API server calls the Service's port 443 unless the
			// webhook names another (admissionregistration/v1
			// ServiceReference.Port's default), on the pods it selects.
			port := ptr.Deref(ref.Port, 443)
			for _, sp := range svc.Spec.Ports {
				if sp.Port != port {
					continue
				}
				for _, p := range c.containerPorts(t, ref.Namespace, sp.TargetPort.String(), svc.Spec.Selector) {
					for _, cp := range controlPlanes {
						add(cp, endpoint{Namespace: ref.Namespace, Pods: svc.Spec.Selector}, p, corev1.ProtocolTCP, "admission webhook "+w.Name)
					}
				}
			}
		}
	}
	// Alerts and dashboards leave the cluster over HTTPS; apps may call
	// HTTPS APIs.
	add(ns(mon), internet, 443, corev1.ProtocolTCP, "Alertmanager receiver, grafana.com dashboards")
	add(ns(mon), internet, 587, corev1.ProtocolTCP, "Alertmanager email (submission)")
	add(ns(mon), internet, 465, corev1.ProtocolTCP, "Alertmanager email (TLS)")
	add(ns("apps"), internet, 443, corev1.ProtocolTCP, "apps calling HTTPS APIs")
	// Flux pulls Git over SSH and charts over HTTPS, and talks to the API.
	add(ns("flux-system"), internet, 22, corev1.ProtocolTCP, "Git over SSH")
	add(ns("flux-system"), internet, 443, corev1.ProtocolTCP, "Helm repositories")
	for _, cp := range controlPlanes {
		add(endpoint{Namespace: h.Snapshots.Namespace, Pods: backup.PodLabels()}, cp, 50000, corev1.ProtocolTCP, "the etcd snapshot job to the Talos API (Service talos.default)")
		add(ns(h.Nginx.Namespace), cp, 6443, corev1.ProtocolTCP, "ingress-nginx watches Ingresses; its webhook jobs")
		add(ns(h.NFS.Namespace), cp, 6443, corev1.ProtocolTCP, "the NFS provisioner watches claims")
		add(ns("flux-system"), cp, 6443, corev1.ProtocolTCP, "Flux controllers to the API server")
		add(ns(mon), cp, 6443, corev1.ProtocolTCP, "the operator, Prometheus, Grafana's sidecar and kube-state-metrics to the API server")
	}

	if h.Longhorn != nil {
		longhornFlows(h, controlPlanes, nodes, add)
	}
	if h.Collector != nil {
		telemetryFlows(t, h, c, controlPlanes, nodes, add)
	}

	checkFlows(t, h, c, own, flows)
}
