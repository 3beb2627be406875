package kube_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
)

// Every stable built-in group version client-go knows is in kube.Scheme, so
// narrowing it to the stable groups left no kind a current cluster serves
// out, and a newly added stable group on a dependency bump fails here.
func TestSchemeHasEveryStableBuiltInGroup(t *testing.T) {
	stable := regexp.MustCompile(`^v[0-9]+$`)
	n := 0
	for _, gv := range clientgoscheme.Scheme.PrioritizedVersionsAllGroups() {
		if !stable.MatchString(gv.Version) {
			continue
		}
		n++
		assert.Truef(t, kube.Scheme.IsVersionRegistered(gv), "kube.Scheme lacks %s: add its AddToScheme in scheme.go", gv)
	}
	assert.GreaterOrEqual(t, n, 20, "stable built-in group versions seen")
	for gvk := range clientgoscheme.Scheme.AllKnownTypes() {
		if stable.MatchString(gvk.Version) {
			_, known := kube.Scheme.AllKnownTypes()[gvk]
			assert.Truef(t, known, "kube.Scheme lacks %s", gvk)
		}
	}
}

// A beta group is out by default: an object of it is refused with the
// construct path and the fix, and renders once the homelab registers its
// group, as the Scheme's doc comment says.
func TestSchemeTakesMoreGroups(t *testing.T) {
	cronJob := func() *batchv1beta1.CronJob {
		return &batchv1beta1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "old"}}
	}
	app := core.NewApp(nil)
	kube.NewObject(kube.NewChart(app, "apps", &kube.ChartProps{Dir: "kubernetes/apps"}), "old", cronJob())
	err := app.Tree().Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "apps/old")
	assert.Contains(t, err.Error(), "register the type in kube.Scheme")

	require.NoError(t, batchv1beta1.AddToScheme(kube.Scheme))
	app = core.NewApp(nil)
	o := kube.NewObject(kube.NewChart(app, "apps", &kube.ChartProps{Dir: "kubernetes/apps"}), "old", cronJob())
	require.NoError(t, app.Tree().Validate())
	m, err := o.Manifest()
	require.NoError(t, err)
	assert.Equal(t, "batch/v1beta1", m["apiVersion"])
	assert.Equal(t, "CronJob", m["kind"])
}

// twoKinds is a Go type a test registers under two kinds.
type twoKinds struct{ corev1.ConfigMap }

// A Go type registered under two kinds is resolved by the kind set on the
// object, and refused without one.
func TestSchemeAmbiguousKind(t *testing.T) {
	gv := schema.GroupVersion{Group: "example.homelab.dev", Version: "v1"}
	kube.Scheme.AddKnownTypeWithName(gv.WithKind("First"), &twoKinds{})
	kube.Scheme.AddKnownTypeWithName(gv.WithKind("Second"), &twoKinds{})

	app := core.NewApp(nil)
	chart := kube.NewChart(app, "apps", &kube.ChartProps{Dir: "kubernetes/apps"})
	kube.NewObject(chart, "unset", &twoKinds{corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unset"}}})
	set := &twoKinds{corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "set"}}}
	set.SetGroupVersionKind(gv.WithKind("Second"))
	o := kube.NewObject(chart, "set", set)
	err := app.Tree().Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "apps/unset")
	assert.Contains(t, err.Error(), "set apiVersion and kind")
	assert.NotContains(t, err.Error(), "apps/set")
	m, err := o.Manifest()
	require.NoError(t, err)
	assert.Equal(t, "Second", m["kind"])
}
