package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A supervisord setup moved to watchdog: `watchdog import-supervisord` translates its config,
// and watchdog runs the same programs from the TOML, in supervisord's priority order.

// supervisordSetup is the config of a small supervisord setup. {fixture} stands for the
// fixture binary. web and each worker leave a marker file saying what they were given.
const supervisordSetup = `
[supervisord]
nodaemon=true
logfile=/dev/null
environment=GREETING="hello, world"

[unix_http_server]
file=%(here)s/supervisor.sock

[program:db]
command={fixture} sleep
environment=FIXTURE_ROLE="db"
priority=10
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
stderr_logfile=/dev/stderr
stderr_logfile_maxbytes=0

[program:web]
command=/bin/sh -c 'echo "%(program_name)s: $GREETING" > marker-web; exec "$0" sleep' {fixture}
directory=%(here)s
environment=FIXTURE_ROLE="web"
priority=20
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
stderr_logfile=/dev/stderr
stderr_logfile_maxbytes=0

[include]
files=conf.d/*.conf
`

// supervisordWorkers is conf.d/workers.conf: two processes that differ in their command.
const supervisordWorkers = `
[program:worker]
command=/bin/sh -c 'echo "worker %(process_num)d of %(numprocs)d" > %(here)s/marker-%(process_num)d; exec "$0" sleep' {fixture}
process_name=%(program_name)s_%(process_num)d
numprocs=2
environment=FIXTURE_ROLE="worker-%(process_num)d"
priority=20
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
stderr_logfile=/dev/stderr
stderr_logfile_maxbytes=0
`

// writeSupervisordSetup writes the setup into a new directory and returns the path of its
// supervisord.conf.
func writeSupervisordSetup(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"supervisord.conf": supervisordSetup, "conf.d/workers.conf": supervisordWorkers}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "{fixture}", fixtureBin)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "supervisord.conf")
}

// unsupportedLine is how import-supervisord reports what it cannot express.
var unsupportedLine = regexp.MustCompile(`^\S+:\d+: unsupported: .+: .+$`)

func TestSupervisordImportRunsThePrograms(t *testing.T) {
	t.Parallel()
	conf := writeSupervisordSetup(t)
	dir := filepath.Dir(conf)
	imported := runClient(t, watchdogBin, nil, "import-supervisord", conf)
	if imported.code != 0 {
		t.Fatalf("import-supervisord: %v", imported)
	}
	for _, want := range []string{conf + ":3: unsupported: [supervisord] nodaemon=true: ", conf + ":7: unsupported: [unix_http_server]: "} {
		if !strings.Contains(imported.stderr, want) {
			t.Errorf("import-supervisord's stderr does not say %q:\n%s", want, imported.stderr)
		}
	}
	for line := range strings.Lines(strings.TrimSpace(imported.stderr)) {
		if !unsupportedLine.MatchString(strings.TrimSuffix(line, "\n")) {
			t.Errorf("import-supervisord's stderr line %q is not FILE:LINE: unsupported: DIRECTIVE: REASON", line)
		}
	}
	toml := filepath.Join(dir, "watchdog.toml")
	if err := os.WriteFile(toml, []byte(imported.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	if check := runClient(t, watchdogBin, nil, "check", "--config", toml); check.code != 0 {
		t.Fatalf("watchdog check rejects the import: %v\n%s", check, imported.stdout)
	}

	w := startWatchdog(t, asSubreaper, "--config", toml)
	services := []string{"db", "web", "worker_0", "worker_1"}
	roles := map[string]string{"db": "db", "web": "web", "worker_0": "worker-0", "worker_1": "worker-1"}
	started := map[string]event{}
	for _, name := range services {
		started[name] = w.waitEvent("started", "service", name)
		w.waitReport(roles[name]+" ready", 1)
	}
	for _, later := range services[1:] {
		if started[later].line < started["db"].line {
			t.Errorf("%s (priority 20) started before db (priority 10)", later)
		}
	}
	for file, want := range map[string]string{
		"marker-web":      "web: hello, world\n",
		"conf.d/marker-0": "worker 0 of 2\n",
		"conf.d/marker-1": "worker 1 of 2\n",
	} {
		got, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", file, got, err, want)
		}
	}

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0: every program stopped within its grace period", code)
	}
	stopping := w.waitEvent("stopping", "service", "db")
	for _, later := range services[1:] {
		if exited := w.waitEvent("exited", "service", later, "signal", "SIGTERM"); exited.line > stopping.line {
			t.Errorf("db was stopped before %s, of a later priority, had exited", later)
		}
	}
	w.waitEvent("exited", "service", "db", "signal", "SIGTERM")
}

func TestSupervisordImportExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.conf")
	if err := os.WriteFile(broken, []byte("[program:a]\ncommand=/bin/sh -c 'unterminated\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no file", nil, 2, "want one config file"},
		{"two files", []string{broken, broken}, 2, "want one config file"},
		{"missing file", []string{filepath.Join(dir, "missing.conf")}, 1, "no such file or directory"},
		{"refused config", []string{broken}, 1, broken + ":2: [program:a] command: no closing quotation"},
	}
	for _, tt := range tests {
		res := runClient(t, watchdogBin, nil, append([]string{"import-supervisord"}, tt.args...)...)
		if res.code != tt.code || !strings.Contains(res.stderr, tt.stderr) || (tt.code != 0 && res.stdout != "") {
			t.Errorf("%s: %v; want exit %d, stderr saying %q and nothing on stdout", tt.name, res, tt.code, tt.stderr)
		}
	}
}
