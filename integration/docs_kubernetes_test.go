package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"watchdog/supervisor/config"
)

// docs/kubernetes.yaml must agree with the config it runs, docs/kubernetes.toml: the probes
// ask metrics_address's port at the paths watchdog serves, the ports named in the Pod are
// the config's, and terminationGracePeriodSeconds outlasts shutdown_timeout. The config is
// run, and the probes' paths asked, as the kubelet would.

// flattenYAML reads the block-style YAML of a Kubernetes manifest into dotted paths:
// "spec.containers.0.ports.1.containerPort" = "9102". It knows what docs/kubernetes.yaml
// uses: maps, lists of maps or scalars indented below their key, plain or double-quoted
// scalars, and comments on lines of their own or after a value.
func flattenYAML(text string) (map[string]string, error) {
	type open struct {
		col  int
		name string
	}
	var stack []open
	next := map[string]int{} // path of a list -> index of its next item
	out := map[string]string{}
	path := func(name string) string {
		parts := make([]string, 0, len(stack)+1)
		for _, o := range stack {
			parts = append(parts, o.name)
		}
		return strings.Join(append(parts, name), ".")
	}
	pop := func(col int) {
		for len(stack) > 0 && stack[len(stack)-1].col >= col {
			stack = stack[:len(stack)-1]
		}
	}
	for n, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, " #"); i >= 0 && !strings.Contains(line[:i], `"`) {
			line = line[:i]
		}
		content := strings.TrimLeft(line, " ")
		if content == "" || strings.HasPrefix(content, "#") {
			continue
		}
		col := len(line) - len(content)
		content = strings.TrimRight(content, " ")
		if item, ok := strings.CutPrefix(content, "- "); ok || content == "-" {
			pop(col)
			list := path("")
			list = strings.TrimSuffix(list, ".")
			index := strconv.Itoa(next[list])
			next[list]++
			if !strings.Contains(item, ":") {
				out[path(index)] = unquoteYAML(item)
				continue
			}
			stack = append(stack, open{col, index})
			col, content = col+2, item
		}
		key, value, ok := strings.Cut(content, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: no key: %q", n+1, line)
		}
		pop(col)
		value = strings.TrimSpace(value)
		if value == "" {
			stack = append(stack, open{col, key})
			continue
		}
		out[path(key)] = unquoteYAML(value)
	}
	return out, nil
}

func unquoteYAML(v string) string {
	if s, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
		return s
	}
	return v
}

func TestDocsFlattenYAML(t *testing.T) {
	got, err := flattenYAML(`# comment
a:
  b: 1   # after
  list:
    - name: x
      port: 80
    - name: "y z"
      nested:
        k: v
  scalars:
    - one
    - two
c: top
`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"a.b": "1", "a.list.0.name": "x", "a.list.0.port": "80", "a.list.1.name": "y z",
		"a.list.1.nested.k": "v", "a.scalars.0": "one", "a.scalars.1": "two", "c": "top",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("flattenYAML:\n%v\nwant\n%v", got, want)
	}
}

// probe is one of the Pod's HTTP probes.
type probe struct{ name, path, port string }

