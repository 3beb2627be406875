package secret_test

import (
	"strings"
	"testing"

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
