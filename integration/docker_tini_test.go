package integration

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ENTRYPOINT ["/watchdog", "--"] in front of a CMD, as tini is used: exit codes, signals,
// zombies and a terminal. The command is the fixture, which reports on its stderr (log =
// "inherit" in -- mode), so only the container's stdout is watchdog's JSON log.

func testDockerTiniExitCodes(t *testing.T, images dockerImages) {
	cases := []struct {
		command []string
		want    int
	}{
		{[]string{"/fixture", "exit", "3"}, 3},
		{[]string{"/fixture", "kill-self", "QUIT"}, 128 + int(unix.SIGQUIT)},
	}
	// All started before any is waited for: the engine takes seconds for each.
	containers := make([]*container, len(cases))
	for i, tc := range cases {
		containers[i] = runContainer(t, append([]string{images.tini}, tc.command...)...)
	}
	for i, tc := range cases {
		c := containers[i]
		if code := c.waitExit(dockerTimeout); code != tc.want {
			t.Errorf("docker run IMAGE %s: exit %d, want %d", strings.Join(tc.command, " "), code, tc.want)
		}
		c.checkStopped(tc.want)
		c.checkLogsAreJSON(true)
	}
}

func testDockerTiniSignals(t *testing.T, images dockerImages) {
	c := runContainer(t, images.tini) // the image's CMD: /fixture grandchild-signals
	c.waitStderr("main ready")
	c.waitStderr("grandchild ready")
	// In -- mode every signal is forwarded to the command's group, SIGHUP included.
	for _, sig := range []unix.Signal{unix.SIGUSR1, unix.SIGHUP, unix.SIGWINCH} {
		c.kill(unix.SignalName(sig))
		c.waitStderr(reportedSignal("main", sig))
		c.waitStderr(reportedSignal("grandchild", sig))
	}
	took := c.stop()
	c.waitStderr(reportedSignal("main", unix.SIGTERM))
	if code := c.waitExit(dockerTimeout); code != 0 {
		t.Errorf("container exited %d after docker stop, want the command's 0", code)
	}
	c.checkStopped(0)
	shutdown := c.shutdownTime()
	t.Logf("docker stop (SIGTERM forwarded to the command) took %v; from SIGTERM to the container's exit %v",
		took.Round(time.Millisecond), shutdown.Round(time.Millisecond))
	if shutdown >= wellBehavedStopLimit {
		t.Errorf("from SIGTERM to exit %v, want < %v: the command exits at once on SIGTERM", shutdown, wellBehavedStopLimit)
	}
	c.waitEvent("exited", "service", "main", "exit_code", 0)
	c.checkLogsAreJSON(true)
}

// orphanCount is how many orphans the zombie scenario makes: far more than the few threads of
// watchdog and the fixture, which the pids count of `docker stats` includes.
const orphanCount = 300

func testDockerTiniReapsZombies(t *testing.T, images dockerImages) {
	// The same command without an init, to show that the count sees zombies: the fixture as
	// PID 1 reaps nothing.
	bare := runContainer(t, "--entrypoint", "/fixture", images.tini, "orphans", strconv.Itoa(orphanCount))
	c := runContainer(t, images.tini, "/fixture", "orphans", strconv.Itoa(orphanCount))

	bare.waitStderr(fmt.Sprintf("main orphans-created %d", orphanCount))
	if n := bare.pids(); n < orphanCount {
		t.Errorf("without an init, %d pids in the container after %d orphans exited, want them all left as zombies; the count cannot tell", n, orphanCount)
	}
	c.waitStderr(fmt.Sprintf("main orphans-created %d", orphanCount))
	const most = 50 // watchdog, the command and their threads
	deadline := time.Now().Add(dockerEventTimeout)
	for n := c.pids(); n > most; n = c.pids() {
		if time.Now().After(deadline) {
			t.Fatalf("%d pids in the container %v after %d orphans were made, want at most %d: zombies are not reaped", n, dockerEventTimeout, orphanCount, most)
		}
		time.Sleep(dockerPollInterval)
	}
	if st := c.state(); !st.Running {
		t.Errorf("container %s, want the command still running", st.Status)
	}
	c.checkLogsAreJSON(true)
}

// pids is the number of tasks in the container's cgroup, zombies included (the pids
// controller counts a process until it is reaped).
func (c *container) pids() int {
	c.t.Helper()
	out := dockerOK(c.t, "stats", "--no-stream", "--format", "{{.PIDs}}", c.name)
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		c.t.Fatalf("docker stats: pids %q: %v", out, err)
	}
	return n
}

// docker run -it: Ctrl-C typed on the user's terminal travels through the docker CLI to the
// container's terminal, whose line discipline sends SIGINT to its foreground process group.
// watchdog has to have made the command's group the foreground one for it to get there.
func testDockerTiniCtrlC(t *testing.T, images dockerImages) {
	master, tty := openPTY(t)
	name := containerName(t)
	t.Cleanup(func() {
		if res := dockerCLI(dockerTimeout, "rm", "--force", name); res.code != 0 && !strings.Contains(res.stderr, "No such container") {
			t.Errorf("remove container: %v", res)
		}
	})
	run := exec.Command("docker", "run", "--interactive", "--tty", "--name", name, images.tini, "/fixture", "interactive")
	run.Stdin, run.Stdout, run.Stderr = tty, tty, tty
	run.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the CLI holds it now: the screen ends when the CLI does
	exited := make(chan int, 1)
	go func() {
		run.Wait() // the exit code is what matters
		exited <- run.ProcessState.ExitCode()
	}()
	screen := newLineLog()
	go screen.read(master)
	defer func() {
		if t.Failed() {
			lines, _, _ := screen.snapshot()
			t.Logf("--- docker run -it: terminal\n%s", strings.Join(lines, "\n"))
		}
	}()

	onScreen := func(text string) bool {
		return screen.wait(dockerEventTimeout, func(_ int, line string) bool { return strings.Contains(line, text) })
	}
	if !onScreen("main ready") {
		t.Fatalf("the command did not report ready on the terminal within %v", dockerEventTimeout)
	}
	if _, err := master.Write([]byte{0x03}); err != nil { // VINTR
		t.Fatal(err)
	}
	select {
	case code := <-exited:
		if code != 128+int(unix.SIGINT) {
			t.Errorf("docker run -it exited %d after Ctrl-C, want 130: the command died of SIGINT", code)
		}
	case <-time.After(dockerTimeout):
		run.Process.Kill()
		t.Fatalf("docker run -it still running %v after Ctrl-C", dockerTimeout)
	}
	if !onScreen(reportedSignal("main", unix.SIGINT)) {
		t.Errorf("the command did not report SIGINT on the terminal")
	}
	c := &container{t: t, name: name}
	c.checkStopped(128 + int(unix.SIGINT))
}
