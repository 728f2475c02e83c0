package main

import (
	"errors"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// orphanParent forks n processes that exit at once, waits without reaping until every one has
// exited, reports "orphaned TIME" and returns, so that its exit hands all the zombies to the
// init together.
func orphanParent(args []string) error {
	if len(args) != 1 {
		return errors.New("orphan-parent N")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	pids, err := vforkExits(n)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
			return os.NewSyscallError("waitid", err)
		}
	}
	report("orphaned", monotonic())
	return nil
}

// vforkExits makes n processes that exit at once. A vfork shares this process's memory and
// copies no page table, which makes it many times cheaper than a fork on a virtual machine,
// and the child never runs Go code: vforkExit's child calls exit_group in assembly. Every
// signal stays blocked in the forking thread, and so in the children, meanwhile.
func vforkExits(n int) ([]int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	all := unix.Sigset_t{Val: [len(unix.Sigset_t{}.Val)]uint64{0: ^uint64(0)}}
	var old unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &all, &old); err != nil {
		return nil, os.NewSyscallError("rt_sigprocmask", err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	pids := make([]int, 0, n)
	for range n {
		pid, errno := vforkExit()
		if errno != 0 {
			return nil, os.NewSyscallError("clone", errno)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// vforkExit is clone(CLONE_VM|CLONE_VFORK|SIGCHLD) whose child calls exit_group(0) at once; it
// returns in the parent once the child has exited (orphans_amd64.s).
func vforkExit() (pid int, errno unix.Errno)
