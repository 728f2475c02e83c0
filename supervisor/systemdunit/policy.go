package systemdunit

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// typeSettings translates Type= and what goes with it; it reports whether the service
// speaks sd_notify.
func (d *draft) typeSettings(add func(string, any, Assignment), typ string) (notify bool) {
	a := d.single["Service.Type"]
	switch typ {
	case "oneshot":
		add("oneshot", true, a)
		if r, ok := d.single["Service.RemainAfterExit"]; ok {
			d.note(r, nowhere, false, "a watchdog oneshot counts as completed once it exited successfully, and its dependents start; nothing keeps it \"active\" or stops it later")
		}
	case "notify", "notify-reload":
		add("notify", true, a)
		notify = true
		if typ == "notify-reload" {
			d.note(a, nowhere, false, "no reload by signal: the service is treated as Type=notify")
		}
	case "forking":
		d.note(a, d.on("command"), true,
			"watchdog supervises the process it starts, and a forking daemon's first process exits at once; run the daemon in the foreground instead")
	case "dbus":
		if _, ok := d.single["Service.Type"]; ok {
			d.note(a, nowhere, false, "the service counts as started at once, not when it takes its D-Bus name")
		}
	case "idle":
		d.note(a, nowhere, false, "started at once, like Type=simple")
	}
	if b, ok := d.single["Service.BusName"]; ok {
		d.note(b, nowhere, false, "no D-Bus name tracking: the service counts as started at once")
	}
	if r, ok := d.single["Service.RemainAfterExit"]; ok && typ != "oneshot" {
		d.note(r, nowhere, false, "only a oneshot stays completed after it exited")
	}
	return notify
}

var restartPolicies = []string{"no", "always", "on-success", "on-failure", "on-abnormal", "on-abort", "on-watchdog"}

// restarts reports whether the unit is started again after a failure.
func (d *draft) restarts() bool {
	a, ok := d.single["Service.Restart"]
	return ok && a.Value != "no" && a.Value != "on-success" && slices.Contains(restartPolicies, a.Value)
}

// restartSettings translates Restart=, RestartSec=, RestartSteps=, RestartMaxDelaySec=
// and the start limit.
func (d *draft) restartSettings(add func(string, any, Assignment), oneshot bool) {
	a, written := d.single["Service.Restart"]
	policy := "no"
	switch {
	case !written:
	case a.Value == "no" || a.Value == "always" || a.Value == "on-failure":
		policy = a.Value
	case a.Value == "on-abnormal" || a.Value == "on-abort" || a.Value == "on-watchdog":
		policy = "on-failure"
		d.note(a, d.on("restart"), false, "restarts after any failure, a non-zero exit code included; watchdog has no finer policy")
	case a.Value == "on-success":
		policy = "always"
		d.note(a, d.on("restart"), false, "restarts after failures too; watchdog has no policy for clean exits only")
	default:
		written = false
		d.note(a, nowhere, false, "unknown policy; systemd ignores the assignment")
	}
	if oneshot && policy == "always" {
		d.note(a, d.on("restart"), true, "systemd refuses Restart=%s for Type=oneshot; translated as on-failure", a.Value)
		policy = "on-failure"
	}
	switch {
	case written:
		add("restart", policy, a)
	case !oneshot:
		add("restart", "no", Assignment{}) // systemd's default; watchdog's is "always"
	}

	delayAt := d.single["Service.RestartSec"]
	delay, delaySet := d.timespan("Service.RestartSec")
	maxAt := d.single["Service.RestartMaxDelaySec"]
	maxDelay, maxSet := d.timespan("Service.RestartMaxDelaySec")
	steps, stepsSet := d.single["Service.RestartSteps"]
	growing := maxSet && stepsSet && steps.Value != "0"
	switch {
	case growing:
		d.note(steps, nowhere, false, "watchdog doubles the delay after each failure instead of stepping it up in %s steps", steps.Value)
	case maxSet:
		d.note(maxAt, nowhere, false, "without RestartSteps= systemd keeps the delay at RestartSec=")
	case stepsSet:
		d.note(steps, nowhere, false, "without RestartMaxDelaySec= systemd keeps the delay at RestartSec=")
	}

	// systemd's start limit applies whether or not the unit writes it; it is translated
	// when written, and when the unit restarts without delay, relying on it.
	burstAt := d.single["Unit.StartLimitBurst"]
	burst, burstSet := d.count("Unit.StartLimitBurst")
	if !burstSet {
		burst = 5 // DefaultStartLimitBurst
	}
	windowAt := d.single["Unit.StartLimitIntervalSec"]
	window, windowSet := d.timespan("Unit.StartLimitIntervalSec")
	if !windowSet {
		window = 10 * time.Second // DefaultStartLimitIntervalSec
	}
	limited := burst > 0 && window > 0
	immediate := delaySet && delay == 0 && policy != "no"

	switch {
	case !delaySet:
	case immediate && !limited:
		d.note(delayAt, d.on("restart_delay"), false,
			"watchdog needs a delay or a restart limit to contain a crash loop; its default delay is kept")
	default:
		add("restart_delay", duration(delay), delayAt)
		if !growing && delay > 0 {
			add("restart_max_delay", duration(delay), delayAt) // systemd waits RestartSec= every time
		}
	}
	if growing {
		add("restart_max_delay", duration(maxDelay), maxAt)
	}
	if limited && (burstSet || windowSet || immediate) {
		// systemd counts starts and watchdog restarts: the same once the service has run
		// for longer than the window.
		add("max_restarts", int64(burst), burstAt)
		add("restart_window", duration(window), windowAt)
	}
}

