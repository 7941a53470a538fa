package license

import "fmt"

// Supersedes reports whether l replaces old: it was issued later, or at
// the same second with a greater id (so that two licences always order the
// same way on every host). A licence does not supersede itself.
//
// Customer and product are not compared: the vendor's latest signed word
// is the one in force, even when it renames the customer or widens the
// product, and a licence for the wrong product is refused by Check anyway.
// A nil old is superseded by anything.
func (l *License) Supersedes(old *License) bool {
	if old == nil {
		return true
	}
	if !l.Issued.Equal(old.Issued) {
		return l.Issued.After(old.Issued)
	}
	return l.ID > old.ID
}

// CheckRenewal returns ErrNotNewer unless l supersedes installed, the
// licence it would replace: an older licence, even a validly signed one
// with wider terms, cannot be put back once a newer one is installed.
// Installing the same licence again fails too; a caller that wants that to
// be a no-op compares the files first.
func (l *License) CheckRenewal(installed *License) error {
	if l.Supersedes(installed) {
		return nil
	}
	if l.ID == installed.ID {
		return fmt.Errorf("%s is already installed: %w", l, ErrNotNewer)
	}
	return fmt.Errorf("%s was issued %s, not after the installed %s issued %s: %w",
		l, formatTime(l.Issued), installed, formatTime(installed.Issued), ErrNotNewer)
}
