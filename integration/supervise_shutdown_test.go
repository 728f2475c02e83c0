package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSuperviseStopGracePeriodThenKill(t *testing.T) {
	t.Parallel()
	w := superviseConfig(t, fmt.Sprintf(`
[services.stubborn]
command = %s
stop_grace_period = "1s"
`, fixtureCmd("ignore-term")))
	w.waitReport("main ready", 1) // SIGTERM is ignored from here on
	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 1 {
		t.Errorf("watchdog exited %d, want 1: a service had to be SIGKILLed", code)
	}
	begun := w.waitEvent("shutdown_started")
	killed := w.waitEvent("killed", "service", "stubborn")
	if d := between(t, begun, killed); d < 900*time.Millisecond || d >= 1600*time.Millisecond {
		t.Errorf("killed %v after shutdown_started, want the 1s stop_grace_period (0.9s to 1.6s)", d)
	}
	w.waitEvent("exited", "service", "stubborn", "signal", "SIGKILL", "exit_code", 137)
	complete := w.waitEvent("shutdown_complete", "exit_code", 1)
	if d := between(t, killed, complete); d >= 500*time.Millisecond {
		t.Errorf("shutdown_complete %v after the kill, want watchdog to end right after it", d)
	}
}

func TestSuperviseDependencyChainStartsInOrderStopsInReverse(t *testing.T) {
	t.Parallel()
	// Declared out of order: the order comes from depends_on alone.
	w := superviseConfig(t, fmt.Sprintf(`
[services.c]
command = %[1]s
depends_on = ["b"]
environment = { FIXTURE_ROLE = "c" }

[services.a]
command = %[1]s
environment = { FIXTURE_ROLE = "a" }

[services.b]
command = %[1]s
depends_on = ["a"]
environment = { FIXTURE_ROLE = "b" }
`, fixtureCmd("sleep")))
	chain := []string{"a", "b", "c"}
	var started []event
	for _, name := range chain {
		started = append(started, w.waitEvent("started", "service", name))
		w.waitReport(name+" ready", 1)
	}
	for i := 1; i < len(chain); i++ {
		if started[i].line < started[i-1].line {
			t.Errorf("%s started before %s, which it depends on", chain[i], chain[i-1])
		}
	}

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0: every service stopped within its grace period", code)
	}
	exited := make(map[string]event)
	for _, name := range chain {
		exited[name] = w.waitEvent("exited", "service", name, "signal", "SIGTERM")
	}
	// Each service is told to stop only once its dependents have exited.
	for i := 0; i+1 < len(chain); i++ {
		dep, dependent := chain[i], chain[i+1]
		stopping := w.waitEvent("stopping", "service", dep)
		if stopping.line < exited[dependent].line {
			t.Errorf("%s was stopped before %s, which depends on it, had exited", dep, dependent)
		}
	}
	w.waitEvent("shutdown_complete", "exit_code", 0)
}

