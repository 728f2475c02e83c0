package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Helpers of the hardening_* tests: hostile control clients, watchdog run as an unprivileged
// user, and what /proc says about a process's credentials and descriptors.

// nobodyID is the uid and gid of the unprivileged user the tests run things as.
const nobodyID = 65534

// controlAnswer is what a raw control client got: the server's one response line, if any.
type controlAnswer struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	// Line is the raw response line, "" when the server closed the connection without one.
	Line string `json:"-"`
	// Err is why the exchange ended without a response: a refused connect, a reset, a timeout.
	Err error `json:"-"`
	// After is how long the exchange took, from the connect to the end of the connection.
	After time.Duration `json:"-"`
}

func (a controlAnswer) String() string {
	if a.Line == "" {
		return fmt.Sprintf("no answer after %v (%v)", a.After.Round(time.Millisecond), a.Err)
	}
	return fmt.Sprintf("%q after %v", a.Line, a.After.Round(time.Millisecond))
}

// controlExchange connects to socket, sends payload (nothing when nil) and, when halfClose is
// set, shuts down its sending side; then it reads the server's answer and waits for the server
// to close the connection, all within timeout. A payload larger than the socket buffers is
// written while the answer is read: a server that refuses it early must not deadlock the client.
func controlExchange(socket string, payload []byte, halfClose bool, timeout time.Duration) controlAnswer {
	start := time.Now()
	conn, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		return controlAnswer{Err: err, After: time.Since(start)}
	}
	defer conn.Close()
	conn.SetDeadline(start.Add(timeout))
	uc := conn.(*net.UnixConn)
	written := make(chan struct{})
	go func() {
		defer close(written)
		if payload != nil {
			uc.Write(payload) // the server may refuse before reading it all: EPIPE is expected
		}
		if halfClose {
			uc.CloseWrite()
		}
	}()
	in := bufio.NewReader(uc)
	line, err := in.ReadString('\n')
	a := controlAnswer{Line: strings.TrimSuffix(line, "\n")}
	if err == nil {
		// The server closes the connection after its one line: nothing more may come.
		var rest []byte
		rest, err = io.ReadAll(in)
		if len(rest) > 0 {
			err = fmt.Errorf("%d more bytes after the response line: %q", len(rest), rest)
		}
	}
	// A server that closes a connection with unread input resets it: after the response
	// line, that is the server hanging up, as an EOF is.
	if err != nil && !errors.Is(err, io.EOF) && !(a.Line != "" && errors.Is(err, unix.ECONNRESET)) {
		a.Err = err
	}
	a.After = time.Since(start)
	uc.Close() // unblocks a write still under way
	<-written
	if a.Line != "" {
		if jerr := json.Unmarshal([]byte(a.Line), &a); jerr != nil {
			a.Err = fmt.Errorf("response is not JSON: %w", jerr)
		}
	}
	return a
}

// procStatus returns the fields of /proc/PID/status by name, e.g. "Uid" -> "0\t0\t0\t0".
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for line := range strings.Lines(string(data)) {
		if key, value, ok := strings.Cut(line, ":"); ok {
			fields[key] = strings.TrimSpace(value)
		}
	}
	return fields
}

// procEnv returns pid's environment by name.
func procEnv(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for entry := range strings.SplitSeq(strings.TrimSuffix(string(data), "\x00"), "\x00") {
		k, v, _ := strings.Cut(entry, "=")
		env[k] = v
	}
	return env
}

// fdTable returns pid's open descriptors and what each refers to ("pipe:[123]", "/dev/null").
func fdTable(t *testing.T, pid int) map[int]string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fds := map[int]string{}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			target = "(" + err.Error() + ")" // closed while we looked: still worth showing
		}
		fds[fd] = target
	}
	return fds
}

// describeFDs prints a descriptor table in fd order.
func describeFDs(fds map[int]string) string {
	var keys []int
	for fd := range fds {
		keys = append(keys, fd)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, fd := range keys {
		fmt.Fprintf(&b, " %d->%s", fd, fds[fd])
	}
	return strings.TrimSpace(b.String())
}

// waitAsleep waits until pid, a /bin/sleep, is blocked in its sleep: its start-up (the dynamic
// loader opening and closing libraries) is over, so its descriptors are what it inherited.
func waitAsleep(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
		if err != nil {
			t.Fatalf("pid %d: %v", pid, err)
		}
		if f := strings.Fields(string(data)); len(f) > 0 {
			if nr, err := strconv.Atoi(f[0]); err == nil && (nr == unix.SYS_CLOCK_NANOSLEEP || nr == unix.SYS_NANOSLEEP) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d not asleep within %v: /proc/%d/syscall says %q", pid, eventTimeout, pid, data)
		}
		time.Sleep(pollInterval)
	}
}

// startUnprivileged runs bin, a copy of watchdog that any user may execute, as PID 1 of a new
// PID namespace with uid and gid 65534 and no supplementary groups: unshare(1) creates the
// namespace and its /proc as root, then drops to the user before it execs bin. report is the
// fixture's report file, where that user can write it. The run is torn down and checked as
// startWatchdog's runs are.
func startUnprivileged(t *testing.T, bin, report string, args ...string) *watchdogRun {
	t.Helper()
	requirePIDNamespaces(t)
	id := strconv.Itoa(nobodyID)
	argv := append([]string{"unshare", "--pid", "--fork", "--mount-proc", "--setgid", id, "--setuid", id, bin}, args...)
	w := &watchdogRun{t: t, mode: asPID1, args: args, report: report, exited: make(chan struct{})}
	w.marker = "FIXTURE_REPORT=" + report
	w.cmd = exec.Command(argv[0], argv[1:]...)
	w.cmd.Env = append(os.Environ(), w.marker, "WATCHDOG_CONFIG=", "WATCHDOG_SOCKET=")
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.cmd.Stdout, w.cmd.Stderr = stdoutW, stderrW
	err = w.cmd.Start()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		stdoutR.Close()
		stderrR.Close()
		t.Fatalf("start %v: %v", argv, err)
	}
	w.stdout, w.stderr = newLineLog(), newLineLog()
	go w.stdout.read(stdoutR)
	go w.stderr.read(stderrR)
	go func() {
		w.cmd.Wait()
		status, _ := w.cmd.ProcessState.Sys().(syscall.WaitStatus)
		w.code, w.signaled = w.cmd.ProcessState.ExitCode(), status.Signaled()
		if w.signaled {
			w.code = 128 + int(status.Signal())
		}
		close(w.exited)
	}()
	t.Cleanup(w.teardown)
	w.pid = childRunning(t, w, bin)
	return w
}

// childRunning returns the pid of the child of unshare that runs bin, once it has exec'd it.
func childRunning(t *testing.T, w *watchdogRun, bin string) int {
	t.Helper()
	unshare := w.cmd.Process.Pid
	deadline := time.After(eventTimeout)
	for {
		list, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", unshare, unshare))
		for _, field := range strings.Fields(string(list)) {
			pid, _ := strconv.Atoi(field)
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe == bin {
				return pid
			}
		}
		select {
		case <-w.exited:
			t.Fatalf("unshare exited %d before it ran %s", w.code, bin)
		case <-deadline:
			t.Fatalf("no child of unshare (pid %d) runs %s after %v", unshare, bin, eventTimeout)
		case <-time.After(pollInterval):
		}
	}
}

// nobodyDir makes a directory in dir owned by uid and gid 65534, for what an unprivileged
// watchdog or service must write.
func nobodyDir(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, nobodyID, nobodyID); err != nil {
		t.Fatal(err)
	}
	return path
}
