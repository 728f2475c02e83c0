package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

func TestOnFailureGivesUpAfterMaxRestarts(t *testing.T) {
	h, _ := run(t, `
[services.crash]
command = ["/bin/sh", "-c", "exit 1"]
restart = "on-failure"
max_restarts = 2
restart_delay = "10ms"
`)
	// Failed is the only service's end: watchdog ends by itself with the failure's code.
	if code := h.exitCode(); code != 1 {
		t.Errorf("Run = %d, want 1 (the code of the first failure)", code)
	}
	started := h.events("started", "crash")
	if len(started) != 3 {
		t.Fatalf("started %d times, want 3 (the first run and max_restarts = 2)", len(started))
	}
	pids := map[int]bool{}
	for _, e := range started {
		pids[pidOf(e)] = true
	}
	if len(pids) != 3 {
		t.Errorf("three starts had %d distinct pids", len(pids))
	}
	restarting := h.events("restarting", "crash")
	if len(restarting) != 2 {
		t.Fatalf("%d restarting events, want 2", len(restarting))
	}
	// Each restart waited for its backoff: 10ms, then 20ms, each within ±10%.
	for i, e := range restarting {
		delay, _ := e.ContextMap()["delay"].(time.Duration)
		first := 10 * time.Millisecond << i
		if delay < first*9/10 || delay > first*11/10 {
			t.Errorf("restart %d: delay %v, want %v ±10%%", i+1, delay, first)
		}
		if waited := started[i+1].Time.Sub(e.Time); waited < delay {
			t.Errorf("restart %d started %v after the restarting event, before its delay %v", i+1, waited, delay)
		}
	}
	h.inOrder(event{"started", "crash"}, event{"exited", "crash"}, event{"restarting", "crash"},
		event{"started", "crash"}, event{"exited", "crash"}, event{"restarting", "crash"},
		event{"started", "crash"}, event{"exited", "crash"}, event{"failed", "crash"})
	s := h.snap("crash")
	if s.State != Failed || s.Restarts != 2 || s.LastExit == nil || s.LastExit.Code != 1 {
		t.Errorf("snapshot %+v, want Failed after 2 restarts, last exit 1", s)
	}
	if want := "restarted 2 times within 1m0s"; s.Reason != want {
		t.Errorf("reason %q, want %q", s.Reason, want)
	}
	if failed := h.events("failed", "crash"); len(failed) != 1 || failed[0].ContextMap()["reason"] != s.Reason {
		t.Errorf("want one failed event with the reason of the status, got %v", failed)
	}
}

func TestAlwaysRestartsSuccessfulExit(t *testing.T) {
	h, _ := run(t, `
[services.tick]
command = ["/bin/true"]
restart = "always"
restart_delay = "10ms"
`)
	h.until("tick started three times", func() bool { return len(h.events("started", "tick")) >= 3 })
	if s := h.snap("tick"); s.Restarts < 2 || (s.LastExit != nil && s.LastExit.Code != 0) {
		t.Errorf("snapshot %+v, want at least 2 restarts after exit 0", s)
	}
	if code := h.terminate(); code != 0 {
		t.Errorf("Run = %d after SIGTERM, want 0", code)
	}
}

// TestAlwaysRestartOfSuccessfulExitWaits: restart = "always" on a service that exits 0 at
// once must still wait restart_delay between runs (DESIGN.md: restart_delay is the first
// backoff; "the capped backoff alone contains a crash loop"), not respawn it as fast as fork
// allows, as docker's and Kubernetes' "always" do not either.
func TestAlwaysRestartOfSuccessfulExitWaits(t *testing.T) {
	h, _ := run(t, `
[services.tick]
command = ["/bin/true"]
restart = "always"
restart_delay = "100ms"
`)
	h.until("tick started three times", func() bool { return len(h.events("started", "tick")) >= 3 })
	h.terminate()
	exited, started := h.events("exited", "tick"), h.events("started", "tick")
	for i := 0; i+1 < len(started) && i < len(exited); i++ {
		if gap := started[i+1].Time.Sub(exited[i].Time); gap < 90*time.Millisecond {
			t.Errorf("run %d started %v after run %d exited 0, want at least restart_delay 100ms -10%%",
				i+2, gap, i+1)
		}
	}
	if t.Failed() {
		t.Logf("%d starts of a service that exits 0 at once", len(started))
	}
}

