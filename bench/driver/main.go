// Command driver runs watchdog's benchmarks side by side with tini, dumb-init, catatonit, s6,
// runit and supervisord, every one of them as PID 1 of a fresh PID namespace, and writes the
// results as a Markdown report (bench/README.md). bench/run installs the peers, builds
// watchdog and the helper, and runs the driver from the repository's root.
//
// Every number is set beside the peers' numbers measured in the same run, interleaved where
// the measure allows: the machine is shared and noisy, so ratios mean more than absolutes.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// A measure runs one benchmark and returns its part of the report.
type measure struct {
	name  string
	about string
	run   func(b *bench) *section
}

// measures in the order of a full run: quick and quiet ones first.
var measures = []measure{
	{"size", "binary size and FROM-scratch image size", measureSize},
	{"startup", "start and exit of a trivial command (hyperfine)", measureStartup},
	{"signals", "signal forwarding latency, with a no-init baseline", measureSignals},
	{"reaping", "time to reap 10,000 orphans handed over at once", measureReaping},
	{"restart", "crash to restart, and restarts in 10 s", measureRestart},
	{"memory", "memory of the init's own processes with 1 and 100 services", measureMemory},
	{"idle", "on-CPU time and context switches while idle", measureIdle},
	{"shutdown", "SIGTERM to PID 1 until the namespace is empty", measureShutdown},
	{"scale", "1,000 services: start, status, shutdown", measureScale},
	{"probes", "CPU share of 100 HTTP healthchecks every second", measureProbes},
	{"micro", "Go micro-benchmarks of the hot paths (benchstat)", measureMicro},
}

func main() {
	b := &bench{}
	flag.StringVar(&b.bin, "bin", "bench/out/bin", "directory holding the watchdog and helper binaries")
	out := flag.String("out", "", "report file (default bench/RESULTS.md for a full run, else bench/out/RESULTS.md)")
	flag.StringVar(&b.findings, "findings", "bench/findings.md", "hand-written analysis of the misses, appended to the report")
	flag.DurationVar(&b.idleFor, "idle", 30*time.Second, "how long the idle measure watches")
	flag.DurationVar(&b.probeFor, "probe", 20*time.Second, "how long the probe measure watches")
	flag.BoolVar(&b.keep, "keep", false, "keep the runs' directories (configs, logs, reports)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: driver [flags] [MEASURE...] (all when none is named)\n\nmeasures:\n")
		for _, m := range measures {
			fmt.Fprintf(os.Stderr, "  %-9s %s\n", m.name, m.about)
		}
		fmt.Fprintln(os.Stderr, "\nflags:")
		flag.PrintDefaults()
	}
	flag.Parse()

	selected, err := selectMeasures(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		flag.Usage()
		os.Exit(2)
	}
	if *out == "" {
		*out = "bench/out/RESULTS.md"
		if len(selected) == len(measures) {
			*out = "bench/RESULTS.md"
		}
	}
	if err := b.open(); err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		os.Exit(1)
	}
	defer b.close()

	began := time.Now()
	var sections []*section
	for _, m := range selected {
		logf("== %s: %s", m.name, m.about)
		start := time.Now()
		s := m.run(b)
		s.measure, s.took = m.name, time.Since(start)
		sections = append(sections, s)
		logf("   %s took %s", m.name, s.took.Round(time.Second))
	}
	report := b.report(sections, time.Since(began))
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "driver:", err)
		os.Exit(1)
	}
	logf("wrote %s in %s", *out, time.Since(began).Round(time.Second))
}

func selectMeasures(names []string) ([]measure, error) {
	if len(names) == 0 {
		return measures, nil
	}
	var selected []measure
	for _, m := range measures {
		if slices.Contains(names, m.name) {
			selected = append(selected, m)
		}
	}
	for _, name := range names {
		if !slices.ContainsFunc(measures, func(m measure) bool { return m.name == name }) {
			return nil, fmt.Errorf("unknown measure %q", name)
		}
	}
	return selected, nil
}

// logf prints progress on stderr; the report is the only output that matters.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+strings.TrimSuffix(format, "\n")+"\n", args...)
}
