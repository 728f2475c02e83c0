package config

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"watchdog/supervisor/config/tomltext"
)

// WritePlan prints the config as `watchdog check` shows it: valid TOML with every
// effective value, defaults included, and the services in start order. Read back,
// it gives the same Config. The command after "--" is shown commented out, since
// "main" cannot be a [services] table.
func (c *Config) WritePlan(w io.Writer) error {
	p := &plan{}
	if c.Path != "" {
		p.line("# config: %s", c.Path)
	}
	names := make([]string, len(c.Services))
	for i, s := range c.Services {
		names[i] = s.Name
	}
	// The copies of a service with instances are one table: the first stands for them all.
	var tables []*Service
	for _, s := range c.Services {
		if s.Instance == 0 {
			tables = append(tables, s)
		}
	}
	if len(names) == 0 {
		names = append(names, "(no services)")
	}
	p.line("# start order: %s", strings.Join(names, ", "))
	p.line("")
	p.line("[watchdog]")
	p.line("shutdown_timeout = %s", duration(c.Watchdog.ShutdownTimeout))
	p.line("control_socket = %s", tomltext.String(c.Watchdog.ControlSocket))
	p.line("metrics_address = %s", tomltext.String(c.Watchdog.MetricsAddress))
	p.line("log = %s", tomltext.String(string(c.Watchdog.Log)))
	for _, s := range tables {
		p.line("")
		if s.Main {
			p.line(`# the command after "--":`)
			p.prefix = "# "
		}
		p.service(s)
		p.prefix = ""
	}
	_, err := io.WriteString(w, p.b.String())
	return err
}

type plan struct {
	b      strings.Builder
	prefix string // "# " comments a table out
}

func (p *plan) line(format string, args ...any) {
	if format != "" {
		p.b.WriteString(p.prefix)
	}
	fmt.Fprintf(&p.b, format, args...)
	p.b.WriteByte('\n')
}

func (p *plan) service(s *Service) {
	name, deps := s.Name, s.DependsOn
	if s.InstanceOf != "" {
		name, deps = s.InstanceOf, dependencyTables(deps)
	}
	p.line("[services.%s]", tomltext.Key(name))
	p.line("command = %s", tomltext.Strings(s.Command))
	if cr := s.Credential; cr != nil {
		p.line("user = %s # uid %d, gid %d, groups %v, home %s", tomltext.String(s.User), cr.UID, cr.GID, cr.Groups, tomltext.String(cr.Home))
	} else {
		p.line("user = %s", tomltext.String(s.User))
	}
	p.line("working_dir = %s", tomltext.String(s.WorkingDir))
	env := make([]string, len(s.Environment))
	for i, kv := range s.Environment {
		k, v, _ := strings.Cut(kv, "=")
		env[i] = tomltext.Key(k) + " = " + tomltext.String(v)
	}
	if len(env) == 0 {
		p.line("environment = {}")
	} else {
		p.line("environment = { %s }", strings.Join(env, ", "))
	}
	p.line("oneshot = %t", s.Oneshot)
	p.line("depends_on = %s", tomltext.Strings(deps))
	p.line("critical = %t", s.Critical)
	p.line("restart = %s", tomltext.String(string(s.Restart)))
	p.line("restart_delay = %s", duration(s.RestartDelay))
	p.line("restart_max_delay = %s", duration(s.RestartMaxDelay))
	p.line("max_restarts = %d", s.MaxRestarts)
	p.line("restart_window = %s", duration(s.RestartWindow))
	codes := make([]string, len(s.SuccessExitCodes))
	for i, c := range s.SuccessExitCodes {
		codes[i] = strconv.Itoa(c)
	}
	p.line("success_exit_codes = [%s]", strings.Join(codes, ", "))
	p.line("stop_signal = %s", signal(s.StopSignal))
	p.line("stop_grace_period = %s", duration(s.StopGracePeriod))
	p.line("notify = %t", s.Notify)
	p.line("watchdog_timeout = %s", duration(s.WatchdogTimeout))
	p.line("startup_timeout = %s", duration(s.StartupTimeout))
	p.line("log = %s", tomltext.String(string(s.Log)))
	p.line("instances = %d", s.Instances)
	if h := s.Healthcheck; h != nil {
		p.line("")
		p.line("[services.%s.healthcheck]", tomltext.Key(name))
		switch {
		case len(h.Command) > 0:
			p.line("command = %s", tomltext.Strings(h.Command))
		case h.HTTP != "":
			p.line("http = %s", tomltext.String(h.HTTP))
		default:
			p.line("tcp = %s", tomltext.String(h.TCP))
		}
		p.line("interval = %s", duration(h.Interval))
		p.line("timeout = %s", duration(h.Timeout))
		p.line("retries = %d", h.Retries)
		p.line("start_period = %s", duration(h.StartPeriod))
		p.line("on_unhealthy = %s", tomltext.String(string(h.OnUnhealthy)))
	}
}

func duration(d time.Duration) string { return tomltext.String(d.String()) }

// signal prints a signal by name, or by number when it has none.
func signal(sig unix.Signal) string {
	if name := SignalName(sig); strings.HasPrefix(name, "SIG") {
		return tomltext.String(name)
	}
	return strconv.Itoa(int(sig))
}

// dependencyTables maps the dependencies of a copy back to the tables they were written as:
// "web.0", "web.1" were "web".
func dependencyTables(deps []string) []string {
	var tables []string
	for _, d := range deps {
		if i := strings.LastIndexByte(d, '.'); i > 0 {
			d = d[:i]
		}
		if !slices.Contains(tables, d) {
			tables = append(tables, d)
		}
	}
	return tables
}
