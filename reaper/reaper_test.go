package reaper

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"
)

// The tests of this package run one after another: a process may have only one Reaper, and
// each test's cleanup sweeps every process the test left below this one.

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait for an event; reaching it fails the test.
const wait = 10 * time.Second

// newReaper returns a Reaper that is swept and closed when the test ends, so that no process
// of the test outlives it.
func newReaper(t *testing.T) *Reaper {
	t.Helper()
	r, err := New(zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		now := time.Now()
		if res := r.Sweep(now, now.Add(wait)); !res.Complete {
			t.Errorf("processes of the test were left after the sweep: %+v", res)
		}
		r.Close()
	})
	return r
}

var devNull = func() *os.File {
	f, err := os.Open(os.DevNull)
	if err != nil {
		panic(err)
	}
	return f
}()

// start starts argv through the reaper in a process group of its own, stdin /dev/null.
// Its stdout is out, if not nil, else /dev/null.
func start(t *testing.T, r *Reaper, out *os.File, argv ...string) (int, <-chan Status) {
	t.Helper()
	stdout := devNull.Fd()
	if out != nil {
		stdout = out.Fd()
	}
	pid, exit, err := r.Start(argv[0], argv, &syscall.ProcAttr{
		Files: []uintptr{devNull.Fd(), stdout, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		t.Fatalf("start %q: %v", argv, err)
	}
	return pid, exit
}

// startReporting starts a /bin/sh script and returns a reader of its stdout, the way a test
// learns the pids of the processes the script forks: `echo $!`.
func startReporting(t *testing.T, r *Reaper, script string) (int, <-chan Status, *bufio.Reader) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close() })
	pid, exit := start(t, r, pw, "/bin/sh", "-c", script)
	pw.Close()
	if err := pr.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	return pid, exit, bufio.NewReader(pr)
}

// readPid reads one line holding a pid.
func readPid(t *testing.T, out *bufio.Reader) int {
	t.Helper()
	l, err := out.ReadString('\n')
	if err != nil {
		t.Fatalf("reading a pid from the script: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(l))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// exitOf waits for the exit the reaper hands out on ch.
func exitOf(t *testing.T, pid int, ch <-chan Status) Status {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case st := <-ch:
		if st.Pid != pid {
			t.Errorf("the exit of pid %d came with Pid %d", pid, st.Pid)
		}
		return st
	case <-timer.C:
		t.Fatalf("the exit of pid %d was not delivered within %v", pid, wait)
		return Status{}
	}
}

// closedWithin reports whether ch is closed within d.
func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
		return false
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// eventually waits until cond holds, failing the test at the deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, wait)
		}
		time.Sleep(time.Millisecond)
	}
}

// alive reports whether pid exists, as a running process or a zombie.
func alive(pid int) bool { return unix.Kill(pid, 0) != unix.ESRCH }

// reaperPass starts and reaps two processes one after the other, so that the reaper has
// finished a pass of its loop, and with it a look at the watchers of groups and of
// childlessness, since the call began (unless both exits fell into one pass, which is rare: a
// check that a watcher is still open then proves less, it never fails wrongly).
func reaperPass(t *testing.T, r *Reaper) {
	t.Helper()
	for range 2 {
		pid, exit := start(t, r, nil, "/bin/true")
		exitOf(t, pid, exit)
	}
}

func TestStartExitStatus(t *testing.T) {
	r := newReaper(t)
	tests := []struct {
		argv   []string
		code   int
		signal unix.Signal
	}{
		{[]string{"/bin/true"}, 0, 0},
		{[]string{"/bin/sh", "-c", "exit 3"}, 3, 0},
		{[]string{"/bin/sh", "-c", "exit 255"}, 255, 0},
		{[]string{"/bin/sh", "-c", "kill -TERM $$"}, 128 + 15, unix.SIGTERM},
		{[]string{"/bin/sh", "-c", "kill -KILL $$"}, 128 + 9, unix.SIGKILL},
		{[]string{"/bin/sh", "-c", "kill -USR1 $$"}, 128 + 10, unix.SIGUSR1},
	}
	for _, tt := range tests {
		before := time.Now()
		pid, exit := start(t, r, nil, tt.argv...)
		st := exitOf(t, pid, exit)
		if got := st.Code(); got != tt.code {
			t.Errorf("%q: Code() = %d, want %d", tt.argv, got, tt.code)
		}
		if tt.signal != 0 && (!st.Wait.Signaled() || st.Wait.Signal() != tt.signal) {
			t.Errorf("%q: wait status %#x, want ended by %v", tt.argv, uint32(st.Wait), tt.signal)
		}
		if tt.signal == 0 && !st.Wait.Exited() {
			t.Errorf("%q: wait status %#x, want a normal exit", tt.argv, uint32(st.Wait))
		}
		if st.At.Before(before) || st.At.After(time.Now()) {
			t.Errorf("%q: At = %v, not between the start and now", tt.argv, st.At)
		}
		if alive(pid) {
			t.Errorf("%q: pid %d still exists after its exit was delivered: not reaped", tt.argv, pid)
		}
	}
	if n := r.Orphans(); n != 0 {
		t.Errorf("Orphans() = %d, want 0: every process here was started through Start", n)
	}
}

