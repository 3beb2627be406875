package core

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Init registers a construct that is a Go struct (the Proxmox and Talos
// layers, groups of Kubernetes objects). jsii refuses embedded structs with
// named fields, so such a construct embeds constructs.Construct directly,
// keeps the *Info that Init returns, and defines Info() and ToString() on
// itself:
//
//	type Host struct {
//		constructs.Construct
//		info *core.Info
//	}
//
//	func NewHost(scope constructs.Construct, id string) *Host {
//		h := &Host{}
//		h.info = core.Init(h, scope, id)
//		return h
//	}
//
//	func (h *Host) Info() *core.Info  { return h.info }
//	func (h *Host) ToString() *string { return core.PathString(h.info) }
//
// Init registers self in the jsii tree below scope and in the Go-side tree.
// It panics when the id is taken, as constructs-go does.
func Init(self constructs.Construct, scope constructs.Construct, id string) *Info {
	info, jsiiID := Child(InfoOf(scope), id, "")
	constructs.NewConstruct_Override(self, scope, jsii.String(jsiiID))
	return info
}

// PathString returns the construct path as a *string, for ToString overrides.
func PathString(i *Info) *string {
	p := i.path
	return &p
}
