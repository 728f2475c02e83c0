package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// microPackages hold the hot-path benchmarks (reaper/bench_test.go, supervisor/bench_test.go,
// supervisor/config/bench_test.go).
var microPackages = []string{"./reaper", "./supervisor", "./supervisor/config"}

const (
	microCount     = 6 // enough runs for benchstat's confidence intervals
	microBenchtime = "200ms"
	microOut       = "bench/out/micro.txt" // raw `go test -bench` output: benchstat old.txt bench/out/micro.txt
)

func measureMicro(b *bench) *section {
	s := &section{title: "Go micro-benchmarks",
		method: fmt.Sprintf("`go test -run '^$' -bench . -benchmem -count %d -benchtime %s %s`, summarized by benchstat. "+
			"The raw output is kept in %s: compare a change with `benchstat before.txt %s`.",
			microCount, microBenchtime, strings.Join(microPackages, " "), microOut, microOut)}
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", fmt.Sprint(microCount),
		"-benchtime", microBenchtime}, microPackages...)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err := os.MkdirAll(filepath.Dir(microOut), 0o755); err == nil {
		_ = os.WriteFile(microOut, out, 0o644)
	}
	if err != nil {
		s.fail("go test -bench: %v: %s", err, lastLines(string(out), 20))
		return s
	}
	summary, err := benchstat(microOut)
	if err != nil {
		s.note("benchstat is not available (%v): the raw results follow.", err)
		summary = string(out)
	}
	s.code = strings.TrimSpace(summary)
	return s
}

// benchstat summarizes a benchmark output file with benchstat from GOPATH/bin (bench/run
// installs it there) or PATH.
func benchstat(file string) (string, error) {
	path, err := exec.LookPath("benchstat")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		path = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "benchstat")
	}
	out, err := exec.Command(path, file).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s: %v: %s", path, err, out)
	}
	return string(out), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
