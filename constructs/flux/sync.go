package flux

import (
	"cmp"
	"fmt"
	"path"
	"regexp"
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
)

// GitRepository is a Flux GitRepository source.
type GitRepository struct {
	*kube.Object
	// Spec is the GitRepository after defaults.
	Spec *sourcev1.GitRepository
}

// SyncProps configures Sync.
type SyncProps struct {
	// URL of the Git repository Flux pulls, such as
	// "ssh://git@github.com/funoffshore/homelab". Required.
	URL string
	// Branch to follow. Default: "main".
	Branch string
	// SecretName of the Secret holding the Git credentials. Default:
	// "flux-system" (the one `homelab deploy` creates).
	SecretName string
	// Chart the root Kustomization applies: the directory holding the
	// Flux install and the other Kustomizations. Required.
	Chart *kube.Chart
	// Namespace of Flux. Default: "flux-system".
	Namespace string
	// Interval between Git fetches. Default: 1m.
	Interval time.Duration
	// Install whose controllers the root Kustomization health-checks.
	// The root never waits on everything it applies: it applies the other
	// Kustomizations, which depend on it, and waiting for them would
	// deadlock.
	Install *Install
}

// Sync is gotk-sync: the GitRepository Flux pulls and the root
// Kustomization "flux-system" that applies the Flux directory (and with it
// every other Kustomization).
type Sync struct {
	constructs.Construct
	info *core.Info

	// Repository is the GitRepository.
	Repository *GitRepository
	// Root is the root Kustomization.
	Root *Kustomization
}

// NewSync adds the GitRepository and root Kustomization below scope.
func NewSync(scope constructs.Construct, id string, props *SyncProps) *Sync {
	props = cmp.Or(props, &SyncProps{})
	ns := cmp.Or(props.Namespace, "flux-system")
	s := &Sync{}
	s.info = core.Init(s, scope, id)
	if first := syncs.Of(s.info.Tree()); first.sync == nil {
		first.sync = s
	}
	// Flux runs in ns before it applies anything of the tree: the
	// namespace exists whether or not the tree's Install declares it.
	s.info.Tree().DeclareExternal(core.ObjectID{Kind: "Namespace", Name: ns}, "Flux runs in it")
	repo := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: ns, Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{
			URL:       props.URL,
			Interval:  metav1.Duration{Duration: cmp.Or(props.Interval, time.Minute)},
			Reference: &sourcev1.GitRepositoryRef{Branch: cmp.Or(props.Branch, "main")},
			SecretRef: &meta.LocalObjectReference{Name: cmp.Or(props.SecretName, "flux-system")},
		},
	}
	s.Repository = &GitRepository{Object: kube.NewObject(s, "repository", repo), Spec: repo}
	wait := false
	kp := &KustomizationProps{Name: ns, Namespace: ns, Chart: props.Chart, Source: s.Repository, Wait: &wait}
	if props.Install != nil {
		for _, c := range Controllers() {
			kp.HealthChecks = append(kp.HealthChecks, meta.NamespacedObjectKindReference{
				APIVersion: "apps/v1", Kind: "Deployment", Name: c, Namespace: props.Install.Namespace,
			})
		}
	}
	if props.Chart == nil {
		kp.Path = "./" + path.Join(s.info.Tree().RepoDir(), "kubernetes/flux")
	}
	s.Root = NewKustomization(s, "root", kp)
	s.info.Tree().AddValidation(func() []error {
		if props.URL == "" {
			return []error{core.Errorf(s.info.Path(), "set SyncProps.URL to the repository Flux pulls, such as \"ssh://git@github.com/OWNER/REPO\"", "Git repository URL is empty")}
		}
		return checkGitURL(s.info.Path(), props.URL)
	})
	return s
}

// Info returns the construct's place in the tree.
func (s *Sync) Info() *core.Info { return s.info }

// ToString overrides the jsii method; it returns the construct path.
func (s *Sync) ToString() *string { return core.PathString(s.info) }

// syncs holds a tree's first Sync.
var syncs = core.NewFacet("flux/sync", func() *struct{ sync *Sync } { return &struct{ sync *Sync }{} })

// SyncOf returns the tree's Sync (the first one made), or nil.
func SyncOf(t *core.Tree) *Sync {
	if first, ok := syncs.Peek(t); ok {
		return first.sync
	}
	return nil
}

// File returns the file synth writes the sync to (gotk-sync.yaml in its
// chart's directory), relative to the output root.
func (s *Sync) File() string { return s.info.File() }

// scpLike matches Git's scp-like syntax, [user@]host:path.
var scpLike = regexp.MustCompile(`^([A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+):([^/].*)$`)

// checkGitURL refuses a repository URL that Flux's GitRepository CRD
// refuses (its spec.url pattern, read from the embedded CRD): an
// scp-like "git@host:owner/repo" renders, and the API server rejects the
// object when Flux applies it. The fix gives the ssh:// form.
func checkGitURL(path, url string) []error {
	pattern, err := SpecPattern("gitrepositories.source.toolkit.fluxcd.io", "v1", "url")
	if err != nil {
		return []error{core.Errorf(path, "report this: the embedded Flux CRDs are broken", "%v", err)}
	}
	if pattern.MatchString(url) {
		return nil
	}
	fix := "use an ssh://, https:// or http:// URL"
	if m := scpLike.FindStringSubmatch(url); m != nil {
		fix = fmt.Sprintf("write it as ssh://%s%s/%s", m[1], m[2], m[3])
	}
	return []error{core.Errorf(path, fix, "Git repository URL %q does not match %s, the pattern of Flux's GitRepository spec.url", url, pattern)}
}
