package integration

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// controlIOTimeout is the control server's IOTimeout (supervisor/control): how long it waits
// for a request line before it answers with an error and closes the connection.
const controlIOTimeout = 2 * time.Second

// Malformed and hostile clients of the control socket of the real binary, as PID 1: each gets
// an error or is dropped, within the server's timeout, while a crash-looping service keeps
// being restarted and a steady one is left alone; afterwards `watchdog status` answers at once
// and watchdog holds no more descriptors than before.
func TestHardeningHostileControlClients(t *testing.T) {
	t.Parallel()
	socket := filepath.Join(t.TempDir(), "watchdog.sock")
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q

[services.crash]
command = %s
restart_delay = "20ms"
restart_max_delay = "100ms"

[services.steady]
command = %s
environment = { FIXTURE_ROLE = "steady" }
`, socket, fixtureCmd("exit", "3"), fixtureCmd("sleep")), "--socket", socket)
	controlSocket(w)
	steady := w.waitEvent("started", "service", "steady")
	w.waitReport("steady ready", 1)
	waitEventCount(w, 3, "started", "service", "crash")
	baseline := settledFDs(t, w.pid)

	t.Run("malformed", func(t *testing.T) {
		huge := bytes.Repeat([]byte("a"), 1<<20)
		for _, tc := range []struct {
			name      string
			payload   []byte
			halfClose bool
			want      string // in the error
		}{
			{"huge without newline", huge, false, "request longer than 65536 bytes"},
			{"huge JSON", fmt.Appendf(nil, `{"command":"status","services":["%s"]}`+"\n", huge), true, "request longer than"},
			{"truncated", []byte(`{"command":"sta`), true, "malformed request"},
			{"truncated, then silence", []byte(`{"command":"sta`), false, "no complete request line within 2s"},
			{"never writes", nil, false, "no complete request line within 2s"},
			{"closes at once", nil, true, "empty request"},
			{"empty line", []byte("\n"), false, "empty request"},
			{"command of the wrong type", []byte(`{"command":1}` + "\n"), false, "malformed request"},
			{"services of the wrong type", []byte(`{"command":"stop","services":"steady"}` + "\n"), false, "malformed request"},
			{"an array", []byte(`["stop","steady"]` + "\n"), false, "malformed request"},
			{"two objects", []byte(`{"command":"status"}{"command":"stop","services":["steady"]}` + "\n"), false, "more than one JSON value"},
			{"unknown field", []byte(`{"command":"stop","services":["steady"],"force":true}` + "\n"), false, "unknown field"},
			{"binary", []byte("\x00\xff\xfe{\x01\n"), false, "malformed request"},
			{"unknown command", []byte(`{"command":"format-disk","services":["/"]}` + "\n"), false, `unknown command "format-disk"`},
			{"status with services", []byte(`{"command":"status","services":["steady"]}` + "\n"), false, "status takes no services"},
			{"stop without services", []byte(`{"command":"stop"}` + "\n"), false, "no services named"},
			{"stop of no such service", []byte(`{"command":"stop","services":["nope"]}` + "\n"), false, `no service "nope"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				a := controlExchange(socket, tc.payload, tc.halfClose, eventTimeout)
				if a.Line == "" || a.OK || !strings.Contains(a.Error, tc.want) || a.Err != nil {
					t.Errorf("answer: %v, err %v; want an error saying %q, then the connection closed", a, a.Err, tc.want)
				}
				if a.After > controlIOTimeout+eventTimeout/2 {
					t.Errorf("the answer took %v", a.After)
				}
			})
		}
	})
	if t.Failed() {
		return
	}

	// A thousand clients at once: a quarter send a status request, a quarter connect and never
	// write, a quarter send nothing and shut down their sending side, a quarter connect and
	// close at once. Each is answered, refused or dropped; none hangs.
	const clients = 1000
	crashStartsBefore := len(w.events("started", "service", "crash"))
	stormStart := time.Now()
	answers := make([]controlAnswer, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			switch i % 4 {
			case 0:
				answers[i] = controlExchange(socket, []byte(`{"command":"status"}`+"\n"), false, eventTimeout)
			case 1:
				answers[i] = controlExchange(socket, nil, false, eventTimeout)
			case 2:
				answers[i] = controlExchange(socket, nil, true, eventTimeout)
			case 3:
				start := time.Now()
				conn, err := net.DialTimeout("unix", socket, eventTimeout)
				if err == nil {
					conn.Close()
				}
				answers[i] = controlAnswer{Err: err, After: time.Since(start)}
			}
		})
	}
	wg.Wait()
	stormEnd := time.Now()
	kinds := map[string]int{}
	for i, a := range answers {
		switch {
		case a.Line != "" && a.OK:
			kinds["answered"]++
		case a.Line != "" && strings.Contains(a.Error, "busy"):
			kinds["busy"]++
		case a.Line != "":
			kinds["error"]++
		case a.Err == nil || errors.Is(a.Err, unix.ECONNRESET) || errors.Is(a.Err, unix.EAGAIN):
			kinds["dropped"]++
		default:
			t.Errorf("client %d: %v: neither answered nor refused nor dropped", i, a)
		}
		if a.After > controlIOTimeout+eventTimeout/2 {
			t.Errorf("client %d: the exchange took %v: %v", i, a.After, a)
		}
		if i%4 != 0 && a.OK {
			t.Errorf("client %d sent no request but got %v", i, a)
		}
	}
	t.Logf("%d clients in %v: %v", clients, stormEnd.Sub(stormStart).Round(time.Millisecond), kinds)
	if kinds["busy"] == 0 {
		t.Errorf("no client of the thousand was told the server is busy: more than %d served at once?", 64)
	}
	if kinds["answered"] == 0 {
		t.Error("no status request of the thousand was answered")
	}

	// Supervision went on during the storm: crash was restarted while the clients held the
	// server's slots (the silent ones for its whole timeout).
	var during int
	for _, e := range w.events("started", "service", "crash")[crashStartsBefore:] {
		if ts := e.time(t); ts.After(stormStart) && ts.Before(stormEnd) {
			during++
		}
	}
	held := 0 // silent clients that got a slot, and so held it for the server's whole timeout
	for _, a := range answers {
		if strings.Contains(a.Error, "no complete request line") {
			held++
		}
	}
	if held > 0 && during < 3 {
		t.Errorf("crash started %d times during the %v of the storm, while %d silent clients held a slot %v each; want at least 3",
			during, stormEnd.Sub(stormStart).Round(time.Millisecond), held, controlIOTimeout)
	}

	// Right after: status answers, steady was left alone.
	res, lines := status(t, socket)
	if res.code != 0 && res.code != 3 {
		t.Fatalf("`watchdog status` right after the storm: %v, want its lines", res)
	}
	wantStatusLine(t, res, lines, "steady", "UP", fmt.Sprintf("pid %s,", steady.get("pid")))
	wantStatusLine(t, res, lines, "crash")
	if exited := w.events("exited", "service", "steady"); len(exited) > 0 {
		t.Errorf("steady exited: %v", exited[0].fields)
	}
	if err := waitFDsAtMost(w.pid, baseline, eventTimeout); err != nil {
		t.Errorf("after the clients: %v", err)
	}

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
}

// settledFDs is the fewest descriptors pid holds over ten readings: a start under way holds a
// pipe or two for a moment, a leak holds them for good.
func settledFDs(t *testing.T, pid int) int {
	t.Helper()
	least := -1
	for range 10 {
		if n := len(fdTable(t, pid)); least < 0 || n < least {
			least = n
		}
		time.Sleep(pollInterval)
	}
	return least
}

// waitFDsAtMost waits until pid holds at most n descriptors.
func waitFDsAtMost(pid, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			return err
		}
		if len(entries) <= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("watchdog holds %d descriptors %v later, had %d before", len(entries), timeout, n)
		}
		time.Sleep(pollInterval)
	}
}
