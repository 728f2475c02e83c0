package notify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// sendTimeout bounds how long Send waits for a manager whose socket queue is full.
const sendTimeout = time.Second

// Send sends state, one or more KEY=VALUE lines such as "READY=1\nSTATUS=3 services up", as
// one datagram to the service manager that started watchdog, named by $NOTIFY_SOCKET (a path,
// or "@name" for an abstract socket). When NOTIFY_SOCKET is unset or empty no manager listens:
// Send does nothing and returns nil, so callers need not check.
func Send(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if err := sendTo(addr, state); err != nil {
		return fmt.Errorf("notify %s: %w", addr, err)
	}
	return nil
}

func sendTo(addr, state string) error {
	if addr[0] != '/' && addr[0] != '@' { // the runtime turns a leading '@' into the abstract namespace
		return errors.New("NOTIFY_SOCKET must be an absolute path or @name")
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetWriteDeadline(time.Now().Add(sendTimeout)); err != nil {
		return err
	}
	_, err = conn.Write([]byte(state))
	return err
}

// WatchdogInterval reports the watchdog timeout a manager expects watchdog to keep: the
// WATCHDOG_USEC environment variable, when it is a positive number and WATCHDOG_PID is unset or
// names this process. Send "WATCHDOG=1" at least every half of it.
func WatchdogInterval() (time.Duration, bool) {
	if pid, ok := os.LookupEnv("WATCHDOG_PID"); ok {
		if n, err := strconv.Atoi(pid); err != nil || n != os.Getpid() {
			return 0, false
		}
	}
	timeout, err := microseconds(os.Getenv("WATCHDOG_USEC"))
	if err != nil || timeout == 0 {
		return 0, false
	}
	return timeout, true
}
