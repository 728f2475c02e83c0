package health

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"watchdog/supervisor/config"
)

func TestCommandExitCode(t *testing.T) {
	for _, tc := range []struct {
		script  string
		healthy bool
		reason  string
		output  string
	}{
		{script: "exit 0", healthy: true},
		{script: "exit 3", reason: "exit code 3"},
		{script: "echo out; echo err >&2; exit 1", reason: "exit code 1", output: "out\nerr\n"},
		{script: "kill -TERM $$", reason: "killed by SIGTERM"},
	} {
		t.Run(tc.script, func(t *testing.T) {
			res := firstResult(t, healthcheck(command("sh", "-c", tc.script)), Spec{})
			wantResult(t, res, tc.healthy, tc.reason)
			if res.Output != tc.output {
				t.Errorf("output = %q, want %q", res.Output, tc.output)
			}
			noChildLeft(t)
		})
	}
}

func TestCommandOutputIsCutAt4KiB(t *testing.T) {
	// Far more than a pipe holds: the command must not block on a full pipe.
	script := `head -c 1000000 /dev/zero | tr '\0' x; echo done >&2`
	res := firstResult(t, healthcheck(command("sh", "-c", script)), Spec{})
	wantResult(t, res, true, "")
	if want := strings.Repeat("x", 4096); res.Output != want {
		t.Errorf("output is %d bytes starting %.20q, want 4096 times x", len(res.Output), res.Output)
	}
}

func TestCommandRunsWithTheServiceEnvironmentAndDirectory(t *testing.T) {
	dir := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "PROBE_VAR=from-service"}
	script := `echo "$PROBE_VAR"; pwd -P; readlink /proc/$$/fd/0`
	res := firstResult(t, healthcheck(command("sh", "-c", script)), Spec{Env: env, Dir: dir})
	wantResult(t, res, true, "")
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := "from-service\n" + realDir + "\n/dev/null\n"; res.Output != want {
		t.Errorf("output = %q, want %q", res.Output, want)
	}
}

func TestCommandIsFoundInTheServicePath(t *testing.T) {
	bin := t.TempDir()
	script := filepath.Join(bin, "probe-me")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho found\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	res := firstResult(t, healthcheck(command("probe-me")), Spec{Env: []string{"PATH=/nonexistent:" + bin}})
	wantResult(t, res, true, "")
	if res.Output != "found\n" {
		t.Errorf("output = %q, want %q", res.Output, "found\n")
	}

	res = firstResult(t, healthcheck(command("probe-me")), Spec{Env: []string{"PATH=/nonexistent"}})
	wantResult(t, res, false, "exec probe-me (PATH /nonexistent): no such file or directory")
}

func TestCommandRunsAsTheServiceUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change user")
	}
	nobody := &config.Credential{UID: 65534, GID: 65534, Groups: []uint32{65533}}
	res := firstResult(t, healthcheck(command("sh", "-c", "id -u; id -G")), Spec{Credential: nobody, Dir: "/"})
	wantResult(t, res, true, "")
	if res.Output != "65534\n65534 65533\n" {
		t.Errorf("output = %q, want uid 65534 and groups 65534 65533", res.Output)
	}
}

func TestCommandTimeoutKillsTheWholeGroup(t *testing.T) {
	// The shell prints its pid, which is the group's id, then leaves a second process in the group.
	hc := healthcheck(command("sh", "-c", "echo $$; sleep 100 & exec sleep 100"))
	hc.Timeout = time.Second
	res := firstResult(t, hc, Spec{})
	wantResult(t, res, false, "timed out after 1s")
	if res.Took < hc.Timeout || res.Took > wait {
		t.Errorf("took %v, want the timeout, %v", res.Took, hc.Timeout)
	}
	groupGone(t, pidIn(t, res.Output))
	noChildLeft(t)
}

func TestCommandLeftoversAreKilled(t *testing.T) {
	res := firstResult(t, healthcheck(command("sh", "-c", "echo $$; sleep 100 & exit 0")), Spec{})
	wantResult(t, res, true, "")
	groupGone(t, pidIn(t, res.Output))
	noChildLeft(t)
}

func TestCommandEndsWhenAProcessThatLeftTheGroupHoldsItsOutput(t *testing.T) {
	// setsid takes a process out of the probe's group, with the probe's stdout still open.
	// The probe exits once the process wrote its pid, so it has left the group by then.
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := `setsid sh -c 'echo $$ > "$0.new"; mv "$0.new" "$0"; exec sleep 100' "$0" &
		while [ ! -e "$0" ]; do sleep 0.01; done; cat "$0"`
	res := firstResult(t, healthcheck(command("sh", "-c", script, pidFile)), Spec{})
	escaped := pidIn(t, res.Output)
	defer func() {
		unix.Kill(escaped, unix.SIGKILL)
		noChildLeft(t)
	}()
	if err := unix.Kill(escaped, 0); err != nil {
		t.Fatalf("the process that left the group is gone (%v), want it running", err)
	}
	wantResult(t, res, true, "")
	if res.Took < drainGrace || res.Took > wait/2 {
		t.Errorf("took %v, want a little more than %v: not the end of the output, which never comes", res.Took, drainGrace)
	}
}

func TestStopKillsTheCommandInFlight(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	c := start(t, healthcheck(command("sh", "-c", `echo $$ > "$0"; sleep 100 & exec sleep 100`, pidFile)), Spec{})
	pgid := waitForPidFile(t, pidFile)

	stopReturns(t, c)
	groupGone(t, pgid)
	noChildLeft(t)
}

func TestCommandThatCannotStart(t *testing.T) {
	dir := t.TempDir()
	notExecutable := filepath.Join(dir, "data")
	if err := os.WriteFile(notExecutable, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res := firstResult(t, healthcheck(command(notExecutable)), Spec{})
	wantResult(t, res, false, "exec "+notExecutable+": permission denied")
}

// groupGone fails the test unless process group pgid is empty, zombies included.
func groupGone(t *testing.T, pgid int) {
	t.Helper()
	if err := unix.Kill(-pgid, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("kill(-%d, 0) = %v, want ESRCH: the probe's group is still there", pgid, err)
	}
}

// pidIn parses the pid that a probe printed as its first line.
func pidIn(t *testing.T, output string) int {
	t.Helper()
	line, _, _ := strings.Cut(output, "\n")
	pid, err := strconv.Atoi(line)
	if err != nil {
		t.Fatalf("output %q does not start with a pid", output)
	}
	return pid
}

// waitForPidFile returns the pid a probe wrote to path once it is there.
func waitForPidFile(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		data, err := os.ReadFile(path)
		if err == nil && strings.HasSuffix(string(data), "\n") {
			return pidIn(t, string(data))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no pid after %v", path, wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
