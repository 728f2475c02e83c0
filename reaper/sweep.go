package reaper

import (
	"os"
	"path/filepath"
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
	r.releaseReserve()
	var res SweepResult
	res.Terminated = signalBelow(unix.SIGTERM)
	if waitUntil(r.Childless(), killAt) {
		res.Complete = true
	} else {
		res.Killed = signalBelow(unix.SIGKILL)
		res.Complete = waitUntil(r.Childless(), deadline)
	}
	if !res.Complete {
		r.log.Error("sweep_incomplete", zap.Int("terminated", res.Terminated), zap.Int("killed", res.Killed),
			zap.String("reason", "processes below watchdog were still alive at the end of the shutdown budget"))
		return res
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

// descendants lists the processes below root, walking /proc/PID/task/TID/children (a child
// is listed under the thread that forked it, so every thread is read).
func descendants(root int) []int {
	var found []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
		for _, task := range tasks {
			data, err := os.ReadFile(task)
			if err != nil {
				continue // the process ended meanwhile
			}
			for _, field := range strings.Fields(string(data)) {
				if child, err := strconv.Atoi(field); err == nil {
					found = append(found, child)
					queue = append(queue, child)
				}
			}
		}
	}
	return found
}
