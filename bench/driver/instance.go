package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// startTimeout bounds the wait for an init to exec and for its services to report "up".
const startTimeout = 60 * time.Second

// instance is one peer running as PID 1 of its own PID namespace.
type instance struct {
	peer    peer
	dir     string // the run's files: config, report, output.log
	report  string // the helpers' report file ($BENCH_REPORT)
	unshare *exec.Cmd
	pid1    int // PID 1 of the namespace, as this process sees it
	pidfd   int // PID 1's pidfd: readable once it exited and the namespace is empty
	started int64
	exited  chan struct{} // closed once unshare was reaped
}

// launchOptions change how an instance runs.
type launchOptions struct {
	// netns gives the namespace a network namespace of its own with the loopback up, so that
	// its services' ports meet nobody else's.
	netns bool
}

// launch runs p as PID 1 of a fresh PID namespace with svcs and returns once p has exec'd.
func (b *bench) launch(p peer, svcs []service, opts launchOptions) (*instance, error) {
	if p.single && len(svcs) != 1 {
		return nil, fmt.Errorf("%s runs one command, not %d", p.name, len(svcs))
	}
	dir, err := b.runDir(p.name)
	if err != nil {
		return nil, err
	}
	argv, err := p.command(b, dir, svcs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	comm := filepath.Base(argv[0])
	ns := []string{"unshare", "--pid", "--fork", "--mount-proc", "--kill-child"}
	if opts.netns {
		ns = append(ns, "--net", b.helper, "lo-exec")
	}
	in := &instance{peer: p, dir: dir, report: filepath.Join(dir, "report"), exited: make(chan struct{})}
	out, err := os.Create(filepath.Join(dir, "output.log"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	in.unshare = exec.Command(ns[0], append(ns[1:], argv...)...)
	in.unshare.Dir = dir
	in.unshare.Env = append(os.Environ(), "BENCH_REPORT="+in.report, "WATCHDOG_CONFIG=",
		"WATCHDOG_SOCKET="+filepath.Join(dir, "watchdog.sock"))
	in.unshare.Stdout, in.unshare.Stderr = out, out
	// If the driver dies, unshare dies, and --kill-child takes the namespace with it.
	in.unshare.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: unix.SIGKILL}
	in.started = monotonic()
	if err := in.unshare.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	go func() {
		in.unshare.Wait() // how it ended is in output.log; only the end matters here
		close(in.exited)
	}()
	if err := in.findPID1(comm); err != nil {
		in.kill()
		return nil, fmt.Errorf("%s: %w (output: %s)", p.name, err, in.output())
	}
	return in, nil
}

// findPID1 waits until unshare's child has exec'd the peer (its comm is the peer's name).
func (in *instance) findPID1(comm string) error {
	if len(comm) > 15 {
		comm = comm[:15]
	}
	unshare := in.unshare.Process.Pid
	children := fmt.Sprintf("/proc/%d/task/%d/children", unshare, unshare)
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		select {
		case <-in.exited:
			return errors.New("exited at once")
		default:
		}
		list, _ := os.ReadFile(children)
		fields := strings.Fields(string(list))
		if len(fields) == 0 {
			continue
		}
		pid := atoi(fields[0])
		got, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if strings.TrimSpace(string(got)) != comm {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			return os.NewSyscallError("pidfd_open", err)
		}
		in.pid1, in.pidfd = pid, fd
		return nil
	}
	return fmt.Errorf("no %s below unshare after %s", comm, startTimeout)
}

// waitReports waits until the helpers reported word n times in all, and returns when the
// last of them was seen.
func (in *instance) waitReports(word string, n int, timeout time.Duration) (int64, error) {
	deadline := time.Now().Add(timeout)
	for {
		if got := in.reports(word); len(got) >= n {
			return monotonic(), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: %d of %d services reported %q within %s (output: %s)",
				in.peer.name, len(in.reports(word)), n, word, timeout, in.output())
		}
		select {
		case <-in.exited:
			return 0, fmt.Errorf("%s ended before %d services reported %q (output: %s)", in.peer.name, n, word, in.output())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// reports returns the helpers' report lines that start with word, without it.
func (in *instance) reports(word string) []string {
	data, _ := os.ReadFile(in.report)
	var found []string
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), word); ok && (rest == "" || rest[0] == ' ') {
			found = append(found, strings.TrimSpace(rest))
		}
	}
	return found
}

// stop sends SIGTERM to PID 1 and returns how long the namespace took to empty. After cutoff
// the namespace is killed and ok is false.
func (in *instance) stop(cutoff time.Duration) (took time.Duration, ok bool) {
	start := monotonic()
	if err := unix.PidfdSendSignal(in.pidfd, unix.SIGTERM, nil, 0); err != nil {
		logf("   %s: SIGTERM: %v", in.peer.name, err)
	}
	ok = in.waitGone(cutoff)
	took = time.Duration(monotonic() - start)
	in.kill()
	return took, ok
}

// kill ends the namespace at once, if it still runs (SIGKILL to PID 1 kills every process in
// it), and waits until unshare was reaped. It may be called again.
func (in *instance) kill() {
	if in.pid1 != 0 {
		_ = unix.PidfdSendSignal(in.pidfd, unix.SIGKILL, nil, 0) // ESRCH: it is gone already
		in.waitGone(10 * time.Second)
		unix.Close(in.pidfd)
		in.pid1 = 0
	} else {
		_ = in.unshare.Process.Kill() // before PID 1 was found; it fails once unshare is gone
	}
	<-in.exited
}

// waitGone waits until PID 1 exited, which is after every other process of the namespace.
func (in *instance) waitGone(timeout time.Duration) bool {
	fds := []unix.PollFd{{Fd: int32(in.pidfd), Events: unix.POLLIN}}
	deadline := time.Now().Add(timeout)
	for {
		n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && n > 0
	}
}

// output is the tail of what the instance wrote, for error messages.
func (in *instance) output() string {
	data, _ := os.ReadFile(filepath.Join(in.dir, "output.log"))
	data = bytes.TrimSpace(data)
	if len(data) > 400 {
		data = append([]byte("..."), data[len(data)-400:]...)
	}
	return strings.ReplaceAll(string(data), "\n", " | ")
}

// killAll ends every instance still running.
func killAll(ins []*instance) {
	for _, in := range ins {
		if in != nil {
			in.kill()
		}
	}
}
