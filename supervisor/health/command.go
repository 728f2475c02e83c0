package health

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"watchdog/reaper"
)

// drainGrace bounds the wait for the output pipe's end once the probe's process group is
// gone: the group's output is in the pipe by then, and only a process that left the group
// can still hold the pipe open.
const drainGrace = 100 * time.Millisecond

// commandProbe runs argv in a process group of its own; exit code 0 is healthy.
type commandProbe struct {
	argv   []string
	spec   Spec
	reaper *reaper.Reaper
}

// check runs the command once. When ctx ends first the whole group is SIGKILLed; a group
// member left behind by a command that exited is killed too. check returns only once
// nothing of the group is left, running or zombie.
func (p commandProbe) check(ctx context.Context) (string, error) {
	path, err := reaper.LookPath(p.argv[0], p.spec.Env, p.spec.Dir)
	if err != nil {
		return "", err
	}
	stdin, err := os.Open(os.DevNull)
	if err != nil {
		return "", err
	}
	defer stdin.Close()
	out, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer out.Close()
	attr := &syscall.ProcAttr{
		Dir: p.spec.Dir,
		Env: p.spec.Env,
		// Only these become the child's fds 0, 1 and 2: every other fd is close-on-exec.
		Files: []uintptr{stdin.Fd(), w.Fd(), w.Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	if c := p.spec.Credential; c != nil {
		attr.Sys.Credential = &syscall.Credential{Uid: c.UID, Gid: c.GID, Groups: c.Groups}
	}
	pid, exit, err := p.reaper.Start(path, p.argv, attr)
	w.Close() // the child has its own copy; ours would keep the pipe from ever ending
	if err != nil {
		return "", fmt.Errorf("start %s: %w", path, err)
	}

	var output firstBytes
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(&output, out) // reads to the end, so the command never blocks on a full pipe
	}()

	var st reaper.Status
	killed := false
	select {
	case st = <-exit:
	case <-ctx.Done():
		killed = unix.Kill(-pid, unix.SIGKILL) == nil
		st = <-exit
	}
	// A probe leaves nothing behind: what the command left running in its group dies with it.
	gone := p.reaper.GroupGone(pid)
	select {
	case <-gone:
	default:
		unix.Kill(-pid, unix.SIGKILL)
		<-gone
	}
	out.SetReadDeadline(time.Now().Add(drainGrace))
	<-copied

	switch {
	case killed:
		return string(output), ctx.Err()
	case st.Wait.Signaled():
		return string(output), fmt.Errorf("killed by %s", unix.SignalName(st.Wait.Signal()))
	case st.Wait.ExitStatus() != 0:
		return string(output), fmt.Errorf("exit code %d", st.Wait.ExitStatus())
	}
	return string(output), nil
}

// firstBytes keeps the first outputLimit bytes written to it and discards the rest.
type firstBytes []byte

func (b *firstBytes) Write(p []byte) (int, error) {
	keep := min(len(p), outputLimit-len(*b))
	*b = append(*b, p[:keep]...)
	return len(p), nil
}
