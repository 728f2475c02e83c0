package systemdunit

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"watchdog/supervisor/config/tomltext"
)

// WriteTOML prints translations as [services.NAME] tables of watchdog.toml. Above each
// unit's tables, comments name the unit file and its drop-ins, give its description,
// and list every note as "# unsupported: DIRECTIVE (line N): REASON".
func WriteTOML(w io.Writer, translations []*Translation) error {
	var b strings.Builder
	for i, t := range translations {
		if i > 0 {
			b.WriteString("\n")
		}
		header := t.Unit.Path
		if filepath.Base(t.Unit.Path) != t.Unit.Name {
			header += " as " + t.Unit.Name // an instance read from its template
		}
		fmt.Fprintf(&b, "# %s\n", tomltext.Comment(header))
		for _, d := range t.Unit.DropIns {
			fmt.Fprintf(&b, "# drop-in: %s\n", tomltext.Comment(d))
		}
		for _, c := range t.Comments {
			fmt.Fprintf(&b, "# %s\n", tomltext.Comment(c))
		}
		for _, n := range t.Notes {
			fmt.Fprintf(&b, "# unsupported: %s\n", tomltext.Comment(t.Describe(n)))
		}
		for _, s := range t.Services {
			b.WriteString("\n")
			fmt.Fprintf(&b, "[services.%s]\n", s.Name)
			if s.Origin != "" {
				fmt.Fprintf(&b, "# from %s\n", tomltext.Comment(s.Origin))
			}
			for _, st := range s.Settings {
				fmt.Fprintf(&b, "%s = %s\n", st.Key, tomlValue(st.Value))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// itemsPerLine keeps long arrays, such as every exit code, readable.
const itemsPerLine = 16

// tomlValue prints a Setting value in TOML.
func tomlValue(v any) string {
	switch v := v.(type) {
	case []any:
		items := make([]string, len(v))
		for i, item := range v {
			items[i] = tomlValue(item)
		}
		if len(items) <= itemsPerLine {
			return "[" + strings.Join(items, ", ") + "]"
		}
		var b strings.Builder
		b.WriteString("[\n")
		for len(items) > 0 {
			n := min(itemsPerLine, len(items))
			b.WriteString("  " + strings.Join(items[:n], ", ") + ",\n")
			items = items[n:]
		}
		b.WriteString("]")
		return b.String()
	}
	return tomltext.Value(v)
}
