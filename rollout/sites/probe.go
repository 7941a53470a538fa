package sites

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"ferry/rollout/router"
)

// Names on the wire between sites.
const (
	HopHeader     = router.HopHeader
	ServiceHeader = router.ServiceHeader
	HealthPath    = router.HealthPath
)

// HealthAnswer is what a site's health endpoint answers.
type HealthAnswer = router.HealthAnswer

// maxHealthAnswer bounds what a peer's health answer may be.
const maxHealthAnswer = 4 << 10

// peerProbe asks a peer's site listener whether it serves the service,
// and gives the time the answer took to the monitor.
type peerProbe struct {
	m      *Monitor
	site   string
	url    string
	client *http.Client
}

func (p *peerProbe) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return err
	}
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("site %s: %w", p.site, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHealthAnswer+1))
	rtt := time.Since(start)
	if err != nil {
		return fmt.Errorf("site %s: reading its health answer: %w", p.site, err)
	}
	var a HealthAnswer
	if len(body) > maxHealthAnswer || json.Unmarshal(body, &a) != nil {
		return fmt.Errorf("site %s: health answer %s is not ferry's", p.site, resp.Status)
	}
	switch {
	case a.Site != p.site:
		return fmt.Errorf("site %s: answered as site %q", p.site, a.Site)
	case !a.Serving || resp.StatusCode != http.StatusOK:
		return fmt.Errorf("site %s: does not serve %s itself", p.site, p.m.service)
	}
	p.m.observeLatency(p.site, rtt)
	return nil
}
