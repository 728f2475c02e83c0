package integration

import (
	"fmt"
	"os/exec"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Services crash-looping in a container with little CPU (docker run --cpus 0.1: watchdog and
// its services in a cpu cgroup with a quota of 10ms in every 100ms), where every fork and exec
// is slow: SIGTERM still starts the staged shutdown at once, and watchdog exits within its
// budget. docker stop sends SIGKILL when the budget is gone.
func TestFaultShutdownOfCrashLoopsOnCPUQuota(t *testing.T) {
	// Not parallel: it runs on a starved CPU, and times the shutdown.
	const budget = 3 * time.Second
	cg := newCgroup(t, "cpu")
	w := startWatchdog(t, asPID1, "--config", writeConfig(t, fmt.Sprintf(`
[watchdog]
shutdown_timeout = %q

[services.crash]
command = %s
instances = 50
restart_delay = "100ms"
restart_max_delay = "1s"
`, budget, fixtureCmd("exit", "1"))))
	cg.cpuLimit(10 * time.Millisecond)
	cg.add(w.pid)
	waitEventCount(w, 20, "started")

	sent := time.Now()
	w.signal(unix.SIGTERM)
	exited := false
	select {
	case <-w.exited:
		exited = true
	case <-time.After(budget + time.Second):
	}
	took := time.Since(sent)
	began := "none"
	if e := w.events("shutdown_started"); len(e) > 0 {
		after := e[0].time(t).Sub(sent)
		began = after.String()
		if after > time.Second {
			t.Errorf("shutdown_started %v after SIGTERM, want at once", after)
		}
	} else {
		t.Errorf("no shutdown_started event %v after SIGTERM", took)
	}
	t.Logf("SIGTERM: shutdown_started after %s; watchdog exited: %t, %v after SIGTERM (budget %v)", began, exited, took, budget)
	if !exited {
		t.Fatalf("watchdog still running %v after SIGTERM, with a shutdown budget of %v", took, budget)
	}
	if w.signaled || (w.code != 0 && w.code != 1) {
		t.Errorf("watchdog exited %d after SIGTERM, want 0 or 1", w.code)
	}
}

// The operator's stop of crash-looping services on the same quota: `watchdog stop` answers
// within the control socket's timeout, every copy is stopped soon after however slow each fork
// is, and meanwhile supervision goes on: a SIGTERM a moment after the stop starts the
// shutdown at once.
func TestFaultOperatorStopOfCrashLoopsOnCPUQuota(t *testing.T) {
	// Not parallel: it runs on a starved CPU, and times the answers.
	const copies, budget = 100, 3 * time.Second
	cg := newCgroup(t, "cpu")
	w := startWatchdog(t, asPID1, "--config", writeConfig(t, fmt.Sprintf(`
[watchdog]
shutdown_timeout = %q

[services.crash]
command = %s
instances = %d
restart_delay = "100ms"
restart_max_delay = "1s"
`, budget, fixtureCmd("exit", "1"), copies)))
	socket := controlSocket(w)
	cg.cpuLimit(10 * time.Millisecond)
	cg.add(w.pid)
	waitEventCount(w, 20, "started")

	sent := time.Now()
	res := runClient(t, watchdogBin, nil, "stop", "--socket", socket, "crash")
	answered := time.Since(sent)
	var stopped []statusService
	for deadline := time.Now().Add(eventTimeout); ; {
		snaps, _, err := askStatus(socket, eventTimeout)
		if err != nil {
			t.Fatal(err)
		}
		stopped = slices.DeleteFunc(snaps, func(s statusService) bool { return s.State != "stopped" })
		if len(stopped) == copies || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * pollInterval)
	}
	t.Logf("`watchdog stop crash` answered after %v: %v; %d of %d copies stopped after %v",
		answered.Round(time.Millisecond), res, len(stopped), copies, time.Since(sent).Round(time.Millisecond))
	if res.code != 0 {
		t.Errorf("`watchdog stop crash` of %d crash-looping copies on a CPU quota: %v", copies, res)
	}
	if len(stopped) != copies {
		t.Errorf("%d of %d copies stopped %v after `watchdog stop crash`", len(stopped), copies, eventTimeout)
	}
}

// The same stop, and SIGTERM while the stop is under way: the shutdown starts at once.
func TestFaultSIGTERMDuringOperatorStopOnCPUQuota(t *testing.T) {
	// Not parallel: it runs on a starved CPU, and times the shutdown.
	const copies, budget = 100, 3 * time.Second
	cg := newCgroup(t, "cpu")
	w := startWatchdog(t, asPID1, "--config", writeConfig(t, fmt.Sprintf(`
[watchdog]
shutdown_timeout = %q

[services.crash]
command = %s
instances = %d
restart_delay = "100ms"
restart_max_delay = "1s"
`, budget, fixtureCmd("exit", "1"), copies)))
	socket := controlSocket(w)
	cg.cpuLimit(10 * time.Millisecond)
	cg.add(w.pid)
	waitEventCount(w, 20, "started")

	stop := exec.Command(watchdogBin, "stop", "--socket", socket, "crash")
	if err := stop.Start(); err != nil {
		t.Fatal(err)
	}
	defer stop.Wait() // it ends within the client's timeout
	w.waitEvent("operator_stop", "service", "crash.0")
	sent := time.Now()
	w.signal(unix.SIGTERM)
	select {
	case <-w.exited:
	case <-time.After(budget + time.Second):
	}
	took := time.Since(sent)
	e := w.events("shutdown_started")
	switch {
	case len(e) == 0:
		t.Errorf("no shutdown_started event %v after SIGTERM", took.Round(time.Millisecond))
	case e[0].time(t).Sub(sent) > time.Second:
		t.Errorf("shutdown_started %v after SIGTERM, want at once", e[0].time(t).Sub(sent))
	}
	select {
	case <-w.exited:
	default:
		t.Errorf("watchdog still running %v after SIGTERM, with a shutdown budget of %v", took.Round(time.Millisecond), budget)
	}
}
