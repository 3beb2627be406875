// Package secret declares the Kubernetes Secrets a homelab needs. Their
// values never enter the tree: a Source (the encrypted store, read by the
// CLI) supplies each Secret as a SOPS-encrypted manifest, which synth
// writes as it is, so unchanged secrets never churn in Git.
package secret

import (
	"cmp"
	"slices"
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"

	"github.com/funoffshore/homelab/constructs/core"
)

// Source supplies encrypted Secret manifests.
type Source interface {
	// Lookup returns the encrypted manifest of namespace/name and its data
	// keys, or ok false when the store has none.
	Lookup(namespace, name string) (encrypted []byte, keys []string, ok bool)
}

// Props configures a Secret.
type Props struct {
	// Name and Namespace of the Secret. Name defaults to the construct id.
	Name, Namespace string
	// Keys the Secret must hold.
	Keys []string
	// Source of the encrypted values; nil means an empty store.
	Source Source
	// Bootstrap marks a Secret the deployer applies before Flux runs (the
	// Flux Git credentials); it is not rendered into the tree.
	Bootstrap bool
}

// Secret is a Kubernetes Secret whose values are SOPS-encrypted in the
// store. When the store has it, its encrypted manifest is written to the
// chart's directory (and Flux decrypts it); when it does not, the Secret is
// pending: `homelab validate` lists it with the command that sets it.
type Secret struct {
	constructs.Construct
	info *core.Info

	// Name, Namespace and Keys after defaults.
	Name, Namespace string
	Keys            []string
	// Pending is true when the store has no such Secret, or lacks a key.
	Pending bool

	encrypted []byte
	storeKeys []string
	bootstrap bool
}

// New declares a Secret below scope.
func New(scope constructs.Construct, id string, props *Props) *Secret {
	p := *cmp.Or(props, &Props{})
	s := &Secret{Name: cmp.Or(p.Name, id), Namespace: p.Namespace, Keys: slices.Clone(p.Keys), bootstrap: p.Bootstrap}
	s.info = core.Init(s, scope, id)
	if p.Source != nil {
		var ok bool
		s.encrypted, s.storeKeys, ok = p.Source.Lookup(s.Namespace, s.Name)
		s.Pending = !ok
	} else {
		s.Pending = true
	}
	var missing []string
	for _, k := range s.Keys {
		if !slices.Contains(s.storeKeys, k) {
			s.Pending = true
			missing = append(missing, k)
		}
	}
	t := s.info.Tree()
	core.Secrets.Of(t).Declare(core.SecretDecl{Namespace: s.Namespace, Name: s.Name, Keys: s.Keys, Source: s.info.Path(), Pending: s.Pending, Missing: missing})
	if !s.bootstrap {
		t.AddChartFile(core.ChartFile{Owner: s.info, Name: s.Name + ".sops.yaml", NeedsDecryption: true, Content: s.content})
	}
	t.AddValidation(s.validate)
	return s
}

// Info returns the construct's place in the tree.
func (s *Secret) Info() *core.Info { return s.info }

// ToString overrides the jsii method; it returns the construct path.
func (s *Secret) ToString() *string { return core.PathString(s.info) }

// Bootstrap reports whether the deployer applies the Secret.
func (s *Secret) Bootstrap() bool { return s.bootstrap }

// Env returns the environment variable name holding the Secret's key (a
// secretKeyRef): the short way for an app to read one of its keys. A key
// the Secret does not declare in Keys is refused by the tree's reference
// check, naming the app.
func (s *Secret) Env(name, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: s.Name}, Key: key}}}
}

// Ref returns the reference a construct records when it uses key.
func (s *Secret) Ref(key, source string) core.SecretRef {
	return core.SecretRef{Namespace: s.Namespace, Name: s.Name, Key: key, Source: source}
}

func (s *Secret) content() ([]byte, bool) {
	if len(s.encrypted) == 0 {
		return nil, false
	}
	return s.encrypted, true
}

func (s *Secret) validate() []error {
	var errs []error
	p := s.info.Path()
	if s.Namespace == "" {
		errs = append(errs, core.Errorf(p, "set Props.Namespace", "secret %q has no namespace", s.Name))
	}
	if len(s.encrypted) > 0 && !strings.Contains(string(s.encrypted), "\nsops:") {
		errs = append(errs, core.Errorf(p, "re-set it with `go run . secrets set`", "secret %s/%s in the store is not SOPS-encrypted", s.Namespace, s.Name))
	}
	return errs
}
