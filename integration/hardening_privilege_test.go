package integration

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// noCaps is a capability set with nothing in it, as /proc/PID/status prints it.
const noCaps = "0000000000000000"

// The control socket keeps other users out twice: by its mode 0600, and, once a user can pass
// the file's mode (the test makes it 0666), by watchdog's SO_PEERCRED check. Neither refused
// client changes anything.
func TestHardeningControlSocketRefusesOtherUsers(t *testing.T) {
	t.Parallel()
	dir := worldDir(t) // anyone may enter: only the socket's own mode and the peer check guard it
	socket := filepath.Join(dir, "watchdog.sock")
	w := superviseConfig(t, fmt.Sprintf(`
[watchdog]
control_socket = %q

[services.steady]
command = %s
environment = { FIXTURE_ROLE = "steady" }
`, socket, fixtureCmd("sleep")), "--socket", socket)
	controlSocket(w)
	steady := w.waitEvent("started", "service", "steady")
	w.waitReport("steady ready", 1)

	info, err := os.Lstat(socket)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Type() != os.ModeSocket || info.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode %v, want a socket with mode 0600", info.Mode())
	}
	if uid := info.Sys().(*syscall.Stat_t).Uid; uid != 0 {
		t.Errorf("control socket owned by uid %d, want root's", uid)
	}

	client := copyExecutable(t, watchdogBin, dir)
	asNobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyID, Gid: nobodyID}}
	commands := [][]string{{"stop", "steady"}, {"restart", "steady"}, {"reload"}, {"status"}}
	for _, args := range commands {
		res := runClient(t, client, asNobody, append([]string{args[0], "--socket", socket}, args[1:]...)...)
		if res.code == 0 || !strings.Contains(res.stderr, "permission denied") {
			t.Errorf("`watchdog %s` as uid %d through mode 0600: %v, want a failure: permission denied",
				strings.Join(args, " "), nobodyID, res)
		}
	}
	if refused := w.events("control_refused"); len(refused) > 0 {
		t.Errorf("watchdog saw a client that the socket's mode should have kept out: %v", refused[0].fields)
	}

	if err := os.Chmod(socket, 0o666); err != nil {
		t.Fatal(err)
	}
	for i, args := range commands {
		res := runClient(t, client, asNobody, append([]string{args[0], "--socket", socket}, args[1:]...)...)
		want := fmt.Sprintf("uid %d may not use the control socket", nobodyID)
		if res.code == 0 || !strings.Contains(res.stderr, want) || res.stdout != "" {
			t.Errorf("`watchdog %s` as uid %d through mode 0666: %v, want a refusal saying %q",
				strings.Join(args, " "), nobodyID, res, want)
		}
		waitEventCount(w, i+1, "control_refused", "uid", nobodyID)
	}
	res, lines := status(t, socket)
	if res.code != 0 {
		t.Errorf("`watchdog status` as root: %v, want exit 0", res)
	}
	wantStatusLine(t, res, lines, "steady", "UP", fmt.Sprintf("pid %s,", steady.get("pid")), "restarts 0")
	for _, msg := range []string{"stopping", "operator_stop", "operator_restart", "reloaded"} {
		if e := w.events(msg); len(e) > 0 {
			t.Errorf("a refused client's command took effect: %v", e[0].fields)
		}
	}

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
}

// wantCred is what /proc/PID/status must say of a process run with `user =`.
type wantCred struct {
	uid, gid uint32
	groups   []uint32
	home     string // "" for a uid without a passwd entry, whose HOME is /
	name     string
}

// checkCred fails the test unless pid runs with exactly cred: real, effective, saved and
// filesystem ids, the supplementary groups, no capabilities, and HOME, USER and LOGNAME.
func checkCred(t *testing.T, what string, status, env map[string]string, cred wantCred) {
	t.Helper()
	ids := func(id uint32) string { return strings.Repeat(strconv.Itoa(int(id))+"\t", 3) + strconv.Itoa(int(id)) }
	if got := status["Uid"]; got != ids(cred.uid) {
		t.Errorf("%s: Uid %q, want %q", what, got, ids(cred.uid))
	}
	if got := status["Gid"]; got != ids(cred.gid) {
		t.Errorf("%s: Gid %q, want %q", what, got, ids(cred.gid))
	}
	var groups []uint32
	for _, g := range strings.Fields(status["Groups"]) {
		n, _ := strconv.Atoi(g)
		groups = append(groups, uint32(n))
	}
	slices.Sort(groups)
	if !slices.Equal(groups, cred.groups) {
		t.Errorf("%s: Groups %v, want %v", what, groups, cred.groups)
	}
	for _, set := range []string{"CapEff", "CapPrm", "CapAmb", "CapInh"} {
		if got := status[set]; got != noCaps {
			t.Errorf("%s: %s %s, want none", what, set, got)
		}
	}
	if env == nil {
		return
	}
	if cred.home != "" {
		for k, v := range map[string]string{"HOME": cred.home, "USER": cred.name, "LOGNAME": cred.name} {
			if env[k] != v {
				t.Errorf("%s: %s=%q, want %q", what, k, env[k], v)
			}
		}
	} else if env["HOME"] != "/" {
		t.Errorf("%s: a uid without a passwd entry has HOME=%q, want / as under docker run --user", what, env["HOME"])
	}
}

