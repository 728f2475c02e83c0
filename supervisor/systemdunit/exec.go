package systemdunit

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"watchdog/supervisor/config/textfile"
)

// command is one command line of ExecStartPre= or ExecStart=.
type command struct {
	CommandLine
	directive  string // "ExecStartPre" or "ExecStart"
	assignment Assignment
}

// keepsUser reports whether systemd runs the command without switching to User= and
// Group= ("+" and "!").
func (c *command) keepsUser() bool { return c.FullPrivilege || c.KeepIdentity }

// serviceType reads Type=, with systemd's defaults.
func (d *draft) serviceType() string {
	if a, ok := d.single["Service.Type"]; ok {
		switch a.Value {
		case "simple", "exec", "oneshot", "notify", "notify-reload", "forking", "dbus", "idle":
			return a.Value
		}
		d.note(a, nowhere, false, "unknown type; systemd ignores the assignment")
	}
	if _, ok := d.single["Service.BusName"]; ok {
		return "dbus"
	}
	if len(d.lists["Service.ExecStart"]) == 0 {
		return "oneshot"
	}
	return "simple"
}

// commands returns the command lines in the order they run: ExecStartPre=, then
// ExecStart=.
func (d *draft) commands(typ string) []command {
	var cmds []command
	starts := 0
	for _, directive := range []string{"ExecStartPre", "ExecStart"} {
		for _, a := range d.lists["Service."+directive] {
			lines, err := SplitCommandLines(a.Value)
			if err != nil {
				d.note(a, d.on("command"), true, "%v; systemd ignores the assignment", err)
				continue
			}
			for _, l := range lines {
				cmds = append(cmds, command{CommandLine: l, directive: directive, assignment: a})
				if directive == "ExecStart" {
					starts++
				}
			}
		}
	}
	switch {
	case starts == 0:
		d.notes = append(d.notes, Note{File: d.unit.Path, Directive: "ExecStart=", Reason: "no command to run",
			Service: d.name, Key: "command", Matters: true})
	case starts > 1 && typ != "oneshot":
		d.note(cmds[len(cmds)-1].assignment, d.on("command"), true,
			"%d commands in ExecStart=, which only Type=oneshot allows; systemd refuses the unit", starts)
	}
	return cmds
}

// commandSettings turns a command line into the command of service.
func (d *draft) commandSettings(c *command, service string) []Setting {
	a := c.assignment
	t := target{service, "command"}
	words := make([]string, 0, 1+len(c.Args))
	for _, w := range append([]string{c.Path}, c.Args...) {
		w, ok := d.expand(a, w, t)
		if !ok {
			return nil
		}
		words = append(words, w)
	}
	if c.Argv0 != "" {
		d.note(a, t, true, "the \"@\" prefix passes %q as argv[0]; watchdog passes the program path", c.Argv0)
	}
	if c.ViaShell {
		d.note(a, t, true, "the \"|\" prefix runs the command line through the user's login shell; write command = [\"/bin/sh\", \"-c\", ...] instead")
	}
	if c.AmbientCaps {
		d.note(a, nowhere, false, "the \"!!\" prefix matters only on kernels without ambient capabilities; the command runs as User= like any other")
	}
	if !c.NoEnvExpand {
		// The program itself is never expanded, only its arguments.
		args, x := expandArgs(words[1:], d.env)
		words = append(words[:1], args...)
		for _, name := range x.unset {
			d.note(a, nowhere, false, "$%s is not set by the unit and expands to nothing, as systemd expands an unset variable", name)
		}
		for _, name := range x.manager {
			d.note(a, t, true, "$%s is set by systemd itself; left as written", name)
		}
	}
	return []Setting{d.set("command", anyList(words), a)}
}

// context holds the settings every service of the unit shares.
type context struct {
	identity    []Setting // user
	place       []Setting // working_dir and environment
	stepRestart []Setting // how the steps before the main command restart
	stop        []Setting // stop_signal, stop_grace_period
}

