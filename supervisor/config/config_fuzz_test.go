package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"watchdog/supervisor/config/tomltext"
)

// Fuzz tests of everything in a config file that comes from outside: the whole file, signal
// names and durations. The seeds are in testdata/fuzz/FuzzXxx; a longer run is
//
//	go test -run='^$' -fuzz='^FuzzParse$' -fuzztime=60s ./supervisor/config

// fuzzDeadline bounds one input: decoding a file of a few kilobytes that takes longer is a hang.
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

// fuzzFile is the name the fuzzed files are parsed as.
const fuzzFile = "fuzz.toml"

// FuzzParse feeds arbitrary bytes to Parse. It must return, never panic; reject with Errors
// whose every line names the file (the config's, or that of a unit it reads) and a line inside
// it; and accept only a config whose plan, as `watchdog check` prints it, parses back to the
// same Config.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var cfg *Config
		var err error
		withDeadline(t, "Parse", func() { cfg, err = Parse(fuzzFile, data) })
		if err != nil {
			if cfg != nil {
				t.Errorf("Parse rejected the file (%v) but returned a config", err)
			}
			checkErrors(t, fuzzFile, data, err)
			return
		}
		if cfg.Path != fuzzFile {
			t.Errorf("Config.Path = %q, want %q", cfg.Path, fuzzFile)
		}
		checkAccepted(t, cfg)
		checkPlan(t, cfg)
	})
}

// checkPlan checks that the plan of an accepted config parses back to the same Config.
func checkPlan(t *testing.T, cfg *Config) {
	t.Helper()
	var plan bytes.Buffer
	if err := cfg.WritePlan(&plan); err != nil {
		t.Fatalf("WritePlan: %v", err)
	}
	var again *Config
	var err error
	withDeadline(t, "Parse of the plan", func() { again, err = Parse(cfg.Path, plan.Bytes()) })
	if err != nil {
		t.Fatalf("the plan of an accepted config does not parse:\n%v\n--- plan\n%s", err, plan.String())
	}
	if !reflect.DeepEqual(again, cfg) {
		t.Fatalf("the plan parses to another config\n--- plan\n%s\n--- config\n%s\n--- parsed back\n%s",
			plan.String(), dumpConfig(cfg), dumpConfig(again))
	}
}

// FuzzParseUnit fuzzes a service table that takes its settings from a systemd unit (unit =),
// with both the unit and the rest of the table fuzzed: the unit's settings merged under the
// table's, the steps before its main command added as services, the errors in them pinned to
// the unit's file and line. The same properties as FuzzParse hold. The unit is u.service
// beside the config; units with an EnvironmentFile= are skipped, since reading an arbitrary
// path can block for ever (see the systemdunit package's TestEnvironmentFileThatNeverEnds).
func FuzzParseUnit(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "w.toml")
	f.Fuzz(func(t *testing.T, unit []byte, table string) {
		if bytes.Contains(unit, []byte("EnvironmentFile")) {
			t.Skip("EnvironmentFile= may name any file")
		}
		if err := os.WriteFile(filepath.Join(dir, "u.service"), unit, 0o644); err != nil {
			t.Fatal(err)
		}
		data := []byte("[services.u]\nunit = \"u.service\"\n" + table)
		var cfg *Config
		var err error
		withDeadline(t, "Parse", func() { cfg, err = Parse(path, data) })
		if err != nil {
			checkErrors(t, path, data, err)
			return
		}
		checkAccepted(t, cfg)
		checkPlan(t, cfg)
	})
}

// checkErrors checks a rejection: Errors, each with its file, a line inside that file when it
// is the config's own, a message, and Error() starting with the file name.
func checkErrors(t *testing.T, file string, data []byte, err error) {
	t.Helper()
	errs, ok := errors.AsType[Errors](err)
	if !ok {
		t.Fatalf("Parse rejected the file with %T, not Errors: %v", err, err)
	}
	if len(errs) == 0 {
		t.Fatal("Parse rejected the file with an empty Errors")
	}
	usesUnit := bytes.Contains(data, []byte("unit"))
	lines := bytes.Count(data, []byte("\n")) + 1
	for i, e := range errs {
		switch {
		case e == nil:
			t.Errorf("error %d is nil", i)
			continue
		case e.File == "":
			t.Errorf("error %d names no file: %q", i, e.Error())
		case e.File != file && !usesUnit:
			t.Errorf("error %d names file %q, want %q: %q", i, e.File, file, e.Error())
		case !strings.HasPrefix(e.Error(), e.File+":"):
			t.Errorf("error %d does not start with its file: %q", i, e.Error())
		}
		if e.Msg == "" {
			t.Errorf("error %d has no message: %q", i, e.Error())
		}
		if e.Line < 0 || e.File == file && e.Line > lines {
			t.Errorf("error %d is on line %d of a file of %d lines: %q", i, e.Line, lines, e.Error())
		}
	}
	for i, line := range strings.Split(err.Error(), "\n") {
		if slices.ContainsFunc(errs, func(e *Error) bool { return e != nil && strings.HasPrefix(line, e.File+":") }) {
			continue
		}
		t.Errorf("line %d of the error does not name a file: %q\n--- whole error\n%s", i+1, line, err)
	}
}

