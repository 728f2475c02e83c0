package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"

	"watchdog/supervisor"
)

// prompt is how soon an answer that needs no waiting must come, with room for a loaded machine.
const prompt = time.Second

// exchangeRaw sends raw bytes on a new connection, half-closes it and decodes the answer.
func exchangeRaw(t *testing.T, path string, raw []byte) Response {
	t.Helper()
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(wait))
	if _, err := conn.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, conn)
}

func readResponse(t *testing.T, conn net.Conn) Response {
	t.Helper()
	var resp Response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp
}

func TestStatusRoundTrip(t *testing.T) {
	h := start(t, t.TempDir(), twoServices)
	web := h.waitFor("web", "running", running)
	h.waitFor("worker", "running", running)

	resp := h.do(Request{Command: CommandStatus})
	if !resp.OK || resp.Error != "" || len(resp.Services) != 2 {
		t.Fatalf("got %+v, want ok with two services", resp)
	}
	if resp.Services[0].Name != "web" || resp.Services[1].Name != "worker" {
		t.Errorf("services %q, %q; want web, worker in start order", resp.Services[0].Name, resp.Services[1].Name)
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(web.Pid) + "/cmdline")
	if err != nil || !bytes.Equal(cmdline, []byte("/bin/sleep\x001000\x00")) {
		t.Errorf("pid %d of web runs %q (%v), want /bin/sleep 1000", web.Pid, cmdline, err)
	}
	for _, snap := range resp.Services {
		if !snap.AsWanted() || !snap.Ready {
			t.Errorf("%s: not as wanted and ready", snap.Line(time.Now()))
		}
	}
}

func TestStopThenStart(t *testing.T) {
	h := start(t, t.TempDir(), twoServices)
	before := h.waitFor("web", "running", running)
	h.waitFor("worker", "running", running)

	resp := h.do(Request{Command: CommandStop, Services: []string{"worker"}})
	if !resp.OK {
		t.Fatalf("stop: %+v", resp)
	}
	worker := h.waitFor("worker", "held down", func(s supervisor.Snapshot) bool {
		return s.State == supervisor.Stopped && s.Held
	})
	if !worker.AsWanted() {
		t.Errorf("%s: a service stopped by the operator is not as wanted", worker.Line(time.Now()))
	}

	h.do(Request{Command: CommandStop, Services: []string{"web"}})
	h.waitFor("web", "held down", func(s supervisor.Snapshot) bool { return s.State == supervisor.Stopped && s.Held })
	if err := unix.Kill(before.Pid, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("web's old pid %d: kill 0 = %v, want ESRCH: the process should be gone", before.Pid, err)
	}

	h.do(Request{Command: CommandStart, Services: []string{"web"}})
	after := h.waitFor("web", "running again", running)
	if after.Pid == before.Pid {
		t.Errorf("web runs as pid %d again, want a new process", after.Pid)
	}
	// The worker was stopped by the operator: starting web does not start it.
	if snap := h.do(Request{Command: CommandStatus}).Services[1]; snap.State != supervisor.Stopped {
		t.Errorf("%s: want still stopped", snap.Line(time.Now()))
	}
}

func TestRestartGivesNewPid(t *testing.T) {
	h := start(t, t.TempDir(), twoServices)
	before := h.waitFor("web", "running", running)

	h.do(Request{Command: CommandRestart, Services: []string{"web"}})
	after := h.waitFor("web", "running as a new process", func(s supervisor.Snapshot) bool {
		return running(s) && s.Pid != before.Pid
	})
	if err := unix.Kill(before.Pid, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("old pid %d: kill 0 = %v, want ESRCH", before.Pid, err)
	}
	if cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(after.Pid) + "/cmdline"); err != nil || !bytes.HasPrefix(cmdline, []byte("/bin/sleep")) {
		t.Errorf("new pid %d runs %q (%v), want /bin/sleep", after.Pid, cmdline, err)
	}
}

