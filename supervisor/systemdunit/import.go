package systemdunit

import (
	"fmt"
	"strings"
)

// Import reads the service units at paths and translates them together, as
// `watchdog import-unit` does. A file that cannot be read, is not a .service unit, or
// would give a service name another unit already gave, is left out and reported in errs.
func Import(paths []string) (translations []*Translation, errs []error) {
	var units []*Unit
	for _, path := range paths {
		u, err := ReadService(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		units = append(units, u)
	}
	taken := map[string]string{} // service name -> unit file
	for _, t := range Translate(units) {
		if clash := firstTaken(t, taken); clash != "" {
			errs = append(errs, fmt.Errorf("%s: service %q is already made from %s", t.Unit.Path, clash, taken[clash]))
			continue
		}
		for _, s := range t.Services {
			taken[s.Name] = t.Unit.Path
		}
		translations = append(translations, t)
	}
	return translations, errs
}

// ReadService reads a unit file that must be a service unit.
func ReadService(path string) (*Unit, error) {
	if !strings.HasSuffix(path, ".service") {
		return nil, fmt.Errorf("%s: not a .service unit", path)
	}
	return Read(path)
}

func firstTaken(t *Translation, taken map[string]string) string {
	for _, s := range t.Services {
		if _, ok := taken[s.Name]; ok {
			return s.Name
		}
	}
	return ""
}
