package metrics

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"watchdog/supervisor"
)

// webAndJob is a long-running service that is not restarted, and a oneshot.
const webAndJob = `
[watchdog]
shutdown_timeout = "5s"

[services.web]
command = ["/bin/sleep", "1000"]
restart = "no"

[services.job]
command = ["/bin/true"]
oneshot = true
`

// checkProbes GETs /healthz and /readyz and fails the test unless both answer status, and a
// 503 names every service of bad.
func checkProbes(t *testing.T, url string, status int, bad ...string) {
	t.Helper()
	for _, path := range []string{"/healthz", "/readyz"} {
		got, body := get(t, url+path)
		if got != status {
			t.Errorf("GET %s = %d %q, want %d", path, got, body, status)
		}
		for _, name := range bad {
			if !strings.Contains(body, name) {
				t.Errorf("GET %s: body %q does not name %s", path, body, name)
			}
		}
	}
}

func TestProbesFollowTheServices(t *testing.T) {
	h := prepare(t, webAndJob)
	checkProbes(t, h.url, http.StatusServiceUnavailable, "web waiting", "job waiting")

	h.run()
	h.waitFor("web", "running", inState(supervisor.Running))
	h.waitFor("job", "completed", inState(supervisor.Completed))
	checkProbes(t, h.url, http.StatusOK)

	if err := h.sup.Control("stop", []string{"web"}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("web", "held down", func(s supervisor.Snapshot) bool { return s.State == supervisor.Stopped && s.Held })
	checkProbes(t, h.url, http.StatusOK)
	if got := scrape(t, h.url).value(t, "watchdog_service_state", "service", "web", "state", "stopped"); got != 1 {
		t.Errorf(`web state{state="stopped"} = %v once held, want 1`, got)
	}

	if err := h.sup.Control("start", []string{"web"}); err != nil {
		t.Fatal(err)
	}
	web := h.waitFor("web", "running", inState(supervisor.Running))
	checkProbes(t, h.url, http.StatusOK)

	// With restart = "no", a crash is a failure for good.
	if err := syscall.Kill(web.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.waitFor("web", "failed", inState(supervisor.Failed))
	checkProbes(t, h.url, http.StatusServiceUnavailable, "web failed")
}

func TestSlowClientsHoldUpNeitherScrapesNorSupervision(t *testing.T) {
	h := start(t, webAndJob)
	web := h.waitFor("web", "running", inState(supervisor.Running))
	h.waitFor("job", "completed", inState(supervisor.Completed))
	addr := strings.TrimPrefix(h.url, "http://")

	// Silent clients send half a request and wait.
	var silent []net.Conn
	for range 3 {
		conn := dial(t, addr)
		if _, err := io.WriteString(conn, "GET /metrics HTTP/1.1\r\nHost: watchdog\r\n"); err != nil {
			t.Fatal(err)
		}
		silent = append(silent, conn)
	}
	// A client that never reads asks for many scrapes, more than the socket buffers hold, so
	// that the server is stuck writing to it.
	greedy := dial(t, addr)
	if err := greedy.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	requests := strings.Repeat("GET /metrics HTTP/1.1\r\nHost: watchdog\r\n\r\n", 4000)
	if err := greedy.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(greedy, requests); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal(err)
	}

	for range 5 {
		began := time.Now()
		scrape(t, h.url)
		checkProbes(t, h.url, http.StatusOK)
		if took := time.Since(began); took > time.Second {
			t.Errorf("a scrape and two probes took %v beside slow clients", took)
		}
	}
	if err := h.sup.Control("restart", []string{"web"}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("web", "running again", func(s supervisor.Snapshot) bool { return s.State == supervisor.Running && s.Pid != web.Pid })

	// The server lets a silent client go once its request is overdue.
	for _, conn := range silent {
		if err := conn.SetReadDeadline(time.Now().Add(readTimeout + time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(conn); err != nil {
			t.Errorf("silent client still connected %v after the read timeout: %v", time.Second, err)
		}
	}
}

// dial connects to addr and closes the connection when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestOnlyGetAndHeadAreServed(t *testing.T) {
	url := serve(t, Source{Services: func() []supervisor.Snapshot { return nil }})
	resp, err := client.Post(url+"/metrics", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %s, want 405", resp.Status)
	}
	resp, err = client.Head(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /readyz = %s, want 200", resp.Status)
	}
	if got, _ := get(t, url+"/"); got != http.StatusNotFound {
		t.Errorf("GET / = %d, want 404", got)
	}
}

func TestListenFailsOnAnAddressInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	srv, err := Listen(taken.Addr().String(), Source{}, zaptest.NewLogger(t))
	if err == nil {
		srv.Close()
		t.Fatal("Listen on an address in use succeeded")
	}
	if !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Errorf("error %q does not name the address", err)
	}
}

func TestCloseStopsServing(t *testing.T) {
	srv, err := Listen("127.0.0.1:0", Source{Services: func() []supervisor.Snapshot { return nil }}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	open := dial(t, srv.Addr().String())
	srv.Close()
	if conn, err := net.Dial("tcp", srv.Addr().String()); err == nil {
		conn.Close()
		t.Error("still accepting connections after Close")
	}
	if err := open.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	// Reset when the server had not accepted it yet, else closed.
	if _, err := io.ReadAll(open); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("an open connection outlived Close: %v", err)
	}
}
