package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	zeroDelayRounds = 2               // rounds over floor, watchdog and supervisord
	zeroDelayFor    = 2 * time.Second // each run of a crash loop with zero delay
	stormFor        = 10 * time.Second
)

// crashRun is one crash loop's runs, from the helper's "run START EXIT" reports.
type crashRun struct {
	starts, exits []int64
}

// gaps are the times from each exit to the next start.
func (c crashRun) gaps() sample {
	var g sample
	for i := 1; i < len(c.starts); i++ {
		g = append(g, float64(c.starts[i]-c.exits[i-1]))
	}
	return g
}

// restartsWithin counts the restarts that began within d of the first start.
func (c crashRun) restartsWithin(d time.Duration) int {
	n := 0
	for _, start := range c.starts[min(1, len(c.starts)):] {
		if start-c.starts[0] < d.Nanoseconds() {
			n++
		}
	}
	return n
}

func readCrashRun(in *instance) (crashRun, error) {
	var c crashRun
	type run struct{ start, exit int64 }
	var runs []run
	for _, line := range in.reports("run") {
		f := strings.Fields(line)
		if len(f) != 2 {
			return c, fmt.Errorf("bad report %q", line)
		}
		start, err1 := strconv.ParseInt(f[0], 10, 64)
		exit, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return c, fmt.Errorf("bad report %q", line)
		}
		runs = append(runs, run{start, exit})
	}
	slices.SortFunc(runs, func(a, b run) int { return int(a.start - b.start) })
	for _, r := range runs {
		c.starts, c.exits = append(c.starts, r.start), append(c.exits, r.exit)
	}
	if len(runs) < 2 {
		return c, fmt.Errorf("%d runs, no restart (output: %s)", len(runs), in.output())
	}
	return c, nil
}

