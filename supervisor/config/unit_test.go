package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// unitFixture writes the unit files (name -> text) and the config text into a new
// directory, and returns the config's path.
func unitFixture(t *testing.T, config string, units map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range units {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "w.toml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(config, "$DIR", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const appUnit = `[Unit]
Description=App

[Service]
Type=notify
Environment=MODE=prod LEVEL=info
ExecStartPre=/bin/sh -c 'echo %n'
ExecStart=/bin/sh -c 'exec sleep 1000' app $LEVEL
Restart=on-failure
RestartSec=2s
KillSignal=SIGINT
TimeoutStopSec=20
Nice=5
`

func TestUnit(t *testing.T) {
	path := unitFixture(t, `[services.db]
command = ["/bin/sh"]

[services.web]
unit = "app.service"
restart = "always"
environment.MODE = "dev"
environment.EXTRA = "1"
depends_on = ["db"]
`, map[string]string{"app.service": appUnit})
	cfg, err := parse(path, mustRead(t, path), 0)
	if err != nil {
		t.Fatalf("parse:\n%v", err)
	}
	if got, want := serviceNames(cfg), []string{"db", "web-pre", "web"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	pre, web := cfg.Services[1], cfg.Services[2]
	want := newService("web")
	want.Command = []string{"/bin/sh", "-c", "exec sleep 1000", "app", "info"}
	want.Environment = []string{"EXTRA=1", "LEVEL=info", "MODE=dev"}
	want.DependsOn = []string{"db", "web-pre"}
	want.Restart = RestartAlways
	want.RestartDelay = 2 * time.Second
	want.RestartMaxDelay = 2 * time.Second
	want.StopSignal = unix.SIGINT
	want.StopGracePeriod = 20 * time.Second
	want.Notify = true
	if !reflect.DeepEqual(web, want) {
		t.Errorf("web:\n got %+v\nwant %+v", web, want)
	}
	if !pre.Oneshot || !reflect.DeepEqual(pre.Command, []string{"/bin/sh", "-c", "echo app.service"}) ||
		!reflect.DeepEqual(pre.Environment, []string{"LEVEL=info", "MODE=prod"}) || pre.Restart != RestartOnFailure {
		t.Errorf("web-pre: %+v", pre)
	}

	// The plan `watchdog check` prints reads back as the same config, without the unit.
	var plan bytes.Buffer
	if err := cfg.WritePlan(&plan); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plan.String(), "unit") {
		t.Errorf("the plan mentions the unit:\n%s", plan.String())
	}
	again, err := parse(path, plan.Bytes(), 0)
	if err != nil {
		t.Fatalf("the plan does not parse: %v\n%s", err, plan.String())
	}
	assertConfig(t, again, cfg)
}

// Unsupported directives are ignored unless they matter; those that matter are errors
// until the table writes the key they leave wrong.
func TestUnitDirectivesThatMatter(t *testing.T) {
	units := map[string]string{"daemon.service": `[Service]
Type=forking
ExecStart=/bin/sh -c 'sleep 1000 &'
EnvironmentFile=/nonexistent/daemon.env
Nice=5
`}
	path := unitFixture(t, "[services.daemon]\nunit = \"$DIR/daemon.service\"\n", units)
	unitPath := filepath.Join(filepath.Dir(path), "daemon.service")
	_, err := parse(path, mustRead(t, path), 0)
	want := unitPath + `:2: services.daemon: Type=forking: watchdog supervises the process it starts, and a forking daemon's first process exits at once; run the daemon in the foreground instead; writing command in [services.daemon] overrides it` + "\n" +
		unitPath + `:4: services.daemon: EnvironmentFile=/nonexistent/daemon.env: /nonexistent/daemon.env does not exist here; systemd would refuse to start the service; writing environment in [services.daemon] overrides it`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}

	path = unitFixture(t, `[services.daemon]
unit = "daemon.service"
command = ["/bin/sh", "-c", "exec sleep 1000"]
environment = {}
`, units)
	cfg, err := parse(path, mustRead(t, path), 0)
	if err != nil {
		t.Fatalf("with command and environment written: %v", err)
	}
	if got := cfg.Services[0].Command; !reflect.DeepEqual(got, []string{"/bin/sh", "-c", "exec sleep 1000"}) {
		t.Errorf("command %q, want the table's", got)
	}
}

