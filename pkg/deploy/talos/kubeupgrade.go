package talos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cosi-project/runtime/pkg/safe"
	"github.com/siderolabs/talos/pkg/machinery/api/machine"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/encoder"
	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"
	"github.com/siderolabs/talos/pkg/machinery/constants"
	"github.com/siderolabs/talos/pkg/machinery/resources/k8s"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	model "github.com/funoffshore/homelab/constructs/talos"
)

// kubeComponent is a Kubernetes component whose image the machine config
// names, in the order `talosctl upgrade-k8s` moves them: the API servers
// first (nothing may be newer than them), then the controller managers,
// the schedulers and kube-proxy on the control planes, then every kubelet.
type kubeComponent struct {
	name         string
	controlPlane bool // only control planes run it
	image        func(config.Provider) string
	set          func(*v1alpha1.Config, string)
}

func kubeComponents() []kubeComponent {
	cluster := func(c *v1alpha1.Config) *v1alpha1.ClusterConfig {
		if c.ClusterConfig == nil {
			c.ClusterConfig = &v1alpha1.ClusterConfig{}
		}
		return c.ClusterConfig
	}
	return []kubeComponent{
		{"kube-apiserver", true, func(c config.Provider) string { return c.Cluster().APIServer().Image() }, func(c *v1alpha1.Config, img string) {
			if cluster(c).APIServerConfig == nil {
				c.ClusterConfig.APIServerConfig = &v1alpha1.APIServerConfig{}
			}
			c.ClusterConfig.APIServerConfig.ContainerImage = img
		}},
		{"kube-controller-manager", true, func(c config.Provider) string { return c.Cluster().ControllerManager().Image() }, func(c *v1alpha1.Config, img string) {
			if cluster(c).ControllerManagerConfig == nil {
				c.ClusterConfig.ControllerManagerConfig = &v1alpha1.ControllerManagerConfig{}
			}
			c.ClusterConfig.ControllerManagerConfig.ContainerImage = img
		}},
		{"kube-scheduler", true, func(c config.Provider) string { return c.Cluster().Scheduler().Image() }, func(c *v1alpha1.Config, img string) {
			if cluster(c).SchedulerConfig == nil {
				c.ClusterConfig.SchedulerConfig = &v1alpha1.SchedulerConfig{}
			}
			c.ClusterConfig.SchedulerConfig.ContainerImage = img
		}},
		{"kube-proxy", true, func(c config.Provider) string { return c.Cluster().Proxy().Image() }, func(c *v1alpha1.Config, img string) {
			if cluster(c).ProxyConfig == nil {
				c.ClusterConfig.ProxyConfig = &v1alpha1.ProxyConfig{}
			}
			c.ClusterConfig.ProxyConfig.ContainerImage = img
		}},
		{"kubelet", false, func(c config.Provider) string { return c.Machine().Kubelet().Image() }, func(c *v1alpha1.Config, img string) {
			if c.MachineConfig == nil {
				c.MachineConfig = &v1alpha1.MachineConfig{}
			}
			if c.MachineConfig.MachineKubelet == nil {
				c.MachineConfig.MachineKubelet = &v1alpha1.KubeletConfig{}
			}
			c.MachineConfig.MachineKubelet.KubeletImage = img
		}},
	}
}

// runs reports whether node n runs component k.
func (k kubeComponent) runs(n *model.Node) bool {
	return !k.controlPlane || n.Role == model.ControlPlane
}

// KubernetesStep moves one component on one node to the model's
// Kubernetes version by applying the node's config with that component's
// image changed (and the components before it in the order), without a
// reboot, then waiting until Kubernetes shows it: the component's pod on
// the node Ready at the new version, or the Node Ready with the new
// kubelet.
type KubernetesStep struct {
	Node      *model.Node
	Component string
	// From and To are the image tags.
	From, To string

	config []byte
}

func (s KubernetesStep) String() string {
	wait := "waits for its pod Ready on " + s.To
	switch s.Component {
	case "kubelet":
		wait = "waits for the Node Ready on " + s.To
	case "kube-proxy":
		wait = "the DaemonSet follows with the manifests"
	}
	return fmt.Sprintf("%s: Kubernetes %s %s -> %s (no reboot; %s)", s.Node.Hostname, s.Component, s.From, s.To, wait)
}

// runningImages returns the component images of a node's running config.
func runningImages(n *model.Node, running config.Provider) map[string]string {
	out := map[string]string{}
	for _, k := range kubeComponents() {
		if k.runs(n) {
			out[k.name] = k.image(running)
		}
	}
	return out
}

