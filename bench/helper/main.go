// Command helper is the fake service of watchdog's benchmarks (bench/README.md): one static
// binary that every init and supervisor under test runs, so that they all run the same thing.
// Its first argument is the mode. Started as "run" (a service directory's ./run symlinked to
// it, the way s6-supervise and runsv start a service), it reads its arguments from the file
// bench-args in its working directory instead.
//
// Times are CLOCK_MONOTONIC nanoseconds, comparable with the driver's across PID namespaces.
// Reports are appended to the file named by $BENCH_REPORT, one line per event written in one
// append, so that every service of a run can share the file.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// argsFile holds the arguments of a helper started as a service directory's ./run.
const argsFile = "bench-args"

// The main goroutine stays on the main thread, so that lo-exec's execve comes from it: execve
// from another thread makes that thread the process, and the parent-death signal that
// `unshare --kill-child` set on the main thread would be lost with it.
func init() { runtime.LockOSThread() }

const usage = `usage: helper MODE [ARGS]
  crash                report "run START EXIT" and exit 1 at once
  sleep                report "up"; on SIGTERM report "term" and exit 0
  ignore-term          report "up", ignore SIGTERM and run until killed
  signals FIFO         write the receipt time of every SIGUSR1 to FIFO (8 bytes, little endian),
                       after one zero record once the handler is installed
  orphans N GO         report "up", wait for a byte on the FIFO GO, then leave N exited
                       orphans to the init at once and run until SIGTERM
  http PORT            report "up" and answer every HTTP request on 127.0.0.1:PORT with 200
  floor DURATION ARGV  fork, exec and wait for ARGV over and over for DURATION or until SIGTERM
  spawn N ARGV         fork and exec ARGV N times as fast as it can, then run until SIGTERM
  lo-exec ARGV         bring the loopback interface up, then exec ARGV (in a new network namespace)`

func main() {
	started := monotonic()
	args := os.Args[1:]
	if filepath.Base(os.Args[0]) == "run" {
		data, err := os.ReadFile(argsFile)
		if err != nil {
			fail(err)
		}
		args = strings.Fields(string(data))
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch mode, rest := args[0], args[1:]; mode {
	case "crash":
		report("run", started, monotonic())
		os.Exit(1)
	case "sleep":
		err = sleep()
	case "ignore-term":
		signal.Ignore(unix.SIGTERM)
		report("up")
		for {
			time.Sleep(time.Hour)
		}
	case "signals":
		err = echoSignals(rest)
	case "orphans":
		err = orphans(rest)
	case "orphan-parent":
		err = orphanParent(rest)
	case "http":
		err = serveHTTP(rest)
	case "floor":
		err = floor(rest)
	case "spawn":
		err = spawn(rest)
	case "lo-exec":
		err = loopbackExec(rest)
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fail(fmt.Errorf("%s: %w", args[0], err))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "helper:", err)
	os.Exit(1)
}

// monotonic is CLOCK_MONOTONIC in nanoseconds.
func monotonic() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) // cannot fail with a valid clock id
	return ts.Nano()
}

// report appends one line to $BENCH_REPORT: the words given, separated by spaces.
func report(words ...any) {
	path := os.Getenv("BENCH_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fail(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.TrimSuffix(fmt.Sprintln(words...), "\n") + "\n"); err != nil {
		fail(err)
	}
}

// untilTerm returns once SIGTERM arrives.
func untilTerm() {
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM)
	<-term
}

func sleep() error {
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM)
	report("up")
	<-term
	report("term")
	return nil
}

func echoSignals(args []string) error {
	if len(args) != 1 {
		return errors.New("signals FIFO")
	}
	received := make(chan os.Signal, 64)
	signal.Notify(received, unix.SIGUSR1, unix.SIGTERM)
	fifo, err := os.OpenFile(args[0], os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	var record [8]byte
	if _, err := fifo.Write(record[:]); err != nil {
		return err
	}
	for sig := range received {
		at := monotonic()
		if sig == unix.SIGTERM {
			return nil
		}
		binary.LittleEndian.PutUint64(record[:], uint64(at))
		if _, err := fifo.Write(record[:]); err != nil {
			return err
		}
	}
	return nil
}

// orphans hands n exited processes to the init at once: a child forks them, waits until all
// have exited without reaping them, reports "orphaned TIME" and exits, so the zombies pass to
// the init in one go. Once that child is reaped, it reports "parent-reaped TIME".
func orphans(args []string) error {
	if len(args) != 2 {
		return errors.New("orphans N GO")
	}
	if _, err := strconv.Atoi(args[0]); err != nil {
		return err
	}
	report("up")
	goFIFO, err := os.Open(args[1])
	if err != nil {
		return err
	}
	if _, err := goFIFO.Read(make([]byte, 1)); err != nil {
		return fmt.Errorf("wait for the go: %w", err)
	}
	parent := exec.Command("/proc/self/exe", "orphan-parent", args[0])
	parent.Stderr = os.Stderr
	if err := parent.Run(); err != nil {
		return err
	}
	report("parent-reaped", monotonic())
	untilTerm()
	return nil
}

func serveHTTP(args []string) error {
	if len(args) != 1 {
		return errors.New("http PORT")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", args[0]))
	if err != nil {
		return err
	}
	go func() {
		untilTerm()
		os.Exit(0)
	}()
	report("up")
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
}

// floor is the crash-to-restart floor: what restarting costs with no supervisor at all.
func floor(args []string) error {
	if len(args) < 2 {
		return errors.New("floor DURATION ARGV")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		return err
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM)
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}}
	for end := time.Now().Add(d); time.Now().Before(end); {
		select {
		case <-term:
			return nil
		default:
		}
		pid, err := syscall.ForkExec(args[1], args[1:], attr)
		if err != nil {
			return err
		}
		for {
			_, err := unix.Wait4(pid, nil, 0, nil)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
	}
	return nil
}

// spawn is the floor of starting many services: N starts with no supervisor at all.
func spawn(args []string) error {
	if len(args) < 2 {
		return errors.New("spawn N ARGV")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM)
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}}
	for range n {
		if _, err := syscall.ForkExec(args[1], args[1:], attr); err != nil {
			return err
		}
	}
	<-term
	return nil
}

// loopbackExec sets the loopback interface up (SIOCSIFFLAGS), as `ip link set lo up` would,
// and becomes ARGV.
func loopbackExec(args []string) error {
	if len(args) == 0 {
		return errors.New("lo-exec ARGV")
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return os.NewSyscallError("ioctl(SIOCGIFFLAGS)", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return os.NewSyscallError("ioctl(SIOCSIFFLAGS)", err)
	}
	unix.Close(fd)
	path, err := exec.LookPath(args[0])
	if err != nil {
		return err
	}
	return os.NewSyscallError("execve", unix.Exec(path, args, os.Environ()))
}
