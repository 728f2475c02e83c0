package systemdunit_test

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"watchdog/supervisor/config"
	"watchdog/supervisor/systemdunit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// importTOML imports the unit files together and returns the TOML import-unit prints.
func importTOML(t *testing.T, paths ...string) ([]*systemdunit.Translation, []byte) {
	t.Helper()
	translations, errs := systemdunit.Import(paths)
	if len(errs) > 0 {
		t.Fatalf("import %v: %v", paths, errors.Join(errs...))
	}
	var out bytes.Buffer
	if err := systemdunit.WriteTOML(&out, translations); err != nil {
		t.Fatal(err)
	}
	return translations, out.Bytes()
}

func TestGolden(t *testing.T) {
	tests := []struct {
		golden string
		units  []string
	}{
		{"web.toml", []string{"web.service"}},
		{"job.toml", []string{"job.service"}},
		{"worker.toml", []string{"worker@blue.service"}},
		{"legacy.toml", []string{"legacy.service"}},
		{"stack.toml", []string{"db.service", "api.service"}},
		{"syntax.toml", []string{"syntax.service"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var paths []string
			for _, u := range tt.units {
				paths = append(paths, filepath.Join("testdata", u))
			}
			_, got := importTOML(t, paths...)
			golden := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("import of %v differs from %s (go test -update rewrites it):\n%s", tt.units, golden, got)
			}
			if _, err := config.Parse(golden, got); err != nil {
				t.Errorf("config.Parse rejects the import:\n%v", err)
			}
		})
	}
}

func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.service")
	if err := os.WriteFile(bad, []byte("[Service\nExecStart=/bin/true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	same := filepath.Join(dir, "db.service")
	if err := os.WriteFile(same, []byte("[Service]\nExecStart=/bin/true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	translations, errs := systemdunit.Import([]string{
		filepath.Join("testdata", "db.service"),
		bad,
		filepath.Join(dir, "missing.service"),
		filepath.Join("testdata", "web.env"),
		same,
	})
	if len(translations) != 1 || translations[0].Main().Name != "db" {
		t.Errorf("want only testdata/db.service translated, got %d translations", len(translations))
	}
	var msgs []string
	for _, err := range errs {
		msgs = append(msgs, err.Error())
	}
	want := []string{
		bad + ":1: invalid section header \"[Service\"",
		"open " + filepath.Join(dir, "missing.service") + ": no such file or directory",
		"testdata/web.env: not a .service unit",
		same + `: service "db" is already made from testdata/db.service`,
	}
	if !slices.Equal(msgs, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
}

// unitDirs are where the machine's service units live.
var unitDirs = []string{"/lib/systemd/system", "/usr/lib/systemd/system", "/etc/systemd/system"}

// TestMachineUnits imports every service unit of this machine, each alone. Each must
// either give TOML that config.Parse accepts, or list what it could not express: every
// error Parse reports must be about a program missing on this machine or about a key
// a note that matters names.
func TestMachineUnits(t *testing.T) {
	var paths []string
	seen := map[string]bool{} // a file read under a name, once: *.wants/ links repeat units
	for _, dir := range unitDirs {
		filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
			if err != nil || entry.IsDir() || !strings.HasSuffix(path, ".service") {
				return nil
			}
			real, err := filepath.EvalSymlinks(path)
			if err != nil {
				return nil // a dangling link: nothing to import
			}
			if key := real + " as " + filepath.Base(path); !seen[key] {
				seen[key] = true
				paths = append(paths, path)
			}
			return nil
		})
	}
	if len(paths) == 0 {
		t.Skipf("no service units in %v", unitDirs)
	}
	var clean, missingPrograms, explained, notes int
	for _, path := range paths {
		translations, errs := systemdunit.Import([]string{path})
		if len(errs) > 0 {
			t.Errorf("%s: %v", path, errors.Join(errs...))
			continue
		}
		tr := translations[0]
		notes += len(tr.Notes)
		var out bytes.Buffer
		if err := systemdunit.WriteTOML(&out, translations); err != nil {
			t.Fatal(err)
		}
		_, err := config.Parse("import.toml", out.Bytes())
		if err == nil {
			clean++
			continue
		}
		var cerrs config.Errors
		if !errors.As(err, &cerrs) {
			t.Errorf("%s: config.Parse: %v\n%s", path, err, out.Bytes())
			continue
		}
		onlyMissing := true
		for _, e := range cerrs {
			switch {
			case missingProgram(e):
			case mattersFor(tr, e.Key):
				onlyMissing = false
			default:
				t.Errorf("%s: the import does not parse, and no note explains it: %v\n%s", path, e, out.Bytes())
			}
		}
		if onlyMissing {
			missingPrograms++
		} else {
			explained++
		}
	}
	t.Logf("%d service units from %v: %d parse as they are, %d only lack programs on this machine, %d fail where a note that matters says why; %d notes in all",
		len(paths), unitDirs, clean, missingPrograms, explained, notes)
}

// missingProgram reports whether e says that a service's program is not on this machine.
func missingProgram(e *config.Error) bool {
	return strings.HasSuffix(e.Key, ".command") &&
		(strings.HasSuffix(e.Msg, " does not exist") || strings.Contains(e.Msg, " not found in PATH "))
}

// mattersFor reports whether a note that matters names the setting key
// ("services.NAME.KEY") has.
func mattersFor(tr *systemdunit.Translation, key string) bool {
	for _, n := range tr.Notes {
		if n.Matters && strings.HasPrefix(key, "services."+n.Service+"."+n.Key) {
			return true
		}
	}
	return false
}
