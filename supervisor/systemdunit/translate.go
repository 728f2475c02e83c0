package systemdunit

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Translation is one unit as watchdog services.
type Translation struct {
	Unit *Unit
	// Services holds the steps that run before the main command (ExecStartPre=, and all
	// but the last ExecStart= of a oneshot), each a oneshot that the next one depends on,
	// and then the main service, always last.
	Services []*Service
	// Comments are what the unit says about itself (Description=, Documentation=).
	Comments []string
	// Notes lists every directive the services do not express: the unit file's in line
	// order, then each drop-in's.
	Notes []Note
}

// Main returns the service that runs the unit's main command.
func (t *Translation) Main() *Service { return t.Services[len(t.Services)-1] }

// Service is one [services.NAME] table.
type Service struct {
	Name string
	// Origin names the directive a step before the main command comes from, e.g.
	// "ExecStartPre= (line 7)"; "" for the main service.
	Origin   string
	Settings []Setting
}

// Setting is one key of a service table.
type Setting struct {
	// Key is a key of [services.NAME], or "environment.NAME" for one variable.
	Key string
	// Value has the type the TOML decoder gives: string, int64, bool, or []any of those.
	Value any
	// File and Line are where the value comes from: the unit file or a drop-in, and
	// line 0 for a systemd default the unit does not write.
	File string
	Line int
}

// Note is a directive, or part of one, that the translation leaves out or changes.
type Note struct {
	File      string // the unit file, or the drop-in the directive is in
	Line      int    // 0 when no single line is to blame
	Directive string // as written, e.g. "Nice=5"
	Reason    string
	// Service and Key name the watchdog setting that is missing or different because of
	// it ("web", "command"); both are "" when no setting stands for the directive.
	Service, Key string
	// Matters marks a loss that changes what runs, or when the service counts as started
	// or failed, so much that it cannot be expected to work as the unit means until Key
	// is written by hand.
	Matters bool
}

// Describe says what a note of this translation is about and why, with its line:
// "Nice=5 (line 12): why", or "Nice=5 (FILE:12): why" for a line of a drop-in.
func (t *Translation) Describe(n Note) string {
	switch {
	case n.Line == 0:
		return fmt.Sprintf("%s: %s", n.Directive, n.Reason)
	case n.File == t.Unit.Path:
		return fmt.Sprintf("%s (line %d): %s", n.Directive, n.Line, n.Reason)
	}
	return fmt.Sprintf("%s (%s:%d): %s", n.Directive, n.File, n.Line, n.Reason)
}

// ServiceName turns a unit name into a watchdog service name: the name without
// ".service", every character other than letters, digits, '_' and '-' turned into '-'.
func ServiceName(unitName string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '-'
	}, strings.TrimSuffix(unitName, ".service"))
}

// Translate translates units imported together, each into services named after it.
// After=, Before=, Requires= and Wants= between them become depends_on; a dependency on
// any other unit is noted.
func Translate(units []*Unit) []*Translation {
	peers := map[string]string{} // unit name -> service name
	for _, u := range units {
		peers[u.Name] = ServiceName(u.Name)
	}
	drafts := make([]*draft, len(units))
	for i, u := range units {
		drafts[i] = newDraft(u, ServiceName(u.Name), peers)
	}
	// Before= in one unit is an After= in the other.
	for _, d := range drafts {
		for _, before := range d.before {
			for _, other := range drafts {
				if other.unit.Name == before {
					other.addDependency(d.name)
				}
			}
		}
	}
	out := make([]*Translation, len(units))
	for i, d := range drafts {
		out[i] = d.translate()
	}
	return out
}

// TranslateUnit translates one unit alone into services named after name: the main
// service name, its steps name-pre, name-pre-2, ...
func TranslateUnit(u *Unit, name string) *Translation {
	return newDraft(u, name, nil).translate()
}

// draft holds a unit's assignments as systemd ends up with them (the last one of a
// single value, a list since an empty assignment last reset it) while it is translated.
type draft struct {
	unit   *Unit
	name   string // the main service
	single map[string]Assignment
	lists  map[string][]Assignment
	notes  []Note

	peers  map[string]string // units imported together: unit name -> service name
	deps   []string          // services the first service depends on
	before []string          // peers this unit starts before (Before=)

	env     map[string]string
	envFrom map[string]Assignment // where each variable is set
}

// listDirectives may be written many times and are reset by an empty assignment.
var listDirectives = []string{
	"Service.ExecStart", "Service.ExecStartPre", "Service.Environment", "Service.EnvironmentFile",
	"Service.SuccessExitStatus", "Unit.After", "Unit.Before", "Unit.Requires", "Unit.Wants",
	"Unit.Documentation",
}

