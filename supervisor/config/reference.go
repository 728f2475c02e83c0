package config

import (
	"fmt"
	"io"
	"strings"
)

// KeyDoc documents one key of watchdog.toml. Reference lists them all; `watchdog
// config-reference` prints them as docs/config.md, and the tests hold them to the decoder:
// every key it reads is here, every Example parses, and every Default is what it applies.
type KeyDoc struct {
	Table string // "watchdog", "services.NAME" or "services.NAME.healthcheck"
	Key   string
	Type  string // in the words of Types: "duration", "string", "array of strings", ...
	// Default is the value a missing key gets, in TOML as `watchdog check` prints it
	// ("9s" with its quotes, [0], false); "" when the key has none: it is required or
	// its absence means something of its own, as Meaning says.
	Default string
	Meaning string
	// Example is TOML to put in the table, the key written with a value other than the
	// default, and what else the value needs (notify = true before watchdog_timeout; the
	// tables of the services a depends_on names, after it).
	Example string
}

// Tables names, in order, the tables Reference documents, with what each is for.
var Tables = []struct{ Name, Header, Meaning string }{
	{"watchdog", "[watchdog]",
		"Settings of watchdog itself. The table is optional; a file with only this table is valid beside `watchdog --config FILE -- CMD`."},
	{"services.NAME", "[services.NAME]",
		"One table per service, in any order: `depends_on` decides the start order. NAME is made of letters, digits, " +
			"`_` and `-`; `main` is kept for the command after `--`."},
	{"services.NAME.healthcheck", "[services.NAME.healthcheck]",
		"How watchdog probes a service: exactly one of `command`, `http` and `tcp`. A service with a healthcheck is " +
			"ready once a probe passes; its dependents start only then, and `watchdog health`, `/healthz` and `/readyz` wait for it."},
}

// Types says how each Type of Reference is written in TOML.
var Types = []struct{ Name, Meaning string }{
	{"string", "a TOML string: `\"text\"`"},
	{"boolean", "`true` or `false`"},
	{"integer", "a TOML integer: `3`"},
	{"duration", "a Go duration string: `\"100ms\"`, `\"9s\"`, `\"1m30s\"`, `\"2h\"`; never negative"},
	{"signal", "a signal name, with or without `SIG`, in any case (`\"SIGTERM\"`, `\"term\"`, `\"SIGRTMIN+3\"`), or its number (`15` or `\"15\"`)"},
	{"array of strings", "`[\"a\", \"b\"]`"},
	{"array of integers", "`[0, 143]`"},
	{"table of strings", "an inline table `{ KEY = \"value\" }` or a `[services.NAME.environment]` table"},
	{"table", "a sub-table, documented in its own section below"},
}

