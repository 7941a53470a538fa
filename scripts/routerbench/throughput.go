package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"ferry/rollout/metrics"
)

// throughputRounds is how many times each throughput measurement runs.
// The contenders take turns within a round and each ratio compares
// measurements of the same round, so that a stall of the machine (it
// shares its host) or a drift of its speed makes one round out of line
// rather than the figure: the median round decides.
const throughputRounds = 3

// contender is one way of reaching the backend: straight, or through a
// proxy in the router's place.
type contender struct {
	name string
	c    *child
	// Summed over the rounds: answers, the contender's CPU time (its
	// process's), and the load generator's.
	n       counts
	cpu     time.Duration
	loadCPU time.Duration
	// ratios are the throughput of each round against direct's.
	ratios []float64
}

// measureThroughput runs throughputRounds rounds in which direct and then
// each of the others serve a closed loop of conns connections for
// duration, and fills in their figures.
func measureThroughput(ctx context.Context, sampler *metrics.Sampler, direct *contender, others []*contender, conns int, duration time.Duration) error {
	for range throughputRounds {
		var base float64
		for i, k := range append([]*contender{direct}, others...) {
			n, cpu, loadCPU, err := measureLoop(ctx, k.c, sampler, conns, duration)
			if err != nil {
				return fmt.Errorf("%s: %w", k.name, err)
			}
			if n.failed > 0 {
				return fmt.Errorf("%s: %d of %d requests failed", k.name, n.failed, n.ok+n.failed)
			}
			k.n.ok, k.n.took = k.n.ok+n.ok, k.n.took+n.took
			k.cpu, k.loadCPU = k.cpu+cpu, k.loadCPU+loadCPU
			if i == 0 {
				base = n.perSecond()
			}
			k.ratios = append(k.ratios, n.perSecond()/base)
		}
	}
	return nil
}

// ratio is the median round's ratio to direct.
func (k *contender) ratio() float64 {
	s := slices.Clone(k.ratios)
	slices.Sort(s)
	return s[len(s)/2]
}

// rounds lists the ratio of each round.
func (k *contender) rounds() string {
	parts := make([]string, len(k.ratios))
	for i, r := range k.ratios {
		parts[i] = fmt.Sprintf("%.2f", r)
	}
	return strings.Join(parts, ", ")
}

// cpuPerRequest is the contender's CPU time per answered request, in µs.
func (k *contender) cpuPerRequest() float64 { return perRequest(k.cpu, k.n.ok) }
