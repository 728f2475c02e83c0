package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Docker tests run watchdog as the ENTRYPOINT of real containers on this machine's Docker
// engine and look at them only through the docker CLI, as an operator does (DESIGN.md "Who
// uses it, where"). Nothing is pulled: every image is FROM scratch.

const (
	// dockerTimeout bounds one docker CLI call that should return soon; creating and starting
	// a container on a busy engine takes seconds.
	dockerTimeout = time.Minute
	// dockerBuildTimeout bounds one `docker build`.
	dockerBuildTimeout = 3 * time.Minute
	// dockerEventTimeout bounds the wait for a line in `docker logs`, which the engine relays
	// from its log file a little after watchdog wrote it.
	dockerEventTimeout = 2 * eventTimeout
	// dockerPollInterval is how often `docker inspect` and `docker stats` are asked again.
	dockerPollInterval = 200 * time.Millisecond
)

// dockerImages are the tags of the images TestDocker built for its scenarios.
type dockerImages struct {
	// watchdog is built from the repository's Dockerfile, as docker/build builds it, with the
	// binary TestMain built: /watchdog and /etc/watchdog.toml (docker/watchdog.toml).
	watchdog string
	// services is watchdog's image with /fixture and each of dockerConfigs as
	// /configs/NAME.toml; its ENTRYPOINT is still ["/watchdog"].
	services string
	// tini is services with ENTRYPOINT ["/watchdog", "--"] and a CMD, the tini-style use.
	tini string
}

// tiniCmd is the CMD of the tini image.
var tiniCmd = []string{"/fixture", "grandchild-signals"}

// dockerConfigs are baked into the services image as /configs/NAME.toml. A scenario picks one
// with -e WATCHDOG_CONFIG=/configs/NAME.toml, which `docker exec C /watchdog ...` inherits.
var dockerConfigs = map[string]string{
	"stop":       dockerStopConfig,
	"escalation": dockerEscalationConfig,
	"budget":     dockerBudgetConfig,
	"operator":   dockerOperatorConfig,
	"critical":   dockerCriticalConfig,
}

// configEnv is the `docker run` option that makes watchdog read /configs/name.toml.
func configEnv(name string) string {
	return "--env=WATCHDOG_CONFIG=/configs/" + name + ".toml"
}

// dockerScenariosAtOnce is how many scenarios run at the same time. They wait on the engine,
// not on the CPUs that -parallel counts; past a few at once the engine, which serialises much
// of the work of starting and removing a container, only gets slower.
const dockerScenariosAtOnce = 4

// TestDocker builds the images once, then runs the scenarios as subtests, dockerScenariosAtOnce
// at a time; the images are removed when the last one ends.
func TestDocker(t *testing.T) {
	requireDocker(t)
	images := buildDockerImages(t)
	scenarios := []struct {
		name string
		run  func(t *testing.T, images dockerImages)
	}{
		{"Image", testDockerImage},
		{"StopIsStagedInReverseDependencyOrder", testDockerStop},
		{"StopKillsServiceIgnoringTermBeforeDockerDoes", testDockerStopEscalation},
		{"StopEndsWithinBudgetBeforeDockerKills", testDockerStopBudget},
		{"StatusSignalsAndHealthcheck", testDockerOperator},
		{"NonRootReadOnlyWithWritableRun", testDockerNonRootReadOnlyWithWritableRun},
		{"CriticalFailureEndsContainerWithItsCode", testDockerCriticalFailure},
		{"TiniExitCodes", testDockerTiniExitCodes},
		{"TiniForwardsSignals", testDockerTiniSignals},
		{"TiniReapsZombies", testDockerTiniReapsZombies},
		{"TiniCtrlCOnTerminal", testDockerTiniCtrlC},
	}
	slots := make(chan struct{}, dockerScenariosAtOnce)
	var wg sync.WaitGroup
	for _, s := range scenarios {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			t.Run(s.name, func(t *testing.T) { s.run(t, images) })
		})
	}
	wg.Wait()
}

// requireDocker skips the test when no Docker engine answers.
func requireDocker(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("SKIP: no docker CLI, so no Docker tests:", err)
	}
	res := dockerCLI(dockerTimeout, "version", "--format", "{{.Server.Version}}")
	if res.err != nil || res.code != 0 {
		t.Skipf("SKIP: no Docker engine answers, so no Docker tests: docker version: %v", res)
	}
	t.Logf("Docker engine %s", strings.TrimSpace(res.stdout))
}