func TestBadRequestsGetErrors(t *testing.T) {
	h := start(t, t.TempDir(), twoServices)
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"unknown service", `{"command":"stop","services":["web","nope"]}`, `stop: no service "nope"`},
		{"unknown command", `{"command":"reboot"}`, `unknown command "reboot"`},
		{"no command", `{}`, `unknown command ""`},
		{"status with services", `{"command":"status","services":["web"]}`, "status takes no services"},
		{"stop without services", `{"command":"stop"}`, "stop: no services named"},
		{"malformed JSON", `{"command":`, "malformed request"},
		{"not JSON", "hello\n", "malformed request"},
		{"wrong type", `{"command":"start","services":"web"}`, "malformed request"},
		{"unknown field", `{"command":"status","force":true}`, `unknown field "force"`},
		{"two values", `{"command":"status"} {"command":"status"}`, "more than one JSON value"},
		{"empty", "", "empty request"},
		{"blank line", " \n", "empty request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := exchangeRaw(t, h.path, []byte(tc.raw))
			if resp.OK || !strings.Contains(resp.Error, tc.want) {
				t.Errorf("got %+v, want an error containing %q", resp, tc.want)
			}
		})
	}
	// Nothing a bad request did changed the services.
	for _, snap := range h.do(Request{Command: CommandStatus}).Services {
		if snap.Held {
			t.Errorf("%s: held down by a refused request", snap.Line(time.Now()))
		}
	}
}

func TestHugeRequestIsRefused(t *testing.T) {
	h := start(t, t.TempDir(), twoServices)
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: h.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(wait))
	wrote := make(chan error, 1)
	go func() {
		// The server stops reading after MaxRequestSize: this write ends with EPIPE or ECONNRESET.
		_, err := conn.Write(bytes.Repeat([]byte("a"), 1<<20))
		wrote <- err
	}()
	began := time.Now()
	resp := readResponse(t, conn)
	if took := time.Since(began); took > prompt {
		t.Errorf("answer took %v, want it within %v", took, prompt)
	}
	if want := "request longer than 65536 bytes"; resp.OK || resp.Error != want {
		t.Errorf("got %+v, want the error %q", resp, want)
	}
	if err := <-wrote; err == nil {
		t.Error("the whole 1 MiB was taken, want the server to stop reading")
	}
	h.do(Request{Command: CommandStatus})
}

func TestSilentClientTimesOut(t *testing.T) {
	h := start(t, t.TempDir(), twoServices)
	silent, err := net.Dial("unix", h.path)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silent.SetDeadline(time.Now().Add(wait))
	began := time.Now()

	// While the silent client holds its connection, others are answered at once.
	h.do(Request{Command: CommandStatus})
	if took := time.Since(began); took > prompt {
		t.Errorf("status beside a silent client took %v, want it within %v", took, prompt)
	}

	resp := readResponse(t, silent)
	took := time.Since(began)
	if want := "no complete request line within 2s"; resp.OK || resp.Error != want {
		t.Errorf("got %+v, want the error %q", resp, want)
	}
	if took < IOTimeout-100*time.Millisecond || took > IOTimeout+prompt {
		t.Errorf("silent client answered after %v, want about %v", took, IOTimeout)
	}
	if _, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("after the answer, read = %v, want EOF", err)
	}
}

