package reaper

import (
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// SweepResult says what the final sweep found.
type SweepResult struct {
	Terminated int  // processes sent SIGTERM
	Killed     int  // of those, processes still alive at the kill time and sent SIGKILL
	Complete   bool // every process was reaped before the deadline
}

// Sweep ends every process left below watchdog (DESIGN.md invariant 7): SIGTERM now, SIGKILL at
// killAt to whatever remains, and it returns once all are reaped or at deadline. As PID 1 it
// signals every process of the PID namespace; as a subreaper, every descendant.
func (r *Reaper) Sweep(killAt, deadline time.Time) SweepResult {
	var res SweepResult
	res.Terminated = signalBelow(unix.SIGTERM)
	if waitUntil(r.Childless(), killAt) {
		res.Complete = true
	} else {
		res.Killed = signalBelow(unix.SIGKILL)
		res.Complete = waitUntil(r.Childless(), deadline)
	}
	if res.Terminated == 0 {
		return res
	}
	r.log.Info("sweep", zap.Int("terminated", res.Terminated), zap.Int("killed", res.Killed),
		zap.Bool("complete", res.Complete))
	return res
}

func waitUntil(done <-chan struct{}, deadline time.Time) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// signalBelow sends sig to every process below this one and returns how many /proc showed.
func signalBelow(sig unix.Signal) int {
	pids := descendants(os.Getpid())
	if os.Getpid() == 1 {
		// kill(-1) also reaches what /proc may not show (a foreign /proc, a docker exec process).
		_ = unix.Kill(-1, sig)
		return len(pids)
	}
	for _, pid := range pids {
		_ = unix.Kill(pid, sig) // ESRCH: it ended meanwhile
	}
	return len(pids)
}

// descendants lists the processes below root, read from /proc.
func descendants(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := make(map[int][]int)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(pid); ok {
			children[ppid] = append(children[ppid], pid)
		}
	}
	var found []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			found = append(found, c)
			queue = append(queue, c)
		}
	}
	return found
}

// parentOf reads the ppid field of /proc/PID/stat; the command name before it may hold spaces
// and parentheses, so the fields are counted from the last ')'.
func parentOf(pid int) (int, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(stat)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0, false
	}
	fields := strings.Fields(s[end+1:])
	if len(fields) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, err == nil
}
