package installer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"ferry/installer/state"
)

// outcome is what recovery must make of a host after a crash, worked out
// from the journal before recovery runs, so that a recovery going the
// wrong way (committing what had not reached its commit point, or rolling
// back what had) fails the crash tests instead of passing as "old or new".
type outcome struct {
	// txn is the interrupted transaction; its ID is 0 when none was open
	// (the crash came before it began or after it ended).
	txn state.Txn
	// committed says txn had reached its commit point.
	committed bool
	// current is the release recovery must leave current ("" for none).
	current string
}

// expectOutcome reads root's journal as the crash left it. An install's
// commit point is its checks' step journalled done, after activation; a
// rollback's is its activation, the state naming its target current. An
// interrupted transaction that reached it is committed, any other goes
// back to the release its journal says was current when it began.
func expectOutcome(t *testing.T, root string) outcome {
	t.Helper()
	db, err := state.OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	current, err := db.Current()
	if err != nil {
		t.Fatal(err)
	}
	txn, open, err := db.OpenTxn()
	if err != nil {
		t.Fatal(err)
	}
	if !open {
		return outcome{current: current}
	}
	steps, err := db.Steps(txn.ID)
	if err != nil {
		t.Fatal(err)
	}
	previous, checked, journalled := "", false, false
	for _, s := range steps {
		switch s.Name {
		case "previous":
			previous, journalled = s.Detail, true
		case "checks":
			checked = s.Phase == state.PhaseDone
		}
	}
	if !journalled {
		// Killed as it began: nothing was done yet.
		previous = current
	}
	o := outcome{txn: txn, current: previous}
	switch txn.Kind {
	case "install", txnConfig:
		o.committed = checked
	case "rollback":
		o.committed = current == txn.Version
	default:
		t.Fatalf("transaction %d is of kind %q", txn.ID, txn.Kind)
	}
	if o.committed {
		o.current = txn.Version
	}
	return o
}

// recoverRoot runs a command that recovers and then changes nothing: a
// rollback to a release that was never installed.
func recoverRoot(t *testing.T, root string) {
	t.Helper()
	if _, err := Rollback(context.Background(), root, RollbackOptions{To: "0.0.0-none"}); !errors.Is(err, ErrNoRelease) {
		t.Fatalf("recovering command: %v", err)
	}
}

// checkOutcome: after recovery, the host is as want says, in the state,
// on disk and in the journal.
func checkOutcome(t *testing.T, root string, want outcome) {
	t.Helper()
	db, err := state.OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	what := "no transaction open"
	if want.txn.ID != 0 {
		what = want.txn.Kind + " of " + want.txn.Version + " rolled back"
		if want.committed {
			what = want.txn.Kind + " of " + want.txn.Version + " committed"
		}
	}
	current, err := db.Current()
	if err != nil {
		t.Fatal(err)
	}
	if current != want.current {
		t.Fatalf("recovered to %q, want %q (%s)", current, want.current, what)
	}
	link, err := os.Readlink(filepath.Join(root, "current"))
	switch {
	case want.current == "" && !errors.Is(err, os.ErrNotExist):
		t.Fatalf("current -> %q (%v), want no link (%s)", link, err, what)
	case want.current != "" && link != filepath.Join("releases", want.current):
		t.Fatalf("current -> %q (%v), want releases/%s (%s)", link, err, want.current, what)
	}
	if _, open, _ := db.OpenTxn(); open {
		t.Fatalf("a transaction is still open (%s)", what)
	}
	if want.txn.ID == 0 {
		return
	}
	txns, err := db.Txns()
	if err != nil {
		t.Fatal(err)
	}
	var got state.Txn
	for _, x := range txns {
		if x.ID == want.txn.ID {
			got = x
		}
	}
	if wantState := map[bool]string{true: "committed", false: "aborted"}[want.committed]; got.State != wantState {
		t.Fatalf("transaction %d ended %q, want %q (%s)", want.txn.ID, got.State, wantState, what)
	}
	if want.current != "" {
		if rel, err := db.Release(want.current); err != nil || rel.Status != statusActive {
			t.Fatalf("release %s: status %q (%v), want %s (%s)", want.current, rel.Status, err, statusActive, what)
		}
	}
	v := want.txn.Version
	switch {
	case want.txn.Kind == "install" && want.committed:
		if mark, _ := db.Mark(highestMark); string(mark) != v {
			t.Fatalf("high-water mark %q, want %s (%s)", mark, v, what)
		}
	case want.txn.Kind == "install" || (want.txn.Kind == txnConfig && !want.committed):
		if _, err := db.Release(v); !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("release %s is still recorded (%v) (%s)", v, err, what)
		}
		if _, err := os.Stat(releaseDir(root, v)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("release directory %s is still there (%v) (%s)", v, err, what)
		}
		if mark, _ := db.Mark(highestMark); string(mark) == v {
			t.Fatalf("high-water mark raised to %s (%s)", v, what)
		}
	case want.txn.Kind == "rollback":
		// Its target is a kept release, rolled back to or not.
		if _, err := os.Stat(releaseDir(root, v)); err != nil {
			t.Fatalf("the kept release %s: %v (%s)", v, err, what)
		}
	}
}

// crashAndRecover: after a crash, recovery does what the journal says it
// must; it returns what it was.
func crashAndRecover(t *testing.T, root string) outcome {
	t.Helper()
	want := expectOutcome(t, root)
	recoverRoot(t, root)
	checkOutcome(t, root, want)
	return want
}
