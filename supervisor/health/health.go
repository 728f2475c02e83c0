// Package health probes one service, by command, HTTP or TCP as its [services.NAME.healthcheck]
// table says (shared/DESIGN.md, "Config"), and turns the results into healthy and unhealthy verdicts.
package health

import (
	"context"
	"errors"
	"fmt"
	"time"

	"watchdog/reaper"
	"watchdog/supervisor/config"
)

// outputLimit caps the output a Result keeps: enough for an error message, small enough to log.
const outputLimit = 4 << 10

// Result is the outcome of one probe.
type Result struct {
	Healthy bool
	// Reason says why the probe failed ("HTTP 503", "exit code 1", "timed out after 2s");
	// empty when it succeeded.
	Reason string
	// Output is the first 4 KiB of a command's stdout and stderr, or of an HTTP response body.
	Output string
	At     time.Time     // when the probe started
	Took   time.Duration // how long it ran
}

// Spec is what a command probe shares with the service it checks, and how often to probe
// before the service is first healthy.
type Spec struct {
	Env        []string           // the service's environment; its PATH finds the command
	Dir        string             // the service's working directory
	Credential *config.Credential // nil runs the command as watchdog's own user
	// StartInterval replaces the healthcheck's interval until the first healthy result, so
	// that readiness is noticed quickly (Docker's --start-interval). Zero, or more than the
	// interval, means the interval.
	StartInterval time.Duration
}

// Checker probes one service from Start until Stop, one probe at a time.
type Checker struct {
	results chan Result
	stop    context.CancelFunc
	done    chan struct{}
}

// probe checks once within ctx: a nil error is healthy, and the error's text is the reason.
type probe func(ctx context.Context) (output string, err error)

// Start starts probing as hc says: the first probe right away, each next one an interval
// after the previous one finished, so probes never overlap. A command probe runs through r
// with spec's environment, directory and user; r may be nil for HTTP and TCP probes.
func Start(hc *config.Healthcheck, spec Spec, r *reaper.Reaper) *Checker {
	var check probe
	switch {
	case len(hc.Command) > 0:
		check = commandProbe{argv: hc.Command, spec: spec, reaper: r}.check
	case hc.HTTP != "":
		check = newHTTPProbe(hc.HTTP).check
	default:
		check = tcpProbe(hc.TCP).check
	}
	startInterval := spec.StartInterval
	if startInterval <= 0 || startInterval > hc.Interval {
		startInterval = hc.Interval
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Checker{results: make(chan Result), stop: cancel, done: make(chan struct{})}
	go c.run(ctx, check, hc.Timeout, startInterval, hc.Interval)
	return c
}

// Results delivers each probe's result. It is unbuffered: the next probe waits until the
// result is received or the checker is stopped, never longer.
func (c *Checker) Results() <-chan Result { return c.results }

// Stop ends probing and returns once the checker's goroutine has ended. A command probe
// still running is killed with its whole process group, and reaped, first. Stop may be
// called more than once.
func (c *Checker) Stop() {
	c.stop()
	<-c.done
}

func (c *Checker) run(ctx context.Context, check probe, timeout, startInterval, interval time.Duration) {
	defer close(c.done)
	every := startInterval
	next := time.NewTimer(0)
	defer next.Stop()
	for {
		select {
		case <-next.C:
		case <-ctx.Done():
			return
		}
		res := probeOnce(ctx, check, timeout)
		if ctx.Err() != nil {
			return
		}
		select {
		case c.results <- res:
		case <-ctx.Done():
			return
		}
		if res.Healthy {
			every = interval
		}
		next.Reset(time.Until(res.At.Add(res.Took + every)))
	}
}

// probeOnce runs check with timeout and reports what it found.
func probeOnce(ctx context.Context, check probe, timeout time.Duration) Result {
	start := time.Now() // before the deadline is set, so that Took of a timed-out probe is at least timeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	output, err := check(ctx)
	res := Result{Healthy: err == nil, Output: output, At: start, Took: time.Since(start)}
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.Reason = fmt.Sprintf("timed out after %s", timeout)
	default:
		res.Reason = err.Error()
	}
	return res
}
