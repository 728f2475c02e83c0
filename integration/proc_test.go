package integration

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// proc is one process as the test's /proc shows it (pids of the test's PID namespace).
type proc struct {
	pid, ppid int
	state     byte // R, S, D, T, Z...
	cmdline   string
}

func (p proc) zombie() bool { return p.state == 'Z' }

func (p proc) String() string {
	if p.zombie() {
		return fmt.Sprintf("%d (zombie, parent %d)", p.pid, p.ppid)
	}
	return fmt.Sprintf("%d %q (state %c, parent %d)", p.pid, p.cmdline, p.state, p.ppid)
}

// readProc reads one process; an error means it is gone (or was never there).
func readProc(pid int) (proc, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{}, err
	}
	// The command name may hold spaces and parentheses: the fields after it start
	// after the last ')'.
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return proc{}, fmt.Errorf("/proc/%d/stat: no command name in %q", pid, stat)
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 2 {
		return proc{}, fmt.Errorf("/proc/%d/stat: too short: %q", pid, stat)
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return proc{}, fmt.Errorf("/proc/%d/stat: parent: %w", pid, err)
	}
	p := proc{pid: pid, ppid: ppid, state: fields[0][0]}
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		p.cmdline = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return p, nil
}

// allProcs lists every process; those that end while it reads are left out.
func allProcs() []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		panic(err) // no /proc: none of these tests can run
	}
	var procs []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, err := readProc(pid); err == nil {
			procs = append(procs, p)
		}
	}
	return procs
}

func childrenOf(procs []proc, parent int) []proc {
	var children []proc
	for _, p := range procs {
		if p.ppid == parent {
			children = append(children, p)
		}
	}
	return children
}

func descendantsOf(procs []proc, ancestor int) []proc {
	var found []proc
	for next := []int{ancestor}; len(next) > 0; {
		parent := next[0]
		next = next[1:]
		for _, child := range childrenOf(procs, parent) {
			found = append(found, child)
			next = append(next, child.pid)
		}
	}
	return found
}

// hasEnv reports whether pid's environment holds entry ("KEY=VALUE"). Zombies have none.
func hasEnv(pid int, entry string) bool {
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return false
	}
	for _, e := range bytes.Split(env, []byte{0}) {
		if string(e) == entry {
			return true
		}
	}
	return false
}