// A step's table, written, overrides what the unit gave it, as the main table does.
func TestUnitStepTable(t *testing.T) {
	path := unitFixture(t, `[services.web]
unit = "web.service"

[services.web-pre]
command = ["/bin/sh", "-c", "exec setup"]
depends_on = ["db"]

[services.db]
command = ["/bin/sh"]
`, map[string]string{"web.service": "[Service]\nExecStartPre=@/bin/sh setup -c true\nExecStart=/bin/true\n"})
	cfg, err := parse(path, mustRead(t, path), 0)
	if err != nil {
		t.Fatalf("parse:\n%v", err)
	}
	if got, want := serviceNames(cfg), []string{"db", "web-pre", "web"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	pre := cfg.Services[1]
	if !pre.Oneshot || !reflect.DeepEqual(pre.Command, []string{"/bin/sh", "-c", "exec setup"}) || !reflect.DeepEqual(pre.DependsOn, []string{"db"}) {
		t.Errorf("web-pre: %+v", pre)
	}
}

func TestUnitErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config string
		units  map[string]string
		want   string // $DIR for the directory of both files
	}{{
		name:   "unit file missing",
		config: "[services.web]\nunit = \"missing.service\"\n",
		want: `$DIR/w.toml:1: services.web.command: is required` + "\n" +
			`$DIR/w.toml:2: services.web.unit: open $DIR/missing.service: no such file or directory`,
	}, {
		name:   "not a service",
		config: "[services.web]\nunit = \"web.socket\"\n",
		want: `$DIR/w.toml:1: services.web.command: is required` + "\n" +
			`$DIR/w.toml:2: services.web.unit: $DIR/web.socket: not a .service unit`,
	}, {
		name:   "unit not a string",
		config: "[services.web]\nunit = 5\n",
		want: `$DIR/w.toml:1: services.web.command: is required` + "\n" +
			`$DIR/w.toml:2: services.web.unit: must be a string, not an integer`,
	}, {
		name:   "empty unit",
		config: "[services.web]\nunit = \"\"\n",
		want: `$DIR/w.toml:1: services.web.command: is required` + "\n" +
			`$DIR/w.toml:2: services.web.unit: must not be empty`,
	}, {
		name:   "unit syntax error",
		config: "[services.web]\nunit = \"web.service\"\n",
		units:  map[string]string{"web.service": "[Unit]\n[Service\nExecStart=/bin/true\n"},
		want: `$DIR/w.toml:1: services.web.command: is required` + "\n" +
			`$DIR/web.service:2: services.web.unit: invalid section header "[Service"`,
	}, {
		name:   "bad values from the unit name the unit's lines",
		config: "[services.web]\nunit = \"web.service\"\n",
		units: map[string]string{"web.service": `[Service]
ExecStart=/nonexistent/web
WorkingDirectory=/nonexistent
RestartSec=1min
RestartMaxDelaySec=10s
RestartSteps=2
Restart=always
`},
		want: `$DIR/web.service:3: services.web.working_dir: /nonexistent does not exist` + "\n" +
			`$DIR/web.service:5: services.web.restart_max_delay: must not be shorter than restart_delay (1m0s)`,
	}, {
		name:   "bad values from a drop-in name the drop-in's line",
		config: "[services.web]\nunit = \"web.service\"\n",
		units: map[string]string{
			"web.service":                 "[Service]\nExecStart=/bin/true\n",
			"web.service.d/override.conf": "[Service]\nType=forking\nWorkingDirectory=/nonexistent\n",
		},
		want: `$DIR/web.service.d/override.conf:2: services.web: Type=forking: watchdog supervises the process it starts, and a forking daemon's first process exits at once; run the daemon in the foreground instead; writing command in [services.web] overrides it` + "\n" +
			`$DIR/web.service.d/override.conf:3: services.web.working_dir: /nonexistent does not exist`,
	}, {
		name:   "a step that matters",
		config: "[services.web]\nunit = \"web.service\"\n",
		units:  map[string]string{"web.service": "[Service]\nExecStartPre=@/bin/sh setup -c true\nExecStart=/bin/true\n"},
		want:   `$DIR/web.service:2: services.web-pre: ExecStartPre=@/bin/sh setup -c true: the "@" prefix passes "setup" as argv[0]; watchdog passes the program path; writing command in [services.web-pre] overrides it`,
	}, {
		name:   "a bad key still named in the table",
		config: "[services.web]\nunit = \"web.service\"\nrestart = \"never\"\n",
		units:  map[string]string{"web.service": "[Service]\nExecStart=/bin/true\n"},
		want:   `$DIR/w.toml:3: services.web.restart: must be "always", "on-failure" or "no", not "never"`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			path := unitFixture(t, tc.config, tc.units)
			_, err := parse(path, mustRead(t, path), 0)
			want := strings.ReplaceAll(tc.want, "$DIR", filepath.Dir(path))
			if err == nil || err.Error() != want {
				t.Errorf("got:\n%v\nwant:\n%s", err, want)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
