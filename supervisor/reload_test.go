package supervisor

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"watchdog/supervisor/config"
)

func TestPlanReload(t *testing.T) {
	svc := func(name string, argv ...string) *config.Service {
		return &config.Service{Name: name, Command: argv}
	}
	old := []*config.Service{svc("keep", "a"), svc("change", "a"), svc("remove", "a")}
	next := []*config.Service{svc("add", "a"), svc("keep", "a"), svc("change", "b")}
	got := planReload(old, next)
	want := reloadPlan{Added: []string{"add"}, Removed: []string{"remove"}, Changed: []string{"change"}, Unchanged: []string{"keep"}}
	if !slices.Equal(got.Added, want.Added) || !slices.Equal(got.Removed, want.Removed) ||
		!slices.Equal(got.Changed, want.Changed) || !slices.Equal(got.Unchanged, want.Unchanged) {
		t.Errorf("planReload = %+v, want %+v", got, want)
	}
}

// TestReloadAppliesOnlyTheDifference: one reload adds, removes, changes and keeps one service
// each. Only the changed one gets a new pid, the removed one is stopped, the new one starts; a
// broken config afterwards changes nothing.
func TestReloadAppliesOnlyTheDifference(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "watchdog.toml")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`
[services.keep]
command = ["/bin/sleep", "100"]

[services.change]
command = ["/bin/sleep", "100"]

[services.remove]
command = ["/bin/sleep", "100"]
`)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, cfg, nil)
	keep, change, remove := h.inState("keep", Running), h.inState("change", Running), h.inState("remove", Running)

	write(`
[services.keep]
command = ["/bin/sleep", "100"]

[services.change]
command = ["/bin/sleep", "200"]

[services.add]
command = ["/bin/sleep", "100"]
`)
	if err := h.sup.Control("reload", nil); err != nil {
		t.Fatal(err)
	}
	added := h.inState("add", Running)
	h.until("change restarted with its new command", func() bool {
		s := h.snap("change")
		return s.State == Running && s.Pid != change.Pid
	})
	h.until("remove gone from status", func() bool {
		return !slices.ContainsFunc(h.sup.Status(), func(s Snapshot) bool { return s.Name == "remove" })
	})
	if !gone(remove.Pid) {
		t.Errorf("the removed service's process %d is still alive", remove.Pid)
	}
	if !gone(change.Pid) {
		t.Errorf("the changed service's old process %d is still alive", change.Pid)
	}
	if s := h.snap("keep"); s.Pid != keep.Pid {
		t.Errorf("keep has pid %d after the reload, want it untouched (%d)", s.Pid, keep.Pid)
	}
	if cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(h.snap("change").Pid) + "/cmdline"); !strings.Contains(string(cmdline), "200") {
		t.Errorf("change runs %q, want its new command", cmdline)
	}
	reloaded := h.events("reloaded", "")
	if len(reloaded) != 1 {
		t.Fatalf("%d reloaded events, want 1", len(reloaded))
	}

	before := h.sup.Status()
	write(`[services.keep]
command = ["/bin/sleep", "100"
`)
	if err := h.sup.Control("reload", nil); err == nil || !strings.Contains(err.Error(), "watchdog.toml") {
		t.Errorf("reload of a broken config: %v, want an error naming the file", err)
	}
	h.sigs <- unix.SIGHUP // the same through the signal
	h.until("the SIGHUP reload failed too", func() bool { return len(h.events("reload_failed", "")) == 2 })
	after := h.sup.Status()
	if len(after) != len(before) {
		t.Fatalf("%d services after a broken reload, want %d", len(after), len(before))
	}
	for i := range before {
		if before[i].Name != after[i].Name || before[i].Pid != after[i].Pid {
			t.Errorf("%s: pid %d after a broken reload, want %d", after[i].Name, after[i].Pid, before[i].Pid)
		}
	}
	if s := h.snap("add"); s.Pid != added.Pid {
		t.Errorf("add restarted by a broken reload")
	}
}
