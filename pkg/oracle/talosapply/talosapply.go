// Package talosapply says whether a Talos node applies a machine-config
// change without a reboot, the way Talos decides it: the apply-config
// API's auto mode (the deployer's) applies a change live when machined's
// Runtime.CanApplyImmediate accepts it and reboots into it otherwise
// (internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go,
// lines 255-263 at v1.13.9).
//
// CanApplyImmediate lives in machined, not in machinery, so it cannot be
// called: this package encodes it once, from
// internal/app/machined/pkg/runtime/v1alpha1/v1alpha1_runtime.go, lines
// 129-211 at v1.13.9 (the release the homelab pins). It compares only
// the v1alpha1 document; other documents (volumes, extensions' config)
// are applied by their controllers, live.
package talosapply

import (
	"fmt"
	"reflect"

	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/configdiff"
	"github.com/siderolabs/talos/pkg/machinery/config/container"
)

// TalosVersion is the Talos release whose rule this package encodes.
const TalosVersion = "v1.13.9"

// Immediate reports whether a node running current takes next without a
// reboot; if not, the diff of what needs one, as machined prints it.
func Immediate(current, next config.Provider) (bool, string, error) {
	cur, nxt := current.RawV1Alpha1(), next.RawV1Alpha1()
	if cur == nil || nxt == nil {
		return false, "", fmt.Errorf("talosapply: a config without a v1alpha1 document")
	}
	nxt = nxt.DeepCopy()
	// The sections machined lets change live (v1alpha1_runtime.go:149-200):
	// .debug, .cluster, and below .machine: ca, acceptedCAs, time,
	// certSANs, install, network, sysfs, sysctls, logging, controlplane,
	// kubelet, kernel, registries, pods, seccompProfiles, nodeAnnotations,
	// nodeLabels, nodeTaints, and features' kubernetesTalosAPIAccess,
	// kubePrism, hostDNS, imageCache and nodeAddressSortAlgorithm.
	nxt.ConfigDebug = cur.ConfigDebug
	nxt.ClusterConfig = cur.ClusterConfig
	if m, c := nxt.MachineConfig, cur.MachineConfig; m != nil && c != nil {
		m.MachineCA = c.MachineCA
		m.MachineAcceptedCAs = c.MachineAcceptedCAs
		m.MachineTime = c.MachineTime //nolint:staticcheck // as machined does
		m.MachineCertSANs = c.MachineCertSANs
		m.MachineInstall = c.MachineInstall
		m.MachineNetwork = c.MachineNetwork //nolint:staticcheck // as machined does
		m.MachineSysfs = c.MachineSysfs
		m.MachineSysctls = c.MachineSysctls
		m.MachineLogging = c.MachineLogging
		m.MachineControlPlane = c.MachineControlPlane
		m.MachineKubelet = c.MachineKubelet
		m.MachineKernel = c.MachineKernel
		m.MachineRegistries = c.MachineRegistries //nolint:staticcheck // as machined does
		m.MachinePods = c.MachinePods
		m.MachineSeccompProfiles = c.MachineSeccompProfiles
		m.MachineNodeAnnotations = c.MachineNodeAnnotations
		m.MachineNodeLabels = c.MachineNodeLabels
		m.MachineNodeTaints = c.MachineNodeTaints
		if mf, cf := m.MachineFeatures, c.MachineFeatures; mf != nil && cf != nil {
			mf.KubernetesTalosAPIAccessConfig = cf.KubernetesTalosAPIAccessConfig
			mf.KubePrismSupport = cf.KubePrismSupport
			mf.HostDNSSupport = cf.HostDNSSupport
			mf.ImageCacheSupport = cf.ImageCacheSupport
			mf.FeatureNodeAddressSortAlgorithm = cf.FeatureNodeAddressSortAlgorithm
		}
	}
	if reflect.DeepEqual(cur, nxt) {
		return true, "", nil
	}
	diff, err := configdiff.DiffConfigs(container.NewV1Alpha1(cur), container.NewV1Alpha1(nxt))
	if err != nil {
		return false, "", fmt.Errorf("talosapply: %w", err)
	}
	return false, diff, nil
}
