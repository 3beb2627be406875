package core

import (
	"fmt"
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
}

// SecretRef is a use of a Secret key by a construct ("" Key: the whole Secret).
type SecretRef struct {
	Namespace, Name, Key string
	// Source is the referring construct's path.
	Source string
}

// DeclareSecret records a Secret the tree provides.
func (t *Tree) DeclareSecret(d SecretDecl) {
	t.secretDecls = append(t.secretDecls, d)
	t.AddCheck("core/secret-refs", t.checkSecretRefs)
}

// ReferSecret records that a construct uses a Secret.
func (t *Tree) ReferSecret(r SecretRef) {
	t.secretRefs = append(t.secretRefs, r)
	t.AddCheck("core/secret-refs", t.checkSecretRefs)
}

// Secrets returns the declared Secrets in declaration order.
func (t *Tree) Secrets() []SecretDecl { return append([]SecretDecl(nil), t.secretDecls...) }

// checkSecretRefs refuses a reference to a Secret, or a key, that no
// construct declares: the pod would never start.
func (t *Tree) checkSecretRefs() []error { return t.CheckSecretRefs(t.secretRefs) }

// CheckSecretRefs returns a problem for each reference to a Secret, or a
// key, that no construct declares and that is not declared external
// (DeclareExternal). Tree-wide checks that find references themselves
// (in pod specs) use it; constructs record theirs with ReferSecret.
func (t *Tree) CheckSecretRefs(refs []SecretRef) []error {
	decls := map[string]SecretDecl{}
	for _, d := range t.secretDecls {
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
