package proxmox

import (
	"cmp"
	"net/netip"
	"net/url"
	"regexp"

	"github.com/aws/constructs-go/constructs/v10"

	"github.com/funoffshore/homelab/constructs/core"
)

// HostProps configures a Host.
type HostProps struct {
	// Name is the Proxmox node name ("pve-1"). Default: the construct id.
	Name string
	// Endpoint is the API URL ("https://192.168.1.10:8006"). Required.
	Endpoint string
	// Cores is the number of CPU threads. Default: 4 (an Intel N100).
	Cores int
	// MemoryGiB is the installed RAM. Default: 16.
	MemoryGiB int
	// ReserveGiB is the RAM kept for Proxmox itself. Default: 2.
	ReserveGiB int
	// CPUOvercommit is how many vCPUs each core may carry. Default: 2.
	CPUOvercommit float64
	// Bridge is the Linux bridge VMs attach to. Default: "vmbr0".
	Bridge string
	// VMStorage is the storage pool for VM disks. Default: "local-lvm".
	VMStorage string
	// ISOStorage is the storage holding ISO images. Default: "local".
	ISOStorage string
	// TLSFingerprint pins the host's API certificate by its SHA-256
	// fingerprint ("AB:CD:...", as `pvenode cert info` shows it), for the
	// self-signed certificate a fresh Proxmox serves: the deployer then
	// trusts that certificate and no other, instead of skipping
	// verification. Empty: the system's CAs (or --proxmox-ca) verify it.
	TLSFingerprint string
}

// Host is a Proxmox VE node.
type Host struct {
	constructs.Construct
	info *core.Info

	// Props after defaults.
	Name, Endpoint, Bridge, VMStorage, ISOStorage, TLSFingerprint string
	Cores                                                         int
	MemoryMiB, ReserveMiB                                         int64
	CPUOvercommit                                                 float64

	// endpoint is Endpoint parsed once (nil with endpointErr when it is
	// no URL); endpointIP its host when that is an address.
	endpoint    *url.URL
	endpointErr error
	endpointIP  netip.Addr
	ipProblem   *core.AddrProblem
}

// AddHost adds a host to the datacenter.
func (d *Datacenter) AddHost(id string, props *HostProps) *Host {
	props = cmp.Or(props, &HostProps{})
	p := *props
	h := &Host{
		Name: p.Name, Endpoint: p.Endpoint, Bridge: p.Bridge, VMStorage: p.VMStorage, ISOStorage: p.ISOStorage, TLSFingerprint: p.TLSFingerprint,
		Cores: p.Cores, MemoryMiB: int64(p.MemoryGiB) * 1024, ReserveMiB: int64(p.ReserveGiB) * 1024, CPUOvercommit: p.CPUOvercommit,
	}
	h.Name = cmp.Or(h.Name, id)
	h.Cores = cmp.Or(h.Cores, 4)
	if p.MemoryGiB == 0 {
		h.MemoryMiB = 16 * 1024
	}
	if p.ReserveGiB == 0 {
		h.ReserveMiB = 2 * 1024
	}
	h.CPUOvercommit = cmp.Or(h.CPUOvercommit, 2)
	h.Bridge = cmp.Or(h.Bridge, "vmbr0")
	h.VMStorage = cmp.Or(h.VMStorage, "local-lvm")
	h.ISOStorage = cmp.Or(h.ISOStorage, "local")
	h.info = core.Init(h, d, id)
	d.hosts = append(d.hosts, h)
	h.info.Tree().AddValidation(h.validate)
	h.endpoint, h.endpointErr = url.Parse(h.Endpoint)
	if h.endpointErr == nil {
		h.endpointIP, h.ipProblem = core.ParseHost(h.endpoint.Hostname(), "endpoint host")
		if h.ipProblem == nil && h.endpointIP.IsValid() {
			core.Addresses.Of(h.info.Tree()).Claim(h.endpointIP, h.info.Path(), "Proxmox host "+h.Name)
		}
	}
	return h
}

// Info returns the construct's place in the tree.
func (h *Host) Info() *core.Info { return h.info }

// ToString overrides the jsii method; it returns the construct path.
func (h *Host) ToString() *string { return core.PathString(h.info) }

// UsableMemoryMiB is the RAM VMs may use: installed minus the reserve.
func (h *Host) UsableMemoryMiB() int64 { return h.MemoryMiB - h.ReserveMiB }

// VCPULimit is the number of vCPUs the host may carry.
func (h *Host) VCPULimit() int { return int(float64(h.Cores) * h.CPUOvercommit) }

func (h *Host) validate() []error {
	var errs []error
	p := h.info.Path()
	u, err := h.endpoint, h.endpointErr
	switch {
	case err == nil && u.User != nil:
		// The endpoint lands in Git (the inventory): never print it.
		errs = append(errs, core.Errorf(p, "remove the user and password from the URL: the deployer reads the API token from --proxmox-token-file or PROXMOX_TOKEN_ID/PROXMOX_TOKEN_SECRET",
			"endpoint of host %q carries credentials, which would be committed in the inventory", h.Name))
	case h.Endpoint == "" || err != nil || u.Scheme != "https" || u.Host == "":
		errs = append(errs, core.Errorf(p, `use the API URL, such as "https://192.168.1.10:8006"`, "endpoint %q is not an https URL", h.Endpoint))
	case h.ipProblem != nil:
		errs = append(errs, h.ipProblem.At(p))
	}
	if fp := h.TLSFingerprint; fp != "" && !fingerprintPattern.MatchString(fp) {
		errs = append(errs, core.Errorf(p, "copy the SHA-256 fingerprint from `pvenode cert info` (32 hex pairs separated by ':')", "TLS fingerprint %q is not a SHA-256 fingerprint", fp))
	}
	if h.ReserveMiB >= h.MemoryMiB {
		errs = append(errs, core.Errorf(p, "lower ReserveGiB below MemoryGiB", "reserve %s leaves nothing of %s for VMs", gib(h.ReserveMiB), gib(h.MemoryMiB)))
	}
	if !dnsLabel(h.Name) {
		errs = append(errs, core.Errorf(p, "use lowercase letters, digits and '-'", "host name %q is not a valid DNS label", h.Name))
	}
	return errs
}

var fingerprintPattern = regexp.MustCompile(`^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){31}$`)
