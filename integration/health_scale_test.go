package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// With 200 services probed every second, watchdog still answers `watchdog status` within a
// second, every probe keeps its one-second cadence, and no service's probes overlap: each next
// probe starts an interval after the previous one ended, even when a probe takes longer than
// the interval.
func TestHealthManyServicesStayResponsive(t *testing.T) {
	// Not parallel: it measures probe cadence and answer times, which other tests running beside it would skew.
	const (
		services = 200
		// Command probes fork, and forks are the expensive part of a probe: a few services
		// have command probes that take longer than their interval, the rest TCP probes
		// against listeners of this test, one per service.
		commandProbes = 4
		interval      = time.Second
		probeTakes    = 1500 * time.Millisecond
		startWithin   = 40 * time.Second // generous: 200 starts on a busy machine
	)
	sleepBin, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("needs sleep(1):", err)
	}
	dir := socketDir(t)
	socket := filepath.Join(dir, "watchdog.sock")

	listeners := make([]*acceptLog, services-commandProbes)
	for i := range listeners {
		listeners[i] = listenAndLog(t)
	}
	var config strings.Builder
	fmt.Fprintf(&config, "[watchdog]\ncontrol_socket = %q\n", socket)
	for i := range services {
		fmt.Fprintf(&config, "\n[services.s%03d]\ncommand = %s\n", i, tomlList(sleepBin, "3600"))
		if i < commandProbes {
			// GODEBUG as the fixture wants it, so that it need not re-execute itself.
			fmt.Fprintf(&config, `environment = { GODEBUG = "asyncpreemptoff=1" }
[services.s%03d.healthcheck]
command = %s
interval = %q
timeout = "5s"
`, i, fixtureCmd("probe-log", probeLogPath(dir, i), probeTakes.String()), interval.String())
			continue
		}
		fmt.Fprintf(&config, "[services.s%03d.healthcheck]\ntcp = %q\ninterval = %q\ntimeout = \"2s\"\n",
			i, listeners[i-commandProbes].addr, interval.String())
	}
	w := superviseConfig(t, config.String(), "--socket", socket)

	healthy := waitEventCountWithin(w, startWithin, services, "healthy")
	steadyFrom := healthy[len(healthy)-1].time(t)
	t.Logf("%d services healthy %v after watchdog's first event", services, steadyFrom.Sub(firstEventTime(w)))

	// Responsiveness: watchdog's answer on its control socket, timed here so that the time
	// a busy machine takes to start a client process does not count.
	const asks = 8
	var slowest time.Duration
	for i := range asks {
		snaps, took, err := askStatus(socket, eventTimeout)
		if err != nil {
			t.Fatalf("status request %d of %d: %v", i+1, asks, err)
		}
		slowest = max(slowest, took)
		if took > time.Second {
			t.Errorf("status request %d of %d answered in %v, want under 1s", i+1, asks, took)
		}
		if len(snaps) != services {
			t.Fatalf("status answer lists %d services, want %d", len(snaps), services)
		}
		for _, s := range snaps {
			if s.State != "running" || s.Health != "healthy" {
				t.Errorf("service %s is %s and %q, want running and healthy", s.Name, s.State, s.Health)
			}
		}
		time.Sleep(400 * time.Millisecond) // spread the asks over several probe intervals
	}
	t.Logf("slowest status answer of %d: %v", asks, slowest)
	// The operator's view, once.
	begin := time.Now()
	res, lines := status(t, socket)
	t.Logf("`watchdog status` took %v, starting the client included", time.Since(begin))
	if res.code != 0 || len(lines) != services {
		t.Fatalf("`watchdog status`: exit %d with %d service lines, want 0 and %d: %v", res.code, len(lines), services, res)
	}
	for name, line := range lines {
		if !strings.Contains(line, "healthy") || strings.Contains(line, "unhealthy") {
			t.Errorf("service %s not healthy: %q", name, line)
		}
	}
	wantHealth(t, socket, 0, fmt.Sprintf("healthy: %d services", services))
	steadyUntil := time.Now()

	w.signal(unix.SIGTERM)
	if code := w.waitExit(startWithin); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
	if n := len(w.events("unhealthy")); n != 0 {
		t.Errorf("%d unhealthy events, want none: %v", n, w.events("unhealthy")[0].fields)
	}

	// TCP probes: one connection per interval, and none starved: in the steady phase no gap
	// much longer than an interval. The next probe starts an interval after the previous one
	// ended, but the kernel's handshake times (jiffies, read when this test gets to accept)
	// are tens of milliseconds off on a busy machine: the lower bound only rules out a second
	// probe within the interval. The command probes below time themselves.
	for i, l := range listeners {
		name := fmt.Sprintf("s%03d", i+commandProbes)
		accepted := l.times()
		if len(accepted) < 3 {
			t.Errorf("%s: probed %d times, want at least 3", name, len(accepted))
			continue
		}
		for j := 1; j < len(accepted); j++ {
			gap := accepted[j].Sub(accepted[j-1])
			if gap < interval*3/4 {
				t.Errorf("%s: probes %d and %d %v apart, want about the interval %v", name, j, j+1, gap, interval)
			}
			if accepted[j-1].After(steadyFrom) && accepted[j].Before(steadyUntil) && gap > 3*interval {
				t.Errorf("%s: probes %d and %d %v apart while all were healthy, want about %v", name, j, j+1, gap, interval)
			}
		}
	}
	// Command probes that take longer than the interval: each starts an interval after the
	// previous one ended, so none overlaps the next.
	for i := range commandProbes {
		runs := readProbeLog(t, probeLogPath(dir, i))
		if len(runs) < 2 {
			t.Errorf("s%03d: %d command probes ran to the end, want at least 2", i, len(runs))
			continue
		}
		for j := 1; j < len(runs); j++ {
			if gap := runs[j].start.Sub(runs[j-1].end); gap < interval-10*time.Millisecond {
				t.Errorf("s%03d: probe %d started %v after probe %d ended, want at least the interval %v (overlap if negative)",
					i, j+1, gap, j, interval)
			}
		}
	}
}

