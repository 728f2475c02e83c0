package supervisor

import (
	"testing"
	"time"
)

// TestStatusLine checks the status lines of DESIGN.md ("Status line") and which states count
// as wanted for `watchdog status`.
func TestStatusLine(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		snap   Snapshot
		line   string
		wanted bool
	}{
		{
			Snapshot{Name: "web", State: Running, Pid: 1234, Health: "healthy", StartedAt: now.Add(-(3*time.Minute + 12*time.Second + 300*time.Millisecond))},
			"Service web: UP (pid 1234, restarts 0, healthy, up 3m12s)", true,
		},
		{
			Snapshot{Name: "worker", State: Failed, Restarts: 5, LastExit: &Exit{Code: 1}},
			"Service worker: DOWN (restarts 5, failed, exit 1)", false,
		},
		{
			Snapshot{Name: "cache", State: Backoff, Restarts: 2, RetryAt: now.Add(4 * time.Second), LastExit: &Exit{Code: 137, Signal: "SIGKILL"}},
			"Service cache: DOWN (restarts 2, backoff 4s, exit 137)", false,
		},
		{
			Snapshot{Name: "migrate", State: Completed, LastExit: &Exit{Code: 0}},
			"Service migrate: DOWN (restarts 0, completed, exit 0)", true,
		},
		{
			Snapshot{Name: "quick", State: Backoff, Restarts: 1, RetryAt: now.Add(250 * time.Millisecond), LastExit: &Exit{Code: 1}},
			"Service quick: DOWN (restarts 1, backoff 250ms, exit 1)", false,
		},
		{
			Snapshot{Name: "api", State: Waiting, Reason: "waiting for db"},
			"Service api: DOWN (restarts 0, waiting, waiting for db)", false,
		},
		{
			Snapshot{Name: "api", State: Starting, Pid: 77, StartedAt: now},
			"Service api: UP (pid 77, restarts 0, starting)", false,
		},
		{
			Snapshot{Name: "api", State: Stopping, Pid: 77, Reason: ""},
			"Service api: UP (pid 77, restarts 0, stopping)", false,
		},
		{
			Snapshot{Name: "api", State: Stopped, Held: true, LastExit: &Exit{Code: 143, Signal: "SIGTERM"}},
			"Service api: DOWN (restarts 0, stopped, exit 143)", true,
		},
		{
			Snapshot{Name: "api", State: Stopped, LastExit: &Exit{Code: 143, Signal: "SIGTERM"}},
			"Service api: DOWN (restarts 0, stopped, exit 143)", false,
		},
		{
			Snapshot{Name: "job", State: Exited, LastExit: &Exit{Code: 0}},
			"Service job: DOWN (restarts 0, exited, exit 0)", true,
		},
		{
			Snapshot{Name: "job", State: Exited, LastExit: &Exit{Code: 2}},
			"Service job: DOWN (restarts 0, exited, exit 2)", false,
		},
	}
	for _, tt := range tests {
		if got := tt.snap.Line(now); got != tt.line {
			t.Errorf("Line(%s %s):\n got %s\nwant %s", tt.snap.Name, tt.snap.State, got, tt.line)
		}
		if got := tt.snap.AsWanted(); got != tt.wanted {
			t.Errorf("AsWanted(%s %s) = %v, want %v", tt.snap.Name, tt.snap.State, got, tt.wanted)
		}
	}
}
