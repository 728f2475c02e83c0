package notify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSendToPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watchdog.sock")
	s := listen(t, path, -1, -1)
	t.Setenv("NOTIFY_SOCKET", path)

	if err := Send("READY=1\nSTATUS=3 services up"); err != nil {
		t.Fatal(err)
	}
	m := receive(t, s)
	if m.Err != nil || !m.Ready || m.Status != "3 services up" || m.PID != os.Getpid() {
		t.Errorf("got %+v, want READY=1 and STATUS from pid %d", m, os.Getpid())
	}
}

func TestSendToAbstractAddress(t *testing.T) {
	name := fmt.Sprintf("@watchdog-notify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", name)

	const state = "STATUS=a=b = c\nWATCHDOG=1\n"
	if err := Send(state); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, MaxMessageSize)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != state {
		t.Errorf("received %q, want %q", got, state)
	}
}

func TestSendWithoutNotifySocketDoesNothing(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Send("READY=1"); err != nil {
		t.Errorf("NOTIFY_SOCKET empty: %v", err)
	}
	os.Unsetenv("NOTIFY_SOCKET") // t.Setenv restores it afterwards
	if err := Send("READY=1"); err != nil {
		t.Errorf("NOTIFY_SOCKET unset: %v", err)
	}
}

func TestSendFails(t *testing.T) {
	for _, addr := range []string{
		"relative/watchdog.sock",
		"vsock:2:1234",
		filepath.Join(t.TempDir(), "nobody-listens.sock"),
	} {
		t.Setenv("NOTIFY_SOCKET", addr)
		if err := Send("READY=1"); err == nil {
			t.Errorf("NOTIFY_SOCKET=%s: Send succeeded", addr)
		}
	}
}

// TestSendGivesUpOnStalledManager: a manager that stops reading must not hang its caller.
func TestSendGivesUpOnStalledManager(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stalled.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", path)

	// The queue holds max_dgram_qlen datagrams; the send after it fills must time out.
	limit := readIntFile(t, "/proc/sys/net/unix/max_dgram_qlen") + 2
	for range limit {
		if err = Send("WATCHDOG=1"); err != nil {
			break
		}
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("after %d sends to a manager that never reads: %v, want a deadline error", limit, err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	tests := []struct {
		usec, pid string // "-" leaves the variable unset
		want      time.Duration
		ok        bool
	}{
		{usec: "-", pid: "-"},
		{usec: "30000000", pid: "-", want: 30 * time.Second, ok: true},
		{usec: "30000000", pid: self, want: 30 * time.Second, ok: true},
		{usec: "30000000", pid: "1"}, // meant for another process
		{usec: "30000000", pid: ""},  // not a pid
		{usec: "0", pid: self},       // disabled
		{usec: "-5", pid: self},      // not a count
		{usec: "2.5s", pid: self},    // not a count
		{usec: "", pid: self},        // empty
		{usec: "1", pid: self, want: time.Microsecond, ok: true},
	}
	for _, tt := range tests {
		setenv(t, "WATCHDOG_USEC", tt.usec)
		setenv(t, "WATCHDOG_PID", tt.pid)
		got, ok := WatchdogInterval()
		if got != tt.want || ok != tt.ok {
			t.Errorf("WATCHDOG_USEC=%s WATCHDOG_PID=%s: got %v, %v; want %v, %v", tt.usec, tt.pid, got, ok, tt.want, tt.ok)
		}
	}
}

// setenv sets key to value for the rest of the test, or unsets it when value is "-".
func setenv(t *testing.T, key, value string) {
	t.Setenv(key, value)
	if value == "-" {
		os.Unsetenv(key)
	}
}

func TestEnv(t *testing.T) {
	if got, want := Env("/run/watchdog/web.sock", 0), []string{"NOTIFY_SOCKET=/run/watchdog/web.sock"}; !slices.Equal(got, want) {
		t.Errorf("without watchdog: %q, want %q", got, want)
	}
	got := Env("/run/watchdog/web.sock", 1500*time.Millisecond+time.Nanosecond)
	want := []string{"NOTIFY_SOCKET=/run/watchdog/web.sock", "WATCHDOG_USEC=1500001"}
	if !slices.Equal(got, want) {
		t.Errorf("with watchdog: %q, want %q (rounded up to whole µs)", got, want)
	}
}

// TestEnvIsReadByWatchdogInterval checks the two sides agree: what Env gives a service is what a
// client in that service reads.
func TestEnvIsReadByWatchdogInterval(t *testing.T) {
	setenv(t, "WATCHDOG_PID", "-")
	for _, kv := range Env("/run/watchdog/web.sock", 20*time.Second) {
		key, value, _ := strings.Cut(kv, "=")
		t.Setenv(key, value)
	}
	if got, ok := WatchdogInterval(); !ok || got != 20*time.Second {
		t.Errorf("WatchdogInterval() = %v, %v; want 20s, true", got, ok)
	}
}

func TestStripEnv(t *testing.T) {
	env := []string{"PATH=/bin", "NOTIFY_SOCKET=/run/systemd/notify", "WATCHDOG_USEC=1000", "WATCHDOG_PID=1", "WATCHDOG_CONFIG=/etc/watchdog.toml", "HOME=/"}
	want := []string{"PATH=/bin", "WATCHDOG_CONFIG=/etc/watchdog.toml", "HOME=/"}
	if got := StripEnv(env); !slices.Equal(got, want) {
		t.Errorf("StripEnv = %q, want %q", got, want)
	}
}
