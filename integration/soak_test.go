package integration

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// soakEnv runs TestSoak for as long as it says; without it the soak is skipped. For example:
//
//	WATCHDOG_SOAK=10m go test ./integration -run TestSoak -timeout 20m -v
//
// WATCHDOG_SOAK_SERVICES sets the number of services (default 300).
const soakEnv = "WATCHDOG_SOAK"

// Bounds of what watchdog may have gained from the end of the warm-up to the end of a soak.
const (
	soakMaxThreadsGrow = 4
	soakMaxFDsGrow     = 4
	soakMaxRSSGrow     = 16 << 20 // bytes
)

// Several hundred services for a long while: half crash at random times in random ways (exit
// 0, 1, 3, SIGKILL), the others have healthchecks that fail at random, half of them restarted
// when unhealthy. At the end watchdog holds no more threads, descriptors or memory than after
// the warm-up (within small bounds), and every run's end is accounted for alike in the log
// (exited and start_failed events), in the metrics (watchdog_service_exits_total) and in the
// status (restarts, which match the restarting events and watchdog_service_restarts_total).
func TestSoak(t *testing.T) {
	length := envDurationOr(t, soakEnv, 0)
	if length == 0 {
		t.Skipf("set %s to a duration to run the soak, e.g. %s=10m", soakEnv, soakEnv)
	}
	services := envIntOr(t, "WATCHDOG_SOAK_SERVICES", 300)
	crashers, flippers := services/2, services/4
	watchers := services - crashers - flippers
	warmup := min(time.Minute, length/4)
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
metrics_address = %[1]q
shutdown_timeout = "20s"

[services.crasher]
command = %[2]s
instances = %[3]d
restart_delay = "200ms"
restart_max_delay = "5s"

[services.flipper]
command = %[4]s
instances = %[5]d

[services.flipper.healthcheck]
command = %[6]s
interval = "10s"
timeout = "5s"
retries = 2

[services.watcher]
command = %[4]s
instances = %[7]d

[services.watcher.healthcheck]
command = %[6]s
interval = "10s"
timeout = "5s"
retries = 2
on_unhealthy = "ignore"
`, freeAddress(t), fixtureCmd("flaky", "1s", "20s"), crashers, fixtureCmd("sleep"), flippers,
		fixtureCmd("exit-random", "20"), watchers))
	socket, metrics := controlSocket(w), metricsAddress(w)
	began := time.Now()
	// The fewest descriptors watchdog held at any reading: while services run, probes and
	// starts under way hold some, hundreds at a time on a busy machine, so a leak shows only
	// against the fewest, and with every service stopped.
	fewestFDs := readResourceUse(t, w.pid).fds

	// Every service has started once and the warm-up is over.
	started := make(map[string]bool)
	if !w.stdout.wait(length, func(_ int, line string) bool {
		if e, err := parseEvent(line); err == nil && e["msg"] == "started" {
			started[fmt.Sprint(e["service"])] = true
		}
		return len(started) == services
	}) {
		t.Fatalf("%d of %d services started within %v", len(started), services, length)
	}
	t.Logf("all %d services started in %v", services, time.Since(began).Round(time.Millisecond))
	time.Sleep(time.Until(began.Add(warmup)))
	first := settledResourceUse(t, w.pid, 20)
	t.Logf("after the %v warm-up: %v", warmup, first)

	var worst time.Duration
	end := began.Add(length)
	for next := time.Now(); time.Now().Before(end); {
		if next = next.Add(30 * time.Second); next.After(end) {
			next = end
		}
		for time.Now().Before(next) {
			_, took, err := askStatus(socket, eventTimeout)
			if err != nil {
				t.Errorf("status during the soak: %v", err)
			}
			worst = max(worst, took)
			fewestFDs = min(fewestFDs, readResourceUse(t, w.pid).fds)
			time.Sleep(time.Second)
		}
		counts := countEvents(w)
		t.Logf("%v: %v; %d exited, %d restarting, %d unhealthy, %d healthy; status answered within %v at worst",
			time.Since(began).Round(time.Second), readResourceUse(t, w.pid), counts["exited"], counts["restarting"],
			counts["unhealthy"], counts["healthy"], worst)
	}
	last := settledResourceUse(t, w.pid, 20)
	t.Logf("at the end: %v", last)
	if last.threads > first.threads+soakMaxThreadsGrow {
		t.Errorf("watchdog runs %d threads, %d after the warm-up", last.threads, first.threads)
	}
	if last.rss > first.rss+soakMaxRSSGrow {
		t.Errorf("watchdog's RSS is %d KiB, %d KiB after the warm-up", last.rss>>10, first.rss>>10)
	}
	if worst > statusWithin {
		t.Errorf("watchdog took %v to answer status during the soak, want at most %v", worst, statusWithin)
	}

	// Everything down by the operator's stop, then the accounts: nothing moves any more. A
	// command the supervisor took too long to answer may still be carried out.
	stop := time.Now()
	if res := runClient(t, watchdogBin, nil, "stop", "--socket", socket, "crasher", "flipper", "watcher"); res.code != 0 {
		t.Errorf("`watchdog stop` of every service: %v", res)
	}
	snaps := waitAllStopped(t, socket, services)
	t.Logf("all %d services stopped %v after `watchdog stop`", services, time.Since(stop).Round(time.Millisecond))
	stopped := settledResourceUse(t, w.pid, 20)
	t.Logf("with every service stopped: %v; %d descriptors at the fewest while they ran", stopped, fewestFDs)
	if stopped.fds > fewestFDs+soakMaxFDsGrow {
		t.Errorf("watchdog holds %d descriptors with every service stopped, %d at the fewest while they ran",
			stopped.fds, fewestFDs)
	}
	samples := scrapeSamples(t, metrics)
	if dropped := sumSamples(samples, "watchdog_log_lines_dropped_total"); dropped != 0 {
		t.Errorf("%v log lines dropped: the log cannot account for every exit", dropped)
	}
	events := eventsByService(w)
	var exits, restarts, mismatched int
	for _, s := range snaps {
		logged := events[s.Name]
		ended := logged["exited"] + logged["start_failed"]
		counted := int(sumSamples(samples, "watchdog_service_exits_total", `service="`+s.Name+`"`))
		restartsMetric := int(sumSamples(samples, "watchdog_service_restarts_total", `service="`+s.Name+`"`))
		exits += ended
		restarts += s.Restarts
		// Each end but the one the stop made was followed by a restart.
		if ended != counted || s.Restarts != logged["restarting"] || s.Restarts != restartsMetric ||
			ended-s.Restarts < 0 || ended-s.Restarts > 1 {
			mismatched++
			if mismatched <= 5 {
				t.Errorf("%s: %d ends logged (%d exited, %d start_failed), %d in watchdog_service_exits_total; "+
					"restarts %d in status, %d restarting events, %d in watchdog_service_restarts_total",
					s.Name, ended, logged["exited"], logged["start_failed"], counted, s.Restarts,
					logged["restarting"], restartsMetric)
			}
		}
	}
	t.Logf("%d runs ended and %d restarts in %v, accounted for alike in log, metrics and status for %d of %d services",
		exits, restarts, length, services-mismatched, services)
}

// waitAllStopped waits until all n services are stopped and returns the status then.
func waitAllStopped(t *testing.T, socket string, n int) []statusService {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		snaps, _, err := askStatus(socket, eventTimeout)
		if err != nil {
			t.Fatal(err)
		}
		stopped := slices.DeleteFunc(slices.Clone(snaps), func(s statusService) bool { return s.State != "stopped" })
		if len(snaps) == n && len(stopped) == n {
			return snaps
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d services stopped two minutes after `watchdog stop`", len(stopped), n)
		}
		time.Sleep(5 * pollInterval)
	}
}

// eventsByService counts the events logged so far by service and msg.
func eventsByService(w *watchdogRun) map[string]map[string]int {
	lines, _, _ := w.stdout.snapshot()
	counts := make(map[string]map[string]int)
	for _, line := range lines {
		e, err := parseEvent(line)
		if err != nil {
			continue
		}
		name, ok := e["service"].(string)
		if !ok {
			continue
		}
		if counts[name] == nil {
			counts[name] = make(map[string]int)
		}
		counts[name][fmt.Sprint(e["msg"])]++
	}
	return counts
}
