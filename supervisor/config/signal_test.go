package config

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want unix.Signal
	}{
		{"SIGTERM", unix.SIGTERM},
		{"TERM", unix.SIGTERM},
		{"term", unix.SIGTERM},
		{"SigHup", unix.SIGHUP},
		{"SIGKILL", unix.SIGKILL},
		{"15", unix.SIGTERM},
		{"9", unix.SIGKILL},
		{"33", 33},
		{"64", 64},
		{"SIGRTMIN", 34},
		{"RTMIN+3", 37},
		{"sigrtmin+30", 64},
		{"SIGRTMAX", 64},
		{"RTMAX-1", 63},
		{"SIGRTMAX-30", 34},
	} {
		got, err := ParseSignal(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSignalRejects(t *testing.T) {
	for _, in := range []string{
		"", "0", "65", "99999999999999999999", "-15", "+15", " 15", "SIG", "SIGFOO", "SIGSIGTERM",
		"RTMIN-1", "RTMIN+31", "RTMAX+1", "RTMAX-31", "RTMIN+", "RTMIN+x",
	} {
		if sig, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) = %d, want an error", in, sig)
		}
	}
}

func TestSignalName(t *testing.T) {
	for _, tc := range []struct {
		sig  unix.Signal
		want string
	}{
		{unix.SIGTERM, "SIGTERM"},
		{unix.SIGKILL, "SIGKILL"},
		{unix.SIGHUP, "SIGHUP"},
		{32, "signal 32"},
		{34, "SIGRTMIN"},
		{37, "SIGRTMIN+3"},
		{49, "SIGRTMIN+15"},
		{50, "SIGRTMAX-14"},
		{63, "SIGRTMAX-1"},
		{64, "SIGRTMAX"},
		{99, "signal 99"},
	} {
		if got := SignalName(tc.sig); got != tc.want {
			t.Errorf("SignalName(%d) = %q, want %q", tc.sig, got, tc.want)
		}
	}
}

// Every name SignalName gives must read back as the same signal.
func TestSignalNameParsesBack(t *testing.T) {
	for sig := unix.Signal(1); sig <= sigRTMax; sig++ {
		if sig == 32 || sig == 33 {
			continue // no name, only a number
		}
		name := SignalName(sig)
		if got, err := ParseSignal(name); err != nil || got != sig {
			t.Errorf("ParseSignal(SignalName(%d) = %q) = %d, %v", sig, name, got, err)
		}
	}
}
