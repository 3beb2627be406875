package talos

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"

	configconfig "github.com/siderolabs/talos/pkg/machinery/config/config"
	"github.com/siderolabs/talos/pkg/machinery/config/types/runtime"
	"github.com/siderolabs/talos/pkg/machinery/config/types/v1alpha1"

	"github.com/funoffshore/homelab/constructs/core"
)

// logPort is the port on its own address a node sends its logs to (the
// first need with a LogPort that applies to the node's role), or 0.
func (c *Cluster) logPort(n *Node) uint16 {
	role := n.machineType()
	for _, need := range core.NodeNeeds.Of(c.info.Tree()).All() {
		if need.LogPort != 0 && c.appliesTo(need.Role, role) {
			return need.LogPort
		}
	}
	return 0
}

// LogEndpoint is where node n sends its Talos service logs and kernel
// log (a receiver on the node's own address), or nil when nothing
// receives them.
func (c *Cluster) LogEndpoint(n *Node) *url.URL {
	port := c.logPort(n)
	if port == 0 || !n.IP.IsValid() {
		return nil
	}
	return &url.URL{Scheme: "tcp", Host: netip.AddrPortFrom(n.IP, port).String(), Path: "/"}
}

// nodeLogging is node n's own logging documents: machine.logging sends
// every Talos service's log as JSON lines over TCP (machined's
// jsonLinesSender: one JSON object and a newline per event, the service
// in "talos-service"; v1.13.9
// internal/app/machined/pkg/runtime/logging/sender_jsonlines.go:53-77),
// with the node's name as an extra tag; a KmsgLogConfig sends the kernel
// log to the same place (the same sender without extra tags,
// internal/app/machined/pkg/controllers/runtime/kmsg_log.go:127-141).
// They are per node because each node sends to its own address. None
// when nothing receives logs.
func (c *Cluster) nodeLogging(n *Node) (*v1alpha1.Config, configconfig.Document) {
	u := c.LogEndpoint(n)
	if u == nil {
		return nil, nil
	}
	patch := &v1alpha1.Config{MachineConfig: &v1alpha1.MachineConfig{MachineLogging: &v1alpha1.LoggingConfig{
		LoggingDestinations: []v1alpha1.LoggingDestination{{
			LoggingEndpoint:  &v1alpha1.Endpoint{URL: u},
			LoggingFormat:    "json_lines",
			LoggingExtraTags: map[string]string{"node": n.Hostname},
		}},
	}}}
	kmsg := runtime.NewKmsgLogV1Alpha1()
	kmsg.MetaName = "node-log-receiver"
	kmsg.KmsgLogURL.URL = u
	return patch, kmsg
}

// withNodeLogging adds node n's logging documents to its documents.
func (c *Cluster) withNodeLogging(n *Node, docs []configconfig.Document) ([]configconfig.Document, error) {
	patch, kmsg := c.nodeLogging(n)
	if patch == nil {
		return docs, nil
	}
	docs = slices.Clone(docs)
	for i, d := range docs {
		v, ok := d.(*v1alpha1.Config)
		if !ok {
			continue
		}
		v = v.DeepCopy()
		if v.MachineConfig.MachineLogging == nil {
			v.MachineConfig.MachineLogging = &v1alpha1.LoggingConfig{}
		}
		v.MachineConfig.MachineLogging.LoggingDestinations = append(v.MachineConfig.MachineLogging.LoggingDestinations, patch.MachineConfig.MachineLogging.LoggingDestinations...)
		docs[i] = v
		return append(docs, kmsg), nil
	}
	return nil, fmt.Errorf("%s: node config: no v1alpha1 document to add logging to", n.Hostname)
}
