package supervisordconf_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"watchdog/supervisor/supervisordconf"
)

// The sample configs supervisord ships must import without error, and list what they set
// that watchdog cannot express: every option of [supervisord] and the sections for
// supervisorctl. Their programs, if this machine has any, must translate too.

// debianConfig is the config Debian's supervisor package installs.
const debianConfig = "/etc/supervisor/supervisord.conf"

func TestDebianConfig(t *testing.T) {
	if _, err := os.Stat(debianConfig); err != nil {
		t.Skipf("no %s (apt-get install supervisor): %v", debianConfig, err)
	}
	tr, _ := importTOML(t, debianConfig)
	wantNotes(t, tr, "[unix_http_server]", "[supervisord] logfile=", "[supervisord] pidfile=",
		"[supervisord] childlogdir=", "[rpcinterface:supervisor]", "[supervisorctl]")
}

// TestEchoSupervisordConf imports the sample echo_supervisord_conf prints, in which
// everything but a few settings is commented out.
func TestEchoSupervisordConf(t *testing.T) {
	echo, err := exec.LookPath("echo_supervisord_conf")
	if err != nil {
		t.Skipf("no echo_supervisord_conf (apt-get install supervisor): %v", err)
	}
	sample, err := exec.Command(echo).Output()
	if err != nil {
		t.Fatalf("%s: %v", echo, err)
	}
	path := filepath.Join(t.TempDir(), "supervisord.conf")
	if err := os.WriteFile(path, sample, 0o644); err != nil {
		t.Fatal(err)
	}
	tr, _ := importTOML(t, path)
	wantNotes(t, tr, "[unix_http_server]", "[supervisord] logfile=", "[supervisord] logfile_maxbytes=",
		"[supervisord] logfile_backups=", "[supervisord] loglevel=", "[supervisord] pidfile=",
		"[supervisord] nodaemon=", "[supervisord] silent=", "[supervisord] minfds=", "[supervisord] minprocs=",
		"[rpcinterface:supervisor]", "[supervisorctl]")
	if len(tr.Services) != 0 {
		t.Errorf("the sample's programs are commented out, yet %d services were made", len(tr.Services))
	}
}

// wantNotes wants a note, with the file and line of its directive, for each of the
// directive prefixes, and no note without a reason.
func wantNotes(t *testing.T, tr *supervisordconf.Translation, directives ...string) {
	t.Helper()
	for _, d := range directives {
		found := false
		for _, n := range tr.Notes {
			found = found || strings.HasPrefix(n.Directive, d) && n.Line > 0 && n.File != ""
		}
		if !found {
			t.Errorf("no note about %s in:\n%v", d, tr.Notes)
		}
	}
	for _, n := range tr.Notes {
		if n.Reason == "" {
			t.Errorf("note without a reason: %v", n)
		}
	}
}
