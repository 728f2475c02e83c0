// Command watchdog is a PID-1 init and process supervisor for containers (shared/DESIGN.md).
package main

import (
	"fmt"
	"os"
	"strings"

	"watchdog/supervisor/control"
)

// Exit codes of watchdog's own making (DESIGN.md "Exit codes").
const (
	exitUsage     = 2 // usage or config error, before anything starts
	exitNotAsWant = 3 // `watchdog status`: some service is not as wanted
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// subcommands are the first word of `watchdog COMMAND ...`; anything else is the supervisor.
var subcommands = map[string]func(args []string) int{
	"check":              checkCommand,
	"cli-reference":      cliReferenceCommand,
	"config-reference":   configReferenceCommand,
	"health":             healthCommand,
	"help":               helpCommand,
	"import-supervisord": importSupervisordCommand,
	"import-unit":        importUnitCommand,
	"reload":             reloadCommand,
	"restart":            controlCommand(control.CommandRestart),
	"start":              controlCommand(control.CommandStart),
	"status":             statusCommand,
	"stop":               controlCommand(control.CommandStop),
	"version":            versionCommand,
}

func run(args []string) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, ok := subcommands[args[0]]
		if !ok {
			return usageError("unknown command %q (to run a program under watchdog: watchdog -- %s ...)", args[0], args[0])
		}
		return cmd(args[1:])
	}
	return superviseCommand(args)
}

func usageError(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "watchdog: "+format+"\n", args...)
	return exitUsage
}
