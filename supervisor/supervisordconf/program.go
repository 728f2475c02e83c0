package supervisordconf

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"watchdog/supervisor/config"
)

// program is one [program:x] and the services it became.
type program struct {
	name         string
	group        *group // nil when no [group:x] names it
	priority     int
	priorityFrom *option // nil when not written
	// restarts says that its services are started again after they end: only such a
	// service is sure to be up when a later priority starts, so only it can be depended on.
	restarts bool
	services []*Service
}

// level is the priority that orders the program: its group's when it is in one.
func (p *program) level() int {
	if p.group != nil {
		return p.group.priority
	}
	return p.priority
}

// programOptions are the options supervisord reads in [program:x].
var programOptions = []string{
	"command", "process_name", "numprocs", "numprocs_start", "priority", "autostart", "startsecs",
	"startretries", "autorestart", "exitcodes", "stopsignal", "stopwaitsecs", "stopasgroup",
	"killasgroup", "user", "redirect_stderr", "stdout_logfile", "stdout_logfile_maxbytes",
	"stdout_logfile_backups", "stdout_capture_maxbytes", "stdout_events_enabled", "stdout_syslog",
	"stderr_logfile", "stderr_logfile_maxbytes", "stderr_logfile_backups", "stderr_capture_maxbytes",
	"stderr_events_enabled", "stderr_syslog", "environment", "directory", "umask", "serverurl",
}

// process is what one process of a program becomes.
type process struct {
	name     string // its process_name
	settings []Setting
}

// program translates [program:name]; g is the group that names it, nil for none. It
// returns nil when the section has an error.
func (t *translator) program(s *section, name string, g *group) *program {
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, " :/") {
		t.errorf(s.file, s.line, "[%s]: a program name must not be empty or hold ' ', ':' or '/'", s.name)
		return nil
	}
	groupName := name
	if g != nil {
		groupName = g.name
	}
	r := &reader{t: t, s: s, names: maps.Clone(t.names)}
	r.names["program_name"] = name
	r.names["group_name"] = groupName
	for _, o := range s.options {
		if !slices.Contains(programOptions, o.key) {
			r.note(o, "not a [program:x] option; supervisord ignores it")
		}
	}

	p := &program{name: name, group: g}
	p.priority, p.priorityFrom = r.integer("priority", 999)
	if g != nil && p.priorityFrom != nil {
		r.note(p.priorityFrom, "in [group:%s] the group's priority (%d) orders the program; its own orders only the programs of the group, which start and stop together", g.name, g.priority)
	}
	autostart, autostartFrom := r.boolean("autostart", true)
	if !autostart {
		r.note(autostartFrom, "watchdog starts every service it has, and has none that is defined but not started: the table is commented out; uncomment it to start %s with the others", name)
	}
	pol := r.policy()
	stop := r.stopSettings()
	redirect, redirectFrom := r.boolean("redirect_stderr", false)
	numprocs, numprocsFrom := r.integer("numprocs", 1)
	firstNum, _ := r.integer("numprocs_start", 0)
	user, userFrom := r.get("user")
	r.unsupported()
	procName := "%(program_name)s"
	procNameFrom, hasProcName := t.doc.lookup(s, "process_name")
	if hasProcName {
		procName = strings.TrimSpace(procNameFrom.value)
		if strings.ContainsAny(procName, " :/") {
			r.errorf(procNameFrom, "a process name must not hold ' ', ':' or '/'")
		}
	}
	if numprocs > 1 && !strings.Contains(procName, "%(process_num)") {
		r.errorf(numprocsFrom, "numprocs > 1 needs %%(process_num)s in process_name")
	}

	// supervisord only changes the uid and gids; watchdog sets the user's HOME, USER and
	// LOGNAME too, which the program then sees instead of supervisord's.
	const userEnv = "HOME, USER and LOGNAME become the user's"
	var shared []Setting
	switch {
	case userFrom != nil:
		shared = append(shared, Setting{Key: "user", Value: user, Why: userEnv})
	case t.globalUser != "":
		shared = append(shared, Setting{Key: "user", Value: t.globalUser, Why: "[supervisord] user; " + userEnv})
	}
	restart, lost := pol.settings()
	for _, l := range lost {
		r.note(l.option, "%s", l.reason)
	}
	p.restarts = restart[0].Value != "no"
	shared = append(shared, restart...)
	shared = append(shared, stop...)

	var procs []process
	for num := firstNum; num < firstNum+numprocs && !r.failed; num++ {
		r.names = maps.Clone(r.names)
		r.names["process_num"], r.names["numprocs"] = num, numprocs
		procs = append(procs, r.process(procName, procNameFrom, shared, redirect, redirectFrom))
	}
	if r.failed {
		return nil
	}
	if numprocs < 1 {
		t.note(s.file, s.line, "["+s.name+"]", "numprocs=%d: supervisord runs no process of it", numprocs)
		return p
	}

	header := Service{Section: s.name, File: s.file, Line: s.line, Disabled: !autostart}
	if sameSettings(procs) {
		svc := header
		svc.Name = serviceName(name)
		svc.Settings = procs[0].settings
		if numprocs > 1 {
			svc.Settings = append(svc.Settings, Setting{Key: "instances", Value: int64(numprocs), Why: "numprocs"})
			r.note(procNameFrom, "the copies are %s.0 to %s.%d, with WATCHDOG_INSTANCE=0 to %d in their environment, not %s to %s",
				svc.Name, svc.Name, numprocs-1, numprocs-1, procs[0].name, procs[len(procs)-1].name)
		} else if hasProcName && procs[0].name != name {
			r.note(procNameFrom, "the service is named after the program: %s", svc.Name)
		}
		p.services = []*Service{&svc}
	} else {
		for _, proc := range procs {
			svc := header
			svc.Name, svc.Process, svc.Settings = serviceName(proc.name), proc.name, proc.settings
			p.services = append(p.services, &svc)
		}
	}
	for _, svc := range p.services {
		if svc.Name == config.MainService {
			svc.Name += "-program"
			r.notes = append(r.notes, Note{s.file, s.line, "[" + s.name + "]",
				fmt.Sprintf("watchdog keeps the name %q for the command after --: the service is %s", config.MainService, svc.Name)})
		}
	}
	for _, svc := range p.services {
		svc.Notes = r.notes
		sortSettings(svc.Settings)
	}
	return p
}

