package integration

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A service that leaves thousands of processes in its group, and escapers of every kind: daemons
// (setsid after a fork, then a fork again), processes with a group of their own, orphans of a
// double fork. Every one of them blocks all signals, so only SIGKILL ends it. The operator's
// stop ends the whole group, escalating to SIGKILL; what left the group outlives the stop, as
// it should, and the final sweep ends it: nothing is left running, as PID 1 and as a subreaper.
// WATCHDOG_FAULTS_SWARM sets how many stay in the group (default 1000 in each mode), and
// WATCHDOG_FAULTS_ESCAPERS how many of each kind escape (default 20).
func TestFaultThousandsOfProcessesAndEscapers(t *testing.T) {
	sleepers := envIntOr(t, "WATCHDOG_FAULTS_SWARM", 1000)
	escapers := envIntOr(t, "WATCHDOG_FAULTS_ESCAPERS", 20)
	inEachMode(t, func(t *testing.T, mode runMode) {
		w := startWatchdog(t, mode, "--config", writeConfig(t, fmt.Sprintf(`
[watchdog]
shutdown_timeout = "4s"

[services.swarm]
command = %s
restart = "no"
stop_grace_period = "500ms"

[services.steady]
command = %s
environment = { FIXTURE_ROLE = "steady" }
`, fixtureCmd("swarm", strconv.Itoa(sleepers), strconv.Itoa(escapers)), fixtureCmd("sleep"))))
		socket := controlSocket(w)
		w.waitReport("steady ready", 1)
		created := time.Now()
		swarm := hostPID(w, reportPID(t, w.waitReportWithin(createTimeout, "main swarmed", 1)[0]))
		t.Logf("%d processes and %d escapers made in %v", sleepers, 3*escapers, time.Since(created).Round(time.Millisecond))
		// The main process, the sleepers and the orphans that stayed in the group.
		if n := len(groupMembers(swarm)); n != 1+sleepers+escapers {
			t.Fatalf("%d processes in swarm's group, want %d", n, 1+sleepers+escapers)
		}
		escaped := escapedFrom(w, swarm)
		if len(escaped) != 2*escapers {
			t.Fatalf("%d processes below watchdog left swarm's group, want %d: %v", len(escaped), 2*escapers, escaped)
		}

		stop := time.Now()
		if res := runClient(t, watchdogBin, nil, "stop", "--socket", socket, "swarm"); res.code != 0 {
			t.Fatalf("`watchdog stop swarm`: %v", res)
		}
		waitStatus(t, socket, "swarm", "stopped")
		t.Logf("swarm's group stopped in %v", time.Since(stop).Round(time.Millisecond))
		w.waitEvent("killed", "service", "swarm")
		if left := groupMembers(swarm); len(left) > 0 {
			t.Errorf("%d processes still in swarm's group after it is stopped; first: %d", len(left), left[0])
		}
		// What left the group is not the service's any more: the stop leaves it.
		for _, pid := range escaped {
			if p, err := readProc(pid); err != nil || p.zombie() {
				t.Errorf("escaper %d ended with the stop of swarm's group", pid)
			}
		}

		w.signal(unix.SIGTERM)
		if code := w.waitExit(eventTimeout); code != 0 {
			t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
		}
		for _, pid := range escaped {
			if p, err := readProc(pid); err == nil && !p.zombie() {
				t.Errorf("escaper still running after watchdog exited: %v", p)
			}
		}
		sweep := w.waitEvent("sweep")
		if n, _ := strconv.Atoi(sweep.get("killed")); n < len(escaped) || sweep.get("complete") != "true" {
			t.Errorf("sweep %v: want a complete sweep that SIGKILLed the %d escapers", sweep.fields, len(escaped))
		}
	})
}

// groupMembers lists the processes, zombies included, in process group pgid.
func groupMembers(pgid int) []int {
	var found []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if group, _ := processGroup(pid); group == pgid {
			found = append(found, pid)
		}
	}
	return found
}

// processGroup is pid's process group, from /proc/PID/stat.
func processGroup(pid int) (int, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// After the command name: state, ppid, pgrp.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 3 {
		return 0, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	return strconv.Atoi(fields[2])
}

// escapedFrom lists the live processes this run started that are below watchdog but not in
// process group pgid, other services' aside (their FIXTURE_ROLE is set).
func escapedFrom(w *watchdogRun, pgid int) []int {
	var found []int
	for _, p := range descendantsOf(allProcs(), w.pid) {
		if p.zombie() || !hasEnv(p.pid, w.marker) || hasEnv(p.pid, "FIXTURE_ROLE=steady") {
			continue
		}
		if group, err := processGroup(p.pid); err == nil && group != pgid {
			found = append(found, p.pid)
		}
	}
	return found
}
