package netpol_test

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"

	"github.com/funoffshore/homelab/pkg/oracle/netpol"
)

// The API server on a control plane calls an admission webhook on a
// worker whose namespace admits only the node subnet: the call arrives
// from the control plane's flannel.1 address and is dropped.
func Example() {
	c := cluster(false)
	e, _ := netpol.New(c)
	var operator *corev1.Pod
	for _, p := range c.Pods {
		if p.Name == "operator" {
			operator = p
		}
	}
	r, _ := e.Connect(netpol.Conn{From: netpol.HostEndpoint("cp", 65534), To: netpol.PodEndpoint(operator), Port: 10250, ViaService: true})
	fmt.Println(r.Allowed)
	fmt.Println(r.Dropped)
	fmt.Println(e.Managed("w", netip.MustParseAddr("10.244.1.5")))
	// Output:
	// false
	// request 10.244.0.0:40000 -> 10.244.1.5:10250 dropped at w postrouting: the engine's verdict (kube-network-policies v1.1.0)
	// true
}
