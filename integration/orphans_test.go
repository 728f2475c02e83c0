package integration

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// The promise: no zombie left a second after the last orphan is created.
	reapedWithin = time.Second
	// Forking thousands of processes takes seconds on a busy machine.
	createTimeout = time.Minute
)

func TestOrphansAreReapedWhileCommandRuns(t *testing.T) {
	const orphans = 2000
	inEachMode(t, func(t *testing.T, mode runMode) {
		// Debug level logs each orphan reaped: proof that watchdog, not the test
		// process above it, reaped them.
		w := startWatchdog(t, mode, "--log-level", "debug", "--", fixtureBin, "orphans", strconv.Itoa(orphans))
		w.waitReportWithin(createTimeout, "main orphans-created", 1)
		waitOrphansReaped(t, w.pid)

		// The fixture dies of SIGTERM's default action.
		w.signal(unix.SIGTERM)
		if code := w.waitExit(eventTimeout); code != 128+int(unix.SIGTERM) {
			t.Errorf("watchdog exited %d, want 143", code)
		}
		// Counted once the whole log is read.
		if !w.stdout.waitClosed(eventTimeout) {
			t.Fatalf("watchdog's stdout still open %v after it exited", eventTimeout)
		}
		if reaped := w.events("orphan_reaped"); len(reaped) != orphans {
			t.Errorf("watchdog logged %d orphan_reaped events, want %d", len(reaped), orphans)
		}
	})
}

// A stalled log driver must cost log lines, never reaping or shutdown (invariant 3).
func TestReapingAndShutdownDoNotWaitForStalledStdout(t *testing.T) {
	const orphans = 500 // their orphan_reaped lines are ten times what the pipe holds
	inEachMode(t, func(t *testing.T, mode runMode) {
		w := startWithStalledStdout(t, mode, "--log-level", "debug", "--", fixtureBin, "orphans", strconv.Itoa(orphans))
		w.waitReportWithin(createTimeout, "main orphans-created", 1)
		waitOrphansReaped(t, w.pid)
		w.signal(unix.SIGTERM)
		if code := w.waitExit(eventTimeout); code != 128+int(unix.SIGTERM) {
			t.Errorf("watchdog exited %d, want 143", code)
		}
		// Whatever reached the pipe must be whole JSON lines: teardown checks them.
		w.resumeStdout()
	})
}

// waitOrphansReaped fails the test unless, within reapedWithin of the fixture's report that
// it created its last orphan, watchdog has no children left but the command.
func waitOrphansReaped(t *testing.T, watchdog int) {
	t.Helper()
	created := time.Now()
	for {
		left := orphansOf(watchdog)
		if len(left) == 0 {
			return
		}
		if time.Since(created) > reapedWithin {
			t.Fatalf("%d orphans below watchdog %v after the last was created, %d of them zombies; first: %v",
				len(left), reapedWithin, countZombies(left), left[0])
		}
		time.Sleep(pollInterval)
	}
}

// orphansOf returns watchdog's children other than the command: the orphans still alive
// (their command line is the fixture's orphan-batch, whose forks they are) and the zombies.
func orphansOf(watchdog int) []proc {
	var orphans []proc
	for _, child := range childrenOf(allProcs(), watchdog) {
		if child.zombie() || strings.Contains(child.cmdline, "orphan-batch") {
			orphans = append(orphans, child)
		}
	}
	return orphans
}

func countZombies(procs []proc) int {
	n := 0
	for _, p := range procs {
		if p.zombie() {
			n++
		}
	}
	return n
}
