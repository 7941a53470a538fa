package bundle

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// migrationDir writes files (name -> content; a name ending in "/" is a
// directory) into a new directory.
func migrationDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		p := filepath.Join(dir, n)
		if strings.HasSuffix(n, "/") {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte("-- "+n+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadMigrations(t *testing.T) {
	dir := migrationDir(t, "1_init.up.sql", "001_init.down.sql", "02_add_users.up.sql", "0003_index_2.up.sql", "003_index_2.down.sql")
	got, err := LoadMigrations(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []MigrationFile{
		{Version: 1, Name: "init", UpPath: filepath.Join(dir, "1_init.up.sql"), DownPath: filepath.Join(dir, "001_init.down.sql")},
		{Version: 2, Name: "add_users", UpPath: filepath.Join(dir, "02_add_users.up.sql")},
		{Version: 3, Name: "index_2", UpPath: filepath.Join(dir, "0003_index_2.up.sql"), DownPath: filepath.Join(dir, "003_index_2.down.sql")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestLoadMigrationsSortsNumerically(t *testing.T) {
	var names []string
	for i := 1; i <= 12; i++ {
		names = append(names, strings.Repeat("0", i%3)+strconv.Itoa(i)+"_m.up.sql")
	}
	got, err := LoadMigrations(migrationDir(t, names...))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range got {
		if m.Version != i+1 {
			t.Fatalf("migration %d has version %d", i, m.Version)
		}
	}
}

func TestLoadMigrationsInvalid(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		setup func(t *testing.T, dir string)
		want  string // part of the message
	}{
		{name: "empty dir", want: "empty"},
		{name: "gap", files: []string{"001_a.up.sql", "002_b.up.sql", "004_d.up.sql"}, want: "004_d.up.sql: follows version 2: version 3 is missing"},
		{name: "wide gap", files: []string{"001_a.up.sql", "005_e.up.sql"}, want: "versions 2 to 4 are missing"},
		{name: "not starting at 1", files: []string{"002_b.up.sql", "003_c.up.sql"}, want: "002_b.up.sql: the first migration must be version 1"},
		{name: "starting at 0", files: []string{"000_z.up.sql", "001_a.up.sql"}, want: "must be version 1, not 0"},
		{name: "duplicate version", files: []string{"001_a.up.sql", "002_b.up.sql", "02_c.up.sql"}, want: "duplicate version 2"},
		{name: "duplicate down", files: []string{"001_a.up.sql", "001_a.down.sql", "1_a.down.sql"}, want: "duplicate version 1"},
		{name: "orphan down", files: []string{"001_a.up.sql", "002_b.down.sql"}, want: "002_b.down.sql: has no up migration: add 002_b.up.sql"},
		{name: "only down", files: []string{"001_a.down.sql"}, want: "has no up migration"},
		{name: "name mismatch", files: []string{"001_a.up.sql", "001_b.down.sql"}, want: `001_b.down.sql: name "b" does not match 001_a.up.sql`},
		{name: "bad name", files: []string{"001_Create.up.sql"}, want: "001_Create.up.sql: is not a migration"},
		{name: "no number", files: []string{"init.up.sql"}, want: "init.up.sql: is not a migration"},
		{name: "wrong suffix", files: []string{"001_a.sql"}, want: "001_a.sql: is not a migration"},
		{name: "readme", files: []string{"001_a.up.sql", "README.md"}, want: "README.md: is not a migration"},
		{name: "huge number", files: []string{"0000000001_a.up.sql"}, want: "more than 9 digits"},
		{name: "subdirectory", files: []string{"001_a.up.sql", "old/"}, want: "old: is a directory"},
		{name: "symlink", files: []string{"001_a.up.sql"}, setup: func(t *testing.T, dir string) {
			if err := os.Symlink("001_a.up.sql", filepath.Join(dir, "002_b.up.sql")); err != nil {
				t.Fatal(err)
			}
		}, want: "002_b.up.sql: is a symlink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := migrationDir(t, tt.files...)
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			got, err := LoadMigrations(dir)
			if err == nil {
				t.Fatalf("LoadMigrations succeeded: %+v", got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadMigrationsMissingDir(t *testing.T) {
	_, err := LoadMigrations(filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}
