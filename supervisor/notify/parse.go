// Package notify speaks systemd's sd_notify protocol (sd_notify(3)): it receives the
// datagrams of the services watchdog runs, and sends watchdog's own state to a manager above it.
package notify

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Fields are the assignments of one notify datagram. A key that appears twice takes the
// value of its last line.
type Fields struct {
	Ready     bool // READY=1: startup finished
	Reloading bool // RELOADING=1: reloading its configuration; READY=1 follows when done
	Stopping  bool // STOPPING=1: shutting down

	Status    string // STATUS=: free-form text for the status line
	HasStatus bool   // STATUS= was sent; an empty Status then clears the text

	Watchdog        bool // WATCHDOG=1: keep-alive ping
	WatchdogTrigger bool // WATCHDOG=trigger: act as if the watchdog timeout had passed

	// WatchdogTimeout is WATCHDOG_USEC=: the service's new watchdog timeout; 0 disables it.
	WatchdogTimeout    time.Duration
	HasWatchdogTimeout bool

	MainPID int // MAINPID=: the service's main process, when not the one watchdog started; 0 if not sent
	Errno   int // ERRNO=: the errno-style reason of a failure; 0 if not sent

	// Unknown holds every other key with its value (systemd's FDSTORE=, EXTEND_TIMEOUT_USEC=,
	// MONOTONIC_USEC=, X_* keys...); nil when there are none. watchdog acts on none of them.
	Unknown map[string]string
}

// ErrEmpty reports a datagram with no assignment in it.
var ErrEmpty = errors.New("empty notify message")

// Parse reads one datagram: KEY=VALUE lines separated by '\n'. Every line counts (READY=1 on
// the third line makes the service ready); empty lines are skipped. A line that is not
// KEY=VALUE, a known key with a value it cannot have, a NUL byte or a datagram without any
// assignment is an error, and then no field of the datagram is used: acting on half of a
// message the service did not mean is worse than ignoring it.
func Parse(data []byte) (Fields, error) {
	var f Fields
	if bytes.IndexByte(data, 0) >= 0 {
		return Fields{}, errors.New("notify message contains a NUL byte")
	}
	assignments := 0
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		if err := f.assign(line); err != nil {
			return Fields{}, fmt.Errorf("line %d %s: %w", i+1, clip(line), err)
		}
		assignments++
	}
	if assignments == 0 {
		return Fields{}, ErrEmpty
	}
	return f, nil
}

// assign parses one non-empty line into f.
func (f *Fields) assign(line string) error {
	key, value, ok := strings.Cut(line, "=")
	if !ok {
		return errors.New("not KEY=VALUE")
	}
	if !validKey(key) {
		return errors.New("key must be letters, digits and '_'")
	}
	var err error
	switch key {
	case "READY":
		f.Ready, err = one(value)
	case "RELOADING":
		f.Reloading, err = one(value)
	case "STOPPING":
		f.Stopping, err = one(value)
	case "STATUS":
		f.Status, f.HasStatus = value, true
	case "WATCHDOG":
		switch value {
		case "1":
			f.Watchdog = true
		case "trigger":
			f.WatchdogTrigger = true
		default:
			err = errors.New(`value must be "1" or "trigger"`)
		}
	case "WATCHDOG_USEC":
		f.WatchdogTimeout, err = microseconds(value)
		f.HasWatchdogTimeout = err == nil
	case "MAINPID":
		f.MainPID, err = boundedInt(value, 1)
	case "ERRNO":
		f.Errno, err = boundedInt(value, 0)
	default:
		if f.Unknown == nil {
			f.Unknown = make(map[string]string)
		}
		f.Unknown[key] = value
	}
	return err
}

func validKey(key string) bool {
	if key == "" {
		return false
	}
	for _, c := range []byte(key) {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// one parses the value of a flag key: the protocol defines only "1".
func one(value string) (bool, error) {
	if value != "1" {
		return false, errors.New(`value must be "1"`)
	}
	return true, nil
}

// boundedInt parses a decimal of at most 32 bits (pids and errnos are C ints) no less than lowest.
func boundedInt(value string, lowest int) (int, error) {
	n, err := strconv.ParseInt(value, 10, 32)
	if err != nil || int(n) < lowest {
		return 0, fmt.Errorf("value must be an integer >= %d", lowest)
	}
	return int(n), nil
}

// microseconds parses a count of µs that fits a time.Duration.
func microseconds(value string) (time.Duration, error) {
	us, err := strconv.ParseUint(value, 10, 64)
	if err != nil || us > math.MaxInt64/uint64(time.Microsecond) {
		return 0, errors.New("value must be microseconds, at most 292 years")
	}
	return time.Duration(us) * time.Microsecond, nil
}

// clip quotes a line for an error message, cut short so a 4 KiB line does not flood the log.
func clip(line string) string {
	const limit = 64
	if len(line) > limit {
		return strconv.Quote(line[:limit]) + "..."
	}
	return strconv.Quote(line)
}
