package state

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestJournal(t *testing.T) {
	root, db := newRoot(t)
	if _, ok, err := db.OpenTxn(); ok || err != nil {
		t.Fatalf("OpenTxn on a new root = %t, %v", ok, err)
	}
	txn, err := db.BeginTxn("install", "1.0.0", "sha256:aaa")
	if err != nil {
		t.Fatal(err)
	}
	if txn.ID == 0 || txn.State != TxnOpen || txn.Started.IsZero() {
		t.Errorf("BeginTxn = %+v", txn)
	}
	if _, err := db.BeginTxn("update", "1.1.0", ""); !errors.Is(err, ErrTxnOpen) {
		t.Errorf("second BeginTxn: %v, want ErrTxnOpen", err)
	}

	record := func(name, phase string) {
		t.Helper()
		if err := db.RecordStep(txn.ID, name, phase, "detail of "+name); err != nil {
			t.Fatal(err)
		}
	}
	done := func(name string) bool {
		t.Helper()
		ok, err := db.StepDone(txn.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	record("images", PhaseStarted)
	if done("images") {
		t.Error("images done after only started")
	}
	record("images", PhaseDone)
	record("migrations", PhaseStarted)
	record("migrations", PhaseFailed)
	record("images", PhaseUndone)
	if done("images") || done("migrations") || done("never") {
		t.Error("StepDone true for a step whose last phase is not done")
	}
	record("files", PhaseStarted)
	record("files", PhaseDone)
	if !done("files") {
		t.Error("files not done")
	}
	if err := db.RecordStep(txn.ID, "files", "half", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown phase: %v, want ErrInvalid", err)
	}
	if err := db.RecordStep(txn.ID+7, "files", PhaseDone, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown transaction: %v, want ErrNotFound", err)
	}
	mustClose(t, db)

	// The open transaction and its journal survive a reopen.
	db, err = Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	open, ok, err := db.OpenTxn()
	if err != nil || !ok || open.ID != txn.ID || open.BundleDigest != "sha256:aaa" {
		t.Fatalf("OpenTxn after reopen = %+v, %t, %v", open, ok, err)
	}
	steps, err := db.Steps(txn.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, s := range steps {
		if s.Seq != i+1 || s.Txn != txn.ID || s.At.IsZero() || s.Detail != "detail of "+s.Name {
			t.Errorf("step %d = %+v", i, s)
		}
		got = append(got, s.Name+":"+s.Phase)
	}
	want := "[images:started images:done migrations:started migrations:failed images:undone files:started files:done]"
	if fmt.Sprint(got) != want {
		t.Errorf("Steps = %v, want %v", got, want)
	}

	if err := db.FinishTxn(txn.ID, "finished", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("FinishTxn with a bad state: %v, want ErrInvalid", err)
	}
	if err := db.FinishTxn(txn.ID, TxnAborted, "migration 002 failed"); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishTxn(txn.ID, TxnCommitted, ""); !errors.Is(err, ErrTxnNotOpen) {
		t.Errorf("finishing twice: %v, want ErrTxnNotOpen", err)
	}
	if err := db.RecordStep(txn.ID, "late", PhaseStarted, ""); !errors.Is(err, ErrTxnNotOpen) {
		t.Errorf("step after finish: %v, want ErrTxnNotOpen", err)
	}
	if _, ok, _ := db.OpenTxn(); ok {
		t.Error("a transaction is still open after FinishTxn")
	}

	second, err := db.BeginTxn("update", "1.1.0", "sha256:bbb")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.FinishTxn(second.ID, TxnCommitted, ""); err != nil {
		t.Fatal(err)
	}
	txns, err := db.Txns()
	if err != nil {
		t.Fatal(err)
	}
	if len(txns) != 2 || txns[0].ID != txn.ID || txns[1].ID != second.ID {
		t.Fatalf("Txns = %+v", txns)
	}
	if txns[0].State != TxnAborted || txns[0].Reason != "migration 002 failed" || txns[0].Finished.IsZero() {
		t.Errorf("first transaction = %+v", txns[0])
	}
	if txns[1].State != TxnCommitted || txns[1].Kind != "update" {
		t.Errorf("second transaction = %+v", txns[1])
	}
	if err := db.VerifyAudit(); err != nil {
		t.Error(err)
	}
}

// A process recording steps as fast as it can is killed with SIGKILL, three
// times over; each time the journal read back is whole: one open
// transaction, steps numbered without gaps, every step started before it is
// done, and only the last one possibly unfinished.
func TestJournalSurvivesKill(t *testing.T) {
	root, db := newRoot(t)
	mustClose(t, db)

	for round := range 3 {
		h := startHelper(t, "journal", root)
		h.expect(t, "ready")
		// Let it run on for a while that differs each round, so the kill
		// lands at different points of the loop, some inside a commit.
		time.Sleep(time.Duration(round*7+3) * time.Millisecond)
		if err := h.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = h.cmd.Wait() // killed: the exit status is the kill's

		db, err := Open(root, false)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		txn, ok, err := db.OpenTxn()
		if err != nil || !ok {
			t.Fatalf("round %d: OpenTxn = %t, %v; want the killed transaction", round, ok, err)
		}
		steps, err := db.Steps(txn.ID)
		if err != nil {
			t.Fatal(err)
		}
		lastDone := ""
		for i, s := range steps {
			if s.Seq != i+1 {
				t.Fatalf("round %d: step %d has seq %d", round, i, s.Seq)
			}
			name := fmt.Sprintf("step-%d", i/2)
			phase := PhaseStarted
			if i%2 == 1 {
				phase = PhaseDone
				lastDone = name
			}
			if s.Name != name || s.Phase != phase {
				t.Fatalf("round %d: step %d is %s %s, want %s %s", round, i, s.Name, s.Phase, name, phase)
			}
		}
		if len(steps) < 12*(round+1) {
			t.Errorf("round %d: only %d steps recorded", round, len(steps))
		}
		if ok, err := db.StepDone(txn.ID, lastDone); !ok || err != nil {
			t.Errorf("round %d: last completed step %s not done: %v", round, lastDone, err)
		}
		if len(steps)%2 == 1 {
			last := steps[len(steps)-1].Name
			if ok, _ := db.StepDone(txn.ID, last); ok {
				t.Errorf("round %d: unfinished step %s reported done", round, last)
			}
		}
		if err := db.VerifyAudit(); err != nil {
			t.Errorf("round %d: %v", round, err)
		}
		t.Logf("round %d: %d steps, last done %s", round, len(steps), lastDone)
		mustClose(t, db)
	}
}
