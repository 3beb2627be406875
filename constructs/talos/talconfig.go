package talos

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/siderolabs/talos/pkg/machinery/config/encoder"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/constructs/core"
)

// TalConfig is the part of talhelper's talconfig.yaml this project writes.
// (talhelper's own config package needs a newer, alpha Talos machinery than
// the one pinned here, so the fields are declared here and the output is
// checked against talhelper's JSON schema in tests.)
type TalConfig struct {
	ClusterName       string          `json:"clusterName"`
	TalosVersion      string          `json:"talosVersion"`
	KubernetesVersion string          `json:"kubernetesVersion"`
	Endpoint          string          `json:"endpoint"`
	ClusterPodNets    []string        `json:"clusterPodNets"`
	ClusterSvcNets    []string        `json:"clusterSvcNets"`
	CNIConfig         *TalCNIConfig   `json:"cniConfig,omitempty"`
	Nodes             []TalNode       `json:"nodes"`
	ControlPlane      *TalNodeConfigs `json:"controlPlane,omitempty"`
	Worker            *TalNodeConfigs `json:"worker,omitempty"`
}

// TalCNIConfig is talconfig's cniConfig (Talos' cluster.network.cni).
type TalCNIConfig struct {
	Name    string      `json:"name"`
	Flannel *TalFlannel `json:"flannel,omitempty"`
}

// TalFlannel is talconfig's cniConfig.flannel.
type TalFlannel struct {
	KubeNetworkPoliciesEnabled bool `json:"kubeNetworkPoliciesEnabled,omitempty"`
}

// TalNode is a node in talconfig.yaml.
type TalNode struct {
	Hostname     string        `json:"hostname"`
	IPAddress    string        `json:"ipAddress"`
	ControlPlane bool          `json:"controlPlane"`
	InstallDisk  string        `json:"installDisk"`
	Schematic    *TalSchematic `json:"schematic,omitempty"`
	// Patches are the node's own patches (where it sends its logs).
	Patches []string `json:"patches,omitempty"`
}

// TalNodeConfigs are settings for all nodes of a role.
type TalNodeConfigs struct {
	Patches []string `json:"patches,omitempty"`
}

// TalSchematic is an Image Factory schematic as talhelper spells it.
type TalSchematic struct {
	Customization TalCustomization `json:"customization"`
}

// TalCustomization holds the extensions of a schematic.
type TalCustomization struct {
	SystemExtensions TalSystemExtensions `json:"systemExtensions"`
}

// TalSystemExtensions lists official extensions.
type TalSystemExtensions struct {
	OfficialExtensions []string `json:"officialExtensions"`
}

// TalConfig returns the cluster as talhelper's config: the same nodes,
// schematic and patches the machine configs are rendered with, so that
// `talhelper genconfig` with the encrypted secrets produces the same
// configs as the deployer.
func (c *Cluster) TalConfig() (*TalConfig, error) {
	tc := &TalConfig{
		ClusterName: c.Name, TalosVersion: c.TalosVersion, KubernetesVersion: "v" + c.KubernetesVersion,
		Endpoint: c.Endpoint(), ClusterPodNets: []string{c.PodCIDR}, ClusterSvcNets: []string{c.ServiceCIDR},
	}
	sch := c.Schematic()
	for _, n := range c.nodes {
		tn := TalNode{Hostname: n.Hostname, IPAddress: n.IP.String(), ControlPlane: n.Role == ControlPlane, InstallDisk: n.InstallDisk}
		if exts := sch.Extensions(); len(exts) > 0 {
			tn.Schematic = &TalSchematic{Customization: TalCustomization{SystemExtensions: TalSystemExtensions{OfficialExtensions: exts}}}
		}
		if patch, kmsg := c.nodeLogging(n); patch != nil {
			data, err := patchBytes(patch)
			if err != nil {
				return nil, err
			}
			doc, err := encoder.NewEncoder(kmsg, encoder.WithComments(encoder.CommentsDisabled)).Encode()
			if err != nil {
				return nil, err
			}
			tn.Patches = []string{string(data), string(doc)}
		}
		tc.Nodes = append(tc.Nodes, tn)
	}
	// Control planes first, then by hostname: the order of AddNode calls
	// has no meaning.
	slices.SortStableFunc(tc.Nodes, func(a, b TalNode) int {
		if a.ControlPlane != b.ControlPlane {
			if a.ControlPlane {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Hostname, b.Hostname)
	})
	for _, r := range []struct {
		role machine.Type
		dst  **TalNodeConfigs
	}{{machine.TypeControlPlane, &tc.ControlPlane}, {machine.TypeWorker, &tc.Worker}} {
		cfgs := &TalNodeConfigs{}
		// The first patch (cluster networks) is talconfig's
		// clusterPodNets/SvcNets and cniConfig.
		patches := c.Patches(r.role)
		if cni := patches[0].ClusterConfig.ClusterNetwork.CNI; cni != nil {
			tc.CNIConfig = &TalCNIConfig{Name: cni.CNIName}
			if f := cni.CNIFlannel; f != nil {
				tc.CNIConfig.Flannel = &TalFlannel{KubeNetworkPoliciesEnabled: f.KubeNetworkPoliciesEnabled()}
			}
		}
		for _, p := range patches[1:] {
			data, err := patchBytes(p)
			if err != nil {
				return nil, err
			}
			cfgs.Patches = append(cfgs.Patches, string(data))
		}
		for _, uv := range c.UserVolumes(r.role) {
			data, err := encoder.NewEncoder(uv, encoder.WithComments(encoder.CommentsDisabled)).Encode()
			if err != nil {
				return nil, err
			}
			cfgs.Patches = append(cfgs.Patches, string(data))
		}
		if len(cfgs.Patches) > 0 {
			*r.dst = cfgs
		}
	}
	return tc, nil
}

// RenderFiles writes talconfig.yaml, controlplane.yaml and worker.yaml.
// The machine configs are rendered from PlaceholderBundle, so they are
// deterministic and hold no secret.
func (c *Cluster) RenderFiles() ([]core.File, error) {
	tc, err := c.TalConfig()
	if err != nil {
		return nil, err
	}
	data, err := yaml.Marshal(tc)
	if err != nil {
		return nil, fmt.Errorf("talconfig: %w", err)
	}
	files := []core.File{{Path: c.TalconfigPath(), Data: data}}
	for _, role := range []machine.Type{machine.TypeControlPlane, machine.TypeWorker} {
		cfg, err := c.MachineConfig(role, PlaceholderBundle())
		if err != nil {
			return nil, err
		}
		out, err := cfg.EncodeBytes(encoder.WithComments(encoder.CommentsDisabled))
		if err != nil {
			return nil, fmt.Errorf("encoding %s config: %w", role, err)
		}
		files = append(files, core.File{Path: path.Join(c.Dir, strings.ToLower(role.String())+".yaml"), Data: out})
	}
	return files, nil
}

// TalconfigPath returns the file synth writes talhelper's talconfig.yaml
// to, relative to the output root ("talos/talconfig.yaml").
func (c *Cluster) TalconfigPath() string { return path.Join(c.Dir, "talconfig.yaml") }

// ConfigPath returns the file synth writes the machine config of role to,
// relative to the output root ("talos/controlplane.yaml").
func (c *Cluster) ConfigPath(role machine.Type) string {
	return path.Join(c.Dir, strings.ToLower(role.String())+".yaml")
}
