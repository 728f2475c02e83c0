package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"watchdog/supervisor/systemdunit"
)

// A service table may take its settings from a systemd unit: unit = "PATH" (relative to
// the config file's directory). The unit is translated as `watchdog import-unit`
// translates it. The steps the unit runs before its main command (ExecStartPre=) become
// services of their own, NAME-pre, NAME-pre-2, ... Keys written in a table, NAME's or a
// step's, replace what the unit gave, except environment, merged variable by variable,
// and depends_on, which keeps the steps.
//
// Config loading has no logger, so what the translation cannot express is ignored,
// except a loss that changes what runs or when the service counts as started or failed
// (Type=forking, an "@" argv[0], a variable only systemd sets, a missing
// EnvironmentFile=, ...): that is an error on the unit's file and line until the table
// of the service writes the key the loss leaves wrong. `watchdog import-unit` lists
// everything.

// unitOrigins maps the dotted key of every setting a unit gave to where it came from,
// so that errors in it name the unit file, or drop-in, and line.
type unitOrigins map[string]unitOrigin

type unitOrigin struct {
	file string
	line int
}

// readUnits replaces the unit key of every service table under services by the
// settings of its unit.
func readUnits(services *table) unitOrigins {
	origins := unitOrigins{}
	for _, name := range services.keys() {
		if _, ok := services.n.children[name].children["unit"]; ok {
			readUnit(services, name, origins)
		}
	}
	return origins
}

// readUnit reads the unit of service name and applies it to its table.
func readUnit(services *table, name string, origins unitOrigins) {
	n := services.n.children[name]
	defer delete(n.children, "unit") // read here; the service's own decoding must not see it
	t := newTable(n, services.probs)
	var path string
	if !t.str("unit", &path) {
		return
	}
	if path == "" {
		t.errorf("unit", "must not be empty")
		return
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(services.probs.file), path)
	}
	u, err := systemdunit.ReadService(path)
	if unitErr, ok := errors.AsType[*systemdunit.Error](err); ok {
		services.probs.errs = append(services.probs.errs, &Error{
			File: unitErr.Path, Line: unitErr.Line, Key: n.key + ".unit", Msg: unitErr.Msg})
		return
	}
	if err != nil {
		t.errorf("unit", "%v", err)
		return
	}
	applyUnit(services, name, systemdunit.TranslateUnit(u, name), origins)
}

// applyUnit adds the translation's settings to the tables of its services: the table of
// service name, and one for each step before its main command.
func applyUnit(services *table, name string, tr *systemdunit.Translation, origins unitOrigins) {
	for _, note := range tr.Notes {
		if !note.Matters || writes(services.n.children[note.Service], note.Key) {
			continue
		}
		services.probs.errs = append(services.probs.errs, &Error{
			File: note.File, Line: note.Line, Key: services.n.key + "." + note.Service,
			Msg: fmt.Sprintf("%s: %s; writing %s in [services.%s] overrides it", note.Directive, note.Reason, note.Key, note.Service),
		})
	}
	for _, s := range tr.Services {
		target, written := services.n.children[s.Name]
		switch {
		case !written:
			target = &node{key: services.n.key + "." + s.Name, line: services.n.children[name].line, value: map[string]any{}, children: map[string]*node{}}
			services.n.children[s.Name] = target
			origins[target.key] = unitOrigin{tr.Unit.Path, 0}
		case target.children == nil:
			continue // not a table: decoding says so
		}
		for _, st := range s.Settings {
			if added := mergeSetting(target, st); added != "" {
				origins[added] = unitOrigin{st.File, st.Line}
			}
		}
	}
}

// mergeSetting adds st to the table n unless the table writes it, and returns the dotted
// key it added ("" for none). Variables are merged one by one; a depends_on written in
// the table gains the unit's steps.
func mergeSetting(n *node, st systemdunit.Setting) string {
	top, variable, isVariable := strings.Cut(st.Key, ".")
	existing, written := n.children[top]
	switch {
	case isVariable && !written:
		existing = &node{key: n.key + "." + top, line: st.Line, value: map[string]any{}, children: map[string]*node{}}
		n.children[top] = existing
		fallthrough
	case isVariable:
		vars, isTable := existing.value.(map[string]any)
		if _, set := existing.children[variable]; !isTable || set {
			return ""
		}
		child := &node{key: existing.key + "." + variable, line: st.Line, value: st.Value}
		existing.children[variable] = child
		vars[variable] = st.Value
		return child.key
	case !written:
		child := &node{key: n.key + "." + top, line: st.Line, value: st.Value}
		n.children[top] = child
		return child.key
	case top == "depends_on":
		if deps, ok := existing.value.([]any); ok {
			for _, step := range st.Value.([]any) {
				if !slices.Contains(deps, step) {
					deps = append(deps, step)
				}
			}
			existing.value = deps
		}
	}
	return ""
}

// writes reports whether the service table n, as written, has key.
func writes(n *node, key string) bool {
	if n == nil || key == "" {
		return false
	}
	top, variable, isVariable := strings.Cut(key, ".")
	child, ok := n.children[top]
	if ok && isVariable {
		_, ok = child.children[variable]
	}
	return ok
}

// attribute makes the errors found in keys a unit gave name the unit's file and line.
func (o unitOrigins) attribute(probs *problems) {
	for _, e := range probs.errs {
		if origin, ok := o[e.Key]; ok && e.File == probs.file {
			e.File, e.Line = origin.file, origin.line
		}
	}
}