// buildDockerImages builds the three images under a repository name of their own.
func buildDockerImages(t *testing.T) dockerImages {
	t.Helper()
	repo := "watchdog-test-" + randomSuffix()
	images := dockerImages{watchdog: repo + ":watchdog", services: repo + ":services", tini: repo + ":tini"}
	t.Cleanup(func() {
		// Dependents first; -f only because a failed test may have left a container behind.
		if res := dockerCLI(dockerTimeout, "rmi", "--force", images.tini, images.services, images.watchdog); res.code != 0 {
			t.Errorf("remove images: %v", res)
		}
	})

	dir := t.TempDir()
	copyExecutable(t, watchdogBin, dir)
	config, err := os.ReadFile("../docker/watchdog.toml")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "watchdog.toml"), string(config))
	dockerBuild(t, images.watchdog, "../Dockerfile", dir)

	// The files of the services image are laid out as in it, so that one COPY (one layer,
	// one step) adds them all.
	dir = t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "configs"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyExecutable(t, fixtureBin, root)
	for name, text := range dockerConfigs {
		writeFile(t, filepath.Join(root, "configs", name+".toml"), text)
	}
	writeFile(t, filepath.Join(dir, "Dockerfile"), fmt.Sprintf("FROM %s\nCOPY root/ /\n", images.watchdog))
	dockerBuild(t, images.services, filepath.Join(dir, "Dockerfile"), dir)

	dir = t.TempDir()
	cmd, err := json.Marshal(tiniCmd)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "Dockerfile"), fmt.Sprintf("FROM %s\nENTRYPOINT [\"/watchdog\", \"--\"]\nCMD %s\n", images.services, cmd))
	dockerBuild(t, images.tini, filepath.Join(dir, "Dockerfile"), dir)
	return images
}

func dockerBuild(t *testing.T, tag, dockerfile, context string) {
	t.Helper()
	start := time.Now()
	res := dockerCLI(dockerBuildTimeout, "build", "--quiet", "--force-rm", "--tag", tag, "--file", dockerfile, context)
	if res.err != nil || res.code != 0 {
		t.Fatalf("docker build %s: %v", tag, res)
	}
	t.Logf("built %s in %v", tag, time.Since(start).Round(10*time.Millisecond))
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// randomSuffix keeps the names of parallel runs apart.
func randomSuffix() string {
	return fmt.Sprintf("%08x", rand.Uint32())
}

// dockerResult is what one docker CLI call did.
type dockerResult struct {
	args           []string
	stdout, stderr string
	code           int   // the CLI's exit code, -1 when it did not exit by itself
	err            error // set when it could not be run or did not finish in time
}

func (r dockerResult) String() string {
	s := fmt.Sprintf("docker %s: exit %d", strings.Join(r.args, " "), r.code)
	if r.err != nil {
		s += fmt.Sprintf(" (%v)", r.err)
	}
	if out := strings.TrimSpace(r.stdout); out != "" {
		s += "\nstdout: " + out
	}
	if out := strings.TrimSpace(r.stderr); out != "" {
		s += "\nstderr: " + out
	}
	return s
}

// dockerCLI runs `docker args...` and ends it when timeout passes.
func dockerCLI(timeout time.Duration, args ...string) dockerResult {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	res := dockerResult{args: args, stdout: stdout.String(), stderr: stderr.String(), code: -1}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.err = fmt.Errorf("no answer within %v", timeout)
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		res.err = err
	default:
		res.code = 0
	}
	return res
}

// dockerOK runs `docker args...`, fails the test unless it exits 0, and returns its stdout
// without the final newline.
func dockerOK(t *testing.T, args ...string) string {
	t.Helper()
	res := dockerCLI(dockerTimeout, args...)
	if res.err != nil || res.code != 0 {
		t.Fatal(res)
	}
	return strings.TrimSuffix(res.stdout, "\n")
}

var unsafeNameChars = regexp.MustCompile(`[^a-z0-9_.-]+`)

// containerName is a name of the test's own, unique across parallel runs.
func containerName(t *testing.T) string {
	return "watchdog-" + unsafeNameChars.ReplaceAllString(strings.ToLower(t.Name()), "-") + "-" + randomSuffix()
}

// container is one container under test. Its logs are followed from the start, each stream
// into a lineLog, as `docker logs` separates them.
type container struct {
	t        *testing.T
	name     string
	stdout   *lineLog
	stderr   *lineLog
	followed chan struct{} // closed when `docker logs --follow` has ended
}

// runContainer runs `docker run --detach --name NAME args...` (options, image, command) and
// follows its logs; t.Cleanup removes it.
func runContainer(t *testing.T, args ...string) *container {
	t.Helper()
	c := &container{t: t, name: containerName(t)}
	t.Cleanup(c.remove)
	dockerOK(t, append([]string{"run", "--detach", "--name", c.name}, args...)...)
	c.followLogs()
	return c
}

