package integration

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// wantMark ends a line of a broken config that an error may name: "# want: KEY", or "# want:"
// for a syntax error, which has no key. $SLEEP stands for the command of a valid service.
var wantMark = regexp.MustCompile(`# want:\s*(\S*)\s*$`)

// brokenConfigs each break DESIGN.md's config rules once. Every line an error may rightly
// blame is marked with wantMark.
var brokenConfigs = []struct {
	name, text string
}{
	{"syntax error", `
[services.web]
command = $SLEEP
restart = "always # want:
`},
	{"unknown key", `
[services.web]
command = $SLEEP
restart_dealy = "1s" # want: services.web.restart_dealy
`},
	{"unknown key in healthcheck", `
[services.web]
command = $SLEEP

[services.web.healthcheck]
command = $SLEEP
intervall = "1s" # want: services.web.healthcheck.intervall
`},
	{"unknown table", `
[watchdgo] # want: watchdgo
shutdown_timeout = "5s"
`},
	{"wrong type", `
[services.web]
command = $SLEEP
max_restarts = "three" # want: services.web.max_restarts
`},
	{"command not a list", `
[services.web]
command = "/bin/sh -c true" # want: services.web.command
`},
	{"bad duration", `
[services.web]
command = $SLEEP
stop_grace_period = "5 seconds" # want: services.web.stop_grace_period
`},
	{"negative shutdown_timeout", `
[watchdog]
shutdown_timeout = "-1s" # want: watchdog.shutdown_timeout
`},
	{"bad signal name", `
[services.web]
command = $SLEEP
stop_signal = "SIGFOO" # want: services.web.stop_signal
`},
	{"empty command", `
[services.web]
command = [] # want: services.web.command
`},
	{"missing binary", `
[services.web]
command = ["/nonexistent/watchdog-test/web"] # want: services.web.command
`},
	{"unknown dependency", `
[services.web]
command = $SLEEP
depends_on = ["ghost"] # want: services.web.depends_on
`},
	{"dependency cycle", `
[services.a]
command = $SLEEP
depends_on = ["b"] # want: services.a.depends_on

[services.b]
command = $SLEEP
depends_on = ["a"] # want: services.b.depends_on
`},
	{"bad restart value", `
[services.web]
command = $SLEEP
restart = "sometimes" # want: services.web.restart
`},
	{"oneshot with restart always", `
[services.migrate]
command = $SLEEP
oneshot = true
restart = "always" # want: services.migrate.restart
`},
	{"user that does not exist", `
[services.web]
command = $SLEEP
user = "no-such-user-watchdog-test" # want: services.web.user
`},
	{"zero restart_delay without a limit", `
[services.web]
command = $SLEEP
restart_delay = "0s" # want: services.web.restart_delay
`},
	{"two healthcheck probes", `
[services.web]
command = $SLEEP

[services.web.healthcheck] # want: services.web.healthcheck
command = $SLEEP
tcp = "127.0.0.1:8080"
`},
}

// DESIGN.md invariant 6 and "Exit codes": a broken config is exit 2 before anything starts,
// with an error naming file, line and key, from `watchdog --config` and `watchdog check` alike.
func TestSuperviseBrokenConfigExits2AndStartsNothing(t *testing.T) {
	for _, c := range brokenConfigs {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			marker := filepath.Join(dir, "marker-started")
			// A valid service first: if anything started, it leaves its marker file.
			text := fmt.Sprintf("[services.marker]\ncommand = %s\n", tomlList("/bin/sh", "-c", "touch "+marker)) +
				strings.ReplaceAll(c.text, "$SLEEP", fixtureCmd("sleep"))
			path := filepath.Join(dir, "bad.toml")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			var wants []string
			for i, line := range strings.Split(text, "\n") {
				if m := wantMark.FindStringSubmatch(line); m != nil {
					want := fmt.Sprintf("%s:%d:", path, i+1)
					if m[1] != "" {
						want += " " + m[1] + ":"
					}
					wants = append(wants, want)
				}
			}
			if len(wants) == 0 {
				t.Fatal("the case marks no line")
			}
			namesOne := func(stderr string) bool {
				for _, want := range wants {
					if strings.Contains(stderr, want) {
						return true
					}
				}
				return false
			}

			t.Run("supervise", func(t *testing.T) {
				t.Parallel()
				w := startWatchdog(t, asPID1, "--config", path)
				if code := w.waitExit(eventTimeout); code != 2 {
					t.Errorf("watchdog --config exited %d, want 2", code)
				}
				w.stderr.waitClosed(eventTimeout)
				stderr, _, _ := w.stderr.snapshot()
				if !namesOne(strings.Join(stderr, "\n")) {
					t.Errorf("stderr %q names none of %q", stderr, wants)
				}
				if started := w.events("started"); len(started) > 0 {
					t.Errorf("a service started: %v", started[0].fields)
				}
				if ready := w.reports("main ready"); len(ready) > 0 {
					t.Errorf("a service ran: %q", ready)
				}
			})
			t.Run("check", func(t *testing.T) {
				t.Parallel()
				res := runClient(t, watchdogBin, nil, "check", "--config", path)
				if res.code != 2 {
					t.Errorf("watchdog check: %v, want exit 2", res)
				}
				if !namesOne(res.stderr) {
					t.Errorf("watchdog check: stderr %q names none of %q", res.stderr, wants)
				}
			})
			t.Cleanup(func() {
				if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the marker service ran (%s: %v)", marker, err)
				}
			})
		})
	}
}

func TestSuperviseCheckExampleConfig(t *testing.T) {
	t.Parallel()
	res := runClient(t, watchdogBin, nil, "check", "--config", filepath.Join("..", "watchdog.toml"))
	if res.code != 0 {
		t.Fatalf("watchdog check --config watchdog.toml: %v, want exit 0", res)
	}
	// setup is a oneshot the others depend on; web and worker tie, broken by name.
	const order = "setup, web, worker"
	if !strings.Contains(res.stdout, "# start order: "+order+"\n") {
		t.Errorf("the plan does not give the start order %s:\n%s", order, res.stdout)
	}
	var tables []string
	for line := range strings.Lines(res.stdout) {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "[services."); ok && !strings.Contains(name, ".") {
			tables = append(tables, strings.TrimSuffix(name, "]"))
		}
	}
	if got := strings.Join(tables, ", "); got != order {
		t.Errorf("the plan lists the services as %s, want %s in start order", got, order)
	}
}
