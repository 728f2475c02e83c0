package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Regression tests of sd_notify state that must not outlive what set it.

// WATCHDOG_USEC=0 turns the service's watchdog off, as sd_notify(3) and systemd have it (and
// supervisor/notify's Fields says): a service that sent it and never pings is left running,
// while its twin that did not send it is restarted every watchdog_timeout.
func TestHealthNotifyWatchdogUsecZeroDisablesWatchdog(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	dir := socketDir(t)
	socket, never := filepath.Join(dir, "watchdog.sock"), filepath.Join(dir, "never")
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %[1]q

# GODEBUG as the fixture wants it, so that it need not re-execute itself: its datagram is due
# within a timeout of the start, and a busy machine is slow to start a process.
[services.armed]
command = %[2]s
environment = { FIXTURE_ROLE = "armed", GODEBUG = "asyncpreemptoff=1" }
notify = true
watchdog_timeout = %[4]q
restart_delay = "100ms"

[services.disarmed]
command = %[3]s
environment = { FIXTURE_ROLE = "disarmed", GODEBUG = "asyncpreemptoff=1" }
notify = true
watchdog_timeout = %[4]q
restart_delay = "100ms"
`, socket, fixtureCmd("notify-send", "-", "READY=1", never),
		fixtureCmd("notify-send", "-", "READY=1\nWATCHDOG_USEC=0", never), timeout.String()),
		"--socket", socket)

	// The run that sent WATCHDOG_USEC=0 (one killed before it could send, on a busy machine,
	// shows nothing about it).
	sent := w.waitReport("disarmed sent", 1)
	pid := reportPID(t, sent[0])
	ready := w.waitEvent("ready", "service", "disarmed", "pid", pid)
	// The twin's timeouts show the alarm working; wait until one came three timeouts after
	// disarmed was ready.
	for last := ready; between(t, ready, last) < 3*timeout; {
		last = waitEventAfter(w, last, "watchdog_timeout", "service", "armed")
	}
	if expired := w.events("watchdog_timeout", "service", "disarmed", "pid", pid); len(expired) != 0 {
		t.Errorf("watchdog_timeout for a service that sent WATCHDOG_USEC=0: %v", expired[0].fields)
	}
	for _, started := range w.events("started", "service", "disarmed") {
		if started.line > ready.line {
			t.Errorf("disarmed started again after it sent WATCHDOG_USEC=0: %v", started.fields)
		}
	}
}

// A new run starts without the STATUS= text of the run before: `watchdog status` shows nothing
// until the new process says something, as systemd clears a unit's status text when it starts.
func TestHealthNotifyStatusTextClearedOnRestart(t *testing.T) {
	t.Parallel()
	dir := socketDir(t)
	socket, goReady := filepath.Join(dir, "watchdog.sock"), filepath.Join(dir, "ready")
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q

[services.svc]
command = %s
environment = { FIXTURE_ROLE = "svc" }
notify = true
`, socket, fixtureCmd("notify-ready", goReady)), "--socket", socket)

	first := w.waitEvent("started", "service", "svc")
	touchFile(t, goReady)
	w.waitEvent("ready", "service", "svc")
	waitStatus(t, socket, "svc", "UP", `"serving"`)

	removeFile(t, goReady) // the next run waits, silent
	if res := runClient(t, watchdogBin, nil, "restart", "--socket", socket, "svc"); res.code != 0 {
		t.Fatalf("`watchdog restart svc`: %v, want exit 0", res)
	}
	second := waitEventAfter(w, first, "started", "service", "svc")
	w.waitReport(fmt.Sprintf("svc waiting pid=%d", eventPID(t, second)), 1)
	res, lines := status(t, socket)
	wantStatusLine(t, res, lines, "svc", "UP", fmt.Sprintf("pid %d,", eventPID(t, second)), "starting")
	if line := lines["svc"]; strings.Contains(line, "serving") || strings.Contains(line, "warming up") {
		t.Errorf("status line %q of a run that sent nothing shows the previous run's STATUS=", line)
	}
}