func (c *container) followLogs() {
	c.t.Helper()
	c.stdout, c.stderr = newLineLog(), newLineLog()
	c.followed = make(chan struct{})
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		c.t.Fatal(err)
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		c.t.Fatal(err)
	}
	follow := exec.Command("docker", "logs", "--follow", c.name)
	follow.Stdout, follow.Stderr = stdoutW, stderrW
	err = follow.Start()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		stdoutR.Close()
		stderrR.Close()
		close(c.followed)
		c.t.Fatal(err)
	}
	go c.stdout.read(stdoutR)
	go c.stderr.read(stderrR)
	go func() {
		follow.Wait() // it ends with the container; its status says nothing more
		close(c.followed)
	}()
}

// remove removes the container, running or not, and shows its logs when the test failed.
func (c *container) remove() {
	res := dockerCLI(dockerTimeout, "rm", "--force", "--volumes", c.name)
	if res.code != 0 && !strings.Contains(res.stderr, "No such container") {
		c.t.Errorf("remove container: %v", res)
	}
	if c.followed == nil {
		return
	}
	select {
	case <-c.followed:
	case <-time.After(dockerEventTimeout):
		c.t.Errorf("docker logs --follow %s still running %v after the container was removed", c.name, dockerEventTimeout)
	}
	c.stdout.waitClosed(eventTimeout)
	c.stderr.waitClosed(eventTimeout)
	if c.t.Failed() {
		stdout, _, _ := c.stdout.snapshot()
		stderr, _, _ := c.stderr.snapshot()
		c.t.Logf("container %s\n--- docker logs: stdout\n%s\n--- docker logs: stderr\n%s",
			c.name, strings.Join(stdout, "\n"), strings.Join(stderr, "\n"))
	}
}

// waitExit waits for the container to stop and returns its exit code.
func (c *container) waitExit(timeout time.Duration) int {
	c.t.Helper()
	res := dockerCLI(timeout, "wait", c.name)
	if res.err != nil || res.code != 0 {
		c.t.Fatalf("container did not stop: %v", res)
	}
	code, err := strconv.Atoi(strings.TrimSpace(res.stdout))
	if err != nil {
		c.t.Fatalf("docker wait: %v", err)
	}
	// Everything it wrote has been relayed once its logs end.
	select {
	case <-c.followed:
	case <-time.After(dockerEventTimeout):
		c.t.Fatalf("docker logs --follow still running %v after the container stopped", dockerEventTimeout)
	}
	return code
}

// stop runs `docker stop` with Docker's default grace period and returns how long it took.
func (c *container) stop() time.Duration {
	c.t.Helper()
	start := time.Now()
	dockerOK(c.t, "stop", c.name)
	return time.Since(start)
}

// kill sends sig to the container's PID 1, watchdog.
func (c *container) kill(sig string) {
	c.t.Helper()
	dockerOK(c.t, "kill", "--signal", sig, c.name)
}

// exec runs `docker exec NAME args...` and returns the result, whatever its exit code.
func (c *container) exec(args ...string) dockerResult {
	c.t.Helper()
	res := dockerCLI(dockerTimeout, append([]string{"exec", c.name}, args...)...)
	if res.err != nil {
		c.t.Fatal(res)
	}
	return res
}

// containerState is the part of `docker inspect`'s State the tests look at.
type containerState struct {
	Status     string
	Running    bool
	ExitCode   int
	OOMKilled  bool
	FinishedAt time.Time
	Health     *struct {
		Status string
		Log    []struct {
			ExitCode int
			Output   string
		}
	}
}

func (c *container) state() containerState {
	c.t.Helper()
	var st containerState
	if err := json.Unmarshal([]byte(dockerOK(c.t, "inspect", "--format", "{{json .State}}", c.name)), &st); err != nil {
		c.t.Fatalf("docker inspect: %v", err)
	}
	return st
}

// checkStopped fails the test unless the container stopped by itself with exit code want:
// the code of its PID 1, not the 137 of Docker's SIGKILL.
func (c *container) checkStopped(want int) {
	c.t.Helper()
	st := c.state()
	if st.Running || st.ExitCode != want || st.OOMKilled {
		c.t.Errorf("docker inspect: status %s, exit code %d, OOM killed %v; want exited %d", st.Status, st.ExitCode, st.OOMKilled, want)
	}
}

