package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// What /proc says about the processes under test. Every reader tolerates a process or thread
// that ends while it is being read: it then counts what it could read.

// children is how many children pid has, zombies included, over all its threads (a child is
// listed under the thread that forked it, or that adopted it).
func children(pid int) int {
	n := 0
	for _, task := range tasks(pid) {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task))
		n += bytes.Count(data, []byte{' '})
	}
	return n
}

func childPids(pid int) []int {
	var pids []int
	for _, task := range tasks(pid) {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, task))
		for _, f := range strings.Fields(string(data)) {
			pids = append(pids, atoi(f))
		}
	}
	return pids
}

func tasks(pid int) []string {
	entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

// ownProcesses are the init's own processes: PID 1 and, for s6 and runit, the per-service
// supervisors below it (found by name).
func (in *instance) ownProcesses() []int {
	pids := []int{in.pid1}
	if in.peer.own == "" {
		return pids
	}
	for _, child := range childPids(in.pid1) {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child))
		if strings.TrimSpace(string(comm)) == in.peer.own {
			pids = append(pids, child)
		}
	}
	return pids
}

// memory is the resident set and the private (clean + dirty) memory of some processes, summed.
type memory struct{ rss, private float64 }

func memoryOf(pids []int) memory {
	var m memory
	for _, pid := range pids {
		fields := keyedFields(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		m.rss += fields["Rss"] * 1024
		m.private += (fields["Private_Clean"] + fields["Private_Dirty"]) * 1024
	}
	return m
}

// activity is on-CPU time and context switches of some processes, every thread summed.
type activity struct {
	cpuNs    float64 // /proc/PID/task/TID/schedstat: time spent on a CPU
	switches float64 // /proc/PID/task/TID/status: voluntary + nonvoluntary context switches
	threads  int
}

func activityOf(pids []int) activity {
	var a activity
	for _, pid := range pids {
		for _, task := range tasks(pid) {
			dir := filepath.Join("/proc", strconv.Itoa(pid), "task", task)
			data, err := os.ReadFile(filepath.Join(dir, "schedstat"))
			if err != nil {
				continue
			}
			if f := strings.Fields(string(data)); len(f) > 0 {
				ns, _ := strconv.ParseFloat(f[0], 64)
				a.cpuNs += ns
			}
			status := keyedFields(filepath.Join(dir, "status"))
			a.switches += status["voluntary_ctxt_switches"] + status["nonvoluntary_ctxt_switches"]
			a.threads++
		}
	}
	return a
}

func (a activity) minus(earlier activity) activity {
	return activity{cpuNs: a.cpuNs - earlier.cpuNs, switches: a.switches - earlier.switches, threads: a.threads}
}

// keyedFields reads a "Key: number [unit]" file such as status or smaps_rollup.
func keyedFields(path string) map[string]float64 {
	data, _ := os.ReadFile(path)
	fields := make(map[string]float64)
	for line := range strings.Lines(string(data)) {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if f := strings.Fields(value); len(f) > 0 {
			if n, err := strconv.ParseFloat(f[0], 64); err == nil {
				fields[key] = n
			}
		}
	}
	return fields
}
