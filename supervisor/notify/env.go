package notify

import (
	"strconv"
	"strings"
	"time"
)

// Env returns the entries to add to the environment of a service that notifies on the socket at
// path: NOTIFY_SOCKET, and WATCHDOG_USEC when watchdogTimeout > 0 (rounded up to whole µs).
// WATCHDOG_PID is left out because the pid exists only after the fork that needs the
// environment; sd_watchdog_enabled(3) then accepts the timeout for any process that reads it.
func Env(path string, watchdogTimeout time.Duration) []string {
	env := []string{"NOTIFY_SOCKET=" + path}
	if watchdogTimeout > 0 {
		us := (watchdogTimeout + time.Microsecond - 1) / time.Microsecond
		env = append(env, "WATCHDOG_USEC="+strconv.FormatInt(int64(us), 10))
	}
	return env
}

// StripEnv returns env without NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID: what a manager
// above watchdog set for watchdog must not reach a service, which would otherwise notify that
// manager directly or believe it is watched.
func StripEnv(env []string) []string {
	kept := make([]string, 0, len(env))
	for _, kv := range env {
		key, _, _ := strings.Cut(kv, "=")
		switch key {
		case "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID":
		default:
			kept = append(kept, kv)
		}
	}
	return kept
}
