package installer

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"ferry/installer/state"
)

// TestHistoryNamesTrustedKeysByID checks that the first install's trust
// step shows in history as its threshold and key ids, not as the keys
// themselves: the journal record holds each key whole.
func TestHistoryNamesTrustedKeysByID(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	b := buildBundle(t, dir, "1.0.0", key)
	if _, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}}); err != nil {
		t.Fatal(err)
	}
	db, err := state.OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hist, err := ReadHistory(db)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, e := range hist {
		for _, s := range e.Steps {
			if s.Name == stepTrust {
				details = append(details, s.Detail)
			}
		}
	}
	if len(details) != 1 {
		t.Fatalf("trust steps in history: %q, want one", details)
	}
	want := "threshold 1, keys " + keyID(t, key)
	if details[0] != want {
		t.Errorf("trust step detail %q, want %q", details[0], want)
	}
	if strings.Contains(details[0], base64.StdEncoding.EncodeToString(b.pub)[:32]) {
		t.Errorf("trust step detail holds the key itself: %q", details[0])
	}
}
