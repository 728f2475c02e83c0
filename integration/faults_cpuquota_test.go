package integration

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Services crash-looping in a container with little CPU (docker run --cpus 0.1: watchdog and
// its services in a cpu cgroup with a quota of 10ms in every 100ms), where every fork and exec
// is slow: SIGTERM still starts the staged shutdown at once, and watchdog exits within its
// budget. docker stop sends SIGKILL when the budget is gone.
func TestFaultShutdownOfCrashLoopsOnCPUQuota(t *testing.T) {
	t.Parallel()
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
