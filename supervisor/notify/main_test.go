package notify

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// helperEnv names the helper that a re-executed test binary runs instead of the tests.
const helperEnv = "NOTIFY_TEST_HELPER"

// wait bounds every wait for an event; reaching it fails the test.
const wait = 10 * time.Second

func TestMain(m *testing.M) {
	switch helper := os.Getenv(helperEnv); helper {
	case "":
		goleak.VerifyTestMain(m)
	case "send":
		os.Exit(helperSend(os.Args[1:]))
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", helper)
		os.Exit(2)
	}
}

// helperSend is a service: it sends each argument as one datagram with Send, then stays
// alive until its stdin closes so that the test can look at the live process.
func helperSend(datagrams []string) int {
	for _, d := range datagrams {
		if err := Send(d); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// helperCommand runs the test binary bin as the send helper, with env added to the test's
// environment, in a process group of its own like every watchdog service.
func helperCommand(bin string, env []string, datagrams ...string) *exec.Cmd {
	cmd := exec.Command(bin, datagrams...)
	cmd.Env = append(append(os.Environ(), helperEnv+"=send"), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// listen is Listen that fails the test on error and closes the socket when the test ends.
func listen(t *testing.T, path string, uid, gid int) *Socket {
	t.Helper()
	s, err := Listen(path, uid, gid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// receive returns the next message of s, failing the test if none comes in time.
func receive(t *testing.T, s *Socket) Message {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case m, ok := <-s.Messages():
		if !ok {
			t.Fatal("Messages closed, want a message")
		}
		return m
	case <-timer.C:
		t.Fatalf("no message within %v", wait)
		return Message{}
	}
}
