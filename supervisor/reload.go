package supervisor

import (
	"fmt"
	"reflect"
	"slices"
	"time"

	"go.uber.org/zap"

	"watchdog/supervisor/config"
)

// reloadPlan is what a reload changes, by service name.
type reloadPlan struct {
	Added, Removed, Changed, Unchanged []string
}

// planReload compares the services of two configs. A service whose settings differ in any
// way is changed, and only those are restarted: unchanged services are not touched.
func planReload(old, next []*config.Service) reloadPlan {
	var p reloadPlan
	before := make(map[string]*config.Service, len(old))
	for _, svc := range old {
		before[svc.Name] = svc
	}
	for _, svc := range next {
		prev, ok := before[svc.Name]
		switch {
		case !ok:
			p.Added = append(p.Added, svc.Name)
		case sameSettings(prev, svc):
			p.Unchanged = append(p.Unchanged, svc.Name)
		default:
			p.Changed = append(p.Changed, svc.Name)
		}
		delete(before, svc.Name)
	}
	for _, svc := range old {
		if _, gone := before[svc.Name]; gone {
			p.Removed = append(p.Removed, svc.Name)
		}
	}
	return p
}

// sameSettings reports whether a and b run the same way. How many copies a service has is
// not a setting of each copy: going from 3 to 5 adds two and leaves three untouched.
func sameSettings(a, b *config.Service) bool {
	x, y := *a, *b
	x.Instances, y.Instances = 0, 0
	return reflect.DeepEqual(x, y)
}

// reload re-reads the config file, and when it is valid applies the difference: new services
// start, removed ones stop gracefully, changed ones restart with their new settings (each
// once its old run is down), unchanged ones are not touched. A config that is not valid
// changes nothing. The [watchdog] table takes effect at the next start of watchdog.
func (s *Supervisor) reload() error {
	s.reloads.Add(1)
	if s.cfg.Path == "" {
		err := fmt.Errorf("no config file to reload: watchdog runs only the command after --")
		s.log.Error("reload_failed", zap.Error(err))
		return err
	}
	next, err := config.Load(s.cfg.Path)
	if err != nil {
		s.log.Error("reload_failed", zap.String("path", s.cfg.Path), zap.Error(err))
		return fmt.Errorf("reload %s: %w", s.cfg.Path, err)
	}
	var current []*config.Service
	for _, r := range s.runners {
		if !r.retiring && r != s.main {
			current = append(current, r.svc)
		}
	}
	plan := planReload(current, next.Services)

	var made []*runner
	for _, name := range plan.Added {
		svc := next.Services[slices.IndexFunc(next.Services, func(c *config.Service) bool { return c.Name == name })]
		r, err := newRunner(svc, s.reaper, s.log, s.output, s.changed, s.cfg.Watchdog.ControlSocket)
		if err != nil {
			for _, m := range made {
				m.closeNotify()
			}
			s.log.Error("reload_failed", zap.String("path", s.cfg.Path), zap.Error(err))
			return fmt.Errorf("reload %s: %w", s.cfg.Path, err)
		}
		made = append(made, r)
	}

	s.mu.Lock()
	for _, r := range made {
		s.runners = append(s.runners, r)
		s.byName[r.svc.Name] = r
	}
	// Changed copies of a service are replaced one at a time, each once the one before is
	// ready again; every other changed service at once.
	var rolled []*runner
	replace := map[string]*config.Service{}
	var changedNow []string
	for _, svc := range next.Services {
		if !slices.Contains(plan.Changed, svc.Name) {
			continue
		}
		if svc.InstanceOf != "" {
			rolled = append(rolled, s.byName[svc.Name])
			replace[svc.Name] = svc
			continue
		}
		s.byName[svc.Name].replacement = svc
		changedNow = append(changedNow, svc.Name)
	}
	s.runners = orderLike(s.runners, next.Services)
	s.mu.Unlock()

	for _, name := range append(slices.Clone(plan.Removed), changedNow...) {
		r := s.byName[name]
		r.retiring = true
		if !isDown(r.snapshot().State) {
			r.post(command{kind: cmdShutdown, killAt: time.Now().Add(r.svc.StopGracePeriod)})
		}
	}
	for _, r := range made {
		s.launch(r)
	}
	if len(rolled) > 0 {
		s.beginRoll(rolled, replace)
	}
	if !reflect.DeepEqual(next.Watchdog, s.cfg.Watchdog) {
		s.log.Warn("reload_watchdog_table_ignored", zap.String("reason", "[watchdog] settings take effect when watchdog next starts"))
	}
	s.log.Info("reloaded", zap.String("path", s.cfg.Path), zap.Strings("added", plan.Added),
		zap.Strings("removed", plan.Removed), zap.Strings("changed", plan.Changed),
		zap.Strings("unchanged", plan.Unchanged))
	return nil
}

// orderLike puts runners in the start order of services; runners of services not in it (the
// `--` command, retiring ones) keep their relative order after them.
func orderLike(runners []*runner, services []*config.Service) []*runner {
	rank := make(map[string]int, len(services))
	for i, svc := range services {
		rank[svc.Name] = i
	}
	key := func(r *runner) int {
		if i, ok := rank[r.svc.Name]; ok && (!r.retiring || r.replacement != nil) {
			return i
		}
		return len(services)
	}
	sorted := slices.Clone(runners)
	slices.SortStableFunc(sorted, func(a, b *runner) int { return key(a) - key(b) })
	return sorted
}

// retireDown ends the runners a reload retired once they are down, putting the runner of a
// changed service's new settings in place.
func (s *Supervisor) retireDown() {
	for i := 0; i < len(s.runners); i++ {
		r := s.runners[i]
		if !r.retiring || !isDown(r.snapshot().State) {
			continue
		}
		close(r.quit)
		<-r.done
		r.closeNotify()
		var next *runner
		if r.replacement != nil {
			var err error
			next, err = newRunner(r.replacement, s.reaper, s.log, s.output, s.changed, s.cfg.Watchdog.ControlSocket)
			if err != nil {
				s.log.Error("replace_failed", zap.String("service", r.svc.Name), zap.Error(err))
			}
		}
		s.mu.Lock()
		if next != nil {
			s.runners[i] = next
			s.byName[next.svc.Name] = next
		} else {
			s.runners = slices.Delete(s.runners, i, i+1)
			delete(s.byName, r.svc.Name)
			i--
		}
		s.mu.Unlock()
		if next != nil {
			s.launch(next)
		}
	}
}
