package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// Real-time signals are numbered as glibc numbers them, because that is what kill(1),
// `docker kill --signal` and the services themselves mean by SIGRTMIN: the kernel's
// first two real-time signals, 32 and 33, are reserved by glibc's threads, so SIGRTMIN
// is 34. SIGRTMAX is the kernel's last signal.
const (
	sigRTMin = 34
	sigRTMax = 64
)

// ParseSignal reads a signal as a name in any case, with or without the SIG prefix
// ("SIGTERM", "term"), a real-time name ("SIGRTMIN+3", "RTMAX-1"), or a number ("15").
// Numbers run from 1 to 64; 32 and 33 have no name but are accepted as numbers.
func ParseSignal(s string) (unix.Signal, error) {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n < 1 || n > sigRTMax {
			return 0, fmt.Errorf("signal number %s is out of range 1-%d", s, sigRTMax)
		}
		return unix.Signal(n), nil
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			// strings.ToUpper would turn "ſigterm" into SIGTERM.
			return 0, fmt.Errorf("unknown signal %q", s)
		}
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if rest, ok := strings.CutPrefix(name, "RTMIN"); ok {
		return realtimeSignal(s, sigRTMin, rest, "+")
	}
	if rest, ok := strings.CutPrefix(name, "RTMAX"); ok {
		return realtimeSignal(s, sigRTMax, rest, "-")
	}
	if sig := unix.SignalNum("SIG" + name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// realtimeSignal reads the offset after RTMIN ("+3") or RTMAX ("-1").
func realtimeSignal(s string, base int, offset, sign string) (unix.Signal, error) {
	if offset == "" {
		return unix.Signal(base), nil
	}
	digits, ok := strings.CutPrefix(offset, sign)
	n, err := strconv.ParseUint(digits, 10, 8)
	if !ok || err != nil {
		return 0, fmt.Errorf("unknown signal %q", s)
	}
	sig := base + int(n)
	if sign == "-" {
		sig = base - int(n)
	}
	if sig < sigRTMin || sig > sigRTMax {
		return 0, fmt.Errorf("signal %q is out of range SIGRTMIN-SIGRTMAX (%d-%d)", s, sigRTMin, sigRTMax)
	}
	return unix.Signal(sig), nil
}

// SignalName names a signal as ParseSignal reads it: "SIGTERM", "SIGRTMIN+3",
// "SIGRTMAX-2" (real-time signals are named from the nearer end, as bash's kill -l
// does), or "signal 99" for a number without a name.
func SignalName(sig unix.Signal) string {
	switch {
	case sig == sigRTMin:
		return "SIGRTMIN"
	case sig > sigRTMin && sig <= sigRTMin+15:
		return fmt.Sprintf("SIGRTMIN+%d", sig-sigRTMin)
	case sig > sigRTMin+15 && sig < sigRTMax:
		return fmt.Sprintf("SIGRTMAX-%d", sigRTMax-sig)
	case sig == sigRTMax:
		return "SIGRTMAX"
	}
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return fmt.Sprintf("signal %d", int(sig))
}
