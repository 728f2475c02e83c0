package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait for something that must happen; reaching it fails the test.
const wait = 10 * time.Second

// stalledPipe returns the write end of a pipe nobody reads, shrunk to one page so that it
// fills at once, like a stdout whose log driver stopped reading. The read end is closed when
// the test ends, which fails the blocked write with EPIPE and lets the sink's writer go.
func stalledPipe(t *testing.T) (w *os.File, capacity int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	capacity, err = unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, 4096)
	if err != nil {
		t.Fatal(os.NewSyscallError("fcntl(F_SETPIPE_SZ)", err))
	}
	t.Cleanup(func() {
		r.Close()
		w.Close()
	})
	return w, capacity
}

// line is one log line of exactly n bytes, newline included, numbered i.
func line(i, n int) []byte {
	s := fmt.Sprintf("{\"n\":%d}", i)
	return []byte(s + strings.Repeat(" ", n-len(s)-1) + "\n")
}

// inTime runs f and fails the test if it has not returned within d.
func inTime(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatalf("%s did not return within %v", what, d)
	}
}

func TestSinkNeverBlocksOnStalledOutput(t *testing.T) {
	out, pipeCap := stalledPipe(t)
	const limit, lineLen, lines = 4096, 64, 2000
	sink := NewSink(out, limit)
	t.Cleanup(func() { sink.Close(10 * time.Millisecond) })

	var slowest time.Duration
	inTime(t, wait, fmt.Sprintf("%d writes to a sink over a stalled pipe", lines), func() {
		for i := range lines {
			p := line(i, lineLen)
			start := time.Now()
			n, err := sink.Write(p)
			slowest = max(slowest, time.Since(start))
			if n != len(p) || err != nil {
				t.Errorf("Write = %d, %v; want %d, nil (a dropped line is not an error of the caller)", n, err, len(p))
				return
			}
		}
	})
	if slowest > time.Second {
		t.Errorf("the slowest Write took %v: writers wait on the output", slowest)
	}

	// What the sink can have taken: the pipe's contents, one batch stuck in the writer's
	// Write, and a full queue behind it. Everything else was dropped.
	accepted := (pipeCap + 2*limit) / lineLen
	dropped := int(sink.Dropped())
	t.Logf("%d of %d lines dropped, slowest write %v", dropped, lines, slowest)
	if want := lines - accepted; dropped < want {
		t.Errorf("Dropped() = %d, want at least %d: the sink holds more than its bound "+
			"(%d lines of %d bytes, queue limit %d, pipe %d bytes)", dropped, want, lines, lineLen, limit, pipeCap)
	}
	// The first limit bytes always fit in the queue: nothing may be dropped before that.
	if most := lines - limit/lineLen; dropped > most {
		t.Errorf("Dropped() = %d, want at most %d: lines dropped before the queue was full", dropped, most)
	}

	// Dropping goes on being counted while the output stays stalled. The writer may have
	// taken a batch since the loop above, making room: fill the queue again first.
	inTime(t, wait, "writes to a full sink", func() {
		for before := sink.Dropped(); sink.Dropped() == before; {
			sink.Write(line(lines, lineLen))
		}
		before := sink.Dropped()
		sink.Write(line(lines, lineLen))
		if got := sink.Dropped(); got != before+1 {
			t.Errorf("Dropped() = %d after one more write to a full sink, want %d", got, before+1)
		}
	})
}

// gatedWriter is an output that holds its first Write until open is closed, and records
// everything written to it.
type gatedWriter struct {
	open    chan struct{}
	entered chan struct{} // closed when the first Write arrives

	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
}

func newGatedWriter() *gatedWriter {
	return &gatedWriter{open: make(chan struct{}), entered: make(chan struct{})}
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.open
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.Write(p)
}

func (g *gatedWriter) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.String()
}

