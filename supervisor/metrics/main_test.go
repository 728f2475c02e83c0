package metrics

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"watchdog/reaper"
	"watchdog/supervisor"
	"watchdog/supervisor/config"
	"watchdog/supervisor/logging"
)

// wait bounds every wait for an event; reaching it fails the test.
const wait = 10 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// harness is a real Supervisor running real processes, its metrics served on 127.0.0.1.
type harness struct {
	t      *testing.T
	url    string
	reaper *reaper.Reaper
	sup    *supervisor.Supervisor
	sink   *logging.Sink
}

// prepare makes a supervisor for the TOML config and serves its metrics; the services do not
// run until run. The supervisor also logs into a Sink whose output nobody reads, as under a
// stalled log driver, so that log lines are dropped and counted.
func prepare(t *testing.T, toml string) *harness {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	stdoutReader, stdout := io.Pipe()
	sink := logging.NewSink(stdout, 256)
	t.Cleanup(func() {
		_ = stdoutReader.Close() // frees the sink's writer; it has nothing to report
		sink.Close(wait)
	})
	stalled, err := logging.New(sink, logging.FormatJSON, "debug")
	if err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t, zaptest.WrapOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewTee(c, stalled.Core())
	})))
	r, err := reaper.New(log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	h := &harness{t: t, reaper: r, sink: sink}
	if h.sup, err = supervisor.New(cfg, r, log); err != nil {
		t.Fatal(err)
	}
	h.url = serve(t, Source{
		Services:        h.sup.Status,
		Orphans:         r.Orphans,
		LogLinesDropped: sink.Dropped,
		Version:         "test",
	})
	return h
}

// start is prepare, then run.
func start(t *testing.T, toml string) *harness {
	t.Helper()
	h := prepare(t, toml)
	h.run()
	return h
}

// run runs the supervisor until the test ends, then shuts it down by SIGTERM as watchdog is.
func (h *harness) run() {
	sigs := make(chan os.Signal, 1)
	exited := make(chan int, 1)
	go func() { exited <- h.sup.Run(sigs) }()
	h.t.Cleanup(func() {
		sigs <- syscall.SIGTERM
		select {
		case <-exited:
		case <-time.After(wait):
			h.t.Fatalf("supervisor still running %v after SIGTERM", wait)
		}
	})
}

// waitFor polls the status until cond holds for the named service, and returns its snapshot.
func (h *harness) waitFor(name, what string, cond func(supervisor.Snapshot) bool) supervisor.Snapshot {
	h.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		snap := find(h.t, h.sup.Status(), name)
		if cond(snap) {
			return snap
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s not %s within %v; last: %s", name, what, wait, snap.Line(time.Now()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func find(t *testing.T, snaps []supervisor.Snapshot, name string) supervisor.Snapshot {
	t.Helper()
	i := slices.IndexFunc(snaps, func(s supervisor.Snapshot) bool { return s.Name == name })
	if i < 0 {
		t.Fatalf("no service %s in the status", name)
	}
	return snaps[i]
}

func inState(st supervisor.State) func(supervisor.Snapshot) bool {
	return func(s supervisor.Snapshot) bool { return s.State == st }
}

// serve serves src on a port of 127.0.0.1 until the test ends and returns its base URL.
func serve(t *testing.T, src Source) string {
	t.Helper()
	srv, err := Listen("127.0.0.1:0", src, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return "http://" + srv.Addr().String()
}

// client leaves no idle connection behind for goleak.
var client = &http.Client{Timeout: wait, Transport: &http.Transport{DisableKeepAlives: true}}

// get returns the status and body of a GET of url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// wantTypes is every metric family the server may write, with its type.
var wantTypes = map[string]dto.MetricType{
	"watchdog_service_up":                      dto.MetricType_GAUGE,
	"watchdog_service_state":                   dto.MetricType_GAUGE,
	"watchdog_service_restarts_total":          dto.MetricType_COUNTER,
	"watchdog_service_ready":                   dto.MetricType_GAUGE,
	"watchdog_service_healthy":                 dto.MetricType_GAUGE,
	"watchdog_service_state_seconds":           dto.MetricType_GAUGE,
	"watchdog_service_last_start_time_seconds": dto.MetricType_GAUGE,
	"watchdog_service_exits_total":             dto.MetricType_COUNTER,
	"watchdog_signals_forwarded_total":         dto.MetricType_COUNTER,
	"watchdog_reloads_total":                   dto.MetricType_COUNTER,
	"watchdog_orphans_reaped_total":            dto.MetricType_COUNTER,
	"watchdog_log_lines_dropped_total":         dto.MetricType_COUNTER,
	"watchdog_build_info":                      dto.MetricType_GAUGE,
}

// families is a parsed scrape.
type families map[string]*dto.MetricFamily

// scrape GETs /metrics and parses it as Prometheus does. It fails the test unless every
// family is one of wantTypes, with HELP and its TYPE, and no series appears twice.
func scrape(t *testing.T, url string) families {
	t.Helper()
	resp, err := client.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != contentType {
		t.Fatalf("GET /metrics: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	parsed, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("scrape does not parse: %v\n%s", err, body)
	}
	for name, f := range parsed {
		want, known := wantTypes[name]
		if !known || f.GetType() != want || f.GetHelp() == "" {
			t.Errorf("family %s: type %v, help %q; want a known family with type %v and help", name, f.GetType(), f.GetHelp(), want)
		}
		seen := make(map[string]bool)
		for _, m := range f.GetMetric() {
			key := labelString(m)
			if seen[key] {
				t.Errorf("family %s: series {%s} twice", name, key)
			}
			seen[key] = true
		}
	}
	return parsed
}

// labelString is a metric's labels as sorted name=value pairs.
func labelString(m *dto.Metric) string {
	var pairs []string
	for _, l := range m.GetLabel() {
		pairs = append(pairs, l.GetName()+"="+l.GetValue())
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}

// value is the value of the series of family name with exactly labels (name, value pairs).
// It fails the test when there is no such series.
func (fs families) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, ok := fs.lookup(name, labels...)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

func (fs families) lookup(name string, labels ...string) (float64, bool) {
	var pairs []string
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, labels[i]+"="+labels[i+1])
	}
	slices.Sort(pairs)
	want := strings.Join(pairs, ",")
	for _, m := range fs[name].GetMetric() {
		if labelString(m) != want {
			continue
		}
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue(), true
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

// series counts the series of family name.
func (fs families) series(name string) int {
	return len(fs[name].GetMetric())
}
