package control

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"watchdog/reaper"
	"watchdog/supervisor"
	"watchdog/supervisor/config"
)

// helperEnv names the helper that a re-executed test binary runs instead of the tests.
const helperEnv = "CONTROL_TEST_HELPER"

// wait bounds every wait for an event; reaching it fails the test.
const wait = 10 * time.Second

func TestMain(m *testing.M) {
	switch helper := os.Getenv(helperEnv); helper {
	case "":
		goleak.VerifyTestMain(m)
	case "status":
		os.Exit(helperStatus(os.Args[1]))
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", helper)
		os.Exit(2)
	}
}

// helperResult is what the status helper prints: the outcome of Do.
type helperResult struct {
	Response Response
	Err      string
}

// helperStatus is a client run as another user: it asks the socket at path for the status and
// prints what Do returned as JSON.
func helperStatus(path string) int {
	resp, err := Do(path, Request{Command: CommandStatus})
	res := helperResult{Response: resp}
	if err != nil {
		res.Err = err.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

// twoServices runs two sleeping services, worker after web.
const twoServices = `
[watchdog]
shutdown_timeout = "5s"

[services.web]
command = ["/bin/sleep", "1000"]

[services.worker]
command = ["/bin/sleep", "1000"]
depends_on = ["web"]
`

// harness is a real Supervisor running real processes, served on a control socket.
type harness struct {
	t      *testing.T
	path   string
	reaper *reaper.Reaper
	sup    *supervisor.Supervisor
	srv    *Server
	log    *zap.Logger
	logs   *observer.ObservedLogs
}

// start runs the services of the TOML config under a supervisor and serves it on a socket in
// dir. When the test ends the supervisor is shut down by SIGTERM, as watchdog is, then the
// server is closed and the reaper stopped.
func start(t *testing.T, dir, toml string) *harness {
	t.Helper()
	h := prepare(t, dir, toml)
	h.run()
	return h
}

// prepare is start without running the supervisor: the server is up, the services are not.
func prepare(t *testing.T, dir, toml string) *harness {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	log := zaptest.NewLogger(t, zaptest.WrapOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewTee(c, core)
	})))
	r, err := reaper.New(log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	h := &harness{t: t, path: filepath.Join(dir, "watchdog.sock"), reaper: r, log: log, logs: logs}
	cfg.Watchdog.ControlSocket = h.path
	if h.sup, err = supervisor.New(cfg, r, log); err != nil {
		t.Fatal(err)
	}
	h.srv = h.listen(h.path)
	return h
}

// run runs the supervisor until the test ends.
func (h *harness) run() {
	sigs := make(chan os.Signal, 1)
	exited := make(chan int, 1)
	go func() { exited <- h.sup.Run(sigs) }()
	h.t.Cleanup(func() {
		sigs <- syscall.SIGTERM
		select {
		case <-exited:
		case <-time.After(wait):
			h.t.Fatalf("supervisor still running %v after SIGTERM", wait)
		}
	})
}

// listen serves the harness's supervisor on another socket at path, closed when the test ends.
func (h *harness) listen(path string) *Server {
	h.t.Helper()
	srv, err := Listen(path, h.sup, h.log)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			h.t.Error(err)
		}
	})
	return srv
}

// do is Do that fails the test unless the server answers ok.
func (h *harness) do(req Request) Response {
	h.t.Helper()
	resp, err := Do(h.path, req)
	if err != nil {
		h.t.Fatalf("%+v: %v", req, err)
	}
	return resp
}

// waitForLog waits until an event msg has been logged.
func (h *harness) waitForLog(msg string) {
	h.t.Helper()
	deadline := time.Now().Add(wait)
	for h.logs.FilterMessage(msg).Len() == 0 {
		if time.Now().After(deadline) {
			h.t.Fatalf("no %s event within %v", msg, wait)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitFor asks for the status until cond holds for the named service, and returns its snapshot.
func (h *harness) waitFor(name, what string, cond func(supervisor.Snapshot) bool) supervisor.Snapshot {
	h.t.Helper()
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last supervisor.Snapshot
	for {
		for _, snap := range h.do(Request{Command: CommandStatus}).Services {
			if snap.Name == name {
				last = snap
			}
		}
		if cond(last) {
			return last
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s not %s within %v; last: %s", name, what, wait, last.Line(time.Now()))
		}
		<-tick.C
	}
}

func running(s supervisor.Snapshot) bool { return s.State == supervisor.Running && s.Pid > 0 }
