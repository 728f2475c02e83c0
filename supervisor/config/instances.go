package config

import (
	"slices"
	"strconv"
)

// expandInstances turns every service with instances = N > 1 into N services NAME.0 ...
// NAME.N-1 at its place in the start order, and a dependency on NAME into one on each copy.
func expandInstances(services []*Service) []*Service {
	copies := map[string][]string{}
	var out []*Service
	for _, s := range services {
		if s.Instances <= 1 {
			out = append(out, s)
			continue
		}
		for i := range s.Instances {
			c := *s
			c.Name = s.Name + "." + strconv.Itoa(i)
			c.Instance, c.InstanceOf = i, s.Name
			out = append(out, &c)
			copies[s.Name] = append(copies[s.Name], c.Name)
		}
	}
	for _, s := range out {
		var deps []string
		for _, d := range s.DependsOn {
			if names, ok := copies[d]; ok {
				deps = append(deps, names...)
			} else {
				deps = append(deps, d)
			}
		}
		if !slices.Equal(deps, s.DependsOn) {
			s.DependsOn = deps // s is a copy of its own or was never shared
		}
	}
	return out
}
