package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// service is one helper process to run under a peer, in the peer's own configuration format.
type service struct {
	args []string // the helper's mode and its arguments
	// zeroDelay restarts at once where the peer can be told to (watchdog: restart_delay "0s"
	// with max_restarts 1000000; supervisord: startsecs 0); otherwise the peer's defaults.
	zeroDelay bool
	// grace is the time between the stop signal and SIGKILL where the peer has such a
	// setting (watchdog, s6's timeout-kill, supervisord's stopwaitsecs); 0 keeps the default.
	grace time.Duration
	// healthURL adds an HTTP healthcheck every second (watchdog only).
	healthURL string
}

// A peer is an init or a supervisor that runs services as PID 1.
type peer struct {
	name string
	// single peers run exactly one command, tini-style; the others run any number of services.
	single bool
	// command writes what the peer needs into dir and returns the command line that runs svcs.
	command func(b *bench, dir string, svcs []service) ([]string, error)
	// own says which processes below PID 1 are the peer's own (s6-supervise, runsv) by their
	// name; PID 1 always is.
	own string
}

var (
	// baseline is no init at all: the helper itself is PID 1.
	baseline = peer{name: "no init (helper as PID 1)", single: true,
		command: func(b *bench, _ string, svcs []service) ([]string, error) {
			return append([]string{b.helper}, svcs[0].args...), nil
		}}
	tini = peer{name: "tini", single: true, command: singleCommand("/usr/bin/tini-static", "--")}
	// tiniDynamic is Debian's default tini, dynamically linked, for the start-up measure.
	tiniDynamic = peer{name: "tini (dynamic)", single: true, command: singleCommand("/usr/bin/tini", "--")}
	dumbInit    = peer{name: "dumb-init", single: true, command: singleCommand("/usr/bin/dumb-init")}
	catatonit   = peer{name: "catatonit", single: true, command: singleCommand("/usr/bin/catatonit", "--")}
	// watchdogDash is watchdog as a tini replacement: `watchdog -- CMD`.
	watchdogDash = peer{name: "watchdog --", single: true, command: watchdogDashCommand}
	// watchdogConfig is watchdog supervising the services of a watchdog.toml.
	watchdogConfig = peer{name: "watchdog", command: watchdogConfigCommand}
	s6             = peer{name: "s6", command: s6Command, own: "s6-supervise"}
	runit          = peer{name: "runit", command: runitCommand, own: "runsv"}
	supervisord    = peer{name: "supervisord", command: supervisordCommand}
)

// singleCommand is a tini-style init: its path, its own arguments, then the command.
func singleCommand(path string, args ...string) func(*bench, string, []service) ([]string, error) {
	return func(b *bench, _ string, svcs []service) ([]string, error) {
		argv := append(append([]string{path}, args...), b.helper)
		return append(argv, svcs[0].args...), nil
	}
}

// watchdogDashCommand gives the command's grace, if any, as the shutdown budget: in `--` mode
// the command alone gets the whole budget.
func watchdogDashCommand(b *bench, _ string, svcs []service) ([]string, error) {
	argv := []string{b.watchdog}
	if g := svcs[0].grace; g > 0 {
		argv = append(argv, "--shutdown-timeout", g.String())
	}
	return append(append(argv, "--", b.helper), svcs[0].args...), nil
}

func serviceName(i int) string { return fmt.Sprintf("svc%04d", i) }

func watchdogConfigCommand(b *bench, dir string, svcs []service) ([]string, error) {
	var c strings.Builder
	fmt.Fprintf(&c, "[watchdog]\ncontrol_socket = %q\n", filepath.Join(dir, "watchdog.sock"))
	for i, svc := range svcs {
		fmt.Fprintf(&c, "\n[services.%s]\ncommand = [%s]\n", serviceName(i), quoted(append([]string{b.helper}, svc.args...)))
		if svc.zeroDelay {
			c.WriteString("restart_delay = \"0s\"\nmax_restarts = 1000000\n")
		}
		if svc.grace > 0 {
			fmt.Fprintf(&c, "stop_grace_period = %q\n", svc.grace.String())
		}
		if svc.healthURL != "" {
			fmt.Fprintf(&c, "[services.%s.healthcheck]\nhttp = %q\ninterval = \"1s\"\n", serviceName(i), svc.healthURL)
		}
	}
	path := filepath.Join(dir, "watchdog.toml")
	if err := os.WriteFile(path, []byte(c.String()), 0o644); err != nil {
		return nil, err
	}
	return []string{b.watchdog, "--config", path}, nil
}

