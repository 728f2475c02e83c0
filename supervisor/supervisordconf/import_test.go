package supervisordconf_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"watchdog/supervisor/config"
	"watchdog/supervisor/supervisordconf"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testHost stands for the machine of the import, so that the golden files do not depend
// on the one running the tests.
var testHost = supervisordconf.Host{Environ: []string{"HOME=/root", "PATH=/usr/bin:/bin"}, Hostname: "build-host"}

// importTOML imports the config at path and returns the TOML import-supervisord prints.
func importTOML(t *testing.T, path string) (*supervisordconf.Translation, []byte) {
	t.Helper()
	tr, err := supervisordconf.Import(path, testHost)
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	var out bytes.Buffer
	if err := supervisordconf.WriteTOML(&out, tr); err != nil {
		t.Fatal(err)
	}
	return tr, out.Bytes()
}

// parseAsRoot is config.Parse as watchdog running as root sees a config: a user = other
// than watchdog's own needs root, which the tests may not have.
func parseAsRoot(path string, data []byte) error {
	_, err := config.Parse(path, data)
	if errs, ok := errors.AsType[config.Errors](err); ok && os.Geteuid() != 0 {
		errs = slices.DeleteFunc(errs, func(e *config.Error) bool {
			return strings.HasSuffix(e.Key, ".user") && strings.Contains(e.Msg, "needs watchdog to run as root")
		})
		if len(errs) == 0 {
			return nil
		}
		return errs
	}
	return err
}

// TestGolden imports each testdata/NAME.conf and compares the TOML with testdata/NAME.toml,
// in which the absolute path of testdata, which %(here)s gives, is written <testdata>.
// config.Parse must accept every import as it is.
func TestGolden(t *testing.T) {
	confs, err := filepath.Glob(filepath.Join("testdata", "*.conf"))
	if err != nil || len(confs) == 0 {
		t.Fatalf("no testdata/*.conf: %v", err)
	}
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, conf := range confs {
		golden := strings.TrimSuffix(conf, ".conf") + ".toml"
		t.Run(filepath.Base(golden), func(t *testing.T) {
			_, got := importTOML(t, conf)
			if err := parseAsRoot(golden, got); err != nil {
				t.Errorf("config.Parse rejects the import:\n%v\n%s", err, got)
			}
			got = bytes.ReplaceAll(got, []byte(abs), []byte("<testdata>"))
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("import of %s differs from %s (go test -update rewrites it):\n%s", conf, golden, got)
			}
		})
	}
}
