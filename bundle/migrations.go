package bundle

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
)

// migrationFileRE is the only file name a migration directory may hold:
// NNN_name.up.sql or NNN_name.down.sql. The number may have leading zeros and
// any width; the name is lowercase so that it reads the same on every host.
var migrationFileRE = regexp.MustCompile(`^([0-9]+)_([a-z0-9_]+)\.(up|down)\.sql$`)

// maxMigrationDigits keeps a version number well inside an int.
const maxMigrationDigits = 9

// LoadMigrations reads a directory of numbered migrations and returns them
// sorted by version. dir should be absolute; the returned paths are joined
// to it.
//
// Every entry must be a migration file: a README, a .keep file, a
// subdirectory or a symlink is an error, because a file ferry skips silently
// is a file a vendor believes is installed. Versions must run 1, 2, 3, ...
// without gaps or duplicates, so that the database's schema version says
// exactly which files were applied. A down file is optional but must match
// an up file's version and name.
func LoadMigrations(dir string) ([]MigrationFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("migrations in %s: the directory is empty: add NNN_name.up.sql files, starting at 001", dir)
	}
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("migration %s: %s", filepath.Join(dir, name), fmt.Sprintf(format, args...))
	}
	type side struct{ name, file string }
	ups := make(map[int]side)
	downs := make(map[int]side)
	for _, e := range entries {
		name := e.Name()
		switch t := e.Type(); {
		case t&os.ModeSymlink != 0:
			return nil, bad(name, "is a symlink: put the migration file itself in the directory")
		case t.IsDir():
			return nil, bad(name, "is a directory: migrations are read from one flat directory")
		case !t.IsRegular():
			return nil, bad(name, "is not a regular file")
		}
		m := migrationFileRE.FindStringSubmatch(name)
		if m == nil {
			return nil, bad(name, "is not a migration: name it NNN_name.up.sql or NNN_name.down.sql (name in lowercase letters, digits and _), and keep other files elsewhere")
		}
		if len(m[1]) > maxMigrationDigits {
			return nil, bad(name, "version number has more than %d digits", maxMigrationDigits)
		}
		v, err := strconv.Atoi(m[1])
		if err != nil {
			return nil, bad(name, "invalid version number: %v", err)
		}
		set := ups
		if m[3] == "down" {
			set = downs
		}
		if prev, ok := set[v]; ok {
			return nil, bad(name, "duplicate version %d (also %s): give each migration its own number", v, prev.file)
		}
		set[v] = side{name: m[2], file: name}
	}

	versions := make([]int, 0, len(ups))
	for v := range ups {
		versions = append(versions, v)
	}
	sort.Ints(versions)
	downVersions := make([]int, 0, len(downs))
	for v := range downs {
		downVersions = append(downVersions, v)
	}
	sort.Ints(downVersions)
	for _, v := range downVersions {
		d := downs[v]
		u, ok := ups[v]
		if !ok {
			return nil, bad(d.file, "has no up migration: add %s or remove it", fmt.Sprintf("%s.up.sql", d.file[:len(d.file)-len(".down.sql")]))
		}
		if u.name != d.name {
			return nil, bad(d.file, "name %q does not match %s: an up and a down file share version and name", d.name, u.file)
		}
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("migrations in %s: no up migrations: add NNN_name.up.sql files, starting at 001", dir)
	}
	if versions[0] != 1 {
		return nil, bad(ups[versions[0]].file, "the first migration must be version 1, not %d", versions[0])
	}
	out := make([]MigrationFile, 0, len(versions))
	for i, v := range versions {
		if i > 0 && v != versions[i-1]+1 {
			prev := versions[i-1]
			missing := fmt.Sprintf("version %d is", prev+1)
			if v-prev > 2 {
				missing = fmt.Sprintf("versions %d to %d are", prev+1, v-1)
			}
			return nil, bad(ups[v].file, "follows version %d: %s missing; number migrations without gaps", prev, missing)
		}
		mf := MigrationFile{Version: v, Name: ups[v].name, UpPath: filepath.Join(dir, ups[v].file)}
		if d, ok := downs[v]; ok {
			mf.DownPath = filepath.Join(dir, d.file)
		}
		out = append(out, mf)
	}
	return out, nil
}
