package push

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// explain adds to a permanent push error what the operator can do about
// it. The registry's own message stays in the chain; the advice names the
// option or step that usually fixes it.
func explain(err error, ref name.Reference) error {
	host := ref.Context().RegistryStr()
	var hint string
	var te *transport.Error
	var unknownCA x509.UnknownAuthorityError
	var badCert *tls.CertificateVerificationError
	switch {
	case errors.As(err, &te) && te.StatusCode == http.StatusUnauthorized:
		hint = fmt.Sprintf("the registry refused the credentials or wants some: log in to %s (docker login) or fix the stored credentials", host)
	case errors.As(err, &te) && te.StatusCode == http.StatusForbidden:
		hint = fmt.Sprintf("the credentials for %s may not push to %s", host, ref.Context().RepositoryStr())
	case errors.As(err, &te) && hasCode(te, transport.NameInvalidErrorCode, transport.NameUnknownErrorCode):
		hint = fmt.Sprintf("the registry refused the repository name %s; a different prefix may suit it", ref.Context().RepositoryStr())
	case errors.As(err, &unknownCA), errors.As(err, &badCert):
		hint = "the registry's certificate is not trusted here: add its CA to the system's trust store, or skip verification (insecure)"
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		hint = "the registry speaks plain HTTP: ask for plain HTTP"
	default:
		return err
	}
	return fmt.Errorf("%w; %s", err, hint)
}

// hasCode reports whether the registry's error carries any of codes.
func hasCode(te *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range te.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}
