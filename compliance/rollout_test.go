package compliance

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/bundle/spec"
	"ferry/installer/state"
	"ferry/rollout"
)

// rolloutRecorder drives real rollouts with the rollout machine and writes
// to state.db what ferry serve writes: the state under its mark after
// every transition and an audit entry for every decision, with the same
// fields.
type rolloutRecorder struct {
	t  *testing.T
	db *state.DB
	// records are the decisions written, by service.
	records map[string][]rollout.Decision
}

func (r *rolloutRecorder) commit(s rollout.State, acts []rollout.Action, err error) rollout.State {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
	data, err := json.Marshal(s)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.db.SetMark(rolloutMarkPrefix+s.Service, data); err != nil {
		r.t.Fatal(err)
	}
	for _, a := range acts {
		rec, ok := a.(rollout.Record)
		if !ok {
			continue
		}
		d := rec.Decision
		fields := map[string]string{
			"service": s.Service, "strategy": s.Plan.Strategy, "stable": s.Stable, "new": s.New,
			"phase": string(s.Phase), "weight": fmt.Sprint(s.Weight), "action": string(d.Action), "reason": d.Reason,
		}
		if d.Canary != nil {
			fields["canary"] = d.Canary.String()
			fields["stable-metrics"] = d.Stable.String()
		}
		r.audit("rollout."+string(d.Action), fields)
		r.records[s.Service] = append(r.records[s.Service], d)
	}
	return s
}

func (r *rolloutRecorder) audit(event string, fields map[string]string) {
	r.t.Helper()
	if err := r.db.Audit(event, fields); err != nil {
		r.t.Fatal(err)
	}
}

func canary(name string, analysis *spec.Analysis) spec.Service {
	return spec.Service{Name: name, Rollout: &spec.Rollout{
		Strategy: spec.StrategyCanary, Steps: []int{10, 50, 100}, Interval: spec.Duration(time.Minute), Analysis: analysis,
	}}
}

