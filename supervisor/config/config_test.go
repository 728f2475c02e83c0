package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture makes a directory with an executable "prog", a plain file "data" and a
// directory "sub", for commands and working directories to point at.
func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prog"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// parseText parses text, with $DIR replaced by dir, as the file "w.toml" for a
// watchdog running as euid.
func parseText(text, dir string, euid int) (*Config, error) {
	return parse("w.toml", []byte(strings.ReplaceAll(text, "$DIR", dir)), euid)
}

func mustParse(t *testing.T, text, dir string) *Config {
	t.Helper()
	cfg, err := parseText(text, dir, 0)
	if err != nil {
		t.Fatalf("parse:\n%v", err)
	}
	return cfg
}

func TestDefaults(t *testing.T) {
	cfg := mustParse(t, `[services.web]
command = ["/bin/sh"]

[services.job]
command = ["/bin/sh"]
oneshot = true

[services.probed]
command = ["/bin/sh"]
healthcheck.tcp = "localhost:80"
`, "")
	service := func(name string) *Service {
		return &Service{
			Name:             name,
			Command:          []string{"/bin/sh"},
			Restart:          RestartAlways,
			RestartDelay:     100 * time.Millisecond,
			RestartMaxDelay:  30 * time.Second,
			RestartWindow:    60 * time.Second,
			SuccessExitCodes: []int{0},
			StopSignal:       unix.SIGTERM,
			StopGracePeriod:  5 * time.Second,
			Log:              LogInherit,
			Instances:        1,
		}
	}
	job, probed, web := service("job"), service("probed"), service("web")
	job.Oneshot = true
	job.Restart = RestartNo
	probed.Healthcheck = &Healthcheck{
		TCP:         "localhost:80",
		Interval:    10 * time.Second,
		Timeout:     5 * time.Second,
		Retries:     3,
		OnUnhealthy: HealthRestart,
	}
	want := &Config{
		Path:     "w.toml",
		Watchdog: Watchdog{ShutdownTimeout: 9 * time.Second, ControlSocket: "/run/watchdog.sock", Log: LogInherit},
		Services: []*Service{job, probed, web},
	}
	assertConfig(t, cfg, want)
}

func TestDefault(t *testing.T) {
	want := &Config{Watchdog: Watchdog{ShutdownTimeout: 9 * time.Second, ControlSocket: "/run/watchdog.sock", Log: LogInherit}}
	assertConfig(t, Default(), want)
}

// A file with only [watchdog] is valid: its settings apply beside `watchdog -- CMD`.
func TestWatchdogOnly(t *testing.T) {
	cfg := mustParse(t, "[watchdog]\n", "")
	assertConfig(t, cfg, &Config{Path: "w.toml", Watchdog: Default().Watchdog})
}

