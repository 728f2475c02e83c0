package notify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// send writes each datagram to the socket at path from the test process itself.
func send(t *testing.T, path string, datagrams ...string) {
	t.Helper()
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, d := range datagrams {
		if _, err := conn.Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
}

// serviceUser is the owner the tests give the socket: nobody when root can chown, else ourselves.
func serviceUser() (uid, gid int) {
	if os.Getuid() == 0 {
		return 65534, 65534
	}
	return os.Getuid(), os.Getgid()
}

func TestListenCreatesPrivateSocket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "watchdog")
	path := filepath.Join(dir, "web.sock")
	uid, gid := serviceUser()
	listen(t, path, uid, gid)

	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o755 {
		t.Errorf("parent dir mode = %v, want 0755", got)
	}
	info, err = os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Type() != os.ModeSocket || info.Mode().Perm() != 0o600 {
		t.Errorf("socket file mode = %v, want a socket with mode 0600", info.Mode())
	}
	st := info.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("socket file owner = %d:%d, want %d:%d", st.Uid, st.Gid, uid, gid)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.sock")
	// A socket of an earlier run: closing a unixgram socket leaves its file behind.
	stale, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	stale.Close()

	s := listen(t, path, -1, -1)
	send(t, path, "READY=1")
	if m := receive(t, s); m.Err != nil || !m.Ready {
		t.Errorf("got %+v, want READY=1", m)
	}
}

func TestListenRefusesToRemoveOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.sock")
	if err := os.WriteFile(path, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := Listen(path, -1, -1); err == nil {
		s.Close()
		t.Fatal("Listen over a regular file succeeded")
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "data" {
		t.Errorf("regular file changed: %q, %v", data, err)
	}
}

func TestListenRefusesTooLongPath(t *testing.T) {
	path := "/tmp/" + strings.Repeat("x", 200) + ".sock"
	if s, err := Listen(path, -1, -1); err == nil {
		s.Close()
		t.Fatal("Listen with a 200-byte name succeeded")
	}
}

// TestServiceNotifies is the whole server side: a real service process sends its status and
// READY=1, and the socket reports who sent them.
func TestServiceNotifies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.sock")
	s := listen(t, path, -1, -1)
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := helperCommand(bin, Env(path, 0), "STATUS=warming up", "STATUS=serving: load=0.5\nREADY=1\n")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper: %v\n%s", err, stderr.String())
		}
	}()
	pid := cmd.Process.Pid

	first := receive(t, s)
	if first.Err != nil || first.PID != pid || first.Status != "warming up" || first.Ready {
		t.Fatalf("first message = %+v, want STATUS=warming up from pid %d", first, pid)
	}
	second := receive(t, s)
	if second.Err != nil || second.PID != pid || !second.Ready || second.Status != "serving: load=0.5" {
		t.Fatalf("second message = %+v, want READY=1 and STATUS from pid %d", second, pid)
	}
	if second.UID != os.Getuid() || second.GID != os.Getgid() {
		t.Errorf("credentials = %d:%d, want %d:%d", second.UID, second.GID, os.Getuid(), os.Getgid())
	}

	// The helper leads its own group, as every service does.
	if !InProcessGroup(second.PID, pid) {
		t.Errorf("InProcessGroup(%d, its own group) = false", second.PID)
	}
	if InProcessGroup(second.PID, unix.Getpgrp()) {
		t.Errorf("InProcessGroup(%d, the test's group %d) = true", second.PID, unix.Getpgrp())
	}
	if !InProcessGroup(os.Getpid(), unix.Getpgrp()) {
		t.Errorf("InProcessGroup(test, test's group) = false")
	}
	if InProcessGroup(0, unix.Getpgrp()) {
		t.Errorf("InProcessGroup(0, ...) = true, want false: pid 0 is an unknown sender")
	}

	// Close-on-exec: the service holds no descriptor of its own notify socket.
	inode := socketInode(t, s)
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if target == fmt.Sprintf("socket:[%d]", inode) {
			t.Errorf("service inherited the notify socket as fd %s", fd.Name())
		}
	}
}

func socketInode(t *testing.T, s *Socket) uint64 {
	t.Helper()
	raw, err := s.conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	var statErr error
	if err := raw.Control(func(fd uintptr) { statErr = unix.Fstat(int(fd), &st) }); err != nil {
		t.Fatal(err)
	}
	if statErr != nil {
		t.Fatal(statErr)
	}
	return st.Ino
}

// TestSocketAdmitsOnlyItsUser runs senders as other users: the service's user may send, any
// other user may not even connect.
func TestSocketAdmitsOnlyItsUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run senders as other users")
	}
	// Both the helper binary and the socket must be reachable by those users.
	dir, err := os.MkdirTemp("", "notify-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "helper")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "web.sock")
	s := listen(t, path, 65534, 65534)

	sendAs := func(uid uint32) ([]byte, error) {
		cmd := helperCommand(bin, Env(path, 0), "READY=1")
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uid, Gid: uid}
		return cmd.CombinedOutput()
	}
	if out, err := sendAs(65534); err != nil {
		t.Fatalf("the service's user could not send: %v\n%s", err, out)
	}
	if m := receive(t, s); m.Err != nil || !m.Ready || m.UID != 65534 || m.GID != 65534 {
		t.Errorf("got %+v, want READY=1 from 65534:65534", m)
	}
	out, err := sendAs(65533)
	if err == nil || !strings.Contains(string(out), "permission denied") {
		t.Errorf("another user sending: %v\n%s\nwant permission denied", err, out)
	}
}

func TestOversizedDatagramIsReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.sock")
	s := listen(t, path, -1, -1)
	largest := "STATUS=" + strings.Repeat("x", MaxMessageSize-len("STATUS=")-len("\nREADY=1")) + "\nREADY=1"
	// READY=1 sits past the cut: parsing the first 4 KiB alone would miss it, or worse, use half.
	tooLarge := "READY=1\nSTATUS=" + strings.Repeat("x", MaxMessageSize)
	send(t, path, largest, tooLarge, "STOPPING=1")

	if m := receive(t, s); m.Err != nil || !m.Ready || len(m.Status) != MaxMessageSize-len("STATUS=\nREADY=1") {
		t.Errorf("%d-byte datagram: Err %v, Ready %v, %d bytes of status", len(largest), m.Err, m.Ready, len(m.Status))
	}
	m := receive(t, s)
	if !errors.Is(m.Err, ErrTooLarge) || m.Ready || m.HasStatus || m.PID != os.Getpid() {
		t.Errorf("%d-byte datagram: Err %v, Ready %v, HasStatus %v, PID %d; want ErrTooLarge from pid %d and no fields",
			len(tooLarge), m.Err, m.Ready, m.HasStatus, m.PID, os.Getpid())
	}
	if m := receive(t, s); m.Err != nil || !m.Stopping {
		t.Errorf("datagram after the oversized one: got %+v, want STOPPING=1", m)
	}
}

func TestMalformedDatagramIsReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.sock")
	s := listen(t, path, -1, -1)
	send(t, path, "STATUS=up\nREADY")
	m := receive(t, s)
	if m.Err == nil || !strings.Contains(m.Err.Error(), "line 2") || m.HasStatus {
		t.Errorf("got %+v, want an error naming line 2 and no fields", m)
	}
	if m.PID != os.Getpid() {
		t.Errorf("PID = %d, want the sender %d", m.PID, os.Getpid())
	}
}

// TestSlowReaderDropsNewest fills Messages while nobody reads it: the reader goroutine must
// not block on it, and what it cannot deliver is counted.
func TestSlowReaderDropsNewest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.sock")
	s := listen(t, path, -1, -1)
	// A sender blocks once qlen datagrams wait in the socket, so when the last send returns the
	// reader has taken all but at most qlen+1 of them off the socket, and had to drop the rest
	// of what exceeded the buffer.
	qlen := readIntFile(t, "/proc/sys/net/unix/max_dgram_qlen")
	total := messageBuffer + qlen + 10
	var datagrams []string
	for i := range total {
		datagrams = append(datagrams, "STATUS="+strconv.Itoa(i))
	}
	send(t, path, datagrams...)

	if s.Dropped() == 0 {
		t.Fatalf("Dropped() = 0 after %d datagrams into a buffer of %d", total, messageBuffer)
	}
	var got []string
	for range messageBuffer {
		got = append(got, receive(t, s).Status)
	}
	if !slices.Equal(got, stripKeys(datagrams[:messageBuffer])) {
		t.Errorf("delivered %v, want the first %d in order", got, messageBuffer)
	}
}

func readIntFile(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func stripKeys(datagrams []string) []string {
	values := make([]string, len(datagrams))
	for i, d := range datagrams {
		_, values[i], _ = strings.Cut(d, "=")
	}
	return values
}

func TestCloseStopsReaderAndRemovesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.sock")
	s, err := Listen(path, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Close returned after the reader did, so Messages is already closed and nothing is left
	// running for goleak to find.
	select {
	case m, ok := <-s.Messages():
		if ok {
			t.Errorf("message after Close: %+v", m)
		}
	default:
		t.Error("Messages still open after Close")
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDatagramWithoutCredentialsIsRejected(t *testing.T) {
	// The kernel always attaches credentials to a socket with SO_PASSCRED, so only decode
	// itself can be handed a datagram without them.
	m := decode([]byte("READY=1"), nil, 0)
	if !errors.Is(m.Err, ErrNoCredentials) || m.Ready {
		t.Errorf("got %+v, want ErrNoCredentials and no fields", m)
	}
}

// TestPassedDescriptorsAreNotKept: a sender that attaches descriptors (FDSTORE=1) must not
// leave them open in watchdog, which has no use for them.
func TestPassedDescriptorsAreNotKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.sock")
	s := listen(t, path, -1, -1)
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pipe[0])
	defer unix.Close(pipe[1])
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	rights := unix.UnixRights(pipe[0], pipe[1])
	if err := unix.Sendmsg(fd, []byte("FDSTORE=1\nREADY=1"), rights, &unix.SockaddrUnix{Name: path}, 0); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, s); m.Err != nil || !m.Ready {
		t.Fatalf("got %+v, want READY=1", m)
	}

	var st unix.Stat_t
	if err := unix.Fstat(pipe[0], &st); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("pipe:[%d]", st.Ino)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	open := 0
	for _, fd := range fds {
		if target, _ := os.Readlink("/proc/self/fd/" + fd.Name()); target == want {
			open++
		}
	}
	if open != 2 {
		t.Errorf("%d descriptors of the passed pipe are open, want only the test's own 2", open)
	}
}
