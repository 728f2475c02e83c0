package health

import (
	"time"

	"watchdog/supervisor/config"
)

// Verdict is what one result changed about a service's health.
type Verdict int

const (
	Unchanged       Verdict = iota // no change, or not decided yet
	BecameHealthy                  // the first success, or a success after being unhealthy
	BecameUnhealthy                // Retries consecutive failures that count
)

func (v Verdict) String() string {
	switch v {
	case BecameHealthy:
		return "healthy"
	case BecameUnhealthy:
		return "unhealthy"
	}
	return "unchanged"
}

// Tracker turns the results of one run of a service into verdicts. Failures of probes that
// started within the start period do not count; the first success ends the start period.
// It reads no clock: time comes from each Result's At.
type Tracker struct {
	retries        int
	startPeriodEnd time.Time // zero once a probe succeeded
	failures       int       // consecutive failures that count
	last           Verdict   // the last change: Unchanged until the first
}

// NewTracker tracks a service run that started at started.
func NewTracker(hc *config.Healthcheck, started time.Time) *Tracker {
	return &Tracker{retries: hc.Retries, startPeriodEnd: started.Add(hc.StartPeriod)}
}

// Observe takes the next result and says whether the service's health changed.
func (t *Tracker) Observe(r Result) Verdict {
	if r.Healthy {
		t.failures = 0
		t.startPeriodEnd = time.Time{}
		return t.become(BecameHealthy)
	}
	if r.At.Before(t.startPeriodEnd) {
		return Unchanged
	}
	t.failures++
	if t.failures < t.retries {
		return Unchanged
	}
	return t.become(BecameUnhealthy)
}

func (t *Tracker) become(v Verdict) Verdict {
	if t.last == v {
		return Unchanged
	}
	t.last = v
	return v
}
