package talos_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/container"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/siderolabs/talos/pkg/machinery/config/types/network"
	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"
	"github.com/stretchr/testify/require"
	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/talos"
)

// Talos' own pods take their share of the nodes: the capacity check
// counts them (the e2e cluster runs them with the same requests).
func TestSystemPodsInCapacity(t *testing.T) {
	_, h := render(t, nil)
	cp := h.Cluster.Capacity()
	got := map[string]talos.CapacityLine{}
	for _, l := range cp.Lines {
		if l.System {
			got[l.Name] = l
		}
	}
	if l := got["coredns (Talos)"]; l.Pods != 2 || l.CPU.String() != "200m" || l.Memory.String() != "140Mi" {
		t.Errorf("coredns: %d pods, %s CPU, %s memory; want 2 pods, 200m, 140Mi", l.Pods, l.CPU.String(), l.Memory.String())
	}
	if l := got["kube-flannel (Talos)"]; !l.PerNode || l.Pods != cp.Workers || l.PodCPU.String() != "100m" || l.PodMemory.String() != "50Mi" {
		t.Errorf("kube-flannel: per node %v, %d pods (%d workers), %s CPU, %s memory each; want one per worker, 100m, 50Mi",
			l.PerNode, l.Pods, cp.Workers, l.PodCPU.String(), l.PodMemory.String())
	}
	if len(got) != 2 {
		t.Errorf("system lines %v, want coredns and kube-flannel", got)
	}
}

// A config without CoreDNS and with another CNI runs neither.
func TestSystemPodsFollowTheConfig(t *testing.T) {
	_, h := render(t, nil)
	cfg, err := h.Cluster.MachineConfig(machine.TypeControlPlane, talos.PlaceholderBundle())
	require.NoError(t, err)
	if n := len(talos.SystemPods(cfg)); n != 2 {
		t.Fatalf("%d system pods for the default config, want 2", n)
	}
	patched, err := cfg.PatchV1Alpha1(func(c *v1alpha1.Config) error {
		c.ClusterConfig.CoreDNSConfig = &v1alpha1.CoreDNS{CoreDNSDisabled: ptr.To(true)}
		c.ClusterConfig.ClusterNetwork.CNI = &v1alpha1.CNIConfig{CNIName: "none"}
		return nil
	})
	require.NoError(t, err)
	if pods := talos.SystemPods(patched); len(pods) != 0 {
		t.Errorf("CoreDNS disabled and CNI none: got %v, want no system pods", pods)
	}
}

// The cluster DNS forwards outside names to the host DNS address while
// hostDNS.forwardKubeDNSToHost is on (machinery's default); without it,
// to the configured resolvers, or to Talos' defaults.
func TestDNSUpstreams(t *testing.T) {
	_, h := render(t, nil)
	if got := h.Cluster.DNSUpstreams(); fmt.Sprint(got) != "[169.254.116.108]" {
		t.Errorf("default config: upstreams %v, want the host DNS address 169.254.116.108", got)
	}
	cfg, err := h.Cluster.MachineConfig(machine.TypeControlPlane, talos.PlaceholderBundle())
	require.NoError(t, err)
	off, err := cfg.PatchV1Alpha1(func(c *v1alpha1.Config) error {
		c.MachineConfig.MachineFeatures.HostDNSSupport.HostDNSForwardKubeDNSToHost = ptr.To(false)
		return nil
	})
	require.NoError(t, err)
	if got := talos.DNSUpstreams(off); fmt.Sprint(got) != "[1.1.1.1 8.8.8.8]" {
		t.Errorf("forwarding off, no resolvers: upstreams %v, want Talos' defaults [1.1.1.1 8.8.8.8]", got)
	}
	resolver := network.NewResolverConfigV1Alpha1()
	resolver.ResolverNameservers = []network.NameserverConfig{{Address: network.Addr{Addr: netip.MustParseAddr("192.168.1.1")}}}
	withResolver, err := container.New(append(off.Documents(), resolver)...)
	require.NoError(t, err)
	if got := talos.DNSUpstreams(withResolver); fmt.Sprint(got) != "[192.168.1.1]" {
		t.Errorf("forwarding off, resolver 192.168.1.1: upstreams %v, want [192.168.1.1]", got)
	}
}
