package main

import (
	"fmt"
	"time"
)

// shutdownGroup is one shutdown scenario run against several peers.
type shutdownGroup struct {
	title  string
	peers  []peer
	n      int
	svc    service
	rounds int
	cutoff time.Duration // then the namespace is killed: the peer would have waited forever
	ref    peer          // the ratio column's reference
}

// shutdownResult is one peer's runs in one group.
type shutdownResult struct {
	took   sample // runs that ended by themselves
	killed int    // runs killed at the cutoff
	termed sample // services that reported SIGTERM, per run
}

const stopGrace = time.Second // the TERM-ignoring service's grace, where a peer has the setting

func measureShutdown(b *bench) *section {
	all := []peer{tini, dumbInit, catatonit, watchdogDash, watchdogConfig, s6, runit, supervisord}
	groups := []shutdownGroup{
		{title: "1 service", peers: all, n: 1, svc: service{args: []string{"sleep"}}, rounds: 3, cutoff: 10 * time.Second, ref: tini},
		{title: "100 services", peers: []peer{watchdogConfig, s6, runit, supervisord}, n: 100,
			svc: service{args: []string{"sleep"}}, rounds: 2, cutoff: 5 * time.Second, ref: s6},
		{title: "1 service ignoring SIGTERM, grace 1 s", peers: all, n: 1,
			svc: service{args: []string{"ignore-term"}, grace: stopGrace}, rounds: 2, cutoff: 2 * time.Second, ref: tini},
	}
	s := &section{title: "shutdown",
		method: "SIGTERM to PID 1 (pidfd_send_signal) until PID 1 has exited, which the kernel makes wait until " +
			"every other process of the namespace is gone (poll on its pidfd). The services are the helper: " +
			"`sleep` reports SIGTERM and exits 0; `ignore-term` ignores it. Each round starts every peer of every " +
			"scenario at once, waits until all services are up, then stops them one after another."}
	results := make([][]shutdownResult, len(groups))
	rounds := 0
	for g, group := range groups {
		results[g] = make([]shutdownResult, len(group.peers))
		rounds = max(rounds, group.rounds)
	}
	for round := range rounds {
		b.shutdownRound(s, groups, results, round)
	}
	for g, group := range groups {
		t := table{header: []string{group.title, "median", "min – max", "n", "services that got SIGTERM", "× " + group.ref.name}}
		refMedian := results[g][peerIndex(group.peers, group.ref)].took.median()
		for i, p := range group.peers {
			r := results[g][i]
			median := dur(r.took.median())
			if r.killed > 0 {
				median = fmt.Sprintf("never (killed at %s)", group.cutoff)
				if len(r.took) > 0 {
					median += fmt.Sprintf(" in %d runs; %s", r.killed, dur(r.took.median()))
				}
			}
			termed := "–"
			if group.svc.args[0] == "sleep" && len(r.termed) > 0 {
				termed = fmt.Sprintf("%s of %d", count(r.termed.median()), group.n)
			}
			t.add(p.name, median, durRange(r.took), fmt.Sprint(len(r.took)+r.killed), termed, ratio(r.took.median(), refMedian))
		}
		s.tables = append(s.tables, t)
	}
	s.note("Grace 1 s: watchdog `stop_grace_period = \"1s\"`; `watchdog --` gets `--shutdown-timeout 1s`, which " +
		"SIGKILLs at 0.9 s (a tenth of the budget is kept for the final sweep); s6 `timeout-kill` 1000; supervisord " +
		"`stopwaitsecs=1`. tini, dumb-init and catatonit forward SIGTERM and wait for the child as long as it takes. " +
		"runsvdir exits at once on SIGTERM without stopping its services: the kernel SIGKILLs them when PID 1 exits.")

	judge := func(group int, p peer, target string, limit time.Duration) {
		r := results[group][peerIndex(groups[group].peers, p)]
		name := fmt.Sprintf("%s (%s)", target, p.name)
		if len(r.took) == 0 || r.killed > 0 {
			s.judge(name, fmt.Sprintf("%d of %d runs killed at the cutoff", r.killed, len(r.took)+r.killed), false)
			return
		}
		s.judge(name, dur(r.took.median()), r.took.median() <= float64(limit))
	}
	judge(0, watchdogConfig, "1 service: <= 2 ms", 2*time.Millisecond)
	judge(0, watchdogDash, "1 service: <= 2 ms", 2*time.Millisecond)
	judge(1, watchdogConfig, "100 services: <= 100 ms", 100*time.Millisecond)
	judge(2, watchdogConfig, "TERM-ignoring service: grace + <= 20 ms", stopGrace+20*time.Millisecond)
	judge(2, watchdogDash, "TERM-ignoring service: grace + <= 20 ms", stopGrace+20*time.Millisecond)
	return s
}

// shutdownRound starts every peer of every group that has this round, all at once, then stops
// them one after another.
func (b *bench) shutdownRound(s *section, groups []shutdownGroup, results [][]shutdownResult, round int) {
	type subject struct {
		group, peer int
		in          *instance
	}
	var subjects []subject
	defer func() {
		for _, sub := range subjects {
			sub.in.kill()
		}
	}()
	for g, group := range groups {
		if round >= group.rounds {
			continue
		}
		for i, p := range group.peers {
			in, err := b.launch(p, services(group.n, group.svc), launchOptions{})
			if err != nil {
				s.fail("%s, %s: %v", group.title, p.name, err)
				continue
			}
			subjects = append(subjects, subject{g, i, in})
		}
	}
	ready := subjects[:0:0]
	for _, sub := range subjects {
		if _, err := sub.in.waitReports("up", groups[sub.group].n, startTimeout); err != nil {
			s.fail("%s: %v", groups[sub.group].title, err)
			sub.in.kill()
			continue
		}
		ready = append(ready, sub)
	}
	time.Sleep(500 * time.Millisecond) // let the inits go idle after the start
	for _, sub := range ready {
		took, ok := sub.in.stop(groups[sub.group].cutoff)
		r := &results[sub.group][sub.peer]
		if ok {
			r.took = append(r.took, float64(took))
		} else {
			r.killed++
		}
		r.termed = append(r.termed, float64(len(sub.in.reports("term"))))
	}
}
