package sites

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
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"ferry/internal/atomicfile"
)

// Files of a site certificate directory: the deployment's site CA and,
// per site, NAME.crt and NAME.key. The CA's key stays where `ferry site
// cert` ran; a site gets ca.crt and its own pair.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// Validity of what `ferry site cert` makes.
const (
	caValidity   = 20 * 365 * 24 * time.Hour
	siteValidity = 5 * 365 * 24 * time.Hour
)

// ErrCert means a site certificate or key is missing, unreadable or does not
// belong to the deployment's site CA.
var ErrCert = errors.New("site certificate")

// MakeCerts makes, in dir, the site CA (when dir has none yet) and a
// certificate and key for each name, signed by it, for both ends of a
// connection between sites. A site's certificate names the site (a DNS
// name), which is what a peer checks: the address in its URL may
// change. Keys are written 0600.
func MakeCerts(dir string, names []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrCert, err)
	}
	ca, caKey, err := loadCA(dir)
	if errors.Is(err, fs.ErrNotExist) {
		ca, caKey, err = makeCA(dir)
	}
	if err != nil {
		return err
	}
	for _, name := range names {
		if !siteNameOK(name) {
			return fmt.Errorf("%w: %q is not a site name: use lowercase letters, digits and '-'", ErrCert, name)
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: name, OrganizationalUnit: []string{"ferry site"}},
			DNSNames:     []string{name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(siteValidity),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrCert, name, err)
		}
		if err := writeKey(filepath.Join(dir, name+".key"), key); err != nil {
			return err
		}
		if err := writePEM(filepath.Join(dir, name+".crt"), 0o644, "CERTIFICATE", der); err != nil {
			return err
		}
	}
	return nil
}

func makeCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ferry site CA", OrganizationalUnit: []string{"ferry site"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	if err := writeKey(filepath.Join(dir, CAKeyFile), key); err != nil {
		return nil, nil, err
	}
	if err := writePEM(filepath.Join(dir, CACertFile), 0o644, "CERTIFICATE", der); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func loadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w: the site CA in %s: %w", ErrCert, dir, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%w: the site CA key in %s is not ECDSA", ErrCert, dir)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || !cert.IsCA {
		return nil, nil, fmt.Errorf("%w: %s in %s is not a CA certificate", ErrCert, CACertFile, dir)
	}
	return cert, key, nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, 0o600, "PRIVATE KEY", der)
}

func writePEM(path string, mode os.FileMode, typ string, der []byte) error {
	err := atomicfile.Write(path, mode, func(w io.Writer) error {
		return pem.Encode(w, &pem.Block{Type: typ, Bytes: der})
	})
	if err != nil {
		return fmt.Errorf("%w: writing %s: %w", ErrCert, path, err)
	}
	return nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

// Identity is one site's TLS material: its certificate and key, and the
// site CA its peers must chain to.
type Identity struct {
	Self string
	Cert tls.Certificate
	CAs  *x509.CertPool
	// CAFingerprint is the SHA-256 of the site CA's certificate, which
	// names it in the audit log.
	CAFingerprint [32]byte
}

// LoadIdentity reads ca.crt and SELF.crt/SELF.key from dir, and checks
// that the certificate is the site's and chains to the CA.
func LoadIdentity(dir, self string) (*Identity, error) {
	caPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("%w: the site CA: %w (make it with ferry site cert)", ErrCert, err)
	}
	pool := x509.NewCertPool()
	block, _ := pem.Decode(caPEM)
	if block == nil || !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%w: %s holds no certificate", ErrCert, filepath.Join(dir, CACertFile))
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, self+".crt"), filepath.Join(dir, self+".key"))
	if err != nil {
		return nil, fmt.Errorf("%w: site %s: %w (make it with ferry site cert %s)", ErrCert, self, err, self)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("%w: site %s: %w", ErrCert, self, err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: self, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("%w: site %s: its certificate is not the site CA's for %s: %w", ErrCert, self, self, err)
	}
	return &Identity{Self: self, Cert: pair, CAs: pool, CAFingerprint: sha256.Sum256(block.Bytes)}, nil
}

// ServerTLS is the configuration of this site's listener for peers: a
// peer must present a certificate that chains to the site CA.
func (id *Identity) ServerTLS() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.Cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    id.CAs,
	}
}

// ClientTLS is the configuration for connecting to the peer site named
// peer: its certificate must chain to the site CA and name it, and this
// site presents its own.
func (id *Identity) ClientTLS(peer string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.Cert},
		RootCAs:      id.CAs,
		ServerName:   peer,
	}
}

func siteNameOK(name string) bool {
	if name == "" || len(name) > 63 {
		return false
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(name)-1
		if !ok {
			return false
		}
	}
	return true
}
