// Package config turns watchdog.toml into typed, validated, defaulted settings
// (shared/DESIGN.md, "Config"). Nothing downstream re-reads TOML or applies a default.
package config

import (
	"time"

	"golang.org/x/sys/unix"
)

// Config is a whole, valid configuration. It is never modified after Load.
type Config struct {
	// Path is the file the config came from ("" when built from flags only).
	Path     string
	Watchdog Watchdog
	// Services in start order: every service comes after the services it depends on;
	// ties are broken by name so the order is stable.
	Services []*Service
}

// Watchdog holds the [watchdog] table.
type Watchdog struct {
	ShutdownTimeout time.Duration // whole staged shutdown budget
	ControlSocket   string
	MetricsAddress  string  // "" serves no metrics
	Log             LogMode // the services' default
}

// LogMode says where a service's stdout and stderr go.
type LogMode string

const (
	LogInherit LogMode = "inherit" // straight to watchdog's own stdout and stderr, no copies
	LogJSON    LogMode = "json"    // each line one JSON object on watchdog's stdout: ts, service, stream, line
)

// RestartPolicy says when a service whose main process exited is started again.
type RestartPolicy string

const (
	RestartAlways    RestartPolicy = "always"     // after every exit
	RestartOnFailure RestartPolicy = "on-failure" // after an exit code not in SuccessExitCodes or a signal we did not send
	RestartNo        RestartPolicy = "no"         // never
)

// Service is one [services.NAME] table with every default applied.
type Service struct {
	Name    string
	Command []string // argv; Command[0] is looked up in PATH when it has no slash

	// User is the user as written ("" runs as watchdog's own user); Credential is
	// what it resolved to, nil when User is "".
	User       string
	Credential *Credential
	WorkingDir string
	// Environment holds the "KEY=VALUE" pairs added to watchdog's own environment, sorted by key.
	Environment []string

	Oneshot   bool
	DependsOn []string
	Critical  bool
	// Main marks the command given after "--": its exit ends watchdog with its code.
	// Not a TOML key.
	Main bool

	Restart          RestartPolicy
	RestartDelay     time.Duration // first backoff
	RestartMaxDelay  time.Duration // backoff cap; a run this long resets the backoff
	MaxRestarts      int           // 0 = no limit
	RestartWindow    time.Duration
	SuccessExitCodes []int

	StopSignal      unix.Signal
	StopGracePeriod time.Duration

	// Readiness and liveness (nil Healthcheck: none).
	Healthcheck     *Healthcheck
	Notify          bool          // service speaks sd_notify; ready on READY=1
	WatchdogTimeout time.Duration // 0 = none; a missed WATCHDOG=1 ping restarts the service
	StartupTimeout  time.Duration // 0 = wait forever for readiness

	Log LogMode

	// Instances is how many copies of the service run. A table with instances = N > 1
	// becomes N services NAME.0 ... NAME.N-1, each with InstanceOf = NAME and its Instance
	// number (WATCHDOG_INSTANCE in its environment); depending on NAME means on all of them.
	Instances  int
	Instance   int
	InstanceOf string
}

// Credential is a resolved `user =` value.
type Credential struct {
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups
	Home   string   // "" when the user has no passwd entry (a bare uid)
	Name   string   // "" when the user has no passwd entry
}

// HealthAction says what an unhealthy service gets.
type HealthAction string

const (
	HealthRestart HealthAction = "restart" // stop escalation, then restart (counts against the limit)
	HealthIgnore  HealthAction = "ignore"  // only reported
)

// Healthcheck is a [services.NAME.healthcheck] table. Exactly one of Command, HTTP and TCP is set.
type Healthcheck struct {
	Command     []string
	HTTP        string // URL; 2xx and 3xx are healthy
	TCP         string // host:port; a connect is healthy
	Interval    time.Duration
	Timeout     time.Duration
	Retries     int // consecutive failures before unhealthy
	StartPeriod time.Duration
	OnUnhealthy HealthAction
}
