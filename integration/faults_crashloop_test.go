package integration

import (
	"fmt"
	"testing"
	"time"
)

// Bounds of watchdog's own cost while services crash-loop, generous: a restart costs watchdog
// a fork, a wait4 and three log lines, well under a millisecond of CPU on an idle machine.
const (
	crashLoopMaxCPU      = 0.25                  // of one core, over the measured window
	crashLoopMaxCPUStart = 10 * time.Millisecond // per start in the window
	crashLoopMaxRSSGrow  = 8 << 20               // bytes, from the end of the warm-up to the end
	// A start under way holds its pipe to the child, and on a busy machine one is under way
	// at almost every reading.
	crashLoopMaxFDsGrow = 2
)

// A hundred services crash-looping at once (each exits 1 at once, restart "always"): the
// number of starts stays within what the backoff allows, watchdog's CPU time (utime+stime)
// over the measured window stays bounded, and its RSS, threads and descriptors stay flat from
// the end of the warm-up to the end.
// WATCHDOG_FAULTS_CRASHLOOPS sets the number of services (default 100),
// WATCHDOG_FAULTS_CRASHLOOP_WARMUP and WATCHDOG_FAULTS_CRASHLOOP_WINDOW the periods (default 5s
// and 12s).
func TestFaultHundredServicesCrashLooping(t *testing.T) {
	// Not parallel: it measures watchdog's CPU and memory, which other tests running beside it would skew.
	services := envIntOr(t, "WATCHDOG_FAULTS_CRASHLOOPS", 100)
	warmup := envDurationOr(t, "WATCHDOG_FAULTS_CRASHLOOP_WARMUP", 5*time.Second)
	window := envDurationOr(t, "WATCHDOG_FAULTS_CRASHLOOP_WINDOW", 12*time.Second)
	// restart_max_delay is the default's: a run that lasted that long would start the
	// backoff afresh, and on a busy machine a crash that takes seconds to come is no rarity.
	const delay, maxDelay = 100 * time.Millisecond, 30 * time.Second
	w := superviseConfig(t, fmt.Sprintf(`
[services.crash]
command = %s
instances = %d
restart_delay = %q
`, fixtureCmd("exit", "1"), services, delay))
	first := waitEventCount(w, 1, "started")[0]
	time.Sleep(time.Until(first.time(t).Add(warmup)))
	before := settledResourceUse(t, w.pid, 10)
	startsBefore := len(w.events("started"))
	measured := time.Now()
	time.Sleep(window)
	after := settledResourceUse(t, w.pid, 10)
	took := time.Since(measured)
	startsAfter := len(w.events("started"))
	elapsed := time.Since(first.time(t))

	starts := startsAfter - startsBefore
	cpu := after.cpu - before.cpu
	t.Logf("%d services over %v after a %v warm-up: %d starts (%.0f/s), watchdog's CPU %v (%.1f%% of a core, %v a start)",
		services, took.Round(time.Millisecond), warmup, starts, float64(starts)/took.Seconds(), cpu,
		100*cpu.Seconds()/took.Seconds(), (cpu / time.Duration(max(starts, 1))).Round(time.Microsecond))
	t.Logf("after the warm-up: %v, %d services started; at the end: %v, %d services started",
		before, len(servicesStarted(w, startsBefore)), after, len(servicesStarted(w, startsAfter)))

	// However fast the machine, a service cannot start more often than its backoff lets it:
	// restart k waits at least 90% (the jitter) of min(delay·2^(k-1), maxDelay).
	allowed := 1
	for k, waited := 1, time.Duration(0); ; k++ {
		waited += min(delay<<(k-1), maxDelay) * 9 / 10
		if waited > elapsed {
			break
		}
		allowed++
	}
	if startsAfter > services*allowed {
		t.Errorf("%d starts in %v, more than the %d of %d services the backoff allows", startsAfter,
			elapsed.Round(time.Millisecond), services*allowed, services)
	}
	if starts == 0 {
		t.Fatalf("no start in the measured %v: the services are not crash-looping", took)
	}
	if frac := cpu.Seconds() / took.Seconds(); frac > crashLoopMaxCPU {
		t.Errorf("watchdog used %.1f%% of a core while the services crash-looped, want at most %.0f%%",
			100*frac, 100*crashLoopMaxCPU)
	}
	if perStart := cpu / time.Duration(starts); perStart > crashLoopMaxCPUStart {
		t.Errorf("watchdog used %v of CPU a start, want at most %v", perStart, crashLoopMaxCPUStart)
	}
	if grew := after.rss - before.rss; grew > crashLoopMaxRSSGrow {
		t.Errorf("watchdog's RSS grew by %d KiB while the services crash-looped, want at most %d KiB",
			grew>>10, crashLoopMaxRSSGrow>>10)
	}
	if after.fds > before.fds+crashLoopMaxFDsGrow {
		t.Errorf("watchdog holds %d descriptors, %d after the warm-up", after.fds, before.fds)
	}
	if after.threads > before.threads+2 {
		t.Errorf("watchdog runs %d threads, %d after the warm-up", after.threads, before.threads)
	}
	// Every run is accounted for: each exit but the ones still being handled was followed by a
	// restart.
	counts := countEvents(w)
	exited, restarting := counts["exited"], counts["restarting"]
	if restarting > exited || exited-restarting > services {
		t.Errorf("%d exited events and %d restarting events", exited, restarting)
	}

	// No SIGTERM here: TestFaultShutdownOfCrashLoopsOnCPUQuota is the shutdown of crash loops
	// on a busy machine.
}

// servicesStarted names the services among the first n started events.
func servicesStarted(w *watchdogRun, n int) map[string]bool {
	names := make(map[string]bool)
	for _, e := range w.events("started")[:n] {
		names[e.get("service")] = true
	}
	return names
}
