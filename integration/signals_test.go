package integration

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// forwardedSignals are the catchable signals DESIGN.md has watchdog pass on in `--` mode, with
// the names its log gives them (real-time signals counted from glibc's SIGRTMIN, 34). SIGTERM
// and SIGINT are forwarded too but also start the shutdown; SIGPIPE is watchdog's own. SIGPROF
// is left out: the Go runtime keeps it for its profiler and never hands it to os/signal, in
// watchdog as in the fixture.
var forwardedSignals = []struct {
	sig  unix.Signal
	name string
}{
	{unix.SIGHUP, "SIGHUP"}, {unix.SIGQUIT, "SIGQUIT"}, {unix.SIGUSR1, "SIGUSR1"},
	{unix.SIGUSR2, "SIGUSR2"}, {unix.SIGALRM, "SIGALRM"}, {unix.SIGSTKFLT, "SIGSTKFLT"},
	{unix.SIGCONT, "SIGCONT"}, {unix.SIGTSTP, "SIGTSTP"}, {unix.SIGTTIN, "SIGTTIN"},
	{unix.SIGTTOU, "SIGTTOU"}, {unix.SIGXCPU, "SIGXCPU"}, {unix.SIGXFSZ, "SIGXFSZ"},
	{unix.SIGVTALRM, "SIGVTALRM"}, {unix.SIGWINCH, "SIGWINCH"},
	{unix.SIGIO, "SIGIO"}, {unix.SIGPWR, "SIGPWR"},
	{35, "SIGRTMIN+1"}, {50, "SIGRTMAX-14"}, {64, "SIGRTMAX"},
}

// reportedSignal is the fixture's report of sig received by role ("main" or "grandchild").
func reportedSignal(role string, sig unix.Signal) string {
	return fmt.Sprintf("%s signal %d", role, int(sig))
}

func TestSignalsReachCommandAndItsGroup(t *testing.T) {
	inEachMode(t, func(t *testing.T, mode runMode) {
		w := startWatchdog(t, mode, "--shutdown-timeout", "60s", "--", fixtureBin, "grandchild-signals")
		w.waitReport("main ready", 1) // the grandchild is ready before the main process
		started := w.waitEvent("started")

		// Never forwarded (invariant 5). The round trips of the signals below prove
		// that anything forwarded before them would have been reported.
		w.signal(unix.SIGURG)
		w.signal(unix.SIGCHLD)

		for _, s := range forwardedSignals {
			w.signal(s.sig)
			w.waitReport(reportedSignal("main", s.sig), 1)
			w.waitReport(reportedSignal("grandchild", s.sig), 1)
			w.waitEvent("signal_forwarded", "signal", s.name)
		}

		// SIGINT is forwarded and starts the shutdown clock, but is not a stop signal:
		// the command keeps running until it decides, or the budget runs out.
		w.signal(unix.SIGINT)
		w.waitReport(reportedSignal("main", unix.SIGINT), 1)
		w.waitReport(reportedSignal("grandchild", unix.SIGINT), 1)
		w.waitEvent("shutdown_started")
		// As the received signal is also the shutdown's stop signal, "stopping" may be
		// the event that records it.
		w.waitAnyEvent([]string{"signal_forwarded", "stopping"}, "signal", "SIGINT")
		w.signal(unix.SIGWINCH)
		w.waitReport(reportedSignal("grandchild", unix.SIGWINCH), 2)
		if term := w.reports(reportedSignal("main", unix.SIGTERM)); len(term) > 0 {
			t.Errorf("the command got SIGTERM after SIGINT though nobody sent one: %q", term)
		}

		// The fixture exits 0 on SIGTERM.
		w.signal(unix.SIGTERM)
		w.waitReport(reportedSignal("main", unix.SIGTERM), 1)
		w.waitReport(reportedSignal("grandchild", unix.SIGTERM), 1)
		if code := w.waitExit(eventTimeout); code != 0 {
			t.Errorf("watchdog exited %d, want the command's 0", code)
		}
		w.waitEvent("exited", "pid", started.get("pid"), "exit_code", 0)
		w.waitEvent("shutdown_complete", "exit_code", 0)

		for _, role := range []string{"main", "grandchild"} {
			if urg := w.reports(reportedSignal(role, unix.SIGURG)); len(urg) > 0 {
				t.Errorf("SIGURG was forwarded: %q", urg)
			}
		}
		// Only the grandchild: the main process gets its own SIGCHLDs.
		if chld := w.reports(reportedSignal("grandchild", unix.SIGCHLD)); len(chld) > 0 {
			t.Errorf("SIGCHLD was forwarded: %q", chld)
		}
		for _, name := range []string{"SIGURG", "SIGCHLD"} {
			if forwarded := w.events("signal_forwarded", "signal", name); len(forwarded) > 0 {
				t.Errorf("watchdog logged forwarding %s: %v", name, forwarded[0].fields)
			}
		}
	})
}

func TestInterruptStartsShutdownClockThenKill(t *testing.T) {
	const budget = 2 * time.Second
	inEachMode(t, func(t *testing.T, mode runMode) {
		w := startWatchdog(t, mode, "--shutdown-timeout", budget.String(), "--", fixtureBin, "signals")
		w.waitReport("main ready", 1)
		w.signal(unix.SIGINT)
		w.waitReport(reportedSignal("main", unix.SIGINT), 1) // and the fixture runs on
		if code := w.waitExit(budget + eventTimeout); code != 128+int(unix.SIGKILL) {
			t.Errorf("watchdog exited %d, want 137: the command was SIGKILLed", code)
		}
		w.waitEvent("shutdown_started")
		w.waitEvent("killed")
	})
}
