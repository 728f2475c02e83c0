package main

import (
	"flag"
	"fmt"
	"os"

	"watchdog/supervisor/supervisordconf"
)

func newImportSupervisordFlags() *flag.FlagSet { return newFlagSet("import-supervisord") }

// The help of import-supervisord, listed after import-unit's.
// importSupervisordCommand is `watchdog import-supervisord FILE`: print the programs of
// a supervisord config, and of the files it includes, as [services] tables of
// watchdog.toml, and list on stderr, as in comments above the tables, what it says that
// watchdog cannot express.
func importSupervisordCommand(args []string) int {
	fs := newImportSupervisordFlags()
	if err := fs.Parse(args); err != nil {
		return parseError("import-supervisord", err)
	}
	if fs.NArg() != 1 {
		return usageError("import-supervisord: want one config file (usage: watchdog import-supervisord FILE)")
	}
	hostname, _ := os.Hostname() // "" only makes %(host_node_name)s empty, and its use is noted
	t, err := supervisordconf.Import(fs.Arg(0), supervisordconf.Host{Environ: os.Environ(), Hostname: hostname})
	if err != nil {
		fmt.Fprintf(os.Stderr, "watchdog: import-supervisord: %v\n", err)
		return 1
	}
	for _, n := range t.Notes {
		fmt.Fprintln(os.Stderr, n)
	}
	for _, s := range t.Services {
		for _, n := range s.Notes {
			fmt.Fprintln(os.Stderr, n)
		}
	}
	if err := supervisordconf.WriteTOML(os.Stdout, t); err != nil {
		fmt.Fprintf(os.Stderr, "watchdog: import-supervisord: %v\n", err)
		return 1
	}
	return 0
}
