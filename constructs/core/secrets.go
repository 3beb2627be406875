package core

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// SecretDecl is a Secret the tree declares (its values live encrypted
// outside the tree).
type SecretDecl struct {
	Namespace, Name string
	// Keys the Secret holds.
	Keys []string
	// Source is the declaring construct's path.
	Source string
	// Pending is true when the encrypted store has no value for it yet.
	Pending bool
	// Missing are the keys without a value when the store has the
	// Secret but not all of its keys.
	Missing []string
	// Store names the external secret store the Secret comes from (a
	// ClusterSecretStore, see package externalsecrets); "" for one kept
	// encrypted with SOPS. External says where in the store
	// ("vault: homelab/wiki").
	Store, External string
}

// SecretStore is an external secret store the tree provides (a
// ClusterSecretStore).
type SecretStore struct {
	// Name of the store, which secrets name.
	Name string
	// Kind of backend ("Vault at https://vault.home.arpa:8200").
	Kind string
	// Source is the declaring construct's path.
	Source string
}

// SecretRef is a use of a Secret key by a construct ("" Key: the whole Secret).
type SecretRef struct {
	Namespace, Name, Key string
	// Source is the referring construct's path.
	Source string
}

// Secrets are the Secrets a tree declares and the references to them
// (core.Secrets.Of(tree).Declare(decl), .Refer(ref)).
var Secrets = NewTreeFacet("core/secrets", func(t *Tree) *SecretBook { return &SecretBook{t: t} })

// SecretBook holds a tree's Secret declarations and references.
type SecretBook struct {
	t      *Tree
	decls  []SecretDecl
	refs   []SecretRef
	stores []SecretStore
}

// DeclareStore records an external secret store the tree provides.
func (b *SecretBook) DeclareStore(s SecretStore) {
	b.stores = append(b.stores, s)
	b.t.AddCheck("core/secret-refs", b.checkRefs)
}

// Stores returns the declared external secret stores in order.
func (b *SecretBook) Stores() []SecretStore { return slices.Clone(b.stores) }

// Declare records a Secret the tree provides.
func (b *SecretBook) Declare(d SecretDecl) {
	b.decls = append(b.decls, d)
	b.t.AddCheck("core/secret-refs", b.checkRefs)
}

// Refer records that a construct uses a Secret.
func (b *SecretBook) Refer(r SecretRef) {
	b.refs = append(b.refs, r)
	b.t.AddCheck("core/secret-refs", b.checkRefs)
}

// All returns the declared Secrets in declaration order.
func (b *SecretBook) All() []SecretDecl { return slices.Clone(b.decls) }

// checkRefs refuses a reference to a Secret, or a key, that no construct
// declares: the pod would never start; and a Secret from an external
// store the tree does not have: the operator would never make it.
func (b *SecretBook) checkRefs() []error {
	errs := b.Check(b.refs)
	var names []string
	for _, s := range b.stores {
		names = append(names, s.Name)
	}
	for _, d := range b.decls {
		if d.Store == "" || slices.Contains(names, d.Store) {
			continue
		}
		fix := fmt.Sprintf("name one of the homelab's stores (%s)", strings.Join(names, ", "))
		if len(names) == 0 {
			fix = fmt.Sprintf("run the external secrets part with a store named %q (externalsecrets.Part with VaultProps.Store %q)", d.Store, d.Store)
		}
		errs = append(errs, Errorf(d.Source, fix, "secret %s/%s comes from the secret store %q, which the homelab does not have", d.Namespace, d.Name, d.Store))
	}
	return errs
}

// Check returns a problem for each reference to a Secret, or a key, that
// no construct declares and that is not declared external
// (Tree.DeclareExternal). Tree-wide checks that find references
// themselves (in pod specs) use it; constructs record theirs with Refer.
func (b *SecretBook) Check(refs []SecretRef) []error {
	t := b.t
	decls := map[string]SecretDecl{}
	for _, d := range b.decls {
		decls[d.Namespace+"/"+d.Name] = d
	}
	var errs []error
	for _, r := range refs {
		d, ok := decls[r.Namespace+"/"+r.Name]
		if !ok && t.IsExternal(ObjectID{Kind: "Secret", Namespace: r.Namespace, Name: r.Name}) {
			continue
		}
		if !ok {
			var names []string
			for k := range decls {
				if strings.HasPrefix(k, r.Namespace+"/") {
					names = append(names, k)
				}
			}
			sort.Strings(names)
			fix := fmt.Sprintf("declare it with secret.New (namespace %q has: %s)", r.Namespace, strings.Join(names, ", "))
			if len(names) == 0 {
				fix = fmt.Sprintf("declare it with secret.New in namespace %q", r.Namespace)
			}
			errs = append(errs, Errorf(r.Source, fix, "secret %s/%s is referenced but no construct declares it", r.Namespace, r.Name))
			continue
		}
		if r.Key == "" {
			continue
		}
		found := false
		for _, k := range d.Keys {
			found = found || k == r.Key
		}
		if !found {
			errs = append(errs, Errorf(r.Source, fmt.Sprintf("use one of its keys (%s) or add %q to its declaration at %q", strings.Join(d.Keys, ", "), r.Key, d.Source),
				"secret %s/%s has no key %q", r.Namespace, r.Name, r.Key))
		}
	}
	return errs
}

// ChartFile is a file a construct renders into its chart's directory and
// kustomization.yaml (an encrypted Secret), rather than an object.
type ChartFile struct {
	// Owner is the construct; its chart decides the directory.
	Owner *Info
	// Name of the file ("grafana-admin.sops.yaml").
	Name string
	// NeedsDecryption marks SOPS-encrypted content: the Flux Kustomization
	// applying it must decrypt.
	NeedsDecryption bool
	// Content returns the file's bytes; ok false leaves the file out.
	Content func() (data []byte, ok bool)
}

// AddChartFile registers a chart file.
func (t *Tree) AddChartFile(f ChartFile) { t.chartFiles = append(t.chartFiles, f) }

// ChartFiles returns the chart files in registration order.
func (t *Tree) ChartFiles() []ChartFile { return append([]ChartFile(nil), t.chartFiles...) }
