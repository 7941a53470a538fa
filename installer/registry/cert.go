package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"ferry/internal/atomicfile"
)

// Files that WriteCertificates writes in its directory.
const (
	CAFile   = "ca.crt"       // the CA certificate nodes trust
	CAKey    = "ca.key"       // its private key: keep it off the network
	CertFile = "registry.crt" // the registry's certificate (--tls-cert)
	KeyFile  = "registry.key" // its private key (--tls-key)
)

// Validity of what WriteCertificates makes, and the backdating that lets a
// node whose clock is a little behind the appliance's accept them.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultCertValidity = 825 * 24 * time.Hour
	clockSkew           = time.Hour
)

// CertOptions describe the registry's certificate.
type CertOptions struct {
	// Hosts are the DNS names and IPs the IP addresses nodes use to reach
	// the registry; at least one of either.
	Hosts []string
	IPs   []net.IP
	// Validity of the registry certificate; DefaultCertValidity if zero.
	Validity time.Duration
	// Now is the time the certificates start from (time.Now if zero).
	Now time.Time
}

// Certificates is what WriteCertificates made.
type Certificates struct {
	Dir string
	// NewCA tells whether the CA was made now; false when an existing
	// one in Dir signed the new registry certificate.
	NewCA bool
	// CAFingerprint is the SHA-256 of the CA certificate (DER), in hex,
	// for operators to compare on the nodes.
	CAFingerprint string
	NotAfter      time.Time
}

// WriteCertificates makes a certificate for the appliance's registry,
// signed by a CA of its own that nodes and skopeo are told to trust (the
// appliance has no public CA to turn to): in dir, ca.crt and ca.key, made
// unless both are there already (so that renewing the registry's
// certificate needs nothing new on the nodes), then registry.crt and
// registry.key for the hosts and addresses given. Keys are ECDSA P-256,
// written mode 0600.
func WriteCertificates(dir string, opts CertOptions) (*Certificates, error) {
	if len(opts.Hosts) == 0 && len(opts.IPs) == 0 {
		return nil, errors.New("a registry certificate needs at least one host name or IP address")
	}
	if opts.Validity <= 0 {
		opts.Validity = DefaultCertValidity
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ca, caKey, err := loadCA(dir)
	newCA := false
	if errors.Is(err, os.ErrNotExist) {
		ca, caKey, err = makeCA(dir, opts)
		newCA = true
	}
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: firstName(opts)},
		DNSNames:     opts.Hosts,
		IPAddresses:  opts.IPs,
		NotBefore:    opts.Now.Add(-clockSkew),
		NotAfter:     opts.Now.Add(opts.Validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing the registry certificate: %w", err)
	}
	if err := writeKey(filepath.Join(dir, KeyFile), key); err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, CertFile), 0o644, "CERTIFICATE", der); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(ca.Raw)
	return &Certificates{Dir: dir, NewCA: newCA, CAFingerprint: fmt.Sprintf("%x", sum), NotAfter: tmpl.NotAfter}, nil
}

func makeCA(dir string, opts CertOptions) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ferry registry CA for " + firstName(opts)},
		NotBefore:             opts.Now.Add(-clockSkew),
		NotAfter:              opts.Now.Add(DefaultCAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("making the registry CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	if err := writeKey(filepath.Join(dir, CAKey), key); err != nil {
		return nil, nil, err
	}
	if err := writePEM(filepath.Join(dir, CAFile), 0o644, "CERTIFICATE", der); err != nil {
		return nil, nil, err
	}
	return ca, key, nil
}

// loadCA reads the CA in dir; an error wrapping os.ErrNotExist when it has
// none.
func loadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKey))
	if err != nil {
		return nil, nil, fmt.Errorf("%s is there but not %s: %w", CAFile, CAKey, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("the CA in %s: %w", dir, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("the CA key in %s is not an ECDSA key", dir)
	}
	ca, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	if !ca.IsCA {
		return nil, nil, fmt.Errorf("%s in %s is not a CA certificate", CAFile, dir)
	}
	return ca, key, nil
}

// TLSConfig loads the registry's certificate and key for HTTPS: TLS 1.2
// and 1.3 only, with Go's default (modern, forward-secret) cipher suites.
func TLSConfig(certFile, keyFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("the registry's TLS certificate: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}, nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, 0o600, "PRIVATE KEY", der)
}

func writePEM(path string, mode os.FileMode, typ string, der []byte) error {
	return atomicfile.Write(path, mode, func(w io.Writer) error {
		return pem.Encode(w, &pem.Block{Type: typ, Bytes: der})
	})
}

// serial is a random 128-bit serial number, as RFC 5280 asks of CAs.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

func firstName(opts CertOptions) string {
	if len(opts.Hosts) > 0 {
		return opts.Hosts[0]
	}
	return opts.IPs[0].String()
}
