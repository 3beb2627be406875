package telemetry_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/funoffshore/homelab/constructs/platform"
	"github.com/funoffshore/homelab/constructs/telemetry"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/synth"
)

// TestTelemetryValidation: each bad value is refused with the construct's
// path, the value and the fix, and the tree renders nothing.
func TestTelemetryValidation(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(p *homelab.Props)
		want string
	}{
		{"logs that do not fit their volume", func(p *homelab.Props) { p.Platform.Telemetry.LogVolume = "2Gi" },
			"platform/telemetry/loki: 14d of logs at 300Mi a day need 5Gi with a fifth to spare; the volume has 2Gi; raise LokiProps.Volume.Size to at least 5Gi, or shorten Retention, or lower DailyVolume"},
		{"a retention that is no duration", func(p *homelab.Props) { p.Platform.Telemetry.TraceRetention = "a week" },
			`platform/telemetry/tempo: retention "a week" of the traces is no duration; set TempoProps.Retention to a duration such as "14d"`},
		{"a log rule whose pattern is no RE2", func(p *homelab.Props) {
			p.Platform.Telemetry = nil
			p.Platform.Parts = []platform.Part{telemetry.LokiPart(&telemetry.LokiProps{Volume: volume("5Gi"),
				Rules: []telemetry.LogRule{{Alert: "NFSStale", Selector: map[string]string{"job": "talos"}, Match: `stale file handle (`}}})}
		}, "platform/telemetry/loki/rules: log rule NFSStale: \"stale file handle (\" is no line pattern"},
		{"a log rule that selects no stream", func(p *homelab.Props) {
			p.Platform.Telemetry = nil
			p.Platform.Parts = []platform.Part{telemetry.LokiPart(&telemetry.LokiProps{Volume: volume("5Gi"),
				Rules: []telemetry.LogRule{{Alert: "Anything", Match: `error`}}})}
		}, "platform/telemetry/loki/rules: log rule Anything selects no stream; set LogRule.Selector"},
		{"an app sending traces to no collector", func(p *homelab.Props) {
			p.Platform.Telemetry.TraceVolume = ""
			p.Apps[0].Traces = true
		}, "apps/echo: the app sends traces, and no collector receives them; run the telemetry parts with traces"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := homelab.Funoffshore()
			c.edit(p)
			app, _ := homelab.NewApp(p)
			err := app.Tree().Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			_, err = synth.Render(app.Tree())
			require.Error(t, err, "a tree that fails validation renders nothing")
		})
	}
}

// TestAppSendsTraces: an app with Traces gets the standard OpenTelemetry
// environment towards the collector's OTLP/HTTP Service and a policy of
// type Egress only, so that its ingress stays as the namespace's policy
// (and its AllowFrom) has it.
func TestAppSendsTraces(t *testing.T) {
	p := homelab.Funoffshore()
	p.Apps[0].Traces = true
	app, h := homelab.NewApp(p)
	require.NoError(t, app.Tree().Validate())
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	objs := testenv.DecodeYAML(t, files["kubernetes/apps/echo.yaml"])
	var env map[string]string
	var policy *networkingv1.NetworkPolicy
	for _, o := range objs {
		switch {
		case o.GetKind() == "Deployment":
			env = map[string]string{}
			for _, e := range convert[appsv1.Deployment](t, o).Spec.Template.Spec.Containers[0].Env {
				env[e.Name] = e.Value
			}
		case o.GetKind() == "NetworkPolicy" && o.GetName() == "echo-traces":
			policy = convert[networkingv1.NetworkPolicy](t, o)
		}
	}
	assert.Equal(t, h.Collector.OTLPEndpoint(), env["OTEL_EXPORTER_OTLP_ENDPOINT"])
	assert.Equal(t, "http/protobuf", env["OTEL_EXPORTER_OTLP_PROTOCOL"])
	assert.Equal(t, "echo", env["OTEL_SERVICE_NAME"])
	require.NotNil(t, policy)
	assert.Equal(t, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}, policy.Spec.PolicyTypes, "egress only: an Ingress type would isolate the app's ingress")
	require.Len(t, policy.Spec.Egress, 1)
	require.Len(t, policy.Spec.Egress[0].Ports, 1)
	assert.Equal(t, h.Collector.OTLPHTTPPort, policy.Spec.Egress[0].Ports[0].Port.IntVal)
}
