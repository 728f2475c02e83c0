package supervisor

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// State is where a service is in its life. A runner owns the state of its service.
type State string

const (
	Waiting   State = "waiting"   // for its dependencies, or not yet started
	Starting  State = "starting"  // running, not yet ready
	Running   State = "running"   // running and ready
	Stopping  State = "stopping"  // stop signal sent (or its group outlived it); SIGKILL at the grace's end
	Backoff   State = "backoff"   // waiting to restart
	Exited    State = "exited"    // ended and its restart policy does not start it again
	Failed    State = "failed"    // gave up: restart limit, failed start, or a failure with no restart
	Completed State = "completed" // a oneshot that succeeded
	Stopped   State = "stopped"   // stopped by the operator or by shutdown
)

// Exit is how a service's last run ended.
type Exit struct {
	Code   int    `json:"exit_code"`        // exit code, or 128+N for signal N
	Signal string `json:"signal,omitempty"` // the signal that ended it, if one did
}

// Snapshot is one service as status, health and metrics see it.
type Snapshot struct {
	Name      string    `json:"name"`
	State     State     `json:"state"`
	Pid       int       `json:"pid"`
	Restarts  int       `json:"restarts"`
	Ready     bool      `json:"ready"`
	LastExit  *Exit     `json:"last_exit,omitempty"`
	Reason    string    `json:"reason,omitempty"` // why it is failed, waiting or stopping
	Since     time.Time `json:"since"`            // when State was entered
	StartedAt time.Time `json:"started_at,omitzero"`
	RetryAt   time.Time `json:"retry_at,omitzero"` // in Backoff: when it starts again
	Held      bool      `json:"held,omitempty"`    // stopped by the operator: no policy starts it
	// Health is "starting", "healthy" or "unhealthy" for a service with a healthcheck, else "".
	Health     string `json:"health,omitempty"`
	StatusText string `json:"status_text,omitempty"` // the last STATUS= an sd_notify service sent
	Killed     bool   `json:"killed,omitempty"`      // its last stop needed SIGKILL
}

// Up reports whether the service has a main process.
func (s Snapshot) Up() bool {
	return s.State == Starting || s.State == Running || (s.State == Stopping && s.Pid != 0)
}

// AsWanted reports whether the service is where it should be: running and ready, finished
// successfully, or held down by the operator.
func (s Snapshot) AsWanted() bool {
	switch s.State {
	case Running, Completed:
		return true
	case Stopped:
		return s.Held
	case Exited:
		return s.LastExit != nil && s.LastExit.Code == 0
	}
	return false
}

// Line is the status line of DESIGN.md, e.g. "Service web: UP (pid 1234, restarts 0, up 3m12s)".
func (s Snapshot) Line(now time.Time) string {
	var details []string
	word := "DOWN"
	if s.Up() {
		word = "UP"
		details = append(details, fmt.Sprintf("pid %d", s.Pid))
	}
	details = append(details, fmt.Sprintf("restarts %d", s.Restarts))
	if s.Up() && s.Health != "" && !(s.Health == "starting" && s.State == Starting) {
		details = append(details, s.Health)
	}
	switch s.State {
	case Running:
		details = append(details, "up "+roundDuration(now.Sub(s.StartedAt)))
	case Backoff:
		details = append(details, "backoff "+roundDuration(s.RetryAt.Sub(now)))
	default:
		details = append(details, string(s.State))
	}
	if s.Reason != "" && s.State != Running {
		details = append(details, s.Reason)
	}
	if s.LastExit != nil && !s.Up() {
		details = append(details, fmt.Sprintf("exit %d", s.LastExit.Code))
	}
	if s.StatusText != "" && s.Up() {
		details = append(details, strconv.Quote(s.StatusText))
	}
	return fmt.Sprintf("Service %s: %s (%s)", s.Name, word, strings.Join(details, ", "))
}

// roundDuration shows whole seconds, or milliseconds under a second: "3m12s", "250ms".
func roundDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
