package config

import (
	"errors"
	"strings"
	"testing"
)

// Each broken config must fail with exactly these errors: file, line, key, message.
func TestBrokenConfigs(t *testing.T) {
	dir := fixture(t)
	for _, tc := range []struct {
		name string
		euid int // of the watchdog reading the file; 0 unless the case is about it
		text string
		want string // the whole error, $DIR for the fixture directory
	}{{
		name: "syntax error",
		text: `[services.web]
command = ["/bin/sh"
`,
		want: `w.toml:2: expected a comma (',') or array terminator (']'), but got end of file`,
	}, {
		name: "duplicate key",
		text: `[services.web]
command = ["/bin/sh"]
command = ["/bin/sh"]
`,
		want: `w.toml:3: Key 'services.web.command' has already been defined.`,
	}, {
		name: "empty file",
		text: "# nothing here\n",
		want: `w.toml: no [watchdog] table and no services`,
	}, {
		name: "unknown top-level table",
		text: `[watchdog]
[service.web]
command = ["/bin/sh"]
`,
		want: `w.toml:2: service: unknown key`,
	}, {
		name: "unknown key in [watchdog]",
		text: `[watchdog]
shutdown-timeout = "5s"
`,
		want: `w.toml:2: watchdog.shutdown-timeout: unknown key`,
	}, {
		name: "unknown key in a service, key names are case-sensitive",
		text: `[services.web]
Command = ["/bin/sh"]
`,
		want: `w.toml:1: services.web.command: is required
w.toml:2: services.web.Command: unknown key`,
	}, {
		name: "unknown key in healthcheck",
		text: `[services.web]
command = ["/bin/sh"]

[services.web.healthcheck]
tcp = "localhost:80"
intervall = "5s"
`,
		want: `w.toml:6: services.web.healthcheck.intervall: unknown key`,
	}, {
		name: "wrong type",
		text: `[services.web]
command = "/bin/sh -c true"
`,
		want: `w.toml:2: services.web.command: must be an array, not a string`,
	}, {
		name: "wrong item type",
		text: `[services.web]
command = ["/bin/sh", 1]
`,
		want: `w.toml:2: services.web.command: item 2 must be a string, not an integer`,
	}, {
		name: "service is not a table",
		text: `[services]
web = "/bin/sh"
`,
		want: `w.toml:2: services.web: must be a table, not a string`,
	}, {
		name: "invalid duration",
		text: `[services.web]
command = ["/bin/sh"]
restart_delay = "5 seconds"
`,
		want: `w.toml:3: services.web.restart_delay: invalid duration "5 seconds"`,
	}, {
		name: "duration as a number",
		text: `[watchdog]
shutdown_timeout = 5
`,
		want: `w.toml:2: watchdog.shutdown_timeout: must be a string, not an integer`,
	}, {
		name: "negative duration",
		text: `[services.web]
command = ["/bin/sh"]
stop_grace_period = "-1s"
`,
		want: `w.toml:3: services.web.stop_grace_period: must not be negative, not "-1s"`,
	}, {
		name: "restart_max_delay below restart_delay",
		text: `[services.web]
command = ["/bin/sh"]
restart_delay = "10s"
restart_max_delay = "5s"
`,
		want: `w.toml:4: services.web.restart_max_delay: must not be shorter than restart_delay (10s)`,
	}, {
		name: "bad log mode",
		text: `[services.web]
command = ["/bin/sh"]
log = "syslog"
`,
		want: `w.toml:3: services.web.log: must be "inherit" or "json", not "syslog"`,
	}, {
		name: "no instances",
		text: `[services.web]
command = ["/bin/sh"]
instances = 0
`,
		want: `w.toml:3: services.web.instances: must be at least 1, not 0`,
	}, {
		name: "instances of a oneshot",
		text: `[services.job]
command = ["/bin/sh"]
oneshot = true
instances = 2
`,
		want: `w.toml:4: services.job.instances: a oneshot runs once: it cannot have instances`,
	}, {
		name: "zero restart_delay without a restart limit",
		text: `[services.web]
command = ["/bin/sh"]
restart_delay = "0s"
`,
		want: `w.toml:3: services.web.restart_delay: 0s needs max_restarts > 0: without backoff or a limit a crashing service restarts in a storm`,
	}, {
		name: "restart_delay above the default restart_max_delay",
		text: `[services.web]
command = ["/bin/sh"]
restart_delay = "1m"
`,
		want: `w.toml:3: services.web.restart_delay: must not be longer than restart_max_delay (30s by default)`,
	}, {
		name: "bad restart",
		text: `[services.web]
command = ["/bin/sh"]
restart = "unless-stopped"
`,
		want: `w.toml:3: services.web.restart: must be "always", "on-failure" or "no", not "unless-stopped"`,
	}, {
		name: "oneshot with restart always",
		text: `[services.migrate]
command = ["/bin/sh"]
oneshot = true
restart = "always"
`,
		want: `w.toml:4: services.migrate.restart: a oneshot service cannot restart "always": use "on-failure" or "no"`,
	}, {
		name: "negative max_restarts",
		text: `[services.web]
command = ["/bin/sh"]
max_restarts = -1
`,
		want: `w.toml:3: services.web.max_restarts: must be at least 0, not -1`,
	}, {
		name: "exit code out of range",
		text: `[services.web]
command = ["/bin/sh"]
success_exit_codes = [0, 256]
`,
		want: `w.toml:3: services.web.success_exit_codes: exit code 256 is out of range 0-255`,
	}, {
		name: "bad signal name",
		text: `[services.web]
command = ["/bin/sh"]
stop_signal = "SIGTERMINATE"
`,
		want: `w.toml:3: services.web.stop_signal: unknown signal "SIGTERMINATE"`,
	}, {
		name: "signal number out of range",
		text: `[services.web]
command = ["/bin/sh"]
stop_signal = 65
`,
		want: `w.toml:3: services.web.stop_signal: signal number 65 is out of range 1-64`,
	}, {
		name: "missing command",
		text: `[services.web]
restart = "no"
`,
		want: `w.toml:1: services.web.command: is required`,
	}, {
		name: "service named only by its healthcheck table",
		text: `[watchdog]

[services.web.healthcheck]
tcp = "localhost:80"
`,
		want: `w.toml:3: services.web.command: is required`,
	}, {
		name: "array of tables",
		text: `[[services.web]]
command = ["/bin/sh"]
`,
		want: `w.toml:1: services.web: must be a table, not an array of tables`,
	}, {
		name: "empty command",
		text: `[services.web]
command = []
`,
		want: `w.toml:2: services.web.command: must name a program`,
	}, {
		name: "command not in PATH",
		text: `[services.web]
command = ["no-such-program", "--flag"]
environment = { PATH = "$DIR:$DIR/sub" }
`,
		want: `w.toml:2: services.web.command: no-such-program not found in PATH "$DIR:$DIR/sub"`,
	}, {
		name: "command not executable",
		text: `[services.web]
command = ["$DIR/data"]
`,
		want: `w.toml:2: services.web.command: $DIR/data is not executable`,
	}, {
		name: "command is a directory",
		text: `[services.web]
command = ["sub"]
environment.PATH = "$DIR"
`,
		want: `w.toml:2: services.web.command: sub not found in PATH "$DIR"`,
	}, {
		name: "relative command missing from working_dir",
		text: `[services.web]
command = ["./missing"]
working_dir = "$DIR"
`,
		want: `w.toml:2: services.web.command: $DIR/missing does not exist`,
	}, {
		name: "working_dir missing",
		text: `[services.web]
command = ["/bin/sh"]
working_dir = "$DIR/nowhere"
`,
		want: `w.toml:3: services.web.working_dir: $DIR/nowhere does not exist`,
	}, {
		name: "working_dir not a directory",
		text: `[services.web]
command = ["/bin/sh"]
working_dir = "$DIR/data"
`,
		want: `w.toml:3: services.web.working_dir: $DIR/data is not a directory`,
	}, {
		name: "unknown user",
		text: `[services.web]
command = ["/bin/sh"]
user = "no-such-user-here"
`,
		want: `w.toml:3: services.web.user: unknown user "no-such-user-here"`,
	}, {
		name: "user without root",
		euid: 1000,
		text: `[services.web]
command = ["/bin/sh"]
user = "root"
`,
		want: `w.toml:3: services.web.user: needs watchdog to run as root, not as uid 1000`,
	}, {
		name: "unknown dependency",
		text: `[services.web]
command = ["/bin/sh"]
depends_on = ["db"]
`,
		want: `w.toml:3: services.web.depends_on: unknown service "db"`,
	}, {
		name: "depends on itself",
		text: `[services.web]
command = ["/bin/sh"]
depends_on = ["web"]
`,
		want: `w.toml:3: services.web.depends_on: a service cannot depend on itself`,
	}, {
		name: "dependency cycle",
		text: `[services.a]
command = ["/bin/sh"]
depends_on = ["b"]

[services.b]
command = ["/bin/sh"]
depends_on = ["c"]

[services.c]
command = ["/bin/sh"]
depends_on = ["a"]
`,
		want: `w.toml:3: services.a.depends_on: dependency cycle: a -> b -> c -> a`,
	}, {
		name: "healthcheck without a probe",
		text: `[services.web]
command = ["/bin/sh"]

[services.web.healthcheck]
interval = "5s"
`,
		want: `w.toml:4: services.web.healthcheck: needs one of command, http or tcp`,
	}, {
		name: "healthcheck with two probes",
		text: `[services.web]
command = ["/bin/sh"]
healthcheck = { command = ["/bin/sh"], http = "http://localhost/" }
`,
		want: `w.toml:3: services.web.healthcheck: sets command and http: set exactly one of command, http or tcp`,
	}, {
		name: "healthcheck URL scheme",
		text: `[services.web]
command = ["/bin/sh"]
healthcheck.http = "ftp://localhost/"
`,
		want: `w.toml:3: services.web.healthcheck.http: invalid URL "ftp://localhost/": want http://HOST[:PORT]/PATH or https://...`,
	}, {
		name: "healthcheck tcp address",
		text: `[services.web]
command = ["/bin/sh"]
healthcheck.tcp = "localhost"
`,
		want: `w.toml:3: services.web.healthcheck.tcp: invalid address "localhost": want HOST:PORT`,
	}, {
		name: "healthcheck interval zero",
		text: `[services.web]
command = ["/bin/sh"]

[services.web.healthcheck]
tcp = "localhost:80"
interval = "0s"
`,
		want: `w.toml:6: services.web.healthcheck.interval: must be greater than 0`,
	}, {
		name: "healthcheck retries zero",
		text: `[services.web]
command = ["/bin/sh"]

[services.web.healthcheck]
tcp = "localhost:80"
retries = 0
`,
		want: `w.toml:6: services.web.healthcheck.retries: must be at least 1, not 0`,
	}, {
		name: "healthcheck command not found",
		text: `[services.web]
command = ["/bin/sh"]

[services.web.healthcheck]
command = ["$DIR/missing"]
`,
		want: `w.toml:5: services.web.healthcheck.command: $DIR/missing does not exist`,
	}, {
		name: "bad on_unhealthy",
		text: `[services.web]
command = ["/bin/sh"]
healthcheck = { tcp = "localhost:80", on_unhealthy = "stop" }
`,
		want: `w.toml:3: services.web.healthcheck.on_unhealthy: must be "restart" or "ignore", not "stop"`,
	}, {
		name: "watchdog_timeout without notify",
		text: `[services.web]
command = ["/bin/sh"]
watchdog_timeout = "10s"
`,
		want: `w.toml:3: services.web.watchdog_timeout: needs notify = true: the pings come over the notify socket`,
	}, {
		name: "invalid service name",
		text: `[services."web server"]
command = ["/bin/sh"]
`,
		want: `w.toml:1: services."web server": invalid service name: use letters, digits, '_' and '-'`,
	}, {
		name: "reserved service name",
		text: `[services.main]
command = ["/bin/sh"]
`,
		want: `w.toml:1: services.main: the name "main" is reserved for the command after --`,
	}, {
		name: "environment key with =",
		text: `[services.web]
command = ["/bin/sh"]
environment = { "A=B" = "1" }
`,
		want: `w.toml:3: services.web.environment."A=B": invalid variable name: it must not be empty or contain '='`,
	}, {
		name: "environment value not a string",
		text: `[services.web]
command = ["/bin/sh"]

[services.web.environment]
PORT = 8080
`,
		want: `w.toml:5: services.web.environment.PORT: must be a string, not an integer`,
	}, {
		name: "metrics address",
		text: `[watchdog]
metrics_address = "0.0.0.0:http"
`,
		want: `w.toml:2: watchdog.metrics_address: invalid address "0.0.0.0:http": the port must be a number from 1 to 65535`,
	}, {
		name: "empty control socket",
		text: `[watchdog]
control_socket = ""
`,
		want: `w.toml:2: watchdog.control_socket: must not be empty`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			want := strings.ReplaceAll(tc.want, "$DIR", dir)
			cfg, err := parseText(tc.text, dir, tc.euid)
			if err == nil {
				t.Fatalf("parsed into %+v, want error:\n%s", cfg, want)
			}
			if cfg != nil {
				t.Errorf("got a config beside the error")
			}
			if _, ok := errors.AsType[Errors](err); !ok {
				t.Errorf("error is %T, want Errors", err)
			}
			if err.Error() != want {
				t.Errorf("error:\n%s\nwant:\n%s", err, want)
			}
		})
	}
}

