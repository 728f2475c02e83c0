package integration

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// statusWithin is how fast watchdog answers `watchdog status` however stormy it gets.
const statusWithin = time.Second

// A storm of signals (SIGUSR1 to watchdog, thousands a second) and a storm of SIGCHLD (two
// services forking and reaping short children that each leave an orphan for watchdog) at
// once, for WATCHDOG_FAULTS_STORM (default 3s): watchdog answers status within a second all
// along, forwards SIGUSR1 to the services, and after the storm forwards the next signal at
// once, has reaped every orphan the services report (watchdog_orphans_reaped_total) and
// leaves no zombie. The modes run one after the other: each storm wants both cores.
func TestFaultSignalAndChildStorm(t *testing.T) {
	stormFor := envDurationOr(t, "WATCHDOG_FAULTS_STORM", 3*time.Second)
	for _, mode := range []runMode{asPID1, asSubreaper} {
		t.Run(mode.name, func(t *testing.T) {
			w := startWatchdog(t, mode, "--config", writeConfig(t, fmt.Sprintf(`
[watchdog]
metrics_address = %q

[services.counter]
command = %s
environment = { FIXTURE_ROLE = "counter" }

[services.churn]
command = %s
instances = 2
environment = { FIXTURE_ROLE = "churn" }
`, freeAddress(t), fixtureCmd("count-signals"), fixtureCmd("churn", "1ms"))))
			socket, metrics := controlSocket(w), metricsAddress(w)
			w.waitReport("counter ready", 1)
			w.waitReport("churn ready", 2)

			var sent atomic.Int64
			stop := make(chan struct{})
			var storm sync.WaitGroup
			storm.Add(1)
			go func() {
				defer storm.Done()
				tick := time.NewTicker(time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					for range 10 {
						if unix.Kill(w.pid, unix.SIGUSR1) == nil {
							sent.Add(1)
						}
					}
				}
			}()
			began := time.Now()
			var took []time.Duration
			var failures []string
			for time.Since(began) < stormFor {
				_, d, err := askStatus(socket, eventTimeout)
				took = append(took, d)
				if err != nil {
					failures = append(failures, err.Error())
				}
				time.Sleep(100 * time.Millisecond)
			}
			cli := time.Now()
			res, _ := status(t, socket)
			cliTook := time.Since(cli)
			close(stop)
			storm.Wait()
			stormed := time.Since(began)

			slices.Sort(took)
			worst := took[len(took)-1]
			t.Logf("%d SIGUSR1 in %v (%.0f/s); %d status answers, median %v, worst %v; `watchdog status` took %v",
				sent.Load(), stormed.Round(time.Millisecond), float64(sent.Load())/stormed.Seconds(),
				len(took), took[len(took)/2], worst, cliTook.Round(time.Millisecond))
			if len(failures) > 0 {
				t.Errorf("%d of %d status requests failed during the storm; first: %s", len(failures), len(took), failures[0])
			}
			if worst > statusWithin {
				t.Errorf("watchdog took %v to answer status during the storm, want at most %v", worst, statusWithin)
			}
			if res.code != 0 {
				t.Errorf("`watchdog status` during the storm: %v", res)
			}

			// The next signal after the storm is forwarded.
			w.signal(unix.SIGUSR2)
			counted := reportCount(t, w.waitReport("counter counted", 1)[0])
			if counted == 0 || int64(counted) > sent.Load() {
				t.Errorf("counter received %d SIGUSR1s of the %d sent to watchdog", counted, sent.Load())
			}

			// Every orphan the churn left was reaped by watchdog, and nothing is left a zombie.
			if res := runClient(t, watchdogBin, nil, "stop", "--socket", socket, "churn"); res.code != 0 {
				t.Fatalf("`watchdog stop churn`: %v", res)
			}
			churned := 0
			for _, line := range w.waitReport("churn churned", 2) {
				churned += reportCount(t, line)
			}
			waitStatus(t, socket, "churn.0", "stopped")
			waitStatus(t, socket, "churn.1", "stopped")
			waitNoZombiesBelow(t, w, reapedWithin)
			var samples map[string]float64
			deadline := time.Now().Add(reapedWithin)
			for {
				samples = scrapeSamples(t, metrics)
				if int(sumSamples(samples, "watchdog_orphans_reaped_total")) == churned || time.Now().After(deadline) {
					break
				}
				time.Sleep(pollInterval)
			}
			orphans := int(sumSamples(samples, "watchdog_orphans_reaped_total"))
			t.Logf("orphans: %d left by the churn (%.0f/s), %d reaped by watchdog; SIGUSR1: %d counted by the service, %.0f forwarded",
				churned, float64(churned)/time.Since(began).Seconds(), orphans, counted,
				sumSamples(samples, "watchdog_signals_forwarded_total"))
			if orphans != churned {
				t.Errorf("watchdog_orphans_reaped_total %d, want the %d orphans the churn left", orphans, churned)
			}

			w.signal(unix.SIGTERM)
			if code := w.waitExit(eventTimeout); code != 0 {
				t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
			}
		})
	}
}

// reportCount is the number after the role and event of a report line: "counter counted 5
// pid=7" is 5.
func reportCount(t *testing.T, line string) int {
	t.Helper()
	f := strings.Fields(line)
	if len(f) < 3 {
		t.Fatalf("report %q: no count", line)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		t.Fatalf("report %q: %v", line, err)
	}
	return n
}