func TestConnectionsBeyondTheCapAreRefusedAtOnce(t *testing.T) {
	h := start(t, t.TempDir(), twoServices)
	var silent []net.Conn
	for range MaxConnections {
		conn, err := net.Dial("unix", h.path)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		silent = append(silent, conn)
	}
	began := time.Now()
	_, err := Do(h.path, Request{Command: CommandStatus})
	if err == nil || !strings.Contains(err.Error(), "busy") {
		t.Errorf("client %d: %v, want refused as busy", MaxConnections+1, err)
	}
	if took := time.Since(began); took > prompt {
		t.Errorf("refusal took %v, want it within %v", took, prompt)
	}
	for _, conn := range silent {
		conn.Close()
	}
	// The slots free as the server notices the hang-ups.
	deadline := time.Now().Add(wait)
	for {
		_, err := Do(h.path, Request{Command: CommandStatus})
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "busy") || time.Now().After(deadline) {
			t.Fatalf("after the hang-ups: %v, want an answer within %v", err, wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestManyConcurrentClients(t *testing.T) {
	h := start(t, t.TempDir(), twoServices)
	h.waitFor("web", "running", running)
	const clients = 200
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			began := time.Now()
			resp, err := Do(h.path, Request{Command: CommandStatus})
			switch took := time.Since(began); {
			case took > wait: // a liveness bound: on a loaded machine 200 clients take seconds
				errs <- fmt.Errorf("answered after %v, want within %v", took, wait)
			case err != nil && !strings.Contains(resp.Error, "busy"):
				errs <- err
			case err == nil && len(resp.Services) != 2:
				errs <- fmt.Errorf("got %d services, want 2", len(resp.Services))
			default: // an answer, or a prompt refusal
				errs <- nil
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestSocketFileIsPrivateWhateverTheUmask(t *testing.T) {
	h := start(t, t.TempDir(), twoServices)
	old := unix.Umask(0)
	path := filepath.Join(t.TempDir(), "loose-umask.sock")
	h.listen(path)
	unix.Umask(old)
	for _, p := range []string{h.path, path} {
		info, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Type() != os.ModeSocket || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want a socket with mode 0600", p, info.Mode())
		}
	}
}

func TestOtherUsersAreRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	// A directory and a copy of the test binary that uid 65534 may reach.
	dir, err := os.MkdirTemp("", "watchdog-control-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "client")
	copyExecutable(t, bin)
	h := start(t, dir, twoServices)

	res := h.runAs(65534, bin)
	if res.Err == "" || !strings.Contains(res.Err, "permission denied") || !strings.Contains(res.Err, h.path) {
		t.Errorf("uid 65534 on the 0600 socket: %+v, want permission denied naming %s", res, h.path)
	}

	// Loosened by hand, the file lets anyone connect; the server still refuses them.
	if err := os.Chmod(h.path, 0o666); err != nil {
		t.Fatal(err)
	}
	res = h.runAs(65534, bin)
	if want := "uid 65534 may not use the control socket"; res.Err != want || len(res.Response.Services) != 0 {
		t.Errorf("uid 65534 on a 0666 socket: %+v, want only the error %q", res, want)
	}
	refused := h.logs.FilterMessage("control_refused").FilterField(zap.Int("uid", 65534)).All()
	if len(refused) != 1 || refused[0].Level != zapcore.WarnLevel {
		t.Errorf("logged %+v, want one control_refused warning for uid 65534", refused)
	}
	h.do(Request{Command: CommandStatus}) // root still is served
}

// runAs runs the status helper as uid:uid through the reaper, the one waiter for children
// here, and returns what it printed.
func (h *harness) runAs(uid uint32, bin string) helperResult {
	h.t.Helper()
	out, err := os.CreateTemp(h.t.TempDir(), "out")
	if err != nil {
		h.t.Fatal(err)
	}
	defer out.Close()
	pid, exit, err := h.reaper.Start(bin, []string{bin, h.path}, &syscall.ProcAttr{
		Env:   append(os.Environ(), helperEnv+"=status"),
		Files: []uintptr{0, out.Fd(), 2},
		Sys:   &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	select {
	case st := <-exit:
		if st.Code() != 0 {
			h.t.Fatalf("helper pid %d exited with %d", pid, st.Code())
		}
	case <-time.After(wait):
		unix.Kill(pid, unix.SIGKILL)
		h.t.Fatalf("helper pid %d still running after %v", pid, wait)
	}
	var res helperResult
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		h.t.Fatal(err)
	}
	if err := json.NewDecoder(out).Decode(&res); err != nil {
		h.t.Fatalf("helper output: %v", err)
	}
	return res
}

func copyExecutable(t *testing.T, to string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	h := start(t, t.TempDir(), twoServices)
	// No fork while the stale socket is made: a child between fork and exec holds a copy of
	// every descriptor, close-on-exec or not, and would keep the socket listening.
	h.waitFor("web", "running", running)
	h.waitFor("worker", "running", running)
	path := filepath.Join(t.TempDir(), "stale.sock")
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false) // as a watchdog that was SIGKILLed leaves it
	stale.Close()

	h.listen(path)
	if _, err := Do(path, Request{Command: CommandStatus}); err != nil {
		t.Error(err)
	}
}

func TestListenRefusesALiveSocketOrAnotherFile(t *testing.T) {
	h := start(t, t.TempDir(), twoServices)
	if _, err := Listen(h.path, h.sup, h.log); err == nil || !strings.Contains(err.Error(), "another watchdog") {
		t.Errorf("second Listen on %s: %v, want an error about another watchdog", h.path, err)
	}
	h.do(Request{Command: CommandStatus}) // the first server is untouched

	file := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(file, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(file, h.sup, h.log); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen on a regular file: %v, want an error", err)
	}
	if data, _ := os.ReadFile(file); string(data) != "keep me" {
		t.Errorf("the regular file now holds %q", data)
	}
}

func TestListenerIsCloseOnExec(t *testing.T) {
	h := start(t, t.TempDir(), twoServices)
	raw, err := h.srv.ln.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	var fcntlErr error
	if err := raw.Control(func(fd uintptr) { flags, fcntlErr = unix.FcntlInt(fd, unix.F_GETFD, 0) }); err != nil {
		t.Fatal(err)
	}
	if fcntlErr != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("listener fd flags %#x (%v), want FD_CLOEXEC", flags, fcntlErr)
	}
}

func TestCloseCutsOffClientsAndRemovesTheFile(t *testing.T) {
	h := start(t, t.TempDir(), twoServices)
	path := filepath.Join(t.TempDir(), "closing.sock")
	srv := h.listen(path)
	silent, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	deadline := time.Now().Add(wait)
	for srv.served() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("connection not taken within %v", wait)
		}
		time.Sleep(time.Millisecond)
	}

	began := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > prompt {
		t.Errorf("Close took %v with a silent client, want it within %v", took, prompt)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after Close: %v, want it removed", err)
	}
	_, err = Do(path, Request{Command: CommandStatus})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Do after Close: %v, want an error naming %s", err, path)
	}
}

