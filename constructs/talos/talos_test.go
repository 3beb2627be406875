package talos_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/encoder"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	"github.com/siderolabs/talos/pkg/machinery/config/machine"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/fixtures"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/pkg/validate"
	"github.com/funoffshore/homelab/synth"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestSchematicIDs(t *testing.T) {
	for _, c := range []struct {
		exts []string
		want string
	}{
		{nil, "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"},
		{[]string{"siderolabs/qemu-guest-agent"}, "ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515"},
		{[]string{"siderolabs/util-linux-tools", "siderolabs/qemu-guest-agent", "siderolabs/iscsi-tools", "siderolabs/qemu-guest-agent"},
			"88d1f7a5c4f1d3aba7df787c448c1d3d008ed29cfb34af53fa0df4336a56040b"},
	} {
		if got := talos.NewSchematic(c.exts...).ID(); got != c.want {
			t.Errorf("schematic %v: ID %s, want %s", c.exts, got, c.want)
		}
	}
	// The boot ISO's schematic adds a kernel argument; its ID is the one
	// image-factory v1.4.0's own schematic.Schematic.ID() gives for the
	// same customization (computed with that module), which holds only if
	// the fields are marshalled in its order.
	boot := talos.NewSchematic("siderolabs/util-linux-tools", "siderolabs/qemu-guest-agent", "siderolabs/iscsi-tools").WithKernelArgs("talos.config=metal-iso")
	if got, want := boot.ID(), "658fab8256df23da3d3fc3435c72624103d2f279d03dee5b71169161541665f2"; got != want {
		t.Errorf("boot schematic: ID %s, want %s", got, want)
	}
}

func render(t *testing.T, props *homelab.Props) (synth.Files, *homelab.Homelab) {
	t.Helper()
	app, h := homelab.NewApp(props)
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	return files, h
}

