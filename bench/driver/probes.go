package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	probedServices = 100
	probePortBase  = 20000 // service i listens on 127.0.0.1:probePortBase+i, in its own network namespace
)

func measureProbes(b *bench) *section {
	s := &section{title: "probe cost",
		method: fmt.Sprintf("watchdog with %d helper services each answering HTTP on its own port, each with a "+
			"`[healthcheck] http` every 1 s, beside the same %d services without healthchecks, in network "+
			"namespaces of their own. Once every service was reported healthy, watchdog's on-CPU time "+
			"(/proc/PID/task/*/schedstat) is read over %s (flag -probe) and given as a share of one core.",
			probedServices, probedServices, b.probeFor)}
	var probed, plain []service
	for i := range probedServices {
		port := strconv.Itoa(probePortBase + i)
		plain = append(plain, service{args: []string{"http", port}})
		probed = append(probed, service{args: []string{"http", port}, healthURL: "http://127.0.0.1:" + port + "/"})
	}
	labels := []string{"100 services, HTTP healthcheck every 1 s", "100 services, no healthcheck"}
	var ins []*instance
	defer func() { killAll(ins) }()
	for i, svcs := range [][]service{probed, plain} {
		in, err := b.launch(watchdogConfig, svcs, launchOptions{netns: true})
		if err != nil {
			s.fail("%s: %v", labels[i], err)
			return s
		}
		ins = append(ins, in)
	}
	for _, in := range ins {
		if _, err := in.waitReports("up", probedServices, startTimeout); err != nil {
			s.fail("%v", err)
			return s
		}
	}
	if err := waitHealthy(ins[0], probedServices, 30*time.Second); err != nil {
		s.fail("%v", err)
		s.unjudged("100 services probed every second under 2% of one core", "healthchecks did not run")
		return s
	}
	before := []activity{activityOf([]int{ins[0].pid1}), activityOf([]int{ins[1].pid1})}
	time.Sleep(b.probeFor)
	t := table{header: []string{"watchdog", "CPU in " + b.probeFor.String(), "share of one core", "context switches", "threads"}}
	shares := make([]float64, len(ins))
	for i, in := range ins {
		a := activityOf([]int{in.pid1}).minus(before[i])
		shares[i] = a.cpuNs / float64(b.probeFor.Nanoseconds()) * 100
		t.add(labels[i], dur(a.cpuNs), fmt.Sprintf("%.2f%%", shares[i]), count(a.switches), fmt.Sprint(a.threads))
	}
	s.tables = append(s.tables, t)
	s.note("No peer has HTTP healthchecks: s6, runit and supervisord leave probing to the service or to Docker's HEALTHCHECK.")
	s.judge("100 services probed every second: under 2% of one core", fmt.Sprintf("%.2f%%", shares[0]), shares[0] < 2)
	return s
}

// waitHealthy waits until watchdog logged n "healthy" events.
func waitHealthy(in *instance, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(filepath.Join(in.dir, "output.log"))
		got := strings.Count(string(data), `"msg":"healthy"`)
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d services reported healthy within %s: are healthchecks wired in?", got, n, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
