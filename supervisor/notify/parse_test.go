package notify

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		data string
		want Fields
	}{
		{"ready", "READY=1", Fields{Ready: true}},
		{"trailing newline", "READY=1\n", Fields{Ready: true}},
		{"ready on a later line", "STATUS=starting\nMAINPID=4242\nREADY=1\n", Fields{Ready: true, Status: "starting", HasStatus: true, MainPID: 4242}},
		{"empty lines skipped", "\n\nSTOPPING=1\n\n", Fields{Stopping: true}},
		{"status with '='", "STATUS=load=0.5, queue=3", Fields{Status: "load=0.5, queue=3", HasStatus: true}},
		{"empty status clears", "STATUS=", Fields{HasStatus: true}},
		{"status keeps spaces", "STATUS=  two  spaces ", Fields{Status: "  two  spaces ", HasStatus: true}},
		{"last value wins", "STATUS=one\nSTATUS=two", Fields{Status: "two", HasStatus: true}},
		{"reloading", "RELOADING=1\nMONOTONIC_USEC=123", Fields{Reloading: true, Unknown: map[string]string{"MONOTONIC_USEC": "123"}}},
		{"watchdog ping", "WATCHDOG=1", Fields{Watchdog: true}},
		{"watchdog trigger", "WATCHDOG=trigger", Fields{WatchdogTrigger: true}},
		{"watchdog timeout", "WATCHDOG_USEC=5000000", Fields{WatchdogTimeout: 5 * time.Second, HasWatchdogTimeout: true}},
		{"watchdog disabled", "WATCHDOG_USEC=0", Fields{HasWatchdogTimeout: true}},
		{"errno", "STATUS=no config\nERRNO=2", Fields{Status: "no config", HasStatus: true, Errno: 2}},
		{"unknown keys kept", "X_APP=warm\nFDSTORE=1\nREADY=1", Fields{Ready: true, Unknown: map[string]string{"X_APP": "warm", "FDSTORE": "1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.data))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.data, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) =\n%+v\nwant\n%+v", tt.data, got, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string // in the error
	}{
		{"no '='", "READY=1\nSTATUS=ok\nREADY", `line 3 "READY": not KEY=VALUE`},
		{"empty key", "=1", `line 1 "=1"`},
		{"key with space", "READY =1", `line 1 "READY =1"`},
		{"ready not 1", "READY=0", `line 1 "READY=0": value must be "1"`},
		{"ready yes", "STATUS=x\n\nREADY=yes", `line 3`},
		{"stopping 2", "STOPPING=2", `line 1`},
		{"watchdog other", "WATCHDOG=0", `line 1 "WATCHDOG=0"`},
		{"watchdog usec negative", "WATCHDOG_USEC=-1", `line 1`},
		{"watchdog usec too large", "WATCHDOG_USEC=18446744073709551615", `line 1`},
		{"mainpid zero", "MAINPID=0", `line 1 "MAINPID=0"`},
		{"mainpid word", "MAINPID=self", `line 1`},
		{"mainpid beyond int32", "MAINPID=4294967297", `line 1`},
		{"errno negative", "ERRNO=-2", `line 1`},
		{"NUL byte", "READY=1\x00", "NUL"},
		{"long line clipped", "STATUS=ok\n" + strings.Repeat("y", 5000), `line 2 "yyyy`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.data))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.data, got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error %q, want it to contain %q", tt.data, err, tt.want)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error of %d bytes: %.80q...", len(err.Error()), err)
			}
			if !reflect.DeepEqual(got, Fields{}) {
				t.Errorf("rejected datagram still gave fields %+v", got)
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for _, data := range []string{"", "\n", "\n\n\n"} {
		if _, err := Parse([]byte(data)); !errors.Is(err, ErrEmpty) {
			t.Errorf("Parse(%q) error = %v, want ErrEmpty", data, err)
		}
	}
}

// FuzzParse checks Parse never panics, rejects with an error and no fields, and never accepts
// a line that is not KEY=VALUE or misses a READY=1 on any line.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		fields, err := Parse(data)
		if err != nil {
			if err.Error() == "" {
				t.Errorf("Parse(%q): empty error", data)
			}
			if !reflect.DeepEqual(fields, Fields{}) {
				t.Errorf("Parse(%q) rejected with %v but gave fields %+v", data, err, fields)
			}
			return
		}
		if bytes.IndexByte(data, 0) >= 0 {
			t.Errorf("Parse(%q) accepted a NUL byte", data)
		}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			if len(line) > 0 && !validKey(string(bytes.SplitN(line, []byte("="), 2)[0])) {
				t.Errorf("Parse(%q) accepted line %q", data, line)
			}
			if string(line) == "READY=1" && !fields.Ready {
				t.Errorf("Parse(%q) missed READY=1", data)
			}
		}
	})
}
