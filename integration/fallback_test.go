package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestUnprivilegedWatchdogFallsBackFromRun: a watchdog that cannot write /run (it runs as
// uid 65534, as with `docker run --user` on a scratch image) and was given no socket path
// listens under the temporary directory instead, with its notify sockets beside it, and
// `watchdog status` and `watchdog health` run by the same user find it there without flags.
func TestUnprivilegedWatchdogFallsBackFromRun(t *testing.T) {
	// Not parallel: TMPDIR reaches watchdog and the clients through the test's environment.
	bin, fixture, run := unprivilegedSetup(t)
	tmp := nobodyDir(t, run, "tmp") // the user's TMPDIR: fallbacks of parallel tests must not meet
	config := filepath.Join(run, "watchdog.toml")
	if err := os.WriteFile(config, fmt.Appendf(nil, `
[services.steady]
command = [%q, "sleep"]

[services.notifier]
command = [%q, "notify-ready", "0s"]
notify = true
`, fixture, fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	w := startUnprivileged(t, bin, filepath.Join(run, "report"), "--config", config)
	want := filepath.Join(tmp, "watchdog-"+strconv.Itoa(nobodyID), "watchdog.sock")
	if got := controlSocket(w); got != want {
		t.Errorf("control socket at %s, want the fallback %s", got, want)
	}
	w.waitEvent("ready", "service", "notifier") // its notify socket works at the fallback too

	asNobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyID, Gid: nobodyID}}
	if res := runClient(t, bin, asNobody, "status"); res.code != 0 {
		t.Errorf("`watchdog status` as uid %d without flags: %v, want exit 0", nobodyID, res)
	}
	if res := runClient(t, bin, asNobody, "health"); res.code != 0 {
		t.Errorf("`watchdog health` as uid %d without flags: %v, want exit 0", nobodyID, res)
	}
	w.signal(syscall.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d, want 0", code)
	}
}
