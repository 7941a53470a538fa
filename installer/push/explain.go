package push

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"

	"ferry/internal/registryerr"
)

// explain adds to a permanent push error what the operator can do about
// it. The registry's own message stays in the chain; the advice names the
// option or step that usually fixes it.
func explain(err error, ref name.Reference) error {
	host := ref.Context().RegistryStr()
	var hint string
	switch registryerr.Classify(err) {
	case registryerr.FailureUnauthorized:
		hint = fmt.Sprintf("the registry refused the credentials or wants some: log in to %s (docker login) or fix the stored credentials", host)
	case registryerr.FailureDenied:
		hint = fmt.Sprintf("the credentials for %s may not push to %s", host, ref.Context().RepositoryStr())
	case registryerr.FailureNameInvalid, registryerr.FailureNameUnknown:
		hint = fmt.Sprintf("the registry refused the repository name %s; a different prefix may suit it", ref.Context().RepositoryStr())
	case registryerr.FailureUntrusted:
		hint = "the registry's certificate is not trusted here: add its CA to the system's trust store, or skip verification (insecure)"
	case registryerr.FailurePlainHTTP:
		hint = "the registry speaks plain HTTP: ask for plain HTTP"
	default:
		return err
	}
	return fmt.Errorf("%w; %s", err, hint)
}
