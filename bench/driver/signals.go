package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

const (
	signalRounds   = 5                    // rounds over all inits
	signalPerRound = 100                  // samples per init and round
	signalGap      = 2 * time.Millisecond // quiet time before each signal, so every init is idle again
)

// signalSubject is one init running the helper in signals mode.
type signalSubject struct {
	in      *instance
	fifo    *os.File // the helper writes each receipt time here
	latency sample   // ns from before kill(2) to the helper's handler
}

func measureSignals(b *bench) *section {
	s := &section{title: "signal forwarding latency",
		method: fmt.Sprintf("SIGUSR1 sent to PID 1 until the helper's handler runs: the driver reads "+
			"CLOCK_MONOTONIC before kill(2), the helper when its signal.Notify channel delivers, and writes "+
			"it back through a FIFO. %d rounds over all inits, %d signals per init and round, %s apart. "+
			"\"Added\" is the median minus the no-init baseline's median (the helper as PID 1 itself).",
			signalRounds, signalPerRound, signalGap)}
	peers := []peer{baseline, tini, dumbInit, catatonit, watchdogDash, watchdogConfig}
	var subjects []*signalSubject
	defer func() {
		for _, sub := range subjects {
			sub.in.kill()
			sub.fifo.Close()
		}
	}()
	for _, p := range peers {
		sub, err := b.startSignalSubject(p)
		if err != nil {
			s.fail("%s: %v", p.name, err)
			continue
		}
		subjects = append(subjects, sub)
	}
	for range signalRounds {
		for _, sub := range subjects {
			if err := sub.sample(signalPerRound); err != nil {
				s.fail("%s: %v", sub.in.peer.name, err)
			}
		}
	}

	var base, tiniS, wd *signalSubject
	for _, sub := range subjects {
		switch sub.in.peer.name {
		case baseline.name:
			base = sub
		case tini.name:
			tiniS = sub
		case watchdogDash.name:
			wd = sub
		}
	}
	t := table{header: []string{"init", "median", "min – max", "p99", "n", "added over baseline", "median × tini", "p99 × tini"}}
	for _, sub := range subjects {
		l := sub.latency
		added := "–"
		if base != nil && sub != base {
			added = dur(l.median() - base.latency.median())
		}
		vsMedian, vsP99 := "–", "–"
		if tiniS != nil {
			vsMedian, vsP99 = ratio(l.median(), tiniS.latency.median()), ratio(l.quantile(0.99), tiniS.latency.quantile(0.99))
		}
		t.add(sub.in.peer.name, dur(l.median()), durRange(l), dur(l.quantile(0.99)), fmt.Sprint(len(l)), added, vsMedian, vsP99)
	}
	s.tables = append(s.tables, t)
	s.note("`watchdog --` is the tini-style mode; `watchdog` runs the helper as the one service of a config and forwards SIGUSR1 to every service's process group.")
	if base == nil || tiniS == nil || wd == nil || len(wd.latency) == 0 || len(tiniS.latency) == 0 {
		s.unjudged("added latency <= tini's; p99 <= 1.2x tini's", "baseline, tini or watchdog did not run")
		return s
	}
	wdAdded := wd.latency.median() - base.latency.median()
	tiniAdded := tiniS.latency.median() - base.latency.median()
	s.judge("added latency over baseline <= tini's",
		fmt.Sprintf("watchdog -- %s, tini %s", dur(wdAdded), dur(tiniAdded)), wdAdded <= tiniAdded)
	s.judge("p99 <= 1.2x tini's",
		fmt.Sprintf("%s vs %s (%s)", dur(wd.latency.quantile(0.99)), dur(tiniS.latency.quantile(0.99)),
			ratio(wd.latency.quantile(0.99), tiniS.latency.quantile(0.99))),
		wd.latency.quantile(0.99) <= 1.2*tiniS.latency.quantile(0.99))
	return s
}

func (b *bench) startSignalSubject(p peer) (*signalSubject, error) {
	fifoPath := filepath.Join(b.tmp, fmt.Sprintf("signals-%s.fifo", slug(p.name)))
	if err := mkfifo(fifoPath); err != nil {
		return nil, err
	}
	// Read-write: the open does not wait for the helper, and the FIFO never reads EOF.
	fifo, err := os.OpenFile(fifoPath, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	in, err := b.launch(p, []service{{args: []string{"signals", fifoPath}}}, launchOptions{})
	if err != nil {
		fifo.Close()
		return nil, err
	}
	sub := &signalSubject{in: in, fifo: fifo}
	if _, err := sub.read(startTimeout); err != nil { // the zero record: the handler is installed
		in.kill()
		fifo.Close()
		return nil, fmt.Errorf("helper not ready: %w (output: %s)", err, in.output())
	}
	return sub, nil
}

func (sub *signalSubject) sample(n int) error {
	for range n {
		time.Sleep(signalGap)
		sent := monotonic()
		if err := unix.Kill(sub.in.pid1, unix.SIGUSR1); err != nil {
			return os.NewSyscallError("kill", err)
		}
		received, err := sub.read(time.Second)
		if err != nil {
			return fmt.Errorf("no receipt of SIGUSR1: %w", err)
		}
		sub.latency = append(sub.latency, float64(received-sent))
	}
	return nil
}

func (sub *signalSubject) read(timeout time.Duration) (int64, error) {
	var record [8]byte
	if err := sub.fifo.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return 0, err
	}
	for got := 0; got < len(record); {
		n, err := sub.fifo.Read(record[got:])
		if err != nil {
			return 0, err
		}
		got += n
	}
	return int64(binary.LittleEndian.Uint64(record[:])), nil
}
