package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Built once by TestMain, removed when the tests end.
var (
	watchdogBin string
	fixtureBin  string
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "watchdog-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Resolved, so that the harness recognises watchdog in /proc/PID/exe.
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	watchdogBin = filepath.Join(dir, "watchdog")
	fixtureBin = filepath.Join(dir, "fixture")
	for bin, pkg := range map[string]string{watchdogBin: "watchdog/cmd/watchdog", fixtureBin: "watchdog/integration/fixture"} {
		// Static, as in a FROM-scratch image.
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	// Whatever a watchdog run as subreaper leaves behind is reparented to this process
	// rather than to the machine's init, so the harness can find, kill and reap it.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, os.NewSyscallError("prctl", err))
		return 1
	}
	return m.Run()
}
