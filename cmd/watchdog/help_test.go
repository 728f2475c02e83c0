package main

import (
	"flag"
	"slices"
	"strings"
	"testing"
)

// TestEveryCommandDocumented wants a commandDoc for watchdog itself and for each entry of
// subcommands, and none for a command that does not exist.
func TestEveryCommandDocumented(t *testing.T) {
	var documented []string
	for _, d := range commandDocs {
		if slices.Contains(documented, d.name) {
			t.Errorf("command %q is documented twice", d.name)
		}
		documented = append(documented, d.name)
		if _, ok := subcommands[d.name]; !ok && d.name != "" {
			t.Errorf("command %q is documented, but not in subcommands", d.name)
		}
	}
	if len(commandDocs) == 0 || commandDocs[0].name != "" {
		t.Errorf("commandDocs must start with watchdog itself (name \"\")")
	}
	for name := range subcommands {
		if !slices.Contains(documented, name) {
			t.Errorf("command %q has no commandDoc: watchdog help would not list it", name)
		}
	}
}

// TestHelpListsEveryFlag wants each command's help to name every flag of its flag set, and
// its usage line to name each one too (or say [flags]).
func TestHelpListsEveryFlag(t *testing.T) {
	for _, d := range commandDocs {
		var help strings.Builder
		if err := writeHelp(&help, d.name); err != nil {
			t.Fatal(err)
		}
		out := help.String()
		if !strings.HasPrefix(out, "usage: "+d.usage+"\n") && d.name != "" {
			t.Errorf("help %q does not start with its usage line:\n%s", d.name, out)
		}
		if d.summary == "" || strings.Contains(d.summary, "\n") || strings.HasSuffix(d.summary, ".") {
			t.Errorf("command %q: the summary must be one line without a full stop: %q", d.name, d.summary)
		}
		if !strings.HasPrefix(d.usage, strings.TrimSpace("watchdog "+d.name)) {
			t.Errorf("command %q: usage %q does not name it", d.name, d.usage)
		}
		n := 0
		d.flags().VisitAll(func(f *flag.Flag) {
			n++
			if !strings.Contains(out, "\n  --"+f.Name+" ") && !strings.Contains(out, "\n  --"+f.Name+"\n") {
				t.Errorf("help %q does not list --%s:\n%s", d.name, f.Name, out)
			}
			if !strings.Contains(d.usage, "[flags]") && !strings.Contains(d.usage, "--"+f.Name) {
				t.Errorf("usage of %q, %q, does not name --%s", d.name, d.usage, f.Name)
			}
		})
		if got := strings.Count(out, "\n  --"); got != n {
			t.Errorf("help %q lists %d flags, its flag set has %d:\n%s", d.name, got, n, out)
		}
	}
}

func TestOverviewListsEveryCommand(t *testing.T) {
	var help strings.Builder
	if err := writeHelp(&help, ""); err != nil {
		t.Fatal(err)
	}
	for _, d := range commandDocs[1:] {
		if !strings.Contains(help.String(), "\n  "+d.name+" ") {
			t.Errorf("watchdog help does not list %q:\n%s", d.name, help.String())
		}
	}
	if err := writeHelp(&help, "no-such-command"); err == nil {
		t.Error("help of an unknown command: no error")
	}
}