// Reference is every key of watchdog.toml, table by table in the order of Tables.
var Reference = []KeyDoc{
	{
		Table: "watchdog", Key: "shutdown_timeout", Type: "duration", Default: `"9s"`,
		Meaning: "The budget of the whole staged shutdown on SIGTERM or SIGINT: services stop in reverse dependency order, " +
			"each stage's `stop_grace_period` cut to what is left of the budget, and whatever is still alive at its end gets SIGKILL. " +
			"Keep it under the time your runtime gives before its own SIGKILL: `docker stop` waits 10 s (`--stop-timeout`), " +
			"Kubernetes `terminationGracePeriodSeconds` (30 s by default). In `--` mode it is the time the command has after a " +
			"SIGTERM or SIGINT before its process group gets SIGKILL. The flag `--shutdown-timeout` overrides it. Must be greater than 0.",
		Example: `shutdown_timeout = "25s"`,
	},
	{
		Table: "watchdog", Key: "control_socket", Type: "string", Default: `"/run/watchdog.sock"`,
		Meaning: "The Unix socket that `watchdog status`, `start`, `stop`, `restart`, `reload` and `health` talk to. " +
			"`$WATCHDOG_SOCKET` and the flag `--socket` override it, for the server and every client alike; watchdog creates " +
			"the socket's directory. When the default's directory, /run, cannot be written (watchdog is not root, or the root " +
			"filesystem is read-only) and nothing chose another path, watchdog listens at `$TMPDIR/watchdog-UID/watchdog.sock` " +
			"instead, and the clients look there. The services' sd_notify sockets go beside it. Supervision never depends on it: when it cannot be created, watchdog logs " +
			"`control_socket_unavailable` and goes on. Must not be empty.",
		Example: `control_socket = "/tmp/watchdog.sock"`,
	},
	{
		Table: "watchdog", Key: "metrics_address", Type: "string", Default: `""`,
		Meaning: "`HOST:PORT` to serve HTTP on (an empty host listens on every address): `/metrics` in the Prometheus text format, " +
			"`/healthz` (200 when every service is healthy or ready, or down as it should be: the verdict of `watchdog health`) " +
			"and `/readyz` (200 when every service is as wanted: the verdict of `watchdog status`), 503 otherwise. " +
			"`\"\"` serves nothing.",
		Example: `metrics_address = "0.0.0.0:9102"`,
	},
	{
		Table: "watchdog", Key: "log", Type: "string", Default: `"inherit"`,
		Meaning: "The default of every service's `log`: `\"inherit\"` or `\"json\"`.",
		Example: `log = "json"`,
	},

	{
		Table: "services.NAME", Key: "command", Type: "array of strings", Default: "",
		Meaning: "Required: the program and its arguments. No shell runs it unless you write one (`[\"sh\", \"-c\", \"...\"]`). " +
			"A program without a slash is looked up in `PATH`, the service's own when `environment` sets one; a relative path " +
			"starts at `working_dir`. The program must exist when the config is loaded.",
		Example: `command = ["/bin/sh", "-c", "exec sleep infinity"]`,
	},
	{
		Table: "services.NAME", Key: "unit", Type: "string", Default: "",
		Meaning: "A systemd `.service` file to take the service's settings from, as `watchdog import-unit` translates it " +
			"(a relative path starts at the config file's directory). Its `ExecStartPre=` steps become oneshot services " +
			"NAME-pre, NAME-pre-2, ... that NAME depends on. A key written in the table replaces what the unit gave, except " +
			"`environment`, merged variable by variable, and `depends_on`, which keeps the steps. What the unit says that " +
			"changes what runs or when it counts as started (`Type=forking`, a variable only systemd sets, ...) is an error " +
			"on the unit's line until the table writes the key it leaves wrong. Not set: the table alone says everything.",
		Example: `unit = "web.service"`,
	},
	{
		Table: "services.NAME", Key: "user", Type: "string", Default: `""`,
		Meaning: "Run as this user, as `docker run --user` reads it: `\"name\"`, `\"uid\"`, `\"name:group\"` or `\"uid:gid\"`. " +
			"A user gets its primary group and the groups that list it in /etc/group, and `HOME`, `USER` and `LOGNAME` from its " +
			"passwd entry; a uid with no passwd entry runs with gid 0. Needs watchdog to run as root. `\"\"` runs the service " +
			"as watchdog's own user.",
		Example: `user = "nobody"`,
	},
	{
		Table: "services.NAME", Key: "working_dir", Type: "string", Default: `""`,
		Meaning: "The directory the service starts in; it must exist. `\"\"` is watchdog's own working directory.",
		Example: `working_dir = "/tmp"`,
	},
	{
		Table: "services.NAME", Key: "environment", Type: "table of strings", Default: "{}",
		Meaning: "Variables added to watchdog's own environment for the service, its health-check command included. " +
			"A `PATH` set here is also where `command` is looked up. watchdog adds `WATCHDOG_INSTANCE` to the copies of a " +
			"service with `instances`, and `NOTIFY_SOCKET` (with `watchdog_timeout`, `WATCHDOG_USEC` too) to a service with `notify`.",
		Example: `environment = { APP_ENV = "prod", GOMAXPROCS = "2" }`,
	},
	{
		Table: "services.NAME", Key: "oneshot", Type: "boolean", Default: "false",
		Meaning: "A task that runs to completion once, like a setup step or a migration, instead of a long-running service. " +
			"It counts as completed when it exits with a code in `success_exit_codes`, and only then do its dependents start. " +
			"Its `restart` defaults to `\"no\"` and may be `\"on-failure\"` (retry), never `\"always\"`; it cannot have `instances`.",
		Example: "oneshot = true",
	},
	{
		Table: "services.NAME", Key: "instances", Type: "integer", Default: "1",
		Meaning: "How many copies of the service run, at most 1000. With N > 1 the table becomes the services NAME.0 ... NAME.N-1, " +
			"each with `WATCHDOG_INSTANCE` (0 ... N-1) in its environment; `depends_on = [\"NAME\"]` and `watchdog start|stop|restart NAME` " +
			"mean every copy, and `watchdog restart --rolling NAME` restarts them one at a time.",
		Example: "instances = 3",
	},
	{
		Table: "services.NAME", Key: "depends_on", Type: "array of strings", Default: "[]",
		Meaning: "Services that must be ready before this one starts (a oneshot: completed with success), and that stop only " +
			"after it has stopped. Names must exist; a cycle is an error. A service that never gets ready holds its dependents down, visibly.",
		Example: "depends_on = [\"migrate\"]\n\n[services.migrate]\ncommand = [\"/bin/true\"]\noneshot = true",
	},
	{
		Table: "services.NAME", Key: "critical", Type: "boolean", Default: "false",
		Meaning: "When the service fails for good (its restart policy gives up, or `max_restarts` is reached), watchdog shuts " +
			"everything down and exits with the service's exit code (128+N for signal N). A failed service that is not critical " +
			"stays failed and watchdog goes on.",
		Example: "critical = true",
	},
	{
		Table: "services.NAME", Key: "restart", Type: "string", Default: `"always"`,
		Meaning: "When a service whose main process exited runs again: `\"always\"`, `\"on-failure\"` (an exit code not in " +
			"`success_exit_codes`, or a signal watchdog did not send) or `\"no\"`. The default is `\"no\"` for a oneshot " +
			"and for the command after `--`. A service stopped by watchdog or the operator is never restarted by its policy.",
		Example: `restart = "on-failure"`,
	},
	{
		Table: "services.NAME", Key: "restart_delay", Type: "duration", Default: `"100ms"`,
		Meaning: "The wait before the first restart. Each restart after a quick failure waits twice as long as the one before " +
			"(±10% jitter), up to `restart_max_delay`. `\"0s\"` needs `max_restarts` > 0, so that no setting makes a restart storm.",
		Example: `restart_delay = "2s"`,
	},
	{
		Table: "services.NAME", Key: "restart_max_delay", Type: "duration", Default: `"30s"`,
		Meaning: "The longest wait between restarts. A run that lasted at least this long starts the backoff afresh at " +
			"`restart_delay`. Must be greater than 0 and not shorter than `restart_delay`.",
		Example: `restart_max_delay = "1m"`,
	},
	{
		Table: "services.NAME", Key: "max_restarts", Type: "integer", Default: "0",
		Meaning: "How many restarts `restart_window` may hold; one more and the service is failed (and, if `critical`, watchdog " +
			"exits). 0 is no limit: the capped backoff alone contains a crash loop, as Kubernetes' CrashLoopBackOff does.",
		Example: "max_restarts = 5",
	},
	{
		Table: "services.NAME", Key: "restart_window", Type: "duration", Default: `"60s"`,
		Meaning: "The sliding window `max_restarts` counts in. Must be greater than 0.",
		Example: `restart_window = "10m"`,
	},
	{
		Table: "services.NAME", Key: "success_exit_codes", Type: "array of integers", Default: "[0]",
		Meaning: "The exit codes that count as success: for `restart = \"on-failure\"` and for a oneshot's completion. " +
			"Codes 0-255, at least one. Death by a signal is never a success.",
		Example: "success_exit_codes = [0, 143]",
	},
	{
		Table: "services.NAME", Key: "stop_signal", Type: "signal", Default: `"SIGTERM"`,
		Meaning: "The signal that asks the service to stop, sent to its whole process group; after `stop_grace_period` the " +
			"group gets SIGKILL. It also stops what a main process that exited left in its group.",
		Example: `stop_signal = "SIGQUIT"`,
	},
	{
		Table: "services.NAME", Key: "stop_grace_period", Type: "duration", Default: `"5s"`,
		Meaning: "How long the process group has after `stop_signal` before SIGKILL. During the staged shutdown it is cut to " +
			"what is left of `shutdown_timeout`; in `--` mode the command alone gets the whole `shutdown_timeout`.",
		Example: `stop_grace_period = "20s"`,
	},
	{
		Table: "services.NAME", Key: "notify", Type: "boolean", Default: "false",
		Meaning: "The service speaks systemd's sd_notify protocol: watchdog sets `NOTIFY_SOCKET` and counts the service ready " +
			"when it sends `READY=1` (with a healthcheck too: when both hold). `STATUS=` shows in `watchdog status`; " +
			"`WATCHDOG=1` pings feed `watchdog_timeout`. Only messages from the service's own process group count.",
		Example: "notify = true",
	},
	{
		Table: "services.NAME", Key: "watchdog_timeout", Type: "duration", Default: `"0s"`,
		Meaning: "Needs `notify = true`: the service must send `WATCHDOG=1` at least this often (it finds the interval in " +
			"`WATCHDOG_USEC`, and may change it with `WATCHDOG_USEC=`). A missed ping, or `WATCHDOG=trigger`, stops the " +
			"service and counts as a failure for its restart policy. `\"0s\"` is off.",
		Example: "notify = true\nwatchdog_timeout = \"30s\"",
	},
	{
		Table: "services.NAME", Key: "startup_timeout", Type: "duration", Default: `"0s"`,
		Meaning: "How long a run may take to get ready (its first passing health check, or `READY=1` with `notify`). " +
			"A run not ready by then is stopped and counts as a failure for its restart policy. `\"0s\"` waits forever.",
		Example: `startup_timeout = "2m"`,
	},
	{
		Table: "services.NAME", Key: "log", Type: "string", Default: `"inherit"`,
		Meaning: "Where the service's stdout and stderr go. `\"inherit\"`: straight to watchdog's own, untouched. " +
			"`\"json\"`: each line becomes one JSON object on watchdog's stdout, `{\"ts\", \"service\", \"stream\", \"line\"}`, " +
			"so that `docker logs` stays one JSON document a line. The default is `[watchdog] log`.",
		Example: `log = "json"`,
	},
	{
		Table: "services.NAME", Key: "healthcheck", Type: "table", Default: "",
		Meaning: "How the service is probed: see [[services.NAME.healthcheck]](#table-services-NAME-healthcheck). Not set: the service is ready as soon as it " +
			"has started (with `notify`, once it sends `READY=1`).",
		Example: `healthcheck = { http = "http://127.0.0.1:8080/healthz" }`,
	},

	{
		Table: "services.NAME.healthcheck", Key: "command", Type: "array of strings", Default: "",
		Meaning: "A program whose exit code 0 is healthy, run with the service's environment, working directory and user, " +
			"looked up as the service's `command` is. One that outlives `timeout` is killed with its process group.",
		Example: `command = ["test", "-S", "/run/app/app.sock"]`,
	},
	{
		Table: "services.NAME.healthcheck", Key: "http", Type: "string", Default: "",
		Meaning: "An `http://` or `https://` URL to GET; a 2xx or 3xx answer is healthy.",
		Example: `http = "http://127.0.0.1:8080/healthz"`,
	},
	{
		Table: "services.NAME.healthcheck", Key: "tcp", Type: "string", Default: "",
		Meaning: "A `HOST:PORT` to connect to; a connection is healthy.",
		Example: `tcp = "127.0.0.1:5432"`,
	},
	{
		Table: "services.NAME.healthcheck", Key: "interval", Type: "duration", Default: `"10s"`,
		Meaning: "The time from the end of one probe to the start of the next; probes never overlap. Until the service is " +
			"first healthy the probes come every second (or every interval, when shorter), so that readiness is noticed soon.",
		Example: `interval = "30s"`,
	},
	{
		Table: "services.NAME.healthcheck", Key: "timeout", Type: "duration", Default: `"5s"`,
		Meaning: "How long one probe may take before it counts as a failure.",
		Example: `timeout = "2s"`,
	},
	{
		Table: "services.NAME.healthcheck", Key: "retries", Type: "integer", Default: "3",
		Meaning: "How many failures in a row make the service unhealthy, before its first passing probe too " +
			"(`start_period` aside). At least 1.",
		Example: "retries = 5",
	},
	{
		Table: "services.NAME.healthcheck", Key: "start_period", Type: "duration", Default: `"0s"`,
		Meaning: "Failures within this time after a start do not count; a passing probe counts at once. Give it to a " +
			"service that is slow to start: without it, `retries` failures while it starts make it unhealthy, and with " +
			"`on_unhealthy = \"restart\"` it is restarted before it ever gets ready.",
		Example: `start_period = "1m"`,
	},
	{
		Table: "services.NAME.healthcheck", Key: "on_unhealthy", Type: "string", Default: `"restart"`,
		Meaning: "What an unhealthy service gets: `\"restart\"` stops it (`stop_signal`, grace, SIGKILL) and its restart policy " +
			"treats the run as a failure; `\"ignore\"` only reports it (the `unhealthy` event, `watchdog status`, `/healthz`).",
		Example: `on_unhealthy = "ignore"`,
	},
}

