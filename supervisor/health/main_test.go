package health

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"watchdog/reaper"
	"watchdog/supervisor/config"
)

// wait bounds every wait for an event; reaching it fails the test.
const wait = 10 * time.Second

// testReaper starts every command probe: one per process, as SIGCHLD and the subreaper are.
var testReaper *reaper.Reaper

func TestMain(m *testing.M) {
	r, err := reaper.New(zap.NewNop())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testReaper = r
	code := m.Run()
	r.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// healthcheck is a healthcheck with the given probe that probes rarely, so a test sees only
// the probes it waits for.
func healthcheck(probe func(*config.Healthcheck)) *config.Healthcheck {
	hc := &config.Healthcheck{Interval: time.Hour, Timeout: wait, Retries: 1}
	probe(hc)
	return hc
}

func command(argv ...string) func(*config.Healthcheck) {
	return func(hc *config.Healthcheck) { hc.Command = argv }
}

// start starts a checker that the test stops when it ends.
func start(t *testing.T, hc *config.Healthcheck, spec Spec) *Checker {
	t.Helper()
	if spec.Env == nil {
		spec.Env = os.Environ()
	}
	c := Start(hc, spec, testReaper)
	t.Cleanup(c.Stop)
	return c
}

// receive returns the next result of c, failing the test if none comes in time.
func receive(t *testing.T, c *Checker) Result {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case res := <-c.Results():
		return res
	case <-timer.C:
		t.Fatalf("no result within %v", wait)
		return Result{}
	}
}

// firstResult runs the first probe of hc and stops the checker.
func firstResult(t *testing.T, hc *config.Healthcheck, spec Spec) Result {
	t.Helper()
	c := start(t, hc, spec)
	res := receive(t, c)
	c.Stop()
	return res
}

// wantResult fails the test unless res is as healthy as want and has want's reason.
func wantResult(t *testing.T, res Result, healthy bool, reason string) {
	t.Helper()
	if res.Healthy != healthy || res.Reason != reason {
		t.Errorf("result = healthy %v, reason %q; want healthy %v, reason %q (output %q)",
			res.Healthy, res.Reason, healthy, reason, res.Output)
	}
}

// noChildLeft fails the test unless the test process has no child left, running or zombie.
func noChildLeft(t *testing.T) {
	t.Helper()
	select {
	case <-testReaper.Childless():
	case <-time.After(wait):
		t.Errorf("a child is still left after %v", wait)
	}
}
