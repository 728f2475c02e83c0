package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"watchdog/supervisor/config"
)

// The migration guides (docs/migrate-*.md) are run: every fenced block but a ```text one
// carries a marker, an HTML comment on the line before it, that says what the test does
// with it, in one directory per guide, in the order of the guide:
//
//	<!-- test: file NAME [executable] -->   write the block to NAME
//	<!-- test: config NAME -->              write it to NAME; `watchdog check --config NAME` must pass
//	<!-- test: run [exit=N] -->             run it with sh -eu, watchdog first in PATH; exit N (0)
//	<!-- test: stdout -->                   the block is what the run before it printed
//	<!-- test: stderr -->                   ... on its stderr
//	<!-- test: supervise STEP; ... -->      the block is one line `watchdog ARGS...`: start it as
//	                                        a subreaper, then the steps
//	<!-- test: dockerfile STEP; ... -->     ENTRYPOINT and CMD (exec form) are the line; a COPY
//	                                        of a guide's file to /etc/watchdog.toml is --config
//
// Steps: `event MSG [KEY=VALUE...]` waits for that log event; `handles SIG service=NAME`
// waits until the service's process has a handler for SIG (so that a signal sent next does
// not race its start); `signal SIG` signals watchdog; `exit N` waits for its exit code. The
// last step is an exit. Arguments that name a file of
// the guide are given as its path. Inline code `key = value` in a guide must name a key of
// config.Reference.

// block is one fenced block of a guide.
type block struct {
	line   int    // of the opening fence
	lang   string // the fence's info string
	text   string
	marker string // what follows "test:" in the comment before it; "" for none
}

var (
	markerLine = regexp.MustCompile(`^<!--\s*test:\s*(.*?)\s*-->$`)
	fenceLine  = regexp.MustCompile("^(```+)(.*)$")
	inlineKey  = regexp.MustCompile("`([a-z_]+(?:\\.[A-Za-z_]+)?) = [^`]*`")
)

// readBlocks returns the fenced blocks of a Markdown file.
func readBlocks(t *testing.T, text string) []block {
	t.Helper()
	lines := strings.Split(text, "\n")
	var blocks []block
	marker, markerAt := "", -1
	for i := 0; i < len(lines); i++ {
		if m := markerLine.FindStringSubmatch(lines[i]); m != nil {
			marker, markerAt = m[1], i
			continue
		}
		m := fenceLine.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		b := block{line: i + 1, lang: strings.TrimSpace(m[2])}
		if markerAt == i-1 {
			b.marker = marker
		}
		var body []string
		for i++; i < len(lines) && lines[i] != m[1]; i++ {
			body = append(body, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("line %d: the block is not closed", b.line)
		}
		b.text = strings.Join(body, "\n") + "\n"
		blocks = append(blocks, b)
	}
	return blocks
}

// guide runs the blocks of one guide in its own directory.
type guide struct {
	t       *testing.T
	dir     string
	binDir  string
	stdout  string // of the last run block
	stderr  string
	ran     bool // a run block came before
	started bool // a supervise or dockerfile block ran watchdog
}

func TestDocsGuides(t *testing.T) {
	guides, err := filepath.Glob(filepath.Join("..", "docs", "migrate-*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(guides) < 4 {
		t.Fatalf("want the four migration guides in docs/, found %q", guides)
	}
	for _, path := range guides {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			g := &guide{t: t, dir: t.TempDir(), binDir: filepath.Dir(watchdogBin)}
			for _, b := range readBlocks(t, string(data)) {
				g.do(b)
				if t.Failed() {
					t.Fatalf("%s:%d: the block failed:\n%s", filepath.Base(path), b.line, b.text)
				}
			}
			if !g.started {
				t.Errorf("the guide runs no worked example (no supervise or dockerfile block)")
			}
			checkInlineKeys(t, string(data))
		})
	}
}

// checkInlineKeys wants every `key = value` of a guide to be a documented key: a key of
// any table, healthcheck.KEY or environment.NAME.
func checkInlineKeys(t *testing.T, text string) {
	t.Helper()
	documented := func(table, key string) bool {
		return slices.ContainsFunc(config.Reference, func(k config.KeyDoc) bool {
			return (table == "" || k.Table == table) && k.Key == key
		})
	}
	for _, m := range inlineKey.FindAllStringSubmatch(text, -1) {
		top, sub, dotted := strings.Cut(m[1], ".")
		ok := documented("", top)
		if dotted {
			ok = top == "environment" || top == "healthcheck" && documented("services.NAME.healthcheck", sub)
		}
		if !ok {
			t.Errorf("inline %s: %s is no key of watchdog.toml (docs/config.md)", m[0], m[1])
		}
	}
}

