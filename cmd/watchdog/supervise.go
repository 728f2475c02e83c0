package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"watchdog/reaper"
	"watchdog/supervisor"
	"watchdog/supervisor/config"
	"watchdog/supervisor/control"
	"watchdog/supervisor/logging"
	"watchdog/supervisor/metrics"
	"watchdog/supervisor/signals"
)

type superviseFlags struct {
	*flag.FlagSet
	config          *string
	shutdownTimeout *time.Duration
	logLevel        *string
	logFormat       *string
	socket          *string
}

func newSuperviseFlags() *superviseFlags {
	fs := newFlagSet("")
	return &superviseFlags{
		FlagSet:         fs,
		config:          fs.String("config", "", "config file (default $WATCHDOG_CONFIG, else /etc/watchdog.toml; none with -- CMD)"),
		shutdownTimeout: fs.Duration("shutdown-timeout", 0, "whole staged shutdown budget (default 9s, or [watchdog] shutdown_timeout)"),
		logLevel:        fs.String("log-level", "info", "debug, info, warn or error"),
		logFormat:       fs.String("log-format", "", "json or console (default console on a terminal, else json)"),
		socket:          fs.String("socket", "", "control socket (default $WATCHDOG_SOCKET, else [watchdog] control_socket)"),
	}
}

// superviseCommand is `watchdog [flags] [-- CMD ARGS...]`: watchdog as PID 1 or subreaper.
func superviseCommand(args []string) int {
	// Subscribe before anything else: a Go PID 1 without handlers dies of SIGTERM.
	sigs := signals.Notify()
	spareThreads(4)

	fs := newSuperviseFlags()
	configPath, shutdownTimeout, logLevel, logFormat, socket := fs.config, fs.shutdownTimeout, fs.logLevel, fs.logFormat, fs.socket
	if err := fs.Parse(args); err != nil {
		return parseError("", err)
	}
	command := fs.Args()
	if len(command) > 0 && args[len(args)-len(command)-1] != "--" {
		return usageError("unexpected argument %q: put the command after --", command[0])
	}
	dashdash := len(args) > 0 && len(command) == 0 && args[len(args)-1] == "--"
	if dashdash {
		return usageError("no command after --")
	}

	cfg, err := loadConfig(*configPath, len(command) > 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitUsage
	}
	if *shutdownTimeout > 0 {
		cfg.Watchdog.ShutdownTimeout = *shutdownTimeout
	}
	if len(command) > 0 {
		if err := cfg.AddMain(command); err != nil {
			return usageError("%v", err)
		}
		if len(cfg.Services) == 1 {
			// tini-style: the command alone gets the whole budget before SIGKILL.
			cfg.Services[0].StopGracePeriod = cfg.Watchdog.ShutdownTimeout
		}
	}
	if *socket == "" {
		*socket = os.Getenv("WATCHDOG_SOCKET")
	}
	if *socket != "" {
		cfg.Watchdog.ControlSocket = *socket
	}
	fallBackFromRun(cfg)

	if *logFormat == "" {
		*logFormat = logging.FormatJSON
		if _, err := unix.IoctlGetTermios(1, unix.TCGETS); err == nil {
			*logFormat = logging.FormatConsole
		}
	}
	sink := logging.NewSink(os.Stdout, logging.DefaultQueueBytes)
	defer sink.Close(time.Second)
	log, err := logging.New(sink, *logFormat, *logLevel)
	if err != nil {
		return usageError("%v", err)
	}

	r, err := reaper.New(log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "watchdog: %v\n", err)
		return 1
	}
	defer r.Close()
	sup, err := supervisor.New(cfg, r, log, supervisor.Output(sink))
	if err != nil {
		fmt.Fprintf(os.Stderr, "watchdog: %v\n", err)
		return 1
	}
	// Supervision never depends on the control socket: without it only status and operator
	// commands are lost. Close's error is moot: the next Listen replaces a file left behind.
	if srv, err := control.Listen(cfg.Watchdog.ControlSocket, sup, log); err != nil {
		log.Warn("control_socket_unavailable", zap.String("path", cfg.Watchdog.ControlSocket),
			zap.String("reason", err.Error()))
	} else {
		defer srv.Close()
	}
	// Like the control socket, metrics are never worth stopping supervision for.
	if addr := cfg.Watchdog.MetricsAddress; addr != "" {
		src := metrics.Source{Services: sup.Status, Orphans: r.Orphans, LogLinesDropped: sink.Dropped,
			Counters: sup.Counters, Version: version}
		if srv, err := metrics.Listen(addr, src, log); err != nil {
			log.Warn("metrics_unavailable", zap.String("address", addr), zap.String("reason", err.Error()))
		} else {
			defer srv.Close()
		}
	}
	return sup.Run(sigs)
}

// loadConfig reads the config file named by the flag or $WATCHDOG_CONFIG. Without either, a
// command after -- runs with the defaults and no file; otherwise /etc/watchdog.toml is read.
func loadConfig(path string, haveCommand bool) (*config.Config, error) {
	if path == "" {
		path = os.Getenv("WATCHDOG_CONFIG")
	}
	if path == "" {
		if haveCommand {
			return config.Default(), nil
		}
		path = "/etc/watchdog.toml"
	}
	return config.Load(path)
}

// fallBackFromRun moves the control socket, and the notify sockets beside it, out of /run
// when watchdog cannot write there (not root, or a read-only root filesystem) and nobody
// chose another place: status, health and sd_notify then still work.
func fallBackFromRun(cfg *config.Config) {
	if cfg.Watchdog.ControlSocket != config.DefaultControlSocket {
		return
	}
	dir := filepath.Dir(config.DefaultControlSocket)
	if err := os.MkdirAll(dir, 0o755); err == nil && unix.Access(dir, unix.W_OK) == nil {
		return
	}
	cfg.Watchdog.ControlSocket = config.FallbackControlSocket()
}

// spareThreads has the Go runtime start n OS threads and keep them idle, so that it has
// threads to run on when a pids limit (docker run --pids-limit, the pids cgroup) refuses
// new ones: without a spare thread the runtime dies at the limit ("newosproc").
func spareThreads(n int) {
	var running, release sync.WaitGroup
	running.Add(n)
	release.Add(1)
	for range n {
		go func() {
			runtime.LockOSThread() // no other goroutine may take this thread: n threads at once
			running.Done()
			release.Wait()
			runtime.UnlockOSThread() // the thread stays with the runtime, idle
		}()
	}
	running.Wait()
	release.Done()
}
