package supervisordconf

import (
	"fmt"
	"io"
	"strings"

	"watchdog/supervisor/config/tomltext"
)

// WriteTOML prints the translation as watchdog.toml. Comments above the services name
// the config file and the files it included, and list the notes about everything that is
// not a program; above each service table, a comment names its section and lists its
// notes, each as "# unsupported: DIRECTIVE (line N): REASON". The table of a disabled
// service is commented out.
func WriteTOML(w io.Writer, t *Translation) error {
	var b strings.Builder
	comment := func(format string, args ...any) {
		b.WriteString("# " + tomltext.Comment(fmt.Sprintf(format, args...)) + "\n")
	}
	comment("%s", t.Path)
	for _, f := range t.Included {
		comment("included: %s", f)
	}
	for _, n := range t.Notes {
		comment("unsupported: %s", describe(n, t.Path))
	}
	for _, s := range t.Services {
		b.WriteString("\n")
		origin := "[" + s.Section + "]"
		if s.Process != "" {
			origin += " process " + s.Process
		}
		if s.File == t.Path {
			comment("%s (line %d)", origin, s.Line)
		} else {
			comment("%s (%s:%d)", origin, s.File, s.Line)
		}
		for _, n := range s.Notes {
			comment("unsupported: %s", describe(n, s.File))
		}
		prefix := ""
		if s.Disabled {
			prefix = "# "
		}
		fmt.Fprintf(&b, "%s[services.%s]\n", prefix, tomltext.Key(s.Name))
		for _, line := range strings.SplitAfter(settingsText(s.Settings), "\n") {
			if line != "" {
				b.WriteString(prefix + line)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// describe says what a note is about and why, with its line: "umask=022 (line 12): why",
// or "(FILE:12)" for a line of another file than file.
func describe(n Note, file string) string {
	where := fmt.Sprintf("line %d", n.Line)
	if n.File != file {
		where = fmt.Sprintf("%s:%d", n.File, n.Line)
	}
	return fmt.Sprintf("%s (%s): %s", n.Directive, where, n.Reason)
}

// settingsText prints settings as the lines of a TOML table.
func settingsText(settings []Setting) string {
	var b strings.Builder
	for _, st := range settings {
		key := st.Key
		if name, ok := strings.CutPrefix(key, "environment."); ok {
			key = "environment." + tomltext.Key(name)
		}
		fmt.Fprintf(&b, "%s = %s", key, tomltext.Value(st.Value))
		if st.Why != "" {
			fmt.Fprintf(&b, " # %s", tomltext.Comment(st.Why))
		}
		b.WriteString("\n")
	}
	return b.String()
}