func TestRestartNo(t *testing.T) {
	h, _ := run(t, `
[services.ok]
command = ["/bin/true"]
restart = "no"

[services.bad]
command = ["/bin/sh", "-c", "exit 3"]
restart = "no"
`)
	// Nothing is left to restart: watchdog ends by itself with the first failure's code.
	if code := h.exitCode(); code != 3 {
		t.Errorf("Run = %d, want 3", code)
	}
	if s := h.snap("ok"); s.State != Exited || s.LastExit == nil || s.LastExit.Code != 0 || s.Restarts != 0 {
		t.Errorf("ok: %+v, want Exited with code 0, no restart", s)
	}
	if s := h.snap("bad"); s.State != Failed || s.LastExit == nil || s.LastExit.Code != 3 || s.Restarts != 0 {
		t.Errorf("bad: %+v, want Failed with code 3, no restart", s)
	} else if want := `exited with code 3, restart "no"`; s.Reason != want {
		t.Errorf("bad: reason %q, want %q", s.Reason, want)
	}
	for _, name := range []string{"ok", "bad"} {
		if n := len(h.events("started", name)); n != 1 {
			t.Errorf("%s started %d times, want once", name, n)
		}
	}
}

func TestOneshotCompletesBeforeDependentStarts(t *testing.T) {
	h, _ := run(t, `
[services.migrate]
command = ["/bin/sh", "-c", "/bin/sleep 0.3"]
oneshot = true

[services.web]
command = ["/bin/sleep", "100"]
depends_on = ["migrate"]
`)
	// While the oneshot runs its dependent waits for it, visibly.
	m := h.inState("migrate", Starting)
	if w := h.snap("web"); w.State == Waiting && w.Reason != "waiting for migrate" {
		t.Errorf("web waits with reason %q, want %q", w.Reason, "waiting for migrate")
	}
	w := h.inState("web", Running)
	done := h.snap("migrate")
	if done.State != Completed || done.LastExit == nil || done.LastExit.Code != 0 || !done.AsWanted() {
		t.Errorf("migrate: %+v, want Completed with exit 0", done)
	}
	h.inOrder(event{"started", "migrate"}, event{"exited", "migrate"}, event{"started", "web"})
	if exited := h.events("exited", "migrate"); len(exited) == 1 && w.StartedAt.Before(exited[0].Time) {
		t.Errorf("web started at %v, before migrate exited at %v", w.StartedAt, exited[0].Time)
	}
	if w.StartedAt.Before(m.StartedAt.Add(300 * time.Millisecond)) {
		t.Errorf("web started %v after migrate, which runs 300ms", w.StartedAt.Sub(m.StartedAt))
	}
	if n := len(h.events("started", "migrate")); n != 1 {
		t.Errorf("migrate started %d times, want once", n)
	}
	if code := h.terminate(); code != 0 {
		t.Errorf("Run = %d after SIGTERM, want 0", code)
	}
	if s := h.snap("migrate"); s.State != Completed {
		t.Errorf("migrate is %s after shutdown, want still completed", s.State)
	}
}

func TestFailedOneshotKeepsDependentDown(t *testing.T) {
	h, _ := run(t, `
[services.migrate]
command = ["/bin/sh", "-c", "/bin/sleep 0.2; exit 3"]
oneshot = true

[services.web]
command = ["/bin/sleep", "100"]
depends_on = ["migrate"]

[services.other]
command = ["/bin/sleep", "100"]
`)
	m := h.inState("migrate", Failed)
	if m.LastExit == nil || m.LastExit.Code != 3 {
		t.Errorf("migrate: %+v, want last exit 3", m)
	}
	var w Snapshot
	h.until("web's status says why it waits", func() bool {
		w = h.snap("web")
		return w.Reason != "waiting for migrate"
	})
	if w.State != Waiting || w.Reason != "dependency migrate is down for good" {
		t.Errorf("web: state %s, reason %q; want waiting, %q", w.State, w.Reason, "dependency migrate is down for good")
	}
	if line := w.Line(time.Now()); !strings.Contains(line, "dependency migrate is down for good") {
		t.Errorf("status line %q does not say why web is down", line)
	}
	if n := len(h.events("started", "web")); n != 0 {
		t.Errorf("web started %d times, want never", n)
	}
	if n := len(h.events("started", "migrate")); n != 1 {
		t.Errorf("migrate started %d times, want once (a oneshot is not restarted)", n)
	}
	// A failed service that is not critical leaves watchdog running.
	if h.ran() {
		t.Fatalf("Run returned %d: the failure of a service that is not critical ended watchdog", h.code)
	}
	if o := h.snap("other"); o.State != Running {
		t.Errorf("other is %s, want running", o.State)
	}
	if code := h.terminate(); code != 0 {
		t.Errorf("Run = %d after SIGTERM, want 0", code)
	}
	if n := len(h.events("started", "web")); n != 0 {
		t.Errorf("web started %d times during shutdown, want never", n)
	}
}

