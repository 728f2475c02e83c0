package supervisor

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"watchdog/reaper"
	"watchdog/supervisor/config"
	"watchdog/supervisor/logcapture"
	"watchdog/supervisor/notify"
)

// A runner is one service's state machine. Its goroutine (run) alone changes the service's
// state; every other goroutine reads the published snapshot or sends a command.
type runner struct {
	svc     *config.Service
	reaper  *reaper.Reaper
	log     *zap.Logger
	output  io.Writer // where the lines of a service with log = "json" go
	env     []string
	changed chan<- struct{} // tells the supervisor that a snapshot changed; never blocks
	cmds    chan command
	// startWanted asks for a start if the service is still waiting; requests coalesce, so
	// the supervisor never waits for a runner busy forking.
	startWanted chan struct{}
	// halted is set by the supervisor when the shutdown begins: nothing starts any more.
	halted atomic.Bool
	quit   chan struct{}
	done   chan struct{} // closed when run has returned

	// Owned by the supervisor's goroutine: a reload removes this runner once it is down,
	// putting a runner for replacement, if any, in its place.
	retiring    bool
	replacement *config.Service

	// Owned by the run goroutine.
	proc      *process
	stop      *stopRequest // why and until when the current process is being stopped
	timer     alarm        // backoff, or escalation of a stop to SIGKILL
	restarts  []time.Time  // times of restarts the policy made, for the restart limit
	quickRuns int          // consecutive runs shorter than restart_max_delay, for the backoff
	readiness

	mu    sync.Mutex
	pgid  int             // guarded by mu: the process group while any of it may be alive, else 0
	snap  Snapshot        // guarded by mu
	exits map[Exit]uint64 // guarded by mu: how often runs ended each way, for metrics
}

// process is one run of the service's command.
type process struct {
	pid     int
	started time.Time
	exit    <-chan reaper.Status // nil once the exit arrived
	status  *reaper.Status
	gone    <-chan struct{} // closed when the process group is empty; nil until the exit arrived
}

// stopRequest says why a process is being stopped and what follows.
type stopRequest struct {
	then   stopOutcome
	reason string // thenRecover: why the run failed
	signal unix.Signal
	killAt time.Time
	killed bool
}

type stopOutcome int

const (
	thenSettle  stopOutcome = iota // the process ended by itself; its group is being cleaned up
	thenStopped                    // stopped by the operator or by shutdown
	thenRestart                    // restarted by the operator
	thenRecover                    // hung or never ready: the run counts as a failure for the restart policy
)

type commandKind int

const (
	cmdStart    commandKind = iota // start unless running; the operator's start also lifts a hold
	cmdStop                        // stop and hold down
	cmdRestart                     // stop if running, then start at once
	cmdHalt                        // watchdog is shutting down: no more starts or restarts
	cmdShutdown                    // stop for good, SIGKILL no later than killAt
)

type command struct {
	kind   commandKind
	signal unix.Signal // cmdShutdown: the stop signal to use instead of the service's own, if set
	killAt time.Time   // cmdShutdown: the latest SIGKILL
}

func newRunner(svc *config.Service, r *reaper.Reaper, log *zap.Logger, output io.Writer, changed chan<- struct{}, controlSocket string) (*runner, error) {
	run := &runner{
		svc:         svc,
		reaper:      r,
		log:         log.With(zap.String("service", svc.Name)),
		output:      output,
		changed:     changed,
		cmds:        make(chan command, 8),
		startWanted: make(chan struct{}, 1),
		quit:        make(chan struct{}),
		done:        make(chan struct{}),
		snap:        Snapshot{Name: svc.Name, State: Waiting, Since: time.Now()},
		exits:       make(map[Exit]uint64),
	}
	// What a manager above watchdog set for watchdog's own sd_notify is not the services'.
	run.env = serviceEnv(notify.StripEnv(os.Environ()), svc)
	if svc.Notify {
		env, err := run.openNotify(notifySocketPath(controlSocket, svc.Name))
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", svc.Name, err)
		}
		run.env = append(run.env, env...)
	}
	return run, nil
}

// snapshot returns a copy of the service's published state.
func (r *runner) snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snap
}

// exitCounts returns how often the service's runs ended each way.
func (r *runner) exitCounts() map[Exit]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.exits)
}

// signal sends sig to the service's process group, if any of it is alive.
func (r *runner) signal(sig unix.Signal) (pid int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pgid == 0 {
		return 0, false
	}
	return r.pgid, unix.Kill(-r.pgid, sig) == nil
}

// post hands the runner a command; the runner carries it out in its own time, so that the
// supervisor never waits for a runner busy forking.
func (r *runner) post(c command) {
	r.cmds <- c
}

