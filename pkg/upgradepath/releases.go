package upgradepath

import "github.com/blang/semver/v4"

// TalosLine is one minor release line of Talos, as the project knows it.
type TalosLine struct {
	// Latest is the newest patch release of the line the project knows;
	// every patch release from .0 to it exists (Talos numbers them
	// without gaps).
	Latest string
	// MinimumHostUpgrade is the oldest Talos release the line's installer
	// upgrades from (machinery compatibility/talos1N
	// MinimumHostUpgradeVersion); DeniedHostUpgrade the releases it
	// refuses (DeniedHostUpgradeVersions).
	MinimumHostUpgrade string
	DeniedHostUpgrade  []string
	// MinimumKubernetes and MaximumKubernetes bound the Kubernetes
	// versions the line runs (compatibility/talos1N
	// MinimumKubernetesVersion and MaximumKubernetesVersion; the maximum
	// is exclusive, as machinery compares it: 1.36.99 admits every
	// 1.36 patch release the project will meet).
	MinimumKubernetes, MaximumKubernetes string
}

// Talos lists the Talos lines the planner plans through, oldest first.
// Each line's compatibility data is machinery's at that line's release;
// TestInStepWithMachinery checks every line the pinned machinery knows
// against machinery's own compatibility checks, and the newer lines
// against the constants in machinery's source at their release (fetched
// from the Go module proxy). Latest patches from the Talos repository's
// tags (v1.10.9, v1.11.6, v1.12.11, v1.13.9) and the module proxy
// (github.com/siderolabs/talos/pkg/machinery v1.14.1, 2026-09-15).
//
// To add a release: add or update its line here, then run the package's
// tests; they say which value disagrees with machinery's.
var Talos = []TalosLine{
	{Latest: "v1.10.9", MinimumHostUpgrade: "1.8.0", MinimumKubernetes: "1.28.0", MaximumKubernetes: "1.33.99"},
	{Latest: "v1.11.6", MinimumHostUpgrade: "1.9.0", MinimumKubernetes: "1.29.0", MaximumKubernetes: "1.34.99"},
	{Latest: "v1.12.11", MinimumHostUpgrade: "1.10.0", MinimumKubernetes: "1.30.0", MaximumKubernetes: "1.35.99"},
	{Latest: "v1.13.9", MinimumHostUpgrade: "1.11.0", MinimumKubernetes: "1.31.0", MaximumKubernetes: "1.36.99"},
	{Latest: "v1.14.1", MinimumHostUpgrade: "1.12.0", MinimumKubernetes: "1.32.0", MaximumKubernetes: "1.37.99"},
}

// Kubernetes lists, per Kubernetes minor, the newest patch release the
// project knows (k8s.io/kubernetes on the Go module proxy); every patch
// from .0 to it exists. A Kubernetes hop to an intermediate minor goes
// to its entry here.
var Kubernetes = []string{
	"1.28.15", "1.29.15", "1.30.14", "1.31.14", "1.32.13", "1.33.13", "1.34.4", "1.35.4", "1.36.5", "1.37.2",
}

// line returns the Talos line of minor m, or nil.
func line(m uint64) *TalosLine {
	for i := range Talos {
		if v := semver.MustParse(Talos[i].Latest[1:]); v.Minor == m && v.Major == 1 {
			return &Talos[i]
		}
	}
	return nil
}

// kubernetesLatest returns the newest known patch of Kubernetes minor
// m, or false.
func kubernetesLatest(m uint64) (semver.Version, bool) {
	for _, s := range Kubernetes {
		if v := semver.MustParse(s); v.Major == 1 && v.Minor == m {
			return v, true
		}
	}
	return semver.Version{}, false
}
