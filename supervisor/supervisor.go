// Package supervisor runs the services of a config (shared/DESIGN.md): one runner goroutine per
// service, started in dependency order, restarted by policy, and stopped in reverse dependency
// order within the shutdown budget when watchdog ends.
package supervisor

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"watchdog/reaper"
	"watchdog/supervisor/config"
	"watchdog/supervisor/signals"
)

// ErrShuttingDown refuses operator commands once the staged shutdown has begun.
var ErrShuttingDown = errors.New("watchdog is shutting down")

// Supervisor owns the runners and decides when they start, stop and when watchdog ends.
type Supervisor struct {
	cfg    *config.Config
	reaper *reaper.Reaper
	log    *zap.Logger
	output io.Writer // for services with log = "json"
	// mu guards runners and byName. Only the Run goroutine changes them (a reload), under
	// the write lock; it reads them without the lock. Other goroutines take the read lock.
	mu       sync.RWMutex
	runners  []*runner // in start order; a reload's retiring runners last
	byName   map[string]*runner
	changed  chan struct{}
	requests chan request
	// forwardAll is the tini-style `--` mode without config services: every signal goes to
	// the command, and SIGTERM/SIGINT also start the shutdown clock.
	forwardAll bool
	main       *runner // the `--` command, if any
	wg         sync.WaitGroup
	finishing  chan struct{} // closed once Run takes no more operator commands

	signalsForwarded atomic.Uint64
	reloads          atomic.Uint64

	// Owned by the Run goroutine.
	shutdown *shutdown
	rolls    []*roll
	manager  *manager // the service manager above watchdog, if one listens
}

// shutdown is a staged shutdown under way.
type shutdown struct {
	reason   string
	started  time.Time
	killBy   time.Time   // every service's SIGKILL comes no later
	deadline time.Time   // the end of the budget
	signal   unix.Signal // forwardAll: the received signal, used as the command's stop signal
	critical *runner     // the critical service whose failure ended watchdog
	stopSent map[*runner]bool
	stopped  []*runner // the services the shutdown had to stop: their SIGKILLs decide the exit code
}

type request struct {
	op    string
	names []string
	reply chan error
}

// Option changes how New sets up a Supervisor.
type Option func(*Supervisor)

// Output sends the lines of services with log = "json" to w, which must not block (a
// logging.Sink). Without it such services write to watchdog's stdout as it is.
func Output(w io.Writer) Option {
	return func(s *Supervisor) { s.output = w }
}

// New prepares a runner for each service of cfg. Nothing starts before Run. It fails only when
// a service's sd_notify socket cannot be made, and then leaves nothing behind.
func New(cfg *config.Config, r *reaper.Reaper, log *zap.Logger, opts ...Option) (*Supervisor, error) {
	s := &Supervisor{
		cfg:       cfg,
		reaper:    r,
		log:       log,
		byName:    make(map[string]*runner),
		changed:   make(chan struct{}, 1),
		requests:  make(chan request),
		finishing: make(chan struct{}),
	}
	for _, opt := range opts {
		opt(s)
	}
	for _, svc := range cfg.Services {
		run, err := newRunner(svc, r, log, s.output, s.changed, cfg.Watchdog.ControlSocket)
		if err != nil {
			for _, made := range s.runners {
				made.closeNotify()
			}
			return nil, err
		}
		s.runners = append(s.runners, run)
		s.byName[svc.Name] = run
		if svc.Main {
			s.main = run
		}
	}
	s.forwardAll = s.main != nil && len(s.runners) == 1
	return s, nil
}