// requestStart asks the runner to start the service if it is still waiting.
func (r *runner) requestStart() {
	select {
	case r.startWanted <- struct{}{}:
	default: // a request is already pending
	}
}

// halt stops all starts from now on and puts a waiting or backing-off service down.
func (r *runner) halt() {
	r.halted.Store(true)
	r.post(command{kind: cmdHalt})
}

func (r *runner) run() {
	for {
		var exit <-chan reaper.Status
		var gone <-chan struct{}
		if r.proc != nil {
			exit, gone = r.proc.exit, r.proc.gone
		}
		select {
		case c := <-r.cmds:
			r.handle(c)
		case <-r.startWanted:
			if snap := r.snapshot(); snap.State == Waiting && !snap.Held && !r.halted.Load() {
				r.start()
			}
		case st := <-exit:
			r.exited(st)
		case <-gone:
			r.groupGone()
		case <-r.timer.C:
			r.timer.stop()
			r.timerFired()
		case res := <-r.probeResults():
			r.probed(res)
		case m := <-r.notifyMessages():
			r.notified(m)
		case <-r.startupAlarm.C:
			r.startupAlarm.stop()
			r.recover("unready", fmt.Sprintf("not ready within startup_timeout %s", r.svc.StartupTimeout))
		case <-r.watchdogAlarm.C:
			r.watchdogAlarm.stop()
			r.recover("watchdog_timeout", fmt.Sprintf("no WATCHDOG=1 within %s", r.watchdogTimeout))
		case <-r.quit:
			r.timer.stop()
			r.endReadiness()
			r.closeNotify()
			return
		}
	}
}

func (r *runner) handle(c command) {
	if r.halted.Load() && (c.kind == cmdStart || c.kind == cmdRestart) {
		return
	}
	switch c.kind {
	case cmdHalt:
		if r.stop != nil && r.stop.then == thenRestart {
			r.stop.then = thenStopped // an operator's restart under way ends with the stop
		}
		if st := r.snapshot().State; st == Waiting || st == Backoff {
			r.timer.stop()
			r.setState(Stopped, "watchdog is shutting down")
		}
	case cmdStart:
		r.update(func(s *Snapshot) { s.Held = false })
		if r.proc == nil {
			r.resetRestarts()
			r.start()
		}
	case cmdStop:
		r.update(func(s *Snapshot) { s.Held = true })
		r.stopNow(thenStopped, r.svc.StopSignal, time.Now().Add(r.svc.StopGracePeriod))
	case cmdRestart:
		r.update(func(s *Snapshot) { s.Held = false })
		if r.proc == nil {
			r.resetRestarts()
			r.start()
			return
		}
		r.stopNow(thenRestart, r.svc.StopSignal, time.Now().Add(r.svc.StopGracePeriod))
	case cmdShutdown:
		sig := r.svc.StopSignal
		if c.signal != 0 {
			sig = c.signal
		}
		r.stopNow(thenStopped, sig, c.killAt)
	}
}

// stopNow stops the current process (its whole group) or, with none, puts the service down.
func (r *runner) stopNow(then stopOutcome, sig unix.Signal, killAt time.Time) {
	if r.proc == nil {
		r.timer.stop()
		r.setState(Stopped, "")
		return
	}
	if r.stop != nil {
		// Already stopping: keep the signal already sent, make the deadline no later.
		if then != thenSettle {
			r.stop.then = then
		}
		if killAt.Before(r.stop.killAt) {
			r.stop.killAt = killAt
			r.timer.set(time.Until(killAt))
		}
		return
	}
	r.stop = &stopRequest{then: then, signal: sig, killAt: killAt}
	r.log.Info("stopping", zap.Int("pid", r.proc.pid), zap.String("signal", config.SignalName(sig)),
		zap.Duration("grace", time.Until(killAt).Round(time.Millisecond)))
	r.update(func(s *Snapshot) {
		s.State, s.Since, s.Killed = Stopping, time.Now(), false
	})
	r.signal(sig)
	r.timer.set(time.Until(killAt))
}

func (r *runner) timerFired() {
	switch {
	case r.stop != nil && !r.stop.killed:
		r.stop.killed = true
		if pgid, ok := r.signal(unix.SIGKILL); ok {
			r.update(func(s *Snapshot) { s.Killed = true })
			r.log.Warn("killed", zap.Int("pid", pgid), zap.String("signal", "SIGKILL"),
				zap.String("reason", "stop grace period ran out"))
		}
	case r.proc == nil && r.snapshot().State == Backoff:
		r.start()
	}
}

