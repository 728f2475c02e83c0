package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExitCodeIsCommandsOr128PlusSignal(t *testing.T) {
	cases := []struct {
		name    string
		fixture []string
		want    int
		signal  string // the signal that ended the command, "" for a normal exit
	}{
		{"exit 0", []string{"exit", "0"}, 0, ""},
		{"exit 3", []string{"exit", "3"}, 3, ""},
		{"killed by SIGTERM", []string{"kill-self", "TERM"}, 143, "SIGTERM"},
		{"killed by SIGKILL", []string{"kill-self", "KILL"}, 137, "SIGKILL"},
		{"killed by SIGHUP", []string{"kill-self", "HUP"}, 129, "SIGHUP"},
		{"killed by SIGQUIT", []string{"kill-self", "QUIT"}, 131, "SIGQUIT"},
	}
	inEachMode(t, func(t *testing.T, mode runMode) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				w := startWatchdog(t, mode, append([]string{"--", fixtureBin}, c.fixture...)...)
				if code := w.waitExit(eventTimeout); code != c.want {
					t.Errorf("watchdog exited %d, want %d", code, c.want)
				}
				started := w.waitEvent("started")
				exited := []any{"pid", started.get("pid"), "exit_code", c.want}
				if c.signal != "" {
					exited = append(exited, "signal", c.signal)
				}
				w.waitEvent("exited", exited...)
				w.waitEvent("shutdown_complete", "exit_code", c.want)
			})
		}
	})
}

func TestMissingCommandExits127AndNonExecutable126(t *testing.T) {
	notExecutable := filepath.Join(t.TempDir(), "not-executable")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		command string
		want    int
	}{
		{"missing", filepath.Join(t.TempDir(), "no-such-command"), 127},
		{"not executable", notExecutable, 126},
	}
	inEachMode(t, func(t *testing.T, mode runMode) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				w := startWatchdog(t, mode, "--", c.command)
				if code := w.waitExit(eventTimeout); code != c.want {
					t.Errorf("watchdog exited %d, want %d", code, c.want)
				}
				w.stderr.waitClosed(eventTimeout)
				stderr, _, _ := w.stderr.snapshot()
				if !strings.Contains(strings.Join(stderr, "\n"), c.command) {
					t.Errorf("stderr does not name the command %s: %q", c.command, stderr)
				}
				w.waitEvent("shutdown_complete", "exit_code", c.want)
			})
		}
	})
}

func TestUsageErrorExits2BeforeAnythingStarts(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"--no-such-flag", "--", fixtureBin, "sleep"}},
		{"bad flag value", []string{"--shutdown-timeout", "soon", "--", fixtureBin, "sleep"}},
		{"no command after --", []string{"--"}},
	}
	inEachMode(t, func(t *testing.T, mode runMode) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				w := startWatchdog(t, mode, c.args...)
				if code := w.waitExit(eventTimeout); code != 2 {
					t.Errorf("watchdog exited %d, want 2", code)
				}
				w.stderr.waitClosed(eventTimeout)
				if stderr, _, _ := w.stderr.snapshot(); len(stderr) == 0 {
					t.Error("no message on stderr")
				}
				if started := w.events("started"); len(started) > 0 {
					t.Errorf("a service started: %v", started[0].fields)
				}
				if ready := w.reports("main ready"); len(ready) > 0 {
					t.Errorf("the command ran: %q", ready)
				}
			})
		}
	})
}
