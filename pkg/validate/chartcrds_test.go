package validate_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/constructs/kube"
	"github.com/funoffshore/homelab/homelab"
	"github.com/funoffshore/homelab/pkg/testenv"
	"github.com/funoffshore/homelab/pkg/validate"
	"github.com/funoffshore/homelab/synth"
)

func recurringJob() *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "longhorn.io/v1beta2",
		"kind":       "RecurringJob",
		"metadata":   map[string]any{"name": "backup-daily", "namespace": "longhorn-system"},
		"spec": map[string]any{
			"cron": "0 3 * * *", "task": "backup", "retain": int64(7), "concurrency": int64(1),
			"groups": []any{"default"},
		},
	}}
	return u
}

// longhornTree is the Funoffshore homelab plus Longhorn's HelmRelease in
// platform and a RecurringJob either in its own Kustomization that depends
// on platform (ordered) or in platform itself (too early).
func longhornTree(t *testing.T, ordered bool) synth.Files {
	t.Helper()
	app, h := homelab.NewApp(nil)
	repo := flux.NewHelmRepository(h.Platform, "longhorn-repo", &flux.HelmRepositoryProps{Name: "longhorn", URL: "https://charts.longhorn.io"})
	flux.NewHelmRelease(h.Platform, "longhorn", &flux.HelmReleaseProps{Namespace: "longhorn-system", Repository: repo, Chart: "longhorn", Version: "1.12.1"})
	if ordered {
		cfg := kube.NewChart(app, "platform-config", &kube.ChartProps{Dir: "kubernetes/platform-config"})
		kube.NewObject(cfg, "recurring-jobs", recurringJob())
		flux.NewKustomization(h.Flux, "platform-config", &flux.KustomizationProps{Chart: cfg, DependsOn: []*flux.Kustomization{h.PlatformKustomization}})
	} else {
		kube.NewObject(h.Platform, "recurring-jobs", recurringJob())
	}
	files, err := synth.Render(app.Tree())
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestReplayChartCRDs(t *testing.T) {
	crds, err := os.ReadFile(testenv.Fixture("crds/longhorn-v1.12.1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	opts := validate.ReplayOptions{ChartCRDs: map[string][]byte{"longhorn": crds}}

	t.Run("a custom resource ordered after its chart's Kustomization is accepted", func(t *testing.T) {
		api := testenv.StartAPIServer(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		steps, err := validate.ReplayWith(ctx, api.Client, longhornTree(t, true), "cluster", opts)
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
	t.Run("a custom resource applied before its CRD exists fails with its name", func(t *testing.T) {
		api := testenv.StartAPIServer(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_, err := validate.ReplayWith(ctx, api.Client, longhornTree(t, false), "cluster", opts)
		if err == nil || !strings.Contains(err.Error(), `Kustomization "flux-system/platform": RecurringJob.longhorn.io/longhorn-system/backup-daily rejected`) {
			t.Fatalf("want the RecurringJob rejected in platform, got: %v", err)
		}
	})
}
