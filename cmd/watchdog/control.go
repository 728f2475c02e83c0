package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"watchdog/supervisor/config"
	"watchdog/supervisor/control"
)

// clientFlags are the flags of the commands that talk to a running watchdog.
type clientFlags struct {
	*flag.FlagSet
	socket *string
	config *string
}

func newClientFlags(command string) *clientFlags {
	fs := newFlagSet(command)
	return &clientFlags{
		FlagSet: fs,
		socket:  fs.String("socket", "", "control socket (default $WATCHDOG_SOCKET, else control_socket of the config, else /run/watchdog.sock)"),
		config:  fs.String("config", "", "config whose control_socket to use (default $WATCHDOG_CONFIG, else /etc/watchdog.toml)"),
	}
}

// socketPath is the control socket to ask, chosen as the server chooses it: --socket, else
// $WATCHDOG_SOCKET, else control_socket of the config, else the default. A config named by
// --config must load; the implied one is skipped when it does not, since a watchdog running
// only `-- CMD` reads none.
func (c *clientFlags) socketPath() (string, error) {
	if *c.socket != "" {
		return *c.socket, nil
	}
	if env := os.Getenv("WATCHDOG_SOCKET"); env != "" {
		return env, nil
	}
	path := config.DefaultControlSocket
	cfg, err := loadConfig(*c.config, false)
	switch {
	case err == nil:
		path = cfg.Watchdog.ControlSocket
	case *c.config != "":
		return "", err
	}
	// A watchdog that could not write to /run listens at the fallback instead; a socket at
	// the default that this user may not use belongs to another watchdog.
	if path == config.DefaultControlSocket && (!fileExists(path) || unix.Access(path, unix.W_OK) != nil) {
		if fallback := config.FallbackControlSocket(); fileExists(fallback) {
			return fallback, nil
		}
	}
	return path, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// controlFlags are the flags of `watchdog start|stop|restart`.
type controlFlags struct {
	*clientFlags
	rolling *bool // restart only; nil for start and stop
}

func newControlFlags(op string) *controlFlags {
	flags := &controlFlags{clientFlags: newClientFlags(op)}
	if op == control.CommandRestart {
		flags.rolling = flags.Bool("rolling", false, "restart one at a time, each once the one before is ready again")
	}
	return flags
}

// controlCommand is `watchdog start|stop|restart NAME...`: it prints the status line of each
// named service once the command was taken, or the error, and exits 1 on an error.
func controlCommand(op string) func(args []string) int {
	return func(args []string) int {
		flags := newControlFlags(op)
		rolling := flags.rolling
		if err := flags.Parse(args); err != nil {
			return parseError(op, err)
		}
		names := flags.Args()
		if len(names) == 0 {
			return usageError("%s: name the services (watchdog %s NAME...)", op, op)
		}
		path, err := flags.socketPath()
		if err != nil {
			return usageError("%s: %v", op, err)
		}
		req := control.Request{Command: op, Services: names}
		if rolling != nil {
			req.Rolling = *rolling
		}
		resp, err := control.Do(path, req)
		if err != nil {
			fmt.Fprintf(os.Stderr, "watchdog: %v\n", err)
			return 1
		}
		now := time.Now()
		for _, snap := range resp.Services {
			if slices.ContainsFunc(names, func(n string) bool { return named(snap.Name, n) }) {
				fmt.Println(snap.Line(now))
			}
		}
		return 0
	}
}

// named reports whether the service called name is meant by n: itself, or, for a copy
// ("web.1"), the service it is a copy of ("web").
func named(name, n string) bool {
	return name == n || strings.HasPrefix(name, n+".")
}

// reloadCommand is `watchdog reload`: the running watchdog re-reads its config file and
// applies the difference; a config that is not valid changes nothing and its errors are shown.
func reloadCommand(args []string) int {
	flags := newClientFlags("reload")
	if err := flags.Parse(args); err != nil {
		return parseError("reload", err)
	}
	if flags.NArg() > 0 {
		return usageError("reload: unexpected argument %q", flags.Arg(0))
	}
	path, err := flags.socketPath()
	if err != nil {
		return usageError("reload: %v", err)
	}
	resp, err := control.Do(path, control.Request{Command: control.CommandReload})
	if err != nil {
		fmt.Fprintf(os.Stderr, "watchdog: %v\n", err)
		return 1
	}
	now := time.Now()
	for _, snap := range resp.Services {
		fmt.Println(snap.Line(now))
	}
	return 0
}
