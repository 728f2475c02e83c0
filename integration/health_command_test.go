package integration

import (
	"fmt"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// `watchdog health` exits 0 while every service is healthy and ready (a completed oneshot
// counts), and 1, naming the service, while one is not: a notify service before READY=1, an
// HTTP service whose probe fails. It follows the service back to healthy.
func TestHealthCommandExitCodes(t *testing.T) {
	t.Parallel()
	dir := socketDir(t)
	socket := filepath.Join(dir, "watchdog.sock")
	sick, goReady := filepath.Join(dir, "sick"), filepath.Join(dir, "ready")
	port := probePort(t)
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q

[services.web]
command = %s
environment = { FIXTURE_ROLE = "web" }

[services.web.healthcheck]
http = "http://127.0.0.1:%s/healthz"
interval = "200ms"
timeout = "2s"
retries = 1
start_period = "60s" # until the first success: the fixture is not listening at once
on_unhealthy = "ignore"

[services.svc]
command = %s
environment = { FIXTURE_ROLE = "svc" }
notify = true

[services.once]
command = %s
oneshot = true
`, socket, fixtureCmd("http-health", port, sick), port, fixtureCmd("notify-ready", goReady), fixtureCmd("exit", "0")),
		"--socket", socket)

	w.waitEvent("ready", "service", "web")
	w.waitEvent("completed", "service", "once")
	w.waitReport("svc waiting", 1)
	wantHealth(t, socket, 1, "unhealthy: svc starting")

	touchFile(t, goReady)
	w.waitEvent("ready", "service", "svc")
	wantHealth(t, socket, 0, "healthy: 3 services")

	touchFile(t, sick)
	unhealthy := w.waitEvent("unhealthy", "service", "web")
	wantHealth(t, socket, 1, "unhealthy: web not ready")
	res, lines := status(t, socket)
	wantStatusLine(t, res, lines, "web", "UP", "unhealthy")

	removeFile(t, sick)
	waitEventAfter(w, unhealthy, "healthy", "service", "web")
	wantHealth(t, socket, 0, "healthy: 3 services")

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
	// Nobody answers: not healthy.
	wantHealth(t, socket, 1, "unhealthy:")
}