// TestLeftoverStoppedBeforeRestart: a service whose main process exits leaves a child in its
// process group. The child is stopped, and gone, before the next run starts: each run records
// whether the previous run's leftover still exists when it begins (DESIGN.md invariant 4).
func TestLeftoverStoppedBeforeRestart(t *testing.T) {
	h, dir := run(t, `
[services.spawner]
command = ["/bin/sh", "-c", """
if [ -f $DIR/left ]; then
  if kill -0 $(cat $DIR/left) 2>/dev/null; then echo alive >> $DIR/report; else echo gone >> $DIR/report; fi
fi
/bin/sleep 100 &
echo $! > $DIR/left
echo $! >> $DIR/lefts
exit 1
"""]
restart = "on-failure"
max_restarts = 1
restart_delay = "10ms"
stop_grace_period = "5s"
`)
	if code := h.exitCode(); code != 1 {
		t.Errorf("Run = %d, want 1", code)
	}
	report, err := os.ReadFile(filepath.Join(dir, "report"))
	if err != nil {
		t.Fatal(err)
	}
	if string(report) != "gone\n" {
		t.Errorf("the second run found the first run's leftover %q, want %q", report, "gone\n")
	}
	lefts, err := os.ReadFile(filepath.Join(dir, "lefts"))
	if err != nil {
		t.Fatal(err)
	}
	leftovers := strings.Fields(string(lefts))
	if len(leftovers) != 2 {
		t.Fatalf("%d leftovers recorded, want one per run, 2", len(leftovers))
	}
	for _, l := range leftovers {
		pid, _ := strconv.Atoi(l)
		if !gone(pid) {
			t.Errorf("leftover %d still exists", pid)
		}
	}
	// The leftover is stopped the way the service is, then the restart comes.
	h.inOrder(event{"started", "spawner"}, event{"exited", "spawner"}, event{"stopping", "spawner"},
		event{"restarting", "spawner"}, event{"started", "spawner"}, event{"exited", "spawner"},
		event{"stopping", "spawner"}, event{"failed", "spawner"})
	if s := h.snap("spawner"); s.Killed {
		t.Error("the leftover needed SIGKILL, want it ended by SIGTERM")
	}
}

func TestOperatorControl(t *testing.T) {
	h, _ := run(t, `
[services.web]
command = ["/bin/sleep", "100"]
restart = "always"
restart_delay = "10ms"
`)
	first := h.inState("web", Running).Pid

	if err := h.sup.Control("restart", []string{"web"}); err != nil {
		t.Fatalf("restart: %v", err)
	}
	var second int
	h.until("web runs with a new pid", func() bool {
		s := h.snap("web")
		second = s.Pid
		return s.State == Running && s.Pid != first
	})
	if !gone(first) {
		t.Errorf("the first run, pid %d, still exists after the restart", first)
	}

	if err := h.sup.Control("stop", []string{"web"}); err != nil {
		t.Fatalf("stop: %v", err)
	}
	s := h.inState("web", Stopped)
	if !s.Held || s.Pid != 0 || !s.AsWanted() || s.Up() {
		t.Errorf("after stop: %+v, want held down, no pid, as wanted", s)
	}
	if s.LastExit == nil || s.LastExit.Signal != "SIGTERM" {
		t.Errorf("after stop: last exit %+v, want ended by SIGTERM", s.LastExit)
	}
	if !gone(second) {
		t.Errorf("pid %d still exists after the stop", second)
	}
	// restart = "always" with a 10ms delay would have started it again long before this.
	timer := time.NewTimer(300 * time.Millisecond)
	<-timer.C
	if s := h.snap("web"); s.State != Stopped || !s.Held {
		t.Errorf("300ms after the operator's stop web is %s (held %v): the policy restarted it", s.State, s.Held)
	}
	if n := len(h.events("started", "web")); n != 2 {
		t.Errorf("web started %d times, want 2 (the first run and the restart)", n)
	}
	if h.ran() {
		t.Fatalf("Run returned %d after an operator's stop", h.code)
	}

	if err := h.sup.Control("start", []string{"web"}); err != nil {
		t.Fatalf("start: %v", err)
	}
	s = h.inState("web", Running)
	if s.Pid == first || s.Pid == second || s.Held {
		t.Errorf("after start: %+v, want a new run, not held", s)
	}
	if err := h.sup.Control("start", []string{"nope"}); err == nil {
		t.Error("start of an unknown service succeeded")
	}
	if err := h.sup.Control("reboot", []string{"web"}); err == nil {
		t.Error("an unknown command succeeded")
	}
	if code := h.terminate(); code != 0 {
		t.Errorf("Run = %d after SIGTERM, want 0", code)
	}
}