// Run supervises until watchdog should end and returns its exit code (DESIGN.md "Exit codes").
func (s *Supervisor) Run(sigs <-chan os.Signal) int {
	s.log.Info("supervising", zap.Int("services", len(s.runners)), zap.Int("pid", os.Getpid()),
		zap.Duration("shutdown_timeout", s.cfg.Watchdog.ShutdownTimeout))
	for _, r := range s.runners {
		s.launch(r)
	}
	s.manager = newManager(s.log)
	var deadline <-chan time.Time
	for {
		s.reconcile()
		if s.shutdown != nil {
			if s.allDown() {
				break
			}
			if deadline == nil {
				t := time.NewTimer(time.Until(s.shutdown.deadline))
				defer t.Stop()
				deadline = t.C
			}
		}
		// A signal goes first: a busy loop (many services changing at once on a starved
		// CPU) must not delay the start of a shutdown.
		select {
		case sig := <-sigs:
			s.onSignal(sig)
			continue
		default:
		}
		select {
		case sig := <-sigs:
			s.onSignal(sig)
		case <-s.changed:
		case <-s.manager.pings():
			s.manager.pingNow()
		case req := <-s.requests:
			s.serve(req)
		case <-deadline:
			s.log.Error("shutdown_overdue", zap.String("reason", "services still alive at the end of the shutdown budget"))
			return s.finish()
		}
	}
	return s.finish()
}

// launch starts r's goroutine.
func (s *Supervisor) launch(r *runner) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(r.done)
		r.run()
	}()
}

// Status returns every service's snapshot in start order. It is safe to call from any goroutine.
func (s *Supervisor) Status() []Snapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	snaps := make([]Snapshot, len(s.runners))
	for i, r := range s.runners {
		snaps[i] = r.snapshot()
		if snaps[i].State != Waiting || snaps[i].Held {
			continue
		}
		if dep := s.blockedBy(r); dep != "" {
			snaps[i].Reason = "dependency " + dep + " is down for good"
		} else if dep := s.unreadyDependency(r); dep != "" {
			snaps[i].Reason = "waiting for " + dep
		}
	}
	return snaps
}

// Counters are totals since watchdog started, for metrics.
type Counters struct {
	Exits            []ExitCount // in start order, each service's by exit code, signals last
	SignalsForwarded uint64      // one per service process group a signal was sent to
	Reloads          uint64      // reloads asked for, applied or not
}

// ExitCount is how many runs of a service ended one way.
type ExitCount struct {
	Service string
	Exit    Exit
	Count   uint64
}

// Counters returns the totals. It is safe to call from any goroutine.
func (s *Supervisor) Counters() Counters {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := Counters{SignalsForwarded: s.signalsForwarded.Load(), Reloads: s.reloads.Load()}
	for _, r := range s.runners {
		exits := r.exitCounts()
		for _, e := range slices.SortedFunc(maps.Keys(exits), compareExits) {
			c.Exits = append(c.Exits, ExitCount{Service: r.svc.Name, Exit: e, Count: exits[e]})
		}
	}
	return c
}