// One file with many problems reports all of them, in line order.
func TestEveryErrorReported(t *testing.T) {
	dir := fixture(t)
	_, err := parseText(`[watchdog]
shutdown_timeout = "soon"
colour = "blue"

[services.web]
command = ["$DIR/data"]
depends_on = ["db", "cache"]
restart = "sometimes"
stop_signal = "SIGNOPE"
environment = { "" = "x" }

[services.web.healthcheck]
http = "localhost:8080"
retries = 0

[services.db]
command = []
depends_on = ["web"]
oneshot = true
restart = "always"
watchdog_timeout = "1s"

[services.main]
command = ["/bin/sh"]
`, dir, 0)
	want := strings.ReplaceAll(`w.toml:2: watchdog.shutdown_timeout: invalid duration "soon"
w.toml:3: watchdog.colour: unknown key
w.toml:6: services.web.command: $DIR/data is not executable
w.toml:7: services.web.depends_on: unknown service "cache"
w.toml:8: services.web.restart: must be "always", "on-failure" or "no", not "sometimes"
w.toml:9: services.web.stop_signal: unknown signal "SIGNOPE"
w.toml:10: services.web.environment."": invalid variable name: it must not be empty or contain '='
w.toml:13: services.web.healthcheck.http: invalid URL "localhost:8080": want http://HOST[:PORT]/PATH or https://...
w.toml:14: services.web.healthcheck.retries: must be at least 1, not 0
w.toml:17: services.db.command: must name a program
w.toml:18: services.db.depends_on: dependency cycle: db -> web -> db
w.toml:20: services.db.restart: a oneshot service cannot restart "always": use "on-failure" or "no"
w.toml:21: services.db.watchdog_timeout: needs notify = true: the pings come over the notify socket
w.toml:23: services.main: the name "main" is reserved for the command after --`, "$DIR", dir)
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	errs, _ := errors.AsType[Errors](err)
	if len(errs) != 14 {
		t.Errorf("got %d errors, want 14", len(errs))
	}
}
