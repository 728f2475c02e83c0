package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"watchdog/supervisor"
	"watchdog/supervisor/control"
)

type statusFlags struct {
	*clientFlags
	json *bool
}

func newStatusFlags() *statusFlags {
	flags := newClientFlags("status")
	return &statusFlags{clientFlags: flags, json: flags.Bool("json", false, `print one JSON document: {"services": [...]}`)}
}

// statusCommand is `watchdog status [--json]`: one status line per service, or one JSON
// document; exit 0 when every service is as wanted, 3 otherwise, 1 when watchdog cannot be asked.
func statusCommand(args []string) int {
	flags := newStatusFlags()
	asJSON := flags.json
	if err := flags.Parse(args); err != nil {
		return parseError("status", err)
	}
	if flags.NArg() > 0 {
		return usageError("status: unexpected argument %q", flags.Arg(0))
	}
	path, err := flags.socketPath()
	if err != nil {
		return usageError("status: %v", err)
	}
	resp, err := control.Do(path, control.Request{Command: control.CommandStatus})
	if err != nil {
		fmt.Fprintf(os.Stderr, "watchdog: status: %v\n", err)
		return 1
	}
	if *asJSON {
		doc := struct {
			Services []supervisor.Snapshot `json:"services"`
		}{resp.Services}
		if err := json.NewEncoder(os.Stdout).Encode(doc); err != nil {
			fmt.Fprintf(os.Stderr, "watchdog: status: %v\n", err)
			return 1
		}
	} else {
		now := time.Now()
		for _, snap := range resp.Services {
			fmt.Println(snap.Line(now))
		}
	}
	for _, snap := range resp.Services {
		if !snap.AsWanted() {
			return exitNotAsWant
		}
	}
	return 0
}

// healthCommand is `watchdog health`, made for HEALTHCHECK: one short line, and exit 0 when
// every service is healthy, else 1. Docker reserves exit code 2, so usage errors are 1 too.
func healthCommand(args []string) int {
	flags := newClientFlags("health")
	err := flags.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return printHelp("health")
	}
	if err != nil || flags.NArg() > 0 {
		fmt.Println("unhealthy: usage: watchdog health [--socket PATH] [--config FILE]")
		return 1
	}
	path, err := flags.socketPath()
	if err != nil {
		fmt.Printf("unhealthy: %v\n", err)
		return 1
	}
	resp, err := control.Do(path, control.Request{Command: control.CommandStatus})
	if err != nil {
		fmt.Printf("unhealthy: %v\n", err)
		return 1
	}
	var problems []string
	for _, snap := range resp.Services {
		if !healthy(snap) {
			problems = append(problems, fmt.Sprintf("%s %s", snap.Name, unhealthyWord(snap)))
		}
	}
	if len(problems) > 0 {
		fmt.Printf("unhealthy: %s\n", strings.Join(problems, ", "))
		return 1
	}
	fmt.Printf("healthy: %d services\n", len(resp.Services))
	return 0
}

// healthy reports whether a service is ready, or down the way it should be: completed,
// finished with 0 and not to be restarted, or held down by the operator.
func healthy(s supervisor.Snapshot) bool {
	return s.Ready || (s.AsWanted() && !s.Up())
}

// unhealthyWord says briefly what is wrong with a service that is not healthy.
func unhealthyWord(s supervisor.Snapshot) string {
	if s.State == supervisor.Running {
		return "not ready"
	}
	return string(s.State)
}
