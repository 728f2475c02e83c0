package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// eventTimeout bounds the wait for anything that should happen at once: an event, a
	// report, an exit. Generous, because the machine running the tests may be busy.
	eventTimeout = 10 * time.Second
	// pollInterval is how often files and /proc are read again while waiting.
	pollInterval = 10 * time.Millisecond
)

// runMode is how watchdog is run: as PID 1 of a new PID namespace (a container's init) or
// directly, where it makes itself a child subreaper.
type runMode struct {
	name string
	pid1 bool
}

var (
	asPID1      = runMode{name: "pid1", pid1: true}
	asSubreaper = runMode{name: "subreaper"}
)

// inEachMode runs test as two parallel subtests, watchdog as PID 1 and as a subreaper.
func inEachMode(t *testing.T, test func(t *testing.T, mode runMode)) {
	for _, mode := range []runMode{asPID1, asSubreaper} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			test(t, mode)
		})
	}
}

// watchdogRun is one watchdog process under test with everything it wrote.
type watchdogRun struct {
	t    *testing.T
	mode runMode
	args []string
	cmd  *exec.Cmd // unshare as PID 1, else watchdog itself
	// pid is watchdog's pid in the test's PID namespace, the one to signal; 0 when
	// watchdog ended before the harness found it.
	pid    int
	report string // the fixture's report file
	// marker is in the environment of everything this run starts and of nothing else,
	// which is how leftovers are told apart from other tests' processes.
	marker string
	stdout *lineLog
	stderr *lineLog
	// stalledStdout is stdout's read end until resumeStdout starts reading it.
	stalledStdout *os.File
	exited        chan struct{}
	// Valid once exited is closed: the exit code, or 128+N when signal N ended the
	// process (as PID 1, unshare dies of the signal that ended watchdog).
	code     int
	signaled bool
}

// startWatchdog runs watchdog with args; t.Cleanup ends it and checks what it left.
func startWatchdog(t *testing.T, mode runMode, args ...string) *watchdogRun {
	t.Helper()
	return launch(t, mode, stdio{}, args)
}

// startOnTerminal runs watchdog in a new session with tty, a pty's slave side, as its
// stdin and controlling terminal; stdout and stderr stay pipes.
func startOnTerminal(t *testing.T, mode runMode, tty *os.File, args ...string) *watchdogRun {
	t.Helper()
	return launch(t, mode, stdio{stdin: tty, controlling: true}, args)
}

// startWithTerminalStdin runs watchdog in a new session with no controlling terminal
// and tty as its stdin, as `setsid watchdog ...` typed in a terminal does.
func startWithTerminalStdin(t *testing.T, mode runMode, tty *os.File, args ...string) *watchdogRun {
	t.Helper()
	return launch(t, mode, stdio{stdin: tty}, args)
}

// startWithStalledStdout runs watchdog with nobody reading its stdout, as behind a stalled
// log driver, until resumeStdout: watchdog's writes block once the pipe is full.
func startWithStalledStdout(t *testing.T, mode runMode, args ...string) *watchdogRun {
	t.Helper()
	return launch(t, mode, stdio{stalledStdout: true}, args)
}

// stdio is what watchdog's stdin and stdout are connected to, when not the defaults: no
// stdin and a pipe the harness reads.
type stdio struct {
	stdin         *os.File // a terminal, else none
	controlling   bool     // stdin is also the session's controlling terminal
	stalledStdout bool     // stdout is not read until resumeStdout
}