func TestDocsKubernetes(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("docs/kubernetes.toml runs python3:", err)
	}
	manifest, err := flattenYAML(docsFile(t, "kubernetes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join("..", "docs", "kubernetes.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if manifest["kind"] != "Pod" {
		t.Errorf("kind %q, want Pod", manifest["kind"])
	}
	const container = "spec.containers.0."

	// Ports: the metrics port is metrics_address's, the http port the web server's.
	_, metricsPort, err := net.SplitHostPort(cfg.Watchdog.MetricsAddress)
	if err != nil || cfg.Watchdog.MetricsAddress == "" {
		t.Fatalf("metrics_address %q: the probes need it", cfg.Watchdog.MetricsAddress)
	}
	named := map[string]string{}
	for i := 0; ; i++ {
		p := container + "ports." + strconv.Itoa(i) + "."
		port, ok := manifest[p+"containerPort"]
		if !ok {
			break
		}
		named[manifest[p+"name"]] = port
	}
	if named["metrics"] != metricsPort {
		t.Errorf("containerPort metrics is %q, metrics_address %q", named["metrics"], cfg.Watchdog.MetricsAddress)
	}
	webPort := ""
	for _, s := range cfg.Services {
		if s.Healthcheck != nil && s.Healthcheck.HTTP != "" {
			u, err := url.Parse(s.Healthcheck.HTTP)
			if err != nil {
				t.Fatal(err)
			}
			webPort = u.Port()
		}
	}
	if named["http"] == "" || named["http"] != webPort {
		t.Errorf("containerPort http is %q, the web server's health check asks port %q", named["http"], webPort)
	}
	if manifest["metadata.annotations.prometheus.io/port"] != metricsPort || manifest["metadata.annotations.prometheus.io/path"] != "/metrics" {
		t.Errorf("prometheus.io annotations: port %q, path %q; want %s, /metrics", manifest["metadata.annotations.prometheus.io/port"],
			manifest["metadata.annotations.prometheus.io/path"], metricsPort)
	}

	// Probes: at the metrics port, at the paths watchdog serves for them.
	var probes []probe
	for name, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"} {
		p := probe{name, manifest[container+name+".httpGet.path"], manifest[container+name+".httpGet.port"]}
		if p.path == "" && name == "startupProbe" {
			continue
		}
		if number, isName := named[p.port]; isName {
			p.port = number
		}
		if p.path != path || p.port != metricsPort {
			t.Errorf("%s asks port %q at %q, want metrics_address's port %s at %s", name, p.port, p.path, metricsPort, path)
		}
		probes = append(probes, p)
	}

	// The shutdown ends before the kubelet's SIGKILL.
	grace, err := strconv.Atoi(manifest["spec.terminationGracePeriodSeconds"])
	if err != nil {
		t.Fatalf("terminationGracePeriodSeconds: %v", err)
	}
	if time.Duration(grace)*time.Second <= cfg.Watchdog.ShutdownTimeout {
		t.Errorf("terminationGracePeriodSeconds %d does not outlast shutdown_timeout %v", grace, cfg.Watchdog.ShutdownTimeout)
	}
	if t.Failed() {
		return
	}
	runKubernetesConfig(t, webPort, metricsPort, probes)
}

// runKubernetesConfig runs docs/kubernetes.toml on free ports and asks each probe's path
// until it answers 200, then stops watchdog as the kubelet does.
func runKubernetesConfig(t *testing.T, webPort, metricsPort string, probes []probe) {
	text := docsFile(t, "kubernetes.toml")
	for old, replacement := range map[string]string{
		"0.0.0.0:" + metricsPort: "127.0.0.1:" + unusedPort(t),
		webPort:                  unusedPort(t),
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("docs/kubernetes.toml has no %q to replace for the test", old)
		}
		text = strings.ReplaceAll(text, old, replacement)
	}
	path := filepath.Join(t.TempDir(), "watchdog.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	w := startWatchdog(t, asSubreaper, "--config", path)
	_, port, err := net.SplitHostPort(w.waitEvent("metrics_listening").get("address"))
	if err != nil {
		t.Fatal(err)
	}
	// The example's web service is python3's http.server, whose start takes seconds on a
	// busy machine: wait as long as its start_period allows.
	found := w.stdout.wait(30*time.Second, func(i int, line string) bool {
		fields, err := parseEvent(line)
		e := event{line: i, fields: fields}
		return err == nil && e.matches("ready", []any{"service", "web"})
	})
	if !found {
		t.Fatal("the example's web service was not ready within 30s")
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for _, p := range append(probes, probe{"prometheus", "/metrics", metricsPort}) {
		deadline := time.Now().Add(eventTimeout)
		for {
			status, body := httpGet(client, "http://127.0.0.1:"+port+p.path)
			if status == http.StatusOK {
				if p.name == "prometheus" && !strings.Contains(body, "watchdog_service_up{") {
					t.Errorf("/metrics has no watchdog_service_up:\n%s", body)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: GET %s answered %d within %v: %s", p.name, p.path, status, eventTimeout, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	w.signal(unix.SIGTERM)
	w.waitEvent("shutdown_complete", "exit_code", 0)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
}

func httpGet(client *http.Client, u string) (int, string) {
	resp, err := client.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// unusedPort returns a TCP port nothing listens on just now.
func unusedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
