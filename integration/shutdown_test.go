package integration

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestGrandchildFinishesCleanupBeforeWatchdogExits(t *testing.T) {
	cases := []struct {
		name string
		// The signal sent to watchdog: the fixture's main process exits 5 on either,
		// its grandchild starts its 1 s cleanup on SIGTERM only.
		signal unix.Signal
	}{
		{"command exits by itself", unix.SIGUSR1},
		{"SIGTERM to watchdog", unix.SIGTERM},
	}
	inEachMode(t, func(t *testing.T, mode runMode) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				w := startWatchdog(t, mode, "--", fixtureBin, "graceful-grandchild", "1s", "5")
				w.waitReport("main ready", 1)
				w.signal(c.signal)
				code := w.waitExit(eventTimeout)
				// Read at once: a grandchild still cleaning up would report later.
				if done := w.reports("grandchild cleaned-up"); len(done) == 0 {
					t.Error("watchdog exited before the grandchild finished cleaning up")
				}
				if code != 5 {
					t.Errorf("watchdog exited %d, want the command's 5", code)
				}
				if killed := w.events("killed"); len(killed) > 0 {
					t.Errorf("something was killed within the grace period: %v", killed[0].fields)
				}
			})
		}
	})
}

func TestCommandIgnoringTermIsKilledWithinShutdownTimeout(t *testing.T) {
	const budget = 2 * time.Second
	inEachMode(t, func(t *testing.T, mode runMode) {
		w := startWatchdog(t, mode, "--shutdown-timeout", budget.String(), "--", fixtureBin, "ignore-term")
		w.waitReport("main ready", 1)
		w.signal(unix.SIGTERM)
		if code := w.waitExit(budget + eventTimeout); code != 128+int(unix.SIGKILL) {
			t.Errorf("watchdog exited %d, want 137: the command was SIGKILLed", code)
		}
		// Times from watchdog's own log, which a busy test machine does not skew.
		begun := w.waitEvent("shutdown_started").time(t)
		killed := w.waitEvent("killed").time(t)
		complete := w.waitEvent("shutdown_complete", "exit_code", 137).time(t)
		// A little before the budget ends, so that reaping and exiting fit in it too.
		if after := killed.Sub(begun); after < budget/2 || after >= budget {
			t.Errorf("SIGKILL came %v into the shutdown, want a little before the %v budget", after, budget)
		}
		// One millisecond more: ts has millisecond precision.
		if took := complete.Sub(begun); took > budget+time.Millisecond {
			t.Errorf("shutdown took %v, more than its %v budget", took, budget)
		}
	})
}

func TestGroupLeftBehindIsStoppedWhenCommandExits(t *testing.T) {
	inEachMode(t, func(t *testing.T, mode runMode) {
		// The fixture leaves a child in its group and exits 4; the child dies of SIGTERM.
		w := startWatchdog(t, mode, "--", fixtureBin, "spawn-group", "4")
		if code := w.waitExit(eventTimeout); code != 4 {
			t.Errorf("watchdog exited %d, want the command's 4", code)
		}
		w.waitReport("grandchild ready", 1)
		w.waitEvent("stopping", "signal", "SIGTERM")
		if killed := w.events("killed"); len(killed) > 0 {
			t.Errorf("the group needed SIGKILL though it obeys SIGTERM: %v", killed[0].fields)
		}
	})
}

func TestSubreaperLeavesNoDescendantRunning(t *testing.T) {
	t.Parallel()
	// The fixture leaves a child in a session of its own, beyond its group's stop
	// signal, and exits 0. As PID 1 the kernel would end it anyway; as a subreaper only
	// watchdog's final sweep does (the harness fails the test on anything left).
	w := startWatchdog(t, asSubreaper, "--", fixtureBin, "daemon")
	w.waitReport("grandchild ready", 1)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d, want the command's 0", code)
	}
}