// userWithGroups finds a user that /etc/group lists as a member of a group other than its
// primary one, for a `user =` with supplementary groups.
func userWithGroups(t *testing.T) (*user.User, []uint32) {
	t.Helper()
	data, err := os.ReadFile("/etc/group")
	if err != nil {
		return nil, nil
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) < 4 || f[3] == "" {
			continue
		}
		for _, name := range strings.Split(f[3], ",") {
			u, err := user.Lookup(name)
			if err != nil || u.Uid == "0" {
				continue
			}
			ids, err := u.GroupIds()
			if err != nil {
				continue
			}
			var groups []uint32
			for _, id := range ids {
				n, _ := strconv.Atoi(id)
				groups = append(groups, uint32(n))
			}
			slices.Sort(groups)
			return u, slices.Compact(groups)
		}
	}
	return nil, nil
}

// `user =` drops a service, and its health check command, to that uid, its primary and
// supplementary groups and no capabilities, with the user's HOME; a bare uid:gid gets no
// supplementary groups at all (not root's).
func TestHardeningUserDropsPrivileges(t *testing.T) {
	t.Parallel()
	probes := nobodyDir(t, worldDir(t), "probes")
	text := fmt.Sprintf(`
[services.nobody]
command = ["/bin/sleep", "1000"]
user = "nobody"

[services.nobody.healthcheck]
command = ["/bin/sh", "-c", "cat /proc/$$/status > %[1]s/status.$$.tmp && mv %[1]s/status.$$.tmp %[1]s/status.$$"]
interval = "1s"

[services.numeric]
command = ["/bin/sleep", "1000"]
user = "4242:4343"
`, probes)
	nobody, err := user.Lookup("nobody")
	if err != nil || nobody.Uid != strconv.Itoa(nobodyID) {
		t.Skipf("no user nobody with uid %d: %v", nobodyID, err)
	}
	member, memberGroups := userWithGroups(t)
	if member != nil {
		text += fmt.Sprintf("\n[services.member]\ncommand = [\"/bin/sleep\", \"1000\"]\nuser = %q\n", member.Username)
	} else {
		t.Log("no user with supplementary groups in /etc/group: that case is left out")
	}
	w := superviseConfig(t, text)

	check := func(service string, cred wantCred) {
		t.Helper()
		pid := hostPID(w, eventPID(t, w.waitEvent("started", "service", service)))
		checkCred(t, service, procStatus(t, pid), procEnv(t, pid), cred)
	}
	check("nobody", wantCred{uid: nobodyID, gid: nobodyID, groups: []uint32{nobodyID}, home: nobody.HomeDir, name: "nobody"})
	check("numeric", wantCred{uid: 4242, gid: 4343})
	if member != nil {
		uid, _ := strconv.Atoi(member.Uid)
		gid, _ := strconv.Atoi(member.Gid)
		check("member", wantCred{uid: uint32(uid), gid: uint32(gid), groups: memberGroups, home: member.HomeDir, name: member.Username})
	}

	// The health check command ran as the service's user: its shell wrote its own status.
	w.waitEvent("healthy", "service", "nobody")
	files, _ := filepath.Glob(filepath.Join(probes, "status.*[0-9]"))
	if len(files) == 0 {
		t.Fatal("the health check command wrote no status")
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(line, ":"); ok {
			status[k] = strings.TrimSpace(v)
		}
	}
	checkCred(t, "nobody's health check", status, nil, wantCred{uid: nobodyID, gid: nobodyID, groups: []uint32{nobodyID}})

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
}

// unprivilegedSetup copies watchdog and the fixture where uid 65534 may run them, and makes a
// directory that user owns for the control socket, the notify sockets and the fixture's reports.
func unprivilegedSetup(t *testing.T) (bin, fixture, run string) {
	t.Helper()
	world := worldDir(t)
	return copyExecutable(t, watchdogBin, world), copyExecutable(t, fixtureBin, world), nobodyDir(t, world, "run")
}

