package metrics

import (
	"runtime"
	"strconv"
	"time"

	"watchdog/supervisor"
)

// Source is what a scrape or probe reads. Each func is called once per request from the
// request's goroutine, so it must be safe to call from any goroutine and must never wait on
// the supervision loop: snapshots and atomic counters, not commands (DESIGN.md invariant 3).
// Services is required; a nil func among the others leaves its metrics out.
type Source struct {
	Services        func() []supervisor.Snapshot // every service, in start order
	Orphans         func() uint64                // processes reaped that nobody started
	LogLinesDropped func() uint64                // log lines lost to a slow stdout
	Counters        func() supervisor.Counters
	Version         string // watchdog's version, for watchdog_build_info
}

// states is the state set of watchdog_service_state, in the order of status.go.
var states = []supervisor.State{
	supervisor.Waiting, supervisor.Starting, supervisor.Running, supervisor.Stopping,
	supervisor.Backoff, supervisor.Exited, supervisor.Failed, supervisor.Completed,
	supervisor.Stopped,
}

// writeMetrics writes every metric family of src as of now.
func writeMetrics(w *textWriter, src Source, now time.Time) {
	services := src.Services()

	w.family("watchdog_service_up", gauge, "Whether the service has a running main process.")
	for _, s := range services {
		w.sample(bit(s.Up()), "service", s.Name)
	}
	w.family("watchdog_service_state", gauge, "1 for the service's current state, 0 for the others.")
	for _, s := range services {
		for _, st := range states {
			w.sample(bit(s.State == st), "service", s.Name, "state", string(st))
		}
	}
	w.family("watchdog_service_restarts_total", counter, "Restarts the restart policy made.")
	for _, s := range services {
		w.sample(float64(s.Restarts), "service", s.Name)
	}
	w.family("watchdog_service_ready", gauge, "Whether the service's current run is ready.")
	for _, s := range services {
		w.sample(bit(s.Ready), "service", s.Name)
	}
	w.family("watchdog_service_healthy", gauge, "Whether the service passes its healthcheck; only services with one.")
	for _, s := range services {
		if s.Health != "" {
			w.sample(bit(s.Health == "healthy"), "service", s.Name)
		}
	}
	w.family("watchdog_service_state_seconds", gauge, "Time since the service entered its current state.")
	for _, s := range services {
		w.sample(now.Sub(s.Since).Seconds(), "service", s.Name)
	}
	w.family("watchdog_service_last_start_time_seconds", gauge, "Unix time of the service's last start.")
	for _, s := range services {
		if !s.StartedAt.IsZero() {
			w.sample(float64(s.StartedAt.UnixNano())/1e9, "service", s.Name)
		}
	}

	if src.Counters != nil {
		writeCounters(w, src.Counters())
	}
	if src.Orphans != nil {
		w.family("watchdog_orphans_reaped_total", counter, "Processes reaped that watchdog had not started.")
		w.sample(float64(src.Orphans()))
	}
	if src.LogLinesDropped != nil {
		w.family("watchdog_log_lines_dropped_total", counter, "Log lines dropped because stdout did not keep up.")
		w.sample(float64(src.LogLinesDropped()))
	}
	w.family("watchdog_build_info", gauge, "Always 1; the labels name the build.")
	w.sample(1, "version", src.Version, "goversion", runtime.Version())
}

// writeCounters writes the supervisor's totals.
func writeCounters(w *textWriter, c supervisor.Counters) {
	w.family("watchdog_service_exits_total", counter, "Runs of the service that ended, by exit code or by the signal that ended them.")
	for _, e := range c.Exits {
		if e.Exit.Signal != "" {
			w.sample(float64(e.Count), "service", e.Service, "signal", e.Exit.Signal)
		} else {
			w.sample(float64(e.Count), "service", e.Service, "code", strconv.Itoa(e.Exit.Code))
		}
	}
	w.family("watchdog_signals_forwarded_total", counter, "Signals forwarded, one per service process group.")
	w.sample(float64(c.SignalsForwarded))
	w.family("watchdog_reloads_total", counter, "Config reloads asked for by SIGHUP or watchdog reload.")
	w.sample(float64(c.Reloads))
}
