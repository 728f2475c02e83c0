package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// checkCommand is `watchdog check [--config FILE]`: validate and print the resolved plan.
func checkCommand(args []string) int {
	fs := flag.NewFlagSet("watchdog check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	path := fs.String("config", "", "config file (default $WATCHDOG_CONFIG, else /etc/watchdog.toml)")
	if err := fs.Parse(args); err != nil {
		return usageError("check: %v", err)
	}
	if fs.NArg() > 0 {
		return usageError("check: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(*path, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitUsage
	}
	if err := cfg.WritePlan(os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "watchdog: check: %v\n", err)
		return 1
	}
	return 0
}
