package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// checkHost checks what a service needs from the machine it will run on: its working
// directory, its programs and its user, so that nothing fails only once it starts.
func checkHost(t *table, s *Service, euid int) {
	if s.WorkingDir != "" {
		if err := checkDir(s.WorkingDir); err != nil {
			t.errorf("working_dir", "%v", err)
			return // programs are looked up relative to it
		}
	}
	path := os.Getenv("PATH")
	for _, kv := range s.Environment {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	if len(s.Command) > 0 && s.Command[0] != "" {
		if err := findProgram(s.Command[0], path, s.WorkingDir); err != nil {
			t.errorf("command", "%v", err)
		}
	}
	if h := s.Healthcheck; h != nil && len(h.Command) > 0 && h.Command[0] != "" {
		if err := findProgram(h.Command[0], path, s.WorkingDir); err != nil {
			newTable(t.n.children["healthcheck"], t.probs).errorf("command", "%v", err)
		}
	}
	if s.User != "" {
		if euid != 0 {
			t.errorf("user", "needs watchdog to run as root, not as uid %d", euid)
			return
		}
		cred, err := resolveUser(s.User)
		if err != nil {
			t.errorf("user", "%v", err)
			return
		}
		s.Credential = cred
	}
}

func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", dir)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// findProgram finds the program argv0 names as the exec in the service will: in the
// directories of PATH when it has no slash, else as a path; relative paths start at
// the working directory dir ("" for watchdog's own).
func findProgram(argv0, path, dir string) error {
	inDir := func(p string) string {
		if dir == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	if strings.Contains(argv0, "/") {
		return checkExecutable(inDir(argv0))
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "." // an empty PATH entry is the working directory
		}
		if checkExecutable(inDir(filepath.Join(d, argv0))) == nil {
			return nil
		}
	}
	return fmt.Errorf("%s not found in PATH %q", argv0, path)
}

func checkExecutable(file string) error {
	fi, err := os.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", file)
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory", file)
	case fi.Mode()&0o111 == 0:
		return fmt.Errorf("%s is not executable", file)
	}
	return nil
}