// TestCollectRollouts fills a state.db with what ferry serve records of a
// canary that succeeds and one that an operator pauses and resumes and
// its analysis then aborts, with the release rollback that follows, and
// checks that Collect reports each as it was recorded.
func TestCollectRollouts(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	db, err := state.Open(root, true)
	if err != nil {
		t.Fatal(err)
	}
	rec := &rolloutRecorder{t: t, db: db, records: map[string][]rollout.Decision{}}
	t0 := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	at := func(minute int) time.Time { return t0.Add(time.Duration(minute) * time.Minute) }
	good := rollout.Sample{Requests: 600, P95: 40 * time.Millisecond}
	failing := rollout.Sample{Requests: 500, Errors: 26, P95: 45 * time.Millisecond}

	rec.audit("serve.release", map[string]string{"from": "1.0.0", "to": "1.1.0"})
	web := rec.commit(rollout.Start(canary("web", nil), "1.0.0", "1.1.0", at(0)))
	api := rec.commit(rollout.Start(canary("api", &spec.Analysis{ErrorRate: 1}), "1.0.0", "1.1.0", at(0)))
	web = rec.commit(rollout.Next(web, rollout.Healthy{}, at(1)))
	api = rec.commit(rollout.Next(api, rollout.Healthy{}, at(1)))
	for m := 2; !web.Phase.Finished(); m++ {
		web = rec.commit(rollout.Next(web, rollout.Tick{Canary: good, Stable: good}, at(m)))
	}
	rec.audit(eventRolloutCommand, map[string]string{"service": "api", "command": fmt.Sprintf("%T", rollout.Pause{})})
	api = rec.commit(rollout.Next(api, rollout.Pause{}, at(2)))
	rec.audit(eventRolloutResumed, map[string]string{"service": "api", "stable": api.Stable, "new": api.New,
		"phase": string(api.Phase), "weight": fmt.Sprint(api.Weight), "step": fmt.Sprint(api.Step)})
	rec.audit(eventRolloutCommand, map[string]string{"service": "api", "command": fmt.Sprintf("%T", rollout.Resume{})})
	api = rec.commit(rollout.Next(api, rollout.Resume{}, at(3)))
	api = rec.commit(rollout.Next(api, rollout.Tick{Canary: failing, Stable: good}, at(4)))
	if api.Phase != rollout.PhaseAborted || web.Phase != rollout.PhaseSucceeded {
		t.Fatalf("api %s, web %s: the rollouts did not end as the test needs", api.Phase, web.Phase)
	}
	// What the installer's rollback and then ferry serve record.
	rec.audit("rollback", map[string]string{"from": "1.1.0", "to": "1.0.0"})
	rec.audit(eventReleaseRolledBack, map[string]string{"from": "1.1.0", "to": "1.0.0", "reason": api.AbortCause})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	ev, fs := collect(t, root)
	ro := ev.Rollouts
	if ro.Problem != "" {
		t.Fatalf("problem: %s", ro.Problem)
	}
	if got := serviceNames(ro); !slices.Equal(got, []string{"api", "web"}) {
		t.Fatalf("services %v, want [api web]", got)
	}
	for _, s := range ro.Services {
		want := rec.records[s.Service]
		if len(s.Decisions) != len(want) {
			t.Fatalf("%s: %d decisions, want %d", s.Service, len(s.Decisions), len(want))
		}
		for i, d := range s.Decisions {
			w := want[i]
			if d.Action != string(w.Action) || d.Reason != w.Reason || d.Stable != "1.0.0" || d.New != "1.1.0" || d.Strategy != "canary" {
				t.Errorf("%s decision %d = %+v, want %s: %s", s.Service, i, d, w.Action, w.Reason)
			}
			if i > 0 && d.Seq <= s.Decisions[i-1].Seq {
				t.Errorf("%s decision %d: seq %d after %d", s.Service, i, d.Seq, s.Decisions[i-1].Seq)
			}
			if (w.Canary != nil) != (d.Canary != "") {
				t.Errorf("%s decision %d: canary metrics %q, recorded %v", s.Service, i, d.Canary, w.Canary)
			}
		}
	}

	a, w := ro.Services[0], ro.Services[1]
	if a.Last == nil || w.Last == nil {
		t.Fatalf("saved rollouts: api %v, web %v", a.Last, w.Last)
	}
	if l := a.Last; l.Phase != "aborted" || l.AbortCause != api.AbortCause || l.Weight != 0 || l.Step != 1 || l.Stable != "1.0.0" || l.New != "1.1.0" ||
		!slices.Equal(l.Steps, []int{10, 50, 100}) || !l.Started.Equal(at(0)) {
		t.Errorf("api's saved rollout = %+v", *l)
	}
	if d := a.Last.LastDecision; d == nil || d.Action != "abort" || !strings.Contains(d.Reason, "error rate 5.2% > 1%") ||
		d.Canary != failing.String() || d.StableMetrics != good.String() || !d.Time.Equal(at(4)) {
		t.Errorf("api's last decision = %+v", d)
	}
	if l := w.Last; l.Phase != "succeeded" || l.Weight != 100 || l.StableWeight() != 0 || l.AbortCause != "" || l.Step != 3 {
		t.Errorf("web's saved rollout = %+v", *l)
	}
	if got := commands(a.Commands); !slices.Equal(got, []string{"pause", "resume"}) || len(w.Commands) != 0 {
		t.Errorf("commands: api %v, web %v", got, w.Commands)
	}
	if len(a.Resumed) != 1 || a.Resumed[0].Phase != "progressing" || a.Resumed[0].Weight != "10" || a.Resumed[0].Step != "1" {
		t.Errorf("api resumed: %+v", a.Resumed)
	}

	if len(ro.ReleaseRollbacks) != 1 {
		t.Fatalf("release rollbacks: %+v", ro.ReleaseRollbacks)
	}
	if rb := ro.ReleaseRollbacks[0]; rb.From != "1.1.0" || rb.To != "1.0.0" || rb.Reason != api.AbortCause || rb.Failed() || !slices.Equal(rb.Services, []string{"api"}) {
		t.Errorf("release rollback = %+v", rb)
	}
	// The installer's rollback entry and ferry serve's are one rollback.
	if len(ev.Rollbacks) != 1 || ev.Rollbacks[0].Kind != rolloutRollbackKind || ev.Rollbacks[0].Reason != api.AbortCause ||
		ev.Rollbacks[0].From != "1.1.0" || ev.Rollbacks[0].To != "1.0.0" {
		t.Errorf("rollbacks = %+v", ev.Rollbacks)
	}

	m := byControl(fs)
	if !hasEvidence(m["au-2"], "rollout.abort, rollout.command") {
		t.Errorf("AU-2 does not list the rollout events: %+v", m["au-2"].Evidence)
	}
	decisions := len(rec.records["api"]) + len(rec.records["web"])
	if !hasEvidence(m["au-3"], fmt.Sprintf("the %d rollout decision records also name the service", decisions)) ||
		!hasEvidence(m["au-3"], "the 2 rollout command records") {
		t.Errorf("AU-3 does not describe the rollout records: %+v", m["au-3"].Evidence)
	}
}

