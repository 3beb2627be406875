package homelab_test

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/configloader"
	"github.com/siderolabs/talos/pkg/machinery/config/encoder"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"github.com/stretchr/testify/require"
	yamlv4 "go.yaml.in/yaml/v4"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/manifest"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/synth"
)

// docs decodes a machine config into its documents as generic maps.
func docs(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	cfg, err := configloader.NewFromBytes(data)
	require.NoError(t, err)
	out, err := cfg.EncodeBytes(encoder.WithComments(encoder.CommentsDisabled))
	require.NoError(t, err)
	objs, err := manifest.Decode(out)
	require.NoError(t, err)
	// The order of the documents has no meaning to Talos.
	slices.SortFunc(objs, func(a, b *unstructured.Unstructured) int {
		return cmp.Compare(a.GetKind()+"/"+fmt.Sprint(a.Object["name"]), b.GetKind()+"/"+fmt.Sprint(b.Object["name"]))
	})
	var maps []map[string]any
	for _, o := range objs {
		maps = append(maps, o.Object)
	}
	return maps
}

// TestTalhelperRendersTheDeployersConfigs runs the real talhelper on the
// synthesized talconfig.yaml with a secrets bundle, and compares each
// node's config with the one the deployer applies to that node (from the
// same bundle): both routes name the nodes the same, install the same
// image and carry the same patches.
func TestTalhelperRendersTheDeployersConfigs(t *testing.T) {
	bin := testenv.Talhelper(t)
	app, h := homelab.NewApp(nil)
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	contract, err := config.ParseContractFromVersion(h.Cluster.TalosVersion)
	require.NoError(t, err)
	bundle, err := secrets.NewBundle(secrets.NewFixedClock(time.Now()), contract)
	require.NoError(t, err)
	secretYAML, err := yamlv4.Marshal(bundle)
	require.NoError(t, err)
	dir := t.TempDir()
	for name, data := range map[string][]byte{"talconfig.yaml": files["talos/talconfig.yaml"], "talsecret.yaml": secretYAML} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	cmd := exec.Command(bin, "genconfig", "-c", "talconfig.yaml", "-s", "talsecret.yaml", "-o", "out", "--offline-mode", "--no-gitignore")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("talhelper genconfig: %v\n%s", err, out)
	}
	for _, n := range h.Cluster.Nodes() {
		theirs, err := os.ReadFile(filepath.Join(dir, "out", h.Cluster.Name+"-"+n.Hostname+".yaml"))
		if err != nil {
			t.Fatalf("talhelper rendered no config for %s: %v", n.Hostname, err)
		}
		cfg, err := h.Cluster.NodeConfig(n, bundle)
		require.NoError(t, err)
		ours, err := cfg.EncodeBytes(encoder.WithComments(encoder.CommentsDisabled))
		require.NoError(t, err)
		if d := gocmp.Diff(docs(t, ours), docs(t, theirs)); d != "" {
			t.Errorf("%s: the deployer's config and talhelper's differ (-deployer +talhelper):\n%s", n.Hostname, d)
		}
	}
}
