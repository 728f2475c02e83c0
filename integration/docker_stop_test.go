package integration

import (
	"testing"
	"time"
)

// `docker stop` sends SIGTERM to watchdog and SIGKILL 10 s later: the staged shutdown has to
// be over long before, and the container's exit code has to be watchdog's, not Docker's 137.

// dockerStopConfig is three well-behaved services (signals: exit 0 on SIGTERM) in a dependency
// chain, declared out of order; web keeps a grandchild in its group.
const dockerStopConfig = `
[watchdog]
log = "json"

[services.web]
command = ["/fixture", "grandchild-signals"]
depends_on = ["cache", "db"]
environment = { FIXTURE_ROLE = "web" }

[services.db]
command = ["/fixture", "signals"]
environment = { FIXTURE_ROLE = "db" }

[services.cache]
command = ["/fixture", "signals"]
depends_on = ["db"]
environment = { FIXTURE_ROLE = "cache" }
`

const (
	// wellBehavedStopLimit is how long the shutdown may take, from the SIGTERM to the
	// container's exit, with services that exit at once on SIGTERM: half of Docker's grace
	// period, so that a service that takes a few seconds to stop still fits.
	wellBehavedStopLimit = 5 * time.Second
	// dockerStopTimeout is Docker's grace period: `docker stop` sends SIGKILL after it.
	dockerStopTimeout = 10 * time.Second
)

func testDockerStop(t *testing.T, images dockerImages) {
	c := runContainer(t, configEnv("stop"), images.services)
	chain := []string{"db", "cache", "web"} // start order
	var started []event
	for _, name := range chain {
		started = append(started, c.waitEvent("started", "service", name))
		c.waitServiceReports(name, name+" ready", 1)
	}
	c.waitServiceReports("web", "grandchild ready", 1)
	for i := 1; i < len(chain); i++ {
		if started[i].line < started[i-1].line {
			t.Errorf("%s started before %s, which it depends on", chain[i], chain[i-1])
		}
	}

	took := c.stop()
	if code := c.waitExit(dockerTimeout); code != 0 {
		t.Errorf("container exited %d after docker stop, want 0: every service stopped within its grace period", code)
	}
	c.checkStopped(0)
	shutdown := c.shutdownTime()
	t.Logf("docker stop took %v; from SIGTERM to the container's exit %v", took.Round(time.Millisecond), shutdown.Round(time.Millisecond))
	if shutdown >= wellBehavedStopLimit {
		t.Errorf("from SIGTERM to exit %v, want < %v with services that exit at once on SIGTERM", shutdown, wellBehavedStopLimit)
	}

	// Each service is told to stop only once its dependents have exited: web, cache, db.
	exited := make(map[string]event)
	for _, name := range chain {
		exited[name] = c.waitEvent("exited", "service", name, "exit_code", 0)
	}
	for i := 0; i+1 < len(chain); i++ {
		dep, dependent := chain[i], chain[i+1]
		if stopping := c.waitEvent("stopping", "service", dep); stopping.line < exited[dependent].line {
			t.Errorf("%s was stopped before %s, which depends on it, had exited", dep, dependent)
		}
	}
	staged := between(t, c.waitEvent("shutdown_started", "reason", "signal SIGTERM"), c.waitEvent("shutdown_complete", "exit_code", 0))
	t.Logf("staged shutdown took %v by watchdog's events", staged)
	if n := len(c.events("killed")); n > 0 {
		t.Errorf("%d killed events, want none: every service exits on SIGTERM", n)
	}
	n := c.checkLogsAreJSON(false)
	t.Logf("docker logs: %d lines, each one JSON object", n)
}

// dockerEscalationConfig has a service that ignores SIGTERM, which watchdog must kill itself
// after its stop_grace_period, long before Docker's SIGKILL.
const dockerEscalationConfig = `
[watchdog]
log = "json"

[services.stubborn]
command = ["/fixture", "ignore-term"]
stop_grace_period = "2s"
environment = { FIXTURE_ROLE = "stubborn" }

[services.calm]
command = ["/fixture", "signals"]
environment = { FIXTURE_ROLE = "calm" }
`

