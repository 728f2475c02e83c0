package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// section is one measure's part of the report.
type section struct {
	measure  string
	took     time.Duration
	title    string
	method   string // how it was measured, in a sentence or two
	tables   []table
	code     string // preformatted text, such as benchstat's
	notes    []string
	verdicts []verdict
	errors   []string // what went wrong; the rest of the section is what could be measured
}

type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// verdict is one of the targets and how this run measured against it.
type verdict struct {
	target   string
	measured string
	status   string // met, missed, or why it was not judged
}

const (
	met    = "met"
	missed = "**missed**"
)

func judge(ok bool) string {
	if ok {
		return met
	}
	return missed
}

func (s *section) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logf("   error: %s", msg)
	s.errors = append(s.errors, msg)
}

func (s *section) note(format string, args ...any) {
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

func (s *section) judge(target, measured string, ok bool) {
	s.verdicts = append(s.verdicts, verdict{target: target, measured: measured, status: judge(ok)})
}

// unjudged records a target this run could not measure, and why.
func (s *section) unjudged(target, why string) {
	s.verdicts = append(s.verdicts, verdict{target: target, measured: "–", status: "not measured: " + why})
}

func (b *bench) report(sections []*section, took time.Duration) string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }
	p("# watchdog benchmarks")
	p("")
	p("Written by `bench/run %s` on %s in %s (bench/README.md says how to run and read it).",
		measureNames(sections), time.Now().UTC().Format("2006-01-02 15:04 MST"), took.Round(time.Second))
	p("")
	p("- Machine: %s.", machine())
	p("- Versions: %s.", strings.Join(b.versions(), "; "))
	p("- Every init runs as PID 1 of a fresh PID namespace (`unshare --pid --fork --mount-proc`). " +
		"The machine is shared with other work, so absolute numbers are noisy: compare the ratios " +
		"against the peers measured in the same run, interleaved where the measure allows.")
	p("- Cells are median, min – max over the runs or samples counted in the `n` column.")
	p("")
	p("## Targets")
	p("")
	p("| measure | target | measured | verdict |")
	p("| --- | --- | --- | --- |")
	for _, s := range sections {
		for _, v := range s.verdicts {
			status := v.status
			if status == missed {
				status += " (Findings: " + s.measure + ")"
			}
			p("| %s | %s | %s | %s |", s.measure, v.target, v.measured, status)
		}
	}
	for _, s := range sections {
		p("")
		p("## %s: %s", s.measure, s.title)
		p("")
		if s.method != "" {
			p("%s", s.method)
			p("")
		}
		for _, t := range s.tables {
			p("| %s |", strings.Join(t.header, " | "))
			p("|%s", strings.Repeat(" --- |", len(t.header)))
			for _, row := range t.rows {
				p("| %s |", strings.Join(row, " | "))
			}
			p("")
		}
		if s.code != "" {
			p("```text")
			p("%s", s.code)
			p("```")
			p("")
		}
		for _, n := range s.notes {
			p("- %s", n)
		}
		for _, e := range s.errors {
			p("- Error: %s", e)
		}
		if len(s.notes)+len(s.errors) > 0 {
			p("")
		}
		p("_(%s took %s.)_", s.measure, s.took.Round(time.Second))
	}
	if findings, err := os.ReadFile(b.findings); err == nil {
		p("")
		p("%s", strings.TrimSpace(string(findings)))
	}
	return w.String()
}

func measureNames(sections []*section) string {
	if len(sections) == len(measures) {
		return "(all measures)"
	}
	var names []string
	for _, s := range sections {
		names = append(names, s.measure)
	}
	return strings.Join(names, " ")
}
