package talos

import (
	"bytes"
	"fmt"
	yaml "go.yaml.in/yaml/v4"
	"slices"
	"sync"

	"github.com/siderolabs/talos/pkg/machinery/cel"
	"github.com/siderolabs/talos/pkg/machinery/cel/celenv"
	clientconfig "github.com/siderolabs/talos/pkg/machinery/client/config"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/configpatcher"
	"github.com/siderolabs/talos/pkg/machinery/config/container"
	"github.com/siderolabs/talos/pkg/machinery/config/encoder"
	"github.com/siderolabs/talos/pkg/machinery/config/generate"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/siderolabs/talos/pkg/machinery/config/types/block"
	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"
	"github.com/siderolabs/talos/pkg/machinery/constants"

	"k8s.io/utils/ptr"

	"github.com/funoffshore/homelab/constructs/core"
)

// appliesTo reports whether a need or patch for nodes of r applies to the
// machine config of type role. Control planes run workloads when a patch
// allows it: Talos then leaves off their NoSchedule taint (v1.13.9
// internal/app/machined/pkg/controllers/k8s/node_taint_spec.go:74).
func (c *Cluster) appliesTo(r core.Role, role machine.Type) bool {
	node := core.Worker
	if role == machine.TypeControlPlane {
		node = core.ControlPlane
	}
	return r.Selects(core.NodeAddress{Role: node, Workloads: c.runsWorkloads(node)})
}

// runsWorkloads reports whether pods are scheduled on nodes of role: the
// workers always, the control planes when a patch allows it.
func (c *Cluster) runsWorkloads(role Role) bool {
	return role == Worker || c.SchedulesOnControlPlanes()
}

// Patches returns the typed patches for nodes of role: the cluster
// networks, what the tree's constructs need, and the user's patches, in
// that order.
func (c *Cluster) Patches(role machine.Type) []*v1alpha1.Config {
	out := []*v1alpha1.Config{{
		ClusterConfig: &v1alpha1.ClusterConfig{ClusterNetwork: &v1alpha1.ClusterNetworkConfig{
			PodSubnet: []string{c.PodCIDR}, ServiceSubnet: []string{c.ServiceCIDR},
		}},
	}}
	if vip := c.vip; vip.IsValid() && role == machine.TypeControlPlane {
		// The VIP answers only where a control plane announces it: on
		// the node's one NIC, which keeps its DHCP lease.
		out = append(out, &v1alpha1.Config{MachineConfig: &v1alpha1.MachineConfig{MachineNetwork: &v1alpha1.NetworkConfig{
			NetworkInterfaces: v1alpha1.NetworkDeviceList{{
				DeviceSelector:  &v1alpha1.NetworkDeviceSelector{NetworkDevicePhysical: ptr.To(true)},
				DeviceDHCP:      ptr.To(true),
				DeviceVIPConfig: &v1alpha1.DeviceVIPConfig{SharedIP: vip.String()},
			}},
		}}})
	}
	mounted := map[string]bool{}
	for _, need := range core.NodeNeeds.Of(c.info.Tree()).All() {
		if !c.appliesTo(need.Role, role) {
			continue
		}
		var mounts []v1alpha1.ExtraMount
		for _, m := range need.KubeletMounts {
			// Two constructs needing the same mount share it.
			if !mounted[m.Destination] {
				mounted[m.Destination] = true
				mounts = append(mounts, v1alpha1.ExtraMount{Source: m.Source, Destination: m.Destination, Type: "bind", Options: m.Options})
			}
		}
		if len(mounts) > 0 {
			out = append(out, &v1alpha1.Config{MachineConfig: &v1alpha1.MachineConfig{MachineKubelet: &v1alpha1.KubeletConfig{KubeletExtraMounts: mounts}}})
		}
		if need.ControlPlaneMetrics && role == machine.TypeControlPlane {
			bind := v1alpha1.Args{"bind-address": v1alpha1.NewArgValue("0.0.0.0", nil)}
			out = append(out, &v1alpha1.Config{ClusterConfig: &v1alpha1.ClusterConfig{
				ControllerManagerConfig: &v1alpha1.ControllerManagerConfig{ExtraArgsConfig: bind},
				SchedulerConfig:         &v1alpha1.SchedulerConfig{ExtraArgsConfig: bind},
				EtcdConfig:              &v1alpha1.EtcdConfig{EtcdExtraArgs: v1alpha1.Args{"listen-metrics-urls": v1alpha1.NewArgValue(etcdMetricsURL, nil)}},
			}})
		}
		if need.NetworkPolicies && out[0].ClusterConfig.ClusterNetwork.CNI == nil {
			// Talos' default CNI, Flannel, enforces NetworkPolicies only
			// with kube-network-policies deployed beside it.
			out[0].ClusterConfig.ClusterNetwork.CNI = &v1alpha1.CNIConfig{CNIName: constants.FlannelCNI, CNIFlannel: &v1alpha1.FlannelCNIConfig{FlannelKubeNetworkPoliciesEnabled: ptr.To(true)}}
		}
		if a := need.TalosAPIAccess; a != nil && role == machine.TypeControlPlane {
			enabled := true
			out = append(out, &v1alpha1.Config{MachineConfig: &v1alpha1.MachineConfig{MachineFeatures: &v1alpha1.FeaturesConfig{
				KubernetesTalosAPIAccessConfig: &v1alpha1.KubernetesTalosAPIAccessConfig{
					AccessEnabled: &enabled, AccessAllowedRoles: a.Roles, AccessAllowedKubernetesNamespaces: a.Namespaces,
				},
			}}})
		}
	}
	for _, p := range c.props.Patches {
		if p.Config != nil && c.appliesTo(p.Role, role) {
			out = append(out, p.Config)
		}
	}
	return out
}

