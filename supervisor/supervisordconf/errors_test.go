package supervisordconf_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"watchdog/supervisor/supervisordconf"
)

// TestErrors imports configs supervisord refuses, or whose program cannot be translated:
// each is an error naming the file and line, and nothing is translated.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, conf string
		want       []string // the errors, "FILE" standing for the config's path
	}{
		{"no section", "command=/bin/true\n",
			[]string{`FILE:1: "command=/bin/true" comes before any [section] header`}},
		{"bad lines", "[program:a]\ncommand=/bin/true\njust words\n=value\n",
			[]string{
				`FILE:3: "just words" is not a [section] header or a key = value line`,
				`FILE:4: "=value" is not a [section] header or a key = value line`,
			}},
		{"not UTF-8", "[program:a]\ncommand=/bin/echo \xff\n",
			[]string{"FILE:2: not UTF-8 text"}},
		{"no command", "[program:a]\nautostart=true\n",
			[]string{"FILE:1: [program:a] has no command"}},
		{"empty command", "[program:a]\ncommand= ''x\n",
			nil}, // '' followed by x is the word "x": no error
		{"unclosed quote", "[program:a]\ncommand=/bin/sh -c 'echo\n",
			[]string{"FILE:2: [program:a] command: no closing quotation (')"}},
		{"final backslash", "[program:a]\ncommand=/bin/echo \\\n",
			[]string{"FILE:2: [program:a] command: no character after the final backslash"}},
		{"unknown name", "[program:a]\ncommand=/bin/echo %(nothing)s\n",
			[]string{"FILE:2: [program:a] command: %(nothing)s cannot be expanded: the names are group_name, here, host_node_name, numprocs, process_num, program_name and ENV_X for a variable X of the environment"}},
		{"bare percent", "[program:a]\ncommand=/bin/date +%s\n",
			[]string{`FILE:2: [program:a] command: "%s": a '%' must start %(NAME)s, or be written %% (supervisord would put its whole table of names here)`}},
		{"number conversion of text", "[program:a]\ncommand=/bin/echo %(program_name)d\n",
			[]string{"FILE:2: [program:a] command: %(program_name)d: %d needs a number, and program_name is text"}},
		{"process_num too early", "[program:a]\ncommand=/bin/true\npriority=%(process_num)s\n",
			[]string{"FILE:3: [program:a] priority: %(process_num)s cannot be expanded: the names are group_name, here, host_node_name, program_name and ENV_X for a variable X of the environment"}},
		{"environment", "[program:a]\ncommand=/bin/true\nenvironment=A=1 B=2\n",
			[]string{`FILE:3: [program:a] environment: not a list of KEY=VALUE pairs separated by commas (quote a value that holds other characters than letters, digits and "_/.+-():")`}},
		{"a comment in a quoted value", "[program:a]\ncommand=/bin/true\nenvironment=A=\"x ;y\"\n",
			[]string{"FILE:3: [program:a] environment: no closing quotation (\")"}},
		{"booleans", "[program:a]\ncommand=/bin/true\nautostart=maybe\nautorestart=sometimes\n",
			[]string{
				`FILE:3: [program:a] autostart: "maybe" is not a boolean (true, false, yes, no, on, off, 1, 0)`,
				`FILE:4: [program:a] autorestart: "sometimes" is not true, false or unexpected`,
			}},
		{"numbers", "[program:a]\ncommand=/bin/true\nstartsecs=1s\nexitcodes=0,256\nstdout_capture_maxbytes=1TB\n",
			[]string{
				`FILE:3: [program:a] startsecs: "1s" is not a whole number`,
				`FILE:4: [program:a] exitcodes: "0,256" is not a list of exit codes from 0 to 255 separated by commas`,
				`FILE:5: [program:a] stdout_capture_maxbytes: "1TB" is not a size in bytes (a number, with KB, MB or GB)`,
			}},
		{"signal", "[program:a]\ncommand=/bin/true\nstopsignal=NOPE\n",
			[]string{`FILE:3: [program:a] stopsignal: unknown signal "NOPE"`}},
		{"group stop without group kill", "[program:a]\ncommand=/bin/true\nstopasgroup=true\nkillasgroup=false\n",
			[]string{"FILE:4: [program:a] killasgroup: supervisord refuses stopasgroup=true with killasgroup=false"}},
		{"numprocs without process_num", "[program:a]\ncommand=/bin/true\nnumprocs=2\n",
			[]string{"FILE:3: [program:a] numprocs: numprocs > 1 needs %(process_num)s in process_name"}},
		{"program name", "[program:a b]\ncommand=/bin/true\n",
			[]string{"FILE:1: [program:a b]: a program name must not be empty or hold ' ', ':' or '/'"}},
		{"group of nothing", "[group:g]\nprograms=a,b\n[program:a]\ncommand=/bin/true\n",
			[]string{"FILE:1: [group:g] names b, which is not a [program:x] or [fcgi-program:x]"}},
		{"same service name", "[program:a.b]\ncommand=/bin/true\n[program:a-b]\ncommand=/bin/true\n",
			[]string{`FILE:1: [program:a.b] would be service "a-b", as [program:a-b] (FILE:3) is already`}},
		{"include without files", "[include]\n[program:a]\ncommand=/bin/true\n",
			[]string{"FILE:1: [include] has no files option"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "supervisord.conf")
			if err := os.WriteFile(path, []byte(tt.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			tr, err := supervisordconf.Import(path, testHost)
			var got []string
			if errs, ok := errors.AsType[supervisordconf.Errors](err); ok {
				for _, e := range errs {
					got = append(got, strings.ReplaceAll(e.Error(), path, "FILE"))
				}
			} else if err != nil {
				t.Fatalf("error %v is not Errors", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if (tr == nil) != (len(tt.want) > 0) {
				t.Errorf("translation %v with errors %v", tr, got)
			}
		})
	}
}

func TestImportMissingFile(t *testing.T) {
	_, err := supervisordconf.Import(filepath.Join(t.TempDir(), "nothing.conf"), testHost)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("import of a missing file: %v, want a not-exist error", err)
	}
}
