package systemdunit

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	u, err := Parse("/x/syntax.service", []byte("# leading comment\n"+
		"Stray=1\n"+
		"[Unit]\r\n"+
		"; semicolon comment\n"+
		"Description = spaced  out \n"+
		"[Service]\n"+
		"ExecStart=/bin/sh -c \\\n"+
		"# a comment inside a continuation is skipped\n"+
		"  ; and so is this one\n"+
		"    'echo one'\\\\\n"+
		"Environment=A=\\\\\\\n"+
		"B\n"+
		"no equals sign here\n"+
		"[X-Vendor]\n"+
		"Key=value\n"+
		"[Install]\n"+
		"WantedBy=multi-user.target \\"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Assignment{
		{Section: "Unit", Key: "Description", Value: "spaced  out", File: "/x/syntax.service", Line: 5},
		{Section: "Service", Key: "ExecStart", Value: `/bin/sh -c      'echo one'\\`, File: "/x/syntax.service", Line: 7},
		{Section: "Service", Key: "Environment", Value: `A=\\ B`, File: "/x/syntax.service", Line: 11},
		{Section: "Install", Key: "WantedBy", Value: "multi-user.target", File: "/x/syntax.service", Line: 17},
	}
	if !reflect.DeepEqual(u.Assignments, want) {
		t.Errorf("assignments:\n got %+v\nwant %+v", u.Assignments, want)
	}
	var ignored []int
	for _, n := range u.Ignored {
		ignored = append(ignored, n.Line)
	}
	if want := []int{2, 13, 14}; !reflect.DeepEqual(ignored, want) {
		t.Errorf("ignored lines %v, want %v: %v", ignored, want, u.Ignored)
	}
}

func TestParseRejectsBadSectionHeader(t *testing.T) {
	_, err := Parse("/x/bad.service", []byte("[Unit]\nDescription=x\n[Service\nExecStart=/bin/true\n"))
	e, ok := err.(*Error)
	if !ok || e.Line != 3 || e.Path != "/x/bad.service" {
		t.Fatalf("got %v, want an *Error at /x/bad.service:3", err)
	}
}

func TestReadInstanceFromTemplate(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "worker@.service"), []byte("[Service]\nExecStart=/bin/echo %i\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u, err := Read(filepath.Join(dir, "worker@blue.service"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "worker@blue.service" || u.Path != filepath.Join(dir, "worker@.service") {
		t.Errorf("got name %q path %q", u.Name, u.Path)
	}
	tr := TranslateUnit(u, "worker")
	if got, want := setting(t, tr.Main(), "command"), strs("/bin/echo", "blue"); !reflect.DeepEqual(got, want) {
		t.Errorf("command %q, want %q", got, want)
	}
	if _, err := Read(filepath.Join(dir, "other@blue.service")); !os.IsNotExist(err) {
		t.Errorf("an instance without a template: got %v, want a not-exist error", err)
	}
}

