package supervisordconf_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/BurntSushi/toml"

	"watchdog/supervisor/supervisordconf"
)

// FuzzImport imports any text as a supervisord config: an import either fails with
// errors that each name the file and a line, or writes TOML that decodes.
func FuzzImport(f *testing.F) {
	confs, _ := filepath.Glob(filepath.Join("testdata", "*.conf"))
	for _, c := range confs {
		data, err := os.ReadFile(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("[program:a]\ncommand=/bin/sh -c 'x'\nenvironment=A=\"1\",B=%(ENV_NONE)s\nnumprocs=2\nprocess_name=a%(process_num)d\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "supervisord.conf")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		tr, err := supervisordconf.Import(path, testHost)
		if errs, ok := err.(supervisordconf.Errors); ok {
			for _, e := range errs {
				if e.File == "" || e.Line < 1 && e.File == path {
					t.Errorf("error without a line of %s: %v", path, e)
				}
			}
			return
		}
		if err != nil {
			t.Fatalf("error that is not Errors: %v", err)
		}
		var out bytes.Buffer
		if err := supervisordconf.WriteTOML(&out, tr); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if _, err := toml.Decode(out.String(), &doc); err != nil {
			t.Errorf("the import is not TOML: %v\n%s", err, out.Bytes())
		}
	})
}