// withImages returns want with the images of the components from index
// from on (in kubeComponents' order) set back to the node's running ones.
func withImages(want config.Provider, running map[string]string, from int) (config.Provider, error) {
	return want.PatchV1Alpha1(func(c *v1alpha1.Config) error {
		for _, k := range kubeComponents()[from:] {
			if img, ok := running[k.name]; ok && img != "" {
				k.set(c, img)
			}
		}
		return nil
	})
}

// imageTag is the tag of an image reference ("" without one).
func imageTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return ""
}

// skew checks moving what who names from the version tag have to want
// against the version-skew policy: one minor at a time, never down. It
// returns why a move is refused, or "".
func skew(who, have string, want *version.Version) string {
	h, err := version.ParseGeneric(have)
	if err != nil {
		return fmt.Sprintf("Kubernetes: %s at %q, which is no version: fix it by hand (`talosctl upgrade-k8s`), then deploy", who, have)
	}
	switch {
	case want.LessThan(h):
		return fmt.Sprintf("Kubernetes: %s at %s, newer than the model's %s: Kubernetes does not downgrade; set the model to %s", who, h, want, h)
	case want.Major() != h.Major() || want.Minor() > h.Minor()+1:
		return fmt.Sprintf("Kubernetes: %s at %s, the model %s: refused, the version-skew policy allows one minor at a time; set the model to the latest %d.%d.x release first, deploy, then %s",
			who, h, want, h.Major(), h.Minor()+1, want)
	}
	return ""
}

// planKubernetes plans the Kubernetes upgrade from each configured
// node's running images (running) to the model's, or refuses it.
func (d *deployer) planKubernetes(p *Plan, running map[*model.Node]map[string]string, wants map[*model.Node]config.Provider) error {
	want, err := version.ParseGeneric(d.cluster.KubernetesVersion)
	if err != nil {
		return fmt.Errorf("the model's Kubernetes version %q: %w", d.cluster.KubernetesVersion, err)
	}
	nodes := orderedNodes(d.cluster)
	refused := map[string][]string{} // running tag -> nodes
	var tags []string
	for i, k := range kubeComponents() {
		for _, n := range nodes {
			have, ok := running[n][k.name]
			if !ok {
				continue
			}
			to := k.image(wants[n])
			if have == to {
				continue
			}
			if tag := imageTag(have); skew("", tag, want) != "" {
				if !slices.Contains(tags, tag) {
					tags = append(tags, tag)
				}
				if !slices.Contains(refused[tag], n.Hostname) {
					refused[tag] = append(refused[tag], n.Hostname)
				}
				continue
			}
			cfg, err := withImages(wants[n], running[n], i+1)
			if err != nil {
				return fmt.Errorf("talos %s: %w", n.Hostname, err)
			}
			data, err := cfg.EncodeBytes(encoder.WithComments(encoder.CommentsDisabled))
			if err != nil {
				return err
			}
			p.Kubernetes = append(p.Kubernetes, KubernetesStep{Node: n, Component: k.name, From: imageTag(have), To: imageTag(to), config: data})
		}
	}
	if len(tags) > 0 {
		p.Kubernetes = nil
		for _, tag := range tags {
			p.Refused = append(p.Refused, skew(strings.Join(refused[tag], ", "), tag, want))
		}
		return nil
	}
	if len(p.Kubernetes) > 0 && d.opts.Kube == nil {
		p.Kubernetes, p.Refused = nil, append(p.Refused, "Kubernetes: an upgrade needs the cluster's Kubernetes API to see each component come back; none was given")
	}
	return nil
}

// orderedNodes lists control planes, then workers.
func orderedNodes(cluster *model.Cluster) []*model.Node {
	return append(cluster.ControlPlanes(), cluster.Workers()...)
}

