package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestCertificatesVerify serves the registry over HTTPS with a certificate
// from WriteCertificates: a client that trusts ca.crt connects with
// verification on, by IP and by name; one that does not is refused; and a
// renewal keeps the CA.
func TestCertificatesVerify(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	res, err := WriteCertificates(dir, CertOptions{Hosts: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.NewCA {
		t.Error("the first call did not make a CA")
	}
	for _, name := range []string{CAKey, KeyFile} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v, want 0600", name, err, fi.Mode().Perm())
		}
	}
	tc, err := TLSConfig(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if tc.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", tc.MinVersion)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Handler(f.dir, Options{}), TLSConfig: tc}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	caPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	get := func(host string, roots *x509.CertPool) error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		resp, err := c.Get("https://" + net.JoinHostPort(host, port) + "/v2/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if err := get(host, pool); err != nil {
			t.Errorf("trusting ca.crt, %s: %v", host, err)
		}
	}
	var unknown x509.UnknownAuthorityError
	if err := get("127.0.0.1", x509.NewCertPool()); !errors.As(err, &unknown) {
		t.Errorf("without ca.crt: %v, want an unknown authority", err)
	}

	again, err := WriteCertificates(dir, CertOptions{Hosts: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	if again.NewCA || again.CAFingerprint != res.CAFingerprint {
		t.Errorf("renewal made a new CA (%v, %s, was %s)", again.NewCA, again.CAFingerprint, res.CAFingerprint)
	}
}