func TestShutdownStopsInReverseDependencyOrder(t *testing.T) {
	h, _ := run(t, `
[services.a]
command = ["/bin/sleep", "100"]

[services.b]
command = ["/bin/sleep", "100"]
depends_on = ["a"]

[services.c]
command = ["/bin/sleep", "100"]
depends_on = ["b"]
`)
	var pids []int
	for _, name := range []string{"a", "b", "c"} {
		pids = append(pids, h.inState(name, Running).Pid)
	}
	h.inOrder(event{"started", "a"}, event{"started", "b"}, event{"started", "c"})
	if code := h.terminate(); code != 0 {
		t.Errorf("Run = %d after SIGTERM, want 0", code)
	}
	h.inOrder(event{"shutdown_started", ""},
		event{"stopping", "c"}, event{"exited", "c"},
		event{"stopping", "b"}, event{"exited", "b"},
		event{"stopping", "a"}, event{"exited", "a"},
		event{"shutdown_complete", ""})
	for i, name := range []string{"a", "b", "c"} {
		s := h.snap(name)
		if s.State != Stopped || s.LastExit == nil || s.LastExit.Signal != "SIGTERM" || s.Killed {
			t.Errorf("%s: %+v, want stopped by SIGTERM without SIGKILL", name, s)
		}
		if !gone(pids[i]) {
			t.Errorf("%s: pid %d still exists", name, pids[i])
		}
	}
	if c := h.events("shutdown_complete", ""); len(c) != 1 || c[0].ContextMap()["exit_code"] != int64(0) {
		t.Errorf("shutdown_complete events %v, want one with exit_code 0", c)
	}
}

func TestShutdownKillsServiceIgnoringSIGTERM(t *testing.T) {
	h, dir := run(t, `
[services.stubborn]
command = ["/bin/sh", "-c", 'trap "" TERM; : > $DIR/ready; /bin/sleep 100']
stop_grace_period = "300ms"

[services.polite]
command = ["/bin/sleep", "100"]
`)
	h.inState("stubborn", Running)
	h.fileExists(filepath.Join(dir, "ready")) // SIGTERM is ignored from here on
	h.inState("polite", Running)
	if code := h.terminate(); code != 1 {
		t.Errorf("Run = %d after SIGTERM, want 1 (a service had to be SIGKILLed)", code)
	}
	begun := h.events("shutdown_started", "")
	killed := h.events("killed", "stubborn")
	if len(begun) != 1 || len(killed) != 1 {
		t.Fatalf("%d shutdown_started and %d killed events, want 1 each", len(begun), len(killed))
	}
	if after := killed[0].Time.Sub(begun[0].Time); after < 300*time.Millisecond || after > 2*time.Second {
		t.Errorf("SIGKILL came %v after the shutdown began, want after the grace period 300ms, soon", after)
	}
	if s := h.snap("stubborn"); !s.Killed || s.LastExit == nil || s.LastExit.Code != 137 || s.State != Stopped {
		t.Errorf("stubborn: %+v, want stopped, killed, exit 137", s)
	}
	if s := h.snap("polite"); s.Killed || s.LastExit == nil || s.LastExit.Code != 143 {
		t.Errorf("polite: %+v, want ended by SIGTERM, exit 143", s)
	}
	if len(h.events("killed", "polite")) != 0 {
		t.Error("polite was SIGKILLed")
	}
}

func TestCriticalFailureEndsRunWithItsCode(t *testing.T) {
	h, _ := run(t, `
[services.core]
command = ["/bin/sh", "-c", "/bin/sleep 0.2; exit 7"]
critical = true
restart = "no"

[services.other]
command = ["/bin/sleep", "100"]
`)
	other := h.inState("other", Running).Pid
	if code := h.exitCode(); code != 7 {
		t.Errorf("Run = %d, want 7, the critical service's exit code", code)
	}
	h.inOrder(event{"exited", "core"}, event{"shutdown_started", ""},
		event{"stopping", "other"}, event{"exited", "other"}, event{"shutdown_complete", ""})
	if n := len(h.events("failed", "core")); n != 1 {
		t.Errorf("%d failed events of core, want 1", n)
	}
	if s := h.snap("other"); s.State != Stopped || s.LastExit == nil || s.LastExit.Signal != "SIGTERM" {
		t.Errorf("other: %+v, want stopped by SIGTERM", s)
	}
	if !gone(other) {
		t.Errorf("other's pid %d still exists", other)
	}
	if s := h.snap("core"); s.State != Failed {
		t.Errorf("core is %s, want failed", s.State)
	}
}