// TestCollectRolloutsFailedRollback checks a release rollback that failed:
// it is no rollback, and the report says the release stayed.
func TestCollectRolloutsFailedRollback(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	db, err := state.Open(root, true)
	if err != nil {
		t.Fatal(err)
	}
	rec := &rolloutRecorder{t: t, db: db, records: map[string][]rollout.Decision{}}
	now := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	s := rec.commit(rollout.Start(canary("api", nil), "1.0.0", "1.1.0", now))
	s = rec.commit(rollout.Next(s, rollout.Abort{Reason: "customers complain"}, now.Add(time.Minute)))
	rec.audit(eventRollbackFailed, map[string]string{"from": "1.1.0", "to": "1.0.0", "error": "release 1.0.0 is not kept on this host"})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ev, fs := collect(t, root)
	if len(ev.Rollbacks) != 0 {
		t.Errorf("a failed release rollback is listed as a rollback: %+v", ev.Rollbacks)
	}
	rbs := ev.Rollouts.ReleaseRollbacks
	if len(rbs) != 1 || !rbs[0].Failed() || rbs[0].Error != "release 1.0.0 is not kept on this host" || !slices.Equal(rbs[0].Services, []string{"api"}) {
		t.Fatalf("release rollbacks = %+v", rbs)
	}
	if l := ev.Rollouts.Services[0].Last; l == nil || l.AbortCause != s.AbortCause || !strings.Contains(l.AbortCause, "customers complain") {
		t.Errorf("saved rollout = %+v", l)
	}
	md := markdown(t, ev, fs)
	for _, want := range []string{"**failed, the release stayed 1.1.0**: release 1.0.0 is not kept on this host", "Abort cause: aborted by the operator: customers complain."} {
		if !strings.Contains(md, want) {
			t.Errorf("the report does not say %q", want)
		}
	}
}

// TestCollectRolloutsUnreadable checks that a saved rollout that cannot be
// read is reported on its service, and the rest of the evidence still is.
func TestCollectRolloutsUnreadable(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	db, err := state.Open(root, true)
	if err != nil {
		t.Fatal(err)
	}
	other, err := json.Marshal(rollout.State{Service: "web", Phase: rollout.PhaseSucceeded})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string][]byte{rolloutMarkPrefix + "api": []byte(`{"service":`), rolloutMarkPrefix + "db": other} {
		if err := db.SetMark(name, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ev, fs := collect(t, root)
	ro := ev.Rollouts
	if got := serviceNames(ro); !slices.Equal(got, []string{"api", "db"}) {
		t.Fatalf("services %v", got)
	}
	for _, s := range ro.Services {
		if s.Last != nil || !strings.Contains(s.Problem, "mark "+rolloutMarkPrefix+s.Service) {
			t.Errorf("%s: last %+v, problem %q", s.Service, s.Last, s.Problem)
		}
	}
	md := markdown(t, ev, fs)
	if !strings.Contains(md, "**the saved rollout (mark rollout:db) is of service \"web\"") || strings.Contains(md, "No rollout of it is saved") {
		t.Errorf("the report does not say what is wrong with the saved rollouts:\n%s", md[strings.Index(md, "### Rollouts"):])
	}
}

// TestRolloutsAloneSatisfyNothing checks that rollout evidence does not
// make up for an audit log that has nothing.
func TestRolloutsAloneSatisfyNothing(t *testing.T) {
	ev := goldenEvidence()
	ev.Audit = Audit{}
	m := byControl(Assess(ev))
	for _, c := range []string{"au-2", "au-3", "au-8"} {
		if m[c].Status == Satisfied {
			t.Errorf("%s is satisfied with rollout evidence and an empty audit log", m[c].Label)
		}
	}
}

// TestMarkdownBoundsDecisions checks that a service with many decisions
// shows the latest ones and says how many it left out.
func TestMarkdownBoundsDecisions(t *testing.T) {
	ev := goldenEvidence()
	web := &ev.Rollouts.Services[1]
	var ds []RolloutDecision
	for i := range markdownDecisions + 7 {
		ds = append(ds, RolloutDecision{Seq: uint64(100 + i), Time: ev.Audit.Last, Action: "hold", Reason: fmt.Sprintf("hold number %d", i), Stable: "1.0.0", New: "1.1.0", Phase: "progressing", Weight: "10"})
	}
	web.Decisions = ds
	md := markdown(t, ev, Assess(ev))
	if !strings.Contains(md, "(7 older ones are left out here; `ferry audit --root /var/lib/ferry` lists them all)") {
		t.Error("the report does not say how many decisions it left out")
	}
	if strings.Contains(md, "| hold number 6 |") || !strings.Contains(md, "| hold number 7 |") || !strings.Contains(md, fmt.Sprintf("| hold number %d |", markdownDecisions+6)) {
		t.Error("the report does not show exactly the latest decisions")
	}
}

func serviceNames(r Rollouts) []string {
	var out []string
	for _, s := range r.Services {
		out = append(out, s.Service)
	}
	return out
}

func commands(cs []RolloutCommand) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Command)
	}
	return out
}