// singleDirectives are translated; the last assignment wins.
var singleDirectives = []string{
	"Unit.Description", "Unit.StartLimitBurst", "Unit.StartLimitIntervalSec", "Unit.StartLimitInterval",
	"Service.Type", "Service.RemainAfterExit", "Service.BusName", "Service.Restart",
	"Service.RestartSec", "Service.RestartSteps", "Service.RestartMaxDelaySec",
	"Service.StartLimitBurst", "Service.StartLimitInterval", "Service.StartLimitIntervalSec",
	"Service.KillSignal", "Service.KillMode", "Service.TimeoutSec", "Service.TimeoutStartSec",
	"Service.TimeoutStopSec", "Service.User", "Service.Group", "Service.WorkingDirectory",
	"Service.WatchdogSec",
}

// oldSpellings are names systemd still reads for the start limit.
var oldSpellings = map[string]string{
	"Unit.StartLimitInterval":       "Unit.StartLimitIntervalSec",
	"Service.StartLimitBurst":       "Unit.StartLimitBurst",
	"Service.StartLimitInterval":    "Unit.StartLimitIntervalSec",
	"Service.StartLimitIntervalSec": "Unit.StartLimitIntervalSec",
}

func newDraft(u *Unit, name string, peers map[string]string) *draft {
	d := &draft{
		unit:   u,
		name:   name,
		single: map[string]Assignment{},
		lists:  map[string][]Assignment{},
		notes:  slices.Clone(u.Ignored),
		peers:  peers,
	}
	for _, a := range u.Assignments {
		id := a.Section + "." + a.Key
		switch {
		case slices.Contains(listDirectives, id) && a.Value == "":
			d.lists[id] = nil
		case slices.Contains(listDirectives, id):
			d.lists[id] = append(d.lists[id], a)
		case slices.Contains(singleDirectives, id):
			if canonical, ok := oldSpellings[id]; ok {
				id = canonical
			}
			d.single[id] = a
		default:
			d.notes = append(d.notes, Note{File: a.File, Line: a.Line, Directive: a.String(), Reason: unsupportedReason(a)})
		}
	}
	d.readDependencies()
	return d
}

// target is the watchdog setting a directive feeds.
type target struct{ service, key string }

// nowhere is the target of a directive no setting stands for.
var nowhere target

// on is the target key of the main service.
func (d *draft) on(key string) target { return target{d.name, key} }

// note records a directive the translation loses or changes; matters as in Note.
func (d *draft) note(a Assignment, t target, matters bool, format string, args ...any) {
	n := Note{
		File: cmp.Or(a.File, d.unit.Path), Line: a.Line, Directive: a.String(), Reason: fmt.Sprintf(format, args...),
		Service: t.service, Key: t.key, Matters: matters,
	}
	if !slices.Contains(d.notes, n) { // TimeoutSec= is read twice, for start and for stop
		d.notes = append(d.notes, n)
	}
}

// expand resolves the specifiers in s, part of a's value. What cannot be resolved stays
// as written and is noted, as mattering when t is a setting. ok is false when systemd
// ignores the assignment.
func (d *draft) expand(a Assignment, s string, t target) (string, bool) {
	out, unresolved, err := d.unit.expandSpecifiers(s)
	if err != nil {
		d.note(a, t, t != nowhere, "%v; systemd ignores the assignment", err)
		return "", false
	}
	for _, what := range unresolved {
		d.note(a, t, t != nowhere, "specifier %s cannot be resolved here; left as written", what)
	}
	return out, true
}

func (d *draft) addDependency(service string) {
	if service != d.name && !slices.Contains(d.deps, service) {
		d.deps = append(d.deps, service)
	}
}

// readDependencies maps After=, Requires=, Wants= and Before= onto the units imported
// together and notes the others.
func (d *draft) readDependencies() {
	for _, id := range []string{"Unit.After", "Unit.Requires", "Unit.Wants", "Unit.Before"} {
		for _, a := range d.lists[id] {
			value, ok := d.expand(a, a.Value, nowhere)
			if !ok {
				continue
			}
			var others []string
			for _, unit := range strings.Fields(value) {
				service, isPeer := d.peers[unit]
				switch {
				case !isPeer:
					others = append(others, unit)
				case id == "Unit.Before":
					d.before = append(d.before, unit)
				default:
					d.addDependency(service)
				}
			}
			if len(others) > 0 {
				d.note(a, nowhere, false, "%s: not imported with this unit, and depends_on names only services",
					strings.Join(others, " "))
			}
		}
	}
}

