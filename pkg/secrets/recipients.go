package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"

	"filippo.io/age"
)

// Repo is the set of encrypted files of a repository: the Secret store,
// the Talos secrets bundle and the SOPS rules naming their recipients.
type Repo struct {
	Store        Store
	TalosSecrets string
	SopsConfig   string
	// ClusterKey is the cluster's age key file (ClusterKeyPath).
	ClusterKey string
}

// RekeyResult lists what SetRecipients changed.
type RekeyResult struct {
	// Files are the re-encrypted files, in path order.
	Files []string
	// Recipients is the new recipient list.
	Recipients []string
}

// AddRecipient makes recipient (an age public key) able to decrypt every
// file: see SetRecipients.
func (r Repo) AddRecipient(recipient string, id *Identity) (*RekeyResult, error) {
	if _, err := age.ParseX25519Recipient(recipient); err != nil {
		return nil, fmt.Errorf("%q is not an age public key (age1...): %w", recipient, err)
	}
	cfg, err := LoadSopsConfig(r.SopsConfig)
	if err != nil {
		return nil, err
	}
	if err := r.mayChange(cfg, id); err != nil {
		return nil, err
	}
	if slices.Contains(cfg.Recipients(), recipient) {
		return nil, fmt.Errorf("%s already lists %s", r.SopsConfig, recipient)
	}
	return r.SetRecipients(append(cfg.Recipients(), recipient), id)
}

// RemoveRecipient stops recipient from decrypting the files from now on
// (Git history keeps the old encryptions: rotate the values it could read).
func (r Repo) RemoveRecipient(recipient string, id *Identity) (*RekeyResult, error) {
	cfg, err := LoadSopsConfig(r.SopsConfig)
	if err != nil {
		return nil, err
	}
	if err := r.mayChange(cfg, id); err != nil {
		return nil, err
	}
	rest := slices.DeleteFunc(slices.Clone(cfg.Recipients()), func(s string) bool { return s == recipient })
	switch {
	case len(rest) == len(cfg.Recipients()):
		return nil, fmt.Errorf("%s does not list %s", r.SopsConfig, recipient)
	case len(rest) == 0:
		return nil, fmt.Errorf("%s is the last recipient: removing it would leave nobody able to decrypt", recipient)
	case recipient == id.Recipient:
		return nil, errors.New("you cannot remove your own key: ask another recipient to remove it")
	}
	return r.SetRecipients(rest, id)
}

// mayChange refuses an identity that is not a recipient itself: it could
// not decrypt the files to re-encrypt them.
func (r Repo) mayChange(cfg SopsConfig, id *Identity) error {
	if !slices.Contains(cfg.Recipients(), id.Recipient) {
		return fmt.Errorf("%s does not list your key %s, so it cannot decrypt the files to re-encrypt them: ask a listed recipient to run this", r.SopsConfig, id.Recipient)
	}
	return nil
}

// SetRecipients makes operators the operators' keys: it re-encrypts the
// Talos bundle and the cluster key for them, and every Kubernetes Secret
// for them plus the cluster key, then rewrites the SOPS rules. Every file
// is decrypted with id and re-encrypted in memory first; nothing is
// written unless all of them succeed.
func (r Repo) SetRecipients(operators []string, id *Identity) (*RekeyResult, error) {
	cfg, err := LoadSopsConfig(r.SopsConfig)
	if err != nil {
		return nil, err
	}
	return r.rekey(operators, cfg.Cluster(), nil, id)
}

// RotateClusterKey gives the cluster a new age key: the key file is
// replaced (encrypted for the operators) and every Kubernetes Secret is
// re-encrypted for the operators and the new key. Run deploy afterwards
// to hand the new key to Flux; Git history stays readable with the old
// one, so rotate the values it could read too. secrets init uses it to
// create the first cluster key.
func (r Repo) RotateClusterKey(id *Identity) (*RekeyResult, error) {
	cfg, err := LoadSopsConfig(r.SopsConfig)
	if err != nil {
		return nil, err
	}
	if err := r.mayChange(cfg, id); err != nil {
		return nil, err
	}
	key, enc, err := newClusterKey(cfg.Recipients())
	if err != nil {
		return nil, err
	}
	return r.rekey(cfg.Recipients(), key.Recipient, enc, id)
}

// rekey re-encrypts every file for operators (and cluster, for the
// Kubernetes Secrets); newKey, when set, replaces the cluster key file.
// It holds the store's lock and commits through a journal (see commit):
// a crash leaves the old files or the new ones.
func (r Repo) rekey(operators []string, cluster string, newKey []byte, id *Identity) (*RekeyResult, error) {
	unlock, err := r.Store.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	secretsFor := slices.Clone(operators)
	if cluster != "" {
		secretsFor = append(secretsFor, cluster)
	}
	out := map[string][]byte{}
	opsOnly := []string{r.TalosSecrets, r.ClusterKey}
	for _, p := range opsOnly {
		if p == "" {
			continue
		}
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		enc, err := Rekey(data, id, operators)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out[p] = enc
	}
	if newKey != nil {
		if r.ClusterKey == "" {
			return nil, errors.New("no path for the cluster key")
		}
		out[r.ClusterKey] = newKey
	}
	entries, err := r.Store.Load()
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		// Only a Secret of the store is encrypted for the cluster: a
		// file that decrypts to anything else (a copy of the Talos
		// bundle placed here) stops the rekey, named.
		p := r.Store.Path(e.Namespace, e.Name)
		plain, err := Decrypt(e.Encrypted, id)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if _, err := decodeSecret(plain, e.Namespace, e.Name); err != nil {
			return nil, fmt.Errorf("%s: %w; nothing was re-encrypted: remove the file, or set its values again with `go run . secrets set`", p, err)
		}
		enc, err := Encrypt(plain, secretsFor, KubernetesEncryptedRegex)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out[p] = enc
	}
	paths := slices.Sorted(maps.Keys(out))
	cfg, err := NewSopsConfig(operators, cluster).Bytes()
	if err != nil {
		return nil, err
	}
	// .sops.yaml goes last: until it names the new cluster key, nothing
	// encrypts for it.
	out[r.SopsConfig] = cfg
	if err := r.commit(out, append(slices.Clone(paths), r.SopsConfig)); err != nil {
		return nil, fmt.Errorf("re-encrypting: %w (run any secrets command to finish or undo it)", err)
	}
	return &RekeyResult{Files: paths, Recipients: operators}, nil
}
