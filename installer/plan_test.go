package installer

import (
	"slices"
	"strings"
	"testing"

	"ferry/bundle"
	"ferry/bundle/spec"
)

// manifest builds a small manifest: db <- api <- web, and two optional
// components: reports (depends on api) and extras (alone).
func manifest() *bundle.Manifest {
	d := func(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }
	return &bundle.Manifest{
		Name: "app", Version: "1.2.3",
		Components: []bundle.Component{
			{Name: "web", DependsOn: []string{"api"}, Files: []bundle.File{{Dest: "www/index.html", Digest: d('1')}}},
			{Name: "db", Migrations: []bundle.MigrationSet{{Database: "app", Steps: []bundle.Migration{{Version: 1, Name: "init", Up: d('2'), Down: d('3')}}}}},
			{Name: "api", DependsOn: []string{"db"}, Files: []bundle.File{{Dest: "bin/api", Digest: d('4')}},
				Services: []spec.Service{{Name: "api"}}, Checks: []spec.Check{{Command: []string{"bin/api", "--check"}}}},
			{Name: "reports", Optional: true, DependsOn: []string{"api"}, Files: []bundle.File{{Dest: "bin/reports", Digest: d('5')}}},
			{Name: "extras", Optional: true, Files: []bundle.File{{Dest: "share/extras", Digest: d('6')}}},
		},
	}
}

func TestPlanOrderAndLevels(t *testing.T) {
	p, err := MakePlan(manifest(), "sha256:x", Selection{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"db", "api", "web", "reports", "extras"}; !slices.Equal(p.Components, want) {
		t.Fatalf("order %v, want %v", p.Components, want)
	}
	if want := [][]string{{"db", "extras"}, {"api"}, {"web", "reports"}}; !slices.EqualFunc(p.Levels, want, slices.Equal) {
		t.Fatalf("levels %v, want %v", p.Levels, want)
	}
	var ids []string
	for _, s := range p.Steps {
		ids = append(ids, s.ID())
	}
	if ids[0] != "db/migrations:app" || !slices.Contains(ids, "activate:1.2.3") || ids[len(ids)-1] != "api/check:1:bin/api --check" {
		t.Fatalf("steps %v", ids)
	}
	if !p.Reversible || len(p.Needed()) != 6 {
		t.Fatalf("reversible %v, needed %d", p.Reversible, len(p.Needed()))
	}
}

func TestPlanSelection(t *testing.T) {
	cases := []struct {
		name    string
		sel     Selection
		want    []string
		wantErr string
	}{
		{"choose one optional", Selection{Components: []string{"reports"}}, []string{"db", "api", "web", "reports"}, ""},
		{"choose none optional", Selection{Components: []string{"web"}}, []string{"db", "api", "web"}, ""},
		{"skip optional", Selection{Skip: []string{"extras"}}, []string{"db", "api", "web", "reports"}, ""},
		{"skip required", Selection{Skip: []string{"db"}}, nil, "required"},
		{"unknown", Selection{Components: []string{"nope"}}, nil, `no component "nope"`},
		{"both", Selection{Components: []string{"extras"}, Skip: []string{"extras"}}, nil, "both chosen and skipped"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := MakePlan(manifest(), "sha256:x", tc.sel)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Components, tc.want) {
				t.Fatalf("components %v, want %v", p.Components, tc.want)
			}
		})
	}
}

func TestPlanSkippedDependency(t *testing.T) {
	m := manifest()
	m.Components[2].Optional = true // api optional, but web (required) needs it
	if _, err := MakePlan(m, "sha256:x", Selection{Skip: []string{"api"}}); err == nil || !strings.Contains(err.Error(), "depends on it") {
		t.Fatalf("got %v", err)
	}
}

func TestPlanNotReversible(t *testing.T) {
	m := manifest()
	m.Components[1].Migrations[0].Steps[0].Down = ""
	p, err := MakePlan(m, "sha256:x", Selection{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Reversible {
		t.Fatal("a migration without a down file must make the plan non-reversible")
	}
}
