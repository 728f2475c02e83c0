package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// emfile is how Go words EMFILE.
const emfile = "too many open files"

// watchdog out of file descriptors (RLIMIT_NOFILE lowered with prlimit(2) so that the next
// descriptor's number is over it): what needs a descriptor fails with a reason that says so,
// what needs none goes on.
//
//   - None left: the control socket cannot accept (control_accept_failed; the client gets an
//     error, not a hang), probes fail (unhealthy, with the reason), a restart cannot fork
//     (start_failed, then the backoff); exits and orphans are still reaped.
//   - Two left: enough for a fork's pipe and for one client, not for a probe (three) or a
//     service's log pipes (four): the service restarts, status answers, a service with
//     log = "json" starts with log_capture_failed and writes to watchdog's stdout instead.
//   - None left again: the staged shutdown and the final sweep still end everything.
func TestFaultFewFileDescriptors(t *testing.T) {
	inEachMode(t, func(t *testing.T, mode runMode) {
		w := startWatchdog(t, mode, "--config", writeConfig(t, fmt.Sprintf(`
[watchdog]
shutdown_timeout = "3s"

[services.victim]
command = %[1]s
restart_delay = "100ms"
restart_max_delay = "400ms"

[services.logger]
command = %[1]s
log = "json"
restart_delay = "100ms"
restart_max_delay = "400ms"

[services.probed]
command = %[1]s

[services.probed.healthcheck]
command = %[2]s
interval = "300ms"
retries = 1
on_unhealthy = "ignore"

[services.daemon]
command = %[3]s
restart = "no"
`, fixtureCmd("sleep"), fixtureCmd("exit", "0"), fixtureCmd("daemon"))))
		socket := controlSocket(w)
		victim := eventPID(t, w.waitEvent("started", "service", "victim"))
		w.waitEvent("healthy", "service", "probed")
		daemon := w.waitReport("grandchild ready", 1)[0]
		w.waitEvent("exited", "service", "daemon")
		// logger is started again below, when it cannot have its log pipes.
		if res := runClient(t, watchdogBin, nil, "stop", "--socket", socket, "logger"); res.code != 0 {
			t.Fatalf("`watchdog stop logger`: %v", res)
		}
		waitStatus(t, socket, "logger", "stopped")

		// None left.
		limit := fdLimitLeaving(t, w.pid, 0)
		setSoftLimit(t, w.pid, unix.RLIMIT_NOFILE, uint64(limit))
		t.Logf("RLIMIT_NOFILE %d: no descriptor left", limit)
		res := runClient(t, watchdogBin, nil, "status", "--socket", socket)
		if res.code != 1 || !strings.Contains(res.stderr, socket) {
			t.Errorf("`watchdog status` with no descriptor left in watchdog: %v, want exit 1 and an error naming the socket", res)
		}
		if e := w.waitEvent("control_accept_failed"); !strings.Contains(e.get("error"), emfile) {
			t.Errorf("control_accept_failed does not say %q: %v", emfile, e.fields)
		}
		if e := w.waitEvent("unhealthy", "service", "probed"); !strings.Contains(e.get("reason"), emfile) {
			t.Errorf("probed is unhealthy for another reason than %q: %v", emfile, e.fields)
		}
		unix.Kill(hostPID(w, victim), unix.SIGKILL)
		exited := w.waitEvent("exited", "service", "victim", "signal", "SIGKILL")
		failed := waitEventAfter(w, exited, "start_failed", "service", "victim")
		if !strings.Contains(failed.get("error"), emfile) {
			t.Errorf("start_failed does not say %q: %v", emfile, failed.fields)
		}
		restarting := waitEventAfter(w, failed, "restarting", "service", "victim")
		waitEventAfter(w, restarting, "start_failed", "service", "victim")
		// The daemon left by daemon is an orphan of watchdog's: killed, it is reaped.
		orphan := hostPID(w, reportPID(t, daemon))
		unix.Kill(orphan, unix.SIGKILL)
		waitReaped(t, orphan)

		// Two left.
		limit = fdLimitLeaving(t, w.pid, 2)
		setSoftLimit(t, w.pid, unix.RLIMIT_NOFILE, uint64(limit))
		t.Logf("RLIMIT_NOFILE %d: two descriptors left", limit)
		waitEventAfter(w, restarting, "started", "service", "victim")
		waitStatus(t, socket, "victim", "UP")
		if res := runClient(t, watchdogBin, nil, "start", "--socket", socket, "logger"); res.code != 0 {
			t.Errorf("`watchdog start logger` with two descriptors left: %v", res)
		}
		capture := w.waitEvent("log_capture_failed", "service", "logger")
		if !strings.Contains(capture.get("error"), emfile) {
			t.Errorf("log_capture_failed does not say %q: %v", emfile, capture.fields)
		}
		waitEventAfter(w, capture, "started", "service", "logger")
		res, lines := waitStatus(t, socket, "logger", "UP")
		wantStatusLine(t, res, lines, "probed", "UP", "unhealthy")
		if healthy := w.events("healthy", "service", "probed"); len(healthy) > 1 {
			t.Errorf("probed was healthy again with too few descriptors for a probe: %v", healthy[1].fields)
		}

		// None left again, and the shutdown: the services stop. (The final sweep with none left
		// is TestFaultSweepWithNoDescriptorLeft.)
		limit = fdLimitLeaving(t, w.pid, 0)
		setSoftLimit(t, w.pid, unix.RLIMIT_NOFILE, uint64(limit))
		w.signal(unix.SIGTERM)
		if code := w.waitExit(eventTimeout); code != 0 {
			t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
		}
		for _, name := range []string{"victim", "logger", "probed"} {
			waitEventAfter(w, restarting, "exited", "service", name, "signal", "SIGTERM")
		}
	})
}

// The final sweep with no descriptor left still ends what escaped the services' groups. As
// PID 1 it needs none: kill(-1). As a subreaper it has to find watchdog's descendants in
// /proc, which takes descriptors: the reaper keeps two for it.
func TestFaultSweepWithNoDescriptorLeft(t *testing.T) {
	inEachMode(t, func(t *testing.T, mode runMode) {
		w := startWatchdog(t, mode, "--config", writeConfig(t, fmt.Sprintf(`
[watchdog]
shutdown_timeout = "2s"

[services.daemon]
command = %s
restart = "no"

[services.steady]
command = %s
`, fixtureCmd("daemon"), fixtureCmd("sleep"))))
		left := hostPID(w, reportPID(t, w.waitReport("grandchild ready", 1)[0]))
		w.waitEvent("exited", "service", "daemon")
		w.waitEvent("started", "service", "steady")
		setSoftLimit(t, w.pid, unix.RLIMIT_NOFILE, uint64(fdLimitLeaving(t, w.pid, 0)))
		w.signal(unix.SIGTERM)
		w.waitExit(eventTimeout)
		if p, err := readProc(left); err == nil && !p.zombie() {
			t.Errorf("the daemon is still running after watchdog exited with no descriptor left: %v", p)
		}
		// As PID 1 the sweep's count of what it ended comes from /proc too, and may be 0.
		if e := w.events("sweep"); !mode.pid1 && (len(e) != 1 || e[0].get("complete") != "true") {
			t.Errorf("sweep events %v, want one that says it ended the daemon and was complete", e)
		}
	})
}

// waitReaped waits until pid, which watchdog must reap, is gone: not running, not a zombie.
func waitReaped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for {
		p, err := readProc(pid)
		if err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v not reaped within %v", p, eventTimeout)
		}
		time.Sleep(pollInterval)
	}
}