// process translates what differs between the processes of a program: its command,
// directory, environment and output, read with the names of one process_num.
func (r *reader) process(procName string, procNameFrom *option, shared []Setting, redirect bool, redirectFrom *option) process {
	settings := slices.Clone(shared)
	vars := r.environment()
	for _, v := range vars {
		r.names["ENV_"+v.name] = v.value // later options may use the program's own variables
	}
	if dir, from := r.get("directory"); from != nil {
		settings = append(settings, Setting{Key: "working_dir", Value: dir})
	}
	settings = append(settings, r.logSettings(redirect, redirectFrom)...)
	if command, from := r.get("command"); from != nil {
		argv, err := splitCommand(command)
		switch {
		case err != nil:
			r.errorf(from, "%v", err)
		case len(argv) == 0:
			r.errorf(from, "the command is empty")
		default:
			settings = append(settings, Setting{Key: "command", Value: anyList(argv)})
		}
	} else if _, written := r.t.doc.lookup(r.s, "command"); !written {
		r.t.errorf(r.s.file, r.s.line, "[%s] has no command", r.s.name)
		r.failed = true
	}
	for _, v := range mergeEnvironment(r.t.globalEnv, vars) {
		settings = append(settings, Setting{Key: "environment." + v.name, Value: v.value})
	}
	name, err := expand(procName, r.names)
	if err != nil { // only a written process_name can fail
		r.errorf(procNameFrom, "%v", err)
	}
	return process{name: name.text, settings: settings}
}

// environment reads the program's environment option, expanded once with the names of
// the process, as supervisord reads it.
func (r *reader) environment() []variable {
	o, ok := r.t.doc.lookup(r.s, "environment")
	if !ok {
		return nil
	}
	x, err := expand(o.value, r.names)
	if err != nil {
		r.errorf(o, "%v", err)
		return nil
	}
	r.t.hostNote(&r.notes, o, x)
	unset := x.unset
	if len(unset) > 0 {
		// An %(ENV_X)s left as written is not a word of KEY=VALUE,...; its value most
		// likely is one. It is read as a word, then written back.
		names := maps.Clone(r.names)
		for i, name := range unset {
			names[name] = unsetWord(i)
		}
		if x, err = expand(o.value, names); err != nil {
			r.errorf(o, "%v", err)
			return nil
		}
	}
	vars, err := parseEnvironment(x.text)
	if err != nil {
		r.errorf(o, "%v", err)
	}
	for i := range vars {
		for j, name := range unset {
			vars[i].value = strings.ReplaceAll(vars[i].value, unsetWord(j), "%("+name+")s")
		}
	}
	return vars
}

// unsetWord stands for the i-th unset %(ENV_X)s of a value while it is split into words.
func unsetWord(i int) string { return fmt.Sprintf("watchdogUnsetVariable%dx", i) }

