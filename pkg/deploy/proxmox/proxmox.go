// Package proxmox is the deployer's hypervisor layer: it reads the live
// state of the Proxmox hosts, plans what to change so the VMs match the
// inventory (the hypervisor layer's desired state as rendered into
// cluster/proxmox/inventory.yaml: the Talos ISO on each host, each VM
// created or updated with its exact config, then started), and carries the
// plan out, checking every task's exit status (go-proxmox's Task.Wait
// returns nil on a failed task). VMs the inventory does not know are
// reported, never deleted unless they carry this homelab's tag and Prune
// is set.
//
// plan.go reads and compares (NewPlan), apply.go carries a plan out,
// transport.go holds the API client: pinned certificates, retries of
// transient failures; trust.go decides which certificate a host may
// present, delivery.go hands a VM its first machine config.
package proxmox

import (
	"cmp"
	"net/http"
	"strings"
	"time"

	gp "github.com/luthermonson/go-proxmox"

	model "github.com/funoffshore/homelab/constructs/proxmox"
	"github.com/funoffshore/homelab/pkg/deploy/actionlog"
)

// Privileges are what deploy needs of the Proxmox API token, granted on
// "/": a role with exactly these (see docs/security.md for the pveum
// commands). Each is required by the API schema's permission check, or
// qemu-server's per-option check, of a call deploy makes; a test runs the
// whole deploy with them, and without each one in turn.
var Privileges = []string{
	"Datastore.Allocate",         // delete a node's config ISO
	"Datastore.AllocateSpace",    // create VM disks; list storage content
	"Datastore.AllocateTemplate", // download the boot ISO, upload a config ISO
	"SDN.Use",                    // attach the VMs to their bridge
	"Sys.AccessNetwork",          // download-url fetches from the network
	"VM.Allocate",                // create, and with --prune destroy, VMs
	"VM.Audit",                   // read VMs, their config and status
	"VM.Config.CDROM",            // the boot ISO and config ISO drives
	"VM.Config.CPU",              // cores, cpu, sockets
	"VM.Config.Disk",             // disks, boot order
	"VM.Config.HWType",           // scsihw, smbios1 (the UUID)
	"VM.Config.Memory",           // memory, balloon
	"VM.Config.Network",          // net0
	"VM.Config.Options",          // name, onboot, agent, ostype, tags
	"VM.PowerMgmt",               // start, stop
}

// Token is a Proxmox API token.
type Token struct {
	// ID is "user@realm!name"; Secret the token's UUID secret.
	ID, Secret string
}

// Options configure Plan.
type Options struct {
	// Token authenticates every call.
	Token Token
	// HTTPClient is used for the API (tests pass the simulator's client).
	HTTPClient *http.Client
	// Concurrency bounds parallel VM changes. Default: 2.
	Concurrency int
	// Retries of a call that failed transiently (502, 503, 504, network).
	// Default: 3.
	Retries int
	// Backoff before the first retry; doubles each time. Default: 200ms.
	Backoff time.Duration
	// TaskTimeout bounds each task. Default: 10m.
	TaskTimeout time.Duration
	// Log records every action.
	Log *actionlog.Log
	// Endpoint returns a host's API URL. Default: the host's Endpoint.
	Endpoint func(h model.InventoryHost) string
	// Prune plans the removal (stop, then destroy with its disks) of VMs
	// the model does not know that carry this homelab's tag. Default:
	// off: they are only reported. VMs without the tag are never removed.
	Prune bool
	// Owner names the homelab in the tag it puts on its VMs
	// ("homelab-<owner>"), such as the cluster name. Default: "homelab".
	Owner string
	// Fingerprints pins, by host name, the SHA-256 fingerprint of the
	// certificate a host without a TLSFingerprint in the model presents
	// (see Trust).
	Fingerprints map[string]string
	// Adopt lists VMIDs of existing VMs without this homelab's tag that
	// the deployer may take over (reconfigure, tag and start). Any other
	// untagged or foreign-tagged VM holding a model VMID is refused.
	Adopt []int
}

// OwnerTag is the Proxmox tag that marks the VMs of owner.
func OwnerTag(owner string) string {
	tag := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '-'
	}, cmp.Or(owner, "homelab"))
	return tagPrefix + tag
}

// tagPrefix starts the tag of every homelab's VMs; a VM tagged with
// another homelab's tag is foreign.
const tagPrefix = "homelab-"

type deployer struct {
	opts    Options
	tag     string
	notes   []string
	clients map[string]*gp.Client
}

func (o Options) withDefaults() Options {
	if o.Concurrency == 0 {
		o.Concurrency = 2
	}
	if o.Retries == 0 {
		o.Retries = 3
	}
	if o.Backoff == 0 {
		o.Backoff = 200 * time.Millisecond
	}
	if o.TaskTimeout == 0 {
		o.TaskTimeout = 10 * time.Minute
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	// go-proxmox decodes a 503's body as JSON and loses the status; see
	// gateway errors at the transport instead, where they can be retried.
	c := *o.HTTPClient
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = transientTransport{base: base}
	o.HTTPClient = &c
	return o
}
