package license

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

const (
	testUUID      = "4c4c4544-0051-3610-8057-b4c04f4d4e32"
	testMachineID = "3d1219c7c4c5404aaa1f6d2a48adfda4"
)

// hostRoot writes identity files under a temporary root file system.
func hostRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFingerprintSources(t *testing.T) {
	dmi := fingerprintOf("dmi-product-uuid", testUUID)
	mid := fingerprintOf("machine-id", testMachineID)
	serial := fingerprintOf("devicetree-serial", "100000003b4e1a2c")
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
		all   []string
	}{
		{"board and machine id", map[string]string{
			"sys/class/dmi/id/product_uuid": testUUID + "\n",
			"etc/machine-id":                testMachineID + "\n",
		}, dmi, []string{dmi, mid}},
		{"upper-case UUID", map[string]string{
			"sys/class/dmi/id/product_uuid": "4C4C4544-0051-3610-8057-B4C04F4D4E32\n",
		}, dmi, []string{dmi}},
		{"machine id only", map[string]string{
			"etc/machine-id": testMachineID + "\n",
		}, mid, []string{mid}},
		{"D-Bus machine id gives the same fingerprint", map[string]string{
			"var/lib/dbus/machine-id": testMachineID + "\n",
		}, mid, []string{mid}},
		{"both machine ids count once", map[string]string{
			"etc/machine-id":          testMachineID + "\n",
			"var/lib/dbus/machine-id": testMachineID + "\n",
		}, mid, []string{mid}},
		{"all-zero UUID is skipped", map[string]string{
			"sys/class/dmi/id/product_uuid": "00000000-0000-0000-0000-000000000000\n",
			"etc/machine-id":                testMachineID + "\n",
		}, mid, []string{mid}},
		{"placeholder UUID is skipped", map[string]string{
			"sys/class/dmi/id/product_uuid": "03000200-0400-0500-0006-000700080009\n",
			"etc/machine-id":                testMachineID + "\n",
		}, mid, []string{mid}},
		{"garbage UUID is skipped", map[string]string{
			"sys/class/dmi/id/product_uuid": "Not Settable\n",
			"etc/machine-id":                testMachineID + "\n",
		}, mid, []string{mid}},
		{"device tree serial", map[string]string{
			"sys/firmware/devicetree/base/serial-number": "100000003b4e1a2c\x00",
			"etc/machine-id": testMachineID + "\n",
		}, serial, []string{serial, mid}},
		{"uninitialized machine id", map[string]string{
			"etc/machine-id":          "uninitialized\n",
			"var/lib/dbus/machine-id": testMachineID + "\n",
		}, mid, []string{mid}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := ReadHost(os.DirFS(hostRoot(t, tc.files)))
			got, err := h.Fingerprint()
			if err != nil {
				t.Fatalf("Fingerprint: %v", err)
			}
			if got != tc.want {
				t.Errorf("Fingerprint = %s, want %s", got, tc.want)
			}
			if all := h.Fingerprints(); !slices.Equal(all, tc.all) {
				t.Errorf("Fingerprints = %v, want %v", all, tc.all)
			}
			if !isFingerprint(got) {
				t.Errorf("%s does not have the form --bind accepts", got)
			}
			if len(h.Sources) != len(hostSources) {
				t.Errorf("%d sources reported, want all %d", len(h.Sources), len(hostSources))
			}
		})
	}
}

func TestFingerprintIsStable(t *testing.T) {
	// A change of the value changes the fingerprint; the same value of
	// another kind does not collide.
	a := fingerprintOf("machine-id", testMachineID)
	if a != fingerprintOf("machine-id", testMachineID) {
		t.Fatal("the fingerprint is not deterministic")
	}
	if a == fingerprintOf("machine-id", "3d1219c7c4c5404aaa1f6d2a48adfda5") {
		t.Error("two machine ids give one fingerprint")
	}
	if a == fingerprintOf("devicetree-serial", testMachineID) {
		t.Error("the kind is not part of the fingerprint")
	}
	// A pinned value, computed with printf and sha256sum as docs/LICENSE.md
	// shows, so that a change of the derivation, which would
	// unbind every licence in the field, cannot pass unnoticed.
	if want := "fp1:0f5bfc42fb6a0e30be4404feb6a74a63"; a != want {
		t.Errorf("fingerprint of machine id %s = %s, want %s", testMachineID, a, want)
	}
}

func TestFingerprintNoSource(t *testing.T) {
	h := ReadHost(os.DirFS(t.TempDir()))
	if _, err := h.Fingerprint(); !errors.Is(err, ErrNoFingerprint) {
		t.Errorf("Fingerprint: %v, want ErrNoFingerprint", err)
	}
	for _, s := range h.Sources {
		if !errors.Is(s.Err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want not present", s.Path, s.Err)
		}
	}
	if len(h.Fingerprints()) != 0 {
		t.Errorf("Fingerprints = %v, want none", h.Fingerprints())
	}
}

func TestFingerprintUnreadableSource(t *testing.T) {
	root := hostRoot(t, map[string]string{
		"sys/class/dmi/id/product_uuid": testUUID + "\n",
		"etc/machine-id":                testMachineID + "\n",
	})
	uuidPath := filepath.Join(root, "sys/class/dmi/id/product_uuid")
	if err := os.Chmod(uuidPath, 0); err != nil {
		t.Fatal(err)
	}
	rootFS := os.DirFS(root)
	if _, err := os.ReadFile(uuidPath); err == nil {
		// Root reads files whatever their mode; refuse the file the way
		// the kernel refuses an unprivileged reader of product_uuid.
		rootFS = denyFS{rootFS, "sys/class/dmi/id/product_uuid"}
	}
	h := ReadHost(rootFS)
	if !errors.Is(h.Sources[0].Err, fs.ErrPermission) {
		t.Errorf("unreadable UUID: %v, want a permission error", h.Sources[0].Err)
	}
	if fp, _ := h.Fingerprint(); fp != fingerprintOf("machine-id", testMachineID) {
		t.Errorf("Fingerprint = %s, want the machine id's", fp)
	}
}

// denyFS refuses to open one file, as the kernel does for a user without
// read permission.
type denyFS struct {
	fs.FS
	denied string
}

func (d denyFS) Open(name string) (fs.File, error) {
	if name == d.denied {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return d.FS.Open(name)
}

func TestFingerprintOversizedSource(t *testing.T) {
	big := make([]byte, maxIdentityFile+1)
	for i := range big {
		big[i] = 'a'
	}
	h := ReadHost(os.DirFS(hostRoot(t, map[string]string{"etc/machine-id": string(big)})))
	if h.Sources[2].Err == nil {
		t.Error("an oversized machine id was used")
	}
}

// TestFingerprintThisHost reads the real host: it may have no usable
// source (a bare container), but what it gives must be well formed.
func TestFingerprintThisHost(t *testing.T) {
	fp, err := Fingerprint()
	if err != nil {
		if !errors.Is(err, ErrNoFingerprint) {
			t.Fatalf("Fingerprint: %v", err)
		}
		t.Skipf("this host has no identity source: %v", err)
	}
	if !isFingerprint(fp) {
		t.Errorf("Fingerprint = %q", fp)
	}
	t.Logf("this host: %s", fp)
}
