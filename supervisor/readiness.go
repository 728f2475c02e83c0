package supervisor

import (
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"watchdog/supervisor/health"
	"watchdog/supervisor/notify"
)

// readiness is the part of a runner that decides when a run is ready (its healthcheck passed,
// it sent READY=1, or, with neither, it started) and notices when it hangs: failed probes, a
// missed sd_notify watchdog ping, no readiness within startup_timeout. It is owned by the
// runner's goroutine like the rest of the runner.
type readiness struct {
	notifySocket    *notify.Socket // nil unless the service has notify = true
	checker         *health.Checker
	tracker         *health.Tracker
	healthy         bool // the current run passed its healthcheck (true without one)
	notifiedReady   bool // the current run sent READY=1 (true without notify)
	watchdogTimeout time.Duration
	startupAlarm    alarm
	watchdogAlarm   alarm
}

// notifySocketPath is where a service's sd_notify socket lives: beside the control socket.
func notifySocketPath(controlSocket, service string) string {
	return filepath.Join(filepath.Dir(controlSocket), "watchdog-notify", service+".sock")
}

// openNotify binds the service's notify socket, before any start, and returns the environment
// entries that point the service at it.
func (r *runner) openNotify(path string) ([]string, error) {
	uid, gid := -1, -1
	if c := r.svc.Credential; c != nil {
		uid, gid = int(c.UID), int(c.GID)
	}
	sock, err := notify.Listen(path, uid, gid)
	if err != nil {
		return nil, err
	}
	r.notifySocket = sock
	return notify.Env(path, r.svc.WatchdogTimeout), nil
}

func (r *runner) closeNotify() {
	if r.notifySocket != nil {
		if err := r.notifySocket.Close(); err != nil {
			r.log.Warn("notify_socket_close_failed", zap.Error(err))
		}
	}
}

// beginReadiness starts watching a run that has just started.
func (r *runner) beginReadiness(started time.Time) {
	r.healthy = r.svc.Healthcheck == nil
	r.notifiedReady = !r.svc.Notify
	if hc := r.svc.Healthcheck; hc != nil {
		r.tracker = health.NewTracker(hc, started)
		r.checker = health.Start(hc, health.Spec{
			Env:           r.env,
			Dir:           r.svc.WorkingDir,
			Credential:    r.svc.Credential,
			StartInterval: min(time.Second, hc.Interval),
		}, r.reaper)
		r.update(func(s *Snapshot) { s.Health = "starting" })
	}
	// Each run starts from the configured timeout: a WATCHDOG_USEC= the last run sent is gone.
	r.watchdogTimeout = r.svc.WatchdogTimeout
	if r.watchdogTimeout > 0 {
		r.watchdogAlarm.set(r.watchdogTimeout)
	}
	if r.svc.StartupTimeout > 0 && !r.isReady() {
		r.startupAlarm.set(r.svc.StartupTimeout)
	}
	r.checkReady()
}

// endReadiness stops watching: the run's main process is gone.
func (r *runner) endReadiness() {
	if r.checker != nil {
		r.checker.Stop()
		r.checker, r.tracker = nil, nil
	}
	r.startupAlarm.stop()
	r.watchdogAlarm.stop()
}

func (r *runner) isReady() bool { return r.healthy && r.notifiedReady }

// checkReady marks the run ready the first time every readiness condition holds.
func (r *runner) checkReady() {
	snap := r.snapshot()
	if r.proc == nil || r.stop != nil || snap.State != Starting || !r.isReady() {
		return
	}
	r.startupAlarm.stop()
	if r.svc.Oneshot {
		return // a oneshot is ready once it has completed
	}
	r.update(func(s *Snapshot) { s.State, s.Since, s.Ready = Running, time.Now(), true })
	if r.svc.Healthcheck != nil || r.svc.Notify {
		r.log.Info("ready", zap.Int("pid", r.proc.pid),
			zap.Duration("after", time.Since(r.proc.started).Round(time.Millisecond)))
	}
}

func (r *runner) probeResults() <-chan health.Result {
	if r.checker == nil {
		return nil
	}
	return r.checker.Results()
}

func (r *runner) notifyMessages() <-chan notify.Message {
	if r.notifySocket == nil {
		return nil
	}
	return r.notifySocket.Messages()
}

func (r *runner) probed(res health.Result) {
	if r.tracker == nil || r.proc == nil {
		return
	}
	switch r.tracker.Observe(res) {
	case health.BecameHealthy:
		r.healthy = true
		r.update(func(s *Snapshot) {
			s.Health = "healthy"
			s.Ready = s.State == Running
		})
		r.log.Info("healthy", zap.Int("pid", r.proc.pid), zap.Duration("took", res.Took.Round(time.Millisecond)))
		r.checkReady()
	case health.BecameUnhealthy:
		r.update(func(s *Snapshot) { s.Health, s.Ready = "unhealthy", false })
		fields := []zap.Field{zap.Int("pid", r.proc.pid), zap.String("reason", res.Reason)}
		if res.Output != "" {
			fields = append(fields, zap.String("output", res.Output))
		}
		r.log.Warn("unhealthy", fields...)
		if r.svc.Healthcheck.OnUnhealthy == "restart" {
			r.recover("", "unhealthy: "+res.Reason)
		}
	}
}

// notified acts on one sd_notify datagram. Only the service's own process group may speak for it.
func (r *runner) notified(m notify.Message) {
	if m.Err != nil {
		r.log.Warn("notify_refused", zap.Error(m.Err))
		return
	}
	pgid := r.currentGroup()
	if pgid == 0 || !notify.InProcessGroup(m.PID, pgid) {
		r.log.Warn("notify_refused", zap.Int("sender_pid", m.PID),
			zap.String("reason", "sender is not in the service's process group"))
		return
	}
	if m.HasStatus {
		r.update(func(s *Snapshot) { s.StatusText = m.Status })
	}
	if m.HasWatchdogTimeout { // WATCHDOG_USEC=0 turns the watchdog off, as under systemd
		r.watchdogTimeout = m.WatchdogTimeout
		r.watchdogAlarm.stop()
	}
	if (m.Watchdog || m.HasWatchdogTimeout) && r.watchdogTimeout > 0 && r.stop == nil {
		r.watchdogAlarm.set(r.watchdogTimeout)
	}
	if m.WatchdogTrigger {
		r.recover("watchdog_timeout", "the service sent WATCHDOG=trigger")
	}
	if m.Stopping {
		r.log.Info("stopping_notified", zap.Int("sender_pid", m.PID))
	}
	if m.Ready && !r.notifiedReady {
		r.notifiedReady = true
		r.checkReady()
	}
}

// recover stops a hung or never-ready run; the restart policy then treats it as a failure.
func (r *runner) recover(event, reason string) {
	if r.proc == nil || r.stop != nil || r.halted.Load() {
		return
	}
	if event != "" {
		r.log.Warn(event, zap.Int("pid", r.proc.pid), zap.String("reason", reason))
	}
	r.update(func(s *Snapshot) { s.Ready = false })
	r.stopNow(thenRecover, r.svc.StopSignal, time.Now().Add(r.svc.StopGracePeriod))
	r.stop.reason = reason
}

// currentGroup is the process group of the current run, or 0.
func (r *runner) currentGroup() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pgid
}