// shutdownTime is how long the stopped container took from watchdog's shutdown_started, as
// the stop signal arrived, to its exit by the engine's clock: the span that Docker's grace
// period bounds before its SIGKILL. `docker stop` itself takes longer, by the engine's own
// work around it, which grows with the engine's load.
func (c *container) shutdownTime() time.Duration {
	c.t.Helper()
	started := c.waitEvent("shutdown_started")
	return c.state().FinishedAt.Sub(started.time(c.t))
}

// waitHealth waits until Docker's HEALTHCHECK reports status.
func (c *container) waitHealth(status string, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := c.state()
		if st.Health != nil && st.Health.Status == status {
			return
		}
		if time.Now().After(deadline) {
			got, _ := json.Marshal(st.Health)
			c.t.Fatalf("health not %q within %v: %s", status, timeout, got)
		}
		time.Sleep(dockerPollInterval)
	}
}

// waitEvent waits for watchdog's event msg with the given key/value fields in the logs.
func (c *container) waitEvent(msg string, fields ...any) event {
	c.t.Helper()
	var found event
	ok := c.stdout.wait(dockerEventTimeout, func(i int, line string) bool {
		parsed, err := parseEvent(line)
		if err != nil {
			return false
		}
		found = event{line: i, fields: parsed}
		return found.matches(msg, fields)
	})
	if !ok {
		c.t.Fatalf("no %q event in docker logs within %v", describeEvent(msg, fields), dockerEventTimeout)
	}
	return found
}

// events returns the events msg with the given fields logged so far.
func (c *container) events(msg string, fields ...any) []event {
	lines, _, _ := c.stdout.snapshot()
	var found []event
	for i, line := range lines {
		if parsed, err := parseEvent(line); err == nil {
			if e := (event{line: i, fields: parsed}); e.matches(msg, fields) {
				found = append(found, e)
			}
		}
	}
	return found
}

// waitServiceReports waits until the fixture run as service has reported a line starting with
// the words of prefix n times (log = "json": its stderr is a JSON line on watchdog's stdout).
func (c *container) waitServiceReports(service, prefix string, n int) []event {
	c.t.Helper()
	var found []event
	ok := c.stdout.wait(dockerEventTimeout, func(i int, line string) bool {
		fields, err := parseEvent(line)
		if err != nil {
			return false
		}
		e := event{line: i, fields: fields}
		if e.get("service") == service && e.get("stream") == "stderr" && strings.HasPrefix(e.get("line")+" ", prefix+" ") {
			found = append(found, e)
		}
		return len(found) >= n
	})
	if !ok {
		c.t.Fatalf("service %s reported %q %d times within %v, want %d", service, prefix, len(found), dockerEventTimeout, n)
	}
	return found
}

// waitStderr waits until a line of the container's stderr starts with the words of prefix
// (the -- command's own stderr, where the fixture reports).
func (c *container) waitStderr(prefix string) {
	c.t.Helper()
	if !c.stderr.wait(dockerEventTimeout, func(_ int, line string) bool {
		return strings.HasPrefix(line+" ", prefix+" ")
	}) {
		c.t.Fatalf("no %q on the container's stderr within %v", prefix, dockerEventTimeout)
	}
}

// checkLogsAreJSON fails the test for every line of the container's stdout that is not one
// JSON object: a watchdog event (ts, level, msg) or a line of a service with log = "json"
// (ts, service, stream, line). With commandStderr false nothing may be on stderr either: watchdog
// writes there only before it starts anything. It returns the number of lines checked.
func (c *container) checkLogsAreJSON(commandStderr bool) int {
	c.t.Helper()
	lines, _, _ := c.stdout.snapshot()
	for i, line := range lines {
		fields, err := parseEvent(line)
		if err != nil {
			c.t.Errorf("docker logs: stdout line %d is not JSON (%v): %q", i+1, err, line)
			continue
		}
		e := event{line: i, fields: fields}
		switch {
		case !tsFormat.MatchString(e.get("ts")):
			c.t.Errorf("docker logs: stdout line %d: ts is not RFC 3339 UTC with milliseconds: %q", i+1, line)
		case e.get("msg") != "" && e.get("level") != "":
		case e.get("service") != "" && e.get("stream") != "" && fields["line"] != nil:
		default:
			c.t.Errorf("docker logs: stdout line %d is neither an event (level, msg) nor a service's line (service, stream, line): %q", i+1, line)
		}
	}
	if stderr, _, _ := c.stderr.snapshot(); !commandStderr && len(stderr) > 0 {
		c.t.Errorf("docker logs: %d lines on stderr, want none: %q", len(stderr), stderr)
	}
	return len(lines)
}
