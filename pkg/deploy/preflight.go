package deploy

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/funoffshore/homelab/constructs/flux"
	"github.com/funoffshore/homelab/pkg/manifest"
	"github.com/funoffshore/homelab/pkg/secrets"
)

// SecretsPreflight checks, before Flux is bootstrapped or changed, that
// Flux will decrypt every encrypted file it applies: the cluster key
// (ageKey, what the deployer uploads as the sops-age Secret) decrypts
// each SOPS file below kubernetes/, and the Flux Kustomization that
// applies it decrypts with SOPS and that Secret. Each problem names the
// file; all are returned at once. repoDir is where the rendered tree sits
// in Git ("cluster").
func SecretsPreflight(files map[string][]byte, ageKey, repoDir string) error {
	var encrypted []string
	var objs []*unstructured.Unstructured
	for p, data := range files {
		if !strings.HasPrefix(p, "kubernetes/") {
			continue
		}
		if strings.HasSuffix(p, ".sops.yaml") {
			encrypted = append(encrypted, p)
			continue
		}
		if path.Base(p) == "kustomization.yaml" {
			continue
		}
		decoded, err := manifest.Decode(data)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		objs = append(objs, decoded...)
	}
	if len(encrypted) == 0 {
		return nil
	}
	slices.Sort(encrypted)
	id, err := secrets.IdentityFromKey(ageKey)
	if err != nil {
		return fmt.Errorf("the cluster key for Flux: %w; run `go run . secrets init`", err)
	}
	ks := manifest.FluxKustomizations(objs, repoDir)
	var problems []string
	for _, p := range encrypted {
		if _, err := secrets.Decrypt(files[p], id); err != nil {
			problems = append(problems, fmt.Sprintf("%s: the cluster key (%s) cannot decrypt it, so Flux could not apply it (%v); run `go run . secrets rotate` (every Secret re-encrypted for the operators and the cluster key), then `go run . synth`",
				p, id.Recipient, err))
		}
		k, ok := manifest.Owner(ks, p)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: no Flux Kustomization applies this encrypted file; point one at its directory", p))
		case k.DecryptionProvider != flux.DecryptionProvider || k.DecryptionSecret != flux.DecryptionSecret:
			problems = append(problems, fmt.Sprintf("%s: Flux Kustomization %s applies it but decrypts with provider %q and Secret %q; it needs decryption {provider: %s, secretRef: {name: %s}}, the Secret the deployer uploads",
				p, k.ID, k.DecryptionProvider, k.DecryptionSecret, flux.DecryptionProvider, flux.DecryptionSecret))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("secrets preflight: Flux would fail on %d encrypted file(s):\n  - %s", len(problems), strings.Join(problems, "\n  - "))
	}
	return nil
}
