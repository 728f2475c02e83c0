// Package textfile reads the files a config names (watchdog.toml itself, systemd units and
// their drop-ins and environment files, supervisord configs) without trusting what they are:
// only regular files, and only up to a size no real config reaches. /dev/zero or a FIFO in the
// wrong place is an error, not an exhausted memory or a watchdog hung at start or reload.
package textfile

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// MaxSize is the most Read reads of one file.
const MaxSize = 1 << 20

// Read returns the contents of the regular file at path. It never blocks on a FIFO or a
// device and refuses files larger than MaxSize.
func Read(path string) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO with no writer would otherwise wait for one.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if isDevNull(info) {
		return nil, nil // reads as empty: a unit linked to /dev/null is masked
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, info.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxSize)
	}
	return data, nil
}

// devNull is /dev/null's device number, major 1 minor 3 on Linux.
var devNull = unix.Mkdev(1, 3)

func isDevNull(info os.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && info.Mode().Type() == os.ModeDevice|os.ModeCharDevice && st.Rdev == devNull
}
