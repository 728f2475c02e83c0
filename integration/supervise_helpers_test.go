package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Helpers of the supervise_* tests: watchdog run with a config file, its events counted and
// ordered, and its control socket used by `watchdog status|start|stop|restart` run as
// separate processes on the host.

// tomlList writes words as a TOML array of basic strings. The words are paths and fixture
// arguments, for which Go's quoting and TOML's agree.
func tomlList(words ...string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = strconv.Quote(w)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// fixtureCmd is the `command =` value of a service that runs the fixture with args.
func fixtureCmd(args ...string) string {
	return tomlList(append([]string{fixtureBin}, args...)...)
}

// writeConfig writes text to watchdog.toml in a new temporary directory and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "watchdog.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// superviseConfig runs watchdog as PID 1 of a new PID namespace with the config text, and
// args after --config FILE.
func superviseConfig(t *testing.T, text string, args ...string) *watchdogRun {
	t.Helper()
	return startWatchdog(t, asPID1, append([]string{"--config", writeConfig(t, text)}, args...)...)
}

// waitEventCount waits until n events msg with the given fields were logged and returns them.
func waitEventCount(w *watchdogRun, n int, msg string, fields ...any) []event {
	w.t.Helper()
	var found []event
	ok := w.stdout.wait(eventTimeout, func(i int, line string) bool {
		if parsed, err := parseEvent(line); err == nil {
			if e := (event{line: i, fields: parsed}); e.matches(msg, fields) {
				found = append(found, e)
			}
		}
		return len(found) >= n
	})
	if !ok {
		w.t.Fatalf("%d %q events on watchdog's stdout within %v, want %d", len(found), describeEvent(msg, fields), eventTimeout, n)
	}
	return found
}

// waitEventAfter waits for the first event msg with the given fields logged after e.
func waitEventAfter(w *watchdogRun, e event, msg string, fields ...any) event {
	w.t.Helper()
	var found event
	ok := w.stdout.wait(eventTimeout, func(i int, line string) bool {
		if i <= e.line {
			return false
		}
		parsed, err := parseEvent(line)
		found = event{line: i, fields: parsed}
		return err == nil && found.matches(msg, fields)
	})
	if !ok {
		w.t.Fatalf("no %q event after %v within %v", describeEvent(msg, fields), e.fields, eventTimeout)
	}
	return found
}

// between is the time from a to b by their `ts` fields.
func between(t *testing.T, a, b event) time.Duration {
	t.Helper()
	return b.time(t).Sub(a.time(t))
}

// eventPID is an event's `pid` field as a number.
func eventPID(t *testing.T, e event) int {
	t.Helper()
	pid, err := strconv.Atoi(e.get("pid"))
	if err != nil {
		t.Fatalf("event %v: pid: %v", e.fields, err)
	}
	return pid
}

// reportPID is the pid at the end of a fixture report line ("... pid=N").
func reportPID(t *testing.T, line string) int {
	t.Helper()
	_, after, ok := strings.Cut(line, " pid=")
	pid, err := strconv.Atoi(after)
	if !ok || err != nil {
		t.Fatalf("report %q: no pid", line)
	}
	return pid
}

// hostPID translates pid, as watchdog's PID namespace numbers it, to the test's numbering,
// by the NSpid lines of watchdog's descendants. The process must be alive. Only watchdog's
// own tree is walked, so that the lookup stays quick however busy the machine is; the walk is
// repeated, since a process reparented while it runs is in neither parent's list.
func hostPID(w *watchdogRun, pid int) int {
	w.t.Helper()
	if !w.mode.pid1 {
		return pid
	}
	deadline := time.Now().Add(eventTimeout)
	for {
		if found := findBelow(w.pid, pid); found != 0 {
			return found
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("no process below watchdog has pid %d in watchdog's PID namespace", pid)
		}
		time.Sleep(pollInterval)
	}
}

// findBelow returns the descendant of root whose pid in its own PID namespace is pid, or 0.
func findBelow(root, pid int) int {
	for queue := []int{root}; len(queue) > 0; queue = queue[1:] {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", queue[0]))
		for _, task := range tasks {
			children, _ := os.ReadFile(task)
			for _, field := range strings.Fields(string(children)) {
				child, err := strconv.Atoi(field)
				if err != nil {
					continue
				}
				if innermostPID(child) == pid {
					return child
				}
				queue = append(queue, child)
			}
		}
	}
	return 0
}

// innermostPID is pid's number in its own PID namespace, the last of its NSpid line; 0 when
// it is gone.
func innermostPID(pid int) int {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if ids, ok := strings.CutPrefix(line, "NSpid:"); ok {
			if f := strings.Fields(ids); len(f) > 0 {
				n, _ := strconv.Atoi(f[len(f)-1])
				return n
			}
		}
	}
	return 0
}