// mergeEnvironment is [supervisord] environment with the program's on top, in the order
// supervisord's dict keeps them: a program's value replaces a global one in its place.
func mergeEnvironment(global, own []variable) []variable {
	out := slices.Clone(global)
	for _, v := range own {
		if i := slices.IndexFunc(out, func(g variable) bool { return g.name == v.name }); i >= 0 {
			out[i] = v
		} else {
			out = append(out, v)
		}
	}
	return out
}

// stopSettings translates stopsignal, stopwaitsecs, stopasgroup and killasgroup.
func (r *reader) stopSettings() []Setting {
	var out []Setting
	if v, from := r.get("stopsignal"); from != nil {
		if sig, err := parseSignal(v); err != nil {
			r.errorf(from, "%v", err)
		} else {
			out = append(out, Setting{Key: "stop_signal", Value: config.SignalName(sig)})
		}
	}
	if secs, from := r.integer("stopwaitsecs", 10); from != nil {
		grace := Setting{Key: "stop_grace_period", Value: seconds(max(secs, 0))}
		if secs > int(config.DefaultShutdownTimeout.Seconds()) {
			grace.Why = "[watchdog] shutdown_timeout (9s by default) caps it when watchdog shuts down"
		}
		out = append(out, grace)
	}
	stopAsGroup, stopFrom := r.boolean("stopasgroup", false)
	killAsGroup, killFrom := r.boolean("killasgroup", stopAsGroup)
	const group = "watchdog sends the stop signal, and SIGKILL after stop_grace_period, to the program's whole process group"
	switch {
	case stopAsGroup && killFrom != nil && !killAsGroup:
		r.errorf(killFrom, "supervisord refuses stopasgroup=true with killasgroup=false")
	case stopAsGroup:
	case stopFrom != nil:
		r.note(stopFrom, group)
	case killFrom != nil && killAsGroup:
		r.note(killFrom, "watchdog sends the stop signal to the program's whole process group too, not only to the program (stopasgroup=false)")
	}
	if killFrom != nil && !killAsGroup && !stopAsGroup {
		r.note(killFrom, group)
	}
	return out
}

// parseSignal reads stopsignal as supervisord does: a number, or a name in any case with
// or without "SIG".
func parseSignal(v string) (unix.Signal, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil {
		v = strconv.Itoa(n)
	}
	return config.ParseSignal(v)
}

// unsupported notes the options of a program that watchdog has no setting for.
func (r *reader) unsupported() {
	if _, from := r.get("umask"); from != nil {
		r.note(from, "watchdog does not set a umask; set it in the image, or run the command through sh -c 'umask ...; exec ...'")
	}
	if url, from := r.get("serverurl"); from != nil && !strings.EqualFold(strings.TrimSpace(url), "AUTO") {
		r.note(from, "no SUPERVISOR_SERVER_URL: watchdog has no XML-RPC interface")
	}
	for _, stream := range []string{"stdout", "stderr"} {
		if n, from := r.byteSize(stream + "_capture_maxbytes"); from != nil && n != 0 {
			r.note(from, "watchdog has no capture mode or event listeners")
		}
		if on, from := r.boolean(stream+"_events_enabled", false); from != nil && on {
			r.note(from, "watchdog has no event listeners: its events are JSON lines on its stdout")
		}
	}
}

// sameSettings reports whether every process of a program gets the same settings.
func sameSettings(procs []process) bool {
	for _, p := range procs[1:] {
		if settingsText(p.settings) != settingsText(procs[0].settings) {
			return false
		}
	}
	return true
}

// serviceName turns a program or process name into a service name: every character other
// than letters, digits, '_' and '-' becomes '-'.
func serviceName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '-'
	}, name)
}

// keyOrder is the order of the keys in a service table, as DESIGN.md lists them.
var keyOrder = []string{
	"command", "user", "working_dir", "environment", "depends_on", "restart", "restart_delay",
	"restart_max_delay", "max_restarts", "restart_window", "success_exit_codes", "stop_signal",
	"stop_grace_period", "log", "instances",
}

func sortSettings(settings []Setting) {
	slices.SortStableFunc(settings, func(a, b Setting) int {
		top := func(key string) int {
			k, _, _ := strings.Cut(key, ".")
			return slices.Index(keyOrder, k)
		}
		return top(a.Key) - top(b.Key)
	})
}

func anyList[T any](items []T) []any {
	out := make([]any, len(items))
	for i, item := range items {
		out[i] = item
	}
	return out
}
