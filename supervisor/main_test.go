package supervisor

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/sys/unix"

	"watchdog/reaper"
	"watchdog/supervisor/config"
)

// The tests of this package that run services run one after another: a process may have only
// one Reaper, and the supervisor's final sweep ends every process below the test binary.

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait for an event; reaching it fails the test.
const wait = 10 * time.Second

// pokeCore passes entries to an observer core and pokes a channel after each, so that a test
// waiting for a state wakes up when something happened instead of sleeping.
type pokeCore struct {
	zapcore.Core
	poke chan struct{}
	slow []string // messages whose writing takes slowWrite
}

// slowWrite is how long an entry of pokeCore.slow takes to be written.
const slowWrite = 100 * time.Millisecond

func (c pokeCore) With(fields []zapcore.Field) zapcore.Core {
	return pokeCore{c.Core.With(fields), c.poke, c.slow}
}

func (c pokeCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c pokeCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if slices.Contains(c.slow, e.Message) {
		time.Sleep(slowWrite)
	}
	err := c.Core.Write(e, fields)
	select {
	case c.poke <- struct{}{}:
	default:
	}
	return err
}

// harness runs a Supervisor over a real reaper, records its log events and ends it with the test.
type harness struct {
	t    *testing.T
	sup  *Supervisor
	logs *observer.ObservedLogs
	poke chan struct{}
	sigs chan os.Signal
	done chan int

	returned bool
	code     int
}

// run parses text as a watchdog.toml, with $DIR replaced by a fresh temporary directory, and
// runs a Supervisor for it. It returns the harness and the directory.
func run(t *testing.T, text string) (*harness, string) {
	t.Helper()
	return runSlowEvents(t, text)
}

// runSlowEvents is run with a logger that takes slowWrite to write the events named slow.
func runSlowEvents(t *testing.T, text string, slow ...string) (*harness, string) {
	t.Helper()
	cfg, dir := parse(t, text)
	return start(t, cfg, slow), dir
}

// runMain is run for `watchdog --config FILE -- argv...`: argv is the main command, with
// $DIR replaced too.
func runMain(t *testing.T, text string, argv ...string) (*harness, string) {
	t.Helper()
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		t.Skip("stdin is a terminal: the main command would become its foreground process group")
	}
	cfg, dir := parse(t, text)
	for i := range argv {
		argv[i] = strings.ReplaceAll(argv[i], "$DIR", dir)
	}
	if err := cfg.AddMain(argv); err != nil {
		t.Fatal(err)
	}
	return start(t, cfg, nil), dir
}

// parse parses text as a watchdog.toml, with $DIR replaced by a fresh temporary directory.
func parse(t *testing.T, text string) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse("test.toml", []byte(strings.ReplaceAll(text, "$DIR", dir)))
	if err != nil {
		t.Fatalf("config:\n%v", err)
	}
	return cfg, dir
}

// start runs a Supervisor for cfg, with a logger that takes slowWrite to write the events
// named slow, and ends it when the test ends.
func start(t *testing.T, cfg *config.Config, slow []string) *harness {
	t.Helper()
	obs, logs := observer.New(zapcore.DebugLevel)
	poke := make(chan struct{}, 1)
	log := zap.New(zapcore.NewTee(pokeCore{obs, poke, slow}, zaptest.NewLogger(t).Core()))
	r, err := reaper.New(log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		now := time.Now()
		if res := r.Sweep(now, now.Add(wait)); res.Terminated > 0 {
			t.Errorf("%d processes were left after Run returned", res.Terminated)
		}
		r.Close()
	})
	sup, err := New(cfg, r, log)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, sup: sup, logs: logs, poke: poke, sigs: make(chan os.Signal, 1), done: make(chan int, 1)}
	go func() { h.done <- sup.Run(h.sigs) }()
	t.Cleanup(func() {
		if !h.returned {
			h.terminate()
		}
	})
	return h
}

// terminate sends SIGTERM the way signals.Notify would deliver it and returns Run's exit code.
func (h *harness) terminate() int {
	h.t.Helper()
	h.sigs <- unix.SIGTERM
	return h.exitCode()
}

// exitCode waits for Run to return and returns its exit code.
func (h *harness) exitCode() int {
	h.t.Helper()
	if h.returned {
		return h.code
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case h.code = <-h.done:
		h.returned = true
		return h.code
	case <-timer.C:
		h.t.Fatalf("Run did not return within %v", wait)
		return 0
	}
}

// ran reports whether Run has returned, without waiting.
func (h *harness) ran() bool {
	if !h.returned {
		select {
		case h.code = <-h.done:
			h.returned = true
		default:
		}
	}
	return h.returned
}

// until waits for cond, looking again after every log event and every few milliseconds (a
// state may change without an event), and fails the test at the deadline.
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-h.poke:
		case <-tick.C:
		case <-deadline.C:
			h.t.Fatalf("not within %v: %s\nstatus:\n%s", wait, what, h.statusText())
		}
	}
}

// snap is the named service's current snapshot.
func (h *harness) snap(name string) Snapshot {
	h.t.Helper()
	for _, s := range h.sup.Status() {
		if s.Name == name {
			return s
		}
	}
	h.t.Fatalf("no service %q in Status", name)
	return Snapshot{}
}

func (h *harness) statusText() string {
	var b strings.Builder
	for _, s := range h.sup.Status() {
		b.WriteString(s.Line(time.Now()) + "\n")
	}
	return b.String()
}

// inState waits until the named service is in state st and returns its snapshot.
func (h *harness) inState(name string, st State) Snapshot {
	h.t.Helper()
	var s Snapshot
	h.until(name+" is "+string(st), func() bool {
		s = h.snap(name)
		return s.State == st
	})
	return s
}

// fileExists waits until a service has made the file at path.
func (h *harness) fileExists(path string) {
	h.t.Helper()
	h.until(path+" exists", func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
}

// event is one log event: its message and service ("" for watchdog's own).
type event struct{ msg, service string }

func (e event) String() string {
	if e.service == "" {
		return e.msg
	}
	return e.msg + "(" + e.service + ")"
}

func service(e observer.LoggedEntry) string {
	s, _ := e.ContextMap()["service"].(string)
	return s
}

// events returns the log events with message msg of service svc, in order.
func (h *harness) events(msg, svc string) []observer.LoggedEntry {
	return h.logs.Filter(func(e observer.LoggedEntry) bool {
		return e.Message == msg && service(e) == svc
	}).All()
}

// inOrder checks that the events happened in this order (each after the one before; other
// events in between), and fails the test with the whole log if not.
func (h *harness) inOrder(want ...event) {
	h.t.Helper()
	all := h.logs.All()
	i := 0
	for _, w := range want {
		for i < len(all) && (all[i].Message != w.msg || service(all[i]) != w.service) {
			i++
		}
		if i == len(all) {
			var got []string
			for _, e := range all {
				got = append(got, event{e.Message, service(e)}.String())
			}
			h.t.Fatalf("want the events %v in this order; %v is missing or out of order in:\n%s",
				want, w, strings.Join(got, "\n"))
		}
		i++
	}
}

// pidOf is the pid field of a log entry.
func pidOf(e observer.LoggedEntry) int {
	pid, _ := e.ContextMap()["pid"].(int64)
	return int(pid)
}

// gone reports whether pid no longer exists, not even as a zombie.
func gone(pid int) bool { return unix.Kill(pid, 0) == unix.ESRCH }