func TestMachineConfigs(t *testing.T) {
	files, _ := render(t, nil)
	t.Run("load and validate with machinery in metal mode", func(t *testing.T) {
		for _, f := range []string{"talos/controlplane.yaml", "talos/worker.yaml"} {
			if _, err := validate.TalosConfig(f, files[f]); err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("talconfig.yaml matches talhelper's schema", func(t *testing.T) {
		if err := validate.TalConfig("talconfig.yaml", files["talos/talconfig.yaml"], testenv.Fixture(t, fixtures.TalconfigSchema)); err != nil {
			t.Error(err)
		}
	})
	t.Run("talhelper's schema rejects a broken talconfig", func(t *testing.T) {
		broken := bytes.Replace(files["talos/talconfig.yaml"], []byte("controlPlane: true"), []byte("controlPlane: yes-please"), 1)
		if err := validate.TalConfig("talconfig.yaml", broken, testenv.Fixture(t, fixtures.TalconfigSchema)); err == nil {
			t.Error("a string controlPlane passed the schema")
		}
	})
}

// bundleValues returns every secret value of a bundle in the forms a
// machine config holds them (raw, and base64 for PEM material).
func bundleValues(b *secrets.Bundle) map[string]string {
	out := map[string]string{
		"cluster id": b.Cluster.ID, "cluster secret": b.Cluster.Secret, "bootstrap token": b.Secrets.BootstrapToken,
		"secretbox secret": b.Secrets.SecretboxEncryptionSecret, "trustd token": b.TrustdInfo.Token,
	}
	pems := map[string][]byte{
		"etcd ca crt": b.Certs.Etcd.Crt, "etcd ca key": b.Certs.Etcd.Key, "k8s ca crt": b.Certs.K8s.Crt, "k8s ca key": b.Certs.K8s.Key,
		"aggregator crt": b.Certs.K8sAggregator.Crt, "aggregator key": b.Certs.K8sAggregator.Key,
		"service account key": b.Certs.K8sServiceAccount.Key, "os ca crt": b.Certs.OS.Crt, "os ca key": b.Certs.OS.Key,
	}
	for k, v := range pems {
		out[k] = base64.StdEncoding.EncodeToString(v)
	}
	return out
}

func TestNoSecretsUnderCluster(t *testing.T) {
	files, h := render(t, nil)
	contract, _ := config.ParseContractFromVersion(talos.DefaultTalosVersion)
	real, err := secrets.NewBundle(secrets.NewFixedClock(time.Now()), contract)
	require.NoError(t, err)
	realVals := bundleValues(real)
	placeholderVals := bundleValues(talos.PlaceholderBundle())
	for _, role := range []machine.Type{machine.TypeControlPlane, machine.TypeWorker} {
		cfg, err := h.Cluster.MachineConfig(role, real)
		require.NoError(t, err)
		full, err := cfg.EncodeBytes(encoder.WithComments(encoder.CommentsDisabled))
		require.NoError(t, err)
		if _, err := validate.TalosConfig(role.String(), full); err != nil {
			t.Errorf("the config the deployer renders from a real bundle is invalid: %v", err)
		}
		// Swapping each real value for its placeholder gives exactly the
		// committed file: the committed configs are the real ones with
		// every bundle-derived value replaced.
		swapped := string(full)
		for k, v := range realVals {
			swapped = strings.ReplaceAll(swapped, v, placeholderVals[k])
		}
		committed := files["talos/"+strings.ToLower(role.String())+".yaml"]
		committed = committed[bytes.IndexByte(committed, '\n')+1:] // generated header
		if d := cmp.Diff(string(committed), swapped); d != "" {
			t.Errorf("%s: committed config is not the real one with secrets swapped (-committed +swapped):\n%s", role, d)
		}
	}
	for p, data := range files {
		for k, v := range realVals {
			if bytes.Contains(data, []byte(v)) {
				t.Errorf("%s holds the real %s", p, k)
			}
		}
		if bytes.Contains(data, []byte("BEGIN")) && !bytes.Contains(data, []byte("PLACEHOLDER")) && strings.HasPrefix(p, "talos/") {
			t.Errorf("%s holds PEM material that is not a placeholder", p)
		}
	}
}

func TestOneIPEverywhere(t *testing.T) {
	m := homelab.DefaultMachines()
	m.Nodes[0].IP = "192.168.1.150"
	props := homelab.Funoffshore()
	props.Machines = m
	files, _ := render(t, props)
	for p, data := range files {
		if bytes.Contains(data, []byte("192.168.1.101")) {
			t.Errorf("%s still holds the old control-plane IP", p)
		}
	}
	for _, want := range []struct{ file, text string }{
		{"proxmox/inventory.yaml", "ip: 192.168.1.150"},
		{"talos/talconfig.yaml", "ipAddress: 192.168.1.150"},
		{"talos/talconfig.yaml", "endpoint: https://192.168.1.150:6443"},
		{"talos/controlplane.yaml", "https://192.168.1.150:6443"},
		{"talos/worker.yaml", "https://192.168.1.150:6443"},
	} {
		if !bytes.Contains(files[want.file], []byte(want.text)) {
			t.Errorf("%s lacks %q", want.file, want.text)
		}
	}
}

func TestNeedsReachTheNodes(t *testing.T) {
	// The Funoffshore platform declares its needs: Longhorn (extensions,
	// user volume, kubelet mount), monitoring (control-plane metrics) and
	// etcd backups (Talos API access). A second, identical Longhorn need
	// must be merged, not duplicated.
	app, h := homelab.NewApp(nil)
	tree := app.Tree()
	core.NodeNeeds.Of(tree).Add(core.NodeNeed{Source: "storage/longhorn-again", Role: core.Worker,
		KubeletMounts: []core.Mount{{Source: "/var/mnt/longhorn", Destination: "/var/mnt/longhorn", Options: []string{"bind", "rshared", "rw"}}},
		UserVolumes:   []core.UserVolume{{Name: "longhorn", MinSize: "10GiB", DiskGiB: 50}},
	})
	files, err := synth.Render(tree)
	require.NoError(t, err)
	if got := h.Cluster.Schematic().ID(); got != "88d1f7a5c4f1d3aba7df787c448c1d3d008ed29cfb34af53fa0df4336a56040b" {
		t.Errorf("schematic %s", got)
	}
	cp, w := string(files["talos/controlplane.yaml"]), string(files["talos/worker.yaml"])
	if n := strings.Count(w, "kind: UserVolumeConfig"); n != 1 {
		t.Errorf("worker config holds %d UserVolumeConfigs, want 1", n)
	}
	if n := strings.Count(cp, "kind: UserVolumeConfig"); n != 0 {
		t.Errorf("control plane config holds %d UserVolumeConfigs, want none (it holds no replicas)", n)
	}
	if n := strings.Count(w, "destination: /var/mnt/longhorn"); n != 1 {
		t.Errorf("worker config mounts /var/mnt/longhorn %d times, want 1", n)
	}
	for _, c := range []struct {
		name, doc, want string
		present         bool
	}{
		{"installer from the schematic", w, "factory.talos.dev/metal-installer/88d1f7a5c4f1d3aba7df787c448c1d3d008ed29cfb34af53fa0df4336a56040b:v1.13.9", true},
		{"metrics bind address on the control plane", cp, "bind-address: 0.0.0.0", true},
		{"etcd metrics on the control plane", cp, "listen-metrics-urls: http://0.0.0.0:2381", true},
		{"no metrics bind address on workers", w, "bind-address", false},
		{"Talos API access for etcd backups", cp, "- os:etcd:backup", true},
		{"no Talos API access on workers", w, "kubernetesTalosAPIAccess", false},
	} {
		if strings.Contains(c.doc, c.want) != c.present {
			t.Errorf("%s: %q present=%v, want %v", c.name, c.want, !c.present, c.present)
		}
	}
	for _, f := range []string{"talos/controlplane.yaml", "talos/worker.yaml"} {
		if _, err := validate.TalosConfig(f, files[f]); err != nil {
			t.Error(err)
		}
	}
	if err := validate.TalConfig("talconfig.yaml", files["talos/talconfig.yaml"], testenv.Fixture(t, fixtures.TalconfigSchema)); err != nil {
		t.Error(err)
	}
	// The VMs boot the ISO of the schematic the tree needs plus
	// talos.config=metal-iso (their first config comes on a volume); the
	// installer stays the schematic's own.
	if !bytes.Contains(files["proxmox/inventory.yaml"], []byte("658fab8256df23da3d3fc3435c72624103d2f279d03dee5b71169161541665f2/v1.13.9/metal-amd64.iso")) {
		t.Error("the VMs do not boot the ISO of the boot schematic")
	}
	t.Run("conflicting user volume sizes are refused", func(t *testing.T) {
		app, _ := homelab.NewApp(nil)
		core.NodeNeeds.Of(app.Tree()).Add(core.NodeNeed{Source: "other/longhorn", UserVolumes: []core.UserVolume{{Name: "longhorn", MinSize: "50GiB"}}})
		err := app.Tree().Validate()
		want := `other/longhorn: user volume "longhorn" (min "50GiB", max "", own disk 0 GiB) conflicts with the one "platform/storage/longhorn" declares (min "10GiB", max "", own disk 50 GiB); declare the volume once, or give it another name`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q, got %v", want, err)
		}
	})
}

// TestPatchesSayOnlyWhatTheySet: the talconfig patches carry no zero
// fields of the config struct (version: "", machine: null, token: "",
// certSANs: []), which a reader would take for settings.
func TestPatchesSayOnlyWhatTheySet(t *testing.T) {
	files, _ := render(t, nil)
	tc := string(files["talos/talconfig.yaml"])
	for _, noise := range []string{`: ""`, `: null`, `: []`, `: {}`} {
		if strings.Contains(tc, noise) {
			t.Errorf("talconfig.yaml has %q:\n%s", noise, tc)
		}
	}
	if !strings.Contains(tc, "listen-metrics-urls: http://0.0.0.0:2381") {
		t.Error("a patch lost what it sets")
	}
}