func TestShutdownOfManyServicesIsQuick(t *testing.T) {
	const n = 20
	var text strings.Builder
	for i := range n {
		fmt.Fprintf(&text, "[services.s%02d]\ncommand = [\"/bin/sleep\", \"100\"]\n\n", i)
	}
	h, _ := run(t, text.String())
	for i := range n {
		h.inState(fmt.Sprintf("s%02d", i), Running)
	}
	begin := time.Now()
	code := h.terminate()
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("Run returned %v after SIGTERM, want well under a second", took)
	}
	if code != 0 {
		t.Errorf("Run = %d, want 0", code)
	}
	for _, s := range h.sup.Status() {
		if s.State != Stopped {
			t.Errorf("%s is %s, want stopped", s.Name, s.State)
		}
	}
}

func TestControlDuringShutdownIsRefused(t *testing.T) {
	h, dir := run(t, `
[services.stubborn]
command = ["/bin/sh", "-c", 'trap "" TERM; : > $DIR/ready; /bin/sleep 100']
stop_grace_period = "2s"
`)
	h.inState("stubborn", Running)
	h.fileExists(filepath.Join(dir, "ready")) // SIGTERM is ignored from here on
	h.sigs <- unix.SIGTERM
	h.inState("stubborn", Stopping)
	if err := h.sup.Control("start", []string{"stubborn"}); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("start during shutdown: %v, want ErrShuttingDown", err)
	}
	if code := h.exitCode(); code != 1 {
		t.Errorf("Run = %d, want 1", code)
	}
}

// TestEventPrecedesItsConsequences: the log is the record of what happened (DESIGN.md invariant
// 8), so the event of a state change comes before the events of what the change caused: a
// critical service's "failed" before the "shutdown_started" it causes, a oneshot's "completed"
// before its dependent's "started". The logger writes those two events slowly, as a busy log
// line may be written, so that the order does not depend on how goroutines are scheduled: a
// runner that logs the change before it publishes it passes however slow its log line is.
func TestEventPrecedesItsConsequences(t *testing.T) {
	t.Run("failed before shutdown_started", func(t *testing.T) {
		h, _ := runSlowEvents(t, `
[services.core]
command = ["/bin/sh", "-c", "exit 7"]
critical = true
restart = "no"

[services.other]
command = ["/bin/sleep", "100"]
`, "failed")
		if code := h.exitCode(); code != 7 {
			t.Errorf("Run = %d, want 7", code)
		}
		h.inOrder(event{"exited", "core"}, event{"failed", "core"}, event{"shutdown_started", ""})
	})
	t.Run("completed before the dependent's started", func(t *testing.T) {
		h, _ := runSlowEvents(t, `
[services.migrate]
command = ["/bin/true"]
oneshot = true

[services.web]
command = ["/bin/sleep", "100"]
depends_on = ["migrate"]
`, "completed")
		h.inState("web", Running)
		h.until("migrate's completed event", func() bool { return len(h.events("completed", "migrate")) == 1 })
		h.inOrder(event{"exited", "migrate"}, event{"completed", "migrate"}, event{"started", "web"})
	})
}

// TestShutdownExitCodeIgnoresEarlierKill: Run returns 1 after SIGTERM only when a service had
// to be SIGKILLed in the shutdown (DESIGN.md "Exit codes"). A service the operator stopped
// earlier, with SIGKILL after its grace, and that stays down, needs no SIGKILL in the shutdown.
func TestShutdownExitCodeIgnoresEarlierKill(t *testing.T) {
	h, dir := run(t, `
[services.stubborn]
command = ["/bin/sh", "-c", 'trap "" TERM; : > $DIR/ready; /bin/sleep 100']
stop_grace_period = "100ms"

[services.polite]
command = ["/bin/sleep", "100"]
`)
	h.inState("stubborn", Running)
	h.fileExists(filepath.Join(dir, "ready"))
	if err := h.sup.Control("stop", []string{"stubborn"}); err != nil {
		t.Fatal(err)
	}
	if s := h.inState("stubborn", Stopped); !s.Killed || !s.Held {
		t.Fatalf("stubborn after the operator's stop: %+v, want held down, killed", s)
	}
	h.inState("polite", Running)
	killsBefore := len(h.logs.FilterMessage("killed").All())
	code := h.terminate()
	if kills := len(h.logs.FilterMessage("killed").All()) - killsBefore; kills != 0 {
		t.Fatalf("%d killed events in the shutdown, want none", kills)
	}
	if code != 0 {
		t.Errorf("Run = %d after SIGTERM, want 0: nothing was SIGKILLed in the shutdown", code)
	}
}

