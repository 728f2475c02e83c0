package systemdunit

import (
	"slices"
	"strings"
)

// managerVariables are set by systemd itself for the processes it starts
// (systemd.exec(5), "Environment Variables in Spawned Processes"); a command line can use
// them, but their values exist only under systemd.
var managerVariables = []string{
	"CACHE_DIRECTORY", "CONFIGURATION_DIRECTORY", "CREDENTIALS_DIRECTORY", "EXIT_CODE",
	"EXIT_STATUS", "HOME", "INVOCATION_ID", "JOURNAL_STREAM", "LANG", "LISTEN_FDNAMES",
	"LISTEN_FDS", "LISTEN_PID", "LOGNAME", "LOGS_DIRECTORY", "MAINPID", "MANAGERPID",
	"MEMORY_PRESSURE_WATCH", "MEMORY_PRESSURE_WRITE", "NOTIFY_SOCKET", "PATH", "PIDFILE",
	"RUNTIME_DIRECTORY", "SERVICE_RESULT", "SHELL", "STATE_DIRECTORY", "SYSTEMD_EXEC_PID",
	"TERM", "USER", "WATCHDOG_PID", "WATCHDOG_USEC",
}

// expansion is what expandArgs could not do from the unit's own variables.
type expansion struct {
	unset   []string // not set by the unit: expanded to nothing, as systemd expands an unset variable
	manager []string // set only by systemd itself: left as written
}

// expandArgs expands variables in argv as systemd does when it starts a command: a word
// that is exactly $NAME becomes the value split at whitespace (quotes respected), zero
// words when unset; ${NAME} anywhere in a word becomes the value as it is; $$ is a '$';
// any other '$' stays.
func expandArgs(argv []string, env map[string]string) ([]string, expansion) {
	var out []string
	var x expansion
	lookup := func(name string) (string, bool) {
		if v, ok := env[name]; ok {
			return v, true
		}
		if slices.Contains(managerVariables, name) {
			if !slices.Contains(x.manager, name) {
				x.manager = append(x.manager, name)
			}
			return "", false
		}
		if !slices.Contains(x.unset, name) {
			x.unset = append(x.unset, name)
		}
		return "", true
	}
	for _, word := range argv {
		if name, ok := strings.CutPrefix(word, "$"); ok && validEnvName(name) {
			v, known := lookup(name)
			switch {
			case !known:
				out = append(out, word)
			default:
				out = append(out, splitValue(v)...)
			}
			continue
		}
		out = append(out, expandBraces(word, lookup))
	}
	return out, x
}

// expandBraces replaces ${NAME} and $$ in word; a variable lookup cannot resolve stays as
// written.
func expandBraces(word string, lookup func(string) (string, bool)) string {
	var b strings.Builder
	for i := 0; i < len(word); i++ {
		if word[i] != '$' || i+1 == len(word) {
			b.WriteByte(word[i])
			continue
		}
		switch word[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(word[i+2:], '}')
			if end < 0 {
				b.WriteString(word[i:])
				return b.String()
			}
			name := word[i+2 : i+2+end]
			if v, known := lookup(name); known {
				b.WriteString(v)
			} else {
				b.WriteString(word[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
