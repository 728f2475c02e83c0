package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	scaleServices = 1000
	statusRuns    = 5
	scaleUpCutoff = 45 * time.Second // for the start of every service
	scaleCutoff   = 15 * time.Second // for the shutdown
)

// scaleResult is one peer running 1,000 services.
type scaleResult struct {
	up       float64 // ns from launch until every service reported "up"; NaN if they did not in time
	upCount  int     // how many did
	started  float64 // watchdog: ns from launch until its last "started" event (ms resolution)
	status   sample  // ns per status command covering every service
	shutdown float64
	killed   bool
}

func measureScale(b *bench) *section {
	s := &section{title: fmt.Sprintf("%d services", scaleServices),
		method: fmt.Sprintf("%d sleeping helper services. Up: from the launch of `unshare` until every service "+
			"reported \"up\" (for watchdog also its last `started` event, whose timestamps have millisecond "+
			"resolution). Status: the one command that reports every service, run %d times from outside the "+
			"namespace (`watchdog status` over its control socket; runit's `sv status` on every service "+
			"directory). Shutdown: SIGTERM to PID 1 until the namespace is empty (killed at %s). One run each.",
			scaleServices, statusRuns, scaleCutoff)}
	peers := []peer{scaleLoop, watchdogConfig, s6, runit}
	results := make([]*scaleResult, len(peers))
	for i, p := range peers {
		svcs := services(scaleServices, service{args: []string{"sleep"}})
		if p.name == scaleLoop.name {
			svcs = []service{{args: []string{"spawn", strconv.Itoa(scaleServices), b.helper, "sleep"}}}
		}
		r, err := b.scaleOnce(p, svcs)
		if err != nil {
			s.fail("%s: %v", p.name, err)
			continue
		}
		results[i] = r
	}
	t := table{header: []string{"init", "all up", "last started event", "status median", "status min – max",
		"shutdown", "up × loop", "up × s6", "shutdown × s6"}}
	none := &scaleResult{up: math.NaN(), shutdown: math.NaN()}
	loop, ref := cmp.Or(results[0], none), cmp.Or(results[peerIndex(peers, s6)], none)
	for i, p := range peers {
		r := results[i]
		if r == nil {
			t.add(p.name, "–", "–", "–", "–", "–", "–", "–", "–")
			continue
		}
		up, shutdown := dur(r.up), dur(r.shutdown)
		if r.upCount < scaleServices {
			up = fmt.Sprintf("> %s (%d up)", scaleUpCutoff, r.upCount)
		}
		if r.killed {
			shutdown = fmt.Sprintf("never (killed at %s)", scaleCutoff)
		}
		t.add(p.name, up, dur(r.started), dur(r.status.median()), durRange(r.status), shutdown,
			ratio(r.up, loop.up), ratio(r.up, ref.up), ratio(r.shutdown, ref.shutdown))
	}
	s.tables = append(s.tables, t)
	s.note("The fork+exec loop is the helper as PID 1 starting the 1,000 services itself, one after another, with no " +
		"supervisor: what the starts cost on this machine, most of it the services' own start (a Go program each). " +
		"Its shutdown is SIGTERM to the loop, after which the kernel SIGKILLs the services.")
	s.note("supervisord is left out: with 100 services its start and shutdown already take seconds (see shutdown). " +
		"s6 has no command that reports every service at once (s6-svstat reads one service directory).")
	wd := results[peerIndex(peers, watchdogConfig)]
	if wd == nil {
		s.unjudged("1,000 services: up within 2 s, status within 50 ms, shutdown within 1 s", "watchdog did not run")
		return s
	}
	if wd.upCount < scaleServices {
		s.judge("1,000 services up within 2 s", fmt.Sprintf("%d up after %s", wd.upCount, scaleUpCutoff), false)
	} else {
		s.judge("1,000 services up within 2 s", dur(wd.up), wd.up <= 2e9)
	}
	if len(wd.status) == 0 {
		s.unjudged("status within 50 ms", "watchdog status failed")
	} else {
		s.judge("status within 50 ms", dur(wd.status.median()), wd.status.median() <= 50e6)
	}
	s.judge("shutdown within 1 s", dur(wd.shutdown), !wd.killed && wd.shutdown <= 1e9)
	return s
}

// scaleLoop is the helper as PID 1 starting the services itself, with no supervisor.
var scaleLoop = peer{name: "fork+exec loop (no supervisor)", single: true, command: baseline.command}

func (b *bench) scaleOnce(p peer, svcs []service) (*scaleResult, error) {
	launched := time.Now()
	in, err := b.launch(p, svcs, launchOptions{})
	if err != nil {
		return nil, err
	}
	defer in.kill()
	r := &scaleResult{up: math.NaN(), started: math.NaN(), upCount: scaleServices}
	if up, err := in.waitReports("up", scaleServices, scaleUpCutoff); err == nil {
		r.up = float64(up - in.started)
	} else {
		r.upCount = len(in.reports("up"))
	}
	var status []string
	switch p.name {
	case watchdogConfig.name:
		r.started = lastStarted(in, launched)
		status = []string{b.watchdog, "status", "--socket", filepath.Join(in.dir, "watchdog.sock")}
	case runit.name:
		dirs, _ := filepath.Glob(filepath.Join(in.dir, "sv", "*"))
		status = append([]string{"sv", "status"}, dirs...)
	}
	if status != nil {
		for range statusRuns {
			start := monotonic()
			out, err := exec.Command(status[0], status[1:]...).CombinedOutput()
			took := monotonic() - start
			// watchdog status exits 3 when a service is not as wanted: the lines are what counts,
			// one at least for every service that is up.
			if lines := strings.Count(string(out), "\n"); lines < r.upCount {
				return nil, fmt.Errorf("%s status: %v, %d lines: %.300s", p.name, err, lines, out)
			}
			r.status = append(r.status, float64(took))
		}
	}
	took, ok := in.stop(scaleCutoff)
	r.shutdown, r.killed = float64(took), !ok
	return r, nil
}

// lastStarted is the time from launched to watchdog's last "started" event, from its log.
func lastStarted(in *instance, launched time.Time) float64 {
	f, err := os.Open(filepath.Join(in.dir, "output.log"))
	if err != nil {
		return math.NaN()
	}
	defer f.Close()
	var last time.Time
	lines := bufio.NewScanner(f)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		var event struct {
			TS  string `json:"ts"`
			Msg string `json:"msg"`
		}
		if json.Unmarshal(lines.Bytes(), &event) != nil || event.Msg != "started" {
			continue
		}
		if at, err := time.Parse(time.RFC3339Nano, event.TS); err == nil && at.After(last) {
			last = at
		}
	}
	if last.IsZero() {
		return math.NaN()
	}
	return float64(last.Sub(launched))
}
