package integration

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// An HTTP service that turns unhealthy is restarted after exactly `retries` failed probes in a
// row, and `watchdog status` follows it: healthy, unhealthy while it stops, starting again, healthy.
func TestHealthHTTPUnhealthyRestartsAfterRetries(t *testing.T) {
	t.Parallel()
	const retries = 3
	dir := socketDir(t)
	socket, sick := filepath.Join(dir, "watchdog.sock"), filepath.Join(dir, "sick")
	port := probePort(t)
	// LINGER keeps the run stopping for a while after SIGTERM, long enough to see in status.
	// start_period holds the second run's failures while sick still exists.
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q

[services.web]
command = %s
environment = { FIXTURE_ROLE = "web" }
restart_delay = "100ms"

[services.web.healthcheck]
http = "http://127.0.0.1:%s/healthz"
interval = "300ms"
timeout = "2s"
retries = %d
start_period = "20s"
`, socket, fixtureCmd("http-health", port, sick, "1500ms"), port, retries), "--socket", socket)

	first := w.waitEvent("started", "service", "web")
	pid1 := eventPID(t, first)
	w.waitEvent("healthy", "service", "web", "pid", pid1)
	w.waitEvent("ready", "service", "web", "pid", pid1)
	waitStatus(t, socket, "web", "UP", fmt.Sprintf("pid %d,", pid1), "healthy", "restarts 0")
	wantHealth(t, socket, 0)

	touchFile(t, sick)
	unhealthy := w.waitEvent("unhealthy", "service", "web", "pid", pid1)
	if reason := unhealthy.get("reason"); reason != "HTTP 503" {
		t.Errorf("unhealthy reason %q, want %q", reason, "HTTP 503")
	}
	stopping := waitEventAfter(w, unhealthy, "stopping", "service", "web")
	if pid := eventPID(t, stopping); pid != pid1 {
		t.Errorf("stopping pid %d after web's unhealthy event, want %d", pid, pid1)
	}
	// The run lingers after SIGTERM: status says it is unhealthy and stopping.
	waitStatus(t, socket, "web", "UP", fmt.Sprintf("pid %d,", pid1), "unhealthy", "stopping")
	wantHealth(t, socket, 1, "web")

	// The fixture stops answering once it has the stop signal: every probe answered before
	// that is one watchdog counted. The next probe is due an interval after the last one, so
	// SIGTERM, sent as the verdict is made, arrives before it.
	w.waitReport("web terminating", 1)
	var answers []string
	for _, line := range reportsOf(w, "web", pid1) {
		switch fields := strings.Fields(line); fields[1] {
		case "healthz":
			answers = append(answers, "healthz "+fields[2])
		case "terminating":
			answers = append(answers, "terminating")
		}
	}
	firstFailure := slices.Index(answers, "healthz 503")
	if firstFailure < 1 || answers[len(answers)-1] != "terminating" {
		t.Fatalf("answers of the first run %v: want 200s, then 503s, then terminating", answers)
	}
	failures := answers[firstFailure : len(answers)-1]
	if len(failures) != retries || slices.ContainsFunc(failures, func(a string) bool { return a != "healthz 503" }) {
		t.Errorf("first run answered %v between its last 200 and SIGTERM, want exactly %d 503s (retries)", failures, retries)
	}

	restarting := waitEventAfter(w, stopping, "restarting", "service", "web")
	if reason := restarting.get("reason"); reason != "unhealthy: HTTP 503" {
		t.Errorf("restarting reason %q, want %q", reason, "unhealthy: HTTP 503")
	}
	second := waitEventAfter(w, restarting, "started", "service", "web")
	pid2 := eventPID(t, second)
	if pid2 == pid1 {
		t.Fatalf("web restarted with the same pid %d", pid1)
	}
	// Still sick, inside the new run's start period: starting, not yet healthy.
	w.waitReport(fmt.Sprintf("web healthz 503 pid=%d", pid2), 1)
	res, lines := status(t, socket)
	wantStatusLine(t, res, lines, "web", "UP", fmt.Sprintf("pid %d,", pid2), "restarts 1", "starting")
	if line := lines["web"]; strings.Contains(line, "healthy") {
		t.Errorf("status line %q of a run that has not passed a probe says healthy", line)
	}
	wantHealth(t, socket, 1, "web starting")

	removeFile(t, sick)
	healthy := waitEventAfter(w, second, "healthy", "service", "web", "pid", pid2)
	waitEventAfter(w, healthy, "ready", "service", "web", "pid", pid2)
	waitStatus(t, socket, "web", "UP", fmt.Sprintf("pid %d,", pid2), "restarts 1", "healthy")
	wantHealth(t, socket, 0)
	if n := len(w.events("unhealthy", "service", "web")); n != 1 {
		t.Errorf("%d unhealthy events, want 1: the second run's failures were in its start period", n)
	}

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
}

// A command probe that hangs past its timeout is a failure that says "timed out", and its
// whole process group is killed and reaped before the verdict. A probe that exits leaving a
// process in its group does not leave it behind either.
func TestHealthCommandProbeTimeoutLeavesNothing(t *testing.T) {
	t.Parallel()
	envBin, err := exec.LookPath("env")
	if err != nil {
		t.Skip("needs env(1):", err)
	}
	socket := filepath.Join(socketDir(t), "watchdog.sock")
	// hang: the probe and a grandchild in its group never end. leave: the probe exits 0 at
	// once, its sleeping grandchild still in the group.
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q

[services.hang]
command = %s

[services.hang.healthcheck]
command = %s
interval = "5s"
timeout = "3s"
retries = 1
on_unhealthy = "ignore"

[services.leave]
command = %s

[services.leave.healthcheck]
command = %s
interval = "5s"
timeout = "5s"
`, socket,
		fixtureCmd("sleep"), tomlList(envBin, "FIXTURE_ROLE=hang-probe", fixtureBin, "graceful-grandchild", "1h"),
		fixtureCmd("sleep"), tomlList(envBin, "FIXTURE_ROLE=leave-probe", fixtureBin, "spawn-group", "0")),
		"--socket", socket)

	started := w.waitEvent("started", "service", "hang")
	unhealthy := w.waitEvent("unhealthy", "service", "hang")
	if want := "timed out after 3s"; unhealthy.get("reason") != want {
		t.Errorf("unhealthy reason %q, want %q", unhealthy.get("reason"), want)
	}
	// The first probe starts at once; its verdict is due a timeout later.
	wantGap(t, "from hang's start to its unhealthy event", started, unhealthy, 3*time.Second-5*time.Millisecond, 5*time.Second)
	// The probe and its grandchild reported ready well before the timeout; both must be gone,
	// zombies included, and nothing may be left in the probe's process group.
	// (The probe reports ready only once its grandchild is.)
	probe := w.reports("hang-probe ready")
	if len(probe) != 1 {
		t.Fatalf("reports of the hanging probe: %v, want one probe ready", probe)
	}
	probePID := reportPID(t, probe[0])
	wantGroupGone(t, w, probePID, "hanging probe")

	healthy := w.waitEvent("healthy", "service", "leave")
	leaveProbe := w.reports("leave-probe exiting")
	if len(leaveProbe) == 0 {
		t.Fatalf("no report of leave's probe exiting before its healthy event %v", healthy.fields)
	}
	wantGroupGone(t, w, reportPID(t, leaveProbe[0]), "exited probe")

	// A failure of a service with on_unhealthy = "ignore" is only reported.
	if n := len(w.events("stopping", "service", "hang")); n != 0 {
		t.Errorf("hang stopped %d times, want none: on_unhealthy is ignore", n)
	}
	res, lines := status(t, socket)
	wantStatusLine(t, res, lines, "hang", "UP", fmt.Sprintf("pid %d,", eventPID(t, started)), "unhealthy")
	wantHealth(t, socket, 1, "hang")

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
}

