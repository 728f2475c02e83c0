package reaper

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// defaultPath is searched when the environment has no PATH, as execvp does.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// LookPath finds the program name the way execvp would with the PATH of env. A name with a
// slash is taken as it is, relative to dir when it is not absolute. The error wraps ENOENT
// when nothing was found and EACCES when what was found cannot be executed, so that callers
// can give a shell's 127 and 126.
func LookPath(name string, env []string, dir string) (string, error) {
	if strings.Contains(name, "/") {
		path := name
		if !filepath.IsAbs(path) && dir != "" {
			path = filepath.Join(dir, path)
		}
		return path, executable(path)
	}
	pathVar := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	var firstErr error
	for _, d := range filepath.SplitList(pathVar) {
		path := filepath.Join(d, name)
		err := executable(path)
		if err == nil {
			return path, nil
		}
		if firstErr == nil && !errors.Is(err, unix.ENOENT) {
			firstErr = err // a match that cannot run says more than a miss
		}
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "", &os.PathError{Op: "exec", Path: name + " (PATH " + pathVar + ")", Err: unix.ENOENT}
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return &os.PathError{Op: "exec", Path: path, Err: unix.ENOENT}
	}
	if !fi.Mode().IsRegular() || unix.Access(path, unix.X_OK) != nil {
		return &os.PathError{Op: "exec", Path: path, Err: unix.EACCES}
	}
	return nil
}
