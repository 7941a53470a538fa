package registry

import (
	"fmt"
	"strconv"
	"strings"
)

// ContainerdHosts is the hosts.toml that makes containerd (1.7 or later,
// with the CRI plugin's config_path set to /etc/containerd/certs.d) pull
// images of upstream, such as "docker.io", from the appliance's registry
// at mirror ("HOST:PORT") first: for images that operators or controllers
// create at run time under their usual names, which no chart rewrite
// reaches. ca is the path of the CA certificate on the node (empty: the
// system's roots); plainHTTP makes it talk HTTP to the mirror. It goes to
// /etc/containerd/certs.d/UPSTREAM/hosts.toml on every node.
func ContainerdHosts(upstream, mirror, ca string, plainHTTP bool) (string, error) {
	if strings.ContainsAny(upstream, "/ \t\n\"") || upstream == "" {
		return "", fmt.Errorf("upstream %q: give a registry host such as docker.io", upstream)
	}
	if mirror == "" || strings.Contains(mirror, "://") || strings.ContainsAny(mirror, "/ \t\n\"@") {
		return "", fmt.Errorf("registry %q: give the appliance registry's HOST:PORT, without a scheme or path", mirror)
	}
	server := "https://" + upstream
	if upstream == "docker.io" {
		server = "https://registry-1.docker.io"
	}
	scheme := "https"
	if plainHTTP {
		scheme = "http"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# /etc/containerd/certs.d/%s/hosts.toml: pull %s images from the appliance first.\n", upstream, upstream)
	fmt.Fprintf(&b, "server = %s\n\n", strconv.Quote(server))
	fmt.Fprintf(&b, "[host.%s]\n", strconv.Quote(scheme+"://"+mirror))
	b.WriteString("  capabilities = [\"pull\", \"resolve\"]\n")
	if ca != "" && !plainHTTP {
		fmt.Fprintf(&b, "  ca = %s\n", strconv.Quote(ca))
	}
	return b.String(), nil
}
