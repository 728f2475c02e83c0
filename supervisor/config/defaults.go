package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Defaults the other packages need too (shared/DESIGN.md, "Config" and "Command line").
const (
	DefaultShutdownTimeout = 9 * time.Second // stays under docker stop's 10 s
	DefaultControlSocket   = "/run/watchdog.sock"
	// MainService is the name of the command given after "--"; no [services] table may use it.
	MainService = "main"
)

// FallbackControlSocket is where the control socket goes when the default's directory, /run,
// cannot be written (watchdog runs as a user other than root, or on a read-only root
// filesystem): a directory of the user's own under the temporary directory. Clients that
// find no socket at the default look there.
func FallbackControlSocket() string {
	return filepath.Join(os.TempDir(), "watchdog-"+strconv.Itoa(os.Geteuid()), "watchdog.sock")
}

// Default returns the [watchdog] defaults and no services: the config of `watchdog -- CMD`
// without a file.
func Default() *Config {
	return &Config{Watchdog: Watchdog{
		ShutdownTimeout: DefaultShutdownTimeout,
		ControlSocket:   DefaultControlSocket,
		Log:             LogInherit,
	}}
}

// newService returns a service with every default applied, restart "always".
func newService(name string) *Service {
	return &Service{
		Name:             name,
		Restart:          RestartAlways,
		RestartDelay:     100 * time.Millisecond,
		RestartMaxDelay:  30 * time.Second,
		RestartWindow:    60 * time.Second,
		SuccessExitCodes: []int{0},
		StopSignal:       unix.SIGTERM,
		StopGracePeriod:  5 * time.Second,
		Log:              LogInherit,
		Instances:        1,
	}
}

func newHealthcheck() *Healthcheck {
	return &Healthcheck{
		Interval:    10 * time.Second,
		Timeout:     5 * time.Second,
		Retries:     3,
		OnUnhealthy: HealthRestart,
	}
}

// AddMain appends argv, the command after "--", as the critical service "main" that is
// never restarted. Whether argv[0] exists is not checked here: the supervisor reports a
// missing command with exit code 127 when it starts it, as a shell would.
func (c *Config) AddMain(argv []string) error {
	if len(argv) == 0 {
		return errors.New("no command after --")
	}
	for _, s := range c.Services {
		if s.Main {
			return errors.New("the main command is already set")
		}
	}
	s := newService(MainService)
	s.Command = slices.Clone(argv)
	s.Main = true
	s.Critical = true
	s.Restart = RestartNo
	c.Services = append(c.Services, s)
	return nil
}
