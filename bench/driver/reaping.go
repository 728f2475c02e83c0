package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	orphanCount = 10000
	reapRuns    = 3 // per init, round-robin over the inits
	// reapPoll is the pause between two counts of PID 1's children.
	reapPoll = 200 * time.Microsecond
	// reapCap is how long an init gets to reap the orphans.
	reapCap = 10 * time.Second
)

// childCount is one look at how many children PID 1 had.
type childCount struct {
	at int64 // CLOCK_MONOTONIC before the look
	n  int
}

func measureReaping(b *bench) *section {
	s := &section{title: fmt.Sprintf("reaping %d orphans", orphanCount),
		method: fmt.Sprintf("A helper service forks a child that forks %d processes which exit at once; that child "+
			"waits (without reaping) until all have exited, reads CLOCK_MONOTONIC and exits, so the %d zombies pass to "+
			"PID 1 together. Measured: from that moment until PID 1 has no more children than before, counting "+
			"/proc/PID/task/*/children from outside every %s. %d runs per init, round-robin, each in a fresh namespace.",
			orphanCount, orphanCount, reapPoll, reapRuns)}
	peers := []peer{tini, dumbInit, catatonit, watchdogDash, s6, runit, supervisord}
	times := make(map[string]sample)
	unfinished := make(map[string][]string)
	for run := range reapRuns {
		for _, p := range peers {
			d, left, err := b.reapOnce(p)
			switch {
			case err != nil:
				s.fail("%s, run %d: %v", p.name, run+1, err)
			case left > 0:
				unfinished[p.name] = append(unfinished[p.name], strconv.Itoa(left))
			default:
				times[p.name] = append(times[p.name], d)
			}
		}
	}
	fastestPeer, fastest := "", math.Inf(1)
	for _, p := range peers {
		if m := times[p.name].median(); p.name != watchdogDash.name && m < fastest {
			fastestPeer, fastest = p.name, m
		}
	}
	t := table{header: []string{"init", "median", "min – max", "n", "× fastest peer (" + fastestPeer + ")", "× tini",
		fmt.Sprintf("runs not done in %s (orphans left)", reapCap)}}
	for _, p := range peers {
		ts := times[p.name]
		t.add(p.name, dur(ts.median()), durRange(ts), fmt.Sprint(len(ts)), ratio(ts.median(), fastest),
			ratio(ts.median(), times[tini.name].median()), strings.Join(unfinished[p.name], ", "))
	}
	s.tables = append(s.tables, t)
	wd := times[watchdogDash.name]
	if len(wd) == 0 || math.IsInf(fastest, 1) {
		s.unjudged("reaping no later than the fastest peer", "watchdog or every peer failed")
		return s
	}
	s.judge("10,000 orphans reaped no later than the fastest peer",
		fmt.Sprintf("%s vs %s %s (%s)", dur(wd.median()), fastestPeer, dur(fastest), ratio(wd.median(), fastest)),
		wd.median() <= fastest)
	return s
}

// reapOnce runs p with one orphan-making service and returns the time to reap the orphans, or
// how many were left unreaped reapCap after the handover.
func (b *bench) reapOnce(p peer) (took float64, left int, err error) {
	goFIFO := filepath.Join(b.tmp, fmt.Sprintf("reap-%d.fifo", b.runs))
	if err := mkfifo(goFIFO); err != nil {
		return 0, 0, err
	}
	in, err := b.launch(p, []service{{args: []string{"orphans", strconv.Itoa(orphanCount), goFIFO}}}, launchOptions{})
	if err != nil {
		return 0, 0, err
	}
	defer in.kill()
	if _, err := in.waitReports("up", 1, startTimeout); err != nil {
		return 0, 0, err
	}
	time.Sleep(100 * time.Millisecond) // let the init settle after the start
	base := children(in.pid1)

	counts := make(chan []childCount, 1)
	go func() { counts <- watchChildren(in, base) }()
	fifo, err := os.OpenFile(goFIFO, os.O_WRONLY, 0)
	if err != nil {
		return 0, 0, err
	}
	_, err = fifo.Write([]byte{1})
	fifo.Close()
	if err != nil {
		return 0, 0, err
	}
	seen := <-counts
	handedOver := in.handover()
	if handedOver == 0 {
		return 0, 0, fmt.Errorf("the orphans were never handed over (output: %s)", in.output())
	}
	// The end is the first look after the last look that still saw orphans; that look must
	// have come after the handover, or the reaping was too quick to be seen.
	last := -1
	for i, c := range seen {
		if c.n > base {
			last = i
		}
	}
	switch {
	case last < 0 || seen[last].at < handedOver:
		return 0, 0, fmt.Errorf("no orphan seen after the handover (%d looks)", len(seen))
	case last == len(seen)-1:
		return 0, seen[last].n - base, nil
	}
	return float64(seen[last+1].at - handedOver), 0, nil
}

// handover is when the orphans passed to PID 1 (CLOCK_MONOTONIC), or 0 before that.
func (in *instance) handover() int64 {
	reported := in.reports("orphaned")
	if len(reported) != 1 {
		return 0
	}
	at, _ := strconv.ParseInt(reported[0], 10, 64)
	return at
}

// watchChildren counts PID 1's children until the orphans appeared and were all reaped, or
// reapCap after the handover (or a minute, if the orphans never come).
func watchChildren(in *instance, base int) []childCount {
	var seen []childCount
	high := false
	deadline := time.Now().Add(time.Minute)
	var handedOver int64
	for looks := 0; time.Now().Before(deadline); looks++ {
		c := childCount{at: monotonic()}
		c.n = children(in.pid1)
		seen = append(seen, c)
		if c.n > base+orphanCount/2 {
			high = true
		}
		if high && c.n <= base {
			break
		}
		if handedOver == 0 && looks%100 == 0 {
			if handedOver = in.handover(); handedOver != 0 {
				deadline = time.Now().Add(reapCap - time.Duration(monotonic()-handedOver))
			}
		}
		time.Sleep(reapPoll)
	}
	return seen
}

func mkfifo(path string) error {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return &os.PathError{Op: "mkfifo", Path: path, Err: err}
	}
	return nil
}