func TestEveryKey(t *testing.T) {
	dir := fixture(t)
	cfg := mustParse(t, everyKey, dir)
	root, err := user.Lookup("root")
	if err != nil {
		t.Skipf("no root user: %v", err)
	}
	want := &Config{
		Path: "w.toml",
		Watchdog: Watchdog{
			ShutdownTimeout: 20 * time.Second,
			ControlSocket:   "/tmp/w.sock",
			MetricsAddress:  "127.0.0.1:9102",
			Log:             LogJSON,
		},
		Services: []*Service{{
			Name:             "migrate",
			Command:          []string{"prog", "--up"},
			Environment:      []string{"PATH=" + dir},
			Oneshot:          true,
			Restart:          RestartOnFailure,
			RestartDelay:     100 * time.Millisecond,
			RestartMaxDelay:  30 * time.Second,
			RestartWindow:    60 * time.Second,
			SuccessExitCodes: []int{0},
			StopSignal:       unix.SIGTERM,
			StopGracePeriod:  5 * time.Second,
			Log:              LogJSON,
			Instances:        1,
			Healthcheck: &Healthcheck{
				Command:     []string{"prog", "check"},
				Interval:    10 * time.Second,
				Timeout:     5 * time.Second,
				Retries:     3,
				OnUnhealthy: HealthRestart,
			},
		}, {
			Name:             "web",
			Command:          []string{"./prog", "--port", "8080"},
			User:             "root:0",
			Credential:       &Credential{UID: 0, GID: 0, Groups: groupsOf(t, root), Home: root.HomeDir, Name: "root"},
			WorkingDir:       dir,
			Environment:      []string{"A=1", "APP_ENV=prod", "B=", "C=x=y"},
			DependsOn:        []string{"migrate"},
			Critical:         true,
			Restart:          RestartNo,
			RestartDelay:     time.Second,
			RestartMaxDelay:  time.Minute,
			MaxRestarts:      5,
			RestartWindow:    2 * time.Minute,
			SuccessExitCodes: []int{0, 143},
			StopSignal:       unix.SIGINT,
			StopGracePeriod:  0,
			Notify:           true,
			WatchdogTimeout:  30 * time.Second,
			StartupTimeout:   time.Minute,
			Log:              LogInherit,
			Instances:        1,
			Healthcheck: &Healthcheck{
				HTTP:        "https://127.0.0.1:8443/healthz",
				Interval:    3 * time.Second,
				Timeout:     time.Second,
				Retries:     1,
				StartPeriod: 30 * time.Second,
				OnUnhealthy: HealthIgnore,
			},
		}, {
			Name:             "worker.0",
			InstanceOf:       "worker",
			Command:          []string{"/bin/sh", "-c", "exec sleep 1"},
			WorkingDir:       dir + "/sub",
			Restart:          RestartAlways,
			RestartDelay:     100 * time.Millisecond,
			RestartMaxDelay:  30 * time.Second,
			RestartWindow:    60 * time.Second,
			SuccessExitCodes: []int{0},
			StopSignal:       37,
			StopGracePeriod:  5 * time.Second,
			Log:              LogJSON,
			Instances:        2,
			DependsOn:        []string{"web"},
			Healthcheck: &Healthcheck{
				TCP:         "[::1]:6379",
				Interval:    10 * time.Second,
				Timeout:     5 * time.Second,
				Retries:     3,
				OnUnhealthy: HealthRestart,
			},
		}, {
			Name:             "worker.1",
			InstanceOf:       "worker",
			Instance:         1,
			Command:          []string{"/bin/sh", "-c", "exec sleep 1"},
			WorkingDir:       dir + "/sub",
			Restart:          RestartAlways,
			RestartDelay:     100 * time.Millisecond,
			RestartMaxDelay:  30 * time.Second,
			RestartWindow:    60 * time.Second,
			SuccessExitCodes: []int{0},
			StopSignal:       37,
			StopGracePeriod:  5 * time.Second,
			Log:              LogJSON,
			Instances:        2,
			DependsOn:        []string{"web"},
			Healthcheck: &Healthcheck{
				TCP:         "[::1]:6379",
				Interval:    10 * time.Second,
				Timeout:     5 * time.Second,
				Retries:     3,
				OnUnhealthy: HealthRestart,
			},
		}},
	}
	assertConfig(t, cfg, want)
}

const everyKey = `[watchdog]
shutdown_timeout = "20s"
control_socket = "/tmp/w.sock"
metrics_address = "127.0.0.1:9102"
log = "json"

[services.web]
command = ["./prog", "--port", "8080"]
user = "root:0"
working_dir = "$DIR"
environment = { APP_ENV = "prod", C = "x=y", B = "", A = "1" }
depends_on = ["migrate"]
critical = true
restart = "no"
restart_delay = "1s"
restart_max_delay = "1m"
max_restarts = 5
restart_window = "2m"
success_exit_codes = [0, 143]
stop_signal = "int"
stop_grace_period = "0s"
notify = true
watchdog_timeout = "30s"
startup_timeout = "1m"
log = "inherit"

[services.web.healthcheck]
http = "https://127.0.0.1:8443/healthz"
interval = "3s"
timeout = "1s"
retries = 1
start_period = "30s"
on_unhealthy = "ignore"

[services.migrate]
command = ["prog", "--up"]
environment.PATH = "$DIR"
oneshot = true
restart = "on-failure"
healthcheck = { command = ["prog", "check"] }

[services.worker]
command = ["/bin/sh", "-c", "exec sleep 1"]
working_dir = "$DIR/sub"
stop_signal = "SIGRTMIN+3"
healthcheck.tcp = "[::1]:6379"
instances = 2
depends_on = ["web"]
`