// start runs the command once. A start that fails is a run that ended at once, with the code
// a shell would give: 127 when the command is missing, 126 when it cannot be executed.
func (r *runner) start() {
	r.timer.stop()
	path, argv := r.svc.Command[0], r.svc.Command
	resolved, err := reaper.LookPath(path, r.env, r.svc.WorkingDir)
	var pid int
	var exit <-chan reaper.Status
	if err == nil {
		attr := r.procAttr()
		capture := r.captureOutput(attr)
		pid, exit, err = r.reaper.Start(resolved, argv, attr)
		if capture != nil {
			capture.CloseWriters() // the child has its own copies; ours would keep the pipes open
		}
	}
	now := time.Now()
	if err != nil {
		code := 126
		if errors.Is(err, unix.ENOENT) {
			code = 127
		}
		r.log.Error("start_failed", zap.Strings("command", argv), zap.Int("exit_code", code), zap.Error(err))
		if r.svc.Main {
			// Like a shell, say on stderr why the command did not run; watchdog exits with code.
			fmt.Fprintf(os.Stderr, "watchdog: %v\n", err)
		}
		r.update(func(s *Snapshot) {
			s.Pid, s.StartedAt, s.Reason = 0, now, err.Error()
			s.LastExit = &Exit{Code: code}
			r.exits[*s.LastExit]++
		})
		r.ended(false, code, err.Error(), 0)
		return
	}
	r.proc = &process{pid: pid, started: now, exit: exit}
	r.mu.Lock()
	r.pgid = pid
	r.mu.Unlock()
	r.log.Info("started", zap.Int("pid", pid), zap.Int("restarts", r.snapshot().Restarts))
	r.update(func(s *Snapshot) {
		s.State, s.Since, s.Pid, s.StartedAt, s.Reason, s.Ready = Starting, now, pid, now, "", false
		s.StatusText = "" // the last run's STATUS= does not describe this one
	})
	r.beginReadiness(now)
}

// exited records the main process's exit and waits for the rest of its group, stopping it
// the way the service is stopped when anything is left (DESIGN.md invariant 4).
func (r *runner) exited(st reaper.Status) {
	p := r.proc
	p.exit, p.status = nil, &st
	r.endReadiness()
	last := &Exit{Code: st.Code()}
	fields := []zap.Field{zap.Int("pid", st.Pid), zap.Int("exit_code", last.Code)}
	if st.Wait.Signaled() {
		last.Signal = config.SignalName(st.Wait.Signal())
		fields = append(fields, zap.String("signal", last.Signal))
	}
	fields = append(fields, zap.Duration("ran", st.At.Sub(p.started).Round(time.Millisecond)))
	r.log.Info("exited", fields...)
	r.update(func(s *Snapshot) {
		s.LastExit, s.Ready = last, false
		r.exits[*last]++
	})
	p.gone = r.reaper.GroupGone(p.pid)
	select {
	case <-p.gone:
	default:
		if r.stop == nil {
			r.stopNow(thenSettle, r.svc.StopSignal, time.Now().Add(r.svc.StopGracePeriod))
		}
	}
}

// groupGone ends the run: the main process and its whole group are gone.
func (r *runner) groupGone() {
	p, stop := r.proc, r.stop
	r.proc, r.stop = nil, nil
	r.timer.stop()
	r.mu.Lock()
	r.pgid = 0
	r.mu.Unlock()
	r.update(func(s *Snapshot) { s.Pid = 0 })
	if stop != nil && stop.then == thenStopped {
		r.setState(Stopped, "")
		return
	}
	if stop != nil && stop.then == thenRestart {
		r.resetRestarts()
		r.start()
		return
	}
	st := *p.status
	ran := st.At.Sub(p.started)
	if stop != nil && stop.then == thenRecover {
		r.ended(false, st.Code(), stop.reason, ran)
		return
	}
	r.ended(succeeded(st, r.svc.SuccessExitCodes), st.Code(), "", ran)
}

// ended applies the restart policy to a run that ended by itself after running for ran.
func (r *runner) ended(success bool, code int, reason string, ran time.Duration) {
	// Every quick run backs off, a successful one too: "always" on a command that exits 0 at
	// once must not spin. A run that lasted restart_max_delay starts the backoff afresh.
	if ran >= r.svc.RestartMaxDelay {
		r.quickRuns = 0
	}
	r.quickRuns++
	switch {
	case r.halted.Load():
		r.setState(Stopped, "watchdog is shutting down")
		return
	case r.svc.Oneshot && success:
		r.log.Info("completed")
		r.update(func(s *Snapshot) { s.State, s.Since, s.Reason, s.Ready = Completed, time.Now(), "", true })
		return
	case !shouldRestart(r.svc.Restart, success):
		if success {
			r.setState(Exited, "")
			return
		}
		if reason == "" {
			reason = fmt.Sprintf("exited with code %d, restart %q", code, r.svc.Restart)
		}
		r.fail(reason)
		return
	}
	now := time.Now()
	if restartLimitReached(r.restarts, now, r.svc.RestartWindow, r.svc.MaxRestarts) {
		r.fail(fmt.Sprintf("restarted %d times within %s", r.svc.MaxRestarts, r.svc.RestartWindow))
		return
	}
	r.restarts = append(r.restarts, now)
	delay := backoffDelay(r.svc.RestartDelay, r.svc.RestartMaxDelay, r.quickRuns, rand.Float64())
	restarts := r.snapshot().Restarts + 1
	fields := []zap.Field{zap.Int("restarts", restarts), zap.Duration("delay", delay.Round(time.Millisecond)),
		zap.Int("exit_code", code)}
	if reason != "" {
		fields = append(fields, zap.String("reason", reason))
	}
	r.log.Info("restarting", fields...)
	r.update(func(s *Snapshot) {
		s.State, s.Since, s.Restarts, s.RetryAt, s.Reason = Backoff, now, restarts, now.Add(delay), reason
	})
	r.timer.set(delay)
}

