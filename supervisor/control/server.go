package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"watchdog/supervisor"
)

// listenBacklog lets a burst of clients queue while MaxConnections are served; the kernel caps
// it at net.core.somaxconn.
const listenBacklog = 4096

// acceptRetry is the pause after a failed accept (out of descriptors, say) so that the accept
// loop does not spin while the cause lasts.
const acceptRetry = 100 * time.Millisecond

// Server answers requests on the control socket. It reads the supervisor's snapshots, which
// are lock-protected copies, and sends commands through the supervisor's loop: nothing a
// client does can hold up supervision.
type Server struct {
	path  string
	ln    *net.UnixListener
	sup   *supervisor.Supervisor
	log   *zap.Logger
	euid  int
	slots chan struct{} // one token per connection being served, MaxConnections in all
	done  chan struct{} // closed by Close
	wg    sync.WaitGroup

	mu     sync.Mutex
	conns  map[*net.UnixConn]struct{} // guarded by mu: connections being served
	closed bool                       // guarded by mu

	closeOnce sync.Once
	closeErr  error
}

// Listen serves sup on a unix socket at path, creating its parent directory 0755 if missing.
// The socket file gets mode 0600, so only watchdog's own user and root can connect, and the
// server also refuses any peer whose uid is neither 0 nor watchdog's effective uid. A socket
// file left by an earlier run is replaced; if a process still answers on it, or path is another
// kind of file, Listen fails. The listening descriptor is close-on-exec: no service inherits it.
func Listen(path string, sup *supervisor.Supervisor, log *zap.Logger) (*Server, error) {
	ln, err := listen(path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket %s: %w", path, err)
	}
	s := &Server{
		path:  path,
		ln:    ln,
		sup:   sup,
		log:   log,
		euid:  os.Geteuid(),
		slots: make(chan struct{}, MaxConnections),
		done:  make(chan struct{}),
		conns: make(map[*net.UnixConn]struct{}),
	}
	s.log.Info("control_listening", zap.String("path", path))
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func listen(path string) (*net.UnixListener, error) {
	if longest := len(unix.RawSockaddrUnix{}.Path) - 1; len(path) > longest {
		return nil, fmt.Errorf("path longer than %d bytes", longest)
	}
	if err := makeParentDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	file := os.NewFile(uintptr(fd), path)
	defer file.Close() // net.FileListener works on its own close-on-exec duplicate
	// bind fails with EADDRINUSE if another process created path since the stale check.
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return nil, os.NewSyscallError("bind", err)
	}
	// bind creates the file with 0777 minus the umask, but nobody can connect before listen:
	// the file is 0600 before the socket accepts anyone, whatever the umask.
	if err := os.Chmod(path, 0o600); err != nil {
		os.Remove(path)
		return nil, err
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		os.Remove(path)
		return nil, os.NewSyscallError("listen", err)
	}
	ln, err := net.FileListener(file)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return ln.(*net.UnixListener), nil
}

// makeParentDir creates dir 0755 when it is missing.
func makeParentDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	return os.MkdirAll(dir, 0o755)
}

// removeStaleSocket removes a socket file nobody listens on any more. One that still accepts
// connections belongs to a running process, most likely another watchdog, and is kept.
func removeStaleSocket(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	conn, err := net.DialTimeout("unix", path, IOTimeout)
	if err == nil {
		conn.Close()
		return errors.New("another process is listening on it (is another watchdog running?)")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("check whether the existing socket is in use: %w", err)
	}
	return os.Remove(path)
}

// closeGrace is how long Close lets a client take the answer it is owed.
const closeGrace = 100 * time.Millisecond

// Close stops accepting, cuts off the clients being served, waits for their handlers and
// removes the socket file. Calling Close again returns the first result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		err := s.ln.Close()
		s.mu.Lock()
		s.closed = true
		for conn := range s.conns {
			// A client still sending is cut off; one waiting for its answer gets it, or the
			// reason the socket closes, unless it does not read within closeGrace.
			conn.CloseRead()
			conn.SetWriteDeadline(time.Now().Add(closeGrace))
		}
		s.mu.Unlock()
		s.wg.Wait()
		if rmErr := os.Remove(s.path); !errors.Is(rmErr, os.ErrNotExist) {
			err = errors.Join(err, rmErr)
		}
		if err != nil {
			s.closeErr = fmt.Errorf("close control socket %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.AcceptUnix()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			s.log.Warn("control_accept_failed", zap.Error(err))
			select {
			case <-s.done:
				return
			case <-time.After(acceptRetry):
			}
			continue
		}
		select {
		case s.slots <- struct{}{}:
			s.wg.Add(1)
			go s.serve(conn)
		default:
			s.refuse(conn)
		}
	}
}

// refuse answers a client beyond MaxConnections. A fresh connection's send buffer has room for
// the short answer, so this does not hold up the accept loop.
func (s *Server) refuse(conn *net.UnixConn) {
	defer conn.Close()
	s.log.Debug("control_busy", zap.Int("connections", MaxConnections))
	s.write(conn, failure(fmt.Errorf("busy: %d clients are being served, try again", MaxConnections)))
}

// serve answers one client, then frees its slot.
func (s *Server) serve(conn *net.UnixConn) {
	defer s.wg.Done()
	defer func() { <-s.slots }()
	if !s.track(conn) {
		conn.Close()
		return
	}
	defer s.untrack(conn)
	s.write(conn, s.respond(conn))
}