// referenceIntro opens docs/config.md.
const referenceIntro = `watchdog reads one TOML file: the one ` + "`--config FILE`" + ` names, else ` + "`$WATCHDOG_CONFIG`" + `, else
` + "`/etc/watchdog.toml`" + ` (with ` + "`watchdog -- CMD`" + ` and neither, no file at all). Nothing starts unless the whole
file is valid: unknown keys, values of the wrong type, bad durations or signals, unknown or cyclic
` + "`depends_on`" + `, and programs or directories that do not exist are errors that name the file, the line
and the key. ` + "`watchdog check --config FILE`" + ` prints every error, or the resolved plan: every key with
its effective value, defaults included, and the services in start order.

On SIGHUP or ` + "`watchdog reload`" + ` the file is read again and the difference applied: changed services
are restarted, new ones started, removed ones stopped; a file with errors changes nothing.
` + "`[watchdog]`" + ` settings take effect when watchdog next starts.`

// WriteReference prints Reference as Markdown: docs/config.md.
func WriteReference(w io.Writer) error {
	var b strings.Builder
	b.WriteString("<!-- Generated by `watchdog config-reference` from supervisor/config/reference.go. Do not edit. -->\n\n")
	b.WriteString("# Configuration reference\n\n")
	b.WriteString(referenceIntro + "\n\n")
	b.WriteString("## Value types\n\n| type | written as |\n| --- | --- |\n")
	for _, t := range Types {
		fmt.Fprintf(&b, "| %s | %s |\n", t.Name, escapeCell(t.Meaning))
	}
	for _, table := range Tables {
		fmt.Fprintf(&b, "\n<a id=\"table-%s\"></a>\n## %s\n\n%s\n\n| key | type | default |\n| --- | --- | --- |\n",
			strings.ReplaceAll(table.Name, ".", "-"), table.Header, table.Meaning)
		keys := referenceKeys(table.Name)
		for _, k := range keys {
			fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", k.Key, anchor(k), k.Type, defaultCell(k.Default))
		}
		for _, k := range keys {
			fmt.Fprintf(&b, "\n<a id=\"%s\"></a>\n### %s\n\n", anchor(k), k.Key)
			fmt.Fprintf(&b, "Type: %s. Default: %s.\n\n%s\n\n", k.Type, defaultCell(k.Default), k.Meaning)
			fmt.Fprintf(&b, "```toml\n[%s]\n%s\n```\n", strings.ReplaceAll(k.Table, "NAME", "app"), k.Example)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// referenceKeys returns the keys of one table in Reference's order.
func referenceKeys(table string) []KeyDoc {
	var keys []KeyDoc
	for _, k := range Reference {
		if k.Table == table {
			keys = append(keys, k)
		}
	}
	return keys
}

// anchor is the id of a key's section: "services-NAME-restart_delay".
func anchor(k KeyDoc) string {
	return strings.ReplaceAll(k.Table, ".", "-") + "-" + k.Key
}

func defaultCell(d string) string {
	if d == "" {
		return "none"
	}
	return "`" + d + "`"
}

// escapeCell keeps text inside one cell of a Markdown table.
func escapeCell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}
