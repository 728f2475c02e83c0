package supervisor

import (
	"slices"
	"time"

	"watchdog/reaper"
	"watchdog/supervisor/config"
)

// These are the restart decisions, pure so that one table test covers them without a clock.

// succeeded reports whether a run that ended with st counts as a success: a normal exit with
// one of the success codes. A signal is never a success (a stop watchdog asked for is not
// judged by this at all).
func succeeded(st reaper.Status, successCodes []int) bool {
	return st.Wait.Exited() && slices.Contains(successCodes, st.Wait.ExitStatus())
}

// shouldRestart decides from the policy and the way a run ended whether another run follows.
func shouldRestart(policy config.RestartPolicy, success bool) bool {
	switch policy {
	case config.RestartAlways:
		return true
	case config.RestartOnFailure:
		return !success
	default:
		return false
	}
}

// backoffDelay is the wait before the n-th consecutive restart (n >= 1): first doubled n-1
// times and capped at limit. jitter in [0, 1) spreads it by up to ±10% so that services that
// failed together do not restart in lockstep; the cap holds after the jitter too.
func backoffDelay(first, limit time.Duration, n int, jitter float64) time.Duration {
	d := first
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	d += time.Duration(float64(d) * 0.2 * (jitter - 0.5))
	return min(max(d, 0), limit)
}

// restartLimitReached reports whether one more restart would exceed max restarts within the
// window that ends now. restarts holds the times of earlier restarts; max 0 means no limit.
func restartLimitReached(restarts []time.Time, now time.Time, window time.Duration, max int) bool {
	if max <= 0 {
		return false
	}
	recent := 0
	for _, t := range restarts {
		if now.Sub(t) < window {
			recent++
		}
	}
	return recent >= max
}
