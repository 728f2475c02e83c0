package supervisordconf

import (
	"testing"
	"time"
)

// TestRestartLimit checks the window against the crash loop it must hold: startretries
// restarts of runs just shorter than startsecs, each after watchdog's longest backoff.
func TestRestartLimit(t *testing.T) {
	tests := []struct {
		startsecs, startretries int
		first, last, window     time.Duration
	}{
		{1, 3, time.Second, 3 * time.Second, 10 * time.Second}, // waits 1+2+3 s, 6.6 s with jitter
		{5, 10, time.Second, 10 * time.Second, 133 * time.Second},
		{1, 1, time.Second, time.Second, 3 * time.Second},
	}
	for _, tt := range tests {
		first, last, window := restartLimit(tt.startsecs, tt.startretries)
		if first != tt.first || last != tt.last || window != tt.window {
			t.Errorf("restartLimit(%d, %d) = %v, %v, %v; want %v, %v, %v", tt.startsecs, tt.startretries,
				first, last, window, tt.first, tt.last, tt.window)
		}
		var loop time.Duration
		wait := first
		for range tt.startretries {
			loop += time.Duration(float64(wait)*1.1) + time.Duration(tt.startsecs)*time.Second
			wait = min(2*wait, last)
		}
		if loop > window {
			t.Errorf("startsecs %d, startretries %d: a crash loop of %v does not fit the window %v", tt.startsecs, tt.startretries, loop, window)
		}
	}
}
