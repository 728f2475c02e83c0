// Package logcapture turns what a service writes on its stdout and stderr into watchdog's JSON
// log lines, one object per line naming the service and the stream (shared/DESIGN.md, log =
// "json"), and never makes the service wait on watchdog's stdout (invariant 3).
package logcapture

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"

	"watchdog/supervisor/logging"
)

// MaxLineBytes is the most of a line one object carries. A longer line is emitted in pieces
// of at most this size, each but the last marked "partial":true, as Docker splits at 16 KiB.
const MaxLineBytes = 16 << 10

// readBufferBytes holds a whole default pipe (64 KiB), so one read can empty it.
const readBufferBytes = 64 << 10

// Capture is one run's stdout and stderr pipes and the two goroutines that read them to EOF.
type Capture struct {
	stdout, stderr *os.File     // write ends, for the child; closed by CloseWriters
	reading        atomic.Int32 // readers not yet at EOF; the last one closes done
	done           chan struct{}
}

// Start creates the pipes and starts their readers. Each line read becomes one JSON object
// {"ts","service","stream","line"[,"partial"]} passed to out in one Write call holding exactly
// that one line, so a writer of whole lines (logging.Sink) never mixes two lines. The readers
// never wait for anything but the pipes: out must not block (the Sink drops and counts
// instead), and an error from out loses only that line.
//
// The caller passes Stdout and Stderr to the child as its fds 1 and 2, then calls CloseWriters.
func Start(out io.Writer, service string) (*Capture, error) {
	stdoutR, stdoutW, err := newPipe()
	if err != nil {
		return nil, fmt.Errorf("capture stdout of %s: %w", service, err)
	}
	stderrR, stderrW, err := newPipe()
	if err != nil {
		stdoutR.Close()
		stdoutW.Close()
		return nil, fmt.Errorf("capture stderr of %s: %w", service, err)
	}
	c := &Capture{stdout: stdoutW, stderr: stderrW, done: make(chan struct{})}
	c.reading.Store(2)
	go c.read(stdoutR, lineWriter{out, newEncoder(service, "stdout")})
	go c.read(stderrR, lineWriter{out, newEncoder(service, "stderr")})
	return c, nil
}

// Stdout is the write end of the stdout pipe, to become the child's fd 1. It is blocking, as
// a child expects its stdout to be.
func (c *Capture) Stdout() *os.File { return c.stdout }

// Stderr is the write end of the stderr pipe, to become the child's fd 2.
func (c *Capture) Stderr() *os.File { return c.stderr }

// CloseWriters closes watchdog's own copies of the write ends: after the fork, or when it
// failed. Until then the pipes cannot reach EOF.
func (c *Capture) CloseWriters() {
	c.stdout.Close()
	c.stderr.Close()
}

// Done is closed once both pipes reached EOF, that is once every process of the run (its
// children that kept the fds included) closed them, and every line read was passed to out.
func (c *Capture) Done() <-chan struct{} { return c.done }

// read passes every line of r to w until EOF.
func (c *Capture) read(r *os.File, w lineWriter) {
	defer func() {
		r.Close()
		if c.reading.Add(-1) == 0 {
			close(c.done)
		}
	}()
	var lines lineSplitter
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, readBufferBytes), readBufferBytes)
	scanner.Split(lines.split)
	for scanner.Scan() {
		w.write(scanner.Bytes(), lines.partial)
	}
}

// newPipe returns a pipe, close-on-exec at both ends. The read end is non-blocking so that its
// reader waits in the runtime's poller instead of holding a thread; the write end stays
// blocking, since many programs treat EAGAIN on stdout as a fatal error.
func newPipe() (r, w *os.File, err error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, os.NewSyscallError("pipe2", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, os.NewSyscallError("fcntl(O_NONBLOCK)", err)
	}
	return os.NewFile(uintptr(fds[0]), "|0"), os.NewFile(uintptr(fds[1]), "|1"), nil
}

// lineWriter encodes the lines of one stream.
type lineWriter struct {
	out io.Writer
	enc zapcore.Encoder // carries the service and stream fields
}

func (w lineWriter) write(line []byte, partial bool) {
	fields := make([]zapcore.Field, 1, 2)
	fields[0] = zap.ByteString("line", line) // zap escapes invalid UTF-8 as \ufffd
	if partial {
		fields = append(fields, zap.Bool("partial", true))
	}
	buf, err := w.enc.EncodeEntry(zapcore.Entry{Time: time.Now()}, fields)
	if err != nil {
		return
	}
	_, _ = w.out.Write(buf.Bytes()) // a lost line is out's to count
	buf.Free()
}

// newEncoder encodes {"ts":...,"service":service,"stream":stream,...}: the ts of the event
// log, and no level or message.
func newEncoder(service, stream string) zapcore.Encoder {
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{
		TimeKey:    "ts",
		EncodeTime: logging.EncodeTime,
		LineEnding: "\n",
	})
	enc.AddString("service", service)
	enc.AddString("stream", stream)
	return enc
}

// lineSplitter's split is a bufio.SplitFunc yielding lines without their "\n" or "\r\n", and
// lines longer than MaxLineBytes in pieces. A last line without a newline is yielded at EOF.
type lineSplitter struct {
	partial bool // the last token is a piece of a longer line, and not its last piece
}

func (s *lineSplitter) split(data []byte, atEOF bool) (advance int, token []byte, err error) {
	s.partial = false
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		if line := dropCR(data[:i]); len(line) <= MaxLineBytes {
			return i + 1, line, nil
		}
	} else if atEOF {
		if len(data) == 0 {
			return 0, nil, nil
		}
		if line := dropCR(data); len(line) <= MaxLineBytes {
			return len(data), line, nil
		}
	} else if len(data) < MaxLineBytes+utf8.UTFMax {
		// The line may still end within MaxLineBytes (after a '\r', say), and a piece must
		// see the whole rune at its end.
		return 0, nil, nil
	}
	s.partial = true
	end := pieceEnd(data)
	return end, data[:end], nil
}

// pieceEnd is where the next piece of a line longer than MaxLineBytes ends: after
// MaxLineBytes, or up to 3 bytes earlier so as not to cut a valid multi-byte rune in two.
func pieceEnd(line []byte) int {
	for i := MaxLineBytes - 1; i > MaxLineBytes-utf8.UTFMax; i-- {
		if utf8.RuneStart(line[i]) {
			if _, size := utf8.DecodeRune(line[i:]); i+size > MaxLineBytes {
				return i
			}
			break
		}
	}
	return MaxLineBytes
}

func dropCR(line []byte) []byte {
	if len(line) > 0 && line[len(line)-1] == '\r' {
		return line[:len(line)-1]
	}
	return line
}
