package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Helpers of the faults_* and soak tests: watchdog's own resources as /proc shows them, its
// limits changed from outside with prlimit(2), a pids cgroup to put it in, its control socket
// and /metrics read in-process so that a reading is timed without a client's start-up.

// resourceUse is what /proc says a process uses at one moment.
type resourceUse struct {
	cpu     time.Duration // utime+stime
	rss     int64         // VmRSS, bytes
	threads int
	fds     int
}

func (u resourceUse) String() string {
	return fmt.Sprintf("cpu %v, rss %.1f MiB, %d threads, %d fds", u.cpu, float64(u.rss)/(1<<20), u.threads, u.fds)
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat; 100 on every Linux
// architecture Go supports.
const clockTick = 10 * time.Millisecond

// readResourceUse reads pid's CPU time, RSS, threads and open descriptors.
func readResourceUse(t *testing.T, pid int) resourceUse {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name: state is [0], utime [11], stime [12].
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	u := resourceUse{cpu: time.Duration(utime+stime) * clockTick}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		key, value, _ := strings.Cut(line, ":")
		f := strings.Fields(value)
		switch {
		case key == "VmRSS" && len(f) == 2: // "1234 kB"
			kb, _ := strconv.ParseInt(f[0], 10, 64)
			u.rss = kb << 10
		case key == "Threads" && len(f) == 1:
			u.threads, _ = strconv.Atoi(f[0])
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	u.fds = len(fds)
	return u
}

// settledResourceUse reads pid's use n times, pollInterval apart, and keeps the lowest
// thread and descriptor counts: a probe or a start under way holds a few for a moment, a leak
// holds them for good. cpu and rss are the last reading's.
func settledResourceUse(t *testing.T, pid, n int) resourceUse {
	t.Helper()
	least := readResourceUse(t, pid)
	for range n - 1 {
		time.Sleep(pollInterval)
		u := readResourceUse(t, pid)
		u.threads, u.fds = min(u.threads, least.threads), min(u.fds, least.fds)
		least = u
	}
	return least
}

// openFDs returns the numbers of pid's open file descriptors.
func openFDs(t *testing.T, pid int) map[int]bool {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	open := make(map[int]bool, len(entries))
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil {
			open[fd] = true
		}
	}
	return open
}

// fdLimitLeaving returns the RLIMIT_NOFILE that leaves pid n descriptors to open: the
// (n+1)th lowest descriptor number that was free at one of a second's readings at least.
// A descriptor is numbered lowest free first, and EMFILE comes once that number reaches the
// limit, so this limit leaves exactly the n numbers below it that are free; a descriptor held
// only for a moment (a probe's pipe, a start's) is counted free, since it soon will be.
func fdLimitLeaving(t *testing.T, pid, n int) int {
	t.Helper()
	alwaysOpen := openFDs(t, pid)
	for range 100 {
		time.Sleep(pollInterval)
		open := openFDs(t, pid)
		maps.DeleteFunc(alwaysOpen, func(fd int, _ bool) bool { return !open[fd] })
	}
	for fd := 0; ; fd++ {
		if alwaysOpen[fd] {
			continue
		}
		if n == 0 {
			return fd
		}
		n--
	}
}

// setSoftLimit sets pid's soft limit of resource to soft with prlimit(2), keeping the hard
// limit (raising it again needs CAP_SYS_RESOURCE), and returns the soft limit it had.
func setSoftLimit(t *testing.T, pid, resource int, soft uint64) uint64 {
	t.Helper()
	var old unix.Rlimit
	if err := unix.Prlimit(pid, resource, nil, &old); err != nil {
		t.Fatal(os.NewSyscallError("prlimit", err))
	}
	if soft > old.Max {
		soft = old.Max
	}
	limit := unix.Rlimit{Cur: soft, Max: old.Max}
	if err := unix.Prlimit(pid, resource, &limit, nil); err != nil {
		t.Fatalf("prlimit(%d, %d, soft %d): %v", pid, resource, soft, err)
	}
	return old.Cur
}

// testCgroup is a cgroup of one controller ("pids", "cpu"), v1 or v2, made for one test.
type testCgroup struct {
	t   *testing.T
	dir string
	v2  bool
}

// newCgroup makes a cgroup of controller, removed when the test ends. Make it before
// watchdog starts, so that its removal comes after the harness has ended watchdog: a cgroup
// with processes in it cannot be removed.
func newCgroup(t *testing.T, controller string) *testCgroup {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a cgroup needs root")
	}
	root, v2, err := cgroupHierarchy(controller)
	if err != nil {
		t.Skipf("no %s cgroup controller to use: %v", controller, err)
	}
	dir, err := os.MkdirTemp(root, "watchdog-faults-")
	if err != nil {
		t.Skipf("cannot make a %s cgroup: %v", controller, err)
	}
	cg := &testCgroup{t: t, dir: dir, v2: v2}
	t.Cleanup(cg.remove)
	return cg
}