func probeLogPath(dir string, service int) string {
	return filepath.Join(dir, fmt.Sprintf("probes-s%03d", service))
}

// probeRun is one run of the probe-log fixture.
type probeRun struct {
	start, end time.Time
}

// readProbeLog reads the start and end lines a probe-log command appended to path. Every run
// but the last must have ended (the last may have been killed by the shutdown), and runs do
// not interleave.
func readProbeLog(t *testing.T, path string) []probeRun {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var runs []probeRun
	open := "" // pid of the run that started and has not ended
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	ended := map[string]bool{} // pids whose run wrote its end
	for _, line := range lines {
		if fields := strings.Fields(line); len(fields) == 3 && fields[0] == "end" {
			ended[fields[2]] = true
		}
	}
	for n, line := range lines {
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("%s line %d: %q", path, n+1, line)
		}
		ns, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			t.Fatalf("%s line %d: %v", path, n+1, err)
		}
		at := time.Unix(0, ns)
		if fields[0] == "start" && open != "" && !ended[open] {
			// The open run never ended: it was killed (its timeout, or the end of the service's
			// run), so it wrote no end; that is no overlap.
			runs, open = runs[:len(runs)-1], ""
		}
		switch {
		case fields[0] == "start" && open == "":
			open = fields[2]
			runs = append(runs, probeRun{start: at})
		case fields[0] == "end" && open == fields[2]:
			open = ""
			runs[len(runs)-1].end = at
		default:
			t.Fatalf("%s line %d: %q while the run of %q was open: probes overlap\n%s", path, n+1, line, open, data)
		}
	}
	if open != "" {
		runs = runs[:len(runs)-1]
	}
	return runs
}

// acceptLog is a TCP listener on 127.0.0.1 that accepts and closes every connection and
// remembers when each was made: when the kernel completed its handshake, by TCP_INFO, so that
// this test being slow to accept on a busy machine does not move the times.
type acceptLog struct {
	addr string
	mu   sync.Mutex
	at   []time.Time // guarded by mu
}

// listenAndLog starts an acceptLog that lives until the test ends.
func listenAndLog(t *testing.T) *acceptLog {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &acceptLog{addr: ln.Addr().String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			at := connectedAt(conn.(*net.TCPConn))
			conn.Close()
			l.mu.Lock()
			l.at = append(l.at, at)
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return l
}

// connectedAt is when the connection's handshake completed, to the kernel's jiffy: the last ACK
// it received, as nothing was sent on it yet. Without TCP_INFO it is now.
func connectedAt(conn *net.TCPConn) time.Time {
	var since time.Duration
	if raw, err := conn.SyscallConn(); err == nil {
		raw.Control(func(fd uintptr) {
			if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				since = time.Duration(info.Last_ack_recv) * time.Millisecond
			}
		})
	}
	return time.Now().Add(-since)
}

func (l *acceptLog) times() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.at...)
}

// waitEventCountWithin is waitEventCount with a timeout of its own.
func waitEventCountWithin(w *watchdogRun, timeout time.Duration, n int, msg string, fields ...any) []event {
	w.t.Helper()
	var found []event
	ok := w.stdout.wait(timeout, func(i int, line string) bool {
		if parsed, err := parseEvent(line); err == nil {
			if e := (event{line: i, fields: parsed}); e.matches(msg, fields) {
				found = append(found, e)
			}
		}
		return len(found) >= n
	})
	if !ok {
		w.t.Fatalf("%d %q events on watchdog's stdout within %v, want %d", len(found), describeEvent(msg, fields), timeout, n)
	}
	return found
}

// firstEventTime is the ts of watchdog's first event.
func firstEventTime(w *watchdogRun) time.Time {
	w.t.Helper()
	lines, _, _ := w.stdout.snapshot()
	if len(lines) == 0 {
		w.t.Fatal("no event from watchdog yet")
	}
	fields, err := parseEvent(lines[0])
	if err != nil {
		w.t.Fatal(err)
	}
	return event{fields: fields}.time(w.t)
}
