package installer

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"time"

	"ferry/bundle"
	"ferry/installer/state"
)

// defaultCheckTimeout bounds a check that declares no timeout.
const defaultCheckTimeout = 30 * time.Second

// runChecks runs the declared post-activation checks of the chosen
// components: commands in the release directory, HTTP GETs that must
// answer 2xx.
func runChecks(ctx context.Context, root, version string, plan *Plan, byName map[string]bundle.Component) []state.CheckResult {
	var out []state.CheckResult
	for _, s := range plan.Steps {
		if s.Kind != StepCheck {
			continue
		}
		c := byName[s.Component]
		var chk bundle.CheckSpec
		for i, cs := range c.Checks {
			if checkName(i, cs) == s.Name {
				chk = cs
			}
		}
		timeout := time.Duration(chk.Timeout)
		if timeout <= 0 {
			timeout = defaultCheckTimeout
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := runCheck(cctx, releaseDir(root, version), chk)
		cancel()
		r := state.CheckResult{Name: s.ID(), OK: err == nil, At: time.Now().UTC()}
		if err != nil {
			r.Detail = err.Error()
		}
		out = append(out, r)
	}
	return out
}

func runCheck(ctx context.Context, dir string, c bundle.CheckSpec) error {
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
	cmd := exec.CommandContext(ctx, c.Command[0], c.Command[1:]...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		return fmt.Errorf("%s: %v: %s", strings.Join(c.Command, " "), err, msg)
	}
	return nil
}
