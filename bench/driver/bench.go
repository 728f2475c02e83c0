package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// bench is one run of the driver: where the binaries are, where runs keep their files, and
// the verdicts on the targets gathered from every measure.
type bench struct {
	bin      string // holds watchdog and helper
	findings string
	idleFor  time.Duration
	probeFor time.Duration
	keep     bool

	watchdog string // absolute paths
	helper   string
	tmp      string // every run's directory is made in here
	runs     int    // directories made so far, for unique names
	// resident are the idle setups that the memory and idle measures share, once started.
	resident []*instance
}

func (b *bench) open() error {
	var err error
	if b.watchdog, err = filepath.Abs(filepath.Join(b.bin, "watchdog")); err != nil {
		return err
	}
	if b.helper, err = filepath.Abs(filepath.Join(b.bin, "helper")); err != nil {
		return err
	}
	for _, path := range []string{b.watchdog, b.helper} {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%w (bench/run builds it)", err)
		}
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("PID namespaces need root")
	}
	b.tmp, err = os.MkdirTemp("", "watchdog-bench-")
	return err
}

func (b *bench) close() {
	killAll(b.resident)
	if b.keep {
		logf("runs kept in %s", b.tmp)
		return
	}
	os.RemoveAll(b.tmp)
}

// runDir makes a fresh directory for one run.
func (b *bench) runDir(name string) (string, error) {
	b.runs++
	dir := filepath.Join(b.tmp, fmt.Sprintf("%03d-%s", b.runs, slug(name)))
	return dir, os.Mkdir(dir, 0o755)
}

func slug(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(name))
}

// machine describes where the numbers come from.
func machine() string {
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	load := "?"
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(data))[:3], " ")
	}
	return fmt.Sprintf("%d CPUs (nproc), %s, Linux %s, load average at the start %s",
		runtime.NumCPU(), cpu, unix.ByteSliceToString(uts.Release[:]), load)
}

// versions lists what was measured: Debian's packages, the tools and watchdog's own build.
func (b *bench) versions() []string {
	var lines []string
	out, _ := exec.Command(b.watchdog, "version").Output()
	lines = append(lines, "watchdog: "+strings.Join(strings.Fields(string(out)), " ")+commitOf())
	for _, pkg := range []string{"tini", "dumb-init", "catatonit", "s6", "runit", "supervisor", "hyperfine", "util-linux"} {
		v, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", pkg).Output()
		if err != nil {
			v = []byte("not installed")
		}
		lines = append(lines, pkg+": "+string(v))
	}
	lines = append(lines, "go: "+runtime.Version())
	return lines
}

func commitOf() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return " (commit " + string(bytes.TrimSpace(out)) + ")"
}

// monotonic is CLOCK_MONOTONIC in nanoseconds, the clock the helper reports in.
func monotonic() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) // cannot fail with a valid clock id
	return ts.Nano()
}
