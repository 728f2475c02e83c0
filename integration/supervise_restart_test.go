package integration

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSuperviseCrashLoopBacksOffThenFails(t *testing.T) {
	t.Parallel()
	const firstDelay = 100 * time.Millisecond
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q

[services.crash]
command = %s
restart = "on-failure"
max_restarts = 3
restart_delay = %q

# Keeps watchdog running once crash has failed.
[services.steady]
command = %s
`, filepath.Join(t.TempDir(), "watchdog.sock"), fixtureCmd("exit", "1"), firstDelay, fixtureCmd("sleep")))

	failed := w.waitEvent("failed", "service", "crash")
	started := w.events("started", "service", "crash")
	if len(started) != 4 {
		t.Fatalf("crash started %d times before it failed, want 4 (the first run and 3 restarts)", len(started))
	}
	if last := started[len(started)-1]; last.line > failed.line {
		t.Errorf("crash started again after it failed: %v", last.fields)
	}
	restarting := w.events("restarting", "service", "crash")
	if len(restarting) != 3 {
		t.Fatalf("%d restarting events for crash, want 3", len(restarting))
	}
	// The backoff doubles from restart_delay with up to ±10% jitter: the time crash stays
	// down, from each exit to the next start, is at least 90%, 180%, 360% of it, and grows.
	// (The gaps between starts add the runs themselves, whose length depends on the load.)
	exited := w.events("exited", "service", "crash")
	if len(exited) != 4 {
		t.Fatalf("crash exited %d times before it failed, want 4", len(exited))
	}
	var lastDown time.Duration
	for i := range 3 {
		down := between(t, exited[i], started[i+1])
		// Timestamps have milliseconds; a millisecond of rounding is allowed.
		if least := firstDelay * 9 / 10 << i; down < least-time.Millisecond {
			t.Errorf("restart %d came %v after the exit, want at least %v", i+1, down, least)
		}
		if i > 0 && down <= lastDown {
			t.Errorf("restart %d came %v after the exit, after %v for the one before: the backoff did not grow",
				i+1, down, lastDown)
		}
		lastDown = down
	}
	for i, r := range restarting {
		if r.line < exited[i].line || r.line > started[i+1].line {
			t.Errorf("restarting event %v is not between exit %d and the next start", r.fields, i+1)
		}
	}

	res, lines := status(t, controlSocket(w))
	if res.code != 3 {
		t.Errorf("`watchdog status` with a failed service: %v, want exit 3", res)
	}
	wantStatusLine(t, res, lines, "crash", "DOWN", "restarts 3", "failed", "exit 1")
	wantStatusLine(t, res, lines, "steady", "UP")

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0: steady stopped within its grace period", code)
	}
	if started := w.events("started", "service", "crash"); len(started) != 4 {
		t.Errorf("crash started %d times in all, want 4", len(started))
	}
}

func TestSuperviseRestartAlwaysAndNo(t *testing.T) {
	t.Parallel()
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q

[services.always]
command = %s
restart = "always"

[services.never]
command = %s
restart = "no"

[services.steady]
command = %s
`, filepath.Join(t.TempDir(), "watchdog.sock"), fixtureCmd("exit", "0"), fixtureCmd("exit", "0"), fixtureCmd("sleep")))

	neverExited := w.waitEvent("exited", "service", "never", "exit_code", 0)
	// always goes on being restarted after never has ended: watchdog runs on.
	again := waitEventAfter(w, neverExited, "started", "service", "always")
	waitEventAfter(w, again, "started", "service", "always")
	if restarts := w.events("restarting", "service", "always"); len(restarts) == 0 {
		t.Error("no restarting event for always")
	}

	res, lines := status(t, controlSocket(w))
	wantStatusLine(t, res, lines, "never", "DOWN", "restarts 0", "exited", "exit 0")
	wantStatusLine(t, res, lines, "steady", "UP")

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
	w.waitEvent("shutdown_complete")
	if started := w.events("started", "service", "never"); len(started) != 1 {
		t.Errorf("never started %d times, want once", len(started))
	}
	for _, msg := range []string{"restarting", "failed"} {
		if found := w.events(msg, "service", "never"); len(found) > 0 {
			t.Errorf("restart \"no\" after exit 0: %v", found[0].fields)
		}
	}
}

