// Package integration holds watchdog's black-box tests (shared/DESIGN.md): they build the real
// binary and a fake service (fixture/), run watchdog as PID 1 of a new PID namespace and as a
// child subreaper, and check the exit codes, signal forwarding, reaping, shutdown and log
// events that the design promises, against the real kernel.
package integration
