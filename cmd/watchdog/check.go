package main

import (
	"flag"
	"fmt"
	"os"
)

type checkFlags struct {
	*flag.FlagSet
	config *string
}

func newCheckFlags() *checkFlags {
	fs := newFlagSet("check")
	return &checkFlags{
		FlagSet: fs,
		config:  fs.String("config", "", "config file (default $WATCHDOG_CONFIG, else /etc/watchdog.toml)"),
	}
}

// checkCommand is `watchdog check [--config FILE]`: validate and print the resolved plan.
func checkCommand(args []string) int {
	fs := newCheckFlags()
	if err := fs.Parse(args); err != nil {
		return parseError("check", err)
	}
	if fs.NArg() > 0 {
		return usageError("check: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(*fs.config, false)
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
