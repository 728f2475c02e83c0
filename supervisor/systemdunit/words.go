package systemdunit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

const whitespace = " \t\n\r"

// quoting is one of the ways systemd splits a value into words (systemd.syntax(7),
// "Quoting"). In all of them whitespace separates words, and single and double quotes,
// anywhere in a word, group what they enclose and are removed.
type quoting int

const (
	// strict is Environment=: C-style escapes are decoded inside and outside quotes, and
	// an unknown escape, a trailing backslash or an unterminated quote voids the
	// whole assignment.
	strict quoting = iota
	// commandQuoting is Exec*=: as strict, but an unknown escape or a trailing
	// backslash outside quotes stays as written (systemd warns and goes on).
	commandQuoting
	// valueQuoting splits the value of a $VAR that stands alone as a word of a command
	// line: a backslash makes the next character literal, and nothing is an error.
	valueQuoting
)

// splitWords splits s as Environment= does.
func splitWords(s string) ([]string, error) {
	return split(s, strict)
}

// splitValue splits a variable's value as a command line's lone $VAR does.
func splitValue(s string) []string {
	words, _ := split(s, valueQuoting)
	return words
}

func split(s string, q quoting) ([]string, error) {
	var words []string
	for {
		word, rest, ok, err := nextWord(s, q)
		if err != nil || !ok {
			return words, err
		}
		words = append(words, word)
		s = rest
	}
}

