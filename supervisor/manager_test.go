package supervisor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"watchdog/supervisor/notify"
)

// TestManagerIsToldReadyStatusStoppingAndPinged stands in for systemd with a real notify
// socket: watchdog sends READY=1 once its services are ready, STATUS= summaries, WATCHDOG=1
// pings at half of WATCHDOG_USEC, and STOPPING=1 when the shutdown begins. The services do
// not see the manager's socket.
func TestManagerIsToldReadyStatusStoppingAndPinged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "systemd.sock")
	sock, err := notify.Listen(path, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", strconv.Itoa(int((200 * time.Millisecond).Microseconds())))

	h, _ := run(t, `
[services.a]
command = ["/bin/sleep", "100"]

[services.b]
command = ["/bin/sleep", "100"]
depends_on = ["a"]
`)
	var got []notify.Message
	receive := func(what string, match func(notify.Message) bool) notify.Message {
		t.Helper()
		deadline := time.After(wait)
		for {
			select {
			case m := <-sock.Messages():
				if m.Err != nil {
					t.Fatalf("bad datagram: %v", m.Err)
				}
				got = append(got, m)
				if match(m) {
					return m
				}
			case <-deadline:
				t.Fatalf("no %s within %v; got %+v", what, wait, got)
			}
		}
	}
	ready := receive("READY=1", func(m notify.Message) bool { return m.Ready })
	if !strings.Contains(ready.Status, "2 of 2 services ready") {
		t.Errorf("READY=1 came with STATUS=%q, want 2 of 2 services ready", ready.Status)
	}
	for _, name := range []string{"a", "b"} {
		if !h.snap(name).Ready {
			t.Errorf("READY=1 sent while %s is not ready", name)
		}
	}
	receive("a watchdog ping", func(m notify.Message) bool { return m.Watchdog })
	receive("a second watchdog ping", func(m notify.Message) bool { return m.Watchdog })

	environ, err := os.ReadFile("/proc/" + strconv.Itoa(h.snap("a").Pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range strings.Split(string(environ), "\x00") {
		if strings.HasPrefix(kv, "NOTIFY_SOCKET=") || strings.HasPrefix(kv, "WATCHDOG_USEC=") {
			t.Errorf("a service sees the manager's %s", kv)
		}
	}

	h.sigs <- unix.SIGTERM
	receive("STOPPING=1", func(m notify.Message) bool { return m.Stopping })
	h.exitCode()
}
