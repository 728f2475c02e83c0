package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// depends_on waits until every dependency is ready: one whose healthcheck passed, one that sent
// READY=1 (on the last line of a datagram that starts with STATUS=). Passing its healthcheck
// does not make a notify service ready, and its STATUS= text is in `watchdog status`.
func TestHealthDependsOnWaitsForHealthAndReady(t *testing.T) {
	t.Parallel()
	trueBin, err := exec.LookPath("true")
	if err != nil {
		t.Skip("needs true(1):", err)
	}
	dir := socketDir(t)
	socket := filepath.Join(dir, "watchdog.sock")
	sick, goReady, goServe := filepath.Join(dir, "sick"), filepath.Join(dir, "ready"), filepath.Join(dir, "serve")
	touchFile(t, sick)
	port := probePort(t)
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q

# Ready once its healthcheck passes.
[services.web]
command = %s
environment = { FIXTURE_ROLE = "web" }

[services.web.healthcheck]
http = "http://127.0.0.1:%s/healthz"
interval = "200ms"
timeout = "2s"
start_period = "60s"

# Healthy at once, ready only on READY=1.
[services.notifier]
command = %s
environment = { FIXTURE_ROLE = "notifier" }
notify = true

[services.notifier.healthcheck]
command = [%q]
interval = "10s"

[services.app]
command = %s
environment = { FIXTURE_ROLE = "app" }
depends_on = ["web", "notifier"]
`, socket, fixtureCmd("http-health", port, sick), port,
		fixtureCmd("notify-ready", goReady, goServe), trueBin, fixtureCmd("sleep")), "--socket", socket)

	healthy := w.waitEvent("healthy", "service", "notifier")
	w.waitReport("notifier waiting", 1)
	w.waitReport("web healthz 503", 1)
	// ready would have been logged with healthy, at once.
	res, lines := status(t, socket)
	wantStatusLine(t, res, lines, "notifier", "UP", "healthy", "starting")
	wantStatusLine(t, res, lines, "web", "UP", "starting")
	wantStatusLine(t, res, lines, "app", "DOWN", "waiting", "waiting for web")
	if ready := w.events("ready"); len(ready) != 0 {
		t.Errorf("ready events before any READY=1 or passed web probe: %v", ready[0].fields)
	}

	touchFile(t, goReady)
	notifierReady := w.waitEvent("ready", "service", "notifier")
	if notifierReady.line < healthy.line {
		t.Errorf("notifier ready (line %d) before its healthcheck passed (line %d)", notifierReady.line, healthy.line)
	}
	// The fixture reports after it sent: the report may come after the event.
	if sent := w.waitReport("notifier notified ready", 1); len(sent) != 1 {
		t.Errorf("notifier ready with %d READY=1 datagrams sent, want 1", len(sent))
	}
	res, lines = status(t, socket)
	wantStatusLine(t, res, lines, "notifier", "UP", "healthy", "up ", `"warming up"`)
	wantStatusLine(t, res, lines, "app", "DOWN", "waiting for web")
	touchFile(t, goServe)
	waitStatus(t, socket, "notifier", "UP", `"serving"`)

	removeFile(t, sick)
	webReady := w.waitEvent("ready", "service", "web")
	app := w.waitEvent("started", "service", "app")
	if app.line < webReady.line || app.line < notifierReady.line {
		t.Errorf("app started (line %d) before its dependencies were ready (web line %d, notifier line %d)",
			app.line, webReady.line, notifierReady.line)
	}
	if n := len(w.events("started", "service", "app")); n != 1 {
		t.Errorf("app started %d times, want once", n)
	}

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
}

// A notify service that never sends READY=1 is stopped at startup_timeout (event unready);
// with restart = "no" it fails and its dependents stay down, with "on-failure" each run gets
// its own startup_timeout.
func TestHealthStartupTimeout(t *testing.T) {
	t.Parallel()
	const startupTimeout = time.Second
	dir := socketDir(t)
	socket := filepath.Join(dir, "watchdog.sock")
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %[1]q

[services.stuck]
command = %[2]s
notify = true
startup_timeout = %[3]q
restart = "no"

[services.after]
command = %[2]s
depends_on = ["stuck"]

[services.retried]
command = %[2]s
notify = true
startup_timeout = %[3]q
restart = "on-failure"
restart_delay = "100ms"
`, socket, fixtureCmd("sleep"), startupTimeout.String()), "--socket", socket)

	reason := fmt.Sprintf("not ready within startup_timeout %s", startupTimeout)
	started := w.waitEvent("started", "service", "stuck")
	unready := w.waitEvent("unready", "service", "stuck")
	if unready.get("pid") != started.get("pid") || unready.get("reason") != reason {
		t.Errorf("unready event %v, want pid %s and reason %q", unready.fields, started.get("pid"), reason)
	}
	wantGap(t, "from stuck's start to unready", started, unready, startupTimeout-5*time.Millisecond, startupTimeout+time.Second)
	waitEventAfter(w, unready, "stopping", "service", "stuck", "pid", started.get("pid"))
	failed := waitEventAfter(w, unready, "failed", "service", "stuck")
	if failed.get("reason") != reason {
		t.Errorf("failed reason %q, want %q", failed.get("reason"), reason)
	}

	first := w.waitEvent("started", "service", "retried")
	unreadyR := w.waitEvent("unready", "service", "retried", "pid", first.get("pid"))
	restarting := waitEventAfter(w, unreadyR, "restarting", "service", "retried")
	if restarting.get("reason") != reason {
		t.Errorf("restarting reason %q, want %q", restarting.get("reason"), reason)
	}
	second := waitEventAfter(w, restarting, "started", "service", "retried")
	if second.get("pid") == first.get("pid") {
		t.Errorf("retried restarted with the same pid %s", first.get("pid"))
	}
	again := waitEventAfter(w, second, "unready", "service", "retried", "pid", second.get("pid"))
	wantGap(t, "from retried's second start to unready", second, again, startupTimeout-5*time.Millisecond, startupTimeout+time.Second)

	res, lines := status(t, socket)
	if res.code != 3 {
		t.Errorf("`watchdog status` with a failed service: %v, want exit 3", res)
	}
	wantStatusLine(t, res, lines, "stuck", "DOWN", "failed", reason)
	wantStatusLine(t, res, lines, "after", "DOWN", "waiting", "dependency stuck is down for good")
	wantHealth(t, socket, 1, "stuck failed")
	if n := len(w.events("restarting", "service", "stuck")); n != 0 {
		t.Errorf("stuck restarted %d times with restart = \"no\"", n)
	}
	if n := len(w.events("started", "service", "after")); n != 0 {
		t.Errorf("after started %d times though its dependency never became ready", n)
	}

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
}