func TestStartMissingCommand(t *testing.T) {
	r := newReaper(t)
	pid, exit, err := r.Start("/nonexistent/command", []string{"command"}, &syscall.ProcAttr{})
	if !errors.Is(err, unix.ENOENT) {
		t.Errorf("Start of a missing command: err = %v, want ENOENT", err)
	}
	if pid != 0 || exit != nil {
		t.Errorf("Start of a missing command returned pid %d and channel %v, want none", pid, exit)
	}
	// The reaper still works.
	pid, exit = start(t, r, nil, "/bin/true")
	exitOf(t, pid, exit)
}

// TestFailedExecIsNoOrphan starts commands whose exec fails. syscall.ForkExec forks, learns of
// the failure from the child and reaps that child itself with wait4(pid). The reaper must not
// reap it first and count it as an orphan: nobody but watchdog's own Start made it.
func TestFailedExecIsNoOrphan(t *testing.T) {
	r := newReaper(t)
	dir := t.TempDir()
	noExec := dir + "/not-executable"
	if err := os.WriteFile(noExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		path := "/nonexistent/command"
		if i%2 == 1 {
			path = noExec // EACCES
		}
		if _, _, err := r.Start(path, []string{path}, &syscall.ProcAttr{}); err == nil {
			t.Fatalf("Start(%s) succeeded", path)
		}
	}
	reaperPass(t, r)
	if got := r.Orphans(); got != 0 {
		t.Errorf("Orphans() = %d after %d failed execs, want 0: the reaper's wait4(-1) reaped children "+
			"of failed starts that syscall.ForkExec waits for itself", got, n)
	}
}

// TestImmediateExitsAllDelivered starts processes that exit at once, back to back, faster than
// the caller looks at their channels: each exit must reach its channel, none may be taken for
// an orphan (the pid is registered before the dispatcher can see its exit).
func TestImmediateExitsAllDelivered(t *testing.T) {
	r := newReaper(t)
	const n = 500
	pids := make([]int, n)
	exits := make([]<-chan Status, n)
	for i := range n {
		pids[i], exits[i] = start(t, r, nil, "/bin/true")
	}
	for i := range n {
		st := exitOf(t, pids[i], exits[i])
		if st.Code() != 0 {
			t.Errorf("pid %d: Code() = %d, want 0", pids[i], st.Code())
		}
	}
	if got := r.Orphans(); got != 0 {
		t.Errorf("Orphans() = %d, want 0: exits of started processes were taken for orphans", got)
	}
	if !closedWithin(r.Childless(), wait) {
		t.Error("Childless not closed after every child was reaped")
	}
}

func TestOrphansCounted(t *testing.T) {
	r := newReaper(t)
	// The script forks a grandchild and exits: the grandchild is reparented to this process
	// (a child subreaper) and reaped as an orphan when it ends.
	pid, exit, out := startReporting(t, r, "/bin/sleep 0.1 & echo $!")
	grandchild := readPid(t, out)
	exitOf(t, pid, exit)
	if !closedWithin(r.Childless(), wait) {
		t.Fatal("Childless not closed: the grandchild was not reaped")
	}
	if alive(grandchild) {
		t.Errorf("grandchild %d still exists", grandchild)
	}
	if got := r.Orphans(); got != 1 {
		t.Errorf("Orphans() = %d, want 1 (the grandchild)", got)
	}

	// Several at once, of one parent.
	pid, exit, out = startReporting(t, r, "for i in 1 2 3 4 5; do /bin/sleep 0.1 & echo $!; done")
	var more []int
	for range 5 {
		more = append(more, readPid(t, out))
	}
	exitOf(t, pid, exit)
	if !closedWithin(r.Childless(), wait) {
		t.Fatal("Childless not closed: grandchildren were not reaped")
	}
	for _, p := range more {
		if alive(p) {
			t.Errorf("grandchild %d still exists", p)
		}
	}
	if got := r.Orphans(); got != 6 {
		t.Errorf("Orphans() = %d, want 6", got)
	}
}

