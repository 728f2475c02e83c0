package health

import (
	"testing"
	"time"

	"watchdog/supervisor/config"
)

func TestTracker(t *testing.T) {
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at      time.Duration // after the service started
		healthy bool
		want    Verdict
	}
	ok := func(at time.Duration, want Verdict) step { return step{at, true, want} }
	fail := func(at time.Duration, want Verdict) step { return step{at, false, want} }
	const s = time.Second

	for _, tc := range []struct {
		name        string
		retries     int
		startPeriod time.Duration
		steps       []step
	}{
		{name: "the first success is healthy", retries: 3,
			steps: []step{ok(0, BecameHealthy), ok(s, Unchanged)}},
		{name: "retries consecutive failures are unhealthy", retries: 3,
			steps: []step{fail(0, Unchanged), fail(s, Unchanged), fail(2*s, BecameUnhealthy), fail(3*s, Unchanged)}},
		{name: "a success resets the count", retries: 2,
			steps: []step{ok(0, BecameHealthy), fail(s, Unchanged), ok(2*s, Unchanged), fail(3*s, Unchanged), fail(4*s, BecameUnhealthy)}},
		{name: "healthy, unhealthy, healthy again", retries: 2,
			steps: []step{ok(0, BecameHealthy), fail(s, Unchanged), fail(2*s, BecameUnhealthy), ok(3*s, BecameHealthy),
				fail(4*s, Unchanged), fail(5*s, BecameUnhealthy)}},
		{name: "failures within the start period do not count", retries: 1, startPeriod: 10 * s,
			steps: []step{fail(0, Unchanged), fail(9*s, Unchanged), fail(10*s, BecameUnhealthy)}},
		{name: "failures within the start period do not add to later ones", retries: 2, startPeriod: 10 * s,
			steps: []step{fail(5*s, Unchanged), fail(10*s, Unchanged), fail(11*s, BecameUnhealthy)}},
		{name: "the first success ends the start period", retries: 1, startPeriod: 10 * s,
			steps: []step{fail(s, Unchanged), ok(2*s, BecameHealthy), fail(3*s, BecameUnhealthy)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker(&config.Healthcheck{Retries: tc.retries, StartPeriod: tc.startPeriod}, started)
			for i, st := range tc.steps {
				if got := tr.Observe(Result{Healthy: st.healthy, At: started.Add(st.at)}); got != st.want {
					t.Fatalf("step %d (healthy %v at %v): %v, want %v", i, st.healthy, st.at, got, st.want)
				}
			}
		})
	}
}