// A notify service that stops sending WATCHDOG=1 is restarted one watchdog_timeout after its
// last ping; while it pings, however long, it is left alone.
func TestHealthNotifyWatchdogTimeout(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	dir := socketDir(t)
	socket, stop := filepath.Join(dir, "watchdog.sock"), filepath.Join(dir, "stop")
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q

# GODEBUG as the fixture wants it, so that it need not re-execute itself: the first ping is
# due a timeout after the start, and a busy machine is slow to start a process.
[services.pinger]
command = %s
environment = { FIXTURE_ROLE = "pinger", GODEBUG = "asyncpreemptoff=1" }
notify = true
watchdog_timeout = %q
restart_delay = "100ms"
`, socket, fixtureCmd("notify-watchdog", "100ms", stop), timeout.String()), "--socket", socket)

	first := w.waitEvent("started", "service", "pinger")
	pid1 := eventPID(t, first)
	w.waitEvent("ready", "service", "pinger", "pid", pid1)
	env := procEnviron(t, hostPID(w, pid1))
	if want := fmt.Sprintf("WATCHDOG_USEC=%d", timeout.Microseconds()); !env[want] {
		t.Errorf("pinger's environment has no %s", want)
	}
	// Pings for 2.5 timeouts' worth: the timeout runs from the last ping, not from the start.
	w.waitReport("pinger pinged", int(5*timeout/2/(100*time.Millisecond)))
	if early := w.events("watchdog_timeout"); len(early) != 0 {
		t.Fatalf("watchdog_timeout while the service pinged every 100ms: %v", early[0].fields)
	}

	touchFile(t, stop)
	stopped := w.waitReport("pinger stopped-pinging", 1)
	last, err := time.Parse(time.RFC3339Nano, reportField(stopped[0], "last"))
	if err != nil {
		t.Fatalf("report %q: %v", stopped[0], err)
	}
	expired := w.waitEvent("watchdog_timeout", "service", "pinger")
	if eventPID(t, expired) != pid1 {
		t.Errorf("watchdog_timeout for pid %s, want %d", expired.get("pid"), pid1)
	}
	// ts has milliseconds: the event came up to 1ms after its ts.
	if gap := expired.time(t).Sub(last); gap < timeout-100*time.Millisecond || gap > timeout+time.Second {
		t.Errorf("watchdog_timeout %v after the last ping, want within [%v, %v]", gap, timeout-100*time.Millisecond, timeout+time.Second)
	}
	removeFile(t, stop) // the next run pings
	restarting := waitEventAfter(w, expired, "restarting", "service", "pinger")
	if want := fmt.Sprintf("no WATCHDOG=1 within %s", timeout); restarting.get("reason") != want {
		t.Errorf("restarting reason %q, want %q", restarting.get("reason"), want)
	}
	second := waitEventAfter(w, restarting, "started", "service", "pinger")
	if eventPID(t, second) == pid1 {
		t.Errorf("pinger restarted with the same pid %d", pid1)
	}

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
}

// procEnviron is the environment of host process pid as a set of KEY=VALUE entries.
func procEnviron(t *testing.T, pid int) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	env := make(map[string]bool)
	for _, kv := range bytes.Split(data, []byte{0}) {
		env[string(kv)] = true
	}
	return env
}

// procEnvValue is the value of key in an environ set, or "".
func procEnvValue(env map[string]bool, key string) string {
	for kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// A datagram on a service's notify socket from a process outside the service's process group
// is refused, whether watchdog can see the sender (in its PID namespace) or not (on the host);
// the service stays not ready and keeps its own STATUS= text. Its own READY=1 then counts.
func TestHealthNotifyFromOutsideRefused(t *testing.T) {
	t.Parallel()
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Skip("needs nsenter(1):", err)
	}
	dir := socketDir(t)
	socket, goReady := filepath.Join(dir, "watchdog.sock"), filepath.Join(dir, "ready")
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q

[services.quiet]
command = %s
environment = { FIXTURE_ROLE = "quiet" }
notify = true
`, socket, fixtureCmd("notify-ready", goReady)), "--socket", socket)

	started := w.waitEvent("started", "service", "quiet")
	w.waitReport("quiet waiting", 1)
	notifySocket := procEnvValue(procEnviron(t, hostPID(w, eventPID(t, started))), "NOTIFY_SOCKET")
	if notifySocket == "" {
		t.Fatal("quiet's environment has no NOTIFY_SOCKET")
	}
	const hijack = "STATUS=hijacked\nREADY=1"

	// From the host: watchdog cannot even name the sender.
	hold := filepath.Join(dir, "hold-outsider")
	outsider := startSender(t, w, "outsider", fixtureBin, "notify-send", notifySocket, hijack, hold)
	w.waitReport("outsider sent", 1)
	refused := w.waitEvent("notify_refused", "service", "quiet")
	if refused.get("sender_pid") != "0" {
		t.Errorf("refusal %v of a sender outside watchdog's PID namespace, want sender_pid 0", refused.fields)
	}
	touchFile(t, hold)
	outsider.wait()

	// From inside watchdog's PID namespace, alive while watchdog judges: a pid watchdog sees,
	// in another process group.
	hold = filepath.Join(dir, "hold-insider")
	insider := startSender(t, w, "insider", nsenter, "--target", strconv.Itoa(w.pid), "--pid", "--",
		fixtureBin, "notify-send", notifySocket, hijack, hold)
	sent := w.waitReport("insider sent", 1)
	insiderPID := reportPID(t, sent[0])
	refused = waitEventAfter(w, refused, "notify_refused", "service", "quiet", "sender_pid", insiderPID)
	if want := "sender is not in the service's process group"; refused.get("reason") != want {
		t.Errorf("refusal reason %q, want %q", refused.get("reason"), want)
	}
	touchFile(t, hold)
	insider.wait()

	res, lines := status(t, socket)
	wantStatusLine(t, res, lines, "quiet", "UP", "starting")
	if strings.Contains(lines["quiet"], "hijacked") {
		t.Errorf("status line %q shows the refused STATUS=", lines["quiet"])
	}
	wantHealth(t, socket, 1, "quiet starting")
	if ready := w.events("ready"); len(ready) != 0 {
		t.Errorf("ready on a refused READY=1: %v", ready[0].fields)
	}

	// The service's own READY=1 on the same socket counts.
	touchFile(t, goReady)
	w.waitEvent("ready", "service", "quiet")
	waitStatus(t, socket, "quiet", "UP", "up ", `"serving"`)
	wantHealth(t, socket, 0)

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
}

// senderRun is a process the test started beside watchdog, not under it.
type senderRun struct {
	t    *testing.T
	cmd  *exec.Cmd
	done chan struct{}
}

// startSender starts argv on the host with the fixture's report file and role.
func startSender(t *testing.T, w *watchdogRun, role string, argv ...string) *senderRun {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), w.marker, "FIXTURE_ROLE="+role)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &senderRun{t: t, cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("%s stderr: %s", role, stderr.String())
		}
	})
	return s
}

// wait waits for the sender to exit 0.
func (s *senderRun) wait() {
	s.t.Helper()
	select {
	case <-s.done:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			s.t.Errorf("%v exited %d", s.cmd.Args, code)
		}
	case <-time.After(eventTimeout):
		s.t.Fatalf("%v still running after %v", s.cmd.Args, eventTimeout)
	}
}
