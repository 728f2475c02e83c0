package supervisordconf

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// startOrder lists the services in the order supervisord starts its process groups: by
// priority, then name, a [group:x] at its own priority with its programs in the order it
// names them, every other program as a group of its own.
func startOrder(programs []*program) []*Service {
	type unit struct {
		name     string
		priority int
		programs []*program
	}
	var units []*unit
	inGroup := map[*group]*unit{}
	for _, p := range programs {
		if p.group == nil {
			units = append(units, &unit{p.name, p.priority, []*program{p}})
			continue
		}
		u, ok := inGroup[p.group]
		if !ok {
			u = &unit{name: p.group.name, priority: p.group.priority}
			inGroup[p.group] = u
			units = append(units, u)
		}
		u.programs = append(u.programs, p)
	}
	for _, u := range units {
		if len(u.programs) > 1 {
			g := u.programs[0].group
			slices.SortStableFunc(u.programs, func(a, b *program) int {
				return slices.Index(g.programs, a.name) - slices.Index(g.programs, b.name)
			})
		}
	}
	slices.SortStableFunc(units, func(a, b *unit) int {
		return cmp.Or(cmp.Compare(a.priority, b.priority), cmp.Compare(a.name, b.name))
	})
	var out []*Service
	for _, u := range units {
		for _, p := range u.programs {
			out = append(out, p.services...)
		}
	}
	return out
}

// dependencies expresses supervisord's priorities with depends_on: every service depends
// on the services of the nearest lower priority that restart. supervisord starts its
// groups in priority order and stops them in reverse, waiting for each group to stop
// before it stops the next; watchdog starts a service once its dependencies are up and
// stops it before them, which gives both orders. A program that is not restarted
// (autorestart=false) is no dependency: once it ended it would hold the later ones down,
// where supervisord only starts it first. Programs with autostart=false are left out
// likewise, since their tables are written commented out.
func dependencies(programs []*program) {
	if len(programs) == 0 {
		return
	}
	levels := map[int][]*program{} // the programs that can be depended on, by priority
	for _, p := range programs {
		if p.restarts && len(p.services) > 0 && !p.services[0].Disabled {
			levels[p.level()] = append(levels[p.level()], p)
		}
	}
	priorities := slices.Sorted(maps.Keys(levels))
	for _, p := range programs {
		i, _ := slices.BinarySearch(priorities, p.level())
		if i == 0 {
			continue // nothing restarts below its priority
		}
		below := priorities[i-1]
		var deps []any
		for _, q := range levels[below] {
			for _, s := range q.services {
				deps = append(deps, s.Name)
			}
		}
		why := fmt.Sprintf("priority %d starts after %d", p.level(), below)
		for _, s := range p.services {
			s.Settings = append(s.Settings, Setting{Key: "depends_on", Value: deps, Why: why})
			sortSettings(s.Settings)
		}
	}
	highest := slices.MaxFunc(programs, func(a, b *program) int { return cmp.Compare(a.level(), b.level()) }).level()
	for _, p := range programs {
		if !p.restarts && len(p.services) > 0 && p.level() < highest {
			p.noteLevel("autorestart=false: no dependency of the programs of higher priority, which would stay down once it ended; they start with it, not after it")
		}
	}
}

// noteLevel notes something about the program's priority on every service of it, at the
// option that sets the priority, or else at the section.
func (p *program) noteLevel(reason string) {
	n := Note{Reason: reason}
	switch svc := p.services[0]; {
	case p.group != nil && p.group.priorityFrom != nil:
		o := p.group.priorityFrom
		n.File, n.Line, n.Directive = o.file, o.line, "["+p.group.section.name+"] "+o.String()
	case p.group == nil && p.priorityFrom != nil:
		o := p.priorityFrom
		n.File, n.Line, n.Directive = o.file, o.line, o.String()
	default:
		n.File, n.Line, n.Directive = svc.File, svc.Line, "priority (999 by default)"
	}
	for _, svc := range p.services {
		svc.Notes = append(slices.Clone(svc.Notes), n)
	}
}