// A command that exits 0 at once under restart "always" must not be restarted in a storm:
// restart_delay is the least wait, as it is after a failure.
func TestSuperviseRestartAlwaysWaitsRestartDelayAfterCleanExit(t *testing.T) {
	t.Parallel()
	const delay = 300 * time.Millisecond
	w := superviseConfig(t, fmt.Sprintf(`
[services.clean]
command = %s
restart = "always"
restart_delay = %q
max_restarts = 3

[services.steady]
command = %s
`, fixtureCmd("exit", "0"), delay, fixtureCmd("sleep")))

	started := waitEventCount(w, 3, "started", "service", "clean")
	exited := w.events("exited", "service", "clean")
	for i := range 2 {
		// restart_delay less its 10% jitter and a millisecond of rounding.
		if wait := between(t, exited[i], started[i+1]); wait < delay*9/10-time.Millisecond {
			t.Errorf("clean exited 0 and was started again %v later, want at least restart_delay %v less jitter", wait, delay)
		}
	}
	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
}

// DESIGN.md invariant 4: what a service's main process leaves in its process group is stopped
// before the service starts again. fixture spawn-group leaves a sleeping child in its group.
func TestSuperviseLeftoverInGroupIsGoneBeforeRestart(t *testing.T) {
	config := func(stop string) string {
		return fmt.Sprintf(`
[services.leaky]
command = %s
restart = "on-failure"
max_restarts = 1
restart_delay = "100ms"
%s

[services.steady]
command = %s
environment = { FIXTURE_ROLE = "steady" }
`, fixtureCmd("spawn-group", "1"), stop, fixtureCmd("sleep"))
	}

	// The leftover dies of the stop signal (SIGTERM). It may be gone before the test could
	// look it up, so its pid is checked in watchdog's own PID namespace.
	t.Run("stop signal", func(t *testing.T) {
		inEachMode(t, func(t *testing.T, mode runMode) {
			w := startWatchdog(t, mode, "--config", writeConfig(t, config("")))
			child := reportPID(t, w.waitReport("grandchild ready", 1)[0])
			restarted := waitEventCount(w, 2, "started", "service", "leaky")[1]
			if existsInNamespace(w, child) {
				t.Errorf("the first run's leftover child (pid %d) is still there after leaky started again: %v",
					child, restarted.fields)
			}
			if !mode.pid1 {
				if err := unix.Kill(child, 0); err != unix.ESRCH {
					t.Errorf("kill(%d, 0) after the restart: %v, want ESRCH", child, err)
				}
			}
			w.waitEvent("failed", "service", "leaky")
			w.signal(unix.SIGTERM)
			if code := w.waitExit(eventTimeout); code != 0 {
				t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
			}
		})
	})

	// The leftover ignores the stop signal (SIGWINCH), so it lingers for the grace period,
	// long enough to be found from outside, and the restart waits for its SIGKILL.
	t.Run("SIGKILL after grace", func(t *testing.T) {
		inEachMode(t, func(t *testing.T, mode runMode) {
			w := startWatchdog(t, mode, "--config", writeConfig(t, config(`stop_signal = "SIGWINCH"
stop_grace_period = "1s"`)))
			child := hostPID(w, reportPID(t, w.waitReport("grandchild ready", 1)[0]))
			restarted := waitEventCount(w, 2, "started", "service", "leaky")[1]
			if err := unix.Kill(child, 0); err != unix.ESRCH {
				t.Errorf("kill(%d, 0) after leaky started again: %v, want ESRCH", child, err)
			}
			exited := w.waitEvent("exited", "service", "leaky", "exit_code", 1)
			killed := w.waitEvent("killed", "service", "leaky")
			if killed.line > restarted.line {
				t.Errorf("leaky started again before its leftover was killed: %v", restarted.fields)
			}
			if d := between(t, exited, killed); d < 900*time.Millisecond {
				t.Errorf("the leftover was killed %v after its parent exited, want the 1s grace period", d)
			}
			w.waitEvent("failed", "service", "leaky")
			w.signal(unix.SIGTERM)
			if code := w.waitExit(eventTimeout); code != 0 {
				t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
			}
		})
	})
}