func TestParseTimespan(t *testing.T) {
	tests := map[string]time.Duration{
		"90":          90 * time.Second,
		"5min 20s":    5*time.Minute + 20*time.Second,
		"1h30min":     90 * time.Minute,
		"2.5s":        2500 * time.Millisecond,
		"100ms":       100 * time.Millisecond,
		"1 min":       time.Minute,
		"2 weeks 1d":  15 * 24 * time.Hour,
		"3us":         3 * time.Microsecond,
		"0":           0,
		"infinity":    infinite,
		" 10 seconds": 10 * time.Second,
	}
	for in, want := range tests {
		if got, err := parseTimespan(in); err != nil || got != want {
			t.Errorf("parseTimespan(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "5 parsecs", "-5s", "5 min x"} {
		if got, err := parseTimespan(in); err == nil {
			t.Errorf("parseTimespan(%q) = %v, want an error", in, got)
		}
	}
}

func TestSpecifiers(t *testing.T) {
	u := &Unit{Path: "/etc/systemd/system/app-web@eu\\x2dwest-1.service", Name: "app-web@eu\\x2dwest-1.service"}
	tests := map[string]string{
		"%n":        `app-web@eu\x2dwest-1.service`,
		"%N":        `app-web@eu\x2dwest-1`,
		"%p":        "app-web",
		"%P":        "app/web",
		"%j":        "web",
		"%i":        `eu\x2dwest-1`,
		"%I":        "eu-west/1",
		"%f":        "/eu-west/1",
		"%h %u %U":  "/root root 0",
		"%t/%p.pid": "/run/app-web.pid",
		"%S %C %L":  "/var/lib /var/cache /var/log",
		"%E %T %V":  "/etc /tmp /var/tmp",
		"%y":        u.Path,
		"%Y":        "/etc/systemd/system",
		"100%%":     "100%",
	}
	for in, want := range tests {
		got, unresolved, err := u.expandSpecifiers(in)
		if err != nil || len(unresolved) > 0 || got != want {
			t.Errorf("%q: got %q, %v, %v; want %q", in, got, unresolved, err, want)
		}
	}
	got, unresolved, err := u.expandSpecifiers("%H-%m")
	if err != nil || got != "%H-%m" || len(unresolved) != 2 {
		t.Errorf("host specifiers: got %q, %v, %v; want them unresolved and left as written", got, unresolved, err)
	}
	for _, in := range []string{"%Z", "50%"} {
		if _, _, err := u.expandSpecifiers(in); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
	template := &Unit{Path: "/x/app@.service", Name: "app@.service"}
	if _, unresolved, _ := template.expandSpecifiers("%i"); len(unresolved) != 1 {
		t.Errorf("%%i of a template: want it unresolved")
	}
	plain := &Unit{Path: "/x/foo-bar.service", Name: "foo-bar.service"}
	if got, _, _ := plain.expandSpecifiers("%p %j %f %i"); got != "foo-bar bar /foo/bar " {
		t.Errorf("a unit without instance: got %q", got)
	}
}

// The rules of systemd.exec(5), EnvironmentFile=.
func TestParseEnvFile(t *testing.T) {
	vars, ignored := parseEnvFile(strings.Join([]string{
		"# comment",
		"; comment too \\",
		"  continued comment",
		"PLAIN=  value with  inner  space  ",
		`ESCAPED=a\ b\\c\"d`,
		`SINGLE='it''s \n verbatim'`,
		`DOUBLE="say \"hi\" \$HOME \n \\ \q"`,
		"MULTI='line one",
		"line two'",
		"CONT=one \\",
		"two",
		"EMPTY=",
		"QUOTED_EMPTY=\"\"",
		"export EXPORTED=1",
		"no equals sign",
		"  SPACED_KEY  = v",
		"LAST=end",
	}, "\n"))
	want := []variable{
		{"PLAIN", "value with  inner  space"},
		{"ESCAPED", `a b\c"d`},
		{"SINGLE", `its \n verbatim`},
		{"DOUBLE", `say "hi" $HOME \n \ \q`},
		{"MULTI", "line one\nline two"},
		{"CONT", "one two"},
		{"EMPTY", ""},
		{"QUOTED_EMPTY", ""},
		{"SPACED_KEY", "v"},
		{"LAST", "end"},
	}
	if !reflect.DeepEqual(vars, want) {
		t.Errorf("variables:\n got %q\nwant %q", vars, want)
	}
	if len(ignored) != 1 || !strings.Contains(ignored[0], `"export EXPORTED"`) {
		t.Errorf("ignored %q, want the export line", ignored)
	}
}

func TestDropIns(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"my-app@.service":                       "[Service]\nExecStart=/bin/true\nRestart=no\n",
		"my-app@.service.d/10-restart.conf":     "[Service]\nRestart=always\n",
		"my-app@blue.service.d/10-restart.conf": "[Service]\nRestart=on-failure\nno equals sign\n",
		"my-.service.d/05-exec.conf":            "[Service]\nExecStart=\nExecStart=/bin/echo %i\n",
		"service.d/20-env.conf":                 "[Service]\nEnvironment=ALL=1\n",
		"service.d/notes.txt":                   "[Service]\nEnvironment=IGNORED=1\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	u, err := Read(filepath.Join(dir, "my-app@blue.service"))
	if err != nil {
		t.Fatal(err)
	}
	wantDropIns := []string{
		filepath.Join(dir, "my-.service.d/05-exec.conf"),
		filepath.Join(dir, "my-app@blue.service.d/10-restart.conf"), // masks the template's
		filepath.Join(dir, "service.d/20-env.conf"),
	}
	if !reflect.DeepEqual(u.DropIns, wantDropIns) {
		t.Errorf("drop-ins:\n got %q\nwant %q", u.DropIns, wantDropIns)
	}
	tr := TranslateUnit(u, "app")
	if got, want := setting(t, tr.Main(), "command"), strs("/bin/echo", "blue"); !reflect.DeepEqual(got, want) {
		t.Errorf("command %q, want %q", got, want)
	}
	if got := setting(t, tr.Main(), "restart"); got != "on-failure" {
		t.Errorf("restart %q, want on-failure", got)
	}
	if got, want := environment(tr.Main()), map[string]string{"ALL": "1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("environment %q, want %q", got, want)
	}
	if len(tr.Notes) != 1 || tr.Describe(tr.Notes[0]) != "no equals sign ("+wantDropIns[1]+":3): missing '='; systemd ignores the line" {
		t.Errorf("notes %v, want the line without '=' of the drop-in", tr.Notes)
	}
}
