package license

import (
	"errors"
	"os"
	"testing"
	"time"

	"ferry/internal/testenv"
)

func TestReportJSON(t *testing.T) {
	data, err := os.ReadFile("testdata/openpgp.lic")
	if err != nil {
		t.Fatal(err)
	}
	env, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReport("acme.lic", data, env, time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC))
	testenv.JSONGolden(t, "testdata/inspect.golden", r, *updateTestdata)
	ok := false
	r.Verified, r.Error = &ok, "not signed by a trusted key"
	testenv.JSONGolden(t, "testdata/inspect_unverified.golden", r, *updateTestdata)
}

func TestHostReportJSON(t *testing.T) {
	h := Host{Sources: []HostSource{
		{Kind: "dmi-product-uuid", Path: "sys/class/dmi/id/product_uuid", Err: errors.New("permission denied")},
		{Kind: "machine-id", Path: "etc/machine-id", Fingerprint: "fp1:abc"},
	}}
	testenv.JSONGolden(t, "testdata/fingerprint.golden", h.Report("fp1:abc"), *updateTestdata)
}
