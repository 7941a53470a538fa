package sdnotify

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

func TestFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tt := range []struct {
		name string
		env  map[string]string
		want Notifier
	}{
		{"outside systemd", nil, Notifier{}},
		{"socket only", map[string]string{"NOTIFY_SOCKET": "/run/s"}, Notifier{Socket: "/run/s"}},
		{"watchdog at half the timeout", map[string]string{"NOTIFY_SOCKET": "@s", "WATCHDOG_USEC": "30000000"}, Notifier{Socket: "@s", WatchdogInterval: 15 * time.Second}},
		{"watchdog for this pid", map[string]string{"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "42"}, Notifier{WatchdogInterval: time.Second}},
		{"watchdog for another pid", map[string]string{"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "7"}, Notifier{}},
		{"bad watchdog", map[string]string{"WATCHDOG_USEC": "soon"}, Notifier{}},
	} {
		if got := FromEnv(env(tt.env), 42); *got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, *got, tt.want)
		}
	}
}

// TestNotify sends to a real unixgram socket, by path and abstract.
func TestNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	for _, name := range []string{path, "@ferry-sdnotify-test-" + filepath.Base(t.TempDir())} {
		addr := name
		if name[0] == '@' {
			addr = "\x00" + name[1:]
		}
		l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		if err := (&Notifier{Socket: name}).Notify(Ready); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 256)
		_ = l.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := l.Read(buf)
		l.Close()
		if err != nil || string(buf[:n]) != Ready {
			t.Fatalf("%s: read %q, %v", name, buf[:n], err)
		}
	}
	var none *Notifier
	if err := none.Notify(Ready); err != nil {
		t.Fatal(err)
	}
	if err := (&Notifier{Socket: filepath.Join(t.TempDir(), "nobody")}).Notify(Ready); err == nil {
		t.Fatal("no error for a socket nobody listens on")
	}
}
