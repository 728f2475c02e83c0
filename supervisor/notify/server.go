package notify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// MaxMessageSize is the largest datagram a Socket parses; a larger one is reported as ErrTooLarge.
const MaxMessageSize = 4096

// messageBuffer is how many received messages wait for a slow reader of Messages before
// newer ones are dropped. A service sends a handful per state change and one per watchdog ping.
const messageBuffer = 32

var (
	// ErrTooLarge reports a datagram longer than MaxMessageSize. It is not parsed: the
	// kernel hands over only its first MaxMessageSize bytes.
	ErrTooLarge = fmt.Errorf("notify message larger than %d bytes", MaxMessageSize)
	// ErrNoCredentials reports a datagram without SCM_CREDENTIALS, whose sender is unknown.
	ErrNoCredentials = errors.New("notify message without sender credentials")
)

// Message is one datagram received on a Socket.
type Message struct {
	// PID, UID and GID identify the sender, as the kernel saw it (SCM_CREDENTIALS), in
	// watchdog's namespaces; PID is 0 for a sender in a pid namespace watchdog cannot see.
	// All three are 0 when Err is ErrNoCredentials.
	PID, UID, GID int
	Fields
	// Err is why the datagram is unusable (ErrTooLarge, ErrNoCredentials, a Parse error, or
	// a failed receive, which is the last Message); when set, Fields is empty.
	Err error
}

// Socket is a service's notify socket: a unixgram socket whose datagrams arrive on Messages.
type Socket struct {
	path     string
	conn     *net.UnixConn
	messages chan Message
	dropped  atomic.Uint64
	done     chan struct{} // closed when the reader goroutine has returned

	closeOnce sync.Once
	closeErr  error
}

// Listen binds a notify socket at path for a service running as uid:gid (-1 keeps watchdog's
// own). The parent directory is created 0755 if missing; a socket left at path by an earlier
// run is removed, any other kind of file is an error. The file is chowned to uid:gid with mode
// 0600 so that only the service's user and root can send to it. The descriptor is
// close-on-exec: no service inherits it.
func Listen(path string, uid, gid int) (*Socket, error) {
	conn, err := bind(path, uid, gid)
	if err != nil {
		return nil, fmt.Errorf("listen on notify socket %s: %w", path, err)
	}
	s := &Socket{
		path:     path,
		conn:     conn,
		messages: make(chan Message, messageBuffer),
		done:     make(chan struct{}),
	}
	go s.read()
	return s, nil
}

func bind(path string, uid, gid int) (*net.UnixConn, error) {
	if longest := len(unix.RawSockaddrUnix{}.Path) - 1; len(path) > longest {
		return nil, fmt.Errorf("path longer than %d bytes", longest)
	}
	if err := makeParentDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	file := os.NewFile(uintptr(fd), path)
	defer file.Close() // net.FileConn works on its own duplicate
	// Before bind, so that no datagram can ever arrive without its sender's credentials.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return nil, os.NewSyscallError("setsockopt SO_PASSCRED", err)
	}
	// bind creates the file 0777 minus the umask; until the chmod below only its owner
	// (root, or watchdog's own user) can connect, under any usual umask.
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return nil, os.NewSyscallError("bind", err)
	}
	conn, err := secure(file, path, uid, gid)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return conn, nil
}

// secure gives the bound socket file at path to uid:gid with mode 0600 and wraps file in a
// net.UnixConn, so that reads wait in the runtime's poller and Close interrupts them.
func secure(file *os.File, path string, uid, gid int) (*net.UnixConn, error) {
	if err := os.Chown(path, uid, gid); err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, err
	}
	conn, err := net.FileConn(file)
	if err != nil {
		return nil, err
	}
	return conn.(*net.UnixConn), nil
}

// makeParentDir creates dir 0755 when it is missing. The explicit chmod undoes a strict
// umask: a service running as another user must be able to reach its socket.
func makeParentDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}

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
	return os.Remove(path)
}

// Messages delivers every datagram received, in order, valid or not (see Message.Err).
// When the reader falls more than a few dozen messages behind, newer ones are dropped
// and counted in Dropped rather than let the socket back up. The channel is closed after
// Close, or after a failed receive has been delivered.
func (s *Socket) Messages() <-chan Message {
	return s.messages
}

// Dropped is how many messages were lost because Messages was full.
func (s *Socket) Dropped() uint64 {
	return s.dropped.Load()
}

// Close stops receiving, waits for the reader goroutine to return, and removes the socket file.
// Datagrams not yet received are discarded. Calling Close again returns the first result.
func (s *Socket) Close() error {
	s.closeOnce.Do(func() {
		err := s.conn.Close()
		<-s.done
		if rmErr := os.Remove(s.path); !errors.Is(rmErr, os.ErrNotExist) {
			err = errors.Join(err, rmErr)
		}
		if err != nil {
			s.closeErr = fmt.Errorf("close notify socket %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// read is the one goroutine that receives from the socket.
func (s *Socket) read() {
	defer close(s.done)
	defer close(s.messages)
	buf := make([]byte, MaxMessageSize)
	// Room for the credentials only. File descriptors a sender attaches (FDSTORE=1) do not
	// fit: the kernel sets MSG_CTRUNC and closes them instead of installing them here.
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, flags, _, err := s.conn.ReadMsgUnix(buf, oob)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			s.deliver(Message{Err: fmt.Errorf("receive on notify socket %s: %w", s.path, err)})
			return
		}
		s.deliver(decode(buf[:n], oob[:oobn], flags))
	}
}

// deliver hands m to Messages without ever waiting for its reader.
func (s *Socket) deliver(m Message) {
	select {
	case s.messages <- m:
	default:
		s.dropped.Add(1)
	}
}

// decode turns one received datagram, its control messages and its recvmsg flags into a Message.
func decode(data, oob []byte, flags int) Message {
	cred, err := credentials(oob)
	if err != nil {
		return Message{Err: err}
	}
	m := Message{PID: int(cred.Pid), UID: int(cred.Uid), GID: int(cred.Gid)}
	if flags&unix.MSG_TRUNC != 0 {
		m.Err = ErrTooLarge
		return m
	}
	m.Fields, m.Err = Parse(data)
	return m
}

func credentials(oob []byte) (*unix.Ucred, error) {
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, ErrNoCredentials
	}
	for _, cmsg := range cmsgs {
		if cmsg.Header.Level == unix.SOL_SOCKET && cmsg.Header.Type == unix.SCM_CREDENTIALS {
			return unix.ParseUnixCredentials(&cmsg)
		}
	}
	return nil, ErrNoCredentials
}

// InProcessGroup reports whether process pid is alive and a member of process group pgid:
// the test a caller applies before trusting a Message, since every service runs in its own
// group. A sender that has exited since it sent fails the test, as it does in systemd.
func InProcessGroup(pid, pgid int) bool {
	if pid <= 0 || pgid <= 0 { // getpgid(0) would answer for watchdog itself
		return false
	}
	got, err := unix.Getpgid(pid)
	return err == nil && got == pgid
}