// UserVolumes returns the Talos user volume documents for nodes of role.
func (c *Cluster) UserVolumes(role machine.Type) []*block.UserVolumeConfigV1Alpha1 {
	var out []*block.UserVolumeConfigV1Alpha1
	seen := map[string]bool{}
	for _, need := range core.NodeNeeds.Of(c.info.Tree()).All() {
		if !c.appliesTo(need.Role, role) {
			continue
		}
		for _, uv := range need.UserVolumes {
			// Identical needs share the volume; conflicting ones are
			// refused by validation (userVolumeConflicts).
			if seen[uv.Name] {
				continue
			}
			seen[uv.Name] = true
			doc := userVolumeDoc(uv)
			out = append(out, doc)
		}
	}
	return out
}

// userVolumeDoc is the Talos document for a user volume need: on the
// system disk, or on a disk of its own found by its serial.
func userVolumeDoc(uv core.UserVolume) *block.UserVolumeConfigV1Alpha1 {
	doc := block.NewUserVolumeConfigV1Alpha1()
	doc.MetaName = uv.Name
	doc.ProvisioningSpec.DiskSelectorSpec.Match = systemDiskSelector()
	if uv.DiskGiB > 0 {
		// Its own disk, found by the serial the VM gives it.
		if expr, err := cel.ParseBooleanExpression(fmt.Sprintf("disk.serial == %q", uv.Name), celenv.DiskLocator()); err == nil {
			doc.ProvisioningSpec.DiskSelectorSpec.Match = expr
		} // else machinery's validation of the document refuses the name
	}
	// A size that does not parse is left out here and refused by
	// validation (userVolumeSizes).
	var minSize block.ByteSize
	if minSize.UnmarshalText([]byte(uv.MinSize)) == nil {
		doc.ProvisioningSpec.ProvisioningMinSize = minSize
	}
	var maxSize block.Size
	if maxSize.UnmarshalText([]byte(uv.MaxSize)) == nil {
		doc.ProvisioningSpec.ProvisioningMaxSize = maxSize
	}
	return doc
}

// dataDisks are the disks of their own that user volumes ask for on
// nodes of role.
func (c *Cluster) dataDisks(role machine.Type) []core.DataDisk {
	var out []core.DataDisk
	for _, uv := range c.UserVolumes(role) {
		for _, need := range core.NodeNeeds.Of(c.info.Tree()).All() {
			for _, want := range need.UserVolumes {
				if want.Name == uv.MetaName && want.DiskGiB > 0 && c.appliesTo(need.Role, role) && !slices.ContainsFunc(out, func(d core.DataDisk) bool { return d.Name == want.Name }) {
					out = append(out, core.DataDisk{Name: want.Name, SizeGiB: want.DiskGiB})
				}
			}
		}
	}
	return out
}

// systemDiskSelector places user volumes on the install disk. It is built
// on first use: CEL's environment costs milliseconds, which every program
// linking this package (even `homelab version`) would pay at start.
var systemDiskSelector = sync.OnceValue(func() cel.Expression {
	return cel.MustExpression(cel.ParseBooleanExpression("system_disk", celenv.DiskLocator()))
})