func (g *guide) do(b block) {
	t := g.t
	t.Helper()
	directive, args, _ := strings.Cut(b.marker, " ")
	args = strings.TrimSpace(args)
	switch directive {
	case "":
		if b.lang != "text" {
			t.Errorf("line %d: a ```%s block without a <!-- test: ... --> marker: every block but text is run", b.line, b.lang)
		}
	case "file":
		name, mode, _ := strings.Cut(args, " ")
		g.write(name, b.text, mode == "executable")
	case "config":
		g.write(args, b.text, false)
		if out, code := g.sh("watchdog check --config " + args); code != 0 {
			t.Errorf("watchdog check --config %s exited %d:\n%s", args, code, out)
		}
	case "run":
		want := 0
		if v, ok := strings.CutPrefix(args, "exit="); ok {
			want, _ = strconv.Atoi(v)
		}
		out, code := g.sh(b.text)
		if code != want {
			t.Errorf("exit code %d, want %d; output:\n%s", code, want, out)
		}
		g.ran = true
	case "stdout", "stderr":
		got := map[string]string{"stdout": g.stdout, "stderr": g.stderr}[directive]
		if !g.ran {
			t.Errorf("line %d: a %s block without a run block before it", b.line, directive)
		}
		if got != b.text {
			t.Errorf("the run before wrote on its %s\n%s\nthe guide shows\n%s", directive, got, b.text)
		}
	case "supervise":
		argv := splitWords(t, strings.TrimSpace(b.text))
		if len(argv) == 0 || argv[0] != "watchdog" || strings.Contains(strings.TrimSpace(b.text), "\n") {
			t.Fatalf("line %d: a supervise block is one line `watchdog ARGS...`", b.line)
		}
		g.supervise(argv[1:], args)
	case "dockerfile":
		g.supervise(g.dockerfileArgs(b.text), args)
	default:
		t.Errorf("line %d: unknown test directive %q", b.line, directive)
	}
}

func (g *guide) write(name, text string, executable bool) {
	path := filepath.Join(g.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		g.t.Fatal(err)
	}
	mode := os.FileMode(0o644)
	if executable {
		mode = 0o755
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		g.t.Fatal(err)
	}
}

// sh runs a script in the guide's directory and returns its stdout and stderr together;
// each alone is kept for a stdout or stderr block.
func (g *guide) sh(script string) (string, int) {
	cmd := exec.Command("sh", "-eu", "-c", script)
	cmd.Dir = g.dir
	cmd.Env = append(os.Environ(), "PATH="+g.binDir+":"+os.Getenv("PATH"), "WATCHDOG_CONFIG=",
		"WATCHDOG_SOCKET="+filepath.Join(g.dir, "watchdog.sock"))
	var stdout, stderr bytes.Buffer
	both := &lockedBuffer{} // written by the copiers of stdout and stderr at once
	cmd.Stdout = io.MultiWriter(&stdout, both)
	cmd.Stderr = io.MultiWriter(&stderr, both)
	err := cmd.Run()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		g.t.Fatalf("sh: %v", err)
	}
	g.stdout, g.stderr = stdout.String(), stderr.String()
	return both.String(), cmd.ProcessState.ExitCode()
}

