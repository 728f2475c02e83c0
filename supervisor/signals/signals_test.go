package signals

import (
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sigrtmin is SIGRTMIN as the C library shows it: 32 and 33 are kept by glibc for itself.
const sigrtmin = 34

func TestForwardable(t *testing.T) {
	tests := []struct {
		sig  os.Signal
		want bool
	}{
		{unix.SIGCHLD, false}, // the reaper's
		{unix.SIGURG, false},  // the Go runtime's preemption
		{unix.SIGPIPE, false}, // watchdog's own write failed
		{unix.SIGKILL, false},
		{unix.SIGSTOP, false},
		{unix.SIGSEGV, false},
		{unix.SIGBUS, false},
		{unix.SIGFPE, false},
		{unix.SIGILL, false},
		{unix.SIGTRAP, false},
		{unix.SIGSYS, false},
		{unix.SIGTERM, true},
		{unix.SIGINT, true},
		{unix.SIGHUP, true},
		{unix.SIGQUIT, true},
		{unix.SIGUSR1, true},
		{unix.SIGUSR2, true},
		{unix.SIGWINCH, true},
		{unix.SIGCONT, true},
		{unix.SIGTSTP, true},
		{unix.Signal(sigrtmin + 1), true},
		{unix.Signal(64), true}, // SIGRTMAX
		{syscall.SIGTERM, true}, // the same type under its syscall name
		{os.Interrupt, true},
		{fakeSignal{}, false}, // not a unix signal at all
	}
	for _, tt := range tests {
		if got := Forwardable(tt.sig); got != tt.want {
			t.Errorf("Forwardable(%v) = %v, want %v", tt.sig, got, tt.want)
		}
	}
}

type fakeSignal struct{}

func (fakeSignal) String() string { return "fake" }
func (fakeSignal) Signal()        {}

// receive waits for want on ch, skipping other signals, and fails the test if it does not come.
func receive(t *testing.T, ch <-chan os.Signal, want os.Signal) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case got := <-ch:
			if got == want {
				return
			}
			t.Logf("received %v while waiting for %v", got, want)
		case <-deadline.C:
			t.Fatalf("%v sent to this process did not arrive on the Notify channel", want)
		}
	}
}

func TestNotifyDelivers(t *testing.T) {
	t.Cleanup(func() { signal.Reset() })
	ch := Notify()
	for _, sig := range []unix.Signal{unix.SIGUSR1, unix.SIGHUP, unix.SIGTERM, unix.SIGPIPE, unix.Signal(sigrtmin + 1)} {
		if err := unix.Kill(os.Getpid(), sig); err != nil {
			t.Fatal(err)
		}
		receive(t, ch, sig)
	}
}

// TestNotifyLeavesNeverAlone proves that Notify does not subscribe to SIGCHLD: the reaper
// owns it. With Notify alone, a child's exit must not appear on the channel.
func TestNotifyLeavesNeverAlone(t *testing.T) {
	t.Cleanup(func() { signal.Reset() })
	ch := Notify()
	if err := unix.Kill(os.Getpid(), unix.SIGCHLD); err != nil {
		t.Fatal(err)
	}
	// A later signal that is subscribed marks the point by which SIGCHLD would have arrived:
	// signals of one process are queued to its handler in order of number, SIGCHLD (17)
	// before SIGRTMIN+1, and the Go runtime forwards them in the order it handled them.
	if err := unix.Kill(os.Getpid(), unix.Signal(sigrtmin+1)); err != nil {
		t.Fatal(err)
	}
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case got := <-ch:
			if got == unix.SIGCHLD {
				t.Fatal("SIGCHLD arrived on the Notify channel")
			}
			if got == unix.Signal(sigrtmin+1) {
				return
			}
		case <-deadline.C:
			t.Fatal("SIGRTMIN+1 did not arrive")
		}
	}
}
