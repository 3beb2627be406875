package talos

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/siderolabs/talos/pkg/machinery/api/machine"
	"github.com/siderolabs/talos/pkg/machinery/compatibility"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/constants"

	"github.com/funoffshore/homelab/constructs/core"
)

var hostnamePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func (c *Cluster) validate() []error {
	var errs []error
	p := c.info.Path()
	add := func(path, fix, format string, args ...any) {
		errs = append(errs, core.Errorf(path, fix, format, args...))
	}
	if !hostnamePattern.MatchString(c.Name) {
		add(p, "use lowercase letters, digits and '-'", "cluster name %q is not a valid DNS label", c.Name)
	}
	subnet, err := netip.ParsePrefix(c.props.Subnet)
	if err != nil {
		add(p, `set Subnet to the node network, such as "192.168.1.0/24"`, "subnet %q is not a CIDR", c.props.Subnet)
	}
	for _, cidr := range []struct{ name, v string }{{"pod CIDR", c.PodCIDR}, {"service CIDR", c.ServiceCIDR}} {
		pr, err := netip.ParsePrefix(cidr.v)
		if err != nil {
			add(p, "use a CIDR such as \"10.244.0.0/16\"", "%s %q is not a CIDR", cidr.name, cidr.v)
		} else if subnet.IsValid() && pr.Overlaps(subnet) {
			add(p, "pick a range that does not overlap the node subnet", "%s %s overlaps the node subnet %s", cidr.name, cidr.v, subnet)
		}
	}
	if _, err := config.ParseContractFromVersion(c.TalosVersion); err != nil {
		add(p, fmt.Sprintf("use a Talos version such as %q", DefaultTalosVersion), "Talos version %q does not parse: %v", c.TalosVersion, err)
	} else if err := kubernetesSupported(c.KubernetesVersion, c.TalosVersion); err != nil {
		add(p, "pick a Kubernetes version the Talos release supports (default: "+defaultK8s()+")", "Kubernetes %s: %v", c.KubernetesVersion, err)
	}
	if len(c.ControlPlanes()) == 0 {
		add(p, "add a node with Role ControlPlane", "the cluster has no control-plane node")
	}
	if c.props.VIP != "" {
		vip, err := netip.ParseAddr(c.props.VIP)
		switch {
		case err != nil:
			add(p, "use an IPv4 address", "VIP %q is not an IP address", c.props.VIP)
		case subnet.IsValid() && !subnet.Contains(vip):
			add(p, "pick a free address inside the node subnet", "VIP %s is outside the node subnet %s", vip, subnet)
		}
	}
	if c.props.Endpoint != "" && !c.endpointIsControlPlane() {
		add(p, "point the endpoint at a control-plane IP, or set VIP", "endpoint %q is neither a control-plane node IP nor the VIP", c.props.Endpoint)
	}
	errs = append(errs, c.validateCapacity()...)
	errs = append(errs, c.userVolumeConflicts()...)
	ips, names := map[netip.Addr]string{}, map[string]string{}
	for _, n := range c.nodes {
		np := n.info.Path()
		if !n.IP.IsValid() {
			add(np, "set NodeProps.IP to an address inside the node subnet", "IP %q is not an IP address", n.rawIP)
		} else {
			if subnet.IsValid() && !subnet.Contains(n.IP) {
				add(np, "use an address inside "+subnet.String()+" or change the cluster subnet", "IP %s is outside the node subnet %s", n.IP, subnet)
			}
			if first, ok := ips[n.IP]; ok {
				add(np, "give every node its own IP", "IP %s is already used by %q", n.IP, first)
			}
			ips[n.IP] = np
		}
		if c.props.VIP != "" && n.IP.String() == c.props.VIP {
			add(np, "keep the VIP free for the control plane", "IP %s is the cluster VIP", n.IP)
		}
		if !hostnamePattern.MatchString(n.Hostname) {
			add(np, "use lowercase letters, digits and '-', at most 63", "hostname %q is not a valid DNS label", n.Hostname)
		}
		if first, ok := names[n.Hostname]; ok {
			add(np, "give every node its own hostname", "hostname %q is already used by %q", n.Hostname, first)
		}
		names[n.Hostname] = np
		if n.Role != ControlPlane && n.Role != Worker {
			add(np, "use talos.ControlPlane or talos.Worker", "role %q is unknown", n.Role)
		}
		if n.VM != nil && !strings.HasPrefix(n.InstallDisk, "/dev/sd") {
			// Proxmox VMs here use virtio-scsi-single: disks are /dev/sdX.
			add(np, `use "/dev/sda": the VM's disk is on virtio-scsi`, "install disk %q does not match the VM's disk bus (scsi)", n.InstallDisk)
		}
		if n.VM != nil && n.VM.Info().Tree() != c.info.Tree() {
			add(np, "use a VM of this homelab", "VM %q is not in this homelab", n.VM.Name)
		}
	}
	return errs
}

func (c *Cluster) endpointIsControlPlane() bool {
	host := strings.TrimPrefix(c.props.Endpoint, "https://")
	host = strings.TrimSuffix(host, ":6443")
	if host == c.props.VIP && host != "" {
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