func TestSuperviseFailedOneshotKeepsDependentsDown(t *testing.T) {
	t.Parallel()
	services := fmt.Sprintf(`
[services.migrate]
command = %s
oneshot = true

[services.web]
command = %[2]s
depends_on = ["migrate"]
environment = { FIXTURE_ROLE = "web" }

[services.worker]
command = %[2]s
depends_on = ["web"]
environment = { FIXTURE_ROLE = "worker" }
`, fixtureCmd("exit", "1"), fixtureCmd("sleep"))

	noDependentStarted := func(t *testing.T, w *watchdogRun) {
		t.Helper()
		for _, name := range []string{"web", "worker"} {
			if started := w.events("started", "service", name); len(started) > 0 {
				t.Errorf("%s started though migrate failed: %v", name, started[0].fields)
			}
			if ready := w.reports(name + " ready"); len(ready) > 0 {
				t.Errorf("%s ran: %q", name, ready)
			}
		}
	}

	// With another service running, watchdog stays up and status shows why they wait.
	t.Run("beside a running service", func(t *testing.T) {
		t.Parallel()
		w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q
%s
[services.steady]
command = %s
`, filepath.Join(t.TempDir(), "watchdog.sock"), services, fixtureCmd("sleep")))
		w.waitEvent("failed", "service", "migrate")
		w.waitEvent("started", "service", "steady")
		res, lines := status(t, controlSocket(w))
		if res.code != 3 {
			t.Errorf("`watchdog status` with services that cannot start: %v, want exit 3", res)
		}
		wantStatusLine(t, res, lines, "migrate", "DOWN", "failed", "exit 1")
		wantStatusLine(t, res, lines, "web", "DOWN", "waiting", "migrate")
		wantStatusLine(t, res, lines, "worker", "DOWN", "waiting", "web")
		wantStatusLine(t, res, lines, "steady", "UP")

		w.signal(unix.SIGTERM)
		if code := w.waitExit(eventTimeout); code != 0 {
			t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
		}
		w.waitEvent("shutdown_complete") // the log is whole
		noDependentStarted(t, w)
	})

	// With nothing else to run, every service has finished: watchdog ends with the
	// failure's code.
	t.Run("alone", func(t *testing.T) {
		t.Parallel()
		w := superviseConfig(t, services)
		if code := w.waitExit(eventTimeout); code != 1 {
			t.Errorf("watchdog exited %d, want migrate's 1", code)
		}
		w.waitEvent("failed", "service", "migrate")
		w.waitEvent("shutdown_complete", "exit_code", 1)
		noDependentStarted(t, w)
	})
}

func TestSuperviseCriticalFailureEndsWatchdogWithItsCode(t *testing.T) {
	t.Parallel()
	// core starts once the others run, and fails for good at once.
	w := superviseConfig(t, fmt.Sprintf(`
[services.web]
command = %[1]s
environment = { FIXTURE_ROLE = "web" }

[services.worker]
command = %[1]s
environment = { FIXTURE_ROLE = "worker" }

[services.core]
command = %[2]s
critical = true
restart = "no"
depends_on = ["web", "worker"]
`, fixtureCmd("sleep"), fixtureCmd("exit", "7")))
	if code := w.waitExit(eventTimeout); code != 7 {
		t.Errorf("watchdog exited %d, want the critical service's 7", code)
	}
	failed := w.waitEvent("failed", "service", "core")
	begun := w.waitEvent("shutdown_started")
	if begun.line < failed.line {
		t.Error("the shutdown began before core failed")
	}
	for _, name := range []string{"web", "worker"} {
		exited := w.waitEvent("exited", "service", name)
		if exited.get("signal") != "SIGTERM" {
			t.Errorf("%s did not end by SIGTERM: %v", name, exited.fields)
		}
	}
	if killed := w.events("killed"); len(killed) > 0 {
		t.Errorf("a service was SIGKILLed: %v", killed[0].fields)
	}
	w.waitEvent("shutdown_complete", "exit_code", 7)
}

func TestSuperviseShutdownOfManyServicesIsQuick(t *testing.T) {
	t.Parallel()
	const n = 20
	var config strings.Builder
	for i := range n {
		fmt.Fprintf(&config, "[services.s%02d]\ncommand = %s\n\n", i, fixtureCmd("sleep"))
	}
	w := superviseConfig(t, config.String())
	waitEventCount(w, n, "started")
	w.waitReport("main ready", n)
	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
	begun := w.waitEvent("shutdown_started")
	complete := w.waitEvent("shutdown_complete", "exit_code", 0)
	if d := between(t, begun, complete); d >= time.Second {
		t.Errorf("the shutdown of %d services that stop at once took %v, want well under a second", n, d)
	}
	if exited := w.events("exited", "signal", "SIGTERM"); len(exited) != n {
		t.Errorf("%d services exited by SIGTERM, want %d", len(exited), n)
	}
	if left := w.leftovers(); len(left) > 0 {
		t.Errorf("still running after watchdog exited: %v", left)
	}
}

// `watchdog --config FILE -- CMD`: CMD is the main service beside the file's services, and its
// exit ends watchdog with its code once the others are stopped.
func TestSuperviseMainCommandBesideConfigServices(t *testing.T) {
	t.Parallel()
	// graceful-grandchild exits with the code given on SIGUSR1; signals exits 0 on SIGTERM.
	w := superviseConfig(t, fmt.Sprintf(`
[services.side1]
command = %[1]s
environment = { FIXTURE_ROLE = "side1" }

[services.side2]
command = %[1]s
environment = { FIXTURE_ROLE = "side2" }
`, fixtureCmd("signals")), "--", fixtureBin, "graceful-grandchild", "0s", "5")
	for _, role := range []string{"side1", "side2", "main"} {
		w.waitReport(role+" ready", 1)
	}
	started := w.waitEvent("started", "service", "main")
	if err := unix.Kill(hostPID(w, eventPID(t, started)), unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if code := w.waitExit(eventTimeout); code != 5 {
		t.Errorf("watchdog exited %d, want the command's 5", code)
	}
	w.waitEvent("exited", "service", "main", "exit_code", 5)
	for _, name := range []string{"side1", "side2"} {
		w.waitReport(reportedSignal(name, unix.SIGTERM), 1)
		w.waitEvent("exited", "service", name, "exit_code", 0)
	}
	if killed := w.events("killed"); len(killed) > 0 {
		t.Errorf("a service was SIGKILLed: %v", killed[0].fields)
	}
	w.waitEvent("shutdown_complete", "exit_code", 5)
}

// Once the staged shutdown has begun nothing starts again: here a dependency that dies while
// its dependent takes its grace period to stop, before its own stop is due.
func TestSuperviseNoRestartDuringShutdown(t *testing.T) {
	t.Parallel()
	w := superviseConfig(t, fmt.Sprintf(`
[services.dep]
command = %s
environment = { FIXTURE_ROLE = "dep" }
restart = "always"
restart_delay = "50ms"

[services.slow]
command = %s
environment = { FIXTURE_ROLE = "slow" }
depends_on = ["dep"]
stop_grace_period = "1s"
`, fixtureCmd("sleep"), fixtureCmd("ignore-term")))
	w.waitReport("dep ready", 1)
	w.waitReport("slow ready", 1)
	dep := w.waitEvent("started", "service", "dep")
	w.signal(unix.SIGTERM)
	begun := w.waitEvent("shutdown_started")
	w.waitEvent("stopping", "service", "slow")
	if err := unix.Kill(hostPID(w, eventPID(t, dep)), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := w.waitExit(eventTimeout); code != 1 {
		t.Errorf("watchdog exited %d, want 1: slow had to be SIGKILLed", code)
	}
	w.waitEvent("exited", "service", "dep", "pid", dep.get("pid"), "signal", "SIGKILL")
	w.waitEvent("killed", "service", "slow")
	w.waitEvent("shutdown_complete", "exit_code", 1)
	for _, started := range w.events("started") {
		if started.line > begun.line {
			t.Errorf("a service started during the shutdown: %v", started.fields)
		}
	}
}