func TestStartOrder(t *testing.T) {
	cfg := mustParse(t, `[services.web]
command = ["/bin/sh"]
depends_on = ["db", "cache"]

[services.db]
command = ["/bin/sh"]
depends_on = ["migrate-wait"]

[services.cache]
command = ["/bin/sh"]

[services.migrate-wait]
command = ["/bin/sh"]

[services.admin]
command = ["/bin/sh"]
depends_on = ["web"]

[services.zz-log]
command = ["/bin/sh"]
`, "")
	// Each comes after its dependencies; among those free to start, the first by name.
	want := []string{"cache", "migrate-wait", "db", "web", "admin", "zz-log"}
	if got := serviceNames(cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("start order = %v, want %v", got, want)
	}
}

func TestAddMain(t *testing.T) {
	cfg := mustParse(t, "[services.log]\ncommand = [\"/bin/sh\"]\n", "")
	argv := []string{"no-such-program-is-fine", "--flag"}
	if err := cfg.AddMain(argv); err != nil {
		t.Fatal(err)
	}
	argv[0] = "changed" // AddMain keeps its own copy
	main := cfg.Services[len(cfg.Services)-1]
	want := &Service{
		Name:             "main",
		Command:          []string{"no-such-program-is-fine", "--flag"},
		Main:             true,
		Critical:         true,
		Restart:          RestartNo,
		RestartDelay:     100 * time.Millisecond,
		RestartMaxDelay:  30 * time.Second,
		RestartWindow:    60 * time.Second,
		SuccessExitCodes: []int{0},
		StopSignal:       unix.SIGTERM,
		StopGracePeriod:  5 * time.Second,
		Log:              LogInherit,
		Instances:        1,
	}
	if !reflect.DeepEqual(main, want) {
		t.Errorf("main service = %+v, want %+v", main, want)
	}
	if got := serviceNames(cfg); !reflect.DeepEqual(got, []string{"log", "main"}) {
		t.Errorf("services = %v, want [log main]", got)
	}
	if err := cfg.AddMain([]string{"again"}); err == nil {
		t.Error("a second AddMain succeeded")
	}
	if err := Default().AddMain(nil); err == nil {
		t.Error("AddMain(nil) succeeded")
	}
}

// The plan `watchdog check` prints is a config that reads back as the same Config.
func TestPlanParsesBack(t *testing.T) {
	dir := fixture(t)
	for name, text := range map[string]string{
		"every key": everyKey,
		"defaults":  "[services.a]\ncommand = [\"/bin/sh\"]\n",
		"watchdog only": `[watchdog]
metrics_address = ":9102"
`,
		"odd strings": `[services.odd]
command = ["/bin/sh", "-c", "printf '%s\\n' \"$1\" \\\\ \t", "\u0001\u007f", "é"]
environment = { "A B" = "quote \" backslash \\ newline \n", "é" = "", "X.Y" = "1" }
stop_signal = 33
`,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := mustParse(t, text, dir)
			var plan bytes.Buffer
			if err := cfg.WritePlan(&plan); err != nil {
				t.Fatal(err)
			}
			again, err := parse(cfg.Path, plan.Bytes(), 0)
			if err != nil {
				t.Fatalf("the plan does not parse: %v\n%s", err, plan.String())
			}
			assertConfig(t, again, cfg)
		})
	}
}