func testDockerStopEscalation(t *testing.T, images dockerImages) {
	const grace = 2 * time.Second
	c := runContainer(t, configEnv("escalation"), images.services)
	c.waitServiceReports("stubborn", "stubborn ready", 1)
	c.waitServiceReports("calm", "calm ready", 1)

	took := c.stop()
	if code := c.waitExit(dockerTimeout); code != 1 {
		t.Errorf("container exited %d after docker stop, want 1: a service had to be SIGKILLed", code)
	}
	c.checkStopped(1)
	shutdown := c.shutdownTime()
	t.Logf("docker stop with a service ignoring SIGTERM (stop_grace_period %v) took %v; from SIGTERM to the container's exit %v",
		grace, took.Round(time.Millisecond), shutdown.Round(time.Millisecond))
	if shutdown < grace || shutdown >= grace+3*time.Second {
		t.Errorf("from SIGTERM to exit %v, want about the stop_grace_period, %v, far from Docker's %v", shutdown, grace, dockerStopTimeout)
	}

	stopping := c.waitEvent("stopping", "service", "stubborn", "signal", "SIGTERM")
	killed := c.waitEvent("killed", "service", "stubborn", "signal", "SIGKILL")
	if d := between(t, stopping, killed); d < grace-10*time.Millisecond || d > grace+time.Second {
		t.Errorf("stubborn killed %v after it was told to stop, want its stop_grace_period, %v", d, grace)
	}
	c.waitEvent("exited", "service", "stubborn", "signal", "SIGKILL", "exit_code", 137)
	c.waitEvent("exited", "service", "calm", "exit_code", 0)
	c.waitEvent("shutdown_complete", "exit_code", 1)
	c.checkLogsAreJSON(false)
}

// dockerBudgetConfig has two services that ignore SIGTERM, each with a stop_grace_period that
// alone nearly fills the default shutdown_timeout (9 s): the budget, not their grace periods,
// has to decide when the last one is killed.
const dockerBudgetConfig = `
[watchdog]
log = "json"

[services.front]
command = ["/fixture", "ignore-term"]
depends_on = ["back"]
stop_grace_period = "8s"
environment = { FIXTURE_ROLE = "front" }

[services.back]
command = ["/fixture", "ignore-term"]
stop_grace_period = "8s"
environment = { FIXTURE_ROLE = "back" }
`

func testDockerStopBudget(t *testing.T, images dockerImages) {
	c := runContainer(t, configEnv("budget"), images.services)
	c.waitServiceReports("back", "back ready", 1)
	c.waitServiceReports("front", "front ready", 1)

	took := c.stop()
	if code := c.waitExit(dockerTimeout); code != 1 {
		t.Errorf("container exited %d after docker stop, want 1: watchdog SIGKILLed its services before Docker SIGKILLed it", code)
	}
	c.checkStopped(1)
	shutdown := c.shutdownTime()
	t.Logf("docker stop with services whose grace periods add up to 16 s took %v; from SIGTERM to the container's exit %v",
		took.Round(time.Millisecond), shutdown.Round(time.Millisecond))
	if shutdown < 8*time.Second || shutdown >= dockerStopTimeout {
		t.Errorf("from SIGTERM to exit %v, want within the default shutdown_timeout, 9 s, and so before Docker's SIGKILL at %v", shutdown, dockerStopTimeout)
	}
	c.waitEvent("killed", "service", "front")
	c.waitEvent("killed", "service", "back")
	c.waitEvent("shutdown_complete", "exit_code", 1)
	c.checkLogsAreJSON(false)
}

// dockerCriticalConfig has a critical service that fails for good (exit 3, one restart
// allowed) beside one that would run forever.
const dockerCriticalConfig = `
[watchdog]
log = "json"

[services.db]
command = ["/fixture", "signals"]
environment = { FIXTURE_ROLE = "db" }

[services.app]
command = ["/fixture", "exit", "3"]
depends_on = ["db"]
critical = true
restart = "on-failure"
restart_delay = "100ms"
max_restarts = 1
`

func testDockerCriticalFailure(t *testing.T, images dockerImages) {
	c := runContainer(t, configEnv("critical"), images.services)
	if code := c.waitExit(dockerTimeout); code != 3 {
		t.Errorf("container exited %d, want the critical service's 3", code)
	}
	c.checkStopped(3)
	if n := len(c.events("exited", "service", "app", "exit_code", 3)); n != 2 {
		t.Errorf("app exited %d times, want 2: its run and the one restart allowed", n)
	}
	c.waitEvent("failed", "service", "app")
	c.waitEvent("exited", "service", "db", "exit_code", 0)
	c.waitEvent("shutdown_complete", "exit_code", 3)
	c.checkLogsAreJSON(false)
}