func launch(t *testing.T, mode runMode, streams stdio, args []string) *watchdogRun {
	t.Helper()
	argv := append([]string{watchdogBin}, args...)
	if mode.pid1 {
		requirePIDNamespaces(t)
		argv = append([]string{"unshare", "--pid", "--fork", "--mount-proc"}, argv...)
	}
	dir := t.TempDir()
	w := &watchdogRun{
		t:      t,
		mode:   mode,
		args:   args,
		report: filepath.Join(dir, "report"),
		exited: make(chan struct{}),
	}
	w.marker = "FIXTURE_REPORT=" + w.report
	w.cmd = exec.Command(argv[0], argv[1:]...)
	// A socket of its own: parallel runs must not meet at the default path.
	w.cmd.Env = append(os.Environ(), w.marker, "WATCHDOG_CONFIG=", "WATCHDOG_SOCKET="+filepath.Join(dir, "watchdog.sock"))
	// Files, not writers, so that no copying goroutine ties Wait to whoever else holds
	// the pipes: a leftover cannot hang the test, and EOF means the last holder is gone.
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if streams.stalledStdout {
		// The smallest pipe fills after a few dozen lines.
		if _, err := unix.FcntlInt(stdoutW.Fd(), unix.F_SETPIPE_SZ, os.Getpagesize()); err != nil {
			t.Fatal(os.NewSyscallError("fcntl F_SETPIPE_SZ", err))
		}
	}
	w.cmd.Stdout, w.cmd.Stderr = stdoutW, stderrW
	if streams.stdin != nil {
		w.cmd.Stdin = streams.stdin
		w.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: streams.controlling, Ctty: 0}
	}
	err = w.cmd.Start()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		stdoutR.Close()
		stderrR.Close()
		t.Fatalf("start %v: %v", argv, err)
	}
	w.stdout, w.stderr = newLineLog(), newLineLog()
	go w.stderr.read(stderrR)
	if streams.stalledStdout {
		w.stalledStdout = stdoutR
	} else {
		go w.stdout.read(stdoutR)
	}
	go func() {
		w.cmd.Wait() // the exit status is all that matters here, not the error
		status, _ := w.cmd.ProcessState.Sys().(syscall.WaitStatus)
		w.code, w.signaled = w.cmd.ProcessState.ExitCode(), status.Signaled()
		if w.signaled {
			w.code = 128 + int(status.Signal())
		}
		close(w.exited)
	}()
	t.Cleanup(w.teardown)
	w.pid = w.findWatchdog()
	return w
}

func requirePIDNamespaces(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("watchdog as PID 1 needs root to create a PID namespace")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("watchdog as PID 1 needs unshare(1) from util-linux:", err)
	}
}

// findWatchdog returns watchdog's pid. As PID 1 it is the child of unshare, found once it
// has exec'd watchdog.
func (w *watchdogRun) findWatchdog() int {
	if !w.mode.pid1 {
		return w.cmd.Process.Pid
	}
	unshare := w.cmd.Process.Pid
	children := fmt.Sprintf("/proc/%d/task/%d/children", unshare, unshare)
	deadline := time.After(eventTimeout)
	for {
		list, _ := os.ReadFile(children)
		for _, field := range strings.Fields(string(list)) {
			pid, _ := strconv.Atoi(field)
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe == watchdogBin {
				return pid
			}
		}
		select {
		case <-w.exited:
			return 0
		case <-deadline:
			w.t.Fatalf("no watchdog child of unshare (pid %d) after %v", unshare, eventTimeout)
		case <-time.After(pollInterval):
		}
	}
}

// resumeStdout starts reading the stdout of a run started with startWithStalledStdout.
func (w *watchdogRun) resumeStdout() {
	if w.stalledStdout != nil {
		go w.stdout.read(w.stalledStdout)
		w.stalledStdout = nil
	}
}

// signal sends sig to watchdog.
func (w *watchdogRun) signal(sig unix.Signal) {
	w.t.Helper()
	if w.pid == 0 {
		w.t.Fatalf("cannot send %v: watchdog was never seen running", sig)
	}
	if err := unix.Kill(w.pid, sig); err != nil {
		w.t.Fatalf("send %v to watchdog (pid %d): %v", sig, w.pid, err)
	}
}

// waitExit waits for watchdog to exit and returns its exit code. watchdog reports a
// command's death by a signal as the code 128+N; dying of one itself is a failure.
func (w *watchdogRun) waitExit(timeout time.Duration) int {
	w.t.Helper()
	select {
	case <-w.exited:
		if w.signaled {
			w.t.Errorf("watchdog died of signal %d instead of exiting", w.code-128)
		}
		return w.code
	case <-time.After(timeout):
		w.t.Fatalf("watchdog still running %v later", timeout)
		return 0
	}
}

// event is one line of watchdog's JSON log.
type event struct {
	line   int // 0-based line number on stdout
	fields map[string]any
}

func parseEvent(line string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	return fields, nil
}

// get returns a field as text ("" when missing): numbers as written, strings as they are.
func (e event) get(key string) string {
	v, ok := e.fields[key]
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

func (e event) time(t *testing.T) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, e.get("ts"))
	if err != nil {
		t.Fatalf("event %v: ts: %v", e.fields, err)
	}
	return ts
}

