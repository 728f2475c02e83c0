package main

//go:generate sh -c "go build -o /dev/null . && go run . cli-reference > ../../docs/cli.md && go run . config-reference > ../../docs/config.md"

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"watchdog/supervisor/config"
)

// commandDoc is what `watchdog help` says about one command. Its flags come from the
// function that builds the flag set the command itself parses, so the help lists exactly
// the flags the command takes.
type commandDoc struct {
	name    string // the first word after watchdog; "" for watchdog itself
	usage   string // the synopsis
	summary string // one line for the list of commands
	text    string // what it does and how it exits
	flags   func() *flag.FlagSet
}

// commandDocs documents watchdog itself and then every entry of subcommands, in the order
// `watchdog help` lists them.
var commandDocs = []commandDoc{
	{
		name:    "",
		usage:   "watchdog [flags] [-- CMD ARGS...]",
		summary: "supervise the services of a config file, and CMD as the main service, tini-style",
		text: `Without -- CMD, supervise the services of the config file (--config, else $WATCHDOG_CONFIG,
else /etc/watchdog.toml). With -- CMD, run CMD as the one main service: every catchable signal
is forwarded to its process group, and watchdog exits with its exit code (128+N when signal N
ended it); a config file given too runs its services beside it.
As PID 1 watchdog reaps every orphan; anywhere else it makes itself a child subreaper.
SIGTERM and SIGINT start the staged shutdown, bounded by shutdown_timeout; SIGHUP reloads
the config. Exit codes: the command's in -- mode; a critical service's when it failed for
good; 0 after a staged shutdown in which every service stopped in time, 1 when one had to be
SIGKILLed; 2 for a usage or config error, before anything starts.`,
		flags: func() *flag.FlagSet { return newSuperviseFlags().FlagSet },
	},
	{
		name:    "check",
		usage:   "watchdog check [--config FILE]",
		summary: "validate a config; print the resolved plan (exit 0) or every error (exit 2)",
		text: `Read the config as watchdog would, without starting anything. A valid config is printed as
TOML with every effective value, defaults included, and the services in start order (exit 0);
otherwise every error is printed with its file, line and key (exit 2).`,
		flags: func() *flag.FlagSet { return newCheckFlags().FlagSet },
	},
	{
		name:    "status",
		usage:   "watchdog status [--json] [--socket PATH] [--config FILE]",
		summary: "one line per service; exit 0 when all are as wanted, 3 otherwise",
		text: `Ask the running watchdog for the state of every service: one status line each, or with --json
one document {"services": [{"name": ..., "state": ..., "pid": ..., "restarts": ...}, ...]}.
Exit 0 when every service is as wanted (running and ready, completed, or stopped by the
operator), 3 when one is not, 1 when watchdog cannot be asked.`,
		flags: func() *flag.FlagSet { return newStatusFlags().FlagSet },
	},
	{
		name:    "start",
		usage:   "watchdog start [--socket PATH] [--config FILE] NAME...",
		summary: "start services, lifting an operator's stop",
		text: `Start the named services (NAME of a service with instances means every copy) and print their
status lines. A service whose dependencies are not ready is refused. Exit 1 on an error.`,
		flags: func() *flag.FlagSet { return newControlFlags("start").FlagSet },
	},
	{
		name:    "stop",
		usage:   "watchdog stop [--socket PATH] [--config FILE] NAME...",
		summary: "stop services and hold them down until started",
		text: `Stop the named services (stop_signal to the process group, SIGKILL after stop_grace_period)
and hold them down: no restart policy starts them again, and watchdog does not exit for it.
Exit 1 on an error.`,
		flags: func() *flag.FlagSet { return newControlFlags("stop").FlagSet },
	},
	{
		name:    "restart",
		usage:   "watchdog restart [--rolling] [--socket PATH] [--config FILE] NAME...",
		summary: "stop services if running, then start them",
		text: `Restart the named services; with --rolling, one at a time, each once the one before is ready
again (for the copies of a service with instances). Exit 1 on an error.`,
		flags: func() *flag.FlagSet { return newControlFlags("restart").FlagSet },
	},
	{
		name:    "reload",
		usage:   "watchdog reload [--socket PATH] [--config FILE]",
		summary: "re-read the config file and apply the difference (as SIGHUP does)",
		text: `The running watchdog reads its config file again: new services start, removed ones stop,
changed ones are replaced. A config with errors changes nothing; its errors are printed and
the exit code is 1. [watchdog] settings take effect when watchdog next starts.`,
		flags: func() *flag.FlagSet { return newClientFlags("reload").FlagSet },
	},
	{
		name:    "health",
		usage:   "watchdog health [--socket PATH] [--config FILE]",
		summary: "exit 0 when every service is healthy or ready, 1 otherwise (for HEALTHCHECK)",
		text: `Print one line, "healthy: N services" or "unhealthy: web failed, ...", and exit 0 or 1. A
service counts when it is ready, or down as it should be (a completed oneshot, a service the
operator stopped). Usage errors exit 1 too: Docker reserves 2. Made for
HEALTHCHECK CMD ["/watchdog", "health"].`,
		flags: func() *flag.FlagSet { return newClientFlags("health").FlagSet },
	},
	{
		name:    "import-unit",
		usage:   "watchdog import-unit FILE.service...",
		summary: "translate systemd service units into [services] tables",
		text: `Print the units as [services.NAME] tables of watchdog.toml; ExecStartPre= steps become
oneshot services NAME-pre, NAME-pre-2, ... Dependencies between the units given together
become depends_on. What watchdog cannot express is listed on stderr and in comments above
each unit's tables. Exit 0 when every file was read, 1 when one could not be.`,
		flags: func() *flag.FlagSet { return newImportUnitFlags() },
	},
	{
		name:    "import-supervisord",
		usage:   "watchdog import-supervisord FILE",
		summary: "translate a supervisord config into [services] tables",
		text: `Print the programs of a supervisord config, and of the files its [include] names, as
[services.NAME] tables of watchdog.toml, in supervisord's start order; priorities become
depends_on, numprocs instances, and a program with autostart=false a commented-out table.
What watchdog cannot express is listed on stderr (FILE:LINE: unsupported: ...) and in
comments above the tables. Exit 0 when the config was read, 1 when it could not be read or
supervisord would refuse it.`,
		flags: func() *flag.FlagSet { return newImportSupervisordFlags() },
	},
	{
		name:    "version",
		usage:   "watchdog version",
		summary: "print the version, Go version and build info",
		text:    `Print watchdog's version, the Go version and platform it was built with, and its VCS revision.`,
		flags:   func() *flag.FlagSet { return newVersionFlags() },
	},
	{
		name:    "help",
		usage:   "watchdog help [COMMAND]",
		summary: "list the commands, or show one command's usage and flags",
		text:    `Without COMMAND, list every command. With it, print its usage and every flag, as COMMAND --help does.`,
		flags:   func() *flag.FlagSet { return newHelpFlags() },
	},
	{
		name:    "config-reference",
		usage:   "watchdog config-reference",
		summary: "print the reference of every config key as Markdown (docs/config.md)",
		text:    `Print every key of watchdog.toml with its type, default, meaning and an example, as Markdown.`,
		flags:   func() *flag.FlagSet { return newReferenceFlags("config-reference") },
	},
	{
		name:    "cli-reference",
		usage:   "watchdog cli-reference",
		summary: "print the reference of every command and flag as Markdown (docs/cli.md)",
		text:    `Print the help of every command, as watchdog help COMMAND shows it, as Markdown.`,
		flags:   func() *flag.FlagSet { return newReferenceFlags("cli-reference") },
	},
}

