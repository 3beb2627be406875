package core

import (
	"fmt"
	"net/netip"
	"slices"
)

// AddressClaim is an IP address a construct puts on the network: a node's
// address, a hypervisor's, a VIP, a file server's.
type AddressClaim struct {
	Addr netip.Addr
	// Source is the claiming construct's path; What says what answers on
	// the address ("node talos-w-1", "Proxmox host pve-1", "the VIP").
	Source, What string
}

// Addresses are the IP addresses a tree's constructs put on the network
// (core.Addresses.Of(tree).Claim(addr, path, what)).
var Addresses = NewTreeFacet("core/addresses", func(t *Tree) *AddressBook { return &AddressBook{t: t} })

// AddressBook holds a tree's address claims.
type AddressBook struct {
	t      *Tree
	claims []AddressClaim
}

// Claim records that the construct at source uses addr on the network.
// Two claims of one address fail validation: two machines answering on
// one IP break both.
func (b *AddressBook) Claim(addr netip.Addr, source, what string) {
	if !addr.IsValid() {
		return
	}
	b.claims = append(b.claims, AddressClaim{Addr: addr.Unmap(), Source: source, What: what})
	b.t.AddCheck("core/addresses", b.check)
}

// All returns every claimed address in claim order.
func (b *AddressBook) All() []AddressClaim { return slices.Clone(b.claims) }

func (b *AddressBook) check() []error {
	first := map[netip.Addr]AddressClaim{}
	var errs []error
	for _, c := range b.claims {
		f, ok := first[c.Addr]
		if !ok {
			first[c.Addr] = c
			continue
		}
		errs = append(errs, Errorf(c.Source, "give every node, host, VIP and server its own address",
			"IP %s (%s) is already used by %q (%s)", c.Addr, c.What, f.Source, f.What))
	}
	return errs
}

// CheckHostAddress returns a problem when addr cannot be a host in subnet:
// outside it, or its network or broadcast address. what names the value
// ("IP", "VIP") for the message.
func CheckHostAddress(addr netip.Addr, subnet netip.Prefix, what string) string {
	if !subnet.IsValid() || !addr.IsValid() {
		return ""
	}
	if !subnet.Contains(addr) {
		return fmt.Sprintf("%s %s is outside the node subnet %s", what, addr, subnet)
	}
	if subnet.Bits() >= subnet.Addr().BitLen()-1 {
		return "" // /31 and /32 have no network or broadcast address
	}
	if addr == subnet.Masked().Addr() {
		return fmt.Sprintf("%s %s is the network address of %s", what, addr, subnet)
	}
	if addr.Is4() && addr == broadcast(subnet) {
		return fmt.Sprintf("%s %s is the broadcast address of %s", what, addr, subnet)
	}
	return ""
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
