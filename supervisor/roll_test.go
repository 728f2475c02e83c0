package supervisor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rollingTOML runs three copies of a service that is ready 300 ms after it starts (its
// healthcheck finds its file) and not ready once told to stop.
const rollingTOML = `
[services.web]
command = ["/bin/sh", "-c", 'f=$DIR/ready-$WATCHDOG_INSTANCE; trap "rm -f $f; exit 0" TERM; /bin/sleep 0.3; : > $f; while :; do /bin/sleep 0.05; done']
instances = 3
stop_grace_period = "2s"

[services.web.healthcheck]
command = ["/bin/sh", "-c", 'test -f $DIR/ready-$WATCHDOG_INSTANCE']
interval = "50ms"
retries = 1
start_period = "5s"
`

// readyCopies counts the copies of web that are ready now.
func readyCopies(h *harness) int {
	n := 0
	for _, s := range h.sup.Status() {
		if s.Ready {
			n++
		}
	}
	return n
}

// TestRollingRestartKeepsCopiesReady: a rolling restart of three copies restarts each (new
// pids) one at a time, so that at least two are ready all along.
func TestRollingRestartKeepsCopiesReady(t *testing.T) {
	h, _ := run(t, rollingTOML)
	h.until("three ready copies", func() bool { return readyCopies(h) == 3 })
	before := map[string]int{}
	for _, s := range h.sup.Status() {
		before[s.Name] = s.Pid
	}
	if err := h.sup.Control("rolling-restart", []string{"web"}); err != nil {
		t.Fatal(err)
	}
	fewest := 3
	h.until("the roll to complete", func() bool {
		fewest = min(fewest, readyCopies(h))
		return len(h.events("rolling_restart_complete", "")) == 1
	})
	if fewest < 2 {
		t.Errorf("%d copies were ready at one point of the roll, want at least 2", fewest)
	}
	for _, s := range h.sup.Status() {
		if s.Pid == before[s.Name] || !s.Ready {
			t.Errorf("%s after the roll: pid %d (before %d), ready %t; want a new, ready run", s.Name, s.Pid, before[s.Name], s.Ready)
		}
	}
	if steps := h.logs.FilterMessage("rolling_restart_step").Len(); steps != 3 {
		t.Errorf("%d roll steps, want 3", steps)
	}
}

// TestRollingRestartStopsAtACopyThatFails: a copy that does not come back stops the roll and
// the copies after it are left running as they were.
func TestRollingRestartStopsAtACopyThatFails(t *testing.T) {
	h, dir := run(t, strings.Replace(rollingTOML, `trap "rm -f $f; exit 0" TERM;`,
		`trap "rm -f $f; exit 0" TERM; test -f $DIR/broken && exit 1;`, 1))
	h.until("three ready copies", func() bool { return readyCopies(h) == 3 })
	before := map[string]int{}
	for _, s := range h.sup.Status() {
		before[s.Name] = s.Pid
	}
	// From now on every new run exits at once: the first restarted copy cannot come back.
	if err := os.WriteFile(filepath.Join(dir, "broken"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.sup.Control("rolling-restart", []string{"web"}); err != nil {
		t.Fatal(err)
	}
	h.until("the roll to fail", func() bool { return h.logs.FilterMessage("rolling_restart_failed").Len() == 1 })
	for _, name := range []string{"web.1", "web.2"} {
		if s := h.snap(name); s.Pid != before[name] || !s.Ready {
			t.Errorf("%s after the failed roll: pid %d (before %d), ready %t; want it untouched", name, s.Pid, before[name], s.Ready)
		}
	}
	if steps := h.logs.FilterMessage("rolling_restart_step").Len(); steps != 1 {
		t.Errorf("%d roll steps, want 1", steps)
	}
}
