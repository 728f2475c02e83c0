package main

import (
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func newVersionFlags() *flag.FlagSet { return newFlagSet("version") }

func versionCommand(args []string) int {
	fs := newVersionFlags()
	if err := fs.Parse(args); err != nil {
		return parseError("version", err)
	}
	if fs.NArg() > 0 {
		return usageError("version: unexpected argument %q", fs.Arg(0))
	}
	fmt.Printf("watchdog %s\n%s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.time" || s.Key == "CGO_ENABLED" {
				fmt.Printf("%s=%s\n", s.Key, s.Value)
			}
		}
	}
	return 0
}