// lockedBuffer is a bytes.Buffer that two goroutines may write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer // guarded by mu
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// supervise runs watchdog with args as a subreaper and then the steps.
func (g *guide) supervise(args []string, steps string) {
	t := g.t
	t.Helper()
	for i, a := range args {
		if _, err := os.Stat(filepath.Join(g.dir, a)); err == nil && a != "--" && !filepath.IsAbs(a) {
			args[i] = filepath.Join(g.dir, a)
		}
	}
	list := strings.Split(steps, ";")
	if last := strings.Fields(list[len(list)-1]); len(last) == 0 || last[0] != "exit" {
		t.Fatalf("the last step of %q is not an exit", steps)
	}
	w := startWatchdog(t, asSubreaper, args...)
	g.started = true
	for _, step := range list {
		words := strings.Fields(step)
		switch {
		case len(words) >= 2 && words[0] == "event":
			var fields []any
			for _, kv := range words[2:] {
				k, v, _ := strings.Cut(kv, "=")
				fields = append(fields, k, v)
			}
			w.waitEvent(words[1], fields...)
		case len(words) == 3 && words[0] == "handles":
			sig, err := config.ParseSignal(words[1])
			if err != nil {
				t.Fatalf("step %q: %v", step, err)
			}
			service, _ := strings.CutPrefix(words[2], "service=")
			waitHandler(t, eventPID(t, w.waitEvent("started", "service", service)), sig)
		case len(words) == 2 && words[0] == "signal":
			sig, err := config.ParseSignal(words[1])
			if err != nil {
				t.Fatalf("step %q: %v", step, err)
			}
			w.signal(sig)
		case len(words) == 2 && words[0] == "exit":
			want, _ := strconv.Atoi(words[1])
			if code := w.waitExit(2 * eventTimeout); code != want {
				t.Errorf("watchdog exited %d, want %d", code, want)
			}
		default:
			t.Fatalf("unknown step %q", step)
		}
	}
}

// waitHandler waits until process pid catches sig, as /proc/PID/status shows it.
func waitHandler(t *testing.T, pid int, sig unix.Signal) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatalf("process %d: %v", pid, err)
		}
		for line := range strings.Lines(string(status)) {
			if hex, ok := strings.CutPrefix(line, "SigCgt:"); ok {
				mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
				if err == nil && mask&(1<<(uint(sig)-1)) != 0 {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d does not catch %v within %v", pid, sig, eventTimeout)
		}
		time.Sleep(pollInterval)
	}
}

// dockerfileArgs returns the arguments watchdog gets from a Dockerfile's ENTRYPOINT and CMD.
func (g *guide) dockerfileArgs(text string) []string {
	t := g.t
	var entrypoint, cmd []string
	configFile := ""
	for line := range strings.Lines(text) {
		word, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch word {
		case "ENTRYPOINT", "CMD":
			var argv []string
			if err := json.Unmarshal([]byte(rest), &argv); err != nil {
				t.Fatalf("%s is not in exec form: %v", strings.TrimSpace(line), err)
			}
			if word == "CMD" {
				cmd = argv
			} else {
				entrypoint = argv
			}
		case "COPY":
			if f := strings.Fields(rest); len(f) == 2 && f[1] == "/etc/watchdog.toml" {
				configFile = f[0]
			}
		}
	}
	if len(entrypoint) == 0 || entrypoint[0] != "/watchdog" {
		t.Fatalf("the ENTRYPOINT is not /watchdog: %q", entrypoint)
	}
	args := slices.Concat(entrypoint[1:], cmd)
	if configFile != "" && !slices.Contains(args, "--config") {
		args = append([]string{"--config", configFile}, args...)
	}
	return args
}

// splitWords splits a command line as sh does for the quoting the guides use: words
// separated by blanks, '...' and "..." quoted (no escapes inside '...').
func splitWords(t *testing.T, line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'' || c == '"':
			end := strings.IndexByte(line[i+1:], c)
			if end < 0 {
				t.Fatalf("unclosed quote in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestDocsGuideRunner checks the reader of the guides on a small one, so that a guide the
// runner misreads cannot pass unseen.
func TestDocsGuideRunner(t *testing.T) {
	text := "intro\n<!-- test: run exit=3 -->\n```sh\nexit 3\n```\n\n```text\nlayout\n```\n<!-- test: file a b -->\n````toml\nx = 1\n```\n````\n"
	blocks := readBlocks(t, text)
	want := []block{
		{line: 3, lang: "sh", text: "exit 3\n", marker: "run exit=3"},
		{line: 7, lang: "text", text: "layout\n"},
		{line: 11, lang: "toml", text: "x = 1\n```\n", marker: "file a b"},
	}
	if fmt.Sprint(blocks) != fmt.Sprint(want) {
		t.Errorf("readBlocks:\n%v\nwant\n%v", blocks, want)
	}
	words := splitWords(t, `watchdog -- sh -c 'trap "exit 0" TERM; sleep 1' a\ b "c d"`)
	if want := []string{"watchdog", "--", "sh", "-c", `trap "exit 0" TERM; sleep 1`, "a b", "c d"}; !slices.Equal(words, want) {
		t.Errorf("splitWords: %q, want %q", words, want)
	}
}