// track records conn so that Close can cut it off; it reports false once Close has begun.
func (s *Server) track(conn *net.UnixConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[conn] = struct{}{}
	return true
}

func (s *Server) untrack(conn *net.UnixConn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
	conn.Close()
}

func (s *Server) respond(conn *net.UnixConn) Response {
	cred, err := peerCredentials(conn)
	if err != nil {
		return failure(err)
	}
	if int(cred.Uid) != 0 && int(cred.Uid) != s.euid {
		s.log.Warn("control_refused", zap.Int("uid", int(cred.Uid)), zap.Int("pid", int(cred.Pid)),
			zap.String("reason", "only root and watchdog's own user may use the control socket"))
		return failure(fmt.Errorf("uid %d may not use the control socket", cred.Uid))
	}
	if err := conn.SetReadDeadline(time.Now().Add(IOTimeout)); err != nil {
		return failure(err)
	}
	req, err := readRequest(conn)
	if err != nil {
		s.log.Debug("control_bad_request", zap.Int("uid", int(cred.Uid)), zap.Int("pid", int(cred.Pid)), zap.Error(err))
		return failure(err)
	}
	s.log.Debug("control_request", zap.String("command", req.Command), zap.Strings("services", req.Services),
		zap.Int("uid", int(cred.Uid)), zap.Int("pid", int(cred.Pid)))
	return s.execute(req)
}

// peerCredentials is who connected, as the kernel recorded it at connect(2).
func peerCredentials(conn *net.UnixConn) (*unix.Ucred, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	if credErr != nil {
		return nil, os.NewSyscallError("getsockopt SO_PEERCRED", credErr)
	}
	return cred, nil
}

// readRequest reads one request line and decodes it strictly: unknown fields and anything
// after the JSON object are errors. A client may end the line with EOF instead of a newline.
func readRequest(r io.Reader) (Request, error) {
	line, err := bufio.NewReader(io.LimitReader(r, MaxRequestSize+1)).ReadBytes('\n')
	switch {
	case len(line) > MaxRequestSize:
		return Request{}, fmt.Errorf("request longer than %d bytes", MaxRequestSize)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return Request{}, fmt.Errorf("no complete request line within %v", IOTimeout)
	case err != nil && !errors.Is(err, io.EOF):
		return Request{}, fmt.Errorf("read request: %w", err)
	case len(bytes.TrimSpace(line)) == 0:
		return Request{}, errors.New("empty request")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var req Request
	if err := dec.Decode(&req); err != nil {
		return Request{}, fmt.Errorf("malformed request: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Request{}, errors.New("malformed request: more than one JSON value")
	}
	return req, nil
}

func (s *Server) execute(req Request) Response {
	switch req.Command {
	case CommandStatus:
		if len(req.Services) > 0 {
			return failure(errors.New("status takes no services"))
		}
	case CommandReload:
		if len(req.Services) > 0 {
			return failure(errors.New("reload takes no services"))
		}
		if err := s.control(req.Command, nil); err != nil {
			return failure(err)
		}
	case CommandStart, CommandStop, CommandRestart:
		if len(req.Services) == 0 {
			return failure(fmt.Errorf("%s: no services named", req.Command))
		}
		op := req.Command
		if req.Rolling {
			if req.Command != CommandRestart {
				return failure(fmt.Errorf("%s: only restart can be rolling", req.Command))
			}
			op = "rolling-restart"
		}
		if err := s.control(op, req.Services); err != nil {
			return failure(fmt.Errorf("%s: %w", req.Command, err))
		}
	default:
		return failure(fmt.Errorf("unknown command %q (want %s, %s, %s, %s or %s)", req.Command,
			CommandStatus, CommandStart, CommandStop, CommandRestart, CommandReload))
	}
	return Response{OK: true, Services: s.sup.Status()}
}

// control hands a command to the supervisor loop and waits at most IOTimeout for its answer.
// Supervisor.Control cannot be cancelled, and nothing receives it while the supervisor is
// finishing or after Run has returned, so it runs on a goroutine of its own that answers into
// a buffer: a late answer is dropped, and a call left waiting as watchdog exits ends with it.
func (s *Server) control(op string, names []string) error {
	answer := make(chan error, 1)
	go func() { answer <- s.sup.Control(op, names) }()
	timer := time.NewTimer(IOTimeout)
	defer timer.Stop()
	select {
	case err := <-answer:
		return err
	case <-timer.C:
		return fmt.Errorf("the supervisor did not take the command within %v", IOTimeout)
	case <-s.done:
		return errors.New("the control socket is closing")
	}
}

// write sends resp as one line, giving the client IOTimeout to take it.
func (s *Server) write(conn *net.UnixConn, resp Response) {
	data, err := json.Marshal(resp)
	if err != nil {
		s.log.Error("control_encode_failed", zap.Error(err))
		return
	}
	if err := conn.SetWriteDeadline(time.Now().Add(IOTimeout)); err != nil {
		return
	}
	if _, err := conn.Write(append(data, '\n')); err != nil {
		s.log.Debug("control_write_failed", zap.Error(err))
	}
}

func failure(err error) Response {
	return Response{Error: err.Error()}
}
