// Package signals subscribes watchdog to every signal it must handle or pass on, and says which
// of them may be forwarded (shared/DESIGN.md "Signals", invariant 5).
package signals

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// never lists the signals watchdog does not subscribe to or forward: SIGCHLD is the reaper's,
// SIGURG is the Go runtime's preemption signal, SIGKILL and SIGSTOP cannot be caught, and the
// synchronous faults belong to the Go runtime (a forwarded SIGSEGV would be a lie).
var never = map[unix.Signal]bool{
	unix.SIGCHLD: true, unix.SIGURG: true, unix.SIGKILL: true, unix.SIGSTOP: true,
	unix.SIGSEGV: true, unix.SIGBUS: true, unix.SIGFPE: true, unix.SIGILL: true,
	unix.SIGTRAP: true, unix.SIGSYS: true,
}

// Forwardable reports whether sig, received by watchdog, may be passed on to services. SIGPIPE
// is subscribed (so a closed stdout cannot kill watchdog) but never forwarded: it arrives when
// watchdog's own write fails, not from a sender meaning the services.
func Forwardable(sig os.Signal) bool {
	s, ok := sig.(unix.Signal)
	return ok && !never[s] && s != unix.SIGPIPE
}

// maxSignal is the highest signal number on Linux (SIGRTMAX).
const maxSignal = 64

// Notify subscribes to every catchable signal but those in never, and returns the channel they
// arrive on. Call it first thing: until it runs, a Go PID 1 dies of SIGTERM with status 2, and
// SIGPIPE on stdout, SIGTSTP, SIGTTIN and SIGTTOU keep their default actions. Subscribed
// signals are reset to their default action in the children watchdog starts.
func Notify() <-chan os.Signal {
	ch := make(chan os.Signal, 128)
	var sigs []os.Signal
	for n := 1; n <= maxSignal; n++ {
		if sig := unix.Signal(n); !never[sig] {
			sigs = append(sigs, sig)
		}
	}
	signal.Notify(ch, sigs...)
	return ch
}
