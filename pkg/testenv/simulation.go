package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/siderolabs/talos/pkg/machinery/config"
	"github.com/siderolabs/talos/pkg/machinery/config/generate/secrets"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	proxmodel "github.com/funoffshore/homelab/constructs/proxmox"
	talosmodel "github.com/funoffshore/homelab/constructs/talos"
	"github.com/funoffshore/homelab/pkg/deploy"
	pvedeploy "github.com/funoffshore/homelab/pkg/deploy/proxmox"
	talosdeploy "github.com/funoffshore/homelab/pkg/deploy/talos"
	"github.com/funoffshore/homelab/pkg/lab"
	"github.com/funoffshore/homelab/pkg/localenv"
	"github.com/funoffshore/homelab/pkg/oracle/talosboot"
	"github.com/funoffshore/homelab/pkg/testenv/pvesim"
	"github.com/funoffshore/homelab/pkg/testenv/talossim"
	"github.com/funoffshore/homelab/synth"
)

// Simulation runs the whole deploy flow without hardware: a Proxmox API
// simulator with the homelab's hosts, a Talos simulator with its nodes, a
// real kube-apiserver for the Flux bootstrap, and a stand-in for Flux's
// kustomize-controller that reports flux-system ready. Its credentials are
// throwaway ones made for the run.
type Simulation struct {
	PVE    *pvesim.Server
	Talos  *talossim.Sim
	API    *APIServer
	Inputs deploy.Inputs
	cancel context.CancelFunc
	token  pvedeploy.Token
	nodes  []string
}

// NewSimulation starts the simulators for target. schemaPath is the
// Proxmox API schema to validate requests with ("" to skip).
func NewSimulation(target deploy.Target, schemaPath string) (*Simulation, error) {
	spec := localenv.SimulationFor(target, schemaPath)
	return Simulate(spec)
}

// Simulate starts the simulators that spec describes (what the
// homelab-testenv helper runs for `deploy --simulate`).
func Simulate(spec localenv.Simulation) (*Simulation, error) {
	contract, err := config.ParseContractFromVersion(spec.TalosVersion)
	if err != nil {
		return nil, err
	}
	bundle, err := secrets.NewBundle(secrets.NewFixedClock(time.Now()), contract)
	if err != nil {
		return nil, err
	}
	s := &Simulation{token: pvedeploy.Token{ID: "root@pam!homelab-simulate"}}
	if s.PVE, err = pvesim.New(spec.ProxmoxSchema, spec.Hosts...); err != nil {
		return nil, err
	}
	s.nodes = spec.Nodes
	if s.Talos, err = talossim.New(bundle.Certs.OS, s.nodes...); err != nil {
		s.Close()
		return nil, err
	}
	// A VM that starts with a config ISO attached boots with the config
	// Talos' metal platform reads from it.
	s.PVE.OnStart = func(vm pvesim.VM, media map[string][]byte) {
		n := s.Talos.Node(vm.Config["name"])
		if n == nil {
			return
		}
		for _, iso := range media {
			if data, err := talosboot.ReadConfigISO(iso); err == nil {
				_ = n.Boot(data) // a config the machine refuses leaves it in maintenance mode, as on hardware
			}
		}
	}
	for name, id := range spec.Identities {
		if n := s.Talos.Node(name); n != nil {
			if err := n.SetIdentity(talossim.Identity{UUID: id.UUID, MACs: []string{id.MAC}}); err != nil {
				s.Close()
				return nil, err
			}
		}
	}
	if s.API, err = StartAPIServerAt(AssetsDir()); err != nil {
		s.Close()
		return nil, err
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		s.Close()
		return nil, err
	}
	git, err := yaml.Marshal(&corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "flux-system", Namespace: "flux-system"},
		StringData: map[string]string{"identity": "simulated deploy key", "identity.pub": "simulated", "known_hosts": "simulated"},
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	tokenSecret := make([]byte, 16)
	rand.Read(tokenSecret)
	s.token.Secret = hex.EncodeToString(tokenSecret)
	s.Inputs = deploy.Inputs{
		Proxmox: pvedeploy.Options{
			Token:      s.token,
			HTTPClient: s.PVE.TS.Client(), Backoff: 10 * time.Millisecond,
			Endpoint: func(proxmodel.InventoryHost) string { return s.PVE.TS.URL },
		},
		Talos: talosdeploy.Options{
			Address: func(n *talosmodel.Node) string { return s.Talos.Node(n.Hostname).Addr },
			Timeout: 30 * time.Second,
		},
		Bundle: bundle, AgeKey: id.String(), GitCredentials: git,
		Kube:             func([]byte) (client.Client, error) { return s.API.Client, nil },
		FluxReadyTimeout: time.Minute,
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.reconcileFlux(ctx)
	// The nodes register with the API server as kubelets would, so
	// day-2 steps (drains, Kubernetes upgrades, removals) see them.
	go s.Talos.RunKubelets(ctx, s.API.Client, 100*time.Millisecond)
	return s, nil
}

// Handle describes the simulation for another process (the
// homelab-testenv helper prints it): the addresses, the Proxmox CA and
// token, the Talos bundle and an admin kubeconfig.
func (s *Simulation) Handle() (*localenv.Handle, error) {
	kubeconfig, err := s.API.AdminKubeconfig()
	if err != nil {
		return nil, err
	}
	bundle, err := yaml.Marshal(s.Inputs.Bundle)
	if err != nil {
		return nil, err
	}
	h := &localenv.Handle{
		Kubeconfig: kubeconfig,
		Proxmox: &localenv.Proxmox{
			URL: s.PVE.TS.URL, TokenID: s.token.ID, TokenSecret: s.token.Secret,
			CA: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.PVE.TS.Certificate().Raw}),
		},
		TalosNodes:  map[string]string{},
		TalosBundle: bundle, AgeKey: s.Inputs.AgeKey, GitCredentials: s.Inputs.GitCredentials,
	}
	for _, n := range s.nodes {
		h.TalosNodes[n] = s.Talos.Node(n).Addr
	}
	return h, nil
}

// reconcileFlux plays kustomize-controller: it reports the flux-system
// Kustomization ready once it exists.
func (s *Simulation) reconcileFlux(ctx context.Context) {
	for ctx.Err() == nil {
		k := &unstructured.Unstructured{}
		k.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
		k.SetKind("Kustomization")
		if err := s.API.Client.Get(ctx, types.NamespacedName{Namespace: "flux-system", Name: "flux-system"}, k); err == nil {
			conds, _, _ := unstructured.NestedSlice(k.Object, "status", "conditions")
			if len(conds) == 0 {
				unstructured.SetNestedSlice(k.Object, []any{map[string]any{
					"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "simulated",
					"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
				}}, "status", "conditions")
				s.API.Client.Status().Update(ctx, k)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Close stops everything.
func (s *Simulation) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.API != nil {
		s.API.Stop()
	}
	if s.Talos != nil {
		s.Talos.Close()
	}
	if s.PVE != nil {
		s.PVE.Close()
	}
}

// RenderTarget renders the lab's tree and finds the deployer's target in
// it, failing the test on either error.
func RenderTarget(t testing.TB, l *lab.Lab) (synth.Files, deploy.Target) {
	t.Helper()
	files, err := synth.Render(l.Tree())
	if err != nil {
		t.Fatal(err)
	}
	target, err := deploy.FindTarget(l, files)
	if err != nil {
		t.Fatal(err)
	}
	return files, target
}