// watchdog itself run as uid 65534, as PID 1: it supervises (a crash loop is restarted, a
// steady service runs as that user), serves its control socket to root and to its own user,
// and shuts down cleanly.
func TestHardeningUnprivilegedWatchdog(t *testing.T) {
	t.Parallel()
	bin, fixture, run := unprivilegedSetup(t)
	socket := filepath.Join(run, "watchdog.sock")
	config := filepath.Join(run, "watchdog.toml")
	if err := os.WriteFile(config, fmt.Appendf(nil, `
[watchdog]
control_socket = %q

[services.steady]
command = [%q, "sleep"]
environment = { FIXTURE_ROLE = "steady" }

[services.crash]
command = [%q, "exit", "3"]
restart_delay = "20ms"
restart_max_delay = "100ms"
log = "json"
`, socket, fixture, fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	w := startUnprivileged(t, bin, filepath.Join(run, "report"), "--config", config)
	checkCred(t, "watchdog", procStatus(t, w.pid), nil, wantCred{uid: nobodyID, gid: nobodyID})

	controlSocket(w)
	steady := w.waitEvent("started", "service", "steady")
	w.waitReport("steady ready", 1)
	checkCred(t, "steady", procStatus(t, hostPID(w, eventPID(t, steady))), nil, wantCred{uid: nobodyID, gid: nobodyID})
	waitEventCount(w, 3, "started", "service", "crash")

	info, err := os.Lstat(socket)
	if err != nil {
		t.Fatal(err)
	}
	if st := info.Sys().(*syscall.Stat_t); st.Uid != nobodyID || info.Mode().Perm() != 0o600 {
		t.Errorf("control socket owned by uid %d with mode %v, want uid %d and 0600", st.Uid, info.Mode(), nobodyID)
	}
	res, lines := status(t, socket)
	wantStatusLine(t, res, lines, "steady", "UP", fmt.Sprintf("pid %s,", steady.get("pid")))
	wantStatusLine(t, res, lines, "crash")
	// Its own user may operate it.
	asNobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyID, Gid: nobodyID}}
	if res := runClient(t, bin, asNobody, "restart", "--socket", socket, "steady"); res.code != 0 {
		t.Errorf("`watchdog restart steady` as uid %d: %v, want exit 0", nobodyID, res)
	}
	waitEventAfter(w, steady, "started", "service", "steady")
	w.waitReport("steady ready", 2)

	w.signal(unix.SIGTERM)
	if code := w.waitExit(eventTimeout); code != 0 {
		t.Errorf("watchdog exited %d after SIGTERM, want 0", code)
	}
	w.waitEvent("shutdown_complete")
}

// A config with `user =` read by a watchdog that is not root is a config error naming the
// file, line and key, exit 2 before anything starts; `watchdog check` says the same.
func TestHardeningUnprivilegedUserKeyIsConfigError(t *testing.T) {
	t.Parallel()
	bin, fixture, run := unprivilegedSetup(t)
	config := filepath.Join(run, "watchdog.toml")
	if err := os.WriteFile(config, fmt.Appendf(nil, `[services.steady]
command = [%q, "sleep"]

[services.web]
command = [%q, "sleep"]
user = "nobody"
`, fixture, fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s:6: services.web.user: needs watchdog to run as root, not as uid %d", config, nobodyID)

	w := startUnprivileged(t, bin, filepath.Join(run, "report"), "--config", config)
	if code := w.waitExit(eventTimeout); code != 2 {
		t.Errorf("watchdog as uid %d with user = in its config exited %d, want 2", nobodyID, code)
	}
	w.stderr.waitClosed(eventTimeout) // the exit can be seen before the last line is read
	stderr, _, _ := w.stderr.snapshot()
	if !slices.Contains(stderr, want) {
		t.Errorf("stderr %q does not say %q", stderr, want)
	}
	if started := w.events("started"); len(started) > 0 {
		t.Errorf("a service started from a config with an error: %v", started[0].fields)
	}
	if _, err := os.Stat(w.report); !os.IsNotExist(err) {
		t.Errorf("the fixture ran: its report file is there (%v)", err)
	}

	asNobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyID, Gid: nobodyID}}
	res := runClient(t, bin, asNobody, "check", "--config", config)
	if res.code != 2 || !strings.Contains(res.stderr+res.stdout, want) {
		t.Errorf("`watchdog check` as uid %d: %v, want exit 2 and %q", nobodyID, res, want)
	}
}