func (r *runner) fail(reason string) {
	r.log.Error("failed", zap.String("reason", reason))
	r.setState(Failed, reason)
}

// resetRestarts starts the restart limit and the backoff afresh, as after an operator's start.
func (r *runner) resetRestarts() {
	r.restarts, r.quickRuns = nil, 0
}

func (r *runner) setState(st State, reason string) {
	r.update(func(s *Snapshot) { s.State, s.Since, s.Reason = st, time.Now(), reason })
}

// update changes the published snapshot and tells the supervisor.
func (r *runner) update(change func(*Snapshot)) {
	r.mu.Lock()
	change(&r.snap)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// alarm is a timer a runner selects on: C is nil, and never fires, while it is not set.
type alarm struct {
	t *time.Timer
	C <-chan time.Time
}

func (a *alarm) set(d time.Duration) {
	a.stop()
	a.t = time.NewTimer(max(d, 0))
	a.C = a.t.C
}

func (a *alarm) stop() {
	if a.t != nil {
		a.t.Stop()
		a.t, a.C = nil, nil
	}
}

func (r *runner) procAttr() *syscall.ProcAttr {
	attr := &syscall.ProcAttr{
		Dir:   r.svc.WorkingDir,
		Env:   r.env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	if r.svc.Main {
		// The command gets the terminal, so Ctrl-C reaches it and a shell gets job control.
		// Only our controlling terminal has a foreground group to give (TIOCGPGRP fails on
		// any other), and a terminal that is just stdin is left alone.
		if _, err := unix.IoctlGetInt(0, unix.TIOCGPGRP); err == nil {
			attr.Sys.Foreground, attr.Sys.Ctty = true, 0
		}
	} else {
		attr.Files[0] = devNull.Fd()
	}
	if c := r.svc.Credential; c != nil {
		attr.Sys.Credential = &syscall.Credential{Uid: c.UID, Gid: c.GID, Groups: c.Groups}
	}
	return attr
}

// captureOutput points the child's stdout and stderr at pipes whose lines become JSON log
// lines, when the service has log = "json". Without pipes (no descriptors left, say) the
// service writes to watchdog's own stdout and stderr, and the log says why.
func (r *runner) captureOutput(attr *syscall.ProcAttr) *logcapture.Capture {
	if r.svc.Log != config.LogJSON || r.output == nil {
		return nil
	}
	c, err := logcapture.Start(r.output, r.svc.Name)
	if err != nil {
		r.log.Warn("log_capture_failed", zap.Error(err), zap.String("reason", "output goes to watchdog's stdout as it is"))
		return nil
	}
	attr.Files[1], attr.Files[2] = c.Stdout().Fd(), c.Stderr().Fd()
	return c
}

// devNull is every service's stdin but the main command's.
var devNull, _ = os.Open(os.DevNull)

// serviceEnv is watchdog's environment with the service's own entries replacing or added.
func serviceEnv(base []string, svc *config.Service) []string {
	add := append([]string(nil), svc.Environment...)
	if svc.InstanceOf != "" {
		add = append([]string{"WATCHDOG_INSTANCE=" + strconv.Itoa(svc.Instance)}, add...)
	}
	switch c := svc.Credential; {
	case c != nil && c.Home != "":
		add = append([]string{"HOME=" + c.Home, "USER=" + c.Name, "LOGNAME=" + c.Name}, add...)
	case c != nil:
		// A uid with no passwd entry gets HOME=/, as under docker run --user: never the
		// home of the user watchdog runs as.
		add = append([]string{"HOME=/"}, add...)
	}
	env := make([]string, 0, len(base)+len(add))
	index := make(map[string]int)
	for _, kv := range append(base, add...) {
		key, _, _ := strings.Cut(kv, "=")
		if i, ok := index[key]; ok {
			env[i] = kv
			continue
		}
		index[key] = len(env)
		env = append(env, kv)
	}
	return env
}