func measureRestart(b *bench) *section {
	s := &section{title: "crash to restart",
		method: fmt.Sprintf("The service is the helper in crash mode: it reports CLOCK_MONOTONIC as its first "+
			"statement and again just before it exits with code 1. A gap is from one run's exit to the next run's "+
			"start. Zero delay: %d runs of %s each, interleaved, of watchdog (restart_delay \"0s\", max_restarts = 1000000), "+
			"supervisord (startsecs=0, autorestart=true) and the floor: the helper as PID 1 forking, exec'ing and "+
			"waiting for the crashing helper in a loop. Defaults: every supervisor with its default settings for %s, "+
			"all at once (they sleep between restarts).", zeroDelayRounds, zeroDelayFor, stormFor)}
	crash := service{args: []string{"crash"}}
	zero := service{args: []string{"crash"}, zeroDelay: true}
	floorSvc := service{args: []string{"floor", zeroDelayFor.String(), b.helper, "crash"}}

	// Zero delay, one after another.
	type subject struct {
		name string
		p    peer
		svc  service
	}
	subjects := []subject{{"floor (fork+exec loop)", baseline, floorSvc}, {"watchdog", watchdogConfig, zero},
		{"supervisord", supervisord, zero}}
	gaps := make(map[string]sample)
	for range zeroDelayRounds {
		for _, sub := range subjects {
			c, err := b.crashLoop(sub.p, sub.svc, zeroDelayFor)
			if err != nil {
				s.fail("zero delay, %s: %v", sub.name, err)
				continue
			}
			gaps[sub.name] = append(gaps[sub.name], c.gaps()...)
		}
	}
	floorMedian := gaps[subjects[0].name].median()
	t := table{header: []string{"zero delay", "gap median", "min – max", "p99", "n (restarts)", "median − floor", "× floor"}}
	for _, sub := range subjects {
		g := gaps[sub.name]
		t.add(sub.name, dur(g.median()), durRange(g), dur(g.quantile(0.99)), fmt.Sprint(len(g)),
			dur(g.median()-floorMedian), ratio(g.median(), floorMedian))
	}
	s.tables = append(s.tables, t)

	// Defaults, all at once.
	stormPeers := []peer{watchdogConfig, s6, runit, supervisord}
	storms := make([]crashRun, len(stormPeers))
	errs := make([]error, len(stormPeers))
	var wg sync.WaitGroup
	for i, p := range stormPeers {
		wg.Go(func() { storms[i], errs[i] = b.crashLoop(p, crash, stormFor+500*time.Millisecond) })
	}
	wg.Wait()
	t = table{header: []string{"defaults", "first restart after", "gap median", "min – max", "restarts in 10 s",
		"first restart × s6", "restarts × s6"}}
	s6Storm := storms[peerIndex(stormPeers, s6)] // zero when s6 failed: its ratios are "–"
	for i, p := range stormPeers {
		if errs[i] != nil {
			s.fail("defaults, %s: %v", p.name, errs[i])
			t.add(p.name, "–", "–", "–", "–", "–", "–")
			continue
		}
		c := storms[i]
		g := c.gaps()
		t.add(p.name, dur(firstGap(c)), dur(g.median()), durRange(g), fmt.Sprint(c.restartsWithin(stormFor)),
			ratio(firstGap(c), firstGap(s6Storm)), ratio(float64(c.restartsWithin(stormFor)), float64(s6Storm.restartsWithin(stormFor))))
	}
	s.tables = append(s.tables, t)
	s.note("s6-supervise and runsv have no restart delay setting: they wait until a second has passed since the " +
		"previous start. supervisord's defaults (startsecs=1, startretries=3) give up after 3 quick failures (FATAL).")

	wd := gaps["watchdog"]
	if len(wd) == 0 || math.IsNaN(floorMedian) {
		s.unjudged("zero delay within 2 ms of the fork+exec floor", "watchdog or the floor did not run")
	} else {
		over := wd.median() - floorMedian
		s.judge("zero delay: restart within 2 ms of the fork+exec floor",
			fmt.Sprintf("%s − %s = %s", dur(wd.median()), dur(floorMedian), dur(over)), over <= 2e6)
	}
	wdIndex, s6Index := peerIndex(stormPeers, watchdogConfig), peerIndex(stormPeers, s6)
	if errs[wdIndex] != nil || errs[s6Index] != nil {
		s.unjudged("defaults: first restart >= 5x sooner than s6; fewer restarts in 10 s", "watchdog or s6 did not run")
		return s
	}
	wdStorm := storms[wdIndex]
	wdFirst, s6First := firstGap(wdStorm), firstGap(s6Storm)
	s.judge("defaults: first restart >= 5x sooner than s6's",
		fmt.Sprintf("%s vs %s (%s sooner)", dur(wdFirst), dur(s6First), ratio(s6First, wdFirst)), s6First >= 5*wdFirst)
	s.judge("defaults: fewer restarts in 10 s than s6",
		fmt.Sprintf("%d vs %d", wdStorm.restartsWithin(stormFor), s6Storm.restartsWithin(stormFor)),
		wdStorm.restartsWithin(stormFor) < s6Storm.restartsWithin(stormFor))
	return s
}

// firstGap is the time from the first exit to the first restart.
func firstGap(c crashRun) float64 {
	if g := c.gaps(); len(g) > 0 {
		return g[0]
	}
	return math.NaN()
}

// crashLoop runs p with the crashing service for d from the first run on, and returns the
// runs it saw.
func (b *bench) crashLoop(p peer, svc service, d time.Duration) (crashRun, error) {
	in, err := b.launch(p, []service{svc}, launchOptions{})
	if err != nil {
		return crashRun{}, err
	}
	defer in.kill()
	if _, err := in.waitReports("run", 1, startTimeout); err != nil {
		return crashRun{}, err
	}
	select {
	case <-in.exited: // the floor ends by itself
	case <-time.After(d):
	}
	in.kill()
	return readCrashRun(in)
}
