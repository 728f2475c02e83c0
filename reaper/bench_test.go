package reaper

import (
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Benchmarks of the exit path (bench/run micro): handing a reaped status to whoever started
// the process, counting an orphan, and a whole start-to-exit through a running Reaper.

// benchStatus is an exit as wait4 reports it: code 1.
var benchStatus = Status{Pid: 4242, Wait: unix.WaitStatus(1 << 8), At: time.Now()}

func BenchmarkDispatchExit(b *testing.B) {
	r := &Reaper{log: zap.NewNop()}
	exit := make(chan Status, 1)
	for b.Loop() {
		r.dispatch(benchStatus, exit)
		<-exit
	}
}

func BenchmarkDispatchOrphan(b *testing.B) {
	r := &Reaper{log: zap.NewNop()}
	for b.Loop() {
		r.dispatch(benchStatus, nil)
	}
}

// BenchmarkStartExit starts /bin/true through the Reaper and waits for its exit: fork, exec,
// SIGCHLD, wait4 and the dispatch, as a crash loop does them.
func BenchmarkStartExit(b *testing.B) {
	r, err := New(zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	attr := &syscall.ProcAttr{Files: []uintptr{devNull.Fd(), devNull.Fd(), devNull.Fd()},
		Sys: &syscall.SysProcAttr{Setpgid: true}}
	for b.Loop() {
		_, exit, err := r.Start("/bin/true", []string{"true"}, attr)
		if err != nil {
			b.Fatal(err)
		}
		if st := <-exit; st.Code() != 0 {
			b.Fatalf("/bin/true exited with %d", st.Code())
		}
	}
}