// checkAccepted checks what validation promises of an accepted config.
func checkAccepted(t *testing.T, cfg *Config) {
	t.Helper()
	if cfg.Watchdog.ShutdownTimeout <= 0 || cfg.Watchdog.ControlSocket == "" {
		t.Errorf("[watchdog] = %+v: no shutdown budget or no control socket", cfg.Watchdog)
	}
	started := map[string]bool{}
	for _, s := range cfg.Services {
		if len(s.Command) == 0 || s.Command[0] == "" {
			t.Errorf("service %q has no program: %q", s.Name, s.Command)
		}
		for _, dep := range s.DependsOn {
			if !started[dep] {
				t.Errorf("service %q starts before its dependency %q", s.Name, dep)
			}
		}
		started[s.Name] = true
		switch {
		case s.StopSignal < 1 || s.StopSignal > sigRTMax:
			t.Errorf("service %q: stop signal %d", s.Name, s.StopSignal)
		case s.RestartDelay < 0 || s.RestartMaxDelay < s.RestartDelay || s.RestartWindow <= 0:
			t.Errorf("service %q: restart delay %v, max %v, window %v", s.Name, s.RestartDelay, s.RestartMaxDelay, s.RestartWindow)
		case s.RestartDelay == 0 && s.MaxRestarts == 0 && s.Restart != RestartNo:
			t.Errorf("service %q restarts without backoff and without a limit", s.Name)
		case s.StopGracePeriod < 0 || s.WatchdogTimeout < 0 || s.StartupTimeout < 0:
			t.Errorf("service %q: negative duration", s.Name)
		case s.Instances < 1 || s.Instances > maxInstances:
			t.Errorf("service %q: %d instances", s.Name, s.Instances)
		case s.User != "" && s.Credential == nil:
			t.Errorf("service %q: user %q not resolved", s.Name, s.User)
		case len(s.SuccessExitCodes) == 0:
			t.Errorf("service %q: no success exit code", s.Name)
		}
		for _, kv := range s.Environment {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				t.Errorf("service %q: environment entry %q", s.Name, kv)
			}
		}
		for _, arg := range s.Command {
			if strings.ContainsRune(arg, 0) {
				t.Errorf("service %q: NUL in argv %q", s.Name, s.Command)
			}
		}
	}
}

// dumpConfig prints every field of a config, services and their pointers included.
func dumpConfig(c *Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q %+v\n", c.Path, c.Watchdog)
	for _, s := range c.Services {
		fmt.Fprintf(&b, "%+v\n", *s)
		if s.Healthcheck != nil {
			fmt.Fprintf(&b, "  healthcheck %+v\n", *s.Healthcheck)
		}
		if s.Credential != nil {
			fmt.Fprintf(&b, "  credential %+v\n", *s.Credential)
		}
	}
	return b.String()
}