// matches reports whether the event is msg with every key/value pair of fields.
func (e event) matches(msg string, fields []any) bool {
	if e.get("msg") != msg {
		return false
	}
	for i := 0; i+1 < len(fields); i += 2 {
		key := fields[i].(string)
		if _, ok := e.fields[key]; !ok || e.get(key) != fmt.Sprint(fields[i+1]) {
			return false
		}
	}
	return true
}

func describeEvent(msg string, fields []any) string {
	return strings.TrimSpace(fmt.Sprintln(append([]any{msg}, fields...)...))
}

// events returns the events logged so far that are msg with the given fields.
func (w *watchdogRun) events(msg string, fields ...any) []event {
	lines, _, _ := w.stdout.snapshot()
	var found []event
	for i, line := range lines {
		if parsed, err := parseEvent(line); err == nil {
			if e := (event{line: i, fields: parsed}); e.matches(msg, fields) {
				found = append(found, e)
			}
		}
	}
	return found
}

// waitEvent waits for an event msg with the given key/value fields, e.g.
// waitEvent("exited", "exit_code", 3), and returns the first one.
func (w *watchdogRun) waitEvent(msg string, fields ...any) event {
	w.t.Helper()
	return w.waitAnyEvent([]string{msg}, fields...)
}

// waitAnyEvent is waitEvent for an event that may be logged under any of msgs.
func (w *watchdogRun) waitAnyEvent(msgs []string, fields ...any) event {
	w.t.Helper()
	var found event
	ok := w.stdout.wait(eventTimeout, func(i int, line string) bool {
		parsed, err := parseEvent(line)
		if err != nil {
			return false
		}
		found = event{line: i, fields: parsed}
		return slices.ContainsFunc(msgs, func(msg string) bool { return found.matches(msg, fields) })
	})
	if !ok {
		when := fmt.Sprintf("within %v", eventTimeout)
		if _, closed, _ := w.stdout.snapshot(); closed {
			when = "before it was closed"
		}
		w.t.Fatalf("no %q event on watchdog's stdout %s", describeEvent(strings.Join(msgs, " or "), fields), when)
	}
	return found
}

// reports returns the fixture's report lines that start with the words of prefix.
func (w *watchdogRun) reports(prefix string) []string {
	data, err := os.ReadFile(w.report)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		w.t.Fatal(err)
	}
	var found []string
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(line+" ", prefix+" ") {
			found = append(found, line)
		}
	}
	return found
}

// waitReport waits until the fixture has reported a line starting with the words of
// prefix n times, e.g. waitReport("grandchild signal 10", 1), and returns those lines.
func (w *watchdogRun) waitReport(prefix string, n int) []string {
	w.t.Helper()
	return w.waitReportWithin(eventTimeout, prefix, n)
}

// waitReportWithin is waitReport for reports that may take longer than eventTimeout.
func (w *watchdogRun) waitReportWithin(timeout time.Duration, prefix string, n int) []string {
	w.t.Helper()
	deadline := time.After(timeout)
	for {
		if found := w.reports(prefix); len(found) >= n {
			return found
		}
		select {
		case <-deadline:
			w.t.Fatalf("fixture reported %q %d times within %v, want %d", prefix, len(w.reports(prefix)), timeout, n)
		case <-time.After(pollInterval):
		}
	}
}

// leftovers returns the live processes this run started, wherever they were reparented.
func (w *watchdogRun) leftovers() []proc {
	var left []proc
	for _, p := range descendantsOf(allProcs(), os.Getpid()) {
		if !p.zombie() && hasEnv(p.pid, w.marker) {
			left = append(left, p)
		}
	}
	return left
}

// teardown ends watchdog if the test did not, fails the test for any process left
// running after a watchdog that exited by itself, checks the log format, and shows
// everything watchdog wrote when the test failed.
func (w *watchdogRun) teardown() {
	t := w.t
	exitedByItself := true
	select {
	case <-w.exited:
	default:
		exitedByItself = false
		// As PID 1 its death ends the whole namespace, and unshare with it.
		target := w.pid
		if target == 0 {
			target = w.cmd.Process.Pid
		}
		unix.Kill(target, unix.SIGKILL)
		<-w.exited
	}
	w.resumeStdout()
	left := w.leftovers()
	if exitedByItself && len(left) > 0 {
		t.Errorf("still running after watchdog exited (DESIGN.md invariant 7): %v", left)
	}
	killAndReap(t, left)
	if !w.stdout.waitClosed(eventTimeout) {
		t.Errorf("watchdog's stdout still open %v after it exited", eventTimeout)
	}
	w.stderr.waitClosed(eventTimeout)
	w.checkLogFormat()
	if t.Failed() {
		stdout, _, _ := w.stdout.snapshot()
		stderr, _, _ := w.stderr.snapshot()
		report, _ := os.ReadFile(w.report)
		t.Logf("watchdog %s as %s exited %d\n--- stdout\n%s\n--- stderr\n%s\n--- fixture reports\n%s",
			strings.Join(w.args, " "), w.mode.name, w.code,
			strings.Join(stdout, "\n"), strings.Join(stderr, "\n"), report)
	}
}