// execContext reads User=, Group=, WorkingDirectory=, the environment, the stop
// settings, and how steps restart.
func (d *draft) execContext() context {
	var c context
	user := ""
	var userFrom Assignment
	if a, ok := d.single["Service.User"]; ok {
		if v, ok := d.expand(a, a.Value, d.on("user")); ok {
			user, userFrom = v, a
		}
	}
	if a, ok := d.single["Service.Group"]; ok {
		if v, ok := d.expand(a, a.Value, d.on("user")); ok && v != "" {
			if user == "" {
				user, userFrom = "root", a // Group= alone: the user stays root
			}
			user += ":" + v
		}
	}
	if user != "" {
		c.identity = append(c.identity, d.set("user", user, userFrom))
	}
	if dir, from, ok := d.workingDir(); ok {
		c.place = append(c.place, d.set("working_dir", dir, from))
	}
	names := make([]string, 0, len(d.env))
	for name := range d.env {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c.place = append(c.place, d.set("environment."+name, d.env[name], d.envFrom[name]))
	}
	c.stop = d.stopSettings()
	if d.restarts() {
		// systemd starts the whole unit again, steps included, after a step failed.
		c.stepRestart = append(c.stepRestart, d.set("restart", "on-failure", d.single["Service.Restart"]))
	}
	return c
}

// workingDir reads WorkingDirectory=: "-" makes a missing directory no error, "~" is the
// home directory of User=.
func (d *draft) workingDir() (string, Assignment, bool) {
	a, ok := d.single["Service.WorkingDirectory"]
	if !ok || a.Value == "" {
		return "", a, false
	}
	v, ok := d.expand(a, a.Value, d.on("working_dir"))
	if !ok {
		return "", a, false
	}
	v, optional := strings.CutPrefix(v, "-")
	if v == "~" {
		d.note(a, d.on("working_dir"), true, "\"~\" is the home directory of User=; write working_dir by hand")
		return "", a, false
	}
	if optional {
		if fi, err := os.Stat(v); err != nil || !fi.IsDir() {
			d.note(a, nowhere, false, "%s does not exist here, and systemd would start the service in / instead", v)
			return "", a, false
		}
	}
	return v, a, true
}

// readEnvironment collects Environment=, then EnvironmentFile=, whose variables win.
func (d *draft) readEnvironment() {
	d.env = map[string]string{}
	d.envFrom = map[string]Assignment{}
	for _, a := range d.lists["Service.Environment"] {
		words, err := splitWords(a.Value)
		if err != nil {
			d.note(a, d.on("environment"), true, "%v; systemd ignores the assignment", err)
			continue
		}
		for _, w := range words {
			t := d.on("environment")
			if name, _, _ := strings.Cut(w, "="); validEnvName(name) {
				t = d.on("environment." + name)
			}
			w, ok := d.expand(a, w, t) // systemd resolves specifiers before it reads NAME=VALUE
			if !ok {
				continue
			}
			name, value, found := strings.Cut(w, "=")
			if !found || !validEnvName(name) {
				d.note(a, nowhere, false, "%q is not a valid NAME=VALUE assignment; systemd ignores it", w)
				continue
			}
			d.env[name] = value
			d.envFrom[name] = a
		}
	}
	for _, a := range d.lists["Service.EnvironmentFile"] {
		pattern, ok := d.expand(a, a.Value, d.on("environment"))
		if !ok {
			continue
		}
		pattern, optional := strings.CutPrefix(pattern, "-")
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			if !optional {
				d.note(a, d.on("environment"), true, "%s does not exist here; systemd would refuse to start the service", pattern)
			}
			continue
		}
		for _, file := range files {
			data, err := textfile.Read(file)
			if err != nil {
				if !optional || !errors.Is(err, fs.ErrNotExist) {
					d.note(a, d.on("environment"), true, "%v", err)
				}
				continue
			}
			vars, ignored := parseEnvFile(string(data))
			for _, why := range ignored {
				d.note(a, nowhere, false, "%s: %s; systemd ignores it", file, why)
			}
			for _, v := range vars {
				d.env[v.name] = v.value
				d.envFrom[v.name] = a
			}
		}
	}
}
