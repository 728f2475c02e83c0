package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"watchdog/supervisor/config/textfile"
	"watchdog/supervisor/config/tomltext"
)

// Load reads, decodes, defaults and validates the config file at path. A config
// error is Errors, listing every problem in the file.
func Load(path string) (*Config, error) {
	data, err := textfile.Read(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes, defaults and validates the contents of a config file; path names the
// file in errors and in Config.Path. A config error is Errors, listing every problem.
func Parse(path string, data []byte) (*Config, error) {
	return parse(path, data, os.Geteuid())
}

// parse is Parse for a watchdog running with effective uid euid.
func parse(path string, data []byte, euid int) (*Config, error) {
	root, syntaxErr := readDocument(data)
	if syntaxErr != nil {
		syntaxErr.File = path
		return nil, Errors{syntaxErr}
	}
	probs := &problems{file: path}
	cfg := Default()
	cfg.Path = path
	doc := newTable(root, probs)
	if t, ok := doc.table("watchdog"); ok {
		decodeWatchdog(t, &cfg.Watchdog)
	}
	var services []*Service
	tables := map[string]*table{}
	named := 0
	var units unitOrigins
	if all, ok := doc.table("services"); ok {
		units = readUnits(all)
		names := all.keys()
		named = len(names)
		for _, name := range names {
			t, ok := all.table(name)
			if !ok {
				continue
			}
			checkServiceName(all, name)
			s := decodeService(t, name, cfg.Watchdog.Log)
			checkHost(t, s, euid)
			services = append(services, s)
			tables[name] = t
		}
	}
	doc.finish()
	if !doc.has("watchdog") && named == 0 {
		probs.add(0, "", "no [watchdog] table and no services")
	}
	cfg.Services = expandInstances(orderServices(services, tables))
	units.attribute(probs)
	if err := probs.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func decodeWatchdog(t *table, w *Watchdog) {
	t.positiveDuration("shutdown_timeout", &w.ShutdownTimeout)
	if t.str("control_socket", &w.ControlSocket) && w.ControlSocket == "" {
		t.errorf("control_socket", "must not be empty")
	}
	if t.str("metrics_address", &w.MetricsAddress) && w.MetricsAddress != "" {
		if err := checkHostPort(w.MetricsAddress, false); err != nil {
			t.errorf("metrics_address", "%v", err)
		}
	}
	logMode(t, &w.Log)
	t.finish()
}

// logMode reads a log key: "inherit" or "json".
func logMode(t *table, dst *LogMode) {
	var mode string
	if !t.str("log", &mode) {
		return
	}
	switch m := LogMode(mode); m {
	case LogInherit, LogJSON:
		*dst = m
	default:
		t.errorf("log", "must be %q or %q, not %q", LogInherit, LogJSON, mode)
	}
}

// maxInstances bounds instances = N against a typo starting a fork storm.
const maxInstances = 1000

func checkServiceName(services *table, name string) {
	if name == MainService {
		services.errorf(name, "the name %q is reserved for the command after --", MainService)
		return
	}
	// A name is a bare TOML key, so that it never needs quotes.
	if name == "" || strings.Trim(name, tomltext.BareKeyChars) != "" {
		services.errorf(name, "invalid service name: use letters, digits, '_' and '-'")
	}
}

func decodeService(t *table, name string, log LogMode) *Service {
	s := newService(name)
	s.Log = log
	logMode(t, &s.Log)
	if !t.has("command") {
		t.errorf("command", "is required")
	} else if t.strs("command", &s.Command) && (len(s.Command) == 0 || s.Command[0] == "") {
		t.errorf("command", "must name a program")
	}
	t.str("user", &s.User)
	t.str("working_dir", &s.WorkingDir)
	if env, ok := t.table("environment"); ok {
		s.Environment = decodeEnvironment(env)
	}
	t.boolean("oneshot", &s.Oneshot)
	if t.integer("instances", &s.Instances, 1) {
		switch {
		case s.Instances > maxInstances:
			t.errorf("instances", "at most %d, not %d", maxInstances, s.Instances)
		case s.Instances > 1 && s.Oneshot:
			t.errorf("instances", "a oneshot runs once: it cannot have instances")
		}
	}
	t.strs("depends_on", &s.DependsOn)
	t.boolean("critical", &s.Critical)
	decodeRestart(t, s)
	decodeStop(t, s)
	if h, ok := t.table("healthcheck"); ok {
		s.Healthcheck = decodeHealthcheck(h)
	}
	t.boolean("notify", &s.Notify)
	if t.duration("watchdog_timeout", &s.WatchdogTimeout) && s.WatchdogTimeout > 0 && !s.Notify {
		t.errorf("watchdog_timeout", "needs notify = true: the pings come over the notify socket")
	}
	t.duration("startup_timeout", &s.StartupTimeout)
	t.finish()
	return s
}

// decodeEnvironment returns the table's variables as "KEY=VALUE", sorted by key.
func decodeEnvironment(t *table) []string {
	var env []string
	for _, key := range t.keys() {
		var v string
		if !t.str(key, &v) {
			continue
		}
		if key == "" || strings.ContainsAny(key, "=\x00") {
			t.errorf(key, "invalid variable name: it must not be empty or contain '='")
			continue
		}
		env = append(env, key+"="+v)
	}
	return env
}

// decodeRestart reads when and how fast a service is restarted.
func decodeRestart(t *table, s *Service) {
	if s.Oneshot {
		s.Restart = RestartNo
	}
	var restart string
	if t.str("restart", &restart) {
		switch p := RestartPolicy(restart); p {
		case RestartAlways, RestartOnFailure, RestartNo:
			s.Restart = p
			if s.Oneshot && p == RestartAlways {
				t.errorf("restart", "a oneshot service cannot restart %q: use %q or %q", p, RestartOnFailure, RestartNo)
			}
		default:
			t.errorf("restart", "must be %q, %q or %q, not %q", RestartAlways, RestartOnFailure, RestartNo, restart)
		}
	}
	// "0s" restarts at once, every time: allowed only with a restart limit, so that no
	// setting can make a restart storm.
	t.duration("restart_delay", &s.RestartDelay)
	t.positiveDuration("restart_max_delay", &s.RestartMaxDelay)
	if s.RestartMaxDelay < s.RestartDelay {
		if t.has("restart_max_delay") {
			t.errorf("restart_max_delay", "must not be shorter than restart_delay (%s)", s.RestartDelay)
		} else {
			t.errorf("restart_delay", "must not be longer than restart_max_delay (%s by default)", s.RestartMaxDelay)
		}
	}
	t.integer("max_restarts", &s.MaxRestarts, 0)
	if s.RestartDelay == 0 && s.MaxRestarts == 0 && s.Restart != RestartNo {
		t.errorf("restart_delay", "0s needs max_restarts > 0: without backoff or a limit a crashing service restarts in a storm")
	}
	t.positiveDuration("restart_window", &s.RestartWindow)

	var codes []int64
	if array(t, "success_exit_codes", &codes) {
		if len(codes) == 0 {
			t.errorf("success_exit_codes", "must not be empty")
		}
		s.SuccessExitCodes = nil
		for _, c := range codes {
			if c < 0 || c > 255 {
				t.errorf("success_exit_codes", "exit code %d is out of range 0-255", c)
				continue
			}
			s.SuccessExitCodes = append(s.SuccessExitCodes, int(c))
		}
	}
}

// decodeStop reads how a service is stopped.
func decodeStop(t *table, s *Service) {
	if v, ok := t.lookup("stop_signal"); ok {
		var sig unix.Signal
		var err error
		switch v := v.(type) {
		case string:
			sig, err = ParseSignal(v)
		case int64:
			sig, err = ParseSignal(strconv.FormatInt(v, 10))
		default:
			err = fmt.Errorf("must be a signal name or number, not %s", typeName(v))
		}
		if err != nil {
			t.errorf("stop_signal", "%v", err)
		} else {
			s.StopSignal = sig
		}
	}
	t.duration("stop_grace_period", &s.StopGracePeriod)
}

func decodeHealthcheck(t *table) *Healthcheck {
	h := newHealthcheck()
	if t.strs("command", &h.Command) && (len(h.Command) == 0 || h.Command[0] == "") {
		t.errorf("command", "must name a program")
	}
	if t.str("http", &h.HTTP) {
		if err := checkURL(h.HTTP); err != nil {
			t.errorf("http", "%v", err)
		}
	}
	if t.str("tcp", &h.TCP) {
		if err := checkHostPort(h.TCP, true); err != nil {
			t.errorf("tcp", "%v", err)
		}
	}
	t.positiveDuration("interval", &h.Interval)
	t.positiveDuration("timeout", &h.Timeout)
	t.integer("retries", &h.Retries, 1)
	t.duration("start_period", &h.StartPeriod)
	var action string
	if t.str("on_unhealthy", &action) {
		switch a := HealthAction(action); a {
		case HealthRestart, HealthIgnore:
			h.OnUnhealthy = a
		default:
			t.errorf("on_unhealthy", "must be %q or %q, not %q", HealthRestart, HealthIgnore, action)
		}
	}
	var probes []string
	for _, probe := range []string{"command", "http", "tcp"} {
		if t.has(probe) {
			probes = append(probes, probe)
		}
	}
	switch len(probes) {
	case 0:
		t.errorf("", "needs one of command, http or tcp")
	case 1:
	default:
		t.errorf("", "sets %s: set exactly one of command, http or tcp", strings.Join(probes, " and "))
	}
	t.finish()
	return h
}

// checkURL accepts the URL of an HTTP health check.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid URL %q: want http://HOST[:PORT]/PATH or https://...", s)
	}
	return nil
}

// checkHostPort accepts "host:port" with a numeric port; the host may be empty
// (all addresses, for a listener) unless needHost.
func checkHostPort(addr string, needHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q: want HOST:PORT", addr)
	}
	if needHost && host == "" {
		return fmt.Errorf("invalid address %q: the host is missing", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("invalid address %q: the port must be a number from 1 to 65535", addr)
	}
	return nil
}
