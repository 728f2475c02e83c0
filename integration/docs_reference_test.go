package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The generated references in docs/ must be what the binary prints now: a key or flag added
// without regenerating them (go generate ./cmd/watchdog) fails here.

// runBinary runs watchdog with args and returns its stdout, stderr and exit code.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(watchdogBin, args...)
	cmd.Env = append(os.Environ(), "WATCHDOG_CONFIG=", "WATCHDOG_SOCKET=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("run watchdog %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// docsFile reads a file of docs/.
func docsFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// firstDifference describes where two texts part, by line.
func firstDifference(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return "line " + strconv.Itoa(i+1) + ":\n  committed: " + la[i] + "\n  generated: " + lb[i]
		}
	}
	return "one is longer: " + strconv.Itoa(len(la)) + " lines committed, " + strconv.Itoa(len(lb)) + " generated"
}

func TestDocsGeneratedReferences(t *testing.T) {
	for _, ref := range []struct{ command, file string }{
		{"config-reference", "config.md"},
		{"cli-reference", "cli.md"},
	} {
		t.Run(ref.command, func(t *testing.T) {
			generated, stderr, code := runBinary(t, ref.command)
			if code != 0 {
				t.Fatalf("watchdog %s exited %d: %s", ref.command, code, stderr)
			}
			if committed := docsFile(t, ref.file); committed != generated {
				t.Errorf("docs/%s is not what `watchdog %s` prints; run go generate ./cmd/watchdog\n%s",
					ref.file, ref.command, firstDifference(committed, generated))
			}
		})
	}
}

// helpCommands returns the commands `watchdog help` lists.
func helpCommands(t *testing.T) []string {
	t.Helper()
	out, stderr, code := runBinary(t, "help")
	if code != 0 {
		t.Fatalf("watchdog help exited %d: %s", code, stderr)
	}
	_, list, ok := strings.Cut(out, "\ncommands:\n")
	if !ok {
		t.Fatalf("watchdog help lists no commands:\n%s", out)
	}
	list, _, _ = strings.Cut(list, "\n\n")
	var names []string
	for line := range strings.Lines(list) {
		if fields := strings.Fields(line); len(fields) > 1 {
			names = append(names, fields[0])
		}
	}
	return names
}

// helpFlags returns the flags a help text lists, each with whether it takes a value.
func helpFlags(help string) map[string]bool {
	flags := map[string]bool{}
	for line := range strings.Lines(help) {
		if rest, ok := strings.CutPrefix(line, "  --"); ok {
			fields := strings.Fields(rest)
			flags[fields[0]] = len(fields) > 1
		}
	}
	return flags
}

// TestDocsHelp runs the help of every command three ways, which must agree, and hands each
// command every flag its help lists: the command must take it.
func TestDocsHelp(t *testing.T) {
	overview, _, code := runBinary(t, "--help")
	if code != 0 {
		t.Errorf("watchdog --help exited %d", code)
	}
	if help, _, _ := runBinary(t, "help"); help != overview {
		t.Errorf("watchdog help and watchdog --help differ:\n%s\n---\n%s", help, overview)
	}
	commands := helpCommands(t)
	for _, want := range []string{"check", "status", "start", "stop", "restart", "reload", "health", "version", "import-unit", "help"} {
		if !strings.Contains(" "+strings.Join(commands, " ")+" ", " "+want+" ") {
			t.Errorf("watchdog help does not list %s: %q", want, commands)
		}
	}
	for _, name := range append([]string{""}, commands...) {
		t.Run("command="+name, func(t *testing.T) {
			args := strings.Fields(name)
			help, stderr, code := runBinary(t, append(args, "--help")...)
			if code != 0 || !strings.HasPrefix(help, "usage: ") && name != "" {
				t.Fatalf("watchdog %s --help exited %d:\n%s%s", name, code, help, stderr)
			}
			if name != "" {
				if viaHelp, _, _ := runBinary(t, "help", name); viaHelp != help {
					t.Errorf("watchdog help %s:\n%s\nwatchdog %s --help:\n%s", name, viaHelp, name, help)
				}
			}
			for flag, takesValue := range helpFlags(help) {
				given := append(args, "--"+flag)
				if takesValue {
					given = append(given, "1s")
				}
				out, stderr, code := runBinary(t, append(given, "--help")...)
				if code != 0 || out != help {
					t.Errorf("watchdog %s: listed in the help, but not taken: exit %d: %s", strings.Join(given, " "), code, stderr)
				}
			}
			want := 2
			if name == "health" {
				want = 1 // Docker reserves 2 for HEALTHCHECK
			}
			if _, stderr, code := runBinary(t, append(args, "--no-such-flag")...); code != want {
				t.Errorf("watchdog %s --no-such-flag exited %d, want %d: %s", name, code, want, stderr)
			}
		})
	}
	if _, stderr, code := runBinary(t, "help", "no-such-command"); code != 2 || !strings.Contains(stderr, "no-such-command") {
		t.Errorf("watchdog help no-such-command exited %d, want 2: %s", code, stderr)
	}
}
