package supervisordconf

import (
	"errors"
	"fmt"
	"strings"
)

// shlexSpace separates words for Python's shlex.
const shlexSpace = " \t\r\n"

// splitCommand splits a command as supervisord does before it starts the program, with
// Python's shlex.split: POSIX rules without comments. Whitespace separates words; single
// quotes keep everything literally; inside double quotes a backslash escapes only '"'
// and '\' and stays before anything else; outside quotes a backslash makes the next
// character literal. '$' and '`' mean nothing: there is no shell.
func splitCommand(s string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false // a word has started, maybe empty ("")
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte(shlexSpace, c) >= 0:
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 == len(s) {
				return nil, errors.New("no character after the final backslash")
			}
			i++
			word.WriteByte(s[i])
			inWord = true
		case c == '\'' || c == '"':
			end, err := quoted(s, i, &word)
			if err != nil {
				return nil, err
			}
			i = end
			inWord = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// quoted adds the text of the quotation that opens at s[open] to word and returns the
// index of its closing quote.
func quoted(s string, open int, word *strings.Builder) (int, error) {
	q := s[open]
	for i := open + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == q:
			return i, nil
		case q == '"' && c == '\\' && i+1 < len(s):
			i++
			if s[i] != '"' && s[i] != '\\' {
				word.WriteByte('\\')
			}
			word.WriteByte(s[i])
		default:
			word.WriteByte(c)
		}
	}
	return 0, fmt.Errorf("no closing quotation (%c)", q)
}

// variable is one KEY=VALUE of an environment option.
type variable struct {
	name, value string
}

// envWordChars make up a word of an environment option: shlex's non-POSIX word
// characters and the ones supervisord adds.
const envWordChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_" + "/.+-():"

// parseEnvironment reads supervisord's KEY="val",KEY2=val2 as its dict_of_key_value_pairs
// does. The value is cut into tokens by Python's shlex in non-POSIX mode: a run of word
// characters (letters, digits and "_/.+-():"), a quoted string with its quotes, or any
// other single character; quotes inside a run are part of it and whitespace ends it; '#'
// starts a comment to the end of the line. Tokens are then read four at a time, KEY = VALUE
// and a separator whatever it is, the value losing the quotes at its ends. A later KEY
// replaces an earlier one.
func parseEnvironment(s string) ([]variable, error) {
	tokens, err := envTokens(s)
	if err != nil {
		return nil, err
	}
	var vars []variable
	for i := 0; i < len(tokens); i += 4 {
		if i+3 > len(tokens) || tokens[i+1] != "=" {
			return nil, errors.New("not a list of KEY=VALUE pairs separated by commas (quote a value that holds other characters than letters, digits and \"_/.+-():\")")
		}
		v := variable{tokens[i], strings.Trim(tokens[i+2], `'"`)}
		replaced := false
		for j := range vars {
			if vars[j].name == v.name {
				vars[j].value, replaced = v.value, true
			}
		}
		if !replaced {
			vars = append(vars, v)
		}
	}
	return vars, nil
}

// envTokens cuts s into shlex's non-POSIX tokens.
func envTokens(s string) ([]string, error) {
	var tokens []string
	var word strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			tokens = append(tokens, word.String())
			word.Reset()
			inWord = false
		}
	}
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '#':
			// A comment; in a word the word goes on after it, on the next line.
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case r < 0x80 && strings.ContainsRune(shlexSpace, r):
			flush()
		case inWord && (r < 0x80 && strings.ContainsRune(envWordChars+`'"`, r)):
			word.WriteRune(r)
		case inWord:
			flush()
			tokens = append(tokens, string(r))
		case r < 0x80 && strings.ContainsRune(envWordChars, r):
			word.WriteRune(r)
			inWord = true
		case r == '\'' || r == '"':
			end := i + 1
			for end < len(rs) && rs[end] != r {
				end++
			}
			if end == len(rs) {
				return nil, fmt.Errorf("no closing quotation (%c)", r)
			}
			tokens = append(tokens, string(rs[i:end+1]))
			i = end
		default:
			tokens = append(tokens, string(r))
		}
	}
	flush()
	return tokens, nil
}
