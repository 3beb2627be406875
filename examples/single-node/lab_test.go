package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/pkg/nodeenv"
	"github.com/funoffshore/homelab/pkg/validate"
	"github.com/funoffshore/homelab/synth"
	"github.com/funoffshore/homelab/synth/synthtest"
)

var update = flag.Bool("update", false, "rewrite testdata/cluster")

func TestMain(m *testing.M) {
	nodeenv.Ensure()
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// TestSnapshot is this homelab's snapshot test: a change to the library or
// to lab.go that changes the output shows up as a diff here.
func TestSnapshot(t *testing.T) {
	files, err := synth.Render(Build().Tree())
	require.NoError(t, err)
	synthtest.Golden(t, filepath.Join("testdata", "cluster"), files, *update)
	cp := string(files["talos/controlplane.yaml"])
	if !strings.Contains(cp, "allowSchedulingOnControlPlanes: true") {
		t.Error("the single node does not schedule workloads")
	}
	for _, f := range []string{"talos/controlplane.yaml", "talos/worker.yaml"} {
		if _, err := validate.TalosConfig(f, files[f]); err != nil {
			t.Error(err)
		}
	}
	if strings.Contains(string(files["talos/worker.yaml"]), "longhorn") || strings.Contains(cp, "iscsi-tools") {
		t.Error("Longhorn's needs leaked into a homelab without Longhorn")
	}
}
