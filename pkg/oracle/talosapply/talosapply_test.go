package talosapply_test

import (
	"testing"

	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/config/configpatcher"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/oracle/talosapply"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/synth"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestImmediate patches the Funoffshore control-plane config with
// machinery's own patcher and checks the rule on a change of each kind
// machined names: live for the sections it lists, a reboot for the rest.
func TestImmediate(t *testing.T) {
	app, _ := homelab.NewApp(nil)
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	current, err := configloader.NewFromBytes(files["talos/controlplane.yaml"])
	require.NoError(t, err)
	for _, tc := range []struct {
		name, patch string
		live        bool
	}{
		{"a kubelet argument", "machine:\n  kubelet:\n    extraArgs:\n      max-pods: \"150\"\n", true},
		{"a sysctl", "machine:\n  sysctls:\n    net.core.somaxconn: \"65535\"\n", true},
		{"the install disk (used at the next install or upgrade)", "machine:\n  install:\n    disk: /dev/vda\n", true},
		{"a node label", "machine:\n  nodeLabels:\n    zone: rack-1\n", true},
		{"the cluster section", "cluster:\n  apiServer:\n    extraArgs:\n      audit-log-maxage: \"7\"\n", true},
		{"an extra file on the host", "machine:\n  files:\n    - path: /var/etc/x\n      content: x\n      op: create\n      permissions: 0o644\n", false},
		{"an environment variable of Talos' services", "machine:\n  env:\n    http_proxy: http://proxy:3128\n", false},
		{"a udev rule", "machine:\n  udev:\n    rules:\n      - SUBSYSTEM==\"drm\", GROUP=\"video\"\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			patch, err := configpatcher.LoadPatch([]byte(tc.patch))
			require.NoError(t, err)
			out, err := configpatcher.Apply(configpatcher.WithConfig(current), []configpatcher.Patch{patch})
			require.NoError(t, err)
			next, err := out.Config()
			require.NoError(t, err)
			live, diff, err := talosapply.Immediate(current, next)
			require.NoError(t, err)
			assert.Equal(t, tc.live, live, "diff: %s", diff)
			if !tc.live {
				assert.NotEmpty(t, diff, "a reboot names what needs it")
			}
		})
	}
	live, _, err := talosapply.Immediate(current, current)
	require.NoError(t, err)
	assert.True(t, live, "no change applies live")
}
