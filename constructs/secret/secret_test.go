package secret_test

import (
	"strings"
	"testing"
	"time"

	"github.com/funoffshore/homelab/constructs/core"
	"github.com/funoffshore/homelab/constructs/secret"
)

// source is a store holding one Secret with some keys.
type source struct {
	namespace, name string
	keys            []string
}

func (s source) Lookup(namespace, name string) ([]byte, []string, bool) {
	if namespace != s.namespace || name != s.name {
		return nil, nil, false
	}
	return []byte("encrypted"), s.keys, true
}

// TestBlockerNamesTheMissingKeys: a Secret the store holds with one of its
// two keys is reported by the key that has no value, with the one command
// that sets it; a Secret the store lacks names every key.
func TestBlockerNamesTheMissingKeys(t *testing.T) {
	app := core.NewApp(nil)
	src := source{namespace: "apps", name: "db", keys: []string{"user"}}
	secret.New(app, "db", &secret.Props{Namespace: "apps", Keys: []string{"user", "password"}, Source: src})
	secret.New(app, "other", &secret.Props{Namespace: "apps", Keys: []string{"token"}, Source: src})
	var got []string
	for _, b := range core.Blockers.Of(app.Tree()).All() {
		got = append(got, b.String())
	}
	want := []string{
		"db: secret apps/db has no value for key(s) password in the store; set each key (see docs/secrets.md): go run . secrets set apps/db password < FILE",
		"other: secret apps/other has no value in the store; set each key (see docs/secrets.md): go run . secrets set apps/other token < FILE",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("blockers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// An external Secret is no blocker (its value is in the store's server,
// not in Git), and each rule of its class is refused with the path, the
// value and the fix: no store of that name, no path, no keys, a refresh
// out of bounds, a property for an undeclared key, a bootstrap Secret.
func TestExternalValidation(t *testing.T) {
	ext := func(e secret.External) *secret.External { return &e }
	for _, c := range []struct {
		name  string
		props secret.Props
		want  string
	}{
		{"no such store", secret.Props{Namespace: "apps", Keys: []string{"k"}, External: ext(secret.External{Store: "bao", Path: "a/b"})},
			`db: secret apps/db comes from the secret store "bao", which the homelab does not have; name one of the homelab's stores (vault)`},
		{"no path", secret.Props{Namespace: "apps", Keys: []string{"k"}, External: ext(secret.External{Store: "vault"})},
			`db: secret apps/db has the external path ""; set External.Path to the secret's path below the store's mount ("homelab/wiki")`},
		{"no keys", secret.Props{Namespace: "apps", External: ext(secret.External{Store: "vault", Path: "a/b"})},
			"db: external secret apps/db declares no keys: the operator would make an empty Secret; list the keys the Secret must hold in Props.Keys"},
		{"refresh too often", secret.Props{Namespace: "apps", Keys: []string{"k"}, External: ext(secret.External{Store: "vault", Path: "a/b", Refresh: 10 * time.Second})},
			"db: secret apps/db refreshes every 10s; set External.Refresh between 1m0s and 24h0m0s (default 1h0m0s)"},
		{"a property for no key", secret.Props{Namespace: "apps", Keys: []string{"k"}, External: ext(secret.External{Store: "vault", Path: "a/b", Properties: map[string]string{"x": "y"}})},
			`db: secret apps/db maps the key "x", which it does not declare; map one of its keys (k), or add "x" to Props.Keys`},
		{"bootstrap", secret.Props{Namespace: "flux-system", Keys: []string{"k"}, Bootstrap: true, External: ext(secret.External{Store: "vault", Path: "a/b"})},
			`db: secret flux-system/db is applied by the deployer before Flux, so before the operator that would read it from "vault" runs; keep a bootstrap Secret in the SOPS store (drop External)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			app := core.NewApp(nil)
			core.Secrets.Of(app.Tree()).DeclareStore(core.SecretStore{Name: "vault", Source: "vault-store"})
			s := secret.New(app, "db", &c.props)
			err := app.Tree().Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant %s", err, c.want)
			}
			if s.Pending || len(core.Blockers.Of(app.Tree()).All()) != 0 {
				t.Errorf("an external Secret is pending or blocks: %v", core.Blockers.Of(app.Tree()).All())
			}
		})
	}
}
