package logcapture_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"watchdog/reaper"
	"watchdog/supervisor/logcapture"
)

// wait bounds every wait for something that must happen; reaching it fails the test.
const wait = 30 * time.Second

// helperEnv makes the test binary run as the fake service named by its arguments.
const helperEnv = "LOGCAPTURE_TEST_HELPER"

// testReaper starts every child and reaps it, and the orphans it leaves, as watchdog would.
var testReaper *reaper.Reaper

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helper(os.Args[1:]))
	}
	r, err := reaper.New(zap.NewNop())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testReaper = r
	code := m.Run()
	r.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// helper is the fake service: args[0] names what it does.
func helper(args []string) int {
	switch args[0] {
	case "print": // print TEXT: write TEXT to stdout as it is, newline or not
		os.Stdout.WriteString(args[1])
	case "lines": // lines NAME N: write N numbered lines to stdout and N to stderr
		n, _ := strconv.Atoi(args[2])
		stdout, stderr := bufio.NewWriter(os.Stdout), bufio.NewWriter(os.Stderr)
		for i := range n {
			fmt.Fprintln(stdout, numberedLine(args[1], "stdout", i))
			fmt.Fprintln(stderr, numberedLine(args[1], "stderr", i))
		}
		stdout.Flush()
		stderr.Flush()
	case "flood": // flood N SIZE: write N lines of SIZE bytes, newline included, to stdout
		n, _ := strconv.Atoi(args[1])
		size, _ := strconv.Atoi(args[2])
		line := strings.Repeat("f", size-1) + "\n"
		out := bufio.NewWriterSize(os.Stdout, 64<<10)
		for range n {
			out.WriteString(line)
		}
		if err := out.Flush(); err != nil {
			return 1
		}
	case "fdflags": // report on fd 1 and fd 2 whether each is non-blocking
		for _, f := range []*os.File{os.Stdout, os.Stderr} {
			flags, err := unix.FcntlInt(uintptr(f.Fd()), unix.F_GETFL, 0)
			if err != nil {
				return 1
			}
			fmt.Fprintf(f, "O_NONBLOCK=%v\n", flags&unix.O_NONBLOCK != 0)
		}
	case "spawn-lingerer": // start "linger" with this process's fds, and exit at once
		exe, err := os.Executable()
		if err != nil {
			return 1
		}
		_, err = os.StartProcess(exe, []string{exe, "linger"}, &os.ProcAttr{
			Env:   os.Environ(),
			Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		})
		if err != nil {
			return 1
		}
	case "linger": // hold stdout and stderr until stdin ends, saying so on stdout
		fmt.Println("lingering")
		io.Copy(io.Discard, os.Stdin)
		fmt.Println("done lingering")
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", args[0])
		return 2
	}
	return 0
}

// numberedLine is line i of a service's stream, long enough to vary in length.
func numberedLine(service, stream string, i int) string {
	return fmt.Sprintf("%s %s %d %s", service, stream, i, strings.Repeat("x", i%97))
}

// startChild runs the helper with args as one run of a service, its stdout and stderr into
// c, as the runner does: the write ends passed as fds 1 and 2, then closed. stdin is
// /dev/null unless given.
func startChild(t *testing.T, c *logcapture.Capture, stdin *os.File, args ...string) <-chan reaper.Status {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if stdin == nil {
		devNull, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer devNull.Close()
		stdin = devNull
	}
	attr := &syscall.ProcAttr{
		Env:   append(os.Environ(), helperEnv+"=1"),
		Files: []uintptr{stdin.Fd(), c.Stdout().Fd(), c.Stderr().Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	_, exit, err := testReaper.Start(exe, append([]string{exe}, args...), attr)
	c.CloseWriters()
	if err != nil {
		t.Fatalf("start helper %v: %v", args, err)
	}
	return exit
}

// startCapture starts a capture for service whose pipes the test closes when it ends, if
// no child took them.
func startCapture(t *testing.T, out io.Writer, service string) *logcapture.Capture {
	t.Helper()
	c, err := logcapture.Start(out, service)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseWriters)
	return c
}

// waitExit waits for a child's exit and fails the test unless it exited 0.
func waitExit(t *testing.T, exit <-chan reaper.Status, what string) {
	t.Helper()
	select {
	case st := <-exit:
		if st.Code() != 0 {
			t.Fatalf("%s exited %d", what, st.Code())
		}
	case <-time.After(wait):
		t.Fatalf("%s did not exit within %v", what, wait)
	}
}

// waitDone waits for the capture to reach EOF on both pipes.
func waitDone(t *testing.T, c *logcapture.Capture, what string) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(wait):
		t.Fatalf("Done of %s not closed within %v", what, wait)
	}
}
