package integration

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCtrlCOnTerminalEndsCommandBySIGINT(t *testing.T) {
	inEachMode(t, func(t *testing.T, mode runMode) {
		master, tty := openPTY(t)
		w := startOnTerminal(t, mode, tty, "--", fixtureBin, "interactive")
		w.waitReport("main ready", 1)
		// VINTR: the line discipline sends SIGINT to the terminal's foreground group.
		if _, err := master.Write([]byte{0x03}); err != nil {
			t.Fatal(err)
		}
		if code := w.waitExit(eventTimeout); code != 128+int(unix.SIGINT) {
			t.Errorf("watchdog exited %d, want 130", code)
		}
		w.waitReport(reportedSignal("main", unix.SIGINT), 1)
		w.waitEvent("exited", "exit_code", 130, "signal", "SIGINT")
	})
}

func TestCommandReadsFromTerminal(t *testing.T) {
	inEachMode(t, func(t *testing.T, mode runMode) {
		master, tty := openPTY(t)
		w := startOnTerminal(t, mode, tty, "--", fixtureBin, "read-line")
		w.waitReport("main ready", 1)
		// Read only if the command's group is the terminal's foreground group; a
		// background reader is stopped by SIGTTIN and never reports.
		if _, err := master.Write([]byte("hello\n")); err != nil {
			t.Fatal(err)
		}
		w.waitReport("main read hello", 1)
		if code := w.waitExit(eventTimeout); code != 0 {
			t.Errorf("watchdog exited %d, want the command's 0", code)
		}
	})
}

// With `setsid watchdog ...` typed in a terminal, stdin is a terminal but no controlling
// terminal, so there is no foreground to hand the command: it must start all the same
// (it failed with 126, "inappropriate ioctl for device").
func TestCommandStartsWhenStdinIsTerminalButNotControlling(t *testing.T) {
	inEachMode(t, func(t *testing.T, mode runMode) {
		_, tty := openPTY(t)
		w := startWithTerminalStdin(t, mode, tty, "--", fixtureBin, "exit", "3")
		if code := w.waitExit(eventTimeout); code != 3 {
			t.Errorf("watchdog exited %d, want the command's 3", code)
		}
		w.waitEvent("started")
	})
}

// openPTY opens a new pseudo-terminal and returns its master and slave sides, closed when
// the test ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		t.Fatal(os.NewSyscallError("ioctl TIOCSPTLCK", err))
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN) // ptsname
	if err != nil {
		t.Fatal(os.NewSyscallError("ioctl TIOCGPTN", err))
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}
