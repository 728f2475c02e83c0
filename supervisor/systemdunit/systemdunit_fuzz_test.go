package systemdunit_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"watchdog/supervisor/config"
	"watchdog/supervisor/systemdunit"
)

// fuzzDeadline bounds one input: reading and translating a unit of a few kilobytes that takes
// longer is a hang.
const fuzzDeadline = 10 * time.Second

// withDeadline runs f and fails the test if it has not returned within fuzzDeadline.
func withDeadline(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	timer := time.NewTimer(fuzzDeadline)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatalf("%s still running after %v", what, fuzzDeadline)
	}
}

// FuzzTranslate feeds an arbitrary unit file, and an environment file beside it, through what
// `watchdog import-unit` and `unit =` do: Parse, Translate, WriteTOML, and config.Parse of the
// result. Parse must refuse with an *Error naming the file and a line in it, or accept; the
// translation must name its main service after the unit and give every setting a TOML type;
// the TOML written must decode to exactly those settings, and config must find in it no
// syntax error, no unknown key and no value of the wrong type.
//
// The unit is read as FUZZ_DIR/fuzz.service; EnvironmentFile= may name files under %Y (that
// directory), where the second input is fuzz.env. Units naming any other environment file are
// skipped: reading an arbitrary path can block for ever or fill memory (see
// TestEnvironmentFileThatNeverEnds). The seeds are in testdata/fuzz/FuzzTranslate; a longer
// run is
//
//	go test -run='^$' -fuzz='^FuzzTranslate$' -fuzztime=60s ./supervisor/systemdunit
func FuzzTranslate(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "fuzz.service")
	f.Fuzz(func(t *testing.T, unit, env []byte) {
		if err := os.WriteFile(filepath.Join(dir, "fuzz.env"), env, 0o644); err != nil {
			t.Fatal(err)
		}
		lines := bytes.Count(unit, []byte("\n")) + 1
		var u *systemdunit.Unit
		var err error
		withDeadline(t, "Parse", func() { u, err = systemdunit.Parse(path, unit) })
		if err != nil {
			unitErr, ok := errors.AsType[*systemdunit.Error](err)
			switch {
			case !ok:
				t.Fatalf("Parse refused with %T, not *Error: %v", err, err)
			case unitErr.Path != path || unitErr.Line < 1 || unitErr.Line > lines || unitErr.Msg == "":
				t.Fatalf("Parse refused with %q: want the file, a line from 1 to %d, a message", err, lines)
			case u != nil:
				t.Fatalf("Parse refused (%v) but returned a unit", err)
			}
			return
		}
		last := 0
		for _, a := range u.Assignments {
			if a.File != path || a.Line < last || a.Line > lines || !slices.Contains([]string{"Unit", "Service", "Install"}, a.Section) {
				t.Fatalf("assignment %+v: want file %s, lines in order up to %d, a known section", a, path, lines)
			}
			last = a.Line
			if a.Section == "Service" && a.Key == "EnvironmentFile" && !harmlessEnvFile(a.Value) {
				t.Skipf("EnvironmentFile=%s may name a file outside the fuzz's directory", a.Value)
			}
		}

		var trs []*systemdunit.Translation
		withDeadline(t, "Translate", func() { trs = systemdunit.Translate([]*systemdunit.Unit{u}) })
		if len(trs) != 1 || len(trs[0].Services) == 0 {
			t.Fatalf("Translate gave %d translations, want 1 with services", len(trs))
		}
		tr := trs[0]
		if tr.Main().Name != "fuzz" || tr.Main().Origin != "" {
			t.Errorf("main service %q (origin %q), want fuzz", tr.Main().Name, tr.Main().Origin)
		}
		names := map[string]bool{}
		for _, s := range tr.Services {
			if s.Name == "" || strings.Trim(s.Name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != "" || names[s.Name] {
				t.Errorf("service name %q: empty, not a bare key, or twice", s.Name)
			}
			names[s.Name] = true
			for _, st := range s.Settings {
				if st.Key == "" || !tomlTyped(st.Value) {
					t.Errorf("service %s: setting %q = %#v: no key or not a TOML value", s.Name, st.Key, st.Value)
				}
			}
		}
		for _, n := range tr.Notes {
			if n.File == "" || n.Reason == "" {
				t.Errorf("note %+v: no file or no reason", n)
			}
		}

		var out bytes.Buffer
		if err := systemdunit.WriteTOML(&out, trs); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if _, err := toml.Decode(out.String(), &doc); err != nil {
			t.Fatalf("import-unit wrote TOML that does not decode: %v\n--- unit\n%s\n--- TOML\n%s", err, unit, out.String())
		}
		for _, s := range tr.Services {
			table, _ := dig(doc, "services", s.Name).(map[string]any)
			if table == nil {
				t.Fatalf("no [services.%s] in\n%s", s.Name, out.String())
			}
			for _, st := range s.Settings {
				got := dig(table, strings.SplitN(st.Key, ".", 2)...)
				if !reflect.DeepEqual(got, st.Value) {
					t.Errorf("services.%s.%s reads back as %#v, want %#v\n--- TOML\n%s", s.Name, st.Key, got, st.Value, out.String())
				}
			}
		}

		var cfgErr error
		withDeadline(t, "config.Parse", func() { _, cfgErr = config.Parse(filepath.Join(dir, "fuzz.toml"), out.Bytes()) })
		errs, _ := errors.AsType[config.Errors](cfgErr)
		for _, e := range errs {
			if e.Key == "" || strings.Contains(e.Msg, "unknown key") || strings.Contains(e.Msg, " must be a") ||
				strings.Contains(e.Msg, "must be an") {
				t.Errorf("config refuses what import-unit wrote: %v\n--- unit\n%s\n--- TOML\n%s", e, unit, out.String())
			}
		}
	})
}

// harmlessEnvFile reports whether an EnvironmentFile= value can only name files in the fuzz's
// directory, or a path that does not exist.
func harmlessEnvFile(value string) bool {
	v := strings.TrimPrefix(value, "-")
	if strings.HasPrefix(v, "%Y/") {
		return !strings.Contains(v, "..")
	}
	if strings.ContainsAny(v, "%*?[\\") {
		return false
	}
	_, err := os.Lstat(v)
	return errors.Is(err, os.ErrNotExist)
}

// tomlTyped reports whether v has a type the TOML decoder gives: string, int64, bool, or a
// []any of those.
func tomlTyped(v any) bool {
	switch v := v.(type) {
	case string, int64, bool:
		return true
	case []any:
		for _, item := range v {
			if _, nested := item.([]any); nested || !tomlTyped(item) {
				return false
			}
		}
		return true
	}
	return false
}

// dig follows keys through nested tables; nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// TestEnvironmentFileThatNeverEnds translates a unit whose EnvironmentFile= is a FIFO nobody
// writes to, which os.ReadFile waits on for ever, as it reads /dev/zero until memory runs out.
// The same read runs for `unit =` in watchdog.toml, at start-up and at every reload.
func TestEnvironmentFileThatNeverEnds(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "env")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	u, err := systemdunit.Parse(filepath.Join(dir, "x.service"), []byte("[Service]\nExecStart=/bin/true\nEnvironmentFile=%Y/env\n"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		systemdunit.Translate([]*systemdunit.Unit{u})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		// Let the blocked open return so that the goroutine ends with the test.
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		<-done
		t.Fatal("Translate still reading a FIFO as an environment file after 5s")
	}
}
