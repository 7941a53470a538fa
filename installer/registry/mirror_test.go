package registry

import "testing"

func TestContainerdHosts(t *testing.T) {
	got, err := ContainerdHosts("docker.io", "registry.local:5000", "/etc/containerd/certs.d/registry.local:5000/ca.crt", false)
	if err != nil {
		t.Fatal(err)
	}
	want := `# /etc/containerd/certs.d/docker.io/hosts.toml: pull docker.io images from the appliance first.
server = "https://registry-1.docker.io"

[host."https://registry.local:5000"]
  capabilities = ["pull", "resolve"]
  ca = "/etc/containerd/certs.d/registry.local:5000/ca.crt"
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	got, err = ContainerdHosts("quay.io", "10.0.0.5:5000", "", true)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# /etc/containerd/certs.d/quay.io/hosts.toml: pull quay.io images from the appliance first.\nserver = \"https://quay.io\"\n\n[host.\"http://10.0.0.5:5000\"]\n  capabilities = [\"pull\", \"resolve\"]\n"; got != want {
		t.Errorf("plain HTTP: got\n%s", got)
	}
	for _, bad := range [][2]string{
		{"docker.io", "https://registry.local:5000"},
		{"docker.io", "registry.local:5000/prefix"},
		{"docker.io", `a"]` + "\n" + `[host."evil`},
		{"docker.io/x", "registry.local:5000"},
		{"", "registry.local:5000"},
		{"docker.io", ""},
	} {
		if _, err := ContainerdHosts(bad[0], bad[1], "", false); err == nil {
			t.Errorf("upstream %q, registry %q accepted", bad[0], bad[1])
		}
	}
}
