package logcapture_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"watchdog/reaper"
	"watchdog/supervisor/logcapture"
	"watchdog/supervisor/logging"
)

// entry is one line of output as a consumer of docker logs reads it.
type entry struct {
	TS      string `json:"ts"`
	Service string `json:"service"`
	Stream  string `json:"stream"`
	Line    string `json:"line"`
	Partial bool   `json:"partial"`
}

// parseEntry decodes one output line, failing the test unless it is one JSON object with
// only the fields of an entry and a ts in RFC 3339 UTC with milliseconds.
func parseEntry(t *testing.T, line []byte) entry {
	t.Helper()
	var e entry
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("output line %q: %v", line, err)
	}
	if dec.More() {
		t.Fatalf("output line %q holds more than one JSON value", line)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", e.TS); err != nil {
		t.Fatalf("output line %q: ts: %v", line, err)
	}
	return e
}

// recorder is an out that keeps each Write apart, to check that each is one whole line.
type recorder struct {
	mu     sync.Mutex
	writes [][]byte
	wrote  chan struct{} // signalled after each Write
}

func newRecorder() *recorder { return &recorder{wrote: make(chan struct{}, 1)} }

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.writes = append(r.writes, bytes.Clone(p))
	r.mu.Unlock()
	select {
	case r.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

// entries parses every Write so far, failing the test unless each is one whole line.
func (r *recorder) entries(t *testing.T) []entry {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var es []entry
	for _, w := range r.writes {
		if bytes.IndexByte(w, '\n') != len(w)-1 {
			t.Fatalf("Write(%q) is not exactly one line", w)
		}
		es = append(es, parseEntry(t, w))
	}
	return es
}

// waitForLine waits until a Write carried line.
func (r *recorder) waitForLine(t *testing.T, line string) {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		for _, e := range r.entries(t) {
			if e.Line == line {
				return
			}
		}
		select {
		case <-r.wrote:
		case <-deadline.C:
			t.Fatalf("no line %q within %v", line, wait)
		}
	}
}

// piece is what one entry carries of a line.
type piece struct {
	line    string
	partial bool
}

func (p piece) String() string {
	return fmt.Sprintf("{%d bytes %.40q, partial %v}", len(p.line), p.line, p.partial)
}

