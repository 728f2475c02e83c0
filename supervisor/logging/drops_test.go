package logging

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// TestReportDropsOnceStdoutDrains: lines dropped while stdout is stalled are reported, with
// their number, by a warning the sink writes itself once stdout is read again.
func TestReportDropsOnceStdoutDrains(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sink := NewSink(w, 4096)
	sink.noticeEvery = 10 * time.Millisecond // a notice at 10 s would slow the test down
	log, err := New(sink, FormatJSON, "info")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10000 { // far more than the pipe and the queue hold: nobody reads yet
		log.Info("filler", zap.Int("n", i))
	}
	dropped := sink.Dropped()
	if dropped == 0 {
		t.Fatal("nothing was dropped with stdout stalled")
	}

	found := make(chan map[string]any, 1)
	go func() {
		lines := bufio.NewScanner(r)
		for lines.Scan() {
			var e map[string]any
			// The first notice may come while lines are still being dropped: wait for
			// the one that counts them all.
			if json.Unmarshal(lines.Bytes(), &e) == nil && e["msg"] == "log_lines_dropped" &&
				uint64(e["dropped_total"].(float64)) >= dropped {
				found <- e
				return
			}
		}
	}()
	select {
	case e := <-found:
		if total := e["dropped_total"].(float64); uint64(total) < dropped {
			t.Errorf("dropped_total %v, want at least the %d dropped while stalled", total, dropped)
		}
	case <-time.After(wait):
		t.Fatal("no log_lines_dropped warning once stdout was read")
	}
	sink.Close(time.Second)
	w.Close()
}

// TestStalledStdoutKeepsWholeLines: when watchdog gives up on a stalled stdout, what reached
// the pipe ends on a line boundary: the sink writes whole lines, a pipe's atomic write at a time.
func TestStalledStdoutKeepsWholeLines(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, 4096); err != nil {
		t.Fatal(os.NewSyscallError("fcntl(F_SETPIPE_SZ)", err))
	}
	sink := NewSink(w, DefaultQueueBytes)
	for i := range 1000 {
		sink.Write(line(i, 100)) // 100 kB: far more than the pipe holds
	}
	sink.Close(100 * time.Millisecond) // gives up: nobody reads

	// What the pipe holds now is what a reader would find after watchdog exited.
	if err := unix.SetNonblock(int(r.Fd()), true); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	n, _ := unix.Read(int(r.Fd()), buf)
	r.Close() // the sink's writer, still blocked, fails with EPIPE and ends
	if n <= 0 {
		t.Fatal("nothing reached the pipe")
	}
	if got := buf[:n]; got[n-1] != '\n' {
		t.Errorf("the pipe holds %d bytes ending in a partial line: %q", n, got[max(0, n-60):])
	}
}
