// Package tomltext writes TOML values as text, for the tools that print watchdog.toml: the
// plan of `watchdog check` and the importers of systemd units and supervisord configs.
package tomltext

import (
	"fmt"
	"strconv"
	"strings"
)

// String writes a TOML basic string. (strconv.Quote would not do: TOML has \uXXXX but no \x.)
func String(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// BareKeyChars may make up a bare TOML key.
const BareKeyChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

// Key writes a key, bare when it can be.
func Key(k string) string {
	if k != "" && strings.Trim(k, BareKeyChars) == "" {
		return k
	}
	return String(k)
}

// Strings writes an array of strings on one line.
func Strings(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = String(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// Value writes a string, int64, bool or []any of those.
func Value(v any) string {
	switch v := v.(type) {
	case string:
		return String(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		items := make([]string, len(v))
		for i, item := range v {
			items[i] = Value(item)
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	panic(fmt.Sprintf("tomltext: no TOML form for %T", v))
}

// Comment makes s fit in a TOML comment: one line, no control characters but tab.
func Comment(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