// existsInNamespace reports whether watchdog's PID namespace still has a process, zombies
// included, with pid as that namespace numbers it. watchdog must be running.
func existsInNamespace(w *watchdogRun, pid int) bool {
	w.t.Helper()
	procDir := "/proc"
	if w.mode.pid1 {
		// The namespace's own /proc, mounted by unshare --mount-proc, seen through
		// watchdog's root.
		procDir = fmt.Sprintf("/proc/%d/root/proc", w.pid)
		if _, err := os.Stat(filepath.Join(procDir, "1")); err != nil {
			w.t.Fatalf("cannot see watchdog's PID namespace: %v", err)
		}
	}
	_, err := os.Stat(filepath.Join(procDir, strconv.Itoa(pid)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		w.t.Fatal(err)
	}
	return err == nil
}

// clientResult is what one run of a watchdog client command printed and its exit code.
type clientResult struct {
	stdout, stderr string
	code           int
}

func (r clientResult) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// runClient runs bin (watchdogBin or a copy of it) with args as a separate process on the host,
// outside watchdog's namespaces, with attr's credentials if attr is not nil.
func runClient(t *testing.T, bin string, attr *syscall.SysProcAttr, args ...string) clientResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// Only what the arguments say: no socket or config from the environment.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WATCHDOG_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.SysProcAttr = attr
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run %s %s: %v", bin, strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %s still running after %v", bin, strings.Join(args, " "), eventTimeout)
	}
	return clientResult{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// controlSocket waits until watchdog listens on its control socket and returns its path.
func controlSocket(w *watchdogRun) string {
	w.t.Helper()
	path := w.waitEvent("control_listening").get("path")
	if path == "" {
		w.t.Fatal("control_listening event without a path")
	}
	return path
}

// status runs `watchdog status --socket socket` and returns its result with its lines by
// service name.
func status(t *testing.T, socket string) (clientResult, map[string]string) {
	t.Helper()
	res := runClient(t, watchdogBin, nil, "status", "--socket", socket)
	lines := make(map[string]string)
	for line := range strings.Lines(res.stdout) {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "Service "); ok {
			if name, _, ok := strings.Cut(rest, ":"); ok {
				lines[name] = line
			}
		}
	}
	return res, lines
}

// wantStatusLine fails the test unless the status line of service holds every one of words.
func wantStatusLine(t *testing.T, res clientResult, lines map[string]string, service string, words ...string) {
	t.Helper()
	line, ok := lines[service]
	if !ok {
		t.Errorf("`watchdog status` has no line for %s: %v", service, res)
		return
	}
	for _, word := range words {
		if !strings.Contains(line, word) {
			t.Errorf("status line %q does not say %q", line, word)
		}
	}
}

// worldDir makes a directory every user may enter, removed when the test ends: for sockets and
// binaries that a client running as another user must reach.
func worldDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "watchdog-world-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// copyExecutable copies the file at src into dir, mode 0755, and returns the copy's path.
func copyExecutable(t *testing.T, src, dir string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, filepath.Base(src))
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// waitStatus runs `watchdog status` until the line of service holds every one of words, and
// returns that result and its lines.
func waitStatus(t *testing.T, socket, service string, words ...string) (clientResult, map[string]string) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for {
		res, lines := status(t, socket)
		line, ok := lines[service]
		if ok {
			for _, word := range words {
				ok = ok && strings.Contains(line, word)
			}
		}
		if ok {
			return res, lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status line for %s saying %q within %v; last: %v", service, words, eventTimeout, res)
		}
		time.Sleep(5 * pollInterval)
	}
}
