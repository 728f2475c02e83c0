package integration

import (
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// What an operator does to a running container: `docker exec C /watchdog status`,
// `docker kill -s USR1 C`, and Docker's HEALTHCHECK, which runs `/watchdog health`.

// dockerOperatorConfig has web, which reports every signal (so does the grandchild in its
// group), and fragile, which exits 1 on SIGUSR1 and may be restarted once: the second SIGUSR1
// makes it fail for good.
const dockerOperatorConfig = `
[watchdog]
log = "json"

[services.web]
command = ["/fixture", "grandchild-signals"]
environment = { FIXTURE_ROLE = "web" }

[services.fragile]
command = ["/fixture", "graceful-grandchild", "0s", "1"]
restart = "on-failure"
restart_delay = "100ms"
max_restarts = 1
environment = { FIXTURE_ROLE = "fragile" }
`

func testDockerOperator(t *testing.T, images dockerImages) {
	// The image's HEALTHCHECK, asked every second instead of every 30 and unhealthy at the
	// first failure instead of the third.
	c := runContainer(t, "--health-interval=1s", "--health-retries=1", configEnv("operator"), images.services)
	c.waitServiceReports("web", "web ready", 1)
	c.waitServiceReports("web", "grandchild ready", 1)
	c.waitServiceReports("fragile", "fragile ready", 1)
	c.waitHealth("healthy", dockerEventTimeout)

	// The control socket is /run/watchdog.sock, in a directory the scratch image lacks.
	res := c.exec("/watchdog", "status")
	lines := statusLines(t, res)
	if res.code != 0 {
		t.Errorf("docker exec /watchdog status exited %d, want 0: every service is up", res.code)
	}
	for _, service := range []string{"web", "fragile"} {
		if !strings.HasPrefix(lines[service], "UP (pid ") {
			t.Errorf("status of %s: %q, want UP with its pid", service, lines[service])
		}
	}
	res = c.exec("/watchdog", "status", "--json")
	var doc struct {
		Services []struct {
			Name  string
			State string
			Pid   int
		}
	}
	if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil || len(doc.Services) != 2 {
		t.Errorf("docker exec /watchdog status --json: %v, want a document with 2 services (%v)", res, err)
	}

	// SIGUSR1 reaches every service's process group: web and its grandchild report it,
	// fragile exits 1 and is restarted.
	c.kill("USR1")
	c.waitServiceReports("web", reportedSignal("web", unix.SIGUSR1), 1)
	c.waitServiceReports("web", reportedSignal("grandchild", unix.SIGUSR1), 1)
	c.waitEvent("signal_forwarded", "service", "web", "signal", "SIGUSR1")
	c.waitServiceReports("fragile", "fragile exiting 1 on SIGUSR1", 1)
	c.waitEvent("exited", "service", "fragile", "exit_code", 1)
	c.waitServiceReports("fragile", "fragile ready", 2)

	// Again: one restart was allowed, so fragile fails for good and the container is unhealthy.
	c.kill("USR1")
	c.waitServiceReports("web", reportedSignal("web", unix.SIGUSR1), 2)
	c.waitEvent("failed", "service", "fragile")
	c.waitHealth("unhealthy", dockerEventTimeout)
	res = c.exec("/watchdog", "status")
	lines = statusLines(t, res)
	if res.code != 3 || !strings.Contains(lines["fragile"], "failed") || !strings.HasPrefix(lines["web"], "UP") {
		t.Errorf("docker exec /watchdog status: %v, want exit 3 with fragile failed and web up", res)
	}
	health := c.state().Health
	if n := len(health.Log); n == 0 || !strings.Contains(health.Log[n-1].Output, "fragile failed") {
		t.Errorf("last health check %+v, want /watchdog health to name fragile as failed", health.Log)
	}
	// A failed service that is not critical leaves watchdog running.
	if st := c.state(); !st.Running {
		t.Errorf("container %s after a non-critical service failed, want it running", st.Status)
	}

	c.stop()
	if code := c.waitExit(dockerTimeout); code != 0 {
		t.Errorf("container exited %d after docker stop, want 0", code)
	}
	c.checkStopped(0)
	c.checkLogsAreJSON(false)
}

// statusLines maps each service to the rest of its status line, e.g. "web" to
// "UP (pid 13, restarts 0, up 2s)".
func statusLines(t *testing.T, res dockerResult) map[string]string {
	t.Helper()
	lines := make(map[string]string)
	for line := range strings.Lines(res.stdout) {
		name, rest, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "Service "), ": ")
		if !ok {
			t.Errorf("status line %q is not \"Service NAME: ...\"", line)
			continue
		}
		lines[name] = rest
	}
	return lines
}

// As a user other than root, or on a read-only root filesystem, watchdog cannot create /run in
// a scratch image; with a writable /run mounted, as the README says, its control socket and so
// the HEALTHCHECK work.
func testDockerNonRootReadOnlyWithWritableRun(t *testing.T, images dockerImages) {
	c := runContainer(t, "--user=1000:1000", "--read-only", "--tmpfs=/run", "--health-interval=1s", images.tini, "/fixture", "sleep")
	c.waitStderr("main ready")
	c.waitEvent("control_listening", "path", "/run/watchdog.sock")
	c.waitHealth("healthy", dockerEventTimeout)
	res := c.exec("/watchdog", "status")
	if lines := statusLines(t, res); res.code != 0 || !strings.HasPrefix(lines["main"], "UP (pid ") {
		t.Errorf("docker exec /watchdog status: %v, want exit 0 with main up", res)
	}
	c.checkLogsAreJSON(true)
}
