// Package secret declares the Kubernetes Secrets a homelab needs. Their
// values never enter the tree: a Source (the encrypted store, read by the
// CLI) supplies each Secret as a SOPS-encrypted manifest, which synth
// writes as it is, so unchanged secrets never churn in Git. A Secret
// with Props.External comes from an external secret store instead (Vault,
// through the External Secrets Operator, see package externalsecrets): it
// renders an ExternalSecret that makes the same Secret, name and keys, so
// nothing that reads it changes.
package secret

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/kube"
)

// External says where in an external secret store a Secret's values are.
type External struct {
	// Store is the ClusterSecretStore's name (externalsecrets.VaultProps.Store).
	Store string
	// Path is the secret's path in the store, below the store's KV mount
	// ("homelab/wiki" for `vault kv put secret/homelab/wiki ...`).
	Path string
	// Properties maps a key of the Secret to the property of the stored
	// secret that holds it; a key not listed reads the property of its
	// own name.
	Properties map[string]string
	// Refresh is how often the operator reads the store again (between
	// MinRefresh and MaxRefresh). Default: DefaultRefresh.
	Refresh time.Duration
}

// Bounds of External.Refresh: often enough that a rotated value arrives
// within a day, rarely enough not to load the store.
const (
	DefaultRefresh = time.Hour
	MinRefresh     = time.Minute
	MaxRefresh     = 24 * time.Hour
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
	// External takes the values from an external secret store instead of
	// the SOPS store (Source is then not read).
	External *External
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
	external  *External
}

// New declares a Secret below scope.
func New(scope constructs.Construct, id string, props *Props) *Secret {
	p := *cmp.Or(props, &Props{})
	s := &Secret{Name: cmp.Or(p.Name, id), Namespace: p.Namespace, Keys: slices.Clone(p.Keys), bootstrap: p.Bootstrap}
	s.info = core.Init(s, scope, id)
	if p.External != nil {
		e := *p.External
		e.Refresh = cmp.Or(e.Refresh, DefaultRefresh)
		s.external = &e
		t := s.info.Tree()
		core.Secrets.Of(t).Declare(core.SecretDecl{Namespace: s.Namespace, Name: s.Name, Keys: s.Keys, Source: s.info.Path(),
			Store: e.Store, External: e.Store + ": " + e.Path})
		if !s.bootstrap {
			s.externalSecret()
		}
		t.AddValidation(s.validate)
		return s
	}
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

// External reports where an external store holds the Secret, or nil for
// one kept with SOPS.
func (s *Secret) External() *External { return s.external }

// externalSecret renders the ExternalSecret (external-secrets.io/v1)
// that makes the Secret from its store: the same name and keys, owned by
// the ExternalSecret (creationPolicy Owner), kept if the ExternalSecret
// goes (deletionPolicy Retain: a store that stops answering never empties
// a running app's Secret).
func (s *Secret) externalSecret() {
	e := s.external
	var data []any
	for _, k := range s.Keys {
		data = append(data, map[string]any{
			"secretKey": k,
			"remoteRef": map[string]any{"key": e.Path, "property": cmp.Or(e.Properties[k], k)},
		})
	}
	kube.NewObject(s, "external-secret", &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "external-secrets.io/v1",
		"kind":       "ExternalSecret",
		"metadata":   map[string]any{"name": s.Name, "namespace": s.Namespace},
		"spec": map[string]any{
			"refreshInterval": e.Refresh.String(),
			"secretStoreRef":  map[string]any{"kind": "ClusterSecretStore", "name": e.Store},
			"target":          map[string]any{"name": s.Name, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
			"data":            data,
		},
	}})
}

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
	if e := s.external; e != nil {
		if e.Store == "" {
			errs = append(errs, core.Errorf(p, "set External.Store to the ClusterSecretStore's name", "secret %s/%s names no external store", s.Namespace, s.Name))
		}
		if e.Path == "" || strings.HasPrefix(e.Path, "/") {
			errs = append(errs, core.Errorf(p, `set External.Path to the secret's path below the store's mount ("homelab/wiki")`, "secret %s/%s has the external path %q", s.Namespace, s.Name, e.Path))
		}
		if len(s.Keys) == 0 {
			errs = append(errs, core.Errorf(p, "list the keys the Secret must hold in Props.Keys", "external secret %s/%s declares no keys: the operator would make an empty Secret", s.Namespace, s.Name))
		}
		if e.Refresh < MinRefresh || e.Refresh > MaxRefresh {
			errs = append(errs, core.Errorf(p, fmt.Sprintf("set External.Refresh between %s and %s (default %s)", MinRefresh, MaxRefresh, DefaultRefresh),
				"secret %s/%s refreshes every %s", s.Namespace, s.Name, e.Refresh))
		}
		for _, k := range slices.Sorted(maps.Keys(e.Properties)) {
			if !slices.Contains(s.Keys, k) {
				errs = append(errs, core.Errorf(p, fmt.Sprintf("map one of its keys (%s), or add %q to Props.Keys", strings.Join(s.Keys, ", "), k),
					"secret %s/%s maps the key %q, which it does not declare", s.Namespace, s.Name, k))
			}
		}
		if s.bootstrap {
			errs = append(errs, core.Errorf(p, "keep a bootstrap Secret in the SOPS store (drop External)",
				"secret %s/%s is applied by the deployer before Flux, so before the operator that would read it from %q runs", s.Namespace, s.Name, e.Store))
		}
	}
	if len(s.encrypted) > 0 && !strings.Contains(string(s.encrypted), "\nsops:") {
		errs = append(errs, core.Errorf(p, "re-set it with `go run . secrets set`", "secret %s/%s in the store is not SOPS-encrypted", s.Namespace, s.Name))
	}
	return errs
}
