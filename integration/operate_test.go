package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"
)

// unusedLoopbackAddr is a 127.0.0.1 address nobody listens on now, for a metrics listener.
func unusedLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// scrape GETs url and parses it as the Prometheus text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape of %s does not parse: %v", url, err)
	}
	return families
}

// sample is the value of the sample of family whose labels include every name/value pair.
func sample(t *testing.T, families map[string]*dto.MetricFamily, family string, labels ...string) float64 {
	t.Helper()
	f, ok := families[family]
	if !ok {
		t.Fatalf("no metric family %s", family)
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no sample of %s with %v", family, labels)
	return 0
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestMetricsAgreeWithStatusAfterACrashLoop: a scrape after a crash loop shows the restarts,
// exit codes and state that `watchdog status --json` shows, and /healthz and /readyz follow
// the services.
func TestMetricsAgreeWithStatusAfterACrashLoop(t *testing.T) {
	t.Parallel()
	addr := unusedLoopbackAddr(t)
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
metrics_address = %q

[services.crash]
command = %s
restart = "on-failure"
restart_delay = "20ms"
max_restarts = 2

[services.steady]
command = %s
`, addr, fixtureCmd("exit", "1"), fixtureCmd("sleep")))
	w.waitEvent("failed", "service", "crash")
	socket := controlSocket(w)

	res := runClient(t, watchdogBin, nil, "status", "--json", "--socket", socket)
	var doc struct {
		Services []struct {
			Name     string `json:"name"`
			State    string `json:"state"`
			Restarts int    `json:"restarts"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil {
		t.Fatalf("status --json: %v: %v", err, res)
	}
	families := scrape(t, "http://"+addr+"/metrics")
	for _, s := range doc.Services {
		if got := sample(t, families, "watchdog_service_restarts_total", "service", s.Name); int(got) != s.Restarts {
			t.Errorf("%s: restarts_total %v, status says %d", s.Name, got, s.Restarts)
		}
		if got := sample(t, families, "watchdog_service_state", "service", s.Name, "state", s.State); got != 1 {
			t.Errorf("%s: state{%s} = %v, status says it is %s", s.Name, s.State, got, s.State)
		}
	}
	if got := sample(t, families, "watchdog_service_exits_total", "service", "crash", "code", "1"); got != 3 {
		t.Errorf("crash: exits_total{code=1} = %v, want 3 (the first run and 2 restarts)", got)
	}
	if code := httpStatus(t, "http://"+addr+"/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz with a failed service: %d, want 503", code)
	}
	if code := httpStatus(t, "http://"+addr+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a failed service: %d, want 503", code)
	}
	// The operator takes the failed service down: everything is as wanted again.
	if res := runClient(t, watchdogBin, nil, "stop", "--socket", socket, "crash"); res.code != 0 {
		t.Fatalf("stop crash: %v", res)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code := httpStatus(t, "http://"+addr+path); code != http.StatusOK {
			t.Errorf("%s with the failed service stopped by the operator: %d, want 200", path, code)
		}
	}
	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d, want 0", code)
	}
}

// TestJSONServiceLinesNeverMix: two services printing lines at the same time in log = "json"
// mode: every stdout line parses, each names its service and stream, no line mixes the two,
// and none is lost while stdout is read.
func TestJSONServiceLinesNeverMix(t *testing.T) {
	t.Parallel()
	const n = 2000
	printer := func(name string) string {
		return tomlList("/bin/sh", "-c", fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "%s line $i"; i=$((i+1)); done; exec %s sleep`, n, name, fixtureBin))
	}
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
log = "json"

[services.alpha]
command = %s

[services.beta]
command = %s
`, printer("alpha"), printer("beta")))
	next := map[string]int{"alpha": 0, "beta": 0}
	ok := w.stdout.wait(eventTimeout, func(_ int, line string) bool {
		var fields map[string]any
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			t.Errorf("stdout line is not JSON: %q", line)
			return true
		}
		service, _ := fields["service"].(string)
		text, isOutput := fields["line"].(string)
		if !isOutput {
			return false // one of watchdog's own events
		}
		if fields["stream"] != "stdout" {
			t.Errorf("line %q on stream %v, want stdout", text, fields["stream"])
		}
		if want := fmt.Sprintf("%s line %d", service, next[service]); text != want {
			t.Errorf("service %s printed %q, want %q (lines lost, reordered or mixed)", service, text, want)
			return true
		}
		next[service]++
		return next["alpha"] == n && next["beta"] == n
	})
	if !ok {
		t.Fatalf("within %v: %v of %d lines of each service", eventTimeout, next, n)
	}
	w.signal(unix.SIGTERM)
	w.waitExit(eventTimeout)
}

