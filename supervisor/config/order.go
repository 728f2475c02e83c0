package config

import (
	"slices"
	"strings"
)

// orderServices checks every depends_on against the other services and returns the
// services in start order: each after the services it depends on, ties broken by name.
// services come sorted by name; tables holds each one's table, for errors.
func orderServices(services []*Service, tables map[string]*table) []*Service {
	deps := map[string][]string{} // the edges that name another, existing service
	for _, s := range services {
		t := tables[s.Name]
		for i, dep := range s.DependsOn {
			switch {
			case dep == s.Name:
				t.errorf("depends_on", "a service cannot depend on itself")
			case tables[dep] == nil:
				t.errorf("depends_on", "unknown service %q", dep)
			case slices.Contains(s.DependsOn[:i], dep):
				t.errorf("depends_on", "%q is listed twice", dep)
			default:
				deps[s.Name] = append(deps[s.Name], dep)
			}
		}
	}
	for _, cycle := range findCycles(services, deps) {
		tables[cycle[0]].errorf("depends_on", "dependency cycle: %s", strings.Join(cycle, " -> "))
	}

	ordered := make([]*Service, 0, len(services))
	started := map[string]bool{}
	for len(ordered) < len(services) {
		i := slices.IndexFunc(services, func(s *Service) bool {
			return !started[s.Name] && !slices.ContainsFunc(deps[s.Name], func(d string) bool { return !started[d] })
		})
		if i < 0 {
			break // only services in a cycle are left; it is reported above
		}
		started[services[i].Name] = true
		ordered = append(ordered, services[i])
	}
	return ordered
}

// findCycles returns each dependency cycle once, as a path that starts and ends with the
// same service ("a", "b", "a").
func findCycles(services []*Service, deps map[string][]string) [][]string {
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var cycles [][]string
	var visit func(name string)
	visit = func(name string) {
		state[name] = onPath
		path = append(path, name)
		for _, dep := range deps[name] {
			switch state[dep] {
			case unseen:
				visit(dep)
			case onPath:
				start := slices.Index(path, dep)
				cycles = append(cycles, append(slices.Clone(path[start:]), dep))
			}
		}
		path = path[:len(path)-1]
		state[name] = done
	}
	for _, s := range services {
		if state[s.Name] == unseen {
			visit(s.Name)
		}
	}
	return cycles
}