func TestLineSplitting(t *testing.T) {
	const max = logcapture.MaxLineBytes
	a := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name  string
		input string
		want  []piece
	}{
		{"lines", "one\ntwo\n", []piece{{"one", false}, {"two", false}}},
		{"empty lines", "\n\n", []piece{{"", false}, {"", false}}},
		{"crlf", "dos\r\nunix\n", []piece{{"dos", false}, {"unix", false}}},
		{"inner cr kept", "a\rb\n", []piece{{"a\rb", false}}},
		{"last line without newline", "one\ntwo", []piece{{"one", false}, {"two", false}}},
		{"last line ends in cr", "two\r", []piece{{"two", false}}},
		{"nothing", "", nil},
		{"control characters and quotes", "\x00\x1b[1m\"q\"\\\t\n", []piece{{"\x00\x1b[1m\"q\"\\\t", false}}},
		{"invalid utf-8", "bad \xff\xfe end\n", []piece{{"bad \ufffd\ufffd end", false}}},
		{"exactly max", a(max) + "\n", []piece{{a(max), false}}},
		{"exactly max before crlf", a(max) + "\r\n", []piece{{a(max), false}}},
		{"exactly max at eof", a(max), []piece{{a(max), false}}},
		{"max plus one", a(max+1) + "\n", []piece{{a(max), true}, {"a", false}}},
		{"max plus one before crlf", a(max+1) + "\r\n", []piece{{a(max), true}, {"a", false}}},
		{"max plus one at eof", a(max + 1), []piece{{a(max), true}, {"a", false}}},
		{"three pieces", a(2*max+10) + "\nnext\n",
			[]piece{{a(max), true}, {a(max), true}, {a(10), false}, {"next", false}}},
		{"three pieces at eof", a(2*max + 10), []piece{{a(max), true}, {a(max), true}, {a(10), false}}},
		{"rune across the cut", a(max-1) + "€b\n", []piece{{a(max - 1), true}, {"€b", false}}},
		{"rune ends at the cut", a(max-3) + "€b\n", []piece{{a(max-3) + "€", true}, {"b", false}}},
		{"invalid byte at the cut", a(max-1) + "\xe2\x82b\n",
			[]piece{{a(max-1) + "\ufffd", true}, {"\ufffdb", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := newRecorder()
			c := startCapture(t, out, "web")
			// Small writes, so that lines and pieces span reads of the pipe.
			for chunk := range chunks(tt.input, 1000) {
				if _, err := c.Stdout().WriteString(chunk); err != nil {
					t.Fatal(err)
				}
			}
			c.CloseWriters()
			waitDone(t, c, tt.name)
			var got []piece
			for _, e := range out.entries(t) {
				if e.Service != "web" || e.Stream != "stdout" {
					t.Errorf("service %q stream %q, want web stdout", e.Service, e.Stream)
				}
				got = append(got, piece{e.Line, e.Partial})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("pieces:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// chunks yields s in pieces of at most n bytes.
func chunks(s string, n int) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

func TestEntryFormat(t *testing.T) {
	out := newRecorder()
	c := startCapture(t, out, "web")
	c.Stdout().WriteString("hello \"world\"\n" + strings.Repeat("z", logcapture.MaxLineBytes+1) + "\n")
	c.Stderr().WriteString("oops\n")
	c.CloseWriters()
	waitDone(t, c, "web")

	const ts = `"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`
	want := []*regexp.Regexp{
		regexp.MustCompile(`^\{` + ts + `,"service":"web","stream":"stdout","line":"hello \\"world\\""\}` + "\n$"),
		regexp.MustCompile(`^\{` + ts + `,"service":"web","stream":"stdout","line":"` + strings.Repeat("z", logcapture.MaxLineBytes) + `","partial":true\}` + "\n$"),
		regexp.MustCompile(`^\{` + ts + `,"service":"web","stream":"stdout","line":"z"\}` + "\n$"),
		regexp.MustCompile(`^\{` + ts + `,"service":"web","stream":"stderr","line":"oops"\}` + "\n$"),
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	var stdout, stderr [][]byte
	for _, w := range out.writes {
		if bytes.Contains(w, []byte(`"stream":"stderr"`)) {
			stderr = append(stderr, w)
		} else {
			stdout = append(stdout, w)
		}
	}
	got := append(stdout, stderr...)
	if len(got) != len(want) {
		t.Fatalf("%d writes, want %d: %.300q", len(got), len(want), got)
	}
	for i, re := range want {
		if !re.Match(got[i]) {
			t.Errorf("write %d = %.200q, want it to match %.200s", i, got[i], re)
		}
	}
}

func TestCloseWritersWithoutChild(t *testing.T) {
	out := newRecorder()
	c := startCapture(t, out, "web")
	c.CloseWriters() // as the runner does when the fork failed
	waitDone(t, c, "a capture nobody wrote to")
	if es := out.entries(t); len(es) != 0 {
		t.Errorf("entries %v, want none", es)
	}
}

func TestChildStdoutIsBlocking(t *testing.T) {
	out := newRecorder()
	c := startCapture(t, out, "web")
	waitExit(t, startChild(t, c, nil, "fdflags"), "fdflags")
	waitDone(t, c, "fdflags")
	for _, e := range out.entries(t) {
		if e.Line != "O_NONBLOCK=false" {
			t.Errorf("%s: %q, want O_NONBLOCK=false: programs fail on EAGAIN from a non-blocking stdout", e.Stream, e.Line)
		}
	}
}

// TestServicesShareSinkLineByLine runs two services writing thousands of lines on both
// streams at once into one Sink whose output the test reads as docker would.
func TestServicesShareSinkLineByLine(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A queue that holds all of the output (about 3 MB), so that the Sink drops nothing even
	// when a loaded machine leaves the test's reader unscheduled: whatever is missing, the
	// capture lost.
	sink := logging.NewSink(w, 16<<20)
	t.Cleanup(func() { sink.Close(wait) }) // when the test failed before it closed the sink
	output := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		output <- b
	}()

	const lines = 5000
	services := []string{"web", "worker"}
	var captures []*logcapture.Capture
	var exits []<-chan reaper.Status
	for _, svc := range services {
		c := startCapture(t, sink, svc)
		captures = append(captures, c)
		exits = append(exits, startChild(t, c, nil, "lines", svc, strconv.Itoa(lines)))
	}
	for i, svc := range services {
		waitExit(t, exits[i], svc)
		waitDone(t, captures[i], svc)
	}
	sink.Close(wait)
	w.Close()
	var got []byte
	select {
	case got = <-output:
	case <-time.After(wait):
		t.Fatal("the sink's output did not end")
	}

	next := map[string]int{} // by "service stream": the number of the next line expected
	for _, line := range bytes.SplitAfter(got, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		e := parseEntry(t, line)
		key := e.Service + " " + e.Stream
		if want := numberedLine(e.Service, e.Stream, next[key]); e.Line != want || e.Partial {
			t.Fatalf("entry of %s: line %q, partial %v; want %q: lines lost, reordered or mixed (the sink dropped %d)",
				key, e.Line, e.Partial, want, sink.Dropped())
		}
		next[key]++
	}
	for _, svc := range services {
		for _, stream := range []string{"stdout", "stderr"} {
			if n := next[svc+" "+stream]; n != lines {
				t.Errorf("%d lines of %s %s, want %d", n, svc, stream, lines)
			}
		}
	}
	if d := sink.Dropped(); d != 0 {
		t.Errorf("the sink dropped %d lines while its output was read", d)
	}
}

func TestChildLines(t *testing.T) {
	long := "x" + strings.Repeat("é", 3*logcapture.MaxLineBytes/2) // the first cut falls inside an é
	tests := []struct {
		name, text string
		want       []string
	}{
		{"partial last line flushed at exit", "first\nno newline", []string{"first", "no newline"}},
		{"invalid utf-8 escaped", "bad \xff\xc3 end\n", []string{"bad \ufffd\ufffd end"}},
		{"long line", long + "\n", []string{long}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := newRecorder()
			c := startCapture(t, out, "web")
			waitExit(t, startChild(t, c, nil, "print", tt.text), "print")
			waitDone(t, c, "print")
			var lines []string
			var line strings.Builder
			for _, e := range out.entries(t) {
				if len(e.Line) > logcapture.MaxLineBytes {
					t.Errorf("an entry carries %d bytes of a line, want at most %d", len(e.Line), logcapture.MaxLineBytes)
				}
				line.WriteString(e.Line)
				if !e.Partial {
					lines = append(lines, line.String())
					line.Reset()
				}
			}
			if line.Len() > 0 {
				t.Errorf("the last entry is marked partial")
			}
			if fmt.Sprint(lines) != fmt.Sprint(tt.want) {
				t.Errorf("lines reassembled from the entries:\n got %.200q\nwant %.200q", lines, tt.want)
			}
		})
	}
}

// TestDoneWaitsForGrandchild: a service's child that keeps its stdout keeps the capture open
// after the service exited, and what it writes then is captured.
func TestDoneWaitsForGrandchild(t *testing.T) {
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdinW.Close() // ends the grandchild if the test fails early
	out := newRecorder()
	c := startCapture(t, out, "web")
	exit := startChild(t, c, stdinR, "spawn-lingerer")
	stdinR.Close()
	waitExit(t, exit, "spawn-lingerer")
	out.waitForLine(t, "lingering")

	select {
	case <-c.Done():
		t.Fatal("Done closed while the grandchild still holds the pipes")
	default:
	}
	stdinW.Close() // the grandchild writes its last line and exits
	waitDone(t, c, "web and its grandchild")
	es := out.entries(t)
	if last := es[len(es)-1].Line; last != "done lingering" {
		t.Errorf("last line before Done = %q, want the grandchild's %q", last, "done lingering")
	}
}

// TestStalledOutputNeverBlocksService: with watchdog's stdout not read at all, a service
// writing 10 MiB finishes in time, its lines dropped and counted by the Sink.
func TestStalledOutputNeverBlocksService(t *testing.T) {
	out, pipeCap := stalledPipe(t)
	const queue = 64 << 10
	sink := logging.NewSink(out, queue)
	t.Cleanup(func() { sink.Close(10 * time.Millisecond) })

	const lines, lineLen = 10 << 10, 1 << 10
	c := startCapture(t, sink, "flood")
	start := time.Now()
	waitExit(t, startChild(t, c, nil, "flood", strconv.Itoa(lines), strconv.Itoa(lineLen)), "flood")
	t.Logf("the service wrote %d MiB in %v", lines*lineLen>>20, time.Since(start))
	waitDone(t, c, "flood")

	// What the sink can have taken: the pipe's contents, one batch stuck in the writer's
	// Write, and a full queue behind it; each entry is longer than the line it carries.
	accepted := (pipeCap + 2*queue) / lineLen
	if d := sink.Dropped(); d < lines-uint64(accepted) {
		t.Errorf("Dropped() = %d, want at least %d of %d lines", d, lines-accepted, lines)
	}
}

// stalledPipe returns the write end of a pipe nobody reads, shrunk to one page, like a stdout
// whose log driver stopped reading. Closing the read end when the test ends fails the sink's
// blocked write with EPIPE and lets its writer go.
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