func TestGroupGone(t *testing.T) {
	r := newReaper(t)
	// The leader forks two members of its process group and exits.
	pgid, exit, out := startReporting(t, r, "/bin/sleep 100 & echo $!; /bin/sleep 100 & echo $!")
	first, second := readPid(t, out), readPid(t, out)
	exitOf(t, pgid, exit)
	gone := r.GroupGone(pgid)

	reaperPass(t, r)
	if isClosed(gone) {
		t.Fatal("GroupGone closed after the leader exited, with two members left")
	}
	if err := unix.Kill(first, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the killed member is reaped", func() bool { return !alive(first) })
	reaperPass(t, r)
	if isClosed(gone) {
		t.Fatal("GroupGone closed with one member left")
	}
	if !alive(second) {
		t.Fatal("the second member ended by itself")
	}

	if err := unix.Kill(second, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(gone, wait) {
		t.Fatal("GroupGone not closed after the last member ended")
	}
	if err := unix.Kill(-pgid, 0); err != unix.ESRCH {
		t.Errorf("GroupGone closed, but kill(-%d, 0) = %v, want ESRCH", pgid, err)
	}
	if !isClosed(r.GroupGone(pgid)) {
		t.Error("GroupGone of an empty group is not closed at once")
	}
	if got := r.Orphans(); got != 2 {
		t.Errorf("Orphans() = %d, want 2 (the two members)", got)
	}
}

func TestChildless(t *testing.T) {
	r := newReaper(t)
	if !isClosed(r.Childless()) {
		t.Fatal("Childless not closed at once with no child")
	}
	pid, exit := start(t, r, nil, "/bin/sleep", "100")
	none := r.Childless()
	reaperPass(t, r)
	if isClosed(none) {
		t.Fatal("Childless closed while a child runs")
	}
	if err := unix.Kill(pid, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(none, wait) {
		t.Fatal("Childless not closed after the last child ended")
	}
	if st := exitOf(t, pid, exit); st.Code() != 128+15 {
		t.Errorf("Code() = %d, want 143", st.Code())
	}
}

func TestSweepNothingLeft(t *testing.T) {
	r := newReaper(t)
	killAt := time.Now().Add(wait)
	res := r.Sweep(killAt, killAt.Add(wait))
	if res != (SweepResult{Complete: true}) {
		t.Errorf("Sweep with nothing below = %+v, want only Complete", res)
	}
	if time.Now().After(killAt) {
		t.Error("Sweep with nothing below waited for the kill time")
	}
}

func TestSweepTerminates(t *testing.T) {
	r := newReaper(t)
	child, childExit := start(t, r, nil, "/bin/sleep", "100")
	// A shell waiting for its own child: two processes.
	parent, parentExit, out := startReporting(t, r, "/bin/sleep 100 & echo $!; wait")
	grandchild := readPid(t, out)
	// An orphan already reparented to this process.
	leader, leaderExit, out := startReporting(t, r, "/bin/sleep 100 & echo $!")
	orphan := readPid(t, out)
	exitOf(t, leader, leaderExit)

	killAt := time.Now().Add(wait)
	res := r.Sweep(killAt, killAt.Add(wait))
	if time.Now().After(killAt) {
		t.Errorf("Sweep waited for the kill time: processes that die of SIGTERM were not reaped at once")
	}
	if want := (SweepResult{Terminated: 4, Complete: true}); res != want {
		t.Errorf("Sweep = %+v, want %+v", res, want)
	}
	for _, p := range []int{child, parent, grandchild, orphan} {
		if alive(p) {
			t.Errorf("pid %d is still there after the sweep", p)
		}
	}
	for _, e := range []struct {
		pid  int
		exit <-chan Status
	}{{child, childExit}, {parent, parentExit}} {
		if st := exitOf(t, e.pid, e.exit); st.Code() != 128+15 {
			t.Errorf("pid %d: Code() = %d, want 143 (SIGTERM)", e.pid, st.Code())
		}
	}
}

func TestSweepKillsWhatIgnoresSIGTERM(t *testing.T) {
	r := newReaper(t)
	polite, politeExit := start(t, r, nil, "/bin/sleep", "100")
	// The shell and its child both ignore SIGTERM (an ignored signal stays ignored across exec).
	stubborn, stubbornExit, out := startReporting(t, r, `trap "" TERM; /bin/sleep 100 & echo $!; wait`)
	stubbornChild := readPid(t, out)

	const grace = 400 * time.Millisecond
	begin := time.Now()
	killAt := begin.Add(grace)
	res := r.Sweep(killAt, killAt.Add(wait))
	if want := (SweepResult{Terminated: 3, Killed: 2, Complete: true}); res != want {
		t.Errorf("Sweep = %+v, want %+v", res, want)
	}

	st := exitOf(t, polite, politeExit)
	if st.Code() != 128+15 {
		t.Errorf("the polite process: Code() = %d, want 143 (SIGTERM)", st.Code())
	}
	if !st.At.Before(killAt) {
		t.Errorf("the polite process ended %v after the sweep began, not before the kill time %v",
			st.At.Sub(begin), grace)
	}
	st = exitOf(t, stubborn, stubbornExit)
	if st.Code() != 128+9 {
		t.Errorf("the process ignoring SIGTERM: Code() = %d, want 137 (SIGKILL)", st.Code())
	}
	if st.At.Before(killAt) {
		t.Errorf("the process ignoring SIGTERM was killed %v after the sweep began, before the kill time %v",
			st.At.Sub(begin), grace)
	}
	if late := st.At.Sub(killAt); late > 2*time.Second {
		t.Errorf("the process ignoring SIGTERM was killed %v after the kill time", late)
	}
	if alive(stubbornChild) {
		t.Errorf("the child ignoring SIGTERM, pid %d, is still there", stubbornChild)
	}
}