// served is how many connections the server is serving.
func (s *Server) served() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func TestCommandsTheSupervisorDoesNotTakeTimeOut(t *testing.T) {
	// A supervisor whose loop is not running takes no command, as while watchdog finishes.
	h := prepare(t, t.TempDir(), twoServices)
	stopped := make(chan error, 1)
	began := time.Now()
	go func() {
		_, err := Do(h.path, Request{Command: CommandStop, Services: []string{"web"}})
		stopped <- err
	}()
	h.do(Request{Command: CommandStatus}) // status does not wait for the loop
	if took := time.Since(began); took > prompt {
		t.Errorf("status beside a waiting command took %v, want it within %v", took, prompt)
	}
	err := <-stopped
	if want := "stop: the supervisor did not take the command within 2s"; err == nil || err.Error() != want {
		t.Errorf("stop: %v, want %q", err, want)
	}
	if took := time.Since(began); took > IOTimeout+prompt {
		t.Errorf("stop answered after %v, want about %v", took, IOTimeout)
	}

	// Close does not wait for a command the supervisor has not taken.
	path := filepath.Join(t.TempDir(), "closing.sock")
	srv := h.listen(path)
	restarted := make(chan error, 1)
	go func() {
		_, err := Do(path, Request{Command: CommandRestart, Services: []string{"web"}})
		restarted <- err
	}()
	for h.logs.FilterMessage("control_request").FilterField(zap.String("command", CommandRestart)).Len() == 0 {
		if time.Since(began) > wait {
			t.Fatalf("restart not received within %v", wait)
		}
		time.Sleep(time.Millisecond)
	}
	closing := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(closing); took > prompt {
		t.Errorf("Close took %v, want it within %v", took, prompt)
	}
	if err := <-restarted; err == nil || !strings.Contains(err.Error(), "the control socket is closing") {
		t.Errorf("restart during Close: %v, want an error saying the socket is closing", err)
	}

	// Once the loop runs it takes the abandoned calls, and their goroutines end.
	h.run()
	h.waitForLog("operator_stop")
	h.waitForLog("operator_restart")
}