// newFlagSet is the flag set of `watchdog command` ("" for watchdog itself). It writes
// nothing: parse errors are reported by parseError, the help by writeHelp.
func newFlagSet(command string) *flag.FlagSet {
	fs := flag.NewFlagSet(strings.TrimSpace("watchdog "+command), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseError answers a flag set's parse error: the help on stdout for --help and -h
// (exit 0), else a usage error.
func parseError(command string, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return printHelp(command)
	}
	if command == "" {
		return usageError("%v (see watchdog --help)", err)
	}
	return usageError("%s: %v (see watchdog help %s)", command, err, command)
}

// printHelp prints the help of a command on stdout.
func printHelp(command string) int {
	if err := writeHelp(os.Stdout, command); err != nil {
		fmt.Fprintf(os.Stderr, "watchdog: %v\n", err)
		return 1
	}
	return 0
}

func findDoc(command string) (commandDoc, bool) {
	for _, d := range commandDocs {
		if d.name == command {
			return d, true
		}
	}
	return commandDoc{}, false
}

// writeHelp writes the help of a command: its usage, what it does and every flag of its
// flag set. The help of watchdog itself ("") lists the commands too.
func writeHelp(w io.Writer, command string) error {
	d, ok := findDoc(command)
	if !ok {
		return fmt.Errorf("unknown command %q", command)
	}
	var b strings.Builder
	if command == "" {
		b.WriteString("watchdog is a PID-1 init and process supervisor for containers.\n\n")
		b.WriteString("usage: " + d.usage + "\n       watchdog COMMAND [flags] [ARGS...]\n\n")
	} else {
		b.WriteString("usage: " + d.usage + "\n\n")
	}
	b.WriteString(d.text + "\n")
	if flags := flagHelp(d.flags()); flags != "" {
		b.WriteString("\nflags:\n" + flags)
	}
	if command == "" {
		b.WriteString("\ncommands:\n")
		width := 0
		for _, c := range commandDocs[1:] {
			width = max(width, len(c.name))
		}
		for _, c := range commandDocs[1:] {
			fmt.Fprintf(&b, "  %-*s  %s\n", width, c.name, c.summary)
		}
		b.WriteString("\nwatchdog help COMMAND, or watchdog COMMAND --help, shows a command's usage and flags.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// flagHelp is fs.PrintDefaults with each flag written --name, as watchdog's usage writes them.
func flagHelp(fs *flag.FlagSet) string {
	var b bytes.Buffer
	fs.SetOutput(&b)
	fs.PrintDefaults()
	var out strings.Builder
	for line := range strings.Lines(b.String()) {
		if strings.HasPrefix(line, "  -") {
			line = "  --" + line[len("  -"):]
		}
		out.WriteString(line)
	}
	return out.String()
}

func newHelpFlags() *flag.FlagSet { return newFlagSet("help") }

// helpCommand is `watchdog help [COMMAND]`.
func helpCommand(args []string) int {
	fs := newHelpFlags()
	if err := fs.Parse(args); err != nil {
		return parseError("help", err)
	}
	switch fs.NArg() {
	case 0:
		return printHelp("")
	case 1:
		if _, ok := findDoc(fs.Arg(0)); !ok || fs.Arg(0) == "" {
			return usageError("help: unknown command %q (see watchdog help)", fs.Arg(0))
		}
		return printHelp(fs.Arg(0))
	}
	return usageError("help: unexpected argument %q", fs.Arg(1))
}

func newReferenceFlags(command string) *flag.FlagSet { return newFlagSet(command) }

// referenceCommand is `watchdog config-reference` and `watchdog cli-reference`: write the
// Markdown of docs/config.md or docs/cli.md on stdout.
func referenceCommand(command string, write func(io.Writer) error) func(args []string) int {
	return func(args []string) int {
		fs := newReferenceFlags(command)
		if err := fs.Parse(args); err != nil {
			return parseError(command, err)
		}
		if fs.NArg() > 0 {
			return usageError("%s: unexpected argument %q", command, fs.Arg(0))
		}
		if err := write(os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "watchdog: %s: %v\n", command, err)
			return 1
		}
		return 0
	}
}

var (
	configReferenceCommand = referenceCommand("config-reference", config.WriteReference)
	cliReferenceCommand    = referenceCommand("cli-reference", writeCLIReference)
)

// writeCLIReference prints docs/cli.md: the list of commands, then the help of each.
func writeCLIReference(w io.Writer) error {
	var b strings.Builder
	b.WriteString("<!-- Generated by `watchdog cli-reference` from cmd/watchdog. Do not edit. -->\n\n")
	b.WriteString("# Command-line reference\n\n")
	b.WriteString("Flags are written `--name value` (Go's flag package also takes `-name` and `--name=value`).\n\n")
	b.WriteString("| command | does |\n| --- | --- |\n")
	for _, d := range commandDocs {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s |\n", d.usage, cliAnchor(d), strings.ReplaceAll(d.summary, "|", `\|`))
	}
	for _, d := range commandDocs {
		var help strings.Builder
		if err := writeHelp(&help, d.name); err != nil {
			return err
		}
		fmt.Fprintf(&b, "\n<a id=\"%s\"></a>\n## %s\n\n```text\n%s```\n", cliAnchor(d), strings.TrimSpace("watchdog "+d.name), help.String())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cliAnchor(d commandDoc) string {
	return strings.TrimSuffix("watchdog-"+d.name, "-")
}