// exitCodes translates SuccessExitStatus= and the "-" prefix of the main command.
func (d *draft) exitCodes(add func(string, any, Assignment), cmd *command) {
	if cmd != nil && cmd.IgnoreFailure {
		add("success_exit_codes", allExitCodes(), cmd.assignment)
		d.note(cmd.assignment, d.on("success_exit_codes"), false,
			"the \"-\" prefix: every exit code counts as success, but death by a signal still counts as failure")
		return
	}
	codes := []int64{0}
	var last Assignment // the last one with a code
	for _, a := range d.lists["Service.SuccessExitStatus"] {
		for _, word := range strings.Fields(a.Value) {
			n, err := strconv.ParseUint(word, 10, 8)
			switch {
			case err == nil:
				if !slices.Contains(codes, int64(n)) {
					codes = append(codes, int64(n))
				}
				last = a
			case unix.SignalNum(signalName(word)) != 0:
				d.note(a, nowhere, false, "%s: watchdog never counts death by a signal as success", word)
			default:
				d.note(a, nowhere, false, "%s: not an exit code number", word)
			}
		}
	}
	if len(codes) > 1 {
		slices.Sort(codes)
		list := make([]any, len(codes))
		for i, c := range codes {
			list[i] = c
		}
		add("success_exit_codes", list, last)
	}
}

// stopSettings translates KillSignal=, KillMode= and the stop timeout.
func (d *draft) stopSettings() []Setting {
	var out []Setting
	if a, ok := d.single["Service.KillSignal"]; ok {
		if sig, err := parseSignal(a.Value); err != nil {
			d.note(a, nowhere, false, "%v; systemd ignores the assignment", err)
		} else {
			out = append(out, d.set("stop_signal", sig, a))
		}
	}
	if a, ok := d.single["Service.KillMode"]; ok {
		switch a.Value {
		case "control-group", "process-group":
		case "mixed", "process", "none":
			d.note(a, nowhere, false, "watchdog sends the stop signal to the whole process group, and stops what is left of it when the main process exits")
		default:
			d.note(a, nowhere, false, "unknown mode; systemd ignores the assignment")
		}
	}
	a := d.single["Service.TimeoutStopSec"]
	stop, ok := d.timespan("Service.TimeoutStopSec")
	if !ok {
		a = d.single["Service.TimeoutSec"]
		stop, ok = d.timespan("Service.TimeoutSec")
	}
	switch {
	case !ok:
	case stop == 0 || stop == infinite:
		d.note(a, nowhere, false, "watchdog does not wait forever for a stop: stop_grace_period keeps its default, and shutdown_timeout bounds it")
	default:
		out = append(out, d.set("stop_grace_period", duration(stop), a))
	}
	return out
}