// killAndReap ends leftovers: SIGKILL, then, as each comes back to the test process (the
// subreaper above them all), a wait4 for it alone, so no other test's child is reaped.
func killAndReap(t *testing.T, left []proc) {
	for _, p := range left {
		unix.Kill(p.pid, unix.SIGKILL)
	}
	deadline := time.Now().Add(eventTimeout)
	for _, p := range left {
		for {
			now, err := readProc(p.pid)
			if err != nil {
				break // its parent reaped it
			}
			if now.ppid == os.Getpid() {
				var status unix.WaitStatus
				unix.Wait4(p.pid, &status, 0, nil)
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("leftover %v not reaped within %v", now, eventTimeout)
				break
			}
			time.Sleep(pollInterval)
		}
	}
}

// tsFormat is DESIGN.md's `ts`: RFC 3339, UTC, milliseconds.
var tsFormat = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// checkLogFormat fails the test for every stdout line that is not a JSON event with
// ts, level and msg, or a service's output line (log = "json") with ts, service, stream
// and line: stdout is the container's log stream.
func (w *watchdogRun) checkLogFormat() {
	lines, _, _ := w.stdout.snapshot()
	for i, line := range lines {
		fields, err := parseEvent(line)
		if err != nil {
			w.t.Errorf("stdout line %d is not JSON (%v): %q", i+1, err, line)
			continue
		}
		e := event{line: i, fields: fields}
		_, output := fields["line"]
		switch {
		case !tsFormat.MatchString(e.get("ts")):
			w.t.Errorf("stdout line %d: ts is not RFC 3339 UTC with milliseconds: %q", i+1, line)
		case output && (e.get("service") == "" || e.get("stream") == ""):
			w.t.Errorf("stdout line %d: service output without service or stream: %q", i+1, line)
		case output:
		case e.get("level") == "":
			w.t.Errorf("stdout line %d: no level: %q", i+1, line)
		case e.get("msg") == "":
			w.t.Errorf("stdout line %d: no msg: %q", i+1, line)
		}
	}
}

// lineLog collects the lines read from a pipe and wakes waiters on each new one.
type lineLog struct {
	mu      sync.Mutex
	lines   []string      // guarded by mu
	closed  bool          // guarded by mu; EOF or a read error was reached
	changed chan struct{} // guarded by mu; closed and replaced on every change
}

func newLineLog() *lineLog {
	return &lineLog{changed: make(chan struct{})}
}

// read collects r's lines until EOF or an error, then closes r.
func (l *lineLog) read(r io.ReadCloser) {
	defer r.Close()
	in := bufio.NewReader(r)
	for {
		line, err := in.ReadString('\n')
		if line != "" {
			l.update(func() { l.lines = append(l.lines, strings.TrimSuffix(line, "\n")) })
		}
		if err != nil {
			l.update(func() { l.closed = true })
			return
		}
	}
}

func (l *lineLog) update(change func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	change()
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *lineLog) snapshot() (lines []string, closed bool, changed <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines, l.closed, l.changed
}

// wait calls match on each line, old and new, until it returns true (wait reports true),
// the pipe is closed or the timeout passes.
func (l *lineLog) wait(timeout time.Duration, match func(i int, line string) bool) bool {
	deadline := time.After(timeout)
	for seen := 0; ; {
		lines, closed, changed := l.snapshot()
		for ; seen < len(lines); seen++ {
			if match(seen, lines[seen]) {
				return true
			}
		}
		if closed {
			return false
		}
		select {
		case <-changed:
		case <-deadline:
			return false
		}
	}
}

func (l *lineLog) waitClosed(timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		_, closed, changed := l.snapshot()
		if closed {
			return true
		}
		select {
		case <-changed:
		case <-deadline:
			return false
		}
	}
}
