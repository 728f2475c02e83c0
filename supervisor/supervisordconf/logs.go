package supervisordconf

import (
	"fmt"
	"strings"
)

// destination is where supervisord sends one of a program's output streams.
type destination int

const (
	toFile    destination = iota // a file: a path, or AUTO, one in childlogdir
	toStdout                     // supervisord's own stdout: /dev/stdout, /dev/fd/1
	toStderr                     // supervisord's own stderr
	toNowhere                    // NONE: discarded
	toSyslog                     // the old spelling stdout_logfile=syslog
)

// consoleFiles are the paths by which supervisord writes to its own stdout or stderr.
var consoleFiles = map[string]destination{
	"/dev/stdout": toStdout, "/dev/fd/1": toStdout, "/proc/self/fd/1": toStdout,
	"/dev/stderr": toStderr, "/dev/fd/2": toStderr, "/proc/self/fd/2": toStderr,
}

func (d destination) console() bool { return d == toStdout || d == toStderr }

// readDestination classifies a *_logfile value as supervisord does: NONE and OFF discard,
// AUTO and any other path are files, syslog is syslog; case does not matter but in paths.
func readDestination(v string) destination {
	switch strings.ToLower(v) {
	case "none", "off":
		return toNowhere
	case "auto":
		return toFile
	case "syslog":
		return toSyslog
	}
	if d, ok := consoleFiles[v]; ok {
		return d
	}
	return toFile
}

// logSettings translates where the program's output goes. watchdog has two log modes:
// "inherit" writes the output straight to watchdog's own stdout and stderr, and "json"
// writes each line as a JSON object on watchdog's stdout. A program whose streams both go
// to supervisord's stdout or stderr, the usual setup in a container, gets "inherit";
// any other gets "json", so that lines supervisord wrote to a file (its default) or
// discarded stay told apart by service in docker logs.
func (r *reader) logSettings(redirect bool, redirectFrom *option) []Setting {
	stdoutValue, stdoutFrom := r.get("stdout_logfile")
	stdout := toFile
	if stdoutFrom != nil {
		stdout = readDestination(stdoutValue)
	}
	stderr, stderrFrom := stdout, redirectFrom
	if !redirect {
		stderr = toFile
		var v string
		if v, stderrFrom = r.get("stderr_logfile"); stderrFrom != nil {
			stderr = readDestination(v)
		}
	}
	mode := "json"
	if stdout.console() && stderr.console() {
		mode = "inherit"
	}
	setting := Setting{Key: "log", Value: mode}
	if stdoutFrom == nil || (stderrFrom == nil && !redirect) {
		setting.Why = "supervisord writes an output stream without a *_logfile to a file in childlogdir"
	}
	streams := []struct {
		name string
		dest destination
		from *option
	}{{"stdout", stdout, stdoutFrom}, {"stderr", stderr, stderrFrom}}
	for _, st := range streams {
		if redirect && st.name == "stderr" {
			if mode == "inherit" {
				r.note(redirectFrom, "with log = \"inherit\" the program's stderr goes to watchdog's stderr, not into its stdout")
			}
			continue
		}
		if st.from != nil {
			r.noteDestination(st.from, st.name, st.dest, mode)
		}
		r.noteRotation(st.name, st.dest)
		if on, from := r.boolean(st.name+"_syslog", false); from != nil && on {
			r.note(from, "watchdog does not write to syslog")
		}
	}
	return []Setting{setting}
}

// noteDestination notes a *_logfile the log mode does not honour.
func (r *reader) noteDestination(from *option, stream string, dest destination, mode string) {
	json := fmt.Sprintf("its %s goes to watchdog's stdout, one JSON object a line (log = \"json\")", stream)
	switch {
	case dest == toFile:
		r.note(from, "watchdog writes no log files: %s", json)
	case dest == toNowhere:
		r.note(from, "watchdog does not discard output: %s", json)
	case dest == toSyslog:
		r.note(from, "watchdog does not write to syslog: %s", json)
	case mode == "json":
		r.note(from, "the other stream goes to a file or nowhere, so %s", json)
	case stream == "stdout" && dest == toStderr:
		r.note(from, "the program's stdout goes to watchdog's stdout, not its stderr")
	case stream == "stderr" && dest == toStdout:
		r.note(from, "the program's stderr goes to watchdog's stderr, not its stdout")
	}
}

// noteRotation notes the rotation options of a stream that goes to a file, which
// watchdog does not write; for the other destinations they mean nothing to supervisord
// either.
func (r *reader) noteRotation(stream string, dest destination) {
	for _, key := range []string{stream + "_logfile_maxbytes", stream + "_logfile_backups"} {
		if _, from := r.get(key); from != nil && dest == toFile {
			r.note(from, "watchdog writes no log files, so none is rotated")
		}
	}
}