// upgradeKubernetes carries the steps out one at a time and then syncs
// Talos' bootstrap manifests; the first failure stops it, naming what is
// left (a rerun plans from what the nodes run and resumes).
func (d *deployer) upgradeKubernetes(ctx context.Context, steps []KubernetesStep) error {
	if len(steps) == 0 {
		return nil
	}
	kc, err := d.opts.Kube(ctx)
	if err != nil {
		return fmt.Errorf("kubernetes upgrade: reaching the Kubernetes API: %w", err)
	}
	for i, s := range steps {
		err := d.opts.Log.Record("talos", s.Node.Hostname, "kubernetes "+s.Component+" "+s.To, func() error { return d.kubernetesStep(ctx, kc, s) })
		if err != nil {
			var left []string
			for _, later := range steps[i+1:] {
				left = append(left, later.Node.Hostname+" "+later.Component)
			}
			return errors.Join(fmt.Errorf("talos %s: Kubernetes %s %s -> %s: %w", s.Node.Hostname, s.Component, s.From, s.To, err),
				fmt.Errorf("stopped there, the cluster serving; not yet upgraded: %s; fix the cause and run deploy again to resume", orNone(left)))
		}
	}
	first := d.cluster.ControlPlanes()[0]
	return d.opts.Log.Record("talos", first.Hostname, "sync-manifests", func() error { return d.syncManifests(ctx, kc, first) })
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func (d *deployer) kubernetesStep(ctx context.Context, kc client.Client, s KubernetesStep) error {
	c, err := d.secure(ctx, s.Node)
	if err != nil {
		return err
	}
	// NO_REBOOT, as upgrade-k8s: an image change applies live, and a
	// node that wanted a reboot for it would be a surprise to refuse.
	_, err = c.ApplyConfiguration(ctx, &machine.ApplyConfigurationRequest{Data: s.config, Mode: machine.ApplyConfigurationRequest_NO_REBOOT})
	c.Close()
	if err != nil {
		return fmt.Errorf("applying the config: %w", err)
	}
	if s.Component == "kube-proxy" {
		return nil
	}
	want, err := version.ParseGeneric(s.To)
	if err != nil {
		return err
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, d.opts.Timeout, true, func(ctx context.Context) (bool, error) {
		ok, why, err := componentAt(ctx, kc, s, want)
		last = why
		return err == nil && ok, nil
	})
	if err != nil {
		return fmt.Errorf("not back on %s within %s (%s): %w", s.To, d.opts.Timeout, last, err)
	}
	return nil
}

// componentAt reports whether Kubernetes shows the step's component on
// its node at version want and Ready, and if not, what it shows.
func componentAt(ctx context.Context, kc client.Client, s KubernetesStep, want *version.Version) (bool, string, error) {
	at := func(v string) bool {
		h, err := version.ParseGeneric(v)
		return err == nil && h.EqualTo(want)
	}
	if s.Component == "kubelet" {
		var node corev1.Node
		if err := kc.Get(ctx, client.ObjectKey{Name: s.Node.Hostname}, &node); err != nil {
			return false, "Node: " + err.Error(), err
		}
		ready := false
		for _, c := range node.Status.Conditions {
			ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
		}
		v := node.Status.NodeInfo.KubeletVersion
		return at(v) && ready, fmt.Sprintf("Node %s: kubelet %s, Ready %v", node.Name, v, ready), nil
	}
	var pods corev1.PodList
	if err := kc.List(ctx, &pods, client.InNamespace("kube-system"), client.MatchingLabels{"k8s-app": s.Component}); err != nil {
		return false, err.Error(), err
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != s.Node.Hostname {
			continue
		}
		ready := false
		for _, c := range p.Status.Conditions {
			ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
		}
		v := p.Labels["app.kubernetes.io/version"]
		return at(v) && ready, fmt.Sprintf("pod %s: version %s, Ready %v", p.Name, v, ready), nil
	}
	return false, "no " + s.Component + " pod on the node", nil
}

// syncManifests applies Talos' bootstrap manifests (kube-proxy, CoreDNS,
// the CNI, as the control plane renders them from its config) to the
// cluster with Talos' field manager, as the last step of `talosctl
// upgrade-k8s`: Talos itself only creates them, never updates them.
func (d *deployer) syncManifests(ctx context.Context, kc client.Client, cp *model.Node) error {
	c, err := d.secure(ctx, cp)
	if err != nil {
		return err
	}
	defer c.Close()
	list, err := safe.StateListAll[*k8s.Manifest](ctx, c.COSI)
	if err != nil {
		return fmt.Errorf("reading the bootstrap manifests: %w", err)
	}
	for m := range list.All() {
		for _, item := range m.TypedSpec().Items {
			u := &unstructured.Unstructured{Object: item.Object}
			if err := kc.Patch(ctx, u.DeepCopy(), client.Apply, client.FieldOwner(constants.KubernetesFieldManagerName), client.ForceOwnership); err != nil {
				return fmt.Errorf("applying %s %s/%s of manifest %s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), m.Metadata().ID(), err)
			}
		}
	}
	return nil
}
