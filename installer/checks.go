package installer

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"ferry/bundle"
	"ferry/bundle/spec"
	"ferry/config"
	"ferry/installer/state"
	"ferry/internal/redact"
	"ferry/rollout/health"
)

// defaultCheckTimeout bounds a check that declares no timeout.
const defaultCheckTimeout = 30 * time.Second

// maxCheckDetail bounds what is kept of a failed check's error and output.
const maxCheckDetail = 1024

// runChecks runs the declared post-activation checks of the chosen
// components: commands in the release directory, HTTP GETs that must
// answer 2xx. What a failed check said is kept scrubbed of secrets and
// bounded: it goes into the error, the release record, the journal, the
// audit log and the compliance report.
func runChecks(ctx context.Context, root, version string, plan *Plan, byName map[string]bundle.Component, secrets *redact.Secrets, cfg *config.Config) []state.CheckResult {
	var out []state.CheckResult
	for _, s := range plan.Steps {
		if s.Kind != StepCheck {
			continue
		}
		c := byName[s.Component]
		var chk spec.Check
		for i, cs := range c.Checks {
			if checkName(i, cs) == s.Name {
				chk = cs
			}
		}
		var err error
		if cfg != nil {
			// Admission expanded every check already; this cannot fail
			// but for a manifest that changed, which verification refuses.
			if chk, err = cfg.ExpandCheck(chk, ReleaseBuiltins(cfg, root, version)); err != nil {
				out = append(out, state.CheckResult{Name: s.ID(), At: time.Now().UTC(), Detail: secrets.Bound(err.Error(), maxCheckDetail)})
				continue
			}
		}
		timeout := time.Duration(chk.Timeout)
		if timeout <= 0 {
			timeout = defaultCheckTimeout
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err = runCheck(cctx, releaseDir(root, version), chk)
		cancel()
		r := state.CheckResult{Name: s.ID(), OK: err == nil, At: time.Now().UTC()}
		if err != nil {
			r.Detail = secrets.Bound(err.Error(), maxCheckDetail)
		}
		out = append(out, r)
	}
	return out
}

// runCheck runs one check. A command runs as health and smoke commands do
// (health.Command): in its own process group, killed whole at its timeout,
// with only the minimal environment of health.Environ, since ferry's own
// holds its passphrase and database DSNs, and with its output bounded.
func runCheck(ctx context.Context, dir string, c spec.Check) error {
	if c.HTTP != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.HTTP, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("GET %s: %s", c.HTTP, resp.Status)
		}
		return nil
	}
	if len(c.Command) == 0 {
		return fmt.Errorf("check has neither command nor http")
	}
	return health.Command{Args: c.Command, Dir: dir, Env: health.Environ()}.Check(ctx)
}