// wantGroupGone fails the test if process group pgid of watchdog's PID namespace has any
// process left, running or zombie.
func wantGroupGone(t *testing.T, w *watchdogRun, pgid int, what string) {
	t.Helper()
	for _, p := range namespaceProcs(w) {
		if p.pid == pgid || p.pgid == pgid {
			t.Errorf("%s: pid %d (%s, state %c) of process group %d is still there after the verdict",
				what, p.pid, p.comm, p.state, pgid)
		}
	}
}

// Probe failures inside start_period do not count; the first success ends the start period,
// after which a single failure (retries 1) makes the service unhealthy.
func TestHealthStartPeriod(t *testing.T) {
	t.Parallel()
	// Long enough for a loaded machine to start the fixture and answer a few probes.
	const startPeriod = 6 * time.Second
	dir := socketDir(t)
	socket, sick := filepath.Join(dir, "watchdog.sock"), filepath.Join(dir, "sick")
	touchFile(t, sick) // unhealthy from the start
	port := probePort(t)
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q

[services.web]
command = %s
environment = { FIXTURE_ROLE = "web" }

[services.web.healthcheck]
http = "http://127.0.0.1:%s/healthz"
interval = "200ms"
timeout = "1s"
retries = 1
start_period = %q
on_unhealthy = "ignore"
`, socket, fixtureCmd("http-health", port, sick), port, startPeriod.String()), "--socket", socket)

	started := w.waitEvent("started", "service", "web")
	pid := eventPID(t, started)
	// Failures that would each be enough with retries 1.
	const failures = 4
	w.waitReport(fmt.Sprintf("web healthz 503 pid=%d", pid), failures)
	removeFile(t, sick)
	healthy := w.waitEvent("healthy", "service", "web", "pid", pid)
	if n := len(w.events("unhealthy", "service", "web")); n != 0 {
		t.Errorf("%d unhealthy events inside the start period, want none", n)
	}
	if got := between(t, started, healthy); got > startPeriod-2*time.Second {
		t.Fatalf("healthy %v after the start, too late to show anything about a %v start period", got, startPeriod)
	}

	touchFile(t, sick)
	unhealthy := waitEventAfter(w, healthy, "unhealthy", "service", "web", "pid", pid)
	if reason := unhealthy.get("reason"); reason != "HTTP 503" {
		t.Errorf("unhealthy reason %q, want %q", reason, "HTTP 503")
	}
	if got := between(t, started, unhealthy); got >= startPeriod {
		t.Errorf("unhealthy %v after the start: the test meant to show a failure counting inside the %v start period", got, startPeriod)
	}
	if n := len(reportsOf(w, "web healthz", pid)); n < failures+2 {
		t.Errorf("web answered %d probes, want at least %d", n, failures+2)
	}
}
