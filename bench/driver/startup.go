package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	startupRounds = 3  // hyperfine runs, each timing every command in turn
	startupRuns   = 15 // runs per command and round, after 3 warm-up runs
)

func measureStartup(b *bench) *section {
	s := &section{title: "start-up",
		method: fmt.Sprintf("hyperfine (no shell) times `unshare --pid --fork --mount-proc INIT -- /bin/true` "+
			"until it exits: the init starts as PID 1, runs the command, reaps it and exits with its code. "+
			"%d hyperfine runs × %d runs per command (after 3 warm-ups), the commands in turn within each. "+
			"The no-init row is `unshare ... /bin/true` alone; \"added\" subtracts it.", startupRounds, startupRuns)}
	peers := []peer{baseline, tini, tiniDynamic, dumbInit, catatonit, watchdogDash}
	commands := make([]string, len(peers))
	for i, p := range peers {
		argv, err := p.command(b, b.tmp, []service{{}})
		if err != nil {
			s.fail("%s: %v", p.name, err)
			return s
		}
		// With no arguments the helper comes last: here the command is /bin/true instead.
		argv[len(argv)-1] = "/bin/true"
		commands[i] = "unshare --pid --fork --mount-proc " + strings.Join(argv, " ")
	}
	times := make([]sample, len(peers))
	for round := range startupRounds {
		export := filepath.Join(b.tmp, fmt.Sprintf("hyperfine-%d.json", round))
		args := append([]string{"-N", "--warmup", "3", "--runs", fmt.Sprint(startupRuns), "--style", "none",
			"--export-json", export}, commands...)
		if out, err := exec.Command("hyperfine", args...).CombinedOutput(); err != nil {
			s.fail("hyperfine: %v: %s", err, out)
			return s
		}
		var result struct {
			Results []struct {
				Times []float64 `json:"times"` // seconds
			} `json:"results"`
		}
		data, err := os.ReadFile(export)
		if err == nil {
			err = json.Unmarshal(data, &result)
		}
		if err != nil || len(result.Results) != len(peers) {
			s.fail("hyperfine's results: %v", err)
			return s
		}
		for i, r := range result.Results {
			for _, t := range r.Times {
				times[i] = append(times[i], t*1e9)
			}
		}
	}
	base, tiniTimes := times[0].median(), times[1].median()
	t := table{header: []string{"init", "median", "min – max", "n", "added over no init", "× tini", "added × tini's added"}}
	for i, p := range peers {
		added := times[i].median() - base
		name := p.name
		if p.name == baseline.name {
			name = "no init (/bin/true as PID 1)"
		}
		t.add(name, dur(times[i].median()), durRange(times[i]), fmt.Sprint(len(times[i])), dur(added),
			ratio(times[i].median(), tiniTimes), ratio(added, tiniTimes-base))
	}
	s.tables = append(s.tables, t)
	s.note("tini is tini-static (what Docker ships as docker-init); Debian's dynamically linked tini is shown too.")
	wd := times[len(peers)-1].median()
	s.judge("start-up <= 1.25x tini (whole run, unshare included)",
		fmt.Sprintf("%s vs %s (%s)", dur(wd), dur(tiniTimes), ratio(wd, tiniTimes)), wd <= 1.25*tiniTimes)
	return s
}
