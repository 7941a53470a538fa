// Package registryerr says what a registry client's error means, in the
// terms an operator acts on: an untrusted certificate, plain HTTP, missing
// or refused credentials, an unknown name, no answer at all.
//
// It is apart from internal/oci because it reads go-containerregistry's
// transport errors and so links that client. internal/oci, the OCI
// vocabulary every layer uses (digests, names, readers), stays on the
// standard library; only the packages that talk to registries (image
// sources, push) link this one.
package registryerr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Failure says what went wrong talking to a registry, in the terms an
// operator acts on. Pulling and pushing ask Classify and turn the answer
// into their own sentinel or advice.
type Failure int

const (
	// FailureOther is none of the below.
	FailureOther Failure = iota
	// FailureCanceled is a done context: the caller stopped, nothing failed.
	FailureCanceled
	// FailureUntrusted is a TLS certificate that does not verify.
	FailureUntrusted
	// FailurePlainHTTP is a registry that answers HTTPS with plain HTTP.
	FailurePlainHTTP
	// FailureUnauthorized is 401 or the code UNAUTHORIZED: no or wrong
	// credentials.
	FailureUnauthorized
	// FailureDenied is 403 or the code DENIED: the credentials may not do
	// this.
	FailureDenied
	// FailureNameInvalid is the code NAME_INVALID: the registry refuses
	// the repository name.
	FailureNameInvalid
	// FailureNameUnknown is the code NAME_UNKNOWN: no such repository.
	FailureNameUnknown
	// FailureNotFound is 404 or the code MANIFEST_UNKNOWN: no such tag or
	// digest.
	FailureNotFound
	// FailureRegistry is any other answer of the registry.
	FailureRegistry
	// FailureUnreachable is a network error: the registry did not answer.
	FailureUnreachable
)

// Classify says what err, returned by go-containerregistry, means. TLS and
// scheme problems are checked before HTTP statuses: a failed HTTPS ping may
// come back together with the error of a plain HTTP retry, whose status
// would hide the cause. Of an HTTP answer the status counts before the
// error codes in its body.
func Classify(err error) Failure {
	if err == nil {
		return FailureOther
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return FailureCanceled
	}
	var (
		unknownCA   x509.UnknownAuthorityError
		badHost     x509.HostnameError
		certInvalid x509.CertificateInvalidError
		verify      *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &badHost) || errors.As(err, &certInvalid) || errors.As(err, &verify) {
		return FailureUntrusted
	}
	if strings.Contains(err.Error(), "HTTP response to HTTPS client") {
		return FailurePlainHTTP
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusUnauthorized:
			return FailureUnauthorized
		case te.StatusCode == http.StatusForbidden:
			return FailureDenied
		case hasCode(te, transport.UnauthorizedErrorCode):
			return FailureUnauthorized
		case hasCode(te, transport.DeniedErrorCode):
			return FailureDenied
		case hasCode(te, transport.NameInvalidErrorCode):
			return FailureNameInvalid
		case hasCode(te, transport.NameUnknownErrorCode):
			return FailureNameUnknown
		case te.StatusCode == http.StatusNotFound || hasCode(te, transport.ManifestUnknownErrorCode):
			return FailureNotFound
		}
		return FailureRegistry
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return FailureUnreachable
	}
	return FailureOther
}

// hasCode reports whether the registry's answer carries any of codes.
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

// HTTPStatus returns the HTTP status of a registry's answer in err's chain,
// or 0 when the registry did not answer.
func HTTPStatus(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}