// translate builds the services: a oneshot for each step before the main command, each
// depending on the one before, the first on the unit's dependencies; then the main one.
func (d *draft) translate() *Translation {
	var comments []string
	if a, ok := d.single["Unit.Description"]; ok {
		if text, ok := d.expand(a, a.Value, nowhere); ok {
			comments = append(comments, text)
		}
	}
	for _, a := range d.lists["Unit.Documentation"] {
		comments = append(comments, "Documentation: "+a.Value)
	}
	d.readEnvironment()
	typ := d.serviceType()
	shared := d.execContext()
	cmds := d.commands(typ)
	var mainCmd *command
	if n := len(cmds); n > 0 && cmds[n-1].directive == "ExecStart" {
		mainCmd, cmds = &cmds[n-1], cmds[:n-1]
	}
	var services []*Service
	for i := range cmds {
		services = append(services, d.step(&cmds[i], stepName(d.name, cmds, i), shared))
	}
	services = append(services, d.mainService(mainCmd, typ, shared))
	for i, s := range services {
		deps := d.deps
		if i > 0 {
			deps = []string{services[i-1].Name}
		}
		if len(deps) > 0 {
			s.Settings = append(s.Settings, Setting{Key: "depends_on", Value: anyList(deps)})
		}
		slices.SortStableFunc(s.Settings, func(a, b Setting) int { return keyRank(a.Key) - keyRank(b.Key) })
	}
	if pre := d.lists["Service.ExecStartPre"]; len(pre) > 0 && d.restarts() {
		d.note(pre[0], nowhere, false, "the steps before %s run once, not again before each restart", d.name)
	}
	// The unit file's notes first, then each drop-in's, each in line order.
	slices.SortStableFunc(d.notes, func(a, b Note) int {
		return cmp.Or(cmp.Compare(d.fileRank(a.File), d.fileRank(b.File)), cmp.Compare(a.Line, b.Line))
	})
	return &Translation{Unit: d.unit, Services: services, Comments: comments, Notes: d.notes}
}

// stepName names the i-th step: NAME-pre, NAME-pre-2, ... for ExecStartPre=, NAME-start,
// NAME-start-2, ... for the ExecStart= lines of a oneshot before its last.
func stepName(main string, cmds []command, i int) string {
	name := main + "-pre"
	if cmds[i].directive == "ExecStart" {
		name = main + "-start"
	}
	n := 1
	for _, c := range cmds[:i] {
		if c.directive == cmds[i].directive {
			n++
		}
	}
	if n > 1 {
		name += "-" + strconv.Itoa(n)
	}
	return name
}

// step is the oneshot service of a command that runs before the main one.
func (d *draft) step(c *command, name string, shared context) *Service {
	a := c.assignment
	s := &Service{Name: name, Origin: fmt.Sprintf("%s= (line %d)", c.directive, a.Line)}
	if a.File != d.unit.Path {
		s.Origin = fmt.Sprintf("%s= (%s:%d)", c.directive, a.File, a.Line)
	}
	s.Settings = append(s.Settings, d.commandSettings(c, name)...)
	if !c.keepsUser() {
		s.Settings = append(s.Settings, shared.identity...)
	}
	s.Settings = append(s.Settings, shared.place...)
	s.Settings = append(s.Settings, d.set("oneshot", true, a))
	s.Settings = append(s.Settings, shared.stepRestart...)
	if c.IgnoreFailure {
		s.Settings = append(s.Settings, d.set("success_exit_codes", allExitCodes(), a))
		d.note(c.assignment, target{name, "success_exit_codes"}, false,
			"the \"-\" prefix: every exit code counts as success, but death by a signal still counts as failure")
	}
	s.Settings = append(s.Settings, shared.stop...)
	return s
}

// mainService is the service of the unit's main command; cmd is nil when there is none.
func (d *draft) mainService(cmd *command, typ string, shared context) *Service {
	s := &Service{Name: d.name}
	if cmd != nil {
		s.Settings = append(s.Settings, d.commandSettings(cmd, d.name)...)
	}
	if cmd == nil || !cmd.keepsUser() {
		s.Settings = append(s.Settings, shared.identity...)
	}
	s.Settings = append(s.Settings, shared.place...)
	s.Settings = append(s.Settings, shared.stop...)
	add := func(key string, value any, from Assignment) {
		s.Settings = append(s.Settings, d.set(key, value, from))
	}
	notify := d.typeSettings(add, typ)
	d.restartSettings(add, typ == "oneshot")
	d.exitCodes(add, cmd)
	d.timeouts(add, notify)
	return s
}

// set makes a setting from an assignment; a zero Assignment stands for a systemd
// default the unit does not write.
func (d *draft) set(key string, value any, from Assignment) Setting {
	return Setting{Key: key, Value: value, File: cmp.Or(from.File, d.unit.Path), Line: from.Line}
}

// fileRank orders the unit file before its drop-ins, and these as systemd reads them.
func (d *draft) fileRank(file string) int {
	if file == d.unit.Path {
		return -1
	}
	return slices.Index(d.unit.DropIns, file)
}

// keyOrder is the order of the keys in a service table, as DESIGN.md lists them.
var keyOrder = []string{
	"command", "user", "working_dir", "environment", "oneshot", "depends_on", "restart",
	"restart_delay", "restart_max_delay", "max_restarts", "restart_window", "success_exit_codes",
	"stop_signal", "stop_grace_period", "notify", "watchdog_timeout", "startup_timeout",
}

func keyRank(key string) int {
	top, _, _ := strings.Cut(key, ".")
	return slices.Index(keyOrder, top)
}
