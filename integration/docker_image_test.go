package integration

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"testing"
)

// The image the repository's Dockerfile builds: its settings, its size, and what it does run
// as it is, with the config it ships (docker/watchdog.toml).

func testDockerImage(t *testing.T, images dockerImages) {
	var config struct {
		Entrypoint  []string
		Cmd         []string
		StopSignal  string
		Healthcheck struct{ Test []string }
	}
	if err := json.Unmarshal([]byte(dockerOK(t, "image", "inspect", "--format", "{{json .Config}}", images.watchdog)), &config); err != nil {
		t.Fatalf("docker image inspect: %v", err)
	}
	if !slices.Equal(config.Entrypoint, []string{"/watchdog"}) || config.Cmd != nil {
		t.Errorf("ENTRYPOINT %q, CMD %q; want [\"/watchdog\"] and none", config.Entrypoint, config.Cmd)
	}
	if config.StopSignal != "SIGTERM" {
		t.Errorf("STOPSIGNAL %q, want SIGTERM", config.StopSignal)
	}
	if want := []string{"CMD", "/watchdog", "health"}; !slices.Equal(config.Healthcheck.Test, want) {
		t.Errorf("HEALTHCHECK %q, want %q", config.Healthcheck.Test, want)
	}

	// Nothing but the binary and the config: the image is the binary's size give or take a
	// few kilobytes. (docker/build strips the binary, -ldflags "-s -w"; TestMain's is not.)
	size, err := strconv.ParseInt(dockerOK(t, "image", "inspect", "--format", "{{.Size}}", images.watchdog), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.Stat(watchdogBin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image %d bytes, binary %d bytes", size, bin.Size())
	if extra := size - bin.Size(); extra < 0 || extra > 64<<10 {
		t.Errorf("image %d bytes, binary %d bytes: want nothing else in the image", size, bin.Size())
	}

	// As shipped, the only service checks /etc/watchdog.toml and watchdog exits 0 once it
	// completed, every line of its output a JSON line in docker logs.
	c := runContainer(t, images.watchdog)
	if code := c.waitExit(dockerTimeout); code != 0 {
		t.Errorf("docker run IMAGE exited %d, want 0", code)
	}
	c.checkStopped(0)
	c.waitEvent("completed", "service", "check")
	if lines := c.events("", "service", "check", "stream", "stdout", "line", "# start order: check"); len(lines) != 1 {
		t.Errorf("the check service printed no plan naming itself")
	}
	c.waitEvent("shutdown_complete", "exit_code", 0, "reason", "all services finished")
	c.checkLogsAreJSON(false)
}
