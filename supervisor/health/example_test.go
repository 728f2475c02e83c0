package health_test

import (
	"fmt"
	"time"

	"watchdog/supervisor/config"
	"watchdog/supervisor/health"
)

// A service runner probes each run of its service and acts on the verdicts, in the same
// select as its exits and commands.
func Example() {
	hc := &config.Healthcheck{HTTP: "http://127.0.0.1:8080/healthz", Interval: 10 * time.Second,
		Timeout: 2 * time.Second, Retries: 3}
	started := time.Now()
	checker := health.Start(hc, health.Spec{StartInterval: min(time.Second, hc.Interval)}, nil)
	defer checker.Stop() // when the run ends, before the next one starts its own checker
	tracker := health.NewTracker(hc, started)
	exited := make(chan struct{}) // the service's exit, from the reaper

	for {
		select {
		case res := <-checker.Results():
			switch tracker.Observe(res) {
			case health.BecameHealthy:
				fmt.Println("healthy")
			case health.BecameUnhealthy:
				fmt.Println("unhealthy:", res.Reason) // and, as hc.OnUnhealthy says, restart
			}
		case <-exited:
			return
		}
	}
}
