package systemdunit

import (
	"fmt"
	"strings"
)

// parseEnvFile reads an EnvironmentFile= as systemd.exec(5) describes it: "NAME=VALUE"
// lines; lines starting with '#' or ';' and lines without '=' are ignored. An unquoted
// value loses its leading and trailing whitespace and a backslash keeps the character
// after it; a single-quoted value is taken verbatim; a double-quoted value knows the
// escapes \" \\ \` \$; a backslash before a newline continues the line. Assignments with
// an invalid name are skipped and listed in ignored.
func parseEnvFile(data string) (vars []variable, ignored []string) {
	data = strings.ReplaceAll(data, "\r\n", "\n")
	var key, value strings.Builder
	trailing := 0 // unquoted whitespace at the end of value, dropped when the line ends
	line := 1
	keyLine := 1
	push := func() {
		name := strings.TrimSpace(key.String())
		v := value.String()
		v = v[:len(v)-trailing]
		if validEnvName(name) {
			vars = append(vars, variable{name, v})
		} else {
			ignored = append(ignored, fmt.Sprintf("line %d: invalid variable name %q", keyLine, name))
		}
		key.Reset()
		value.Reset()
		trailing = 0
	}
	const (
		preKey = iota
		inKey
		preValue
		inValue
		valueEscape
		singleQuoted
		doubleQuoted
		doubleQuotedEscape
		comment
		commentEscape
	)
	state := preKey
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch state {
		case preKey:
			switch {
			case c == '#' || c == ';':
				state = comment
			case strings.IndexByte(whitespace, c) < 0:
				state = inKey
				keyLine = line
				key.WriteByte(c)
			}
		case inKey:
			switch c {
			case '\n':
				key.Reset() // no '=': ignored
				state = preKey
			case '=':
				state = preValue
			default:
				key.WriteByte(c)
			}
		case preValue, inValue:
			switch {
			case c == '\n':
				push()
				state = preKey
			case state == preValue && (c == ' ' || c == '\t' || c == '\r'):
			case state == preValue && c == '\'':
				state = singleQuoted
			case state == preValue && c == '"':
				state = doubleQuoted
			case c == '\\':
				state = valueEscape
			default:
				state = inValue
				value.WriteByte(c)
				if c == ' ' || c == '\t' || c == '\r' {
					trailing++
				} else {
					trailing = 0
				}
			}
		case valueEscape:
			state = inValue
			if c != '\n' {
				value.WriteByte(c)
				trailing = 0
			}
		case singleQuoted:
			if c == '\'' {
				state = preValue
			} else {
				value.WriteByte(c)
			}
		case doubleQuoted:
			switch c {
			case '"':
				state = preValue
			case '\\':
				state = doubleQuotedEscape
			default:
				value.WriteByte(c)
			}
		case doubleQuotedEscape:
			state = doubleQuoted
			switch {
			case strings.IndexByte("\"\\`$", c) >= 0:
				value.WriteByte(c)
			case c != '\n':
				value.WriteByte('\\')
				value.WriteByte(c)
			}
		case comment:
			switch c {
			case '\\':
				state = commentEscape
			case '\n':
				state = preKey
			}
		case commentEscape:
			state = comment
		}
		if c == '\n' {
			line++
		}
	}
	switch state {
	case preValue, inValue, valueEscape, singleQuoted, doubleQuoted, doubleQuotedEscape:
		push()
	}
	return vars, ignored
}
