// Package supervisordconf translates a supervisord config (supervisord.conf and the files
// its [include] names, as supervisord 4 reads them: http://supervisord.org/configuration.html)
// into watchdog services, listing everything it says that watchdog cannot express.
//
// How options become settings:
//
//	[program:x] option          watchdog
//	command                     command, split as supervisord splits it (Python's shlex.split)
//	directory                   working_dir
//	user                        user
//	environment                 environment, after [supervisord] environment
//	autorestart true|false      restart "always" | "no"
//	autorestart unexpected      restart "on-failure" ("always" when exitcodes is empty)
//	exitcodes                   success_exit_codes
//	startsecs, startretries     max_restarts, restart_window, restart_delay, restart_max_delay (policy.settings)
//	stopsignal                  stop_signal
//	stopwaitsecs                stop_grace_period
//	stopasgroup, killasgroup    always true in watchdog: noted when written false
//	priority ([group:x]'s)      depends_on on the nearest lower priority (dependencies)
//	numprocs                    instances, or a service per process when they differ
//	stdout_logfile, ...         log "inherit" (/dev/stdout, /dev/stderr) or "json" (logSettings)
//	autostart=false             the table written commented out
//
// %(ENV_X)s, %(here)s, %(program_name)s, %(group_name)s, %(process_num)s, %(numprocs)s
// and %(host_node_name)s are expanded as supervisord expands them; the environment and
// hostname are the import's, which is noted, and an %(ENV_X)s whose X is not set here
// stays as written. The variables supervisord sets in its programs' environment
// (SUPERVISOR_ENABLED, SUPERVISOR_PROCESS_NAME, ...) are not set: nothing answers them.
package supervisordconf

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"watchdog/supervisor/config/textfile"
)

// Translation is a supervisord config as watchdog services.
type Translation struct {
	Path     string   // the config file
	Included []string // the files its [include] named, in the order read
	// Notes are about what is not a program: [supervisord], [group:x], the servers,
	// [include], in the order of the files and lines.
	Notes []Note
	// Services are in supervisord's start order.
	Services []*Service
}

// Service is one [services.NAME] table.
type Service struct {
	Name    string
	Section string // the section it comes from, e.g. "program:web"
	// Process is the process name when the program became a service per process, for
	// processes that differ in more than their number; else "".
	Process string
	File    string // where the section starts
	Line    int
	// Disabled marks a program supervisord does not start by itself (autostart=false).
	// watchdog starts every service it has, so its table is written commented out.
	Disabled bool
	Settings []Setting
	// Notes list what the section says that the settings do not express, in line order.
	Notes []Note
}

// Setting is one key of a service table.
type Setting struct {
	Key   string // a key of [services.NAME], or "environment.NAME" for one variable
	Value any    // string, int64, bool, or []any of those, as the TOML decoder gives them
	Why   string // said in a comment after it when the mapping is not one to one; "" for none
}

// Note is an option, or a whole section, that the translation leaves out or changes.
type Note struct {
	File      string
	Line      int
	Directive string // as written: "umask=022", or "[unix_http_server]" for a whole section
	Reason    string
}

func (n Note) String() string {
	return fmt.Sprintf("%s:%d: unsupported: %s: %s", n.File, n.Line, n.Directive, n.Reason)
}

// Error is a problem that keeps supervisord from reading its config, or the import from
// translating a program.
type Error struct {
	File string
	Line int // 0 when no line is to blame
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Errors is every problem found, one per line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Host is what supervisord would read from the machine it runs on, taken from the
// machine of the import: the environment, for %(ENV_X)s, and the hostname, for
// %(host_node_name)s.
type Host struct {
	Environ  []string // "KEY=VALUE", as os.Environ returns it
	Hostname string
}

// Import reads the supervisord config at path, and the files its [include] names, and
// translates it. A config supervisord would refuse, or a program whose command cannot be
// split, is an error (Errors) and gives no translation.
func Import(path string, host Host) (*Translation, error) {
	data, err := textfile.Read(path)
	if err != nil {
		return nil, err
	}
	doc := newDocument()
	if errs := doc.read(path, data); len(errs) > 0 {
		return nil, errs
	}
	here, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	t := &translator{doc: doc, tr: &Translation{Path: path}, here: here, names: expansions{"here": here}}
	t.names["host_node_name"] = fromHost(host.Hostname)
	for _, kv := range host.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			t.names["ENV_"+k] = fromHost(v)
		}
	}
	t.include(path)
	t.supervisord()
	groups := t.groups()
	var programs []*program
	for _, s := range doc.sections {
		if name, ok := strings.CutPrefix(s.name, "program:"); ok {
			if p := t.program(s, name, groups[s.name]); p != nil {
				programs = append(programs, p)
			}
		}
	}
	t.otherSections()
	services := startOrder(programs)
	t.checkNames(services)
	if len(t.errs) > 0 {
		slices.SortStableFunc(t.errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(t.fileRank(a.File), t.fileRank(b.File)), cmp.Compare(a.Line, b.Line))
		})
		return nil, t.errs
	}
	dependencies(programs)
	t.sortNotes(t.tr.Notes)
	for _, s := range services {
		t.sortNotes(s.Notes)
	}
	t.tr.Services = services
	return t.tr, nil
}

// sortNotes puts notes in the order supervisord read their lines.
func (t *translator) sortNotes(notes []Note) {
	slices.SortStableFunc(notes, func(a, b Note) int {
		return cmp.Or(cmp.Compare(t.fileRank(a.File), t.fileRank(b.File)), cmp.Compare(a.Line, b.Line))
	})
}

