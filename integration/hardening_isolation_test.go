package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// freePort returns a TCP port on 127.0.0.1 that nothing listened on a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// socketCount is how many sockets pid holds.
func socketCount(t *testing.T, pid int) int {
	t.Helper()
	n := 0
	for _, target := range fdTable(t, pid) {
		if strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

// lsDir is the target of the descriptor `ls -l /proc/self/fd/` reads the directory with.
var lsDir = regexp.MustCompile(`^/proc/(\d+)/fd$`)

// fdListings parses what `ls -l /proc/self/fd/` printed, one line each: "total 0", then
// "lr-x------ 1 root root 64 ... 0 -> /dev/null" per descriptor. Each listing starts at its
// "total" line, and is keyed by the pid of the ls that printed it (its own directory
// descriptor, which is left out). Lines from any other output are ignored.
func fdListings(t *testing.T, lines []string) map[int]map[int]string {
	t.Helper()
	listings := map[int]map[int]string{}
	var current map[int]string
	pid := 0
	flush := func() {
		if current != nil {
			if pid == 0 {
				t.Errorf("a listing without ls's own directory: %s", describeFDs(current))
			} else if _, dup := listings[pid]; dup {
				t.Errorf("two listings from pid %d", pid)
			}
			listings[pid] = current
		}
		current, pid = nil, 0
	}
	for _, line := range lines {
		if strings.HasPrefix(line, "total ") {
			flush()
			current = map[int]string{}
			continue
		}
		left, target, ok := strings.Cut(strings.TrimSpace(line), " -> ")
		if !ok || current == nil {
			continue
		}
		f := strings.Fields(left)
		fd, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			t.Fatalf("listing line %q", line)
		}
		if m := lsDir.FindStringSubmatch(target); m != nil && pid == 0 {
			pid, _ = strconv.Atoi(m[1])
			continue
		}
		current[fd] = target
	}
	flush()
	return listings
}

// outputLines returns the lines service wrote on stream, from watchdog's log (log = "json").
func outputLines(w *watchdogRun, service, stream string) []string {
	var out []string
	lines, _, _ := w.stdout.snapshot()
	for _, line := range lines {
		if fields, err := parseEvent(line); err == nil && fields["service"] == service && fields["stream"] == stream {
			out = append(out, fmt.Sprint(fields["line"]))
		}
	}
	return out
}

// passedThrough returns the descriptors above 2 that this test process holds without
// close-on-exec: whatever ran it left them open, and every child it starts inherits them,
// watchdog included. (A shell's `10</dev/null`, say.) They are not watchdog's own.
func passedThrough(t *testing.T) map[int]string {
	t.Helper()
	fds := map[int]string{}
	for fd, target := range fdTable(t, os.Getpid()) {
		if fd <= 2 {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			fds[fd] = target
		}
	}
	return fds
}

// wantOnlyStdio fails the test unless fds holds exactly 0, 1 and 2 (besides what watchdog's
// own parent passed through, same number, same file), with 0 /dev/null, and 1 and 2 what the
// service's log mode gives it: watchdog's own stdout and stderr, or pipes of its own (not in
// taken, the pipes other services got, which it adds them to).
func wantOnlyStdio(t *testing.T, what string, fds, through map[int]string, inherit [2]string, json bool, taken map[string]string) {
	t.Helper()
	for fd, target := range fds {
		if fd > 2 && through[fd] != target {
			t.Errorf("%s holds descriptors %s, want only 0, 1 and 2 (and %s, passed through from the test)",
				what, describeFDs(fds), describeFDs(through))
			break
		}
	}
	if fds[0] != "/dev/null" {
		t.Errorf("%s: stdin is %q, want /dev/null", what, fds[0])
	}
	for i, fd := range []int{1, 2} {
		switch {
		case !json && fds[fd] != inherit[i]:
			t.Errorf("%s: fd %d is %q, want watchdog's own %s", what, fd, fds[fd], inherit[i])
		case json && (!strings.HasPrefix(fds[fd], "pipe:") || fds[fd] == inherit[0] || fds[fd] == inherit[1]):
			t.Errorf("%s: fd %d is %q, want a pipe of its own", what, fd, fds[fd])
		case json && taken[fds[fd]] != "" && taken[fds[fd]] != what:
			t.Errorf("%s: fd %d is %s, which %s has", what, fd, fds[fd], taken[fds[fd]])
		case json:
			taken[fds[fd]] = what
		}
	}
}

// Services never inherit watchdog's descriptors. While watchdog holds its control socket (the
// listener and a client's connection), notify sockets, the metrics listener and a scrape's
// connection, and the log pipes of other services, a service that restarts again and again
// lists its descriptors at each start (ls -l /proc/self/fd/, printed into watchdog's log),
// long-running services are read from /proc, and a failing health check command lists its
// own: each has 0, 1 and 2 only.
func TestHardeningNoInheritedDescriptors(t *testing.T) {
	t.Parallel()
	socket := filepath.Join(t.TempDir(), "watchdog.sock")
	port := freePort(t)
	through := passedThrough(t)
	if len(through) > 0 {
		t.Logf("descriptors this test passes to watchdog, and watchdog to its services: %s", describeFDs(through))
	}
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q
metrics_address = "127.0.0.1:%d"

[services.logged]
command = ["/bin/sleep", "1000"]
log = "json"

[services.notified]
command = ["/bin/sleep", "1000"]
notify = true
log = "json"

[services.plain]
command = ["/bin/sleep", "1000"]
notify = true

[services.plain.healthcheck]
# Fails, so that its output, the listing, is logged with the unhealthy event.
command = ["/bin/ls", "-l", "/proc/self/fd/", "/nonexistent"]
retries = 1
on_unhealthy = "ignore"

[services.reporter]
command = ["/bin/ls", "-l", "/proc/self/fd/"]
log = "json"
restart_delay = "100ms"
restart_max_delay = "200ms"
`, socket, port), "--socket", socket)
	controlSocket(w)
	w.waitEvent("metrics_listening")
	pids := map[string]int{}
	for _, name := range []string{"logged", "notified", "plain"} {
		pids[name] = hostPID(w, eventPID(t, w.waitEvent("started", "service", name)))
	}

	// A scrape's connection, kept alive: a socket watchdog holds until its idle timeout.
	scrape, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), eventTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer scrape.Close()
	scrape.SetDeadline(time.Now().Add(eventTimeout))
	if _, err := io.WriteString(scrape, "GET /metrics HTTP/1.1\r\nHost: watchdog\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(scrape), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("scrape: %s, close %t; want 200 on a connection kept alive", resp.Status, resp.Close)
	}

	// A control client that connects and says nothing holds a connection until the server's
	// timeout. Wait until watchdog has accepted it, then for a start of reporter, and make sure
	// the connection was still there after that start: then it existed when reporter forked.
	sockets := settledSockets(t, w.pid)
	var covered event
	for attempt := 0; attempt < 5 && covered.fields == nil; attempt++ {
		conn, err := net.DialTimeout("unix", socket, eventTimeout)
		if err != nil {
			t.Fatal(err)
		}
		if !waitSockets(t, w.pid, sockets+1) {
			conn.Close()
			continue
		}
		lines, _, _ := w.stdout.snapshot()
		start := waitEventAfter(w, event{line: len(lines) - 1}, "started", "service", "reporter")
		if socketCount(t, w.pid) > sockets {
			covered = start
		}
		conn.Close()
	}
	if covered.fields == nil {
		t.Fatal("no start of reporter while a control client was connected, in 5 attempts")
	}
	pid := eventPID(t, covered)
	// Its listing is in the log once the next run has started: the pipes of a run are drained
	// before the run counts as ended.
	waitEventAfter(w, waitEventAfter(w, covered, "exited", "service", "reporter", "pid", pid), "started", "service", "reporter")

	own := fdTable(t, w.pid)
	inherit := [2]string{own[1], own[2]}
	listings := fdListings(t, outputLines(w, "reporter", "stdout"))
	if _, ok := listings[pid]; !ok {
		t.Fatalf("no listing from reporter's run %d among %d", pid, len(listings))
	}
	taken := map[string]string{}
	for run, fds := range listings {
		what := fmt.Sprintf("reporter (pid %d)", run)
		if run == pid {
			what += ", started while a control client was connected,"
		}
		wantOnlyStdio(t, what, fds, through, inherit, true, taken)
	}

	unhealthy := w.waitEvent("unhealthy", "service", "plain")
	probe := fdListings(t, strings.Split(unhealthy.get("output"), "\n"))
	if len(probe) != 1 {
		t.Errorf("the unhealthy event's output holds %d listings, want 1: %q", len(probe), unhealthy.get("output"))
	}
	for run, fds := range probe {
		what := fmt.Sprintf("health check (pid %d)", run)
		if fds[1] != fds[2] {
			t.Errorf("%s: fds 1 and 2 are %s and %s, want one pipe", what, fds[1], fds[2])
		}
		wantOnlyStdio(t, what, fds, through, inherit, true, map[string]string{})
	}
	for _, name := range []string{"logged", "notified", "plain"} {
		waitAsleep(t, pids[name])
		wantOnlyStdio(t, name, fdTable(t, pids[name]), through, inherit, name != "plain", taken)
	}
	kinds := map[string]int{}
	for fd, target := range own {
		if through[fd] != target {
			kind, _, _ := strings.Cut(target, ":")
			kinds[kind]++
		}
	}
	t.Logf("watchdog's own descriptors by kind: %v", kinds)
	if kinds["socket"] < 5 || kinds["pipe"] < 6 {
		t.Errorf("watchdog holds %d sockets and %d pipes, want at least 5 (control, metrics, a scrape, 2 notify) and 6 (its stdio and 2 services' output): the test proves less than it says",
			kinds["socket"], kinds["pipe"])
	}

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
}

// settledSockets is the fewest sockets pid holds over ten readings.
func settledSockets(t *testing.T, pid int) int {
	t.Helper()
	least := -1
	for range 10 {
		if n := socketCount(t, pid); least < 0 || n < least {
			least = n
		}
		time.Sleep(pollInterval)
	}
	return least
}

// waitSockets waits until pid holds at least n sockets; false after eventTimeout.
func waitSockets(t *testing.T, pid, n int) bool {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for socketCount(t, pid) < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// Nothing in a config goes through a shell: a command's words, shell syntax and all, are the
// program's argv as written. /bin/echo prints them back; a sleeping process shows them in
// /proc/PID/cmdline; no command substitution ran.
func TestHardeningCommandIsArgvNotShell(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	witness := func(n int) string { return filepath.Join(dir, fmt.Sprintf("pwned%d", n)) }
	echoArgs := []string{
		"$(touch " + witness(1) + ")", ";", "touch", witness(2), "`touch " + witness(3) + "`",
		"|", "&&", "*", "$HOME", "'single'", `"double"`, `back\slash`, ">", witness(4), "#", "-e", `\x41`,
	}
	// The fixture's sleep mode ignores the words after it.
	sleepArgv := []string{fixtureBin, "sleep", "$(touch " + witness(5) + ")", "&", "*", "; touch " + witness(5)}
	w := superviseConfig(t, fmt.Sprintf(`
[services.echo]
command = %s
oneshot = true
log = "json"

[services.argv]
command = %[2]s

[services.argv.healthcheck]
command = ["/bin/true", "$(touch %[3]s)", ";", "touch", %[3]q]
interval = "200ms"
`, tomlList(append([]string{"/bin/echo"}, echoArgs...)...), tomlList(sleepArgv...), witness(6)))

	w.waitEvent("completed", "service", "echo")
	got := outputLines(w, "echo", "stdout")
	if want := strings.Join(echoArgs, " "); len(got) != 1 || got[0] != want {
		t.Errorf("echo printed %q, want the one line %q", got, want)
	}

	argv := hostPID(w, eventPID(t, w.waitEvent("started", "service", "argv")))
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", argv))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00"), sleepArgv; !slices.Equal(got, want) {
		t.Errorf("service argv runs with argv %q, want %q", got, want)
	}
	w.waitEvent("healthy", "service", "argv")

	for n := 1; n <= 6; n++ {
		if _, err := os.Stat(witness(n)); !os.IsNotExist(err) {
			t.Errorf("%s exists: a command went through a shell (%v)", witness(n), err)
		}
	}
	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
}
