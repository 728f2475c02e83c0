package metrics

import (
	"math"
	"runtime"
	"testing"
	"time"

	"watchdog/supervisor"
)

// crashLoop fails for good after three restarts; beside it a service keeps running, and a
// oneshot leaves behind a child that watchdog reaps as an orphan.
const crashLoop = `
[watchdog]
shutdown_timeout = "5s"

[services.crash]
command = ["/bin/sh", "-c", "exit 1"]
restart = "always"
restart_delay = "10ms"
max_restarts = 3

[services.sleeper]
command = ["/bin/sleep", "1000"]

[services.spawner]
command = ["/bin/sh", "-c", "/bin/sleep 0 & exit 0"]
oneshot = true
`

func TestScrapeMatchesStatus(t *testing.T) {
	h := start(t, crashLoop)
	h.waitFor("crash", "failed", inState(supervisor.Failed))
	h.waitFor("sleeper", "running", inState(supervisor.Running))
	h.waitFor("spawner", "completed", inState(supervisor.Completed))
	deadline := time.Now().Add(wait)
	for h.reaper.Orphans() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no orphan reaped within %v", wait)
		}
		time.Sleep(5 * time.Millisecond)
	}

	status := h.sup.Status()
	orphansBefore, droppedBefore := h.reaper.Orphans(), h.sink.Dropped()
	before := time.Now()
	fs := scrape(t, h.url)
	after := time.Now()
	orphansAfter, droppedAfter := h.reaper.Orphans(), h.sink.Dropped()

	if got := fs.value(t, "watchdog_service_restarts_total", "service", "crash"); got != 3 {
		t.Errorf("crash restarts_total = %v, want 3", got)
	}
	if got := fs.value(t, "watchdog_service_state", "service", "crash", "state", "failed"); got != 1 {
		t.Errorf(`crash state{state="failed"} = %v, want 1`, got)
	}
	for _, snap := range status {
		if snap != find(t, h.sup.Status(), snap.Name) {
			t.Fatalf("%s changed during the scrape", snap.Name)
		}
		checkService(t, fs, snap, before, after)
	}
	if n := fs.series("watchdog_service_up"); n != len(status) {
		t.Errorf("watchdog_service_up has %d series, want one per service (%d)", n, len(status))
	}
	if n := fs.series("watchdog_service_healthy"); n != 0 {
		t.Errorf("watchdog_service_healthy has %d series for services without a healthcheck", n)
	}

	orphans := fs.value(t, "watchdog_orphans_reaped_total")
	if orphans < float64(orphansBefore) || orphans > float64(orphansAfter) {
		t.Errorf("orphans_reaped_total = %v, want the reaper's count %d..%d", orphans, orphansBefore, orphansAfter)
	}
	dropped := fs.value(t, "watchdog_log_lines_dropped_total")
	if dropped == 0 || dropped < float64(droppedBefore) || dropped > float64(droppedAfter) {
		t.Errorf("log_lines_dropped_total = %v, want the sink's count %d..%d, above 0", dropped, droppedBefore, droppedAfter)
	}
	for _, absent := range []string{"watchdog_service_exits_total", "watchdog_signals_forwarded_total", "watchdog_reloads_total"} {
		if _, ok := fs[absent]; ok {
			t.Errorf("%s written without a Counters source", absent)
		}
	}
	if got := fs.value(t, "watchdog_build_info", "version", "test", "goversion", runtime.Version()); got != 1 {
		t.Errorf("build_info = %v, want 1", got)
	}
}

// checkService compares the per-service series of a scrape taken between before and after
// with the service's status snapshot.
func checkService(t *testing.T, fs families, snap supervisor.Snapshot, before, after time.Time) {
	t.Helper()
	name := snap.Name
	if got := fs.value(t, "watchdog_service_up", "service", name); got != bit(snap.Up()) {
		t.Errorf("%s up = %v, status says %v", name, got, snap.Up())
	}
	if got := fs.value(t, "watchdog_service_ready", "service", name); got != bit(snap.Ready) {
		t.Errorf("%s ready = %v, status says %v", name, got, snap.Ready)
	}
	if got := fs.value(t, "watchdog_service_restarts_total", "service", name); got != float64(snap.Restarts) {
		t.Errorf("%s restarts_total = %v, status says %d", name, got, snap.Restarts)
	}
	for _, st := range states {
		if got := fs.value(t, "watchdog_service_state", "service", name, "state", string(st)); got != bit(snap.State == st) {
			t.Errorf("%s state{state=%q} = %v, status says %s", name, st, got, snap.State)
		}
	}
	inState := fs.value(t, "watchdog_service_state_seconds", "service", name)
	if inState < before.Sub(snap.Since).Seconds() || inState > after.Sub(snap.Since).Seconds() {
		t.Errorf("%s state_seconds = %v, want %v..%v", name, inState, before.Sub(snap.Since).Seconds(), after.Sub(snap.Since).Seconds())
	}
	lastStart := fs.value(t, "watchdog_service_last_start_time_seconds", "service", name)
	if want := float64(snap.StartedAt.UnixNano()) / 1e9; math.Abs(lastStart-want) > 1e-6 {
		t.Errorf("%s last_start_time_seconds = %v, status says %v", name, lastStart, want)
	}
}

