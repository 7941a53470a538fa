package state

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/redact"
)

// Texts from outside (audit fields, the error of a failed step, a
// transaction's reason, a check's detail) are stored scrubbed of the
// secrets given to SetSecrets and bounded: state.db never holds them.
func TestStoredTextsAreScrubbed(t *testing.T) {
	root := t.TempDir()
	db, err := Open(root, true)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "pw-PLANTED-0b1d"
	s := &redact.Secrets{}
	s.AddDSN("postgres://app:" + secret + "@db/app")
	db.SetSecrets(s)
	leak := "output: FERRY_DB_APP=postgres://app:" + secret + "@db/app " + secret
	long := strings.Repeat("x", 10<<10)
	if err := db.Audit("install.failed", map[string]string{"error": leak, "long": long}); err != nil {
		t.Fatal(err)
	}
	txn, err := db.BeginTxn("install", "1.0.0", "sha256:00")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RecordStep(txn.ID, "checks", PhaseFailed, leak); err != nil {
		t.Fatal(err)
	}
	if err := db.PutRelease(Release{Version: "1.0.0", Status: StatusFailed, Checks: []CheckResult{{Name: "c", Detail: leak}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishTxn(txn.ID, TxnAborted, leak); err != nil {
		t.Fatal(err)
	}
	log, err := db.AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log {
		for k, v := range e.Fields {
			if len(v) > maxText {
				t.Errorf("audit entry %d field %s is %d bytes, more than %d", e.Seq, k, len(v), maxText)
			}
		}
	}
	if err := db.VerifyAudit(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := os.ReadFile(filepath.Join(root, dbName))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("PLANTED")) {
		t.Error("state.db holds the secret")
	}
	if !bytes.Contains(raw, []byte(redact.Marker)) {
		t.Error("state.db holds no redaction marker: the texts were not stored")
	}
}