// FuzzParseSignal checks that ParseSignal accepts only signals 1-64, that what it accepts it
// accepts in any case, and that SignalName names every signal so that ParseSignal reads it back.
func FuzzParseSignal(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignal(s)
		if err != nil {
			if sig != 0 {
				t.Errorf("ParseSignal(%q) = %d with error %v", s, sig, err)
			}
			if err.Error() == "" {
				t.Errorf("ParseSignal(%q): empty error", s)
			}
			return
		}
		if sig < 1 || sig > sigRTMax {
			t.Fatalf("ParseSignal(%q) = %d, outside 1-%d", s, sig, sigRTMax)
		}
		for _, variant := range []string{strings.ToLower(s), strings.ToUpper(s)} {
			if got, err := ParseSignal(variant); err != nil || got != sig {
				t.Errorf("ParseSignal(%q) = %d, but ParseSignal(%q) = %d, %v", s, sig, variant, got, err)
			}
		}
		name := SignalName(sig)
		if !strings.HasPrefix(name, "SIG") {
			name = fmt.Sprint(int(sig)) // "signal 32": config and plan write the number
		}
		if got, err := ParseSignal(name); err != nil || got != sig {
			t.Errorf("ParseSignal(%q) = %d, but ParseSignal(SignalName) = ParseSignal(%q) = %d, %v", s, sig, name, got, err)
		}
		if plain := unix.SignalName(sig); plain != "" && sig < sigRTMin {
			if got, err := ParseSignal(plain); err != nil || got != sig {
				t.Errorf("ParseSignal(%q) = %d, %v; the kernel's name for %d", plain, got, err, sig)
			}
		}
		if !isASCII(s) {
			t.Errorf("ParseSignal(%q) accepts a name that is not ASCII as %s", s, SignalName(sig))
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// durationKeys are the config's duration keys, with the table each is in and what it accepts.
var durationKeys = []struct {
	table, key string
	positive   bool // "0s" is refused
}{
	{"watchdog", "shutdown_timeout", true},
	{"services.a", "restart_delay", false},
	{"services.a", "restart_max_delay", true},
	{"services.a", "restart_window", true},
	{"services.a", "stop_grace_period", false},
	{"services.a", "watchdog_timeout", false},
	{"services.a", "startup_timeout", false},
	{"services.a.healthcheck", "interval", true},
	{"services.a.healthcheck", "timeout", true},
	{"services.a.healthcheck", "start_period", false},
}

// durationConfig is a config in which every duration key is written, so that the fuzzed one
// replaces a valid value: restart_delay 0s and max_restarts let restart_max_delay be any
// positive duration, the largest restart_max_delay lets restart_delay be any.
const durationConfig = `[watchdog]
shutdown_timeout = "9s"

[services.a]
command = ["/bin/sh"]
notify = true
max_restarts = 1
restart_delay = "0s"
restart_max_delay = "2562047h47m16.854775807s"
restart_window = "60s"
stop_grace_period = "5s"
watchdog_timeout = "0s"
startup_timeout = "0s"

[services.a.healthcheck]
tcp = "localhost:80"
interval = "10s"
timeout = "5s"
start_period = "0s"
`

// FuzzDuration writes a fuzzed string as the value of one duration key. The config must be
// accepted exactly when time.ParseDuration reads the string as a duration the key allows,
// with that value in the Config and in the plan; else the one error names the file, the key's
// line and the key.
func FuzzDuration(f *testing.F) {
	f.Fuzz(func(t *testing.T, which uint8, s string) {
		k := durationKeys[int(which)%len(durationKeys)]
		text, line := replaceKey(durationConfig, k.table, k.key, tomltext.String(s))
		want, parseErr := time.ParseDuration(s)
		ok := parseErr == nil && want >= 0 && (want > 0 || !k.positive) && !strings.ContainsRune(s, 0)
		cfg, err := Parse(fuzzFile, []byte(text))
		if !ok {
			if err == nil {
				t.Fatalf("%s.%s = %q accepted as %v", k.table, k.key, s, durationOf(cfg, k.key))
			}
			prefix := fmt.Sprintf("%s:%d: %s.%s: ", fuzzFile, line, k.table, k.key)
			if !strings.HasPrefix(err.Error(), prefix) || strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("%s.%s = %q: error %q, want one line starting %q", k.table, k.key, s, err, prefix)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s.%s = %q (%v) refused: %v", k.table, k.key, s, want, err)
		}
		if got := durationOf(cfg, k.key); got != want {
			t.Errorf("%s.%s = %q read as %v, want %v", k.table, k.key, s, got, want)
		}
		var plan bytes.Buffer
		if err := cfg.WritePlan(&plan); err != nil {
			t.Fatal(err)
		}
		if wantLine := fmt.Sprintf("\n%s = %s\n", k.key, tomltext.String(want.String())); !strings.Contains(plan.String(), wantLine) {
			t.Errorf("%s.%s = %q: the plan does not say %q:\n%s", k.table, k.key, s, strings.TrimSpace(wantLine), plan.String())
		}
	})
}

// replaceKey returns text with the value of key in [table] replaced, and the key's line.
func replaceKey(text, table, key, value string) (string, int) {
	lines := strings.Split(text, "\n")
	in := ""
	for i, l := range lines {
		if strings.HasPrefix(l, "[") {
			in = strings.Trim(l, "[]")
		}
		if in == table && strings.HasPrefix(l, key+" = ") {
			lines[i] = key + " = " + value
			return strings.Join(lines, "\n"), i + 1
		}
	}
	panic(fmt.Sprintf("no %s in [%s]", key, table))
}

func durationOf(cfg *Config, key string) time.Duration {
	s := cfg.Services[0]
	h := s.Healthcheck
	return map[string]time.Duration{
		"shutdown_timeout": cfg.Watchdog.ShutdownTimeout, "restart_delay": s.RestartDelay,
		"restart_max_delay": s.RestartMaxDelay, "restart_window": s.RestartWindow,
		"stop_grace_period": s.StopGracePeriod, "watchdog_timeout": s.WatchdogTimeout,
		"startup_timeout": s.StartupTimeout, "interval": h.Interval, "timeout": h.Timeout,
		"start_period": h.StartPeriod,
	}[key]
}
