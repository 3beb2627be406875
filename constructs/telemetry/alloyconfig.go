package telemetry

import (
	"fmt"

	"github.com/grafana/alloy/syntax/token"
	"github.com/grafana/alloy/syntax/token/builder"
)

// expr is an Alloy expression written as is: a reference to another
// component's export (loki.write.default.receiver) or a function call.
type expr string

// AlloyTokenize implements builder.Tokenizer.
func (e expr) AlloyTokenize() []builder.Token {
	return []builder.Token{{Tok: token.LITERAL, Lit: string(e)}}
}

// block is a component or nested block with its attributes in order.
type block struct {
	name   []string
	label  string
	attrs  []attr
	blocks []*block
}

type attr struct {
	name  string
	value any
}

func newBlock(label string, name ...string) *block { return &block{name: name, label: label} }

func (b *block) set(name string, value any) *block {
	b.attrs = append(b.attrs, attr{name, value})
	return b
}

func (b *block) add(children ...*block) *block {
	b.blocks = append(b.blocks, children...)
	return b
}

func (b *block) build() *builder.Block {
	out := builder.NewBlock(b.name, b.label)
	for _, a := range b.attrs {
		out.Body().SetAttributeValue(a.name, a.value)
	}
	for _, c := range b.blocks {
		out.Body().AppendBlock(c.build())
	}
	return out
}

// export is the reference to the export name of component b
// (loki.write.default.receiver).
func (b *block) export(name string) expr {
	ref := ""
	for _, n := range b.name {
		ref += n + "."
	}
	return expr(fmt.Sprintf("%s%s.%s", ref, b.label, name))
}

// relabel is a discovery.relabel rule copying source labels into target.
func relabel(target string, source ...string) *block {
	return newBlock("", "rule").set("source_labels", source).set("target_label", target)
}

// collectorConfig is the collector's Alloy configuration: what it reads
// and where it sends. Each pipeline ends at the store the homelab runs:
// logs at Loki's push URL, traces at Tempo's OTLP endpoint; a pipeline
// whose store is absent is left out.
func collectorConfig(c *Collector) []byte {
	f := builder.NewFile()
	var comps []*block
	if l := c.loki; l != nil {
		write := newBlock("default", "loki", "write").add(newBlock("", "endpoint").set("url", l.PushURL()))
		// The pods of this node (HOSTNAME is the node's name, which the
		// chart sets from spec.nodeName): their log files, labelled by
		// namespace, pod, container, app and node.
		pods := newBlock("pods", "discovery", "kubernetes").set("role", "pod").
			add(newBlock("", "selectors").set("role", "pod").set("field", expr(`"spec.nodeName=" + sys.env("HOSTNAME")`)))
		podRelabel := newBlock("pods", "discovery", "relabel").set("targets", pods.export("targets")).add(
			relabel("namespace", "__meta_kubernetes_namespace"),
			relabel("pod", "__meta_kubernetes_pod_name"),
			relabel("container", "__meta_kubernetes_pod_container_name"),
			relabel("app", "__meta_kubernetes_pod_label_app_kubernetes_io_name"),
			relabel("node", "__meta_kubernetes_pod_node_name"),
			// The kubelet's layout: /var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log.
			newBlock("", "rule").set("source_labels", []string{"__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"}).
				set("separator", "/").set("target_label", "__path__").set("replacement", PodLogDir+"/*$1/*.log"),
		)
		files := newBlock("pods", "local", "file_match").set("path_targets", podRelabel.export("output"))
		podProcess := newBlock("pods", "loki", "process").set("forward_to", []any{write.export("receiver")}).
			add(newBlock("", "stage", "cri"))
		source := newBlock("pods", "loki", "source", "file").set("targets", files.export("targets")).
			set("forward_to", []any{podProcess.export("receiver")})
		// Every collector sends the cluster's events; Loki keeps one of
		// each (the same stream, timestamp and line are one entry).
		events := newBlock("events", "loki", "source", "kubernetes_events").set("job_name", "kubernetes-events").
			set("log_format", "logfmt").set("forward_to", []any{write.export("receiver")})
		comps = append(comps, pods, podRelabel, files, source, podProcess, events)
		if c.NodeLogPort != 0 {
			// Talos' services and kernel send JSON lines over TCP to
			// this node's address (its hostPort): one event a line,
			// its message in "msg", the service in "talos-service"
			// (none for the kernel), the time in "talos-time". (No Go
			// template here: the chart passes the configuration through
			// Helm's tpl, which would run it.)
			talosProcess := newBlock("talos", "loki", "process").set("forward_to", []any{write.export("receiver")}).add(
				// JMESPath: the kernel's lines have no service.
				newBlock("", "stage", "json").set("expressions", map[string]string{"msg": "msg", "service": `"talos-service" || 'kernel'`, "level": `"talos-level"`, "time": `"talos-time"`}),
				newBlock("", "stage", "labels").set("values", map[string]string{"service": "", "level": ""}),
				newBlock("", "stage", "static_labels").set("values", map[string]any{"job": "talos", "node": expr(`sys.env("HOSTNAME")`)}),
				newBlock("", "stage", "timestamp").set("source", "time").set("format", "RFC3339Nano"),
				newBlock("", "stage", "output").set("source", "msg"),
			)
			talos := newBlock("talos", "loki", "source", "syslog").add(
				newBlock("", "listener").set("address", fmt.Sprintf("0.0.0.0:%d", c.NodeLogPort)).set("protocol", "tcp").
					set("syslog_format", "raw").set("labels", map[string]string{"job": "talos"}),
			).set("forward_to", []any{talosProcess.export("receiver")})
			comps = append(comps, talos, talosProcess)
		}
		comps = append(comps, write)
	}
	if t := c.tempo; t != nil {
		exporter := newBlock("tempo", "otelcol", "exporter", "otlp").add(
			newBlock("", "client").set("endpoint", t.OTLPEndpoint()).add(newBlock("", "tls").set("insecure", true)))
		batch := newBlock("default", "otelcol", "processor", "batch").add(
			newBlock("", "output").set("traces", []any{exporter.export("input")}))
		receiver := newBlock("default", "otelcol", "receiver", "otlp").add(
			newBlock("", "grpc").set("endpoint", fmt.Sprintf("0.0.0.0:%d", c.OTLPGRPCPort)),
			newBlock("", "http").set("endpoint", fmt.Sprintf("0.0.0.0:%d", c.OTLPHTTPPort)),
			newBlock("", "output").set("traces", []any{batch.export("input")}),
		)
		comps = append(comps, receiver, batch, exporter)
	}
	for _, b := range comps {
		f.Body().AppendBlock(b.build())
	}
	return f.Bytes()
}
