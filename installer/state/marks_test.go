package state

import (
	"errors"
	"testing"
)

func TestMarks(t *testing.T) {
	root, db := newRoot(t)
	if v, err := db.Mark("installed-version"); v != nil || err != nil {
		t.Errorf("unset mark = %q, %v; want nil, nil", v, err)
	}
	if err := db.SetMark("installed-version", []byte("1.4.0")); err != nil {
		t.Fatal(err)
	}
	if err := db.SetMark("latest-time", []byte("2026-03-01T00:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if err := db.SetMark("", []byte("x")); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty name: %v, want ErrInvalid", err)
	}
	mustClose(t, db)

	db, err := Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Mark("installed-version"); string(v) != "1.4.0" || err != nil {
		t.Errorf("mark after reopen = %q, %v", v, err)
	}
	if err := db.SetMark("latest-time", nil); err != nil {
		t.Fatal(err)
	}
	if v, err := db.Mark("latest-time"); v != nil || err != nil {
		t.Errorf("removed mark = %q, %v; want nil, nil", v, err)
	}
}
