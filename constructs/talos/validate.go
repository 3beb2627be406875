package talos

import (
	"cmp"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"

	"github.com/siderolabs/talos/pkg/machinery/api/machine"
	"github.com/siderolabs/talos/pkg/machinery/compatibility"
	"github.com/siderolabs/talos/pkg/machinery/config"
	machinetype "github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/siderolabs/talos/pkg/machinery/config/types/block"
	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"
	"github.com/siderolabs/talos/pkg/machinery/constants"
	"github.com/siderolabs/talos/pkg/machinery/imager/quirks"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/funoffshore/homelab/constructs/core"
)

var (
	// Release tags: Talos "v1.13.9", Kubernetes "1.36.4". A tag without
	// its patch number names no image.
	talosVersionPattern      = regexp.MustCompile(`^v\d+\.\d+\.\d+$`)
	kubernetesVersionPattern = regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	sha256Pattern            = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// Minimums is what Talos documents as the least a node of a role needs.
type Minimums struct {
	MemoryMiB int64
	Cores     int
	DiskGiB   int
}

// MinimumsFor returns Talos' documented minimum requirements for role
// (control plane: 2 GiB, 2 cores, 10 GiB; worker: 1 GiB, 1 core, 10 GiB).
func MinimumsFor(role Role) Minimums {
	if role == ControlPlane {
		return Minimums{MemoryMiB: 2048, Cores: 2, DiskGiB: 10}
	}
	return Minimums{MemoryMiB: 1024, Cores: 1, DiskGiB: 10}
}

func (c *Cluster) validate() []error {
	var errs []error
	p := c.info.Path()
	add := func(path, fix, format string, args ...any) {
		errs = append(errs, core.Errorf(path, fix, format, args...))
	}
	// The cluster name is a DNS label in the kubeconfig and talosconfig
	// contexts Talos writes.
	if len(validation.IsDNS1123Label(c.Name)) > 0 {
		add(p, "use lowercase letters, digits and '-'", "cluster name %q is not a valid DNS label", c.Name)
	}
	subnet := c.subnet
	if problem := c.subnetProblem; problem != nil {
		add(p, problem.Fix, "%s", problem.Problem)
	}
	var cidrs []netip.Prefix
	for _, cidr := range []struct {
		name, v string
		pr      netip.Prefix
		problem *core.AddrProblem
	}{{"pod CIDR", c.PodCIDR, c.podNet, c.podNetProblem}, {"service CIDR", c.ServiceCIDR, c.serviceNet, c.serviceNetProblem}} {
		switch {
		case cidr.problem != nil:
			add(p, cidr.problem.Fix, "%s", cidr.problem.Problem)
		case subnet.IsValid() && cidr.pr.Overlaps(subnet):
			add(p, "pick a range that does not overlap the node subnet", "%s %s overlaps the node subnet %s", cidr.name, cidr.v, subnet)
		}
		cidrs = append(cidrs, cidr.pr)
	}
	if svc := cidrs[1]; svc.IsValid() {
		// Talos takes the service range's 1st address for the API
		// server's Service and its 10th for CoreDNS; machinery computes
		// both (ClusterConfig.APIServiceIPs, DNSServiceIPs in
		// v1alpha1_clusterconfig.go, v1.13.9), so ask it rather than
		// count here. A range without them leaves the cluster without DNS.
		cc := &v1alpha1.ClusterConfig{ClusterNetwork: &v1alpha1.ClusterNetworkConfig{ServiceSubnet: []string{svc.String()}}}
		dns, err := cc.DNSServiceIPs()
		if err != nil || len(dns) == 0 || !svc.Contains(dns[0]) {
			add(p, `use a service range of at least a /28, such as the default "10.96.0.0/12"`, "service CIDR %s is too small: Talos gives CoreDNS the range's 10th address, which it does not have", svc)
		}
	}
	if cidrs[0].IsValid() && cidrs[1].IsValid() && cidrs[0].Overlaps(cidrs[1]) {
		add(p, `use ranges apart, such as the defaults "10.244.0.0/16" and "10.96.0.0/12"`, "pod CIDR %s overlaps service CIDR %s", cidrs[0], cidrs[1])
	}
	switch _, err := config.ParseContractFromVersion(c.TalosVersion); {
	case err != nil || !talosVersionPattern.MatchString(c.TalosVersion):
		add(p, fmt.Sprintf("use a full Talos release tag such as %q", DefaultTalosVersion), "Talos version %q is no release tag (vMAJOR.MINOR.PATCH)", c.TalosVersion)
	case !kubernetesVersionPattern.MatchString(c.KubernetesVersion):
		add(p, fmt.Sprintf("use a full Kubernetes release such as %q: image tags name a patch release", defaultK8s()), "Kubernetes version %q is no release (MAJOR.MINOR.PATCH)", c.KubernetesVersion)
	default:
		if err := kubernetesSupported(c.KubernetesVersion, c.TalosVersion); err != nil {
			add(p, "pick a Kubernetes version the Talos release supports (default: "+defaultK8s()+")", "Kubernetes %s: %v", c.KubernetesVersion, err)
		}
	}
	switch cps := len(c.ControlPlanes()); {
	case cps == 0:
		add(p, "add a node with Role ControlPlane", "the cluster has no control-plane node")
	case cps%2 == 0 && !c.props.AllowEvenControlPlanes:
		add(p, fmt.Sprintf("use %d or %d control planes (or set ClusterProps.AllowEvenControlPlanes during a migration)", cps-1, cps+1),
			"%d control planes make an etcd of %d members, which survives no more failures than %d and stops when %d are lost", cps, cps, cps-1, cps/2)
	}
	if sum := c.props.ISOSHA256; sum != "" && !sha256Pattern.MatchString(sum) {
		add(p, "use the 64 hex digits `sha256sum` prints for the ISO", "ISO checksum %q is not a SHA-256", sum)
	}
	vip, vipProblem := c.vip, c.vipProblem
	if c.props.VIP != "" {
		if vipProblem != nil {
			add(p, vipProblem.Fix, "%s", vipProblem.Problem)
		} else if problem := core.CheckHostAddress(vip, subnet, "VIP"); problem != "" {
			add(p, "pick a free address inside the node subnet", "%s", problem)
		}
	}
	if c.props.Endpoint != "" {
		errs = append(errs, c.validateEndpoint()...)
	}
	if vip.IsValid() && c.endpointHost() == vip.String() && len(errs) == 0 {
		errs = append(errs, c.vipAssigned(vip)...)
	}
	errs = append(errs, c.validateCapacity()...)
	errs = append(errs, c.userVolumeConflicts()...)
	errs = append(errs, c.userVolumeSizes()...)
	names := map[string]string{}
	for _, n := range c.nodes {
		np := n.info.Path()
		if n.rawIP == "" {
			add(np, "set NodeProps.IP to an address inside the node subnet", "the node has no IP")
		} else if n.ipProblem != nil {
			add(np, n.ipProblem.Fix, "%s", n.ipProblem.Problem)
		} else if problem := core.CheckHostAddress(n.IP, subnet, "IP"); problem != "" {
			add(np, "use an address inside "+subnet.String()+" that is neither its network nor its broadcast address, or change the cluster subnet", "%s", problem)
		}
		// The hostname becomes the Node's name and its
		// kubernetes.io/hostname label: checked as the API server checks
		// a label-sized name.
		if len(validation.IsDNS1123Label(n.Hostname)) > 0 {
			add(np, "use lowercase letters, digits and '-', at most 63", "hostname %q is not a valid DNS label", n.Hostname)
		}
		if first, ok := names[n.Hostname]; ok {
			add(np, "give every node its own hostname", "hostname %q is already used by %q", n.Hostname, first)
		}
		names[n.Hostname] = np
		if n.Role != ControlPlane && n.Role != Worker {
			add(np, "use talos.ControlPlane or talos.Worker", "role %q is unknown", n.Role)
		}
		if n.Machine == nil {
			continue
		}
		if problem, fix := n.Machine.InstallDiskProblem(n.InstallDisk); problem != "" {
			add(np, fix, "%s", problem)
		}
		if n.Machine.Info().Tree() != c.info.Tree() {
			add(np, "use a VM of this homelab", "VM %q is not in this homelab", n.Machine.MachineName())
		}
		errs = append(errs, c.validateMinimums(n)...)
	}
	return errs
}

// validateMinimums refuses a VM below Talos' documented minimums for the
// node's role, or with a system disk too small for Talos' partitions and
// the user volumes the tree puts on it.
func (c *Cluster) validateMinimums(n *Node) []error {
	var errs []error
	np := n.info.Path()
	m := MinimumsFor(n.Role)
	size, name := n.Machine.Size(), n.Machine.MachineName()
	if size.MemoryMiB < m.MemoryMiB || size.Cores < m.Cores {
		errs = append(errs, core.Errorf(np, fmt.Sprintf("give the VM at least %d cores and %d GiB of RAM", m.Cores, m.MemoryMiB/1024),
			"a Talos %s needs at least %d cores and %d GiB of RAM but VM %q has %d cores and %d MiB", n.Role, m.Cores, m.MemoryMiB/1024, name, size.Cores, size.MemoryMiB))
	}
	sizes := quirks.New(c.TalosVersion).PartitionSizes()
	system := sizes.UKIEFISize() + sizes.METASize() + sizes.StateSize() + sizes.EphemeralMinSize()
	total := system
	var parts []string
	role := machinetype.TypeWorker
	if n.Role == ControlPlane {
		role = machinetype.TypeControlPlane
	}
	seen := map[string]bool{}
	for _, need := range core.NodeNeeds.Of(c.info.Tree()).All() {
		if !c.appliesTo(need.Role, role) {
			continue
		}
		for _, uv := range need.UserVolumes {
			var bs block.ByteSize
			if uv.DiskGiB > 0 || seen[uv.Name] || bs.UnmarshalText([]byte(uv.MinSize)) != nil || bs.Value() == 0 {
				continue // on a disk of its own, counted, or refused elsewhere
			}
			seen[uv.Name] = true
			total += bs.Value()
			parts = append(parts, fmt.Sprintf("user volume %s %s", uv.Name, gibString(bs.Value())))
		}
	}
	have := uint64(size.DiskGiB) << 30
	if size.DiskGiB < m.DiskGiB || have < total {
		want := max(uint64(m.DiskGiB)<<30, total)
		errs = append(errs, core.Errorf(np, fmt.Sprintf("give VM %q a disk of at least %s", name, gibString(want)),
			"the %d GiB system disk cannot hold Talos (EFI, META, STATE and a 2 GiB EPHEMERAL: %s; documented minimum %d GiB)%s",
			size.DiskGiB, gibString(system), m.DiskGiB, prefixed(" plus ", strings.Join(parts, ", "))))
	}
	return errs
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func gibString(b uint64) string {
	const gib = 1 << 30
	return fmt.Sprintf("%.1f GiB", float64(b)/gib)
}

// userVolumeSizes refuses user volume sizes Talos cannot parse, and user
// volume documents machinery's own validation refuses (names, say).
func (c *Cluster) userVolumeSizes() []error {
	var errs []error
	for _, need := range core.NodeNeeds.Of(c.info.Tree()).All() {
		for _, uv := range need.UserVolumes {
			if _, err := userVolumeDoc(uv).Validate(nil); err != nil {
				errs = append(errs, core.Errorf(need.Source, "use at most 34 letters, digits and '-'", "user volume %q: Talos refuses it: %s", uv.Name, strings.ReplaceAll(err.Error(), "\n", "; ")))
			}
			var bs block.ByteSize
			if err := bs.UnmarshalText([]byte(uv.MinSize)); err != nil {
				errs = append(errs, core.Errorf(need.Source, `use a size such as "10GiB"`, "user volume %q: min size %q does not parse: %v", uv.Name, uv.MinSize, err))
			} else if err := fitsOwnDisk(uv, bs.Value()); err != "" {
				errs = append(errs, core.Errorf(need.Source, fmt.Sprintf("give the volume a disk of at least %d GiB (DiskGiB) or a smaller min size", ownDiskFor(bs.Value())),
					"user volume %q: %s", uv.Name, err))
			}
			var sz block.Size
			if err := sz.UnmarshalText([]byte(uv.MaxSize)); err != nil {
				errs = append(errs, core.Errorf(need.Source, `use a size such as "50GiB" or "80%"`, "user volume %q: max size %q does not parse: %v", uv.Name, uv.MaxSize, err))
			}
		}
	}
	return errs
}

// validateEndpoint checks the endpoint is an https URL with a port,
// answered by a control plane or the VIP.
func (c *Cluster) validateEndpoint() []error {
	p := c.info.Path()
	u := c.endpoint
	if u == nil || u.Scheme != "https" || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
		return []error{core.Errorf(p, `use "https://<control-plane IP or VIP>:6443"`, "endpoint %q is not an https URL with a host and port", c.props.Endpoint)}
	}
	if !c.endpointIsControlPlane() {
		return []error{core.Errorf(p, "point the endpoint at a control-plane IP, or set VIP", "endpoint %q is neither a control-plane node IP nor the VIP", c.props.Endpoint)}
	}
	return nil
}

// vipAssigned resolves the control-plane config the way machinery does and
// refuses an endpoint on the VIP when no interface of it announces the
// VIP (a patch replaced the interfaces, say): nothing would answer there.
func (c *Cluster) vipAssigned(vip netip.Addr) []error {
	cfg, err := c.MachineConfig(machinetype.TypeControlPlane, PlaceholderBundle())
	if err != nil {
		return []error{core.Errorf(c.info.Path(), "fix the patches", "the control-plane config does not render: %v", err)}
	}
	announced := false
	var others []string
	for _, d := range cfg.Machine().Network().Devices() {
		switch v := d.VIPConfig(); {
		case v == nil:
		case v.IP() == vip.String():
			announced = true
		default:
			others = append(others, v.IP())
		}
	}
	switch {
	case len(others) > 0:
		return []error{core.Errorf(c.info.Path(), "remove the other VIP from the patches, or set ClusterProps.VIP to it",
			"the endpoint is the VIP %s but the control-plane config also announces %s on the same NIC: Talos would run two VIP elections", vip, strings.Join(others, ", "))}
	case !announced:
		return []error{core.Errorf(c.info.Path(), "keep the interface the cluster adds for the VIP, or announce it yourself with machine.network.interfaces[].vip",
			"the endpoint is the VIP %s but no interface of the control-plane config announces it", vip)}
	}
	return nil
}

func (c *Cluster) endpointHost() string {
	if u, err := url.Parse(c.Endpoint()); err == nil {
		return u.Hostname()
	}
	return ""
}

func (c *Cluster) endpointIsControlPlane() bool {
	host := c.endpointHost()
	if c.vip.IsValid() && host == c.vip.String() {
		return true
	}
	for _, n := range c.ControlPlanes() {
		if n.IP.String() == host || n.Hostname == host {
			return true
		}
	}
	return false
}

func kubernetesSupported(k8s, talos string) error {
	kv, err := compatibility.ParseKubernetesVersion(k8s)
	if err != nil {
		return err
	}
	tv, err := compatibility.ParseTalosVersion(&machine.VersionInfo{Tag: talos})
	if err != nil {
		return err
	}
	return kv.SupportedWith(tv)
}

func defaultK8s() string { return constants.DefaultKubernetesVersion }

// Talos provisions a user volume on an empty disk only when the disk holds
// its minimum size plus a GPT and protective MBR of 67 sectors (v1.13.9
// internal/app/machined/pkg/controllers/block/internal/volumes/disk.go:57-60),
// and gives a volume without a minimum 100 MiB
// (volumeconfig/user_volumes.go:23,106). The disks the OS layer asks
// Proxmox for have QEMU's default 512-byte logical sectors.
const (
	partitionTableBytes      = 67 * 512
	defaultUserVolumeMinSize = 100 << 20
)

// fitsOwnDisk says why a user volume with a disk of its own cannot be
// provisioned there, or "" when it can (or has no disk of its own).
func fitsOwnDisk(uv core.UserVolume, minSize uint64) string {
	if uv.DiskGiB <= 0 {
		return ""
	}
	minSize = cmp.Or(minSize, defaultUserVolumeMinSize)
	if disk := uint64(uv.DiskGiB) << 30; minSize+partitionTableBytes > disk {
		return fmt.Sprintf("min size %s does not fit its %d GiB disk: Talos provisions it only on a disk of the min size plus %d bytes of partition tables",
			cmp.Or(uv.MinSize, "(default 100MiB)"), uv.DiskGiB, partitionTableBytes)
	}
	return ""
}

// ownDiskFor is the smallest whole-GiB disk a user volume of minSize fits.
func ownDiskFor(minSize uint64) uint64 {
	return (max(minSize, defaultUserVolumeMinSize) + partitionTableBytes + 1<<30 - 1) >> 30
}
