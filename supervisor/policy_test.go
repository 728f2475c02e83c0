package supervisor

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"watchdog/reaper"
	"watchdog/supervisor/config"
)

// exitStatus is how a process that called exit(code) is reported by wait4.
func exitStatus(code int) reaper.Status {
	return reaper.Status{Wait: unix.WaitStatus(code << 8)}
}

// signalStatus is how a process that signal sig ended is reported by wait4.
func signalStatus(sig unix.Signal) reaper.Status {
	return reaper.Status{Wait: unix.WaitStatus(sig)}
}

func TestRestartDecision(t *testing.T) {
	type run struct {
		name   string
		status reaper.Status
		codes  []int
	}
	runs := []struct {
		run
		success bool
	}{
		{run{"exit 0", exitStatus(0), []int{0}}, true},
		{run{"exit 1", exitStatus(1), []int{0}}, false},
		{run{"exit 2, success codes 0 and 2", exitStatus(2), []int{0, 2}}, true},
		{run{"exit 0, success code 3 only", exitStatus(0), []int{3}}, false},
		{run{"SIGTERM", signalStatus(unix.SIGTERM), []int{0}}, false},
		// A signal is never a success, even when its number is a success code.
		{run{"SIGKILL, success codes 0 and 9", signalStatus(unix.SIGKILL), []int{0, 9}}, false},
		{run{"SIGSEGV", signalStatus(unix.SIGSEGV), []int{0, 11, 139}}, false},
	}
	policies := []struct {
		policy                     config.RestartPolicy
		afterSuccess, afterFailure bool
	}{
		{config.RestartAlways, true, true},
		{config.RestartOnFailure, false, true},
		{config.RestartNo, false, false},
		{config.RestartPolicy("bogus"), false, false},
	}
	for _, r := range runs {
		if got := succeeded(r.status, r.codes); got != r.success {
			t.Errorf("succeeded(%s, %v) = %v, want %v", r.name, r.codes, got, r.success)
		}
		for _, p := range policies {
			want := p.afterFailure
			if r.success {
				want = p.afterSuccess
			}
			if got := shouldRestart(p.policy, succeeded(r.status, r.codes)); got != want {
				t.Errorf("restart %q after %s (codes %v): shouldRestart = %v, want %v",
					p.policy, r.name, r.codes, got, want)
			}
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name          string
		first, limit  time.Duration
		n             int
		jitter        float64
		atLeast, most time.Duration // inclusive bounds
	}{
		// jitter 0.5 is no jitter at all.
		{"n=1 is the first delay", 100 * ms, 30 * time.Second, 1, 0.5, 100 * ms, 100 * ms},
		{"n=2 doubles once", 100 * ms, 30 * time.Second, 2, 0.5, 200 * ms, 200 * ms},
		{"n=3 doubles twice", 100 * ms, 30 * time.Second, 3, 0.5, 400 * ms, 400 * ms},
		{"n=9 doubles eight times", 100 * ms, 30 * time.Second, 9, 0.5, 25600 * ms, 25600 * ms},
		{"n=10 reaches the cap", 100 * ms, 30 * time.Second, 10, 0.5, 30 * time.Second, 30 * time.Second},
		{"far past the cap, no overflow", 100 * ms, 30 * time.Second, 1000, 0.5, 30 * time.Second, 30 * time.Second},
		{"first above the cap is capped", 10 * time.Second, time.Second, 1, 0.5, time.Second, time.Second},
		{"jitter 0 takes 10% off", 100 * ms, 30 * time.Second, 1, 0, 90 * ms, 90 * ms},
		{"jitter near 1 adds up to 10%", 100 * ms, 30 * time.Second, 1, 0.999999, 109990 * time.Microsecond, 110 * ms},
		{"jitter 0 at the cap", 100 * ms, time.Second, 20, 0, 900 * ms, 900 * ms},
		{"cap holds after jitter near 1", 100 * ms, time.Second, 20, 0.999999, time.Second, time.Second},
		{"cap holds when jitter lifts a delay below it over it", 100 * ms, 420 * ms, 3, 0.999999, 420 * ms, 420 * ms},
		{"jitter near 1 below the cap is not capped", 100 * ms, 500 * ms, 3, 0.999999, 439999 * time.Microsecond, 440 * ms},
		{"zero first delay stays zero", 0, time.Second, 5, 0.999999, 0, 0},
	}
	for _, tt := range tests {
		got := backoffDelay(tt.first, tt.limit, tt.n, tt.jitter)
		if got < tt.atLeast || got > tt.most {
			t.Errorf("%s: backoffDelay(%v, %v, %d, %v) = %v, want in [%v, %v]",
				tt.name, tt.first, tt.limit, tt.n, tt.jitter, got, tt.atLeast, tt.most)
		}
		if got > tt.limit {
			t.Errorf("%s: backoffDelay(%v, %v, %d, %v) = %v, above the cap", tt.name, tt.first, tt.limit, tt.n, tt.jitter, got)
		}
	}
}

func TestRestartLimitReached(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	const window = time.Minute
	tests := []struct {
		name     string
		restarts []time.Time
		max      int
		want     bool
	}{
		{"max 0 is unlimited", []time.Time{ago(1), ago(2), ago(3), ago(4), ago(5)}, 0, false},
		{"negative max is unlimited", []time.Time{ago(1)}, -1, false},
		{"no restarts yet", nil, 1, false},
		{"one below max", []time.Time{ago(time.Second)}, 2, false},
		{"max reached", []time.Time{ago(2 * time.Second), ago(time.Second)}, 2, true},
		{"above max", []time.Time{ago(3), ago(2), ago(1)}, 2, true},
		{"restart just inside the window counts", []time.Time{ago(window - 1)}, 1, true},
		{"restart exactly one window ago is out", []time.Time{ago(window)}, 1, false},
		{"restart long ago is out", []time.Time{ago(time.Hour)}, 1, false},
		{"only recent restarts count", []time.Time{ago(2 * window), ago(window), ago(window - 1)}, 2, false},
		{"recent restarts reach max", []time.Time{ago(2 * window), ago(window - 1), ago(0)}, 2, true},
	}
	for _, tt := range tests {
		if got := restartLimitReached(tt.restarts, now, window, tt.max); got != tt.want {
			t.Errorf("%s: restartLimitReached(%d restarts, window %v, max %d) = %v, want %v",
				tt.name, len(tt.restarts), window, tt.max, got, tt.want)
		}
	}
}
