package core

import "slices"

// Records is a list of typed declarations a tree collects from its
// constructs, in declaration order.
type Records[T any] struct{ items []T }

// Add records items.
func (r *Records[T]) Add(items ...T) { r.items = append(r.items, items...) }

// All returns the records in the order they were added.
func (r *Records[T]) All() []T { return slices.Clone(r.items) }

func newRecords[T any]() *Records[T] { return &Records[T]{} }

// The declarations the layers exchange through the tree, so that none
// imports another: each is a facet holding the tree's records
// (core.NodeNeeds.Of(tree).Add(need), core.NodeNeeds.Of(tree).All()).
var (
	// NodeNeeds are what constructs need from the nodes (extensions,
	// mounts, volumes, sysctls, enforced NetworkPolicies).
	NodeNeeds = NewFacet("core/node-needs", newRecords[NodeNeed])
	// Workloads are the pods constructs run, for the capacity check.
	Workloads = NewFacet("core/workloads", newRecords[Workload])
	// HostNetwork are the host-network pods parts run (from charts,
	// or Talos' own), which no NetworkPolicy may select.
	HostNetwork = NewFacet("core/host-network", newRecords[HostNetworkPods])
)