// nextWord extracts the first word of s and returns what follows it; ok is false when s
// holds only whitespace.
func nextWord(s string, q quoting) (word, rest string, ok bool, err error) {
	s = strings.TrimLeft(s, whitespace)
	if s == "" {
		return "", "", false, nil
	}
	var b strings.Builder
	var quote byte // the open quote, 0 outside quotes
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && q == valueQuoting:
			if i+1 < len(s) { // a trailing backslash is dropped
				b.WriteByte(s[i+1])
			}
			i += 2
			continue
		case c == '\\':
			r, n, err := unescape(s[i+1:])
			switch {
			case err == nil:
			case q != commandQuoting || i+1 == len(s) && quote != 0:
				return "", "", false, err
			case i+1 == len(s):
				r, n = `\`, 0
			default:
				r, n = s[i:i+2], 1 // the backslash and the character after it stay
			}
			b.WriteString(r)
			i += 1 + n
			continue
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			b.WriteByte(c)
		case c == '\'' || c == '"':
			quote = c
		case strings.IndexByte(whitespace, c) >= 0:
			return b.String(), s[i:], true, nil
		default:
			b.WriteByte(c)
		}
		i++
	}
	if quote != 0 && q != valueQuoting {
		return "", "", false, fmt.Errorf("unbalanced quoting: no closing %c", quote)
	}
	return b.String(), "", true, nil
}

// unescape decodes the C-style escape that follows a backslash at the start of s, as the
// table of systemd.syntax(7) lists them, and returns its text and how many bytes it used.
func unescape(s string) (string, int, error) {
	if s == "" {
		return "", 0, errors.New("trailing backslash")
	}
	if r, ok := simpleEscapes[s[0]]; ok {
		return r, 1, nil
	}
	var digits, base, size int
	switch s[0] {
	case 'x':
		digits, base, size = 2, 16, 1
	case 'u':
		digits, base, size = 4, 16, 1
	case 'U':
		digits, base, size = 8, 16, 1
	case '0', '1', '2', '3', '4', '5', '6', '7':
		digits, base = 3, 8
	default:
		return "", 0, fmt.Errorf(`unknown escape \%c (write \\ for a backslash)`, s[0])
	}
	if len(s) < size+digits {
		return "", 0, fmt.Errorf(`short escape \%s`, s)
	}
	n, err := strconv.ParseUint(s[size:size+digits], base, 32)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf(`invalid escape \%s`, s[:size+digits])
	}
	if s[0] == 'x' || base == 8 {
		if n > 0xff {
			return "", 0, fmt.Errorf(`invalid escape \%s`, s[:size+digits])
		}
		return string([]byte{byte(n)}), size + digits, nil
	}
	if !utf8.ValidRune(rune(n)) {
		return "", 0, fmt.Errorf(`invalid escape \%s: not a Unicode character`, s[:size+digits])
	}
	return string(rune(n)), size + digits, nil
}

var simpleEscapes = map[byte]string{
	'a': "\a", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v",
	'\\': `\`, '"': `"`, '\'': `'`, 's': " ",
}

// CommandLine is one command of an Exec*= directive (systemd.service(5), "Command lines").
type CommandLine struct {
	Path string   // the program: an absolute path, or a name systemd looks up in its own search path
	Args []string // argv[1:]
	// Argv0 is the argv[0] the "@" prefix asks for, "" when the program gets its own path.
	Argv0 string

	IgnoreFailure bool // "-": a failing exit counts as success
	NoEnvExpand   bool // ":": $VAR and ${VAR} stay as written
	FullPrivilege bool // "+": run without User=, Group= and sandboxing
	KeepIdentity  bool // "!": User= and Group= are not applied; the program changes them itself
	AmbientCaps   bool // "!!": like "!" only on kernels without ambient capabilities
	ViaShell      bool // "|": the command line is run by the user's login shell
}

// SplitCommandLines splits the value of ExecStart= and its kin into command lines. Words
// follow systemd.syntax(7) quoting; a lone unquoted ";" separates commands and "\;" is a
// literal ";" argument. Prefixes on the program ("@", "-", ":", "+", "!", "!!", "|") are
// read into the CommandLine. Specifiers and $VAR are left as written.
func SplitCommandLines(value string) ([]CommandLine, error) {
	var lines []CommandLine
	var words []string
	finish := func() error {
		if len(words) == 0 {
			return nil
		}
		cmd, err := commandLine(words)
		if err != nil {
			return err
		}
		lines = append(lines, cmd)
		words = nil
		return nil
	}
	s := value
	for {
		s = strings.TrimLeft(s, whitespace)
		if s == "" {
			break
		}
		if lone(s, ";") {
			if err := finish(); err != nil {
				return nil, err
			}
			s = s[1:]
			continue
		}
		if lone(s, `\;`) {
			words = append(words, ";")
			s = s[2:]
			continue
		}
		word, rest, _, err := nextWord(s, commandQuoting)
		if err != nil {
			return nil, err
		}
		words = append(words, word)
		s = rest
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return lines, nil
}

// lone reports whether s starts with token followed by whitespace or the end.
func lone(s, token string) bool {
	rest, ok := strings.CutPrefix(s, token)
	return ok && (rest == "" || strings.IndexByte(whitespace, rest[0]) >= 0)
}

// commandLine reads the prefixes off the first word and the argv[0] "@" asks for.
func commandLine(words []string) (CommandLine, error) {
	var cmd CommandLine
	program := words[0]
	argv0 := false
loop:
	for program != "" {
		if rest, ok := strings.CutPrefix(program, "!!"); ok {
			cmd.AmbientCaps = true
			program = rest
			continue
		}
		switch program[0] {
		case '@':
			argv0 = true
		case '-':
			cmd.IgnoreFailure = true
		case ':':
			cmd.NoEnvExpand = true
		case '+':
			cmd.FullPrivilege = true
		case '!':
			cmd.KeepIdentity = true
		case '|':
			cmd.ViaShell = true
		default:
			break loop
		}
		program = program[1:]
	}
	if program == "" {
		return cmd, errors.New("empty program path")
	}
	cmd.Path = program
	cmd.Args = words[1:]
	if argv0 {
		if len(cmd.Args) == 0 {
			return cmd, errors.New(`"@" needs the argv[0] to pass as the word after the program`)
		}
		cmd.Argv0, cmd.Args = cmd.Args[0], cmd.Args[1:]
	}
	return cmd, nil
}

// variable is one environment variable a unit sets.
type variable struct {
	name, value string
}

// validEnvName accepts the names systemd accepts: letters, digits and '_', not starting
// with a digit.
func validEnvName(name string) bool {
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for _, c := range []byte(name) {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