func TestCountersAndEscapedLabels(t *testing.T) {
	now := time.Now()
	startedAt := now.Add(-90 * time.Second)
	odd := `we"b\1` // service names from a config cannot hold these; escaping must not care
	services := []supervisor.Snapshot{
		{Name: odd, State: supervisor.Running, Pid: 42, Ready: true, Health: "healthy", Since: startedAt, StartedAt: startedAt},
		{Name: "db", State: supervisor.Backoff, Restarts: 2, Health: "unhealthy", Since: now, StartedAt: startedAt,
			LastExit: &supervisor.Exit{Code: 137, Signal: "SIGKILL"}},
		{Name: "migrate", State: supervisor.Waiting, Since: now},
	}
	version := "v1.2 \"rc\" C:\\build\\\nsecond line"
	url := serve(t, Source{
		Services:        func() []supervisor.Snapshot { return services },
		Orphans:         func() uint64 { return 5 },
		LogLinesDropped: func() uint64 { return 0 },
		Counters: func() supervisor.Counters {
			return supervisor.Counters{
				Exits: []supervisor.ExitCount{
					{Service: odd, Exit: supervisor.Exit{Code: 1}, Count: 4},
					{Service: "db", Exit: supervisor.Exit{Code: 137, Signal: "SIGKILL"}, Count: 2},
					{Service: "db", Exit: supervisor.Exit{Code: 0}, Count: 1},
				},
				SignalsForwarded: 7,
				Reloads:          2,
			}
		},
		Version: version,
	})
	fs := scrape(t, url)

	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"watchdog_build_info", []string{"version", version, "goversion", runtime.Version()}, 1},
		{"watchdog_service_up", []string{"service", odd}, 1},
		{"watchdog_service_state", []string{"service", odd, "state", "running"}, 1},
		{"watchdog_service_state", []string{"service", "db", "state", "backoff"}, 1},
		{"watchdog_service_state", []string{"service", "db", "state", "running"}, 0},
		{"watchdog_service_restarts_total", []string{"service", "db"}, 2},
		{"watchdog_service_healthy", []string{"service", odd}, 1},
		{"watchdog_service_healthy", []string{"service", "db"}, 0},
		{"watchdog_service_last_start_time_seconds", []string{"service", "db"}, float64(startedAt.UnixNano()) / 1e9},
		{"watchdog_service_exits_total", []string{"service", odd, "code", "1"}, 4},
		{"watchdog_service_exits_total", []string{"service", "db", "signal", "SIGKILL"}, 2},
		{"watchdog_service_exits_total", []string{"service", "db", "code", "0"}, 1},
		{"watchdog_signals_forwarded_total", nil, 7},
		{"watchdog_reloads_total", nil, 2},
		{"watchdog_orphans_reaped_total", nil, 5},
		{"watchdog_log_lines_dropped_total", nil, 0},
	} {
		if got := fs.value(t, c.name, c.labels...); got != c.want {
			t.Errorf("%s%q = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := fs.series("watchdog_service_exits_total"); n != 3 {
		t.Errorf("exits_total has %d series, want 3", n)
	}
	if n := fs.series("watchdog_service_healthy"); n != 2 {
		t.Errorf("healthy has %d series, want one per service with a healthcheck (2)", n)
	}
	if _, ok := fs.lookup("watchdog_service_last_start_time_seconds", "service", "migrate"); ok {
		t.Error("last_start_time_seconds written for a service never started")
	}
	if got := fs.value(t, "watchdog_service_state_seconds", "service", odd); got < 90 || got > 90+wait.Seconds() {
		t.Errorf("state_seconds = %v, want about 90", got)
	}
}