func TestSinkCloseFlushesQueue(t *testing.T) {
	out := newGatedWriter()
	sink := NewSink(out, DefaultQueueBytes)
	var want bytes.Buffer
	write := func(i int) {
		p := line(i, 40)
		want.Write(p)
		if _, err := sink.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	// The writer now holds line 0 in the output's Write; what follows waits in the queue.
	select {
	case <-out.entered:
	case <-time.After(wait):
		t.Fatal("the sink did not pass its first line to the output")
	}
	for i := 1; i < 1000; i++ {
		write(i)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		sink.Close(wait)
	}()
	close(out.open)
	select {
	case <-closed:
	case <-time.After(2 * wait):
		t.Fatal("Close did not return")
	}
	if got := out.String(); got != want.String() {
		t.Errorf("after Close the output holds %d bytes, want all %d written, in order", len(got), want.Len())
	}
	if d := sink.Dropped(); d != 0 {
		t.Errorf("Dropped() = %d, want 0", d)
	}
	// A write after Close is dropped and counted, never written and never blocking.
	sink.Write(line(1000, 40))
	if d := sink.Dropped(); d != 1 {
		t.Errorf("Dropped() = %d after a write after Close, want 1", d)
	}
	if got := out.String(); got != want.String() {
		t.Error("a line written after Close reached the output")
	}
	sink.Close(wait) // a second Close returns at once
}

func TestSinkCloseTimesOutOnStalledOutput(t *testing.T) {
	out, pipeCap := stalledPipe(t)
	sink := NewSink(out, 2*pipeCap)
	for i := 0; i < 3*pipeCap/64; i++ {
		sink.Write(line(i, 64))
	}
	const timeout = 200 * time.Millisecond
	start := time.Now()
	inTime(t, wait, "Close of a sink over a stalled pipe", func() { sink.Close(timeout) })
	took := time.Since(start)
	if took < timeout {
		t.Errorf("Close returned after %v, before its timeout %v, with the output stalled", took, timeout)
	}
	if took > timeout+2*time.Second {
		t.Errorf("Close returned after %v, long after its timeout %v", took, timeout)
	}
}

// tsFormat is DESIGN.md's ts: RFC 3339, UTC, milliseconds.
var tsFormat = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// logLines runs f with a logger built by New over a sink into a pipe and returns the lines written.
func logLines(t *testing.T, format, level string, f func(*zap.Logger)) []string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		read <- b
	}()
	sink := NewSink(w, DefaultQueueBytes)
	log, err := New(sink, format, level)
	if err != nil {
		w.Close()
		<-read
		t.Fatal(err)
	}
	f(log)
	sink.Close(wait)
	w.Close()
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(<-read))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func TestLoggerJSON(t *testing.T) {
	// 05:06:07.089123456 at +05:30 is 23:36:07.089 UTC the day before.
	at := time.Date(2026, 3, 4, 5, 6, 7, 89123456, time.FixedZone("IST", 5*3600+1800))
	before := time.Now()
	lines := logLines(t, FormatJSON, "info", func(log *zap.Logger) {
		log.Info("started", zap.String("service", "web"), zap.Int("pid", 1234))
		log.Debug("orphan_reaped", zap.Int("pid", 99)) // below the level: not written
		log.Warn("killed", zap.Duration("grace", 1500*time.Millisecond))
		if ce := log.Check(zap.ErrorLevel, "failed"); ce != nil {
			ce.Time = at
			ce.Write(zap.String("reason", "exited with code 1"))
		}
	})
	after := time.Now()
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3 (debug is below info):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	var events []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line is not one JSON object: %v\n%s", err, l)
		}
		events = append(events, m)
		ts, _ := m["ts"].(string)
		if !tsFormat.MatchString(ts) {
			t.Errorf("ts = %q, want RFC 3339 UTC with milliseconds like 2026-03-03T23:36:07.089Z", m["ts"])
		}
	}
	want := []map[string]any{
		{"level": "info", "msg": "started", "service": "web", "pid": 1234.0},
		{"level": "warn", "msg": "killed", "grace": "1.5s"},
		{"level": "error", "msg": "failed", "reason": "exited with code 1", "ts": "2026-03-03T23:36:07.089Z"},
	}
	for i, w := range want {
		for k, v := range w {
			if events[i][k] != v {
				t.Errorf("line %d: %s = %#v, want %#v\n%s", i, k, events[i][k], v, lines[i])
			}
		}
	}
	ts, err := time.Parse(time.RFC3339Nano, events[0]["ts"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if ts.Before(before.Truncate(time.Millisecond)) || ts.After(after) {
		t.Errorf("ts %v is not the time of logging, between %v and %v", ts, before.UTC(), after.UTC())
	}
}

func TestLoggerConsole(t *testing.T) {
	lines := logLines(t, FormatConsole, "debug", func(log *zap.Logger) {
		log.Debug("orphan_reaped", zap.Int("pid", 99))
	})
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1: %q", len(lines), lines)
	}
	for _, want := range []string{"DEBUG", "orphan_reaped", `"pid": 99`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("console line %q lacks %q", lines[0], want)
		}
	}
	if ts, _, _ := strings.Cut(lines[0], "\t"); !tsFormat.MatchString(ts) {
		t.Errorf("console line starts with %q, want the RFC 3339 UTC ts", ts)
	}
}

func TestLoggerRejectsBadSettings(t *testing.T) {
	sink := NewSink(io.Discard, DefaultQueueBytes)
	defer sink.Close(wait)
	for _, tt := range []struct{ format, level string }{
		{"xml", "info"},
		{"", "info"},
		{FormatJSON, "loud"},
	} {
		if _, err := New(sink, tt.format, tt.level); err == nil {
			t.Errorf("New(format %q, level %q) succeeded, want an error", tt.format, tt.level)
		}
	}
	if _, err := New(sink, FormatJSON, "warn"); err != nil {
		t.Errorf("New(json, warn): %v", err)
	}
}

var _ zapcore.WriteSyncer = (*Sink)(nil)