func TestPlan(t *testing.T) {
	cfg := mustParse(t, `[services.web]
command = ["/bin/sh", "-c", "exec web"]
depends_on = ["db"]
healthcheck.http = "http://localhost/"

[services.db]
command = ["/bin/sh"]
user = "0"
`, "")
	if err := cfg.AddMain([]string{"app", "--serve"}); err != nil {
		t.Fatal(err)
	}
	var plan bytes.Buffer
	if err := cfg.WritePlan(&plan); err != nil {
		t.Fatal(err)
	}
	root, err := user.LookupId("0")
	if err != nil {
		t.Skipf("no uid 0 in the user database: %v", err)
	}
	want := strings.ReplaceAll(`# config: w.toml
# start order: db, web, main

[watchdog]
shutdown_timeout = "9s"
control_socket = "/run/watchdog.sock"
metrics_address = ""
log = "inherit"

[services.db]
command = ["/bin/sh"]
user = "0" # uid 0, gid 0, groups GROUPS, home "HOME"
working_dir = ""
environment = {}
oneshot = false
depends_on = []
critical = false
restart = "always"
restart_delay = "100ms"
restart_max_delay = "30s"
max_restarts = 0
restart_window = "1m0s"
success_exit_codes = [0]
stop_signal = "SIGTERM"
stop_grace_period = "5s"
notify = false
watchdog_timeout = "0s"
startup_timeout = "0s"
log = "inherit"
instances = 1

[services.web]
command = ["/bin/sh", "-c", "exec web"]
user = ""
working_dir = ""
environment = {}
oneshot = false
depends_on = ["db"]
critical = false
restart = "always"
restart_delay = "100ms"
restart_max_delay = "30s"
max_restarts = 0
restart_window = "1m0s"
success_exit_codes = [0]
stop_signal = "SIGTERM"
stop_grace_period = "5s"
notify = false
watchdog_timeout = "0s"
startup_timeout = "0s"
log = "inherit"
instances = 1

[services.web.healthcheck]
http = "http://localhost/"
interval = "10s"
timeout = "5s"
retries = 3
start_period = "0s"
on_unhealthy = "restart"

# the command after "--":
# [services.main]
# command = ["app", "--serve"]
# user = ""
# working_dir = ""
# environment = {}
# oneshot = false
# depends_on = []
# critical = true
# restart = "no"
# restart_delay = "100ms"
# restart_max_delay = "30s"
# max_restarts = 0
# restart_window = "1m0s"
# success_exit_codes = [0]
# stop_signal = "SIGTERM"
# stop_grace_period = "5s"
# notify = false
# watchdog_timeout = "0s"
# startup_timeout = "0s"
# log = "inherit"
# instances = 1
`, "HOME", root.HomeDir)
	want = strings.ReplaceAll(want, "GROUPS", fmt.Sprint(groupsOf(t, root)))
	if plan.String() != want {
		t.Errorf("plan:\n%s\nwant:\n%s", plan.String(), want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "watchdog.toml")
	if err := os.WriteFile(path, []byte("[services.a]\ncommand = [\"/bin/sh\"]\nrestart = \"never\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + `:3: services.a.restart: must be "always", "on-failure" or "no", not "never"`
	if err == nil || err.Error() != want {
		t.Errorf("Load error = %v, want %s", err, want)
	}
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || *errs[0] != (Error{File: path, Line: 3, Key: "services.a.restart", Msg: `must be "always", "on-failure" or "no", not "never"`}) {
		t.Errorf("Load error = %#v, want one Error for line 3", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want fs.ErrNotExist", err)
	}
}

func serviceNames(cfg *Config) []string {
	var names []string
	for _, s := range cfg.Services {
		names = append(names, s.Name)
	}
	return names
}

func assertConfig(t *testing.T, got, want *Config) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	if !reflect.DeepEqual(got.Watchdog, want.Watchdog) || got.Path != want.Path {
		t.Errorf("config = %+v %q, want %+v %q", got.Watchdog, got.Path, want.Watchdog, want.Path)
	}
	if len(got.Services) != len(want.Services) {
		t.Fatalf("services = %v, want %v", serviceNames(got), serviceNames(want))
	}
	for i := range got.Services {
		g, w := got.Services[i], want.Services[i]
		if !reflect.DeepEqual(g, w) {
			t.Errorf("service %d:\n got %+v\nwant %+v", i, g, w)
			if !reflect.DeepEqual(g.Healthcheck, w.Healthcheck) {
				t.Errorf("healthcheck:\n got %+v\nwant %+v", g.Healthcheck, w.Healthcheck)
			}
			if !reflect.DeepEqual(g.Credential, w.Credential) {
				t.Errorf("credential:\n got %+v\nwant %+v", g.Credential, w.Credential)
			}
		}
	}
}

func TestZeroRestartDelayWithLimit(t *testing.T) {
	cfg := mustParse(t, `[services.web]
command = ["/bin/sh"]
restart_delay = "0s"
max_restarts = 100
`, fixture(t))
	if web := cfg.Services[0]; web.RestartDelay != 0 || web.MaxRestarts != 100 {
		t.Fatalf("restart_delay %s, max_restarts %d; want 0s and 100", web.RestartDelay, web.MaxRestarts)
	}
}
