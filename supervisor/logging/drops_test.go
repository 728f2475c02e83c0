package logging

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestReportDropsOnceStdoutDrains: lines dropped while stdout is stalled are reported, with
// their number, by a warning that reaches stdout once it is read again.
func TestReportDropsOnceStdoutDrains(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sink := NewSink(w, 4096)
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
	stop := sink.ReportDrops(log, 20*time.Millisecond)

	found := make(chan map[string]any, 1)
	go func() {
		lines := bufio.NewScanner(r)
		for lines.Scan() {
			var e map[string]any
			if json.Unmarshal(lines.Bytes(), &e) == nil && e["msg"] == "log_lines_dropped" {
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
	stop()
	sink.Close(time.Second)
	w.Close()
}
