package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSuperviseControlStopStartRestart(t *testing.T) {
	t.Parallel()
	// The socket in a directory anyone may enter, so that only the socket's own mode and
	// watchdog's peer check stand between another user and watchdog.
	dir := worldDir(t)
	socket := filepath.Join(dir, "watchdog.sock")
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q

[services.web]
command = %s
environment = { FIXTURE_ROLE = "web" }

[services.other]
command = %s
environment = { FIXTURE_ROLE = "other" }
`, socket, fixtureCmd("signals"), fixtureCmd("sleep")), "--socket", socket)
	if got := controlSocket(w); got != socket {
		t.Fatalf("watchdog listens on %s, want %s", got, socket)
	}
	first := w.waitEvent("started", "service", "web")
	w.waitReport("web ready", 1)
	w.waitReport("other ready", 1)
	res, lines := waitStatus(t, socket, "web", "UP", fmt.Sprintf("pid %s,", first.get("pid")))
	if res.code != 0 {
		t.Errorf("`watchdog status` with every service up: %v, want exit 0", res)
	}
	wantStatusLine(t, res, lines, "other", "UP")

	t.Run("socket file", func(t *testing.T) {
		info, err := os.Lstat(socket)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Type() != os.ModeSocket || info.Mode().Perm() != 0o600 {
			t.Errorf("control socket mode %v, want a socket with mode 0600", info.Mode())
		}
		if uid := info.Sys().(*syscall.Stat_t).Uid; uid != uint32(os.Geteuid()) {
			t.Errorf("control socket owned by uid %d, want watchdog's %d", uid, os.Geteuid())
		}
	})

	// stop: down and held down, which is as wanted.
	if res := runClient(t, watchdogBin, nil, "stop", "--socket", socket, "web"); res.code != 0 {
		t.Fatalf("`watchdog stop web`: %v, want exit 0", res)
	}
	w.waitEvent("stopping", "service", "web", "pid", first.get("pid"), "signal", "SIGTERM")
	stopped := w.waitEvent("exited", "service", "web", "pid", first.get("pid"), "exit_code", 0)
	w.waitReport(reportedSignal("web", unix.SIGTERM), 1)
	res, lines = waitStatus(t, socket, "web", "DOWN", "stopped")
	if res.code != 0 {
		t.Errorf("`watchdog status` with web stopped by the operator: %v, want exit 0", res)
	}
	wantStatusLine(t, res, lines, "other", "UP")

	// start: up again with a new process, and nothing started it before.
	if res := runClient(t, watchdogBin, nil, "start", "--socket", socket, "web"); res.code != 0 {
		t.Fatalf("`watchdog start web`: %v, want exit 0", res)
	}
	second := waitEventAfter(w, stopped, "started", "service", "web")
	if second.get("pid") == first.get("pid") {
		t.Errorf("web started with the stopped process's pid %s", first.get("pid"))
	}
	if started := w.events("started", "service", "web"); len(started) != 2 {
		t.Errorf("web started %d times by the time of the start command's run, want 2", len(started))
	}
	w.waitReport("web ready", 2)
	waitStatus(t, socket, "web", "UP", fmt.Sprintf("pid %s,", second.get("pid")))

	// restart: the running process is stopped and a new one started.
	if res := runClient(t, watchdogBin, nil, "restart", "--socket", socket, "web"); res.code != 0 {
		t.Fatalf("`watchdog restart web`: %v, want exit 0", res)
	}
	waitEventAfter(w, second, "exited", "service", "web", "pid", second.get("pid"))
	third := waitEventAfter(w, second, "started", "service", "web")
	if third.get("pid") == second.get("pid") {
		t.Errorf("web restarted with the same pid %s", third.get("pid"))
	}
	w.waitReport("web ready", 3)
	waitStatus(t, socket, "web", "UP", fmt.Sprintf("pid %s,", third.get("pid")))

	// Another user may not: the socket's mode keeps a plain client out, and watchdog's peer
	// check refuses one that can pass the file's mode.
	client := copyExecutable(t, watchdogBin, dir)
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	t.Run("uid 65534", func(t *testing.T) {
		res := runClient(t, client, &syscall.SysProcAttr{Credential: nobody}, "stop", "--socket", socket, "web")
		if res.code == 0 || !strings.Contains(res.stderr, "permission denied") {
			t.Errorf("`watchdog stop web` as uid 65534: %v, want a failure: permission denied", res)
		}
	})
	t.Run("uid 65534 past the file mode", func(t *testing.T) {
		attr := &syscall.SysProcAttr{Credential: nobody, AmbientCaps: []uintptr{unix.CAP_DAC_OVERRIDE}}
		res := runClient(t, client, attr, "stop", "--socket", socket, "web")
		if res.code == 0 || !strings.Contains(res.stderr, "uid 65534") {
			t.Errorf("`watchdog stop web` as uid 65534 with CAP_DAC_OVERRIDE: %v, want a refusal naming uid 65534", res)
		}
		w.waitEvent("control_refused", "uid", 65534)
	})
	res, _ = waitStatus(t, socket, "web", "UP", fmt.Sprintf("pid %s,", third.get("pid")))
	if res.code != 0 {
		t.Errorf("`watchdog status` after the refused clients: %v, want exit 0", res)
	}

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
	w.waitEvent("shutdown_complete")
	if exited := w.events("exited", "service", "web"); len(exited) != 3 {
		t.Errorf("web exited %d times in all, want 3: stop, restart and shutdown", len(exited))
	}
	if _, err := os.Lstat(socket); !os.IsNotExist(err) {
		t.Errorf("control socket still there after watchdog exited: %v", err)
	}
}
