package main

import (
	"flag"
	"fmt"
	"os"

	"watchdog/supervisor/systemdunit"
)

func newImportUnitFlags() *flag.FlagSet { return newFlagSet("import-unit") }

// importUnitCommand is `watchdog import-unit FILE.service...`: print the units as
// [services] tables of watchdog.toml, and list on stderr, as in comments above each
// table, what they say that watchdog cannot express. Exit 0 when every file was read,
// 1 when one could not be.
func importUnitCommand(args []string) int {
	fs := newImportUnitFlags()
	if err := fs.Parse(args); err != nil {
		return parseError("import-unit", err)
	}
	if fs.NArg() == 0 {
		return usageError("import-unit: no unit files (usage: watchdog import-unit FILE.service...)")
	}
	translations, errs := systemdunit.Import(fs.Args())
	for _, err := range errs {
		fmt.Fprintf(os.Stderr, "watchdog: import-unit: %v\n", err)
	}
	for _, t := range translations {
		for _, n := range t.Notes {
			where := n.File
			if n.Line > 0 {
				where = fmt.Sprintf("%s:%d", where, n.Line)
			}
			fmt.Fprintf(os.Stderr, "%s: unsupported: %s: %s\n", where, n.Directive, n.Reason)
		}
	}
	if err := systemdunit.WriteTOML(os.Stdout, translations); err != nil {
		fmt.Fprintf(os.Stderr, "watchdog: import-unit: %v\n", err)
		return 1
	}
	if len(errs) > 0 {
		return 1
	}
	return 0
}
