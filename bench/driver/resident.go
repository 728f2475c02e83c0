package main

import (
	"fmt"
	"math"
	"time"
)

// A setup is a peer with n sleeping services, for the measures that watch idle inits.
type setup struct {
	p peer
	n int
}

func (s setup) label() string { return fmt.Sprintf("%s, %d", s.p.name, s.n) }

// residentSetups are what the memory and idle measures watch: every init with one service,
// and the supervisors with 100.
var residentSetups = []setup{
	{tini, 1}, {dumbInit, 1}, {catatonit, 1}, {watchdogDash, 1}, {watchdogConfig, 1}, {s6, 1}, {runit, 1}, {supervisord, 1},
	{watchdogConfig, 100}, {s6, 100}, {runit, 100}, {supervisord, 100},
}

const (
	memoryLooks = 3
	settle      = 3 * time.Second // after every service is up, before the first look
)

// residents launches every resident setup at once, the first time a measure asks, and waits
// until all their services are up; the memory and idle measures watch the same instances, and
// bench.close ends them. An instance that could not start is nil, and why is in s.
func (b *bench) residents(s *section) []*instance {
	if b.resident != nil {
		return b.resident
	}
	ins := make([]*instance, len(residentSetups))
	for i, st := range residentSetups {
		in, err := b.launch(st.p, services(st.n, service{args: []string{"sleep"}}), launchOptions{})
		if err != nil {
			s.fail("%s: %v", st.label(), err)
			continue
		}
		ins[i] = in
	}
	for i, in := range ins {
		if in == nil {
			continue
		}
		if _, err := in.waitReports("up", residentSetups[i].n, startTimeout); err != nil {
			s.fail("%v", err)
			in.kill()
			ins[i] = nil
		}
	}
	time.Sleep(settle)
	b.resident = ins
	return ins
}

func measureMemory(b *bench) *section {
	s := &section{title: "memory of the init's own processes",
		method: fmt.Sprintf("VmRSS (Rss) and Private (Private_Clean + Private_Dirty) from /proc/PID/smaps_rollup, summed over "+
			"the init's own processes: PID 1, plus every s6-supervise or runsv below it; the services (the helper, "+
			"sleeping) are not counted. All setups run at once; %d looks a second apart, from %s after every "+
			"service is up.", memoryLooks, settle)}
	rss := make([]sample, len(residentSetups))
	private := make([]sample, len(residentSetups))
	procs := make([]int, len(residentSetups))
	ins := b.residents(s)
	for look := range memoryLooks {
		if look > 0 {
			time.Sleep(time.Second)
		}
		for i, in := range ins {
			if in == nil {
				continue
			}
			own := in.ownProcesses()
			m := memoryOf(own)
			rss[i], private[i], procs[i] = append(rss[i], m.rss), append(private[i], m.private), len(own)
		}
	}
	ref := func(n int) int {
		if n == 1 {
			return 0 // tini
		}
		return indexOfSetup(setup{s6, 100})
	}
	t := table{header: []string{"init, services", "processes", "RSS", "min – max", "Private", "min – max", "n",
		"RSS × tini (1) or s6 (100)"}}
	for i, st := range residentSetups {
		t.add(st.label(), fmt.Sprint(procs[i]), mib(rss[i].median()), mib(rss[i].min())+" – "+mib(rss[i].max()),
			mib(private[i].median()), mib(private[i].min())+" – "+mib(private[i].max()), fmt.Sprint(len(rss[i])),
			ratio(rss[i].median(), rss[ref(st.n)].median()))
	}
	s.tables = append(s.tables, t)
	s.note("tini is tini-static, catatonit is static; dumb-init, s6 and runit are dynamically linked (their " +
		"shared libc pages count in RSS, not in Private). supervisord is one Python process.")
	for _, target := range []struct {
		st    setup
		limit float64
	}{{setup{watchdogConfig, 1}, 8}, {setup{watchdogDash, 1}, 8}, {setup{watchdogConfig, 100}, 12}} {
		m := rss[indexOfSetup(target.st)].median()
		name := fmt.Sprintf("RSS <= %.0f MiB with %d service(s) (%s)", target.limit, target.st.n, target.st.p.name)
		if math.IsNaN(m) {
			s.unjudged(name, "did not run")
			continue
		}
		s.judge(name, mib(m), m <= target.limit*(1<<20))
	}
	return s
}

func indexOfSetup(st setup) int {
	for i, r := range residentSetups {
		if r.p.name == st.p.name && r.n == st.n {
			return i
		}
	}
	panic("no setup " + st.label())
}

func measureIdle(b *bench) *section {
	const windows = 3
	s := &section{title: "idle cost",
		method: fmt.Sprintf("On-CPU time (/proc/PID/task/*/schedstat) and context switches (voluntary + nonvoluntary "+
			"from /proc/PID/task/*/status), summed over the init's own processes and threads, while every service "+
			"sleeps, over %s (flag -idle), from at least %s after every service is up. All setups run at once. "+
			"Min – max are the %d thirds of the time, each scaled to the whole.", b.idleFor, settle, windows)}
	ins := b.residents(s)
	type watch struct {
		total   activity
		windows [windows]activity
	}
	watches := make([]watch, len(ins))
	snapshot := func() []activity {
		a := make([]activity, len(ins))
		for i, in := range ins {
			if in != nil {
				a[i] = activityOf(in.ownProcesses())
			}
		}
		return a
	}
	first := snapshot()
	prev := first
	for w := range windows {
		time.Sleep(b.idleFor / windows)
		now := snapshot()
		for i := range ins {
			watches[i].windows[w] = now[i].minus(prev[i])
			watches[i].total = now[i].minus(first[i])
		}
		prev = now
	}
	per := b.idleFor.String()
	t := table{header: []string{"init, services", "threads", "CPU per " + per, "min – max", "switches per " + per, "min – max",
		"CPU × tini", "switches × tini"}}
	tiniTotal := watches[0].total
	for i, st := range residentSetups {
		if ins[i] == nil {
			t.add(st.label(), "–", "–", "–", "–", "–", "–", "–")
			continue
		}
		var cpu, sw sample
		for _, a := range watches[i].windows {
			cpu, sw = append(cpu, a.cpuNs*windows), append(sw, a.switches*windows)
		}
		total := watches[i].total
		t.add(st.label(), fmt.Sprint(total.threads), dur(total.cpuNs), durRange(cpu), count(total.switches),
			count(sw.min())+" – "+count(sw.max()), ratio(total.cpuNs, tiniTotal.cpuNs), ratio(total.switches, tiniTotal.switches))
	}
	s.tables = append(s.tables, t)
	wdIndex := indexOfSetup(setup{watchdogConfig, 100})
	if ins[0] == nil || ins[wdIndex] == nil {
		s.unjudged("idle with 100 services <= tini with one child", "tini or watchdog did not run")
		return s
	}
	wd := watches[wdIndex].total
	s.judge(fmt.Sprintf("idle with 100 services: CPU per %s <= tini's with one child", per),
		fmt.Sprintf("%s vs %s", dur(wd.cpuNs), dur(tiniTotal.cpuNs)), wd.cpuNs <= tiniTotal.cpuNs)
	s.judge(fmt.Sprintf("idle with 100 services: context switches per %s <= tini's with one child", per),
		fmt.Sprintf("%s vs %s", count(wd.switches), count(tiniTotal.switches)), wd.switches <= tiniTotal.switches)
	return s
}
