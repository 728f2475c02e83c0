package systemdunit

import (
	"reflect"
	"strings"
	"testing"
)

// The examples of systemd.service(5), "Command lines", and systemd.syntax(7), "Quoting".
func TestSplitCommandLines(t *testing.T) {
	tests := []struct {
		value string
		want  []CommandLine
	}{
		// "This will execute echo twice, each time with one argument: "one" and "two two"".
		{`echo one ; echo "two two"`, []CommandLine{
			{Path: "echo", Args: []string{"one"}},
			{Path: "echo", Args: []string{"two two"}},
		}},
		// "This will execute echo with five arguments: "/", ">/dev/null", "&", ";", and
		// "ls"" (the continuation line joined by the unit parser).
		{`echo / >/dev/null & \; ls`, []CommandLine{
			{Path: "echo", Args: []string{"/", ">/dev/null", "&", ";", "ls"}},
		}},
		{`/bin/sh -c 'dmesg | tac'`, []CommandLine{{Path: "/bin/sh", Args: []string{"-c", "dmesg | tac"}}}},
		{`/usr/bin/find . -exec rm {} \;`, []CommandLine{{Path: "/usr/bin/find", Args: []string{".", "-exec", "rm", "{}", ";"}}}},
		{`/bin/echo a;`, []CommandLine{{Path: "/bin/echo", Args: []string{"a;"}}}},
		// Quotes anywhere in a word group, and go.
		{`/bin/echo a"b c"d '' ""`, []CommandLine{{Path: "/bin/echo", Args: []string{"ab cd", "", ""}}}},
		// The escapes of systemd.syntax(7), inside and outside quotes.
		{`/bin/echo "a\tb" 'c\x41' \s \u00e9 \101 \U0001F600 "q\"q" \\`, []CommandLine{
			{Path: "/bin/echo", Args: []string{"a\tb", "cA", " ", "é", "A", "😀", `q"q`, `\`}},
		}},
		// An unknown escape stays as written: systemd warns and goes on.
		{`/bin/grep '\d+' x\`, []CommandLine{{Path: "/bin/grep", Args: []string{`\d+`, `x\`}}}},
		{`/bin/echo $A ${B} $$`, []CommandLine{{Path: "/bin/echo", Args: []string{"$A", "${B}", "$$"}}}},
		// Prefixes, in any order.
		{`-/bin/false`, []CommandLine{{Path: "/bin/false", IgnoreFailure: true}}},
		{`@/bin/busybox sh -c true`, []CommandLine{{Path: "/bin/busybox", Argv0: "sh", Args: []string{"-c", "true"}}}},
		{`:-+/bin/echo $X`, []CommandLine{{Path: "/bin/echo", Args: []string{"$X"}, NoEnvExpand: true, IgnoreFailure: true, FullPrivilege: true}}},
		{`!/bin/true`, []CommandLine{{Path: "/bin/true", KeepIdentity: true}}},
		{`!!/bin/true`, []CommandLine{{Path: "/bin/true", AmbientCaps: true}}},
		{`|echo $HOME`, []CommandLine{{Path: "echo", Args: []string{"$HOME"}, ViaShell: true}}},
		{`"-/opt/my prog" arg`, []CommandLine{{Path: "/opt/my prog", Args: []string{"arg"}, IgnoreFailure: true}}},
		{`  `, nil},
	}
	for _, tt := range tests {
		got, err := SplitCommandLines(tt.value)
		if err != nil {
			t.Errorf("SplitCommandLines(%q): %v", tt.value, err)
			continue
		}
		for i := range got {
			if len(got[i].Args) == 0 {
				got[i].Args = nil
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitCommandLines(%q)\n got %+v\nwant %+v", tt.value, got, tt.want)
		}
	}
}

func TestSplitCommandLinesRejects(t *testing.T) {
	for _, value := range []string{
		`/bin/echo "open`,
		`/bin/echo 'open`,
		`/bin/echo "trailing\`,
		`-`,
		`@/bin/true`,
		`/bin/echo ; @`,
	} {
		if got, err := SplitCommandLines(value); err == nil {
			t.Errorf("SplitCommandLines(%q) = %+v, want an error", value, got)
		}
	}
}

// translateText translates a unit file's text, named name, alone.
func translateText(t *testing.T, name, text string) *Translation {
	t.Helper()
	u, err := Parse("/etc/systemd/system/"+name, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return TranslateUnit(u, ServiceName(name))
}

func setting(t *testing.T, s *Service, key string) any {
	t.Helper()
	for _, st := range s.Settings {
		if st.Key == key {
			return st.Value
		}
	}
	return nil
}

func environment(s *Service) map[string]string {
	env := map[string]string{}
	for _, st := range s.Settings {
		if name, ok := strings.CutPrefix(st.Key, "environment."); ok {
			env[name] = st.Value.(string)
		}
	}
	return env
}

func strs(items ...string) []any { return anyList(items) }

// The examples of systemd.exec(5), Environment=, and systemd.service(5), "Command lines";
// the second service(5) example as corrected in systemd#42442: ONE='one' loses its quotes.
func TestEnvironmentExamples(t *testing.T) {
	tr := translateText(t, "exec.service", `[Service]
Environment="VAR1=word1 word2" VAR2=word3 "VAR3=$word 5 6"
ExecStart=/bin/true
`)
	want := map[string]string{"VAR1": "word1 word2", "VAR2": "word3", "VAR3": "$word 5 6"}
	if got := environment(tr.Main()); !reflect.DeepEqual(got, want) {
		t.Errorf("systemd.exec(5) example: got %q, want %q", got, want)
	}

	tr = translateText(t, "one.service", `[Service]
Environment="ONE=one" 'TWO=two two'
ExecStart=/bin/echo $ONE $TWO ${TWO}
`)
	if got, want := setting(t, tr.Main(), "command"), strs("/bin/echo", "one", "two", "two", "two two"); !reflect.DeepEqual(got, want) {
		t.Errorf("first systemd.service(5) example: got %q, want %q", got, want)
	}

	tr = translateText(t, "two.service", `[Service]
Type=oneshot
Environment=ONE='one' "TWO='two two' too" THREE=
ExecStart=/bin/echo ${ONE} ${TWO} ${THREE}
ExecStart=/bin/echo $ONE $TWO $THREE
`)
	if got, want := environment(tr.Main()), map[string]string{"ONE": "one", "TWO": "'two two' too", "THREE": ""}; !reflect.DeepEqual(got, want) {
		t.Errorf("second systemd.service(5) example: environment %q, want %q", got, want)
	}
	if got, want := setting(t, tr.Services[0], "command"), strs("/bin/echo", "one", "'two two' too", ""); !reflect.DeepEqual(got, want) {
		t.Errorf("second systemd.service(5) example, ${...}: got %q, want %q", got, want)
	}
	if got, want := setting(t, tr.Main(), "command"), strs("/bin/echo", "one", "two two", "too"); !reflect.DeepEqual(got, want) {
		t.Errorf("second systemd.service(5) example, $...: got %q, want %q", got, want)
	}
}

func TestEnvironmentAssignments(t *testing.T) {
	tr := translateText(t, "env@blue.service", `[Service]
Environment=A=1 B=2
Environment=
Environment=C=%i "D=x\ty" E=a=b
Environment=C=again
Environment=1BAD=x NOEQUALS "F=unbalanced
Environment=G=$$ H=${C}
ExecStart=/bin/echo ${C} $$ $${C} x$$y $C-not-a-name
`)
	want := map[string]string{"C": "again", "D": "x\ty", "E": "a=b", "G": "$$", "H": "${C}"}
	if got := environment(tr.Main()); !reflect.DeepEqual(got, want) {
		t.Errorf("environment %q, want %q", got, want)
	}
	if got, want := setting(t, tr.Main(), "command"), strs("/bin/echo", "again", "$", "${C}", "x$y", "$C-not-a-name"); !reflect.DeepEqual(got, want) {
		t.Errorf("command %q, want %q", got, want)
	}
	if len(tr.Notes) != 1 || tr.Notes[0].Line != 6 || !strings.Contains(tr.Notes[0].Reason, "unbalanced quoting") {
		t.Errorf("want one note, that line 6 is ignored for its unbalanced quoting; got %v", tr.Notes)
	}
}

func TestEnvironmentNamesChecked(t *testing.T) {
	tr := translateText(t, "names.service", `[Service]
Environment=1BAD=x NOEQUALS GOOD=y
ExecStart=/bin/true
`)
	if got, want := environment(tr.Main()), map[string]string{"GOOD": "y"}; !reflect.DeepEqual(got, want) {
		t.Errorf("environment %q, want %q", got, want)
	}
	if len(tr.Notes) != 2 {
		t.Errorf("want a note for 1BAD=x and one for NOEQUALS, got %v", tr.Notes)
	}
}

func TestExpandArgs(t *testing.T) {
	env := map[string]string{"ONE": "one", "TWO": `'two two' too`, "EMPTY": "", "ESC": `a\ b`}
	got, x := expandArgs([]string{"$ONE", "$TWO", "$EMPTY", "$ESC", "pre${ONE}post", "${TWO}", "$UNSET", "${UNSET}", "$MAINPID", "$$ONE", "$"}, env)
	want := []string{"one", "two two", "too", "a b", "preonepost", "'two two' too", "", "$MAINPID", "$ONE", "$"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("expandArgs:\n got %q\nwant %q", got, want)
	}
	if !reflect.DeepEqual(x.unset, []string{"UNSET"}) || !reflect.DeepEqual(x.manager, []string{"MAINPID"}) {
		t.Errorf("expansion %+v, want UNSET unset and MAINPID from the manager", x)
	}
}