// cgroupHierarchy finds where new cgroups of controller can be made: its v1 hierarchy, or the
// root of the v2 hierarchy with the controller enabled for its children.
func cgroupHierarchy(controller string) (root string, v2 bool, err error) {
	var fs unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &fs); err != nil {
		return "", false, err
	}
	if fs.Type == unix.CGROUP2_SUPER_MAGIC {
		const control = "/sys/fs/cgroup/cgroup.subtree_control"
		enabled, err := os.ReadFile(control)
		if err != nil {
			return "", false, err
		}
		if !slices.Contains(strings.Fields(string(enabled)), controller) {
			if err := os.WriteFile(control, []byte("+"+controller), 0); err != nil {
				return "", false, fmt.Errorf("enable %s in /sys/fs/cgroup: %w", controller, err)
			}
		}
		return "/sys/fs/cgroup", true, nil
	}
	root = filepath.Join("/sys/fs/cgroup", controller)
	if _, err := os.Stat(filepath.Join(root, "cgroup.procs")); err != nil {
		return "", false, fmt.Errorf("cgroup v1 without a %s hierarchy: %w", controller, err)
	}
	return root, false, nil
}

func (cg *testCgroup) write(file, value string) {
	cg.t.Helper()
	if err := os.WriteFile(filepath.Join(cg.dir, file), []byte(value), 0); err != nil {
		cg.t.Fatal(err)
	}
}