// patchBytes encodes a typed patch the way a patch file would hold it.
func patchBytes(p *v1alpha1.Config) ([]byte, error) {
	data, err := encoder.NewEncoder(p, encoder.WithComments(encoder.CommentsDisabled)).Encode()
	if err != nil {
		return nil, err
	}
	// The encoder writes the struct's zero fields too (version: "",
	// machine: null, token: ""): a patch says only what it sets.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 1 {
		prune(doc.Content[0])
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(4)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// prune drops the mapping entries of n whose value is null, "" or an
// empty list (machinery's merge adds nothing from one), and those left
// empty by that, recursively.
func prune(n *yaml.Node) {
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			prune(c)
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	var kept []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		prune(v)
		empty := v.Kind == yaml.ScalarNode && (v.Tag == "!!null" || (v.Tag == "!!str" && v.Value == "" && v.Style == 0) || (v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 && v.Value == ""))
		if empty || (v.Kind == yaml.MappingNode && len(v.Content) == 0 && v.Style&yaml.FlowStyle == 0) || (v.Kind == yaml.SequenceNode && len(v.Content) == 0) {
			continue
		}
		kept = append(kept, k, v)
	}
	n.Content = kept
}

// MachineConfig renders the machine config of role from bundle: machinery's
// generator, then every patch applied with machinery's patcher, then the
// user volume documents. Synth passes PlaceholderBundle; the deployer the
// real one.
func (c *Cluster) MachineConfig(role machine.Type, bundle *secrets.Bundle) (config.Provider, error) {
	in, err := c.input(bundle)
	if err != nil {
		return nil, fmt.Errorf("generating %s config: %w", role, err)
	}
	cfg, err := in.Config(role)
	if err != nil {
		return nil, fmt.Errorf("generating %s config: %w", role, err)
	}
	var patches []configpatcher.Patch
	for _, p := range c.Patches(role) {
		data, err := patchBytes(p)
		if err != nil {
			return nil, fmt.Errorf("encoding a %s patch: %w", role, err)
		}
		patch, err := configpatcher.LoadPatch(data)
		if err != nil {
			return nil, fmt.Errorf("loading a %s patch: %w", role, err)
		}
		patches = append(patches, patch)
	}
	out, err := configpatcher.Apply(configpatcher.WithConfig(cfg), patches)
	if err != nil {
		return nil, fmt.Errorf("patching %s config: %w", role, err)
	}
	patched, err := out.Config()
	if err != nil {
		return nil, fmt.Errorf("patching %s config: %w", role, err)
	}
	docs := patched.Documents()
	for _, uv := range c.UserVolumes(role) {
		docs = append(docs, uv)
	}
	return container.New(docs...)
}

// userVolumeConflicts refuses two needs that ask for the same user volume
// with different sizes.
func (c *Cluster) userVolumeConflicts() []error {
	type decl struct {
		vol    core.UserVolume
		source string
	}
	first := map[string]decl{}
	var errs []error
	for _, need := range core.NodeNeeds.Of(c.info.Tree()).All() {
		for _, uv := range need.UserVolumes {
			d, ok := first[uv.Name]
			if !ok {
				first[uv.Name] = decl{uv, need.Source}
				continue
			}
			if d.vol != uv {
				errs = append(errs, core.Errorf(need.Source, "declare the volume once, or give it another name",
					"user volume %q (min %q, max %q, own disk %d GiB) conflicts with the one %q declares (min %q, max %q, own disk %d GiB)",
					uv.Name, uv.MinSize, uv.MaxSize, uv.DiskGiB, d.source, d.vol.MinSize, d.vol.MaxSize, d.vol.DiskGiB))
			}
		}
	}
	return errs
}

// input is machinery's generator input for the cluster and bundle.
func (c *Cluster) input(bundle *secrets.Bundle) (*generate.Input, error) {
	contract, err := config.ParseContractFromVersion(c.TalosVersion)
	if err != nil {
		return nil, fmt.Errorf("talos version %q: %w", c.TalosVersion, err)
	}
	var cpIPs []string
	for _, n := range c.ControlPlanes() {
		cpIPs = append(cpIPs, n.IP.String())
	}
	return generate.NewInput(c.Name, c.Endpoint(), c.KubernetesVersion,
		generate.WithVersionContract(contract),
		generate.WithSecretsBundle(bundle),
		generate.WithEndpointList(cpIPs),
		generate.WithInstallDisk(c.InstallDisk),
		generate.WithInstallImage(c.InstallerImage()),
	)
}

// Talosconfig returns the admin client configuration (os:admin) for the
// cluster, signed by the bundle's Talos API CA. The deployer writes it
// outside the repository.
func (c *Cluster) Talosconfig(bundle *secrets.Bundle) (*clientconfig.Config, error) {
	in, err := c.input(bundle)
	if err != nil {
		return nil, err
	}
	return in.Talosconfig()
}