// TestNoRestartDuringShutdown: once the staged shutdown has begun nothing starts. A service
// whose dependent is still being stopped waits for its own stop; if it crashes meanwhile, its
// backoff must not start it again.
func TestNoRestartDuringShutdown(t *testing.T) {
	h, dir := run(t, `
[services.base]
command = ["/bin/sh", "-c", 'while [ ! -f $DIR/crash ]; do /bin/sleep 0.01; done; exit 1']
restart = "always"
restart_delay = "10ms"

[services.app]
command = ["/bin/sh", "-c", 'trap "" TERM; : > $DIR/ready; /bin/sleep 100']
depends_on = ["base"]
stop_grace_period = "1s"
`)
	h.inState("app", Running)
	h.fileExists(filepath.Join(dir, "ready"))
	h.sigs <- unix.SIGTERM
	// app ignores SIGTERM and is stopped first, for up to 1s; base waits for it. Now base crashes.
	h.inState("app", Stopping)
	if err := os.WriteFile(filepath.Join(dir, "crash"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.exitCode()
	begun := h.events("shutdown_started", "")[0].Time
	for _, e := range h.events("started", "base") {
		if e.Time.After(begun) {
			t.Errorf("base was started again %v after the shutdown began (pid %d)", e.Time.Sub(begun), pidOf(e))
		}
	}
}

// TestOperatorRestartDoesNotStartDuringShutdown: an operator's restart stops the service and
// then starts it. When the staged shutdown begins while the old run is still stopping (it
// ignores SIGTERM and waits for its SIGKILL) and a dependent keeps the shutdown from reaching
// the service yet, the restart must not complete: nothing starts once shutdown began.
func TestOperatorRestartDoesNotStartDuringShutdown(t *testing.T) {
	h, dir := run(t, `
[services.base]
command = ["/bin/sh", "-c", 'trap "" TERM; : > $DIR/base-$$; /bin/sleep 100']
stop_grace_period = "300ms"

[services.app]
command = ["/bin/sh", "-c", 'trap "" TERM; : > $DIR/app-ready; /bin/sleep 100']
depends_on = ["base"]
stop_grace_period = "1s"
`)
	base := h.inState("base", Running).Pid
	h.fileExists(filepath.Join(dir, "base-"+strconv.Itoa(base)))
	h.inState("app", Running)
	h.fileExists(filepath.Join(dir, "app-ready"))
	if err := h.sup.Control("restart", []string{"base"}); err != nil {
		t.Fatal(err)
	}
	h.sigs <- unix.SIGTERM
	h.exitCode()
	begun := h.events("shutdown_started", "")[0].Time
	for _, e := range h.events("started", "base") {
		if e.Time.After(begun) {
			t.Errorf("the operator's restart started base %v after the shutdown began (pid %d)", e.Time.Sub(begun), pidOf(e))
		}
	}
}

// TestSignalsForwardedToServiceGroups: in config mode a signal other than SIGTERM, SIGINT and
// SIGHUP goes to every service's whole process group; SIGCHLD, SIGURG and SIGPIPE go nowhere
// (DESIGN.md "Signals").
func TestSignalsForwardedToServiceGroups(t *testing.T) {
	h, dir := run(t, `
[services.one]
command = ["/bin/sleep", "100"]
restart = "no"

[services.two]
command = ["/bin/sh", "-c", '/bin/sleep 100 & echo $! > $DIR/child; wait']
restart = "no"
`)
	one := h.inState("one", Running).Pid
	two := h.inState("two", Running).Pid
	// The shell creates the file before it writes the pid into it: wait for the whole line.
	var data []byte
	h.until("the child's pid", func() bool {
		data, _ = os.ReadFile(filepath.Join(dir, "child"))
		return strings.HasSuffix(string(data), "\n")
	})
	child, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []unix.Signal{unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE, unix.SIGUSR1} {
		h.sigs <- sig
	}
	// SIGUSR1 ends sleep and sh; with restart = "no" both services fail and watchdog ends.
	if code := h.exitCode(); code != 128+10 {
		t.Errorf("Run = %d, want 138, the first failure's code", code)
	}
	for _, name := range []string{"one", "two"} {
		if s := h.snap(name); s.LastExit == nil || s.LastExit.Signal != "SIGUSR1" {
			t.Errorf("%s: last exit %+v, want ended by SIGUSR1", name, s.LastExit)
		}
		forwarded := h.events("signal_forwarded", name)
		if len(forwarded) != 1 || forwarded[0].ContextMap()["signal"] != "SIGUSR1" {
			var got []any
			for _, e := range forwarded {
				got = append(got, e.ContextMap()["signal"])
			}
			t.Errorf("%s: signals forwarded %v, want only SIGUSR1", name, got)
		}
	}
	for _, pid := range []int{one, two, child} {
		if !gone(pid) {
			t.Errorf("pid %d still exists", pid)
		}
	}
}

// TestSIGHUPIsNotForwardedInConfigMode: in config mode SIGHUP reloads the config (DESIGN.md
// "Signals"); it is not passed to the services, most of which SIGHUP would end.
func TestSIGHUPIsNotForwardedInConfigMode(t *testing.T) {
	h, _ := run(t, `
[services.web]
command = ["/bin/sleep", "100"]
`)
	pid := h.inState("web", Running).Pid
	h.sigs <- unix.SIGHUP
	// SIGWINCH is forwarded (sleep ignores it); once it was, SIGHUP has been handled.
	h.sigs <- unix.SIGWINCH
	h.until("SIGWINCH forwarded", func() bool {
		return len(h.logs.FilterMessage("signal_forwarded").FilterField(zap.String("signal", "SIGWINCH")).All()) == 1
	})
	if n := len(h.logs.FilterMessage("signal_forwarded").FilterField(zap.String("signal", "SIGHUP")).All()); n != 0 {
		t.Errorf("SIGHUP was forwarded to %d services in config mode, want it taken as a reload", n)
	}
	if h.terminate(); len(h.events("exited", "web")) != 1 || h.snap("web").LastExit.Signal != "SIGTERM" {
		t.Errorf("web (pid %d) ended by %+v, want by the shutdown's SIGTERM", pid, h.snap("web").LastExit)
	}
}

// TestShutdownTimeoutCapsGracePeriod: the global shutdown_timeout caps every stage: a
// service with a long stop_grace_period that ignores SIGTERM is SIGKILLed before the budget
// ends, with room left for the final sweep (DESIGN.md "Config").
func TestShutdownTimeoutCapsGracePeriod(t *testing.T) {
	h, dir := run(t, `
[watchdog]
shutdown_timeout = "1s"

[services.stubborn]
command = ["/bin/sh", "-c", 'trap "" TERM; : > $DIR/ready; /bin/sleep 100']
stop_grace_period = "30s"
`)
	h.inState("stubborn", Running)
	h.fileExists(filepath.Join(dir, "ready"))
	begin := time.Now()
	if code := h.terminate(); code != 1 {
		t.Errorf("Run = %d, want 1", code)
	}
	if took := time.Since(begin); took > time.Second+500*time.Millisecond {
		t.Errorf("Run returned %v after SIGTERM, want within the 1s budget", took)
	}
	killed := h.events("killed", "stubborn")
	if len(killed) != 1 {
		t.Fatalf("%d killed events, want 1", len(killed))
	}
	// The kill is due at 900ms (the budget less the sweep's reserve, well under the grace
	// period's 30s); a loaded machine may fire the timer a little late.
	if after := killed[0].Time.Sub(h.events("shutdown_started", "")[0].Time); after > 1500*time.Millisecond {
		t.Errorf("SIGKILL came %v after the shutdown began, want it near the 1s budget, not the 30s grace", after)
	}
}

func TestAllServicesSucceededExitsZero(t *testing.T) {
	h, _ := run(t, `
[services.job]
command = ["/bin/true"]
oneshot = true

[services.after]
command = ["/bin/sh", "-c", "exit 0"]
restart = "on-failure"
depends_on = ["job"]
`)
	if code := h.exitCode(); code != 0 {
		t.Errorf("Run = %d, want 0: every service finished successfully", code)
	}
	if s := h.snap("job"); s.State != Completed {
		t.Errorf("job is %s, want completed", s.State)
	}
	if s := h.snap("after"); s.State != Exited {
		t.Errorf("after is %s, want exited", s.State)
	}
}

// TestMainCommandExitCode: with `-- CMD` watchdog ends when CMD ends, with its exit code, or
// 128+N for signal N, after stopping the services of the config.
func TestMainCommandExitCode(t *testing.T) {
	t.Run("exit 5", func(t *testing.T) {
		h, _ := runMain(t, `
[services.side]
command = ["/bin/sleep", "100"]
`, "/bin/sh", "-c", "/bin/sleep 0.2; exit 5")
		side := h.inState("side", Running).Pid
		if code := h.exitCode(); code != 5 {
			t.Errorf("Run = %d, want 5, the main command's code", code)
		}
		if s := h.snap("side"); s.State != Stopped || !gone(side) {
			t.Errorf("side: %+v, want stopped and gone", s)
		}
	})
	t.Run("SIGKILL", func(t *testing.T) {
		h, _ := runMain(t, "[watchdog]\n", "/bin/sh", "-c", "kill -KILL $$")
		if code := h.exitCode(); code != 128+9 {
			t.Errorf("Run = %d, want 137 for a main command ended by SIGKILL", code)
		}
	})
}

// TestMainCommandGetsEverySignal: with `--` and no config services every catchable signal goes
// to the command's group, SIGHUP and SIGINT included, and SIGTERM/SIGINT also start the
// shutdown clock: a command that ignores them is SIGKILLed when shutdown_timeout runs out.
func TestMainCommandGetsEverySignal(t *testing.T) {
	t.Run("SIGHUP", func(t *testing.T) {
		h, dir := runMain(t, "[watchdog]\n", "/bin/sh", "-c",
			`trap "exit 9" HUP; : > $DIR/ready; while :; do /bin/sleep 0.01; done`)
		h.fileExists(filepath.Join(dir, "ready"))
		h.sigs <- unix.SIGHUP
		if code := h.exitCode(); code != 9 {
			t.Errorf("Run = %d, want 9, the code of the command's HUP trap", code)
		}
	})
	t.Run("SIGTERM", func(t *testing.T) {
		h, _ := runMain(t, "[watchdog]\n", "/bin/sleep", "100")
		h.inState("main", Running)
		if code := h.terminate(); code != 128+15 {
			t.Errorf("Run = %d, want 143: the command ended by the forwarded SIGTERM", code)
		}
	})
	t.Run("SIGINT ignored", func(t *testing.T) {
		h, dir := runMain(t, "[watchdog]\nshutdown_timeout = \"1s\"\n", "/bin/sh", "-c",
			`trap "" INT; : > $DIR/ready; /bin/sleep 100`)
		h.fileExists(filepath.Join(dir, "ready"))
		begin := time.Now()
		h.sigs <- unix.SIGINT
		if code := h.exitCode(); code != 128+9 {
			t.Errorf("Run = %d, want 137: SIGKILL when the shutdown clock ran out", code)
		}
		if took := time.Since(begin); took > time.Second+500*time.Millisecond {
			t.Errorf("Run returned %v after SIGINT, want within the 1s shutdown_timeout", took)
		}
		stopping := h.events("stopping", "main")
		if len(stopping) != 1 || stopping[0].ContextMap()["signal"] != "SIGINT" {
			t.Errorf("stopping events %v, want one with the received SIGINT", stopping)
		}
	})
}

// TestOperatorStopDuringBackoff: a stop while the service waits to restart cancels the
// restart and holds it down; a start lifts the hold and starts it at once.
func TestOperatorStopDuringBackoff(t *testing.T) {
	h, _ := run(t, `
[services.crash]
command = ["/bin/sh", "-c", "exit 1"]
restart = "always"
restart_delay = "200ms"

[services.keep]
command = ["/bin/sleep", "100"]
`)
	h.inState("crash", Backoff)
	if err := h.sup.Control("stop", []string{"crash"}); err != nil {
		t.Fatal(err)
	}
	if s := h.inState("crash", Stopped); !s.Held {
		t.Fatalf("crash after stop in backoff: %+v, want held", s)
	}
	starts := len(h.events("started", "crash"))
	// The backoff would have started it again after 200ms ±10%.
	timer := time.NewTimer(400 * time.Millisecond)
	<-timer.C
	if n := len(h.events("started", "crash")); n != starts {
		t.Errorf("crash started %d more times after the operator's stop", n-starts)
	}
	if err := h.sup.Control("start", []string{"crash"}); err != nil {
		t.Fatal(err)
	}
	h.until("crash started again", func() bool { return len(h.events("started", "crash")) > starts })
	if s := h.snap("crash"); s.Held {
		t.Errorf("crash after start: %+v, want the hold lifted", s)
	}
}
