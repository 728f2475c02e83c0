// Package reaper is watchdog's only wait4 caller (shared/DESIGN.md, invariants 1, 2 and 7).
// It starts children, reaps every process that ends below watchdog, as PID 1 or as a child
// subreaper, and hands each exit to whoever started that process.
package reaper

import (
	"errors"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Status is how one process ended.
type Status struct {
	Pid  int
	Wait unix.WaitStatus
	At   time.Time
}

// Code is the exit code a shell would report: the process's own code, or 128+N when signal N ended it.
func (s Status) Code() int {
	if s.Wait.Signaled() {
		return 128 + int(s.Wait.Signal())
	}
	return s.Wait.ExitStatus()
}

// Reaper reaps every child of this process. Create it with New before anything forks.
type Reaper struct {
	log      *zap.Logger
	sigchld  chan os.Signal
	done     chan struct{}
	finished chan struct{}
	orphans  atomic.Uint64
	// reserve holds descriptors kept for the final sweep, which as a subreaper must read
	// /proc to find what is left even when the services used up every other descriptor.
	reserve []*os.File

	mu        sync.Mutex
	exits     map[int]chan<- Status   // guarded by mu: started pids whose exit someone waits for
	groups    map[int][]chan struct{} // guarded by mu: watchers of process groups, by pgid
	childless []chan struct{}         // guarded by mu: watchers of "no child left"
}

// New subscribes to SIGCHLD, makes this process a child subreaper unless it is PID 1 (the
// kernel already gives PID 1 every orphan) and starts the reaping loop. Call Close to stop it.
func New(log *zap.Logger) (*Reaper, error) {
	r := &Reaper{
		log:      log,
		sigchld:  make(chan os.Signal, 1), // SIGCHLDs coalesce; every wake-up drains all exits
		done:     make(chan struct{}),
		finished: make(chan struct{}),
		exits:    make(map[int]chan<- Status),
		groups:   make(map[int][]chan struct{}),
	}
	signal.Notify(r.sigchld, unix.SIGCHLD)
	for range sweepDescriptors {
		if f, err := os.Open(os.DevNull); err == nil {
			r.reserve = append(r.reserve, f)
		}
	}
	if os.Getpid() != 1 {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			signal.Stop(r.sigchld)
			return nil, os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err)
		}
		log.Info("subreaper_enabled", zap.Int("pid", os.Getpid()),
			zap.String("reason", "not PID 1: orphans below watchdog are reaped by it"))
	}
	go r.loop()
	return r, nil
}

// Close stops the reaping loop. Exits that happen afterwards stay unreaped.
func (r *Reaper) Close() {
	signal.Stop(r.sigchld)
	close(r.done)
	<-r.finished
	r.releaseReserve()
}

// sweepDescriptors is how many descriptors the sweep needs at most at once: a directory of
// /proc/PID/task and one children file.
const sweepDescriptors = 2

// releaseReserve frees the descriptors kept for the sweep.
func (r *Reaper) releaseReserve() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.reserve {
		f.Close()
	}
	r.reserve = nil
}

// Orphans is how many processes nobody had started through Start were reaped.
func (r *Reaper) Orphans() uint64 { return r.orphans.Load() }

// Start forks and execs path with argv and attr. The exit of the new process is sent on the
// returned channel (buffered: the reaper never blocks on it). The fork and the registration
// of the pid happen under the lock the reaping loop holds while it calls wait4, so an
// immediate exit is never missed.
func (r *Reaper) Start(path string, argv []string, attr *syscall.ProcAttr) (int, <-chan Status, error) {
	exit := make(chan Status, 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil {
		return 0, nil, &os.PathError{Op: "fork/exec", Path: path, Err: err}
	}
	r.exits[pid] = exit
	return pid, exit, nil
}

// GroupGone returns a channel that is closed once no process is left in process group pgid.
func (r *Reaper) GroupGone(pgid int) <-chan struct{} {
	gone := make(chan struct{})
	r.mu.Lock()
	defer r.mu.Unlock()
	if !groupAlive(pgid) {
		close(gone)
		return gone
	}
	r.groups[pgid] = append(r.groups[pgid], gone)
	return gone
}

// Childless returns a channel that is closed once this process has no child left, running or zombie.
func (r *Reaper) Childless() <-chan struct{} {
	none := make(chan struct{})
	r.mu.Lock()
	defer r.mu.Unlock()
	if !hasChildren() {
		close(none)
		return none
	}
	r.childless = append(r.childless, none)
	return none
}

func (r *Reaper) loop() {
	defer close(r.finished)
	for {
		select {
		case <-r.sigchld:
			r.reapAll()
		case <-r.done:
			return
		}
	}
}

// reapAll reaps until nothing is left to reap: one SIGCHLD may stand for many exits. It holds
// mu while it calls wait4, as Start does while it forks: a child whose exec failed is then
// reaped by syscall.ForkExec itself, never taken from it and miscounted as an orphan.
func (r *Reaper) reapAll() {
	var reaped []Status
	var waiting []chan<- Status // waiting[i] is nil for an orphan
	childless := false
	r.mu.Lock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.ECHILD) {
			childless = true
			break
		}
		if err != nil || pid <= 0 {
			break
		}
		reaped = append(reaped, Status{Pid: pid, Wait: ws, At: time.Now()})
		waiting = append(waiting, r.exits[pid])
		delete(r.exits, pid)
	}
	r.mu.Unlock()
	for i, s := range reaped {
		r.dispatch(s, waiting[i])
	}
	// After the exits are out: whoever sees a group gone or no child left finds every
	// exit delivered and every orphan counted.
	r.mu.Lock()
	r.notifyWatchersLocked(childless)
	r.mu.Unlock()
}

// dispatch hands s to whoever started the process; its channel has room, so this never blocks.
func (r *Reaper) dispatch(s Status, exit chan<- Status) {
	if exit != nil {
		exit <- s
		return
	}
	r.orphans.Add(1)
	if ce := r.log.Check(zap.DebugLevel, "orphan_reaped"); ce != nil {
		ce.Write(zap.Int("pid", s.Pid), zap.Int("exit_code", s.Code()))
	}
}

// notifyWatchersLocked closes the channels of emptied process groups, and of "no child left"
// when the last wait4 said so. Called with mu held.
func (r *Reaper) notifyWatchersLocked(childless bool) {
	for pgid, watchers := range r.groups {
		if groupAlive(pgid) {
			continue
		}
		for _, gone := range watchers {
			close(gone)
		}
		delete(r.groups, pgid)
	}
	if childless {
		for _, none := range r.childless {
			close(none)
		}
		r.childless = nil
	}
}

// groupAlive reports whether any process, zombies included, is still in process group pgid.
func groupAlive(pgid int) bool {
	return unix.Kill(-pgid, 0) != unix.ESRCH
}

// hasChildren peeks (WNOWAIT) without reaping, so it never takes an exit from the dispatcher.
func hasChildren() bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return !errors.Is(err, unix.ECHILD)
	}
}
