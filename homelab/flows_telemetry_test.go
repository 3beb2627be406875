package homelab_test

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/grafana/alloy/syntax/ast"
	"github.com/grafana/alloy/syntax/parser"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/funoffshore/homelab/homelab"
)

// alloyAttrs returns the string values of attribute attr in the blocks
// named path (a component's name, then nested blocks: "loki.write",
// "endpoint") of an Alloy configuration, as Alloy's own parser reads it.
func alloyAttrs(t *testing.T, config []byte, attr string, path ...string) []string {
	t.Helper()
	f, err := parser.ParseFile("config.alloy", config)
	require.NoError(t, err, "Alloy's parser refuses the collector's configuration")
	var out []string
	var walk func(body ast.Body, path []string)
	walk = func(body ast.Body, path []string) {
		for _, st := range body {
			switch s := st.(type) {
			case *ast.BlockStmt:
				if len(path) > 0 && strings.Join(s.Name, ".") == path[0] {
					walk(s.Body, path[1:])
				}
			case *ast.AttributeStmt:
				if len(path) == 0 && s.Name.Name == attr {
					if lit, ok := s.Value.(*ast.LiteralExpr); ok {
						v, err := strconv.Unquote(lit.Value)
						require.NoError(t, err)
						out = append(out, v)
					}
				}
			}
		}
	}
	walk(f.Body, path)
	return out
}

// serviceTarget resolves a client's address (a URL or host:port) the way
// the cluster DNS and kube-proxy do: <service>.<namespace>.svc... to the
// Service's pods and the container port behind the Service port. Names
// the tree renders no Service for fail the test.
func serviceTarget(t *testing.T, c *cluster, addr string) (endpoint, int32) {
	t.Helper()
	hostport := addr
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		hostport = u.Host
	}
	host, portStr, err := net.SplitHostPort(hostport)
	require.NoError(t, err, "address %q", addr)
	parts := strings.Split(host, ".")
	require.GreaterOrEqual(t, len(parts), 3, "%q names no Service (<name>.<namespace>.svc)", host)
	require.Equal(t, "svc", parts[2], "%q names no Service", host)
	name, ns := parts[0], parts[1]
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	// The Service prometheus-operator makes for every Alertmanager
	// (pkg/alertmanager/operator.go: "alertmanager-operated", port web
	// 9093, selecting the Alertmanager pods).
	if name == "alertmanager-operated" {
		require.Equal(t, 9093, port)
		return endpoint{Namespace: ns, Pods: map[string]string{"app.kubernetes.io/name": "alertmanager"}}, 9093
	}
	obj := c.find("Service", ns, name)
	require.NotNil(t, obj, "%s: the tree renders no Service %s/%s", addr, ns, name)
	var svc corev1.Service
	decodeInto(t, obj, &svc)
	for _, sp := range svc.Spec.Ports {
		if int(sp.Port) != port {
			continue
		}
		target := sp.TargetPort.String()
		if sp.TargetPort == (intstr.IntOrString{}) {
			target = strconv.Itoa(port)
		}
		ports := c.containerPorts(t, ns, target, svc.Spec.Selector)
		require.NotEmpty(t, ports, "%s: Service %s/%s port %d targets %q, which no pod it selects has", addr, ns, name, port, target)
		return endpoint{Namespace: ns, Pods: svc.Spec.Selector}, ports[0]
	}
	t.Fatalf("%s: Service %s/%s has no port %d", addr, ns, name, port)
	return endpoint{}, 0
}

// configMapData returns key of the ConfigMap ns/name the tree or its
// charts render.
func configMapData(t *testing.T, c *cluster, ns, name, key string) string {
	t.Helper()
	obj := c.find("ConfigMap", ns, name)
	require.NotNil(t, obj, "no ConfigMap %s/%s", ns, name)
	var cm corev1.ConfigMap
	decodeInto(t, obj, &cm)
	v, ok := cm.Data[key]
	require.True(t, ok, "ConfigMap %s/%s has no %q", ns, name, key)
	return v
}