func markdown(t *testing.T, ev *Evidence, fs []Finding) string {
	t.Helper()
	var b strings.Builder
	if err := Write(&b, Markdown, ev, fs); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// FuzzRolloutsOf feeds saved rollouts and audit entries of any content to
// the rollout evidence: it never fails, lists each service once in order,
// and keeps every entry it takes in log order.
func FuzzRolloutsOf(f *testing.F) {
	saved, _ := json.Marshal(rollout.State{Service: "api", Plan: rollout.Plan{Strategy: "canary", Steps: []int{10, 100}}, Phase: rollout.PhaseAborted, AbortCause: "x",
		LastDecision: &rollout.Decision{Action: rollout.DecideAbort, Canary: &rollout.Sample{Requests: 1}}})
	f.Add("api", saved, "rollout.abort", "api", "abort", "1.0.0", "1.1.0", "rollout.release-rolled-back")
	f.Add("web", []byte(`{"service":"web","plan":{"steps":[1,2,3]},"weight":-5}`), "rollout.command", "web", "rollout.Promote", "", "", "rollout.rollback-failed")
	f.Add("", []byte(`null`), "rollout.resumed", "", "", "a", "a", "rollout.start")
	f.Fuzz(func(t *testing.T, mark string, data []byte, event, service, action, stable, next, event2 string) {
		marks := map[string][]byte{rolloutMarkPrefix + mark: data, "other": data}
		fields := map[string]string{"service": service, "action": action, "command": action, "stable": stable, "new": next, "from": next, "to": stable}
		log := []state.AuditEntry{
			{Seq: 1, Event: event, Fields: fields},
			{Seq: 2, Event: event2, Fields: fields},
			{Seq: 3, Event: event, Fields: nil},
		}
		r := rolloutsOf(marks, log)
		names := serviceNames(r)
		if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
			t.Fatalf("services %q are not sorted and unique", names)
		}
		for _, s := range r.Services {
			if s.Last != nil && s.Problem != "" {
				t.Fatalf("%s has a saved rollout and a problem: %s", s.Service, s.Problem)
			}
			for i := 1; i < len(s.Decisions); i++ {
				if s.Decisions[i].Seq <= s.Decisions[i-1].Seq {
					t.Fatalf("%s: decisions out of log order", s.Service)
				}
			}
		}
		for _, rb := range r.ReleaseRollbacks {
			if failed := log[rb.Seq-1].Event == eventRollbackFailed; rb.Failed() != failed {
				t.Fatalf("release rollback %+v from a %s entry", rb, log[rb.Seq-1].Event)
			}
		}
	})
}
