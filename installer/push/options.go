package push

import (
	"log/slog"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Defaults for the zero values of Options.
const (
	DefaultRetries = 5
	DefaultBackoff = 500 * time.Millisecond

	// maxBackoff caps the wait between attempts: a registry that is down
	// for longer than a few such waits is down, and waiting minutes per
	// image would only hide that from the operator.
	maxBackoff = 30 * time.Second
)

// Options says where and how to push.
type Options struct {
	// Target is "host[:port][/prefix]", without a scheme. The image
	// "wf/api:1.4.0" goes to "host:port/prefix/wf/api:1.4.0".
	Target string
	// PlainHTTP talks HTTP to the registry, for local registries without
	// TLS. Plain HTTP is allowed to a loopback host without it; to any
	// other host it is refused, so that a registry losing its TLS setup is
	// an error rather than a silent downgrade.
	PlainHTTP bool
	// Insecure skips TLS certificate verification.
	Insecure bool
	// Retries is the number of attempts per image when attempts fail with
	// transient errors (5xx, 429, connection reset or refused, timeouts);
	// zero means DefaultRetries. Other errors are never retried.
	Retries int
	// Backoff is the wait after the first failed attempt; it doubles after
	// each further one, up to a cap. Zero means DefaultBackoff.
	Backoff time.Duration
	// Keychain finds the credentials for the target; nil means
	// authn.DefaultKeychain (the Docker config and credential helpers).
	Keychain authn.Keychain
	// Images are the names to push, as the store names them
	// ("wf/api:1.4.0"); empty means every image in the store.
	Images []string
	// Log receives progress; nil discards it.
	Log *slog.Logger
}

// Result is the outcome for one image.
type Result struct {
	Image  string // the name in the store: "wf/api:1.4.0"
	Target string // the reference pushed: "registry.local:5000/prefix/wf/api:1.4.0"
	Digest string // the digest of the manifest or index, the same on both sides
	Pushed bool   // false: the registry already had the digest under this name
}

// withDefaults returns o with its zero values filled in.
func (o Options) withDefaults() Options {
	if o.Retries <= 0 {
		o.Retries = DefaultRetries
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.Keychain == nil {
		o.Keychain = authn.DefaultKeychain
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}