// telemetryFlows are the connections of the logs and traces, each read
// from the configuration the component runs (the collector's Alloy
// configuration, Grafana's provisioned datasources, Loki's ruler, the
// ingress controller's OpenTelemetry settings) and resolved to the
// Services the tree renders, plus their calls of the API server and the
// nodes' logs to the collector on their own node.
func telemetryFlows(t *testing.T, h *homelab.Homelab, c *cluster, controlPlanes, nodes []endpoint, add func(from, to endpoint, port int32, proto corev1.Protocol, why string)) {
	col := h.Collector
	alloy := endpoint{Namespace: col.Namespace, Pods: map[string]string{"app.kubernetes.io/name": "alloy"}}
	tcp := corev1.ProtocolTCP
	for _, u := range alloyAttrs(t, col.Config, "url", "loki.write", "endpoint") {
		to, port := serviceTarget(t, c, u)
		add(alloy, to, port, tcp, "the collector pushes logs to "+u)
	}
	for _, e := range alloyAttrs(t, col.Config, "endpoint", "otelcol.exporter.otlp", "client") {
		to, port := serviceTarget(t, c, e)
		add(alloy, to, port, tcp, "the collector exports traces to "+e)
	}
	for _, cp := range controlPlanes {
		add(alloy, cp, 6443, tcp, "the collector discovers its node's pods and reads events")
		if h.Loki != nil {
			add(endpoint{Namespace: h.Loki.Namespace}, cp, 6443, tcp, "Loki's rules sidecar watches ConfigMaps")
		}
	}
	// Grafana queries each datasource the stack's chart provisions.
	var ds struct {
		Datasources []struct{ Name, URL string } `json:"datasources"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(configMapData(t, c, h.Monitoring.Namespace, "kube-prometheus-stack-grafana-datasource", "datasource.yaml")), &ds))
	grafana := endpoint{Namespace: h.Monitoring.Namespace, Pods: map[string]string{"app.kubernetes.io/name": "grafana"}}
	for _, d := range ds.Datasources {
		if d.Name == "Loki" || d.Name == "Tempo" {
			to, port := serviceTarget(t, c, d.URL)
			add(grafana, to, port, tcp, "Grafana queries "+d.Name)
		}
	}
	// Loki's ruler sends to the Alertmanager its configuration names.
	if h.Loki != nil {
		var cfg struct {
			Ruler struct {
				AlertmanagerURL string `json:"alertmanager_url"`
			} `json:"ruler"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(configMapData(t, c, h.Loki.Namespace, "loki", "config.yaml")), &cfg))
		to, port := serviceTarget(t, c, cfg.Ruler.AlertmanagerURL)
		add(endpoint{Namespace: h.Loki.Namespace}, to, port, tcp, "Loki's ruler sends alerts")
	}
	// ingress-nginx sends a span per request where its ConfigMap says.
	if host := configMapData(t, c, h.Nginx.Namespace, "ingress-nginx-controller", "otlp-collector-host"); host != "" {
		port := configMapData(t, c, h.Nginx.Namespace, "ingress-nginx-controller", "otlp-collector-port")
		to, p := serviceTarget(t, c, net.JoinHostPort(host, port))
		add(endpoint{Namespace: h.Nginx.Namespace}, to, p, tcp, "ingress-nginx exports its spans")
	}
	// Each node's machined sends its services' and kernel's logs to the
	// address its config names: its own, where the collector's host
	// port is.
	for _, n := range h.Cluster.Nodes() {
		u := h.Cluster.LogEndpoint(n)
		if u == nil {
			continue
		}
		port, err := strconv.Atoi(u.Port())
		require.NoError(t, err)
		add(endpoint{IP: n.IP, Root: true}, endpoint{Namespace: col.Namespace, Pods: alloy.Pods, SameNode: true}, int32(port), tcp, "machined sends "+n.Hostname+"'s logs")
	}
	_ = nodes
}