func (cg *testCgroup) read(file string) string {
	cg.t.Helper()
	data, err := os.ReadFile(filepath.Join(cg.dir, file))
	if err != nil {
		cg.t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// add moves process pid, all its threads, into the cgroup; its children stay where they are.
func (cg *testCgroup) add(pid int) { cg.write("cgroup.procs", strconv.Itoa(pid)) }

// pidsCurrent is how many tasks (threads) the cgroup holds.
func (cg *testCgroup) pidsCurrent() int {
	n, err := strconv.Atoi(cg.read("pids.current"))
	if err != nil {
		cg.t.Fatal(err)
	}
	return n
}

// pidsLimit sets pids.max: a number, or "max".
func (cg *testCgroup) pidsLimit(max string) { cg.write("pids.max", max) }

// pidsRefused is how many forks and clones the pids limit has refused, from pids.events.
func (cg *testCgroup) pidsRefused() int {
	for line := range strings.Lines(cg.read("pids.events")) {
		if n, ok := strings.CutPrefix(strings.TrimSpace(line), "max "); ok {
			count, _ := strconv.Atoi(n)
			return count
		}
	}
	return 0
}

// cpuLimit lets the cgroup's tasks run for quota in every 100ms, together; 0 lifts the limit.
func (cg *testCgroup) cpuLimit(quota time.Duration) {
	const period = 100 * time.Millisecond
	switch {
	case cg.v2 && quota == 0:
		cg.write("cpu.max", "max")
	case cg.v2:
		cg.write("cpu.max", fmt.Sprintf("%d %d", quota.Microseconds(), period.Microseconds()))
	case quota == 0:
		cg.write("cpu.cfs_quota_us", "-1")
	default:
		cg.write("cpu.cfs_period_us", strconv.FormatInt(period.Microseconds(), 10))
		cg.write("cpu.cfs_quota_us", strconv.FormatInt(quota.Microseconds(), 10))
	}
}

// remove lifts the limits and removes the cgroup once its last task is gone.
func (cg *testCgroup) remove() {
	for file, none := range map[string]string{"pids.max": "max", "cpu.max": "max", "cpu.cfs_quota_us": "-1"} {
		if _, err := os.Stat(filepath.Join(cg.dir, file)); err == nil {
			os.WriteFile(filepath.Join(cg.dir, file), []byte(none), 0)
		}
	}
	deadline := time.Now().Add(eventTimeout)
	for {
		err := os.Remove(cg.dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			cg.t.Errorf("cgroup %s not removed within %v: %v", cg.dir, eventTimeout, err)
			return
		}
		time.Sleep(pollInterval)
	}
}

// statusRequest is `watchdog status`'s request on the control socket.
const statusRequest = `{"command":"status"}` + "\n"

// statusService is one service of a status answer.
type statusService struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Pid      int    `json:"pid"`
	Restarts int    `json:"restarts"`
	Health   string `json:"health"`
	Reason   string `json:"reason"`
}

// askStatus sends `watchdog status`'s request on socket and returns the services of the answer
// and how long watchdog took to give it, from the connect to the end of the answer.
func askStatus(socket string, timeout time.Duration) ([]statusService, time.Duration, error) {
	start := time.Now()
	conn, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		return nil, time.Since(start), err
	}
	defer conn.Close()
	conn.SetDeadline(start.Add(timeout))
	if _, err := io.WriteString(conn, statusRequest); err != nil {
		return nil, time.Since(start), err
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	took := time.Since(start)
	if err != nil {
		return nil, took, fmt.Errorf("read the answer: %w", err)
	}
	var resp struct {
		OK       bool            `json:"ok"`
		Error    string          `json:"error"`
		Services []statusService `json:"services"`
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, took, err
	}
	if !resp.OK {
		return nil, took, errors.New(resp.Error)
	}
	return resp.Services, took, nil
}

// freeAddress returns a 127.0.0.1 address whose port was free a moment ago, for
// metrics_address, which takes no port 0.
func freeAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// metricsAddress waits until watchdog serves /metrics and returns its address.
func metricsAddress(w *watchdogRun) string {
	w.t.Helper()
	addr := w.waitEvent("metrics_listening").get("address")
	if addr == "" {
		w.t.Fatal("metrics_listening event without an address")
	}
	return addr
}

// scrapeSamples reads /metrics at addr: each sample's value by its name and labels as
// written, e.g. `watchdog_service_exits_total{service="web",code="1"}`.
func scrapeSamples(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	client := http.Client{Timeout: eventTimeout}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	samples := make(map[string]float64)
	scanner := bufio.NewScanner(resp.Body)
	for scanner.Scan() {
		line := scanner.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		value, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		samples[line[:i]] = value
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return samples
}

// sumSamples adds up the samples of family name whose labels include every one of labels
// (`service="web"`).
func sumSamples(samples map[string]float64, name string, labels ...string) float64 {
	sum := 0.0
	for key, v := range samples {
		family, rest, _ := strings.Cut(key, "{")
		if family != name {
			continue
		}
		// Service names and exit codes hold no commas.
		have := strings.Split(strings.TrimSuffix(rest, "}"), ",")
		if !slices.ContainsFunc(labels, func(l string) bool { return !slices.Contains(have, l) }) {
			sum += v
		}
	}
	return sum
}

// countEvents counts the events logged so far by msg, all from one reading of the log.
func countEvents(w *watchdogRun) map[string]int {
	lines, _, _ := w.stdout.snapshot()
	counts := make(map[string]int)
	for _, line := range lines {
		if e, err := parseEvent(line); err == nil {
			counts[fmt.Sprint(e["msg"])]++
		}
	}
	return counts
}

// zombiesBelow returns the zombies among the descendants of pid (as the test numbers them).
func zombiesBelow(pid int) []proc {
	var found []proc
	for _, p := range descendantsOf(allProcs(), pid) {
		if p.zombie() {
			found = append(found, p)
		}
	}
	return found
}

// waitNoZombiesBelow fails the test unless watchdog has no zombie below it within within.
func waitNoZombiesBelow(t *testing.T, w *watchdogRun, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		z := zombiesBelow(w.pid)
		if len(z) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d zombies below watchdog %v on; first: %v", len(z), within, z[0])
		}
		time.Sleep(pollInterval)
	}
}

// envDurationOr is the duration in the environment variable name, else def.
func envDurationOr(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// envIntOr is the number in the environment variable name, else def.
func envIntOr(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}
