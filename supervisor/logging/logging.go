// Package logging builds watchdog's zap logger over a sink that never blocks its callers
// (shared/DESIGN.md "Log events" and invariant 3): a stalled stdout costs dropped lines, counted,
// never a stalled reaper, signal path or restart.
package logging

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Formats of the log stream.
const (
	FormatJSON    = "json"    // one JSON object a line, for docker logs and collectors
	FormatConsole = "console" // for people at a terminal
)

// DefaultQueueBytes bounds what may wait for a slow stdout before lines are dropped.
const DefaultQueueBytes = 1 << 20

// New returns a logger writing to sink in format ("json" or "console") at level and above.
func New(sink *Sink, format, level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	enc := zapcore.EncoderConfig{
		TimeKey:        "ts",
		LevelKey:       "level",
		MessageKey:     "msg",
		LineEnding:     "\n",
		EncodeTime:     EncodeTime,
		EncodeLevel:    zapcore.LowercaseLevelEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
	}
	var encoder zapcore.Encoder
	switch format {
	case FormatJSON:
		encoder = zapcore.NewJSONEncoder(enc)
	case FormatConsole:
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		encoder = zapcore.NewConsoleEncoder(enc)
	default:
		return nil, fmt.Errorf("log format %q: want json or console", format)
	}
	sink.notice = func(dropped, total uint64) []byte {
		buf, err := encoder.Clone().EncodeEntry(zapcore.Entry{Level: zapcore.WarnLevel, Time: time.Now(), Message: "log_lines_dropped"},
			[]zapcore.Field{zap.Uint64("dropped", dropped), zap.Uint64("dropped_total", total),
				zap.String("reason", "stdout did not keep up")})
		if err != nil {
			return nil
		}
		defer buf.Free()
		return append([]byte(nil), buf.Bytes()...)
	}
	return zap.New(zapcore.NewCore(encoder, sink, lvl)), nil
}

// noticeEvery spaces the warnings about dropped lines.
const noticeEvery = 10 * time.Second

// EncodeTime writes RFC 3339 UTC with milliseconds, the ts format of DESIGN.md, for every
// JSON line watchdog writes.
func EncodeTime(t time.Time, e zapcore.PrimitiveArrayEncoder) {
	e.AppendString(t.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
}

// Sink queues whole lines for one writer goroutine. Write never blocks on the output: when
// more than the queue's bound is waiting, the line is dropped and counted.
type Sink struct {
	out     io.Writer
	limit   int
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	dropped atomic.Uint64

	mu     sync.Mutex
	queue  []byte // guarded by mu: whole lines waiting to be written
	closed bool   // guarded by mu

	// notice formats the warning about dropped lines (set by New). The writer goroutine
	// writes it itself, past the queue and its bound, once the output takes lines again and
	// at most every noticeEvery: a flood that keeps the queue full cannot crowd it out.
	notice      func(dropped, total uint64) []byte
	noticeEvery time.Duration
	reported    uint64    // owned by the writer goroutine: drops already reported
	lastNotice  time.Time // owned by the writer goroutine
}

// NewSink starts the writer goroutine; Close stops it.
func NewSink(out io.Writer, limit int) *Sink {
	s := &Sink{
		out:         out,
		limit:       limit,
		wake:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
		stopped:     make(chan struct{}),
		noticeEvery: noticeEvery,
	}
	go s.run()
	return s
}

// Write queues p, which must be whole lines, or drops it when the queue is full.
func (s *Sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	if s.closed || len(s.queue)+len(p) > s.limit {
		s.mu.Unlock()
		s.dropped.Add(1)
		return len(p), nil
	}
	s.queue = append(s.queue, p...)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// Sync is a no-op: waiting for stdout is what the sink exists to avoid. Close flushes.
func (s *Sink) Sync() error { return nil }

// Dropped is how many writes were dropped because the output did not keep up.
func (s *Sink) Dropped() uint64 { return s.dropped.Load() }

// Close writes what is queued, waiting at most timeout for a slow output, and stops the writer.
func (s *Sink) Close(timeout time.Duration) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-s.stopped:
	case <-t.C:
	}
}

func (s *Sink) run() {
	defer close(s.stopped)
	for {
		select {
		case <-s.wake:
			s.flush()
		case <-s.stop:
			s.flush()
			return
		}
	}
}

// atomicWrite is PIPE_BUF: a pipe write of at most this many bytes is all or nothing.
const atomicWrite = 4096

func (s *Sink) flush() {
	s.mu.Lock()
	lines := s.queue
	s.queue = nil
	s.mu.Unlock()
	// Whole lines, at most a pipe's atomic write at a time (unless one line is longer): if
	// watchdog exits while stdout is stalled, the log ends on a line boundary.
	for len(lines) > 0 {
		n := len(lines)
		if n > atomicWrite {
			if cut := bytes.LastIndexByte(lines[:atomicWrite], '\n'); cut >= 0 {
				n = cut + 1
			} else if end := bytes.IndexByte(lines, '\n'); end >= 0 {
				n = end + 1
			}
		}
		if _, err := s.out.Write(lines[:n]); err != nil {
			return // nowhere to report a failing stdout; what is lost is lost
		}
		lines = lines[n:]
	}
	if total := s.dropped.Load(); total > s.reported && s.notice != nil && time.Since(s.lastNotice) >= s.noticeEvery {
		if line := s.notice(total-s.reported, total); line != nil {
			_, _ = s.out.Write(line)
		}
		s.reported, s.lastNotice = total, time.Now()
	}
}