// compareExits orders exit codes before signals, each by value.
func compareExits(a, b Exit) int {
	if (a.Signal == "") != (b.Signal == "") {
		if a.Signal == "" {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(a.Code, b.Code), cmp.Compare(a.Signal, b.Signal))
}

// Control carries out an operator's start, stop or restart of the named services.
func (s *Supervisor) Control(op string, names []string) error {
	reply := make(chan error, 1)
	select {
	case s.requests <- request{op: op, names: names, reply: reply}:
		return <-reply
	case <-s.finishing:
		return ErrShuttingDown
	}
}

// serve answers an operator's request once its commands are posted to the runners, which
// carry them out in their own time: a runner busy forking never holds up the answer or the
// loop, which must go on reading signals. Status shows how far each service got.
func (s *Supervisor) serve(req request) {
	req.reply <- s.dispatch(req)
}

// dispatch checks req and hands its commands to the runners.
func (s *Supervisor) dispatch(req request) error {
	if s.shutdown != nil {
		return ErrShuttingDown
	}
	if req.op == "reload" {
		return s.reload()
	}
	var kind commandKind
	switch req.op {
	case "start":
		kind = cmdStart
	case "stop":
		kind = cmdStop
	case "restart", "rolling-restart":
		kind = cmdRestart
	default:
		return fmt.Errorf("unknown command %q", req.op)
	}
	targets, err := s.lookup(req.names)
	if err != nil {
		return err
	}
	if kind != cmdStop {
		for _, r := range targets {
			if dep := s.unreadyDependency(r); dep != "" {
				return fmt.Errorf("%s: dependency %s is not ready", r.svc.Name, dep)
			}
		}
	}
	if req.op == "rolling-restart" {
		s.beginRoll(targets, nil)
		return nil
	}
	for _, r := range targets {
		s.log.Info("operator_"+req.op, zap.String("service", r.svc.Name))
		r.post(command{kind: kind})
	}
	return nil
}

// lookup finds the runners of names; the name of a service with instances means all its copies.
func (s *Supervisor) lookup(names []string) ([]*runner, error) {
	var found []*runner
	for _, name := range names {
		if r, ok := s.byName[name]; ok {
			found = append(found, r)
			continue
		}
		n := len(found)
		for _, r := range s.runners {
			if r.svc.InstanceOf == name && !r.retiring {
				found = append(found, r)
			}
		}
		if len(found) == n {
			return nil, fmt.Errorf("no service %q", name)
		}
	}
	return found, nil
}

func (s *Supervisor) onSignal(sig os.Signal) {
	if !signals.Forwardable(sig) {
		return
	}
	usig := sig.(unix.Signal)
	stopping := usig == unix.SIGTERM || usig == unix.SIGINT
	switch {
	case stopping && s.shutdown == nil:
		s.beginShutdown("signal "+config.SignalName(usig), usig)
	case usig == unix.SIGHUP && !s.forwardAll:
		if s.shutdown == nil {
			_ = s.reload() // a failed reload is logged and changes nothing
		}
	case s.forwardAll || !stopping:
		for _, r := range s.runners {
			if pgid, ok := r.signal(usig); ok {
				s.signalsForwarded.Add(1)
				s.log.Info("signal_forwarded", zap.String("service", r.svc.Name), zap.Int("pid", pgid),
					zap.String("signal", config.SignalName(usig)))
			}
		}
	}
}

// reconcile acts on the services' states: it starts what may start, notices when watchdog
// should end, and during shutdown stops each service once its dependents are down.
func (s *Supervisor) reconcile() {
	if s.shutdown == nil {
		s.retireDown()
		s.advanceRolls()
		if reason, critical := s.endReason(); reason != "" {
			s.beginShutdown(reason, 0)
			s.shutdown.critical = critical
		}
	}
	if s.shutdown == nil {
		for _, r := range s.runners {
			snap := r.snapshot()
			if snap.State == Waiting && !snap.Held && !r.retiring && s.unreadyDependency(r) == "" {
				r.requestStart()
			}
		}
		if s.manager != nil {
			s.manager.update(s.Status())
		}
		return
	}
	for _, r := range s.runners {
		if s.shutdown.stopSent[r] || s.dependentUp(r) {
			continue
		}
		s.shutdown.stopSent[r] = true
		if isDown(r.snapshot().State) {
			continue
		}
		s.shutdown.stopped = append(s.shutdown.stopped, r)
		killAt := time.Now().Add(r.svc.StopGracePeriod)
		if killAt.After(s.shutdown.killBy) {
			killAt = s.shutdown.killBy
		}
		var sig unix.Signal
		if r == s.main {
			sig = s.shutdown.signal
		}
		r.post(command{kind: cmdShutdown, signal: sig, killAt: killAt})
	}
}

// endReason says why watchdog should end now, or "" while it should go on.
func (s *Supervisor) endReason() (string, *runner) {
	if s.main != nil && isDown(s.main.snapshot().State) {
		return "main command ended", nil
	}
	finished := true
	for _, r := range s.runners {
		if r.retiring {
			continue
		}
		snap := r.snapshot()
		if snap.State == Failed && r.svc.Critical {
			return "critical service " + r.svc.Name + " failed", r
		}
		switch {
		case snap.State == Exited || snap.State == Completed || snap.State == Failed:
		case snap.State == Waiting && s.blockedBy(r) != "":
		default:
			finished = false
		}
	}
	if finished {
		return "all services finished", nil
	}
	return "", nil
}

func (s *Supervisor) beginShutdown(reason string, sig unix.Signal) {
	now := time.Now()
	budget := s.cfg.Watchdog.ShutdownTimeout
	// A tenth of the budget, at most half a second, is kept for the final sweep.
	reserve := min(budget/10, 500*time.Millisecond)
	s.shutdown = &shutdown{
		reason:   reason,
		started:  now,
		killBy:   now.Add(budget - reserve),
		deadline: now.Add(budget),
		signal:   sig,
		stopSent: make(map[*runner]bool),
	}
	s.log.Info("shutdown_started", zap.String("reason", reason), zap.Duration("budget", budget))
	s.manager.stopping(reason)
	for _, r := range s.runners {
		r.halt()
	}
}

// finish sweeps what is left below watchdog, stops the runners and picks the exit code.
func (s *Supervisor) finish() int {
	close(s.finishing)
	sh := s.shutdown
	// Past the deadline (services that would not die), the sweep still gets a moment to reap.
	deadline := sh.deadline
	if soon := time.Now().Add(100 * time.Millisecond); deadline.Before(soon) {
		deadline = soon
	}
	s.reaper.Sweep(sh.killBy, deadline)
	for _, r := range s.runners {
		close(r.quit)
	}
	s.wg.Wait()
	s.manager.close(time.Second)
	code := s.exitCode()
	s.log.Info("shutdown_complete", zap.Int("exit_code", code), zap.String("reason", sh.reason),
		zap.Duration("took", time.Since(sh.started).Round(time.Millisecond)))
	return code
}

func (s *Supervisor) exitCode() int {
	sh := s.shutdown
	exitOf := func(r *runner) int {
		if last := r.snapshot().LastExit; last != nil {
			return last.Code
		}
		return 0
	}
	switch {
	case sh.critical != nil:
		return exitOf(sh.critical)
	case s.main != nil:
		return exitOf(s.main)
	case sh.signal != 0 || sh.reason != "all services finished":
		for _, r := range sh.stopped {
			if r.snapshot().Killed {
				return 1
			}
		}
		return 0
	}
	// Everything finished by itself: the first failure's code, else 0.
	var first *Snapshot
	for _, r := range s.runners {
		snap := r.snapshot()
		if snap.LastExit == nil || snap.LastExit.Code == 0 || (snap.State != Failed && snap.State != Exited) {
			continue
		}
		if first == nil || snap.Since.Before(first.Since) {
			first = &snap
		}
	}
	if first != nil {
		return first.LastExit.Code
	}
	return 0
}

// unreadyDependency names a dependency of r that is not ready, or "".
func (s *Supervisor) unreadyDependency(r *runner) string {
	for _, dep := range r.svc.DependsOn {
		if !s.byName[dep].snapshot().Ready {
			return dep
		}
	}
	return ""
}

// blockedBy names the dependency, direct or not, whose end keeps r from ever starting by
// itself, or "".
func (s *Supervisor) blockedBy(r *runner) string {
	for _, name := range r.svc.DependsOn {
		dep := s.byName[name]
		switch snap := dep.snapshot(); {
		case snap.State == Failed || snap.State == Exited || (snap.State == Stopped && snap.Held):
			return name
		case snap.State == Waiting:
			if s.blockedBy(dep) != "" {
				return name
			}
		}
	}
	return ""
}

// dependentUp reports whether a service that depends on r is not down yet.
func (s *Supervisor) dependentUp(r *runner) bool {
	for _, other := range s.runners {
		if slices.Contains(other.svc.DependsOn, r.svc.Name) && !isDown(other.snapshot().State) {
			return true
		}
	}
	return false
}

func (s *Supervisor) allDown() bool {
	for _, r := range s.runners {
		if !isDown(r.snapshot().State) {
			return false
		}
	}
	return true
}

// isDown reports whether a service in state st has no process and none coming by itself.
func isDown(st State) bool {
	return st == Stopped || st == Exited || st == Failed || st == Completed
}
