package installer

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"ferry/installer/state"
)

// Status is what `ferry status` shows, and its --json form: the current
// release, every kept release, the last transaction and the licence.
type Status struct {
	// Current is the version of the current release, empty before the
	// first install.
	Current  string          `json:"current"`
	Releases []ReleaseStatus `json:"releases"`
	// Last is the newest transaction, whatever its outcome.
	Last    *state.Txn   `json:"lastTransaction,omitempty"`
	License *LicenseInfo `json:"license"`
}

// ReleaseStatus is one kept release in Status.
type ReleaseStatus struct {
	Version string `json:"version"`
	Status  string `json:"status"`
	// Digest is the digest of the release's signed manifest.
	Digest     string              `json:"bundle"`
	Installed  time.Time           `json:"installed"`
	Components []string            `json:"components"`
	Checks     []state.CheckResult `json:"checks,omitempty"`
	// Charts are the Helm releases the release installed, each with the
	// revision it became.
	Charts []state.ChartRelease `json:"charts,omitempty"`
}

// ReadStatus reads the status of the host whose state db holds, without
// changing anything.
func ReadStatus(db *state.DB) (*Status, error) {
	current, err := db.Current()
	if err != nil {
		return nil, err
	}
	rels, err := db.Releases()
	if err != nil {
		return nil, err
	}
	txns, err := db.Txns()
	if err != nil {
		return nil, err
	}
	lic, err := DescribeLicense(db, nil)
	if err != nil {
		return nil, err
	}
	st := &Status{Current: current, License: lic}
	if n := len(txns); n > 0 {
		st.Last = &txns[n-1]
	}
	for _, r := range rels {
		st.Releases = append(st.Releases, ReleaseStatus{r.Version, r.Status, r.ManifestDigest, r.Installed, r.Components, r.Checks, r.Charts})
	}
	return st, nil
}

// HistoryEntry is one transaction with its journal steps: what `ferry
// history` shows, and (as a list, oldest first) its --json form.
type HistoryEntry struct {
	state.Txn
	Steps []state.Step `json:"steps"`
}

// ReadHistory reads every transaction and its steps, oldest first.
func ReadHistory(db *state.DB) ([]HistoryEntry, error) {
	txns, err := db.Txns()
	if err != nil {
		return nil, err
	}
	var out []HistoryEntry
	for _, t := range txns {
		steps, err := db.Steps(t.ID)
		if err != nil {
			return nil, err
		}
		for i := range steps {
			if steps[i].Name == stepTrust {
				steps[i].Detail = trustSummary(steps[i].Detail)
			}
		}
		out = append(out, HistoryEntry{t, steps})
	}
	return out, nil
}

// trustSummary says which keys and threshold a trust step journalled, by
// key id: the record holds each key whole (base64 in the JSON), which in
// history is a screen of noise and says less than the id does.
func trustSummary(detail string) string {
	var r trustRecord
	if err := json.Unmarshal([]byte(detail), &r); err != nil {
		return detail
	}
	ids := slices.Sorted(maps.Keys(r.Keys))
	return fmt.Sprintf("threshold %d, keys %s", r.Threshold, strings.Join(ids, ", "))
}
