package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// forkBackoff is the victims' restart backoff: short, so that a few failed starts fit in a
// test, with a cap low enough that the restart after the limit is lifted comes soon.
const (
	forkRestartDelay    = 100 * time.Millisecond
	forkRestartMaxDelay = 400 * time.Millisecond
)

// A service whose fork fails because the container's pids limit is reached (docker run
// --pids-limit, the pids cgroup controller) is a failed start: start_failed with the kernel's
// reason, then the restart backoff. watchdog itself runs on, answers status, and starts the
// service as soon as the limit is lifted.
func TestFaultForkFailsAtPidsLimit(t *testing.T) {
	inEachMode(t, func(t *testing.T, mode runMode) {
		cg := newCgroup(t, "pids")
		w := startWatchdog(t, mode, "--config", writeConfig(t, fmt.Sprintf(`
[services.victim]
command = %s
restart_delay = %q
restart_max_delay = %q
`, fixtureCmd("sleep"), forkRestartDelay, forkRestartMaxDelay)))
		socket := controlSocket(w)
		victim := eventPID(t, w.waitEvent("started", "service", "victim"))
		w.waitReport("main ready", 1)

		// Not one task more: watchdog's own threads fill the limit, and its services run
		// outside the cgroup, where they were started.
		cg.add(w.pid)
		cg.pidsLimit(strconv.Itoa(cg.pidsCurrent()))
		t.Logf("pids.max %s: watchdog's %d threads", cg.read("pids.max"), cg.pidsCurrent())

		unix.Kill(hostPID(w, victim), unix.SIGKILL)
		exited := w.waitEvent("exited", "service", "victim", "signal", "SIGKILL")
		failed := waitForkFailures(t, w, exited, 3, "resource temporarily unavailable")
		if n := cg.pidsRefused(); n < len(failed) {
			t.Errorf("pids.events counts %d refused forks, fewer than the %d failed starts", n, len(failed))
		}
		res, lines := status(t, socket)
		wantStatusLine(t, res, lines, "victim", "DOWN", "resource temporarily unavailable", "exit 126")

		cg.pidsLimit("max")
		waitEventAfter(w, failed[len(failed)-1], "started", "service", "victim")
		waitStatus(t, socket, "victim", "UP")
		w.signal(unix.SIGTERM)
		if code := w.waitExit(eventTimeout); code != 0 {
			t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
		}
	})
}

// The same for a service whose user has reached RLIMIT_NPROC: the kernel lets root's fork
// through and fails the child's execve after setuid with EAGAIN. watchdog, root, is not
// held by the limit itself.
func TestFaultForkFailsAtUserProcessLimit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("services of another user need root")
	}
	dir := worldDir(t)
	fixture := copyExecutable(t, fixtureBin, dir)
	for i, mode := range []runMode{asPID1, asSubreaper} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			uid := unusedUID(t, 61000+(os.Getpid()%1000)*4+i)
			// The anchor is a process of the user, so that the user's count exceeds a limit of 0
			// already when the victim's child calls setuid, as the kernel checks then.
			w := startWatchdog(t, mode, "--config", writeConfig(t, fmt.Sprintf(`
[services.anchor]
command = %[1]s
user = "%[2]d:%[2]d"

[services.victim]
command = %[1]s
user = "%[2]d:%[2]d"
restart_delay = %[3]q
restart_max_delay = %[4]q
`, tomlList(fixture, "sleep"), uid, forkRestartDelay, forkRestartMaxDelay)))
			socket := controlSocket(w)
			victim := eventPID(t, w.waitEvent("started", "service", "victim"))
			w.waitEvent("started", "service", "anchor")
			waitUserProcesses(t, uid, 2)

			old := setSoftLimit(t, w.pid, unix.RLIMIT_NPROC, 0)
			unix.Kill(hostPID(w, victim), unix.SIGKILL)
			exited := w.waitEvent("exited", "service", "victim", "signal", "SIGKILL")
			failed := waitForkFailures(t, w, exited, 3, "resource temporarily unavailable")
			res, lines := status(t, socket)
			wantStatusLine(t, res, lines, "victim", "DOWN", "exit 126")
			wantStatusLine(t, res, lines, "anchor", "UP")

			setSoftLimit(t, w.pid, unix.RLIMIT_NPROC, old)
			waitEventAfter(w, failed[len(failed)-1], "started", "service", "victim")
			waitStatus(t, socket, "victim", "UP")
			w.signal(unix.SIGTERM)
			if code := w.waitExit(eventTimeout); code != 0 {
				t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
			}
		})
	}
}

// waitForkFailures waits for n start_failed events of the victim after event after, and
// checks that each is a failed start with code 126 and the reason want, followed by a
// restarting event, and that the failed starts keep to the backoff instead of spinning.
func waitForkFailures(t *testing.T, w *watchdogRun, after event, n int, want string) []event {
	t.Helper()
	var failed []event
	for last := after; len(failed) < n; last = failed[len(failed)-1] {
		failed = append(failed, waitEventAfter(w, last, "start_failed", "service", "victim"))
	}
	for i, f := range failed {
		if code := f.get("exit_code"); code != "126" {
			t.Errorf("start_failed with exit_code %s, want 126: %v", code, f.fields)
		}
		if reason := f.get("error"); !strings.Contains(reason, want) {
			t.Errorf("start_failed says %q, want the reason %q", reason, want)
		}
		restarting := waitEventAfter(w, f, "restarting", "service", "victim")
		if i+1 < len(failed) && restarting.line > failed[i+1].line {
			t.Errorf("no restarting event between two failed starts: %v", f.fields)
		}
		if i == 0 {
			continue
		}
		// The delay of the restart before, less its jitter and a millisecond of rounding.
		delay := forkRestartDelay << (i - 1)
		least := min(delay, forkRestartMaxDelay)*9/10 - time.Millisecond
		if gap := between(t, failed[i-1], f); gap < least {
			t.Errorf("failed start %d came %v after the one before, want at least %v: no backoff", i+1, gap, least)
		}
	}
	return failed
}

// unusedUID returns the first uid from from on that no process runs as, so that a
// service's user counts only the test's processes against RLIMIT_NPROC.
func unusedUID(t *testing.T, from int) int {
	t.Helper()
	for uid := from; uid < from+100; uid++ {
		if len(processesOf(uid)) == 0 {
			return uid
		}
	}
	t.Fatalf("every uid from %d to %d runs processes", from, from+99)
	return 0
}

// processesOf lists the pids whose real uid is uid.
func processesOf(uid int) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue // gone meanwhile
		}
		for line := range strings.Lines(string(status)) {
			if ids, ok := strings.CutPrefix(line, "Uid:"); ok {
				if f := strings.Fields(ids); len(f) > 0 && f[0] == strconv.Itoa(uid) {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	return pids
}

// waitUserProcesses waits until n processes run as uid.
func waitUserProcesses(t *testing.T, uid, n int) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for len(processesOf(uid)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d processes of uid %d within %v, want %d", len(processesOf(uid)), uid, eventTimeout, n)
		}
		time.Sleep(pollInterval)
	}
}
