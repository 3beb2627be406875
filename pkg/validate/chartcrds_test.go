package validate_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/constructs/storage"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/pkg/validate"
	"github.com/funoffshore/homelab/synth"
)

// longhornTree is a small homelab: Flux, Longhorn's HelmRelease in
// platform, and a RecurringJob in platform-config, which depends on it.
func longhornTree(t *testing.T) synth.Files {
	t.Helper()
	app := core.NewApp(nil)
	fluxChart := kube.NewChart(app, "flux", &kube.ChartProps{Dir: "kubernetes/flux"})
	install := flux.NewInstall(fluxChart, "gotk-components", nil)
	sync := flux.NewSync(fluxChart, "gotk-sync", &flux.SyncProps{URL: "ssh://git@example.com/lab", Chart: fluxChart, Install: install})
	platform := kube.NewChart(app, "platform", &kube.ChartProps{Dir: "kubernetes/platform"})
	kube.NewNamespace(platform, "longhorn-system", &kube.NamespaceProps{PodSecurity: "privileged"})
	repo := flux.NewHelmRepository(platform, "longhorn-repo", &flux.HelmRepositoryProps{Name: "longhorn", URL: "https://charts.longhorn.io"})
	lh := storage.NewLonghorn(platform, "longhorn", repo, &storage.LonghornProps{BackupTarget: "nfs://192.168.1.20:/volume1/longhorn-backups"})
	storage.NewStorageClass(platform, "local", &storage.StorageClassProps{Provisioner: "rancher.io/local-path", Default: true})
	cfg := kube.NewChart(app, "platform-config", &kube.ChartProps{Dir: "kubernetes/platform-config"})
	lh.RecurringBackup(cfg, "backup-daily", core.Cron("0 3 * * *"), 7)
	pk := flux.NewKustomization(fluxChart, "platform", &flux.KustomizationProps{Chart: platform, DependsOn: []*flux.Kustomization{sync.Root}})
	flux.NewKustomization(fluxChart, "platform-config", &flux.KustomizationProps{Chart: cfg, DependsOn: []*flux.Kustomization{pk}})
	files, err := synth.Render(app.Tree())
	require.NoError(t, err)
	return files
}

func TestReplayChartCRDs(t *testing.T) {
	api := testenv.StartAPIServer(t)
	opts := testenv.ReplayOptions(t)
	t.Run("a custom resource ordered after its chart's Kustomization is accepted", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		steps, err := validate.ReplayWith(ctx, api.Client, longhornTree(t), "cluster", opts)
		if err != nil {
			t.Fatalf("replay:\n%v", err)
		}
		got := map[string][]string{}
		for _, s := range steps {
			got[s.Kustomization] = s.ChartCRDs
		}
		if d := cmp.Diff([]string{"longhorn"}, got["flux-system/platform"]); d != "" {
			t.Errorf("chart CRDs installed after platform (-want +got):\n%s", d)
		}
	})
	t.Run("without wait on the chart's Kustomization the custom resource is rejected", func(t *testing.T) {
		fresh := testenv.StartAPIServer(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		files := longhornTree(t)
		p := "kubernetes/flux/platform.yaml"
		files[p] = bytes.Replace(files[p], []byte("  wait: true\n"), []byte("  wait: false\n"), 1)
		_, err := validate.ReplayWith(ctx, fresh.Client, files, "cluster", opts)
		if err == nil || !strings.Contains(err.Error(), `Kustomization "flux-system/platform-config": RecurringJob.longhorn.io/longhorn-system/backup-daily rejected`) {
			t.Fatalf("want the RecurringJob rejected in platform-config, got: %v", err)
		}
	})
}