// TestStalledStdoutDoesNotStopSupervision: while nobody reads watchdog's stdout, a service
// keeps crash-looping and being restarted (the control socket shows it), lines are dropped
// and counted, and once stdout is read again logging resumes with a warning that says how
// many lines were lost.
func TestStalledStdoutDoesNotStopSupervision(t *testing.T) {
	t.Parallel()
	addr := unusedLoopbackAddr(t)
	chatty := tomlList("/bin/sh", "-c", `i=0; while [ $i -lt 5000 ]; do echo "crashing soon, line $i, with some text to fill the pipe quickly"; i=$((i+1)); done; exit 1`)
	w := startWithStalledStdout(t, asPID1, "--config", writeConfig(t, fmt.Sprintf(`
[watchdog]
metrics_address = %q
log = "json"

[services.chatty]
command = %s
restart_delay = "10ms"
restart_max_delay = "50ms"
`, addr, chatty)))
	// The harness's socket: controlSocket would wait for an event on the stalled stdout.
	socket := filepath.Join(filepath.Dir(w.report), "watchdog.sock")
	for deadline := time.Now().Add(eventTimeout); ; time.Sleep(pollInterval) {
		if _, err := os.Stat(socket); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no control socket %s within %v", socket, eventTimeout)
		}
	}
	restartsAt := func() int {
		res, lines := status(t, socket)
		line, ok := lines["chatty"]
		_, after, found := strings.Cut(line, "restarts ")
		n, err := strconv.Atoi(strings.TrimRight(strings.SplitN(after, ",", 2)[0], ")"))
		if !ok || !found || err != nil {
			t.Fatalf("no restart count in status: %v", res)
		}
		return n
	}
	first := restartsAt()
	deadline := time.Now().Add(eventTimeout)
	for restartsAt() < first+5 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 5 restarts within %v with stdout stalled", eventTimeout)
		}
		time.Sleep(pollInterval)
	}
	if dropped := sample(t, scrape(t, "http://"+addr+"/metrics"), "watchdog_log_lines_dropped_total"); dropped == 0 {
		t.Error("no log lines counted as dropped while stdout was stalled")
	}
	w.resumeStdout()
	// The warning comes at the next 10 s tick after lines were dropped.
	var lost event
	found := w.stdout.wait(15*time.Second, func(i int, line string) bool {
		fields, err := parseEvent(line)
		lost = event{line: i, fields: fields}
		return err == nil && lost.get("msg") == "log_lines_dropped"
	})
	if !found {
		t.Fatal("no log_lines_dropped event within 15s of stdout being read again")
	}
	if n, err := strconv.Atoi(lost.get("dropped_total")); err != nil || n == 0 {
		t.Errorf("log_lines_dropped event %v: want a positive dropped_total", lost.fields)
	}
	w.signal(unix.SIGTERM)
	w.waitExit(eventTimeout)
}

// TestReloadBySIGHUP: SIGHUP applies an edited config: a new service starts, a removed one
// stops, a changed one gets a new pid and an unchanged one keeps its pid; a broken edit then
// changes nothing.
func TestReloadBySIGHUP(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, fmt.Sprintf(`
[services.keep]
command = %[1]s

[services.change]
command = %[1]s

[services.remove]
command = %[1]s
`, fixtureCmd("sleep")))
	w := startWatchdog(t, asPID1, "--config", path)
	pids := map[string]int{}
	for _, name := range []string{"keep", "change", "remove"} {
		pids[name] = eventPID(t, w.waitEvent("started", "service", name))
	}
	edit := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit(fmt.Sprintf(`
[services.keep]
command = %[1]s

[services.change]
command = %[1]s
stop_grace_period = "3s"

[services.add]
command = %[1]s
`, fixtureCmd("sleep")))
	w.signal(unix.SIGHUP)
	reloaded := w.waitEvent("reloaded")
	for key, want := range map[string]string{"added": "[add]", "removed": "[remove]", "changed": "[change]", "unchanged": "[keep]"} {
		if got := reloaded.get(key); got != want {
			t.Errorf("reloaded %s = %s, want %s", key, got, want)
		}
	}
	w.waitEvent("started", "service", "add")
	restarted := waitEventCount(w, 2, "started", "service", "change")[1]
	if eventPID(t, restarted) == pids["change"] {
		t.Error("the changed service kept its pid")
	}
	w.waitEvent("exited", "service", "remove")
	if n := len(w.events("started", "service", "keep")); n != 1 {
		t.Errorf("keep started %d times, want once", n)
	}

	edit("[services.keep\n")
	w.signal(unix.SIGHUP)
	w.waitEvent("reload_failed")
	res, lines := status(t, controlSocket(w))
	for _, name := range []string{"keep", "change", "add"} {
		wantStatusLine(t, res, lines, name, "UP")
	}
	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d, want 0", code)
	}
}