func quoted(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	return strings.Join(q, ", ")
}

// serviceDirs writes one service directory per service under root, the layout s6-svscan and
// runsvdir share: ./run is the helper itself (it reads its arguments from bench-args), so no
// shell starts between the supervisor and the service.
func serviceDirs(b *bench, root string, svcs []service, extra func(dir string, svc service) error) error {
	for i, svc := range svcs {
		dir := filepath.Join(root, serviceName(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.Symlink(b.helper, filepath.Join(dir, "run")); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "bench-args"), []byte(strings.Join(svc.args, " ")), 0o644); err != nil {
			return err
		}
		if extra != nil {
			if err := extra(dir, svc); err != nil {
				return err
			}
		}
	}
	return nil
}

func s6Command(b *bench, dir string, svcs []service) ([]string, error) {
	scan := filepath.Join(dir, "scan")
	err := serviceDirs(b, scan, svcs, func(dir string, svc service) error {
		if svc.grace == 0 {
			return nil
		}
		ms := strconv.FormatInt(svc.grace.Milliseconds(), 10)
		return os.WriteFile(filepath.Join(dir, "timeout-kill"), []byte(ms+"\n"), 0o644)
	})
	if err != nil {
		return nil, err
	}
	// -c: s6-svscan supervises at most 500 services unless told more.
	return []string{"/usr/bin/s6-svscan", "-c", strconv.Itoa(max(500, 2*len(svcs))), scan}, nil
}

// runitCommand runs runsvdir, whose runsv processes have no setting for a kill timeout.
func runitCommand(b *bench, dir string, svcs []service) ([]string, error) {
	sv := filepath.Join(dir, "sv")
	if err := serviceDirs(b, sv, svcs, nil); err != nil {
		return nil, err
	}
	return []string{"/usr/bin/runsvdir", "-P", sv}, nil
}

func supervisordCommand(b *bench, dir string, svcs []service) ([]string, error) {
	var c strings.Builder
	// minfds: supervisord keeps three pipes per program open.
	fmt.Fprintf(&c, "[supervisord]\nnodaemon=true\nuser=root\nlogfile=%s\npidfile=%s\nchildlogdir=%s\nminfds=%d\n",
		filepath.Join(dir, "supervisord.log"), filepath.Join(dir, "supervisord.pid"), dir, 1024+4*len(svcs))
	for i, svc := range svcs {
		fmt.Fprintf(&c, "\n[program:%s]\ncommand=%s\nstdout_logfile=NONE\nstderr_logfile=NONE\n",
			serviceName(i), strings.Join(append([]string{b.helper}, svc.args...), " "))
		if svc.zeroDelay {
			c.WriteString("startsecs=0\nautorestart=true\n")
		}
		if svc.grace > 0 {
			fmt.Fprintf(&c, "stopwaitsecs=%d\n", max(1, int(svc.grace.Seconds())))
		}
	}
	path := filepath.Join(dir, "supervisord.conf")
	if err := os.WriteFile(path, []byte(c.String()), 0o644); err != nil {
		return nil, err
	}
	return []string{"/usr/bin/supervisord", "-n", "-c", path}, nil
}

// services is n copies of svc.
func services(n int, svc service) []service {
	svcs := make([]service, n)
	for i := range svcs {
		svcs[i] = svc
	}
	return svcs
}

// peerIndex is the index of p in peers, by name, or -1.
func peerIndex(peers []peer, p peer) int {
	return slices.IndexFunc(peers, func(q peer) bool { return q.name == p.name })
}
