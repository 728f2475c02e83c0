package supervisor

import (
	"time"

	"go.uber.org/zap"

	"watchdog/supervisor/config"
)

// A roll restarts services one at a time, each only once the one before is ready again, so
// that copies of a service keep serving while they are restarted. A copy that fails to come
// back stops the roll and leaves the rest running as they are.
type roll struct {
	names []string
	// replace holds new settings for the services of a reload's roll; nil restarts them as
	// they are.
	replace map[string]*config.Service
	next    int       // index in names of the step under way, or to begin
	began   time.Time // when the step under way began; zero before it begins
}

// beginRoll starts rolling through targets, replacing settings where replace says.
func (s *Supervisor) beginRoll(targets []*runner, replace map[string]*config.Service) {
	ro := &roll{replace: replace}
	for _, r := range targets {
		ro.names = append(ro.names, r.svc.Name)
	}
	s.log.Info("rolling_restart_started", zap.Strings("services", ro.names))
	s.rolls = append(s.rolls, ro)
	s.advanceRolls()
}

// advanceRolls begins each roll's next step when the step under way is done.
func (s *Supervisor) advanceRolls() {
	kept := s.rolls[:0]
	for _, ro := range s.rolls {
		if s.advance(ro) {
			kept = append(kept, ro)
		}
	}
	s.rolls = kept
}

// advance moves ro on as far as it can now and reports whether it still has work.
func (s *Supervisor) advance(ro *roll) bool {
	for ro.next < len(ro.names) {
		name := ro.names[ro.next]
		r, ok := s.byName[name]
		if !ok {
			s.log.Error("rolling_restart_failed", zap.String("service", name), zap.String("reason", "the service is gone"))
			return false
		}
		if ro.began.IsZero() {
			ro.began = time.Now()
			s.log.Info("rolling_restart_step", zap.String("service", name), zap.Int("step", ro.next+1),
				zap.Int("of", len(ro.names)))
			if svc := ro.replace[name]; svc != nil {
				r.retiring, r.replacement = true, svc
				r.post(command{kind: cmdShutdown, killAt: time.Now().Add(r.svc.StopGracePeriod)})
			} else {
				r.post(command{kind: cmdRestart})
			}
			return true
		}
		snap := r.snapshot()
		switch {
		case r.retiring || !snap.StartedAt.After(ro.began) && snap.State != Failed:
			return true // the old run is still stopping, or the new one has not started
		case snap.Ready:
			ro.next++
			ro.began = time.Time{}
		case snap.State == Starting || snap.State == Waiting:
			return true
		default:
			s.log.Error("rolling_restart_failed", zap.String("service", name),
				zap.String("reason", "did not come back ready: "+string(snap.State)),
				zap.Strings("not_restarted", ro.names[ro.next+1:]))
			return false
		}
	}
	s.log.Info("rolling_restart_complete", zap.Strings("services", ro.names))
	return false
}
