// Package flux is the deployer's last layer and the only thing it applies
// to Kubernetes (the memo: no direct kubectl edits): the Flux install, the
// sops-age Secret and the Git credentials from the local encrypted store,
// and the Git sync, server-side applied with field manager "homelab"; then
// it waits until the flux-system Kustomization is ready. Objects already
// as desired are not written.
package flux

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/funoffshore/homelab/pkg/deploy/actionlog"
	"github.com/funoffshore/homelab/pkg/manifest"
)

// FieldManager owns every field the deployer applies.
const FieldManager = "homelab"

// Inputs are what the bootstrap applies, in order.
type Inputs struct {
	// Components is gotk-components.yaml, Sync is gotk-sync.yaml.
	Components, Sync []byte
	// AgeKey is the age identity's secret key line, for Flux to decrypt
	// the SOPS-encrypted Secrets (Secret flux-system/sops-age).
	AgeKey string
	// GitCredentials is the decrypted flux-system/flux-system Secret
	// manifest (identity, identity.pub, known_hosts).
	GitCredentials []byte
}

// Options configure Bootstrap.
type Options struct {
	// Log records every action (targets only, never values).
	Log *actionlog.Log
	// ReadyTimeout bounds the wait for the flux-system Kustomization.
	// Default: 10m.
	ReadyTimeout time.Duration
	// DryRun plans only: it lists what would change and writes nothing.
	DryRun bool
}

// Change is one object the bootstrap creates or updates.
type Change struct {
	Action, Object string
}

// Bootstrap applies in into the cluster behind c and waits for Flux. It
// returns the changes made (or, with DryRun, that would be made).
func Bootstrap(ctx context.Context, c client.Client, in Inputs, opts Options) ([]Change, error) {
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 10 * time.Minute
	}
	components, err := manifest.Decode(in.Components)
	if err != nil {
		return nil, fmt.Errorf("gotk-components.yaml: %w", err)
	}
	sync, err := manifest.Decode(in.Sync)
	if err != nil {
		return nil, fmt.Errorf("gotk-sync.yaml: %w", err)
	}
	if in.AgeKey == "" {
		return nil, errors.New("no age key for Flux: run `go run . secrets init`")
	}
	ageSecret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata":   map[string]any{"name": "sops-age", "namespace": "flux-system"},
		"stringData": map[string]any{"age.agekey": in.AgeKey + "\n"},
	}}
	git, err := manifest.Decode(in.GitCredentials)
	if err != nil || len(git) != 1 {
		return nil, errors.New("the Flux Git credentials (flux-system/flux-system) are not in the store: set identity, identity.pub and known_hosts with `go run . secrets set`")
	}
	var changes []Change
	steps := [][]*unstructured.Unstructured{components, {ageSecret}, git, sync}
	for _, step := range steps {
		for _, u := range step {
			ch, err := apply(ctx, c, u, opts)
			if err != nil {
				return changes, err
			}
			if ch != nil {
				changes = append(changes, *ch)
			}
			if u.GetKind() == "CustomResourceDefinition" && !opts.DryRun {
				if err := manifest.WaitEstablished(ctx, c, u.GetName(), time.Minute); err != nil {
					return changes, err
				}
			}
		}
	}
	if opts.DryRun {
		return changes, nil
	}
	// ready is the Kustomization's last Ready condition and getErr the last
	// error reading it, for the error on timeout: why it is not Ready is
	// what the operator needs (a read cut short by the deadline is not).
	ready, getErr := "", "not found"
	err = opts.Log.Record("flux", "Kustomization/flux-system/flux-system", "wait-ready", func() error {
		return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, opts.ReadyTimeout, true, func(ctx context.Context) (bool, error) {
			k := &unstructured.Unstructured{}
			k.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
			k.SetKind("Kustomization")
			if err := c.Get(ctx, types.NamespacedName{Namespace: "flux-system", Name: "flux-system"}, k); err != nil {
				getErr = err.Error()
				return false, nil
			}
			getErr = "no Ready condition yet"
			conds, _, _ := unstructured.NestedSlice(k.Object, "status", "conditions")
			for _, cond := range conds {
				m, _ := cond.(map[string]any)
				if m["type"] != "Ready" {
					continue
				}
				if m["status"] == "True" {
					return true, nil
				}
				ready = fmt.Sprintf("Ready=%v %v: %v", m["status"], m["reason"], m["message"])
			}
			return false, nil
		})
	})
	if err != nil {
		return changes, fmt.Errorf("flux-system Kustomization not ready after %s (last: %s): %w", opts.ReadyTimeout, cmp.Or(ready, getErr), err)
	}
	return changes, nil
}

// apply server-side applies u unless the cluster already holds it as
// desired (a dry-run apply changes nothing).
func apply(ctx context.Context, c client.Client, u *unstructured.Unstructured, opts Options) (*Change, error) {
	id := u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
	if u.GetNamespace() == "" {
		id = u.GetKind() + "/" + u.GetName()
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	err := c.Get(ctx, client.ObjectKeyFromObject(u), live)
	action := "update"
	switch {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		// Not there yet (or its CRD is not: a dry run on an empty cluster).
		action = "create"
	case err != nil:
		return nil, fmt.Errorf("%s: reading: %w", id, err)
	default:
		dry := u.DeepCopy()
		if err := c.Patch(ctx, dry, client.Apply, client.FieldOwner(FieldManager), client.ForceOwnership, client.DryRunAll); err != nil {
			return nil, fmt.Errorf("%s: dry-run apply: %w", id, err)
		}
		if sameContent(live, dry) {
			return nil, nil
		}
	}
	if opts.DryRun {
		return &Change{Action: action, Object: id}, nil
	}
	err = opts.Log.Record("flux", id, action, func() error {
		return c.Patch(ctx, u.DeepCopy(), client.Apply, client.FieldOwner(FieldManager), client.ForceOwnership)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: apply: %w", id, err)
	}
	return &Change{Action: action, Object: id}, nil
}

// sameContent compares two objects without the fields the server manages.
func sameContent(a, b *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		o := u.DeepCopy().Object
		unstructured.RemoveNestedField(o, "metadata", "managedFields")
		unstructured.RemoveNestedField(o, "metadata", "resourceVersion")
		unstructured.RemoveNestedField(o, "metadata", "generation")
		unstructured.RemoveNestedField(o, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(o, "metadata", "uid")
		unstructured.RemoveNestedField(o, "status")
		return o
	}
	return equality.Semantic.DeepEqual(strip(a), strip(b))
}

// AppliedRevision returns the Git revision the flux-system Kustomization
// last applied ("main@sha1:<hex>"), or "" when Flux has applied nothing
// yet (no such Kustomization, or none applied).
func AppliedRevision(ctx context.Context, c client.Client) (string, error) {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
	u.SetKind("Kustomization")
	err := c.Get(ctx, types.NamespacedName{Namespace: "flux-system", Name: "flux-system"}, u)
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the flux-system Kustomization: %w", err)
	}
	rev, _, _ := unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
	return rev, nil
}

// RevisionCommit is the commit of a Flux revision ("main@sha1:<hex>",
// or a bare hex of older Flux), or "".
func RevisionCommit(rev string) string {
	if _, after, ok := strings.Cut(rev, "@sha1:"); ok {
		return after
	}
	if _, after, ok := strings.Cut(rev, "/"); ok && len(after) == 40 {
		return after
	}
	return ""
}
