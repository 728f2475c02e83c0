package supervisordconf

import (
	"fmt"
	"maps"
	"strings"
)

// supervisordReasons say why each [supervisord] option has no watchdog counterpart;
// environment and user are translated.
var supervisordReasons = map[string]string{
	"nodaemon":         "watchdog always runs in the foreground",
	"logfile":          "watchdog writes its events as JSON lines on stdout (docker logs); it keeps no log file",
	"logfile_maxbytes": "watchdog keeps no log file to rotate",
	"logfile_backups":  "watchdog keeps no log file to rotate",
	"loglevel":         "watchdog's own log level is set with its --log-level flag (debug, info, warn, error)",
	"silent":           "watchdog writes its events on stdout, always",
	"pidfile":          "watchdog writes no pid file; as PID 1 its pid is 1",
	"umask":            "watchdog does not set a umask; set it in the image",
	"minfds":           "resource limits are set on the container (docker run --ulimit)",
	"minprocs":         "resource limits are set on the container (docker run --ulimit)",
	"nocleanup":        "watchdog writes no AUTO log files to clean up",
	"childlogdir":      "watchdog writes no AUTO log files: the programs' output goes to its stdout",
	"directory":        "watchdog does not change its own directory; working_dir sets a service's",
	"strip_ansi":       "watchdog passes the programs' output through as it is",
	"identifier":       "names supervisord's XML-RPC interface; watchdog has none",
}

// supervisord reads [supervisord]: its environment, which every program gets, and its
// user, which runs every program without a user of its own.
func (t *translator) supervisord() {
	s, ok := t.doc.byName["supervisord"]
	if !ok {
		return
	}
	r := &reader{t: t, s: s, names: t.names}
	// supervisord expands this value twice; once is the same unless it writes %%.
	t.globalEnv = r.environment()
	t.names = maps.Clone(t.names)
	for _, v := range t.globalEnv {
		t.names["ENV_"+v.name] = v.value // known to every program
	}
	if user, from := r.get("user"); from != nil && user != "root" && user != "0" {
		t.globalUser = user
		r.note(from, "watchdog does not give up its own privileges: every service without a user of its own runs as %s", user)
	}
	for _, o := range s.options {
		if reason, ok := supervisordReasons[o.key]; ok {
			r.note(o, "%s", reason)
		} else if o.key != "environment" && o.key != "user" {
			r.note(o, "not a [supervisord] option; supervisord ignores it")
		}
	}
	t.sectionNotes(s, r.notes)
}

// sectionNotes adds the notes about a section's options to the translation, each naming
// the section.
func (t *translator) sectionNotes(s *section, notes []Note) {
	for _, n := range notes {
		n.Directive = "[" + s.name + "] " + n.Directive
		t.tr.Notes = appendNote(t.tr.Notes, n)
	}
}

// group is a [group:x]: programs started and stopped together, at the group's priority.
type group struct {
	name         string
	section      *section
	priority     int
	priorityFrom *option // nil when not written
	programs     []string
}

// groups reads every [group:x] and returns each program section's group. A program in
// two groups runs twice under supervisord, once for each; it is translated once, in the
// first.
func (t *translator) groups() map[string]*group {
	byProgram := map[string]*group{}
	for _, s := range t.doc.sections {
		name, ok := strings.CutPrefix(s.name, "group:")
		if !ok {
			continue
		}
		g := &group{name: strings.TrimSpace(name), section: s}
		if g.name == "" || strings.ContainsAny(g.name, " :/") {
			t.errorf(s.file, s.line, "[%s]: a group name must not be empty or hold ' ', ':' or '/'", s.name)
			continue
		}
		r := &reader{t: t, s: s, names: t.names}
		if v, from := r.get("programs"); from != nil && v != "" {
			for _, p := range strings.Split(v, ",") {
				g.programs = append(g.programs, strings.TrimSpace(p))
			}
		}
		g.priority, g.priorityFrom = r.integer("priority", 999)
		for _, p := range g.programs {
			_, isProgram := t.doc.byName["program:"+p]
			_, isFCGI := t.doc.byName["fcgi-program:"+p]
			switch other, taken := byProgram["program:"+p]; {
			case !isProgram && !isFCGI:
				t.errorf(s.file, s.line, "[%s] names %s, which is not a [program:x] or [fcgi-program:x]", s.name, p)
			case isProgram && isFCGI:
				t.errorf(s.file, s.line, "[%s] names %s, which is both a [program:x] and an [fcgi-program:x]", s.name, p)
			case taken:
				t.note(s.file, s.line, "["+s.name+"]", "%s is in [group:%s] too: supervisord runs it once for each group, watchdog once", p, other.name)
			case isProgram:
				byProgram["program:"+p] = g
			}
		}
		what := fmt.Sprintf("watchdog has no groups: its programs (%s) are services of their own", strings.Join(g.programs, ", "))
		if g.priorityFrom != nil {
			what += fmt.Sprintf(", ordered by the group's priority %d", g.priority)
		}
		t.note(s.file, s.line, "["+s.name+"]", "%s", what)
		for _, o := range s.options {
			if o.key != "programs" && o.key != "priority" {
				r.note(o, "not a [group:x] option; supervisord ignores it")
			}
		}
		t.sectionNotes(s, r.notes)
	}
	return byProgram
}

// sectionReasons say why a whole section has no watchdog counterpart, by its name, or by
// the prefix up to ':' of a kind of section that takes a name.
var sectionReasons = map[string]string{
	"unix_http_server": "supervisorctl's server: watchdog has a control socket of its own ([watchdog] control_socket) for watchdog status, start, stop and restart",
	"inet_http_server": "supervisorctl's and the web interface's server: watchdog has a control socket of its own ([watchdog] control_socket), and [watchdog] metrics_address serves /metrics",
	"supervisorctl":    "supervisorctl's settings: watchdog's client is watchdog status, start, stop and restart",
	"rpcinterface:":    "an XML-RPC interface: watchdog has none",
	"ctlplugin:":       "a supervisorctl plugin: watchdog has none",
	"eventlistener:":   "watchdog has no event listeners: its events are JSON lines on its stdout and counters on /metrics",
	"fcgi-program:":    "watchdog opens no sockets for its services: run the FastCGI program with a socket of its own",
}

// otherSections notes every section that is neither a program, a group nor
// [supervisord], and what of [include] is not followed.
func (t *translator) otherSections() {
	for _, s := range t.doc.sections {
		kind, _, named := strings.Cut(s.name, ":")
		if named {
			kind += ":"
		}
		switch kind {
		case "program:", "group:", "supervisord":
		case "include":
			r := &reader{t: t, s: s}
			for _, o := range s.options {
				switch {
				case o.file != t.tr.Path:
					r.note(o, "supervisord follows [include] only in the main config file")
				case o.key != "files":
					r.note(o, "not an [include] option; supervisord ignores it")
				}
			}
			t.sectionNotes(s, r.notes)
		default:
			reason, ok := sectionReasons[kind]
			if !ok {
				reason = "not a supervisord section; supervisord ignores it"
			}
			t.note(s.file, s.line, "["+s.name+"]", "%s", reason)
		}
	}
}
