package installer

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"ferry/installer/state"
	"ferry/verify"
)

func keyID(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	k, err := verify.ParsePublicKey(pubPEM(t, key))
	if err != nil {
		t.Fatal(err)
	}
	return k.ID()
}

// hostTrust is the host's trusted key IDs and rotation sequence.
func hostTrust(t *testing.T, root string) ([]string, int) {
	t.Helper()
	db, err := state.OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys, err := db.Trust()
	if err != nil {
		t.Fatal(err)
	}
	rot, err := db.TrustRotation()
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyDerived(db); err != nil {
		t.Errorf("the state does not match its audit log: %v", err)
	}
	var ids []string
	for id := range keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, rot.Sequence
}

// TestCrashLoopRotation kills the install of a bundle that rotates the
// release key at every journalled step, the commit among them, and lets
// the next start recover: the host is on the new release with the new key
// if the install had reached its commit point, and on the old release with
// the old key if not; never the new release with the old trust.
func TestCrashLoopRotation(t *testing.T) {
	dir := t.TempDir()
	oldPriv, newPriv := newKey(t), newKey(t)
	oldID, newID := keyID(t, oldPriv), keyID(t, newPriv)
	statement, err := verify.SignRotation(1, 1, [][]byte{pubPEM(t, newPriv)}, time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC), signerOf(t, oldPriv))
	if err != nil {
		t.Fatal(err)
	}
	b1 := buildSigned(t, dir, "1.0.0", oldPriv, 4<<10)
	b2 := buildSigned(t, dir, "1.1.0", newPriv, 4<<10, statement)

	crashes, outcomes := 0, map[bool]int{}
	for k := 1; ; k++ {
		root := filepath.Join(dir, fmt.Sprintf("root-%d", k))
		if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
			t.Fatal(err)
		}
		if !installInChild(t, root, b2.path, k, 0, nil) {
			break
		}
		crashes++
		// The next start commits the install, trust included, if it had
		// reached its commit point, and leaves the old release with the
		// old key if not.
		o := crashAndRecover(t, root)
		outcomes[o.committed]++
		ids, seq := hostTrust(t, root)
		if o.committed && (!slices.Equal(ids, []string{newID}) || seq != 1) ||
			!o.committed && (!slices.Equal(ids, []string{oldID}) || seq != 0) {
			t.Fatalf("crash at step %d, recovered to %s: trusting %v at rotation %d", k, o.current, ids, seq)
		}
		if _, err := Install(context.Background(), b2.path, Options{Root: root}); err != nil {
			t.Fatalf("crash at step %d, then install: %v", k, err)
		}
		checkInstalled(t, root, b2.res.Manifest)
		if ids, seq := hostTrust(t, root); !slices.Equal(ids, []string{newID}) || seq != 1 {
			t.Fatalf("crash at step %d, then install: trusting %v at rotation %d", k, ids, seq)
		}
	}
	if crashes < 5 || outcomes[true] == 0 || outcomes[false] == 0 {
		t.Fatalf("only %d crash points (%d committed, %d rolled back)", crashes, outcomes[true], outcomes[false])
	}
}