// fileRank orders the main file before the included ones, these as they were read.
func (t *translator) fileRank(file string) int {
	if file == t.tr.Path {
		return -1
	}
	return slices.Index(t.tr.Included, file)
}

// translator holds what is known while a config is translated.
type translator struct {
	doc   *document
	tr    *Translation
	here  string     // the directory of the config file, absolute
	names expansions // for every section: here, host_node_name and ENV_X
	// globalEnv is [supervisord] environment, which every program gets under its own.
	globalEnv []variable
	// globalUser is the user of [supervisord] that is not root, which runs every program
	// without a user of its own; "" when none.
	globalUser string
	errs       Errors
}

func (t *translator) errorf(file string, line int, format string, args ...any) {
	t.errs = append(t.errs, &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// note adds a note about a non-program section to the translation.
func (t *translator) note(file string, line int, directive, format string, args ...any) {
	t.tr.Notes = append(t.tr.Notes, Note{File: file, Line: line, Directive: directive, Reason: fmt.Sprintf(format, args...)})
}

// include reads the files [include] names, as supervisord does: only the main file's
// [include] counts; its files are glob patterns, separated by whitespace, relative to the
// main file's directory; the files each pattern matches are read in sorted order; and
// %(here)s in a file's values becomes that file's directory as soon as it is read.
func (t *translator) include(path string) {
	inc, ok := t.doc.byName["include"]
	if !ok {
		return
	}
	t.doc.expandHere(t.here)
	files, ok := inc.byKey["files"]
	if !ok {
		t.errorf(inc.file, inc.line, "[include] has no files option")
		return
	}
	x, err := expand(files.value, t.names)
	if err != nil {
		t.errorf(files.file, files.line, "files: %v", err)
		return
	}
	t.hostNote(&t.tr.Notes, files, x)
	for _, pattern := range strings.Fields(x.text) {
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(filepath.Dir(path), pattern)
		}
		matches, err := filepath.Glob(pattern)
		if err != nil {
			t.errorf(files.file, files.line, "files: %s: %v", pattern, err)
			continue
		}
		matches = slices.DeleteFunc(matches, func(m string) bool { return hiddenMatch(pattern, m) })
		if len(matches) == 0 {
			t.note(files.file, files.line, "[include] "+files.String(), "no file matches %s", pattern)
			continue
		}
		slices.Sort(matches)
		for _, m := range matches {
			data, err := textfile.Read(m)
			if err != nil {
				t.note(files.file, files.line, "[include] "+files.String(), "%s: %v; supervisord skips a file it cannot read", m, err)
				continue
			}
			t.tr.Included = append(t.tr.Included, m)
			t.errs = append(t.errs, t.doc.read(m, data)...)
			dir, err := filepath.Abs(filepath.Dir(m))
			if err != nil {
				t.errorf(m, 0, "%v", err)
				continue
			}
			t.doc.expandHere(dir)
		}
	}
}

// hiddenMatch reports whether a glob match is a file Python's glob would not match: one
// whose name starts with '.' when the pattern's last element does not.
func hiddenMatch(pattern, match string) bool {
	return strings.HasPrefix(filepath.Base(match), ".") && !strings.HasPrefix(filepath.Base(pattern), ".")
}

// expandHere replaces %(here)s, as written, in every value by dir, as supervisord does
// after it reads each file: only the values of the files read so far still hold it.
func (d *document) expandHere(dir string) {
	all := d.sections
	if d.defaults != nil {
		all = append(slices.Clone(all), d.defaults)
	}
	for _, s := range all {
		for _, o := range s.options {
			o.value = strings.ReplaceAll(o.value, "%(here)s", dir)
		}
	}
}

// hostNote notes the expansions of option that came from the machine of the import.
func (t *translator) hostNote(notes *[]Note, o *option, x expanded) {
	for _, name := range x.host {
		if name == "host_node_name" {
			*notes = appendNote(*notes, Note{o.file, o.line, o.String(),
				fmt.Sprintf("%%(host_node_name)s is %q, the hostname where this import ran; supervisord uses the hostname where it runs", fmt.Sprint(t.names[name]))})
			continue
		}
		*notes = appendNote(*notes, Note{o.file, o.line, o.String(),
			fmt.Sprintf("%%(%s)s is %q, its value where this import ran; supervisord reads it where it runs, and watchdog expands nothing", name, fmt.Sprint(t.names[name]))})
	}
	for _, name := range x.unset {
		*notes = appendNote(*notes, Note{o.file, o.line, o.String(),
			fmt.Sprintf("%%(%s)s: %s is not set where this import ran; left as written, and watchdog expands nothing", name, strings.TrimPrefix(name, "ENV_"))})
	}
}

// appendNote appends n unless notes has it: values read once per process note alike.
func appendNote(notes []Note, n Note) []Note {
	if slices.Contains(notes, n) {
		return notes
	}
	return append(notes, n)
}

// checkNames refuses two services with one name, which names with characters a service
// name cannot have may come to.
func (t *translator) checkNames(services []*Service) {
	seen := map[string]*Service{}
	for _, s := range services {
		if first, ok := seen[s.Name]; ok {
			t.errorf(s.File, s.Line, "[%s] would be service %q, as [%s] (%s:%d) is already", s.Section, s.Name, first.Section, first.File, first.Line)
			continue
		}
		seen[s.Name] = s
	}
}
