package integration

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Helpers of the health_* tests: ports, short paths for sockets, the fixture's reports by
// process, and what is left in watchdog's PID namespace.

// probePort returns a TCP port on 127.0.0.1 that was free a moment ago, for a fixture to serve on.
func probePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// socketDir is a new directory with a short path, removed when the test ends: a notify socket
// lives beside the control socket, in watchdog-notify/NAME.sock, and a unix socket's path has
// at most 107 bytes.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wdh-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// touchFile creates the empty file path, or fails the test.
func touchFile(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// removeFile removes the file path, or fails the test.
func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// reportsOf returns the fixture's report lines that start with the words of prefix and were
// written by process pid (as watchdog's PID namespace numbers it), in the order written.
func reportsOf(w *watchdogRun, prefix string, pid int) []string {
	var found []string
	for _, line := range w.reports(prefix) {
		if strings.HasSuffix(line, fmt.Sprintf(" pid=%d", pid)) {
			found = append(found, line)
		}
	}
	return found
}

// reportField is the value of the word "key=VALUE" in a report line, or "".
func reportField(line, key string) string {
	for _, word := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(word, key+"="); ok {
			return v
		}
	}
	return ""
}

// namespaceProc is a process of watchdog's PID namespace as that namespace's /proc shows it.
type namespaceProc struct {
	pid, pgid int
	state     byte
	comm      string
}

// namespaceProcs lists the processes of watchdog's PID namespace, zombies included, through
// the namespace's own /proc (mounted by unshare --mount-proc) seen through watchdog's root.
// watchdog must be running as PID 1.
func namespaceProcs(w *watchdogRun) []namespaceProc {
	w.t.Helper()
	if !w.mode.pid1 {
		w.t.Fatal("namespaceProcs needs watchdog as PID 1")
	}
	procDir := fmt.Sprintf("/proc/%d/root/proc", w.pid)
	entries, err := os.ReadDir(procDir)
	if err != nil {
		w.t.Fatalf("cannot see watchdog's PID namespace: %v", err)
	}
	var procs []namespaceProc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(procDir, e.Name(), "stat"))
		if err != nil {
			continue // ended while the list was read
		}
		// The command name may hold spaces and parentheses: the fields after it start
		// after the last ')'. Then: state, ppid, pgrp.
		open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		fields := strings.Fields(string(stat[end+1:]))
		if open < 0 || end < open || len(fields) < 3 {
			w.t.Fatalf("%s/%d/stat: cannot parse %q", procDir, pid, stat)
		}
		pgid, err := strconv.Atoi(fields[2])
		if err != nil {
			w.t.Fatalf("%s/%d/stat: process group: %v", procDir, pid, err)
		}
		procs = append(procs, namespaceProc{pid: pid, pgid: pgid, state: fields[0][0], comm: string(stat[open+1 : end])})
	}
	return procs
}

// runHealth runs `watchdog health --socket socket`.
func runHealth(t *testing.T, socket string) clientResult {
	t.Helper()
	return runClient(t, watchdogBin, nil, "health", "--socket", socket)
}

// wantHealth fails the test unless `watchdog health` exits code and its output holds every
// one of words.
func wantHealth(t *testing.T, socket string, code int, words ...string) {
	t.Helper()
	res := runHealth(t, socket)
	if res.code != code {
		t.Errorf("`watchdog health`: %v, want exit %d", res, code)
	}
	for _, word := range words {
		if !strings.Contains(res.stdout, word) {
			t.Errorf("`watchdog health` printed %q, which does not say %q", res.stdout, word)
		}
	}
}

// wantGap fails the test unless the time from a to b by their `ts` fields is within [least, most].
func wantGap(t *testing.T, what string, a, b event, least, most time.Duration) {
	t.Helper()
	if gap := between(t, a, b); gap < least || gap > most {
		t.Errorf("%s: %v, want within [%v, %v]", what, gap, least, most)
	}
}