// timeouts translates WatchdogSec= and the start timeout.
func (d *draft) timeouts(add func(string, any, Assignment), notify bool) {
	if wd, ok := d.timespan("Service.WatchdogSec"); ok {
		a := d.single["Service.WatchdogSec"]
		switch {
		case !notify:
			d.note(a, nowhere, false, "watchdog takes WATCHDOG=1 pings only from a service with notify = true (Type=notify)")
		case wd > 0 && wd != infinite:
			add("watchdog_timeout", duration(wd), a)
		}
	}
	a := d.single["Service.TimeoutStartSec"]
	start, ok := d.timespan("Service.TimeoutStartSec")
	if !ok {
		a = d.single["Service.TimeoutSec"]
		start, ok = d.timespan("Service.TimeoutSec")
	}
	switch {
	case !ok:
	case !notify:
		// Only a notify service has a start to bound; an unbounded start is what it gets.
		if a.Key == "TimeoutStartSec" && start != 0 && start != infinite {
			d.note(a, nowhere, false, "watchdog bounds only the wait for READY=1 of a notify service")
		}
	case start == infinite: // watchdog's 0 waits forever, as systemd's 0 and "infinity" do
		add("startup_timeout", duration(0), a)
	default:
		add("startup_timeout", duration(start), a)
	}
}

// timespan reads a time span directive; an invalid one is noted and counts as unset.
func (d *draft) timespan(id string) (time.Duration, bool) {
	a, ok := d.single[id]
	if !ok || a.Value == "" {
		return 0, false
	}
	t, err := parseTimespan(a.Value)
	if err != nil {
		d.note(a, nowhere, false, "%v; systemd ignores the assignment", err)
		return 0, false
	}
	return t, true
}

// count reads a directive that holds a count.
func (d *draft) count(id string) (int, bool) {
	a, ok := d.single[id]
	if !ok || a.Value == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(a.Value, 10, 31)
	if err != nil {
		d.note(a, nowhere, false, "not a count; systemd ignores the assignment")
		return 0, false
	}
	return int(n), true
}

// parseSignal reads a signal as systemd does ("SIGTERM", "TERM", a number,
// "SIGRTMIN+3") and returns it as watchdog reads it.
func parseSignal(s string) (string, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return "", fmt.Errorf("signal number %d is out of range", n)
		}
		if name := unix.SignalName(unix.Signal(n)); name != "" {
			return name, nil
		}
		return s, nil
	}
	name := signalName(s)
	if unix.SignalNum(name) != 0 {
		return name, nil
	}
	for _, rt := range []string{"SIGRTMIN", "SIGRTMAX"} {
		rest, ok := strings.CutPrefix(name, rt)
		if !ok {
			continue
		}
		if rest == "" {
			return name, nil
		}
		if n, err := strconv.ParseUint(rest[1:], 10, 8); err == nil && n <= 30 && (rest[0] == '+' || rest[0] == '-') {
			return name, nil
		}
	}
	return "", fmt.Errorf("unknown signal %q", s)
}

// signalName adds the "SIG" a unit may leave out.
func signalName(s string) string {
	if strings.HasPrefix(s, "SIG") {
		return s
	}
	return "SIG" + s
}

func duration(d time.Duration) string { return d.String() }

func anyList(items []string) []any {
	out := make([]any, len(items))
	for i, s := range items {
		out[i] = s
	}
	return out
}

// allExitCodes is the success_exit_codes of a command whose failure systemd ignores.
func allExitCodes() []any {
	codes := make([]any, 256)
	for i := range codes {
		codes[i] = int64(i)
	}
	return codes
}
