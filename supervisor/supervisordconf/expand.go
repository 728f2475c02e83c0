package supervisordconf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// expansions are the names a value may use as %(NAME)s, with their values: a string, a
// fromHost, or, for process_num and numprocs, an int.
type expansions map[string]any

// fromHost is a value read from the machine of the import, its environment or its
// hostname, where supervisord reads the machine it runs on.
type fromHost string

// expanded is a value after expansion.
type expanded struct {
	text string
	// host names the expansions whose values came from the machine of the import, and
	// unset the %(ENV_X)s left as written because X is not set here; each in the order of
	// first use.
	host, unset []string
}

// expand formats s as supervisord does, with Python's % operator and a dict:
// %(NAME)s, with Python's flags, width and precision (%(process_num)02d), and %% for a
// '%'. An %(ENV_X)s whose variable is not set here stays as written: it may be set where
// supervisord runs. Any other unknown name, a '%' that starts neither, or a conversion
// the value does not take, is an error, as in supervisord.
func expand(s string, names expansions) (expanded, error) {
	var out expanded
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i+1:]
		if strings.HasPrefix(s, "%") {
			b.WriteByte('%')
			s = s[1:]
			continue
		}
		spec, rest, err := readSpec(s)
		if err != nil {
			return expanded{}, err
		}
		s = rest
		v, known := names[spec.name]
		switch _, isHost := v.(fromHost); {
		case !known && strings.HasPrefix(spec.name, "ENV_"):
			out.unset = appendNew(out.unset, spec.name)
			b.WriteString(spec.written)
			continue
		case !known:
			return expanded{}, fmt.Errorf("%s cannot be expanded: the names are %s", spec.written, knownNames(names))
		case isHost:
			out.host = appendNew(out.host, spec.name)
		}
		text, err := spec.format(v)
		if err != nil {
			return expanded{}, err
		}
		b.WriteString(text)
	}
	out.text = b.String()
	return out, nil
}

// formatSpec is one %(NAME)... conversion.
type formatSpec struct {
	written   string // as written, the '%' included
	name      string
	flags     string
	width     int
	precision int // -1 when none
	verb      byte
}

// readSpec reads the conversion that follows a '%' at the start of s.
func readSpec(s string) (formatSpec, string, error) {
	spec := formatSpec{precision: -1}
	if !strings.HasPrefix(s, "(") {
		return spec, "", fmt.Errorf("%q: a '%%' must start %%(NAME)s, or be written %%%% (supervisord would put its whole table of names here)", "%"+cut(s, 10))
	}
	depth, end := 0, -1 // Python allows nested parentheses in the name
	for i, c := range s {
		if c == '(' {
			depth++
		} else if c == ')' {
			if depth--; depth == 0 {
				end = i
				break
			}
		}
	}
	if end < 0 {
		return spec, "", fmt.Errorf("%q: no ')' closes the name", "%"+cut(s, 20))
	}
	spec.name = s[1:end]
	i := end + 1
	for i < len(s) && strings.IndexByte("-+ #0", s[i]) >= 0 {
		i++
	}
	spec.flags = s[end+1 : i]
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			n = n*10 + int(s[i]-'0')
			i++
		}
		return n
	}
	spec.width = digits()
	if i < len(s) && s[i] == '.' {
		i++
		spec.precision = digits()
	}
	for i < len(s) && strings.IndexByte("hlL", s[i]) >= 0 {
		i++ // length modifiers, which Python ignores
	}
	if i == len(s) {
		return spec, "", fmt.Errorf("%q: the conversion is missing (e.g. %%(%s)s)", "%"+s, spec.name)
	}
	spec.verb = s[i]
	spec.written = "%" + s[:i+1]
	return spec, s[i+1:], nil
}

// format converts v as Python does for the verbs a config can use: s, r and a for text,
// d, i, u, x, X and o for numbers.
func (f formatSpec) format(v any) (string, error) {
	var body, sign string
	switch f.verb {
	case 's', 'r', 'a':
		body = fmt.Sprint(v)
		if _, isNumber := v.(int); !isNumber && f.verb != 's' {
			body = "'" + body + "'" // Python's repr of a plain string
		}
		if f.precision >= 0 && f.precision < len([]rune(body)) {
			body = string([]rune(body)[:f.precision])
		}
		return f.pad(body, "", false), nil
	case 'd', 'i', 'u', 'x', 'X', 'o':
		n, ok := v.(int)
		if !ok {
			return "", fmt.Errorf("%s: %%%c needs a number, and %s is text", f.written, f.verb, f.name)
		}
		if n < 0 {
			sign, n = "-", -n
		} else if strings.Contains(f.flags, "+") {
			sign = "+"
		} else if strings.Contains(f.flags, " ") {
			sign = " "
		}
		switch f.verb {
		case 'x':
			body = strconv.FormatInt(int64(n), 16)
		case 'X':
			body = strings.ToUpper(strconv.FormatInt(int64(n), 16))
		case 'o':
			body = strconv.FormatInt(int64(n), 8)
		default:
			body = strconv.Itoa(n)
		}
		if f.precision > len(body) {
			body = strings.Repeat("0", f.precision-len(body)) + body
		}
		if strings.Contains(f.flags, "#") && f.verb != 'd' && f.verb != 'i' && f.verb != 'u' {
			sign += "0" + string(f.verb)
		}
		return f.pad(body, sign, true), nil
	}
	return "", fmt.Errorf("%s: the conversion %%%c is not one supervisord configs use (s, d, x, o, r)", f.written, f.verb)
}

// pad widens sign+body to the width: spaces on the left, or on the right with the '-'
// flag, or zeros between sign and body with the '0' flag for a number.
func (f formatSpec) pad(body, sign string, number bool) string {
	n := f.width - len([]rune(sign+body))
	switch {
	case n <= 0:
		return sign + body
	case strings.Contains(f.flags, "-"):
		return sign + body + strings.Repeat(" ", n)
	case number && strings.Contains(f.flags, "0"):
		return sign + strings.Repeat("0", n) + body
	}
	return strings.Repeat(" ", n) + sign + body
}

// knownNames lists the names for an error, sorted, the ENV_ ones as one.
func knownNames(names expansions) string {
	var own []string
	for name := range names {
		if !strings.HasPrefix(name, "ENV_") {
			own = append(own, name)
		}
	}
	slices.Sort(own)
	return strings.Join(own, ", ") + " and ENV_X for a variable X of the environment"
}

// appendNew appends s unless list has it.
func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// cut shortens s to n bytes for a message.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
