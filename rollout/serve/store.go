package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"ferry/installer/state"
	"ferry/rollout"
)

// rolloutMarkPrefix names the state.db mark holding a service's rollout.
const rolloutMarkPrefix = "rollout:"

// servedMarkPrefix names the state.db mark holding the version a service
// last ran as its stable one, so that a ferry serve started after an
// install rolls the new release out from it instead of starting the new
// version alone.
const servedMarkPrefix = "served:"

// write is one change to state.db: a rollout state to save or an audit
// entry to append.
type write struct {
	mark  string
	value []byte
	event string
	attrs map[string]string
}

// saver writes the controller's changes to state.db in order. When an
// install or update holds the appliance, the changes wait in memory and go
// out, still in order, at the next flush: traffic decisions are not held
// up by a transaction, and the audit log still gets every one.
type saver struct {
	root    string
	log     *slog.Logger
	pending []write
}

// saveRollout queues s as the saved rollout of its service.
func (w *saver) saveRollout(s rollout.State) {
	data, err := json.Marshal(s)
	if err != nil {
		w.log.Error("encoding rollout state", "service", s.Service, "error", err)
		return
	}
	w.pending = append(w.pending, write{mark: rolloutMarkPrefix + s.Service, value: data})
}

// saveServed queues version as the stable version of service.
func (w *saver) saveServed(service, version string) {
	w.pending = append(w.pending, write{mark: servedMarkPrefix + service, value: []byte(version)})
}

// audit queues an audit entry.
func (w *saver) audit(event string, attrs map[string]string) {
	w.pending = append(w.pending, write{event: event, attrs: attrs})
}

// flush writes what is queued; an appliance held by a writer is not an
// error, the writes wait for the next flush.
func (w *saver) flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	db, err := state.OpenBrief(w.root)
	if errors.Is(err, state.ErrLocked) {
		w.log.Debug("state.db is held by another ferry; saving later", "pending", len(w.pending))
		return nil
	}
	if err != nil {
		return err
	}
	defer db.Close()
	for len(w.pending) > 0 {
		p := w.pending[0]
		if p.event != "" {
			err = db.Audit(p.event, p.attrs)
		} else {
			err = db.SetMark(p.mark, p.value)
		}
		if err != nil {
			return fmt.Errorf("saving rollout state: %w", err)
		}
		w.pending = w.pending[1:]
	}
	return nil
}

// savedRollouts reads every saved rollout, by service.
func savedRollouts(db *state.DB) (map[string]rollout.State, error) {
	marks, err := db.Marks(rolloutMarkPrefix)
	if err != nil {
		return nil, err
	}
	out := map[string]rollout.State{}
	for name, v := range marks {
		var s rollout.State
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("%w: saved rollout %s: %w", state.ErrCorrupt, name, err)
		}
		out[strings.TrimPrefix(name, rolloutMarkPrefix)] = s
	}
	return out, nil
}

// savedServed reads the version each service last ran as its stable one.
func savedServed(db *state.DB) (map[string]string, error) {
	marks, err := db.Marks(servedMarkPrefix)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, v := range marks {
		out[strings.TrimPrefix(name, servedMarkPrefix)] = string(v)
	}
	return out, nil
}

// Served reads the version each service of the appliance at root last ran
// as its stable one under ferry serve; empty when serve never ran there.
func Served(root string) (map[string]string, error) {
	db, err := state.OpenReadOnly(root)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return savedServed(db)
}

// SavedRollouts reads the rollouts saved at root, for `ferry rollout
// status` when `ferry serve` is not running.
func SavedRollouts(root string) (map[string]rollout.State, error) {
	db, err := state.OpenReadOnly(root)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return savedRollouts(db)
}

// decisionAttrs are the audit fields of a rollout decision.
func decisionAttrs(s rollout.State, d rollout.Decision) map[string]string {
	attrs := map[string]string{
		"service": s.Service, "strategy": s.Plan.Strategy, "stable": s.Stable, "new": s.New,
		"phase": string(s.Phase), "weight": fmt.Sprint(s.Weight), "action": string(d.Action), "reason": d.Reason,
	}
	if d.Canary != nil {
		attrs["canary"] = d.Canary.String()
	}
	if d.Stable != nil {
		attrs["stable-metrics"] = d.Stable.String()
	}
	return attrs
}
