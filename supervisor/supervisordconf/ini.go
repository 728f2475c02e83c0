package supervisordconf

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// document is a supervisord config as Python's configparser reads it for supervisord
// (RawConfigParser with inline comments and strict=False): the sections of every file
// read, in the order they first appear, a section written again in a later file merged
// into the first.
type document struct {
	sections []*section
	byName   map[string]*section
	// defaults is [DEFAULT], whose options every section has unless it writes its own;
	// nil when no file has one.
	defaults *section
}

// section is one [NAME] of the document.
type section struct {
	name string
	file string // the file it first appears in
	line int    // its first header
	// options are in the order they were first set; setting one again keeps its place.
	options []*option
	byKey   map[string]*option
}

// option is a "key = value" line and its continuation lines.
type option struct {
	key   string // lower-cased, as configparser stores it
	value string // whitespace trimmed, continuation lines joined with "\n"
	// written is value as the file has it, before %(here)s in it was replaced.
	written string
	file    string
	line    int // of the key
	// lines holds the value's lines while the file is read; joined into value at its end.
	lines []string
}

// String prints the option as written, its lines joined by spaces.
func (o *option) String() string {
	return o.key + "=" + strings.Join(strings.Fields(o.written), " ")
}

func newDocument() *document {
	return &document{byName: map[string]*section{}}
}

// lookup returns the section's option key, or [DEFAULT]'s.
func (d *document) lookup(s *section, key string) (*option, bool) {
	if o, ok := s.byKey[key]; ok {
		return o, true
	}
	if d.defaults != nil {
		o, ok := d.defaults.byKey[key]
		return o, ok
	}
	return nil, false
}

// section returns the section named name, creating it at file:line when it is new.
func (d *document) section(name, file string, line int) *section {
	if name == "DEFAULT" {
		if d.defaults == nil {
			d.defaults = &section{name: name, file: file, line: line, byKey: map[string]*option{}}
		}
		return d.defaults
	}
	if s, ok := d.byName[name]; ok {
		return s
	}
	s := &section{name: name, file: file, line: line, byKey: map[string]*option{}}
	d.sections = append(d.sections, s)
	d.byName[name] = s
	return s
}

// set makes o the section's option o.key.
func (s *section) set(o *option) {
	if _, ok := s.byKey[o.key]; !ok {
		s.options = append(s.options, o)
	} else {
		for i, old := range s.options {
			if old.key == o.key {
				s.options[i] = o
			}
		}
	}
	s.byKey[o.key] = o
}

// commentPrefixes start comments: a whole line whose first non-blank character is one,
// or, preceded by whitespace, the rest of a line.
var commentPrefixes = []string{";", "#"}

// read adds the contents of file to the document, line by line as configparser reads
// them: a line indented deeper than the option it follows continues that option's
// value, blank lines inside a value are kept, a section header is "[" NAME "]" up to the
// last "]", and an option is KEY=VALUE or KEY:VALUE at the first '=' or ':'. Lines that
// are none of these are all reported, with their numbers; a file whose first content is
// not a section header is refused at that line, as configparser refuses it.
func (d *document) read(file string, data []byte) Errors {
	text := strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n")
	text = strings.TrimSuffix(text, "\n")
	var errs Errors
	var cur *section
	var opt *option // the option continuation lines add to
	indent := 0     // of the last section header or option line
	var pending []*option
	for i, line := range strings.Split(text, "\n") {
		lineNo := i + 1
		if !utf8.ValidString(line) {
			// Python stops at the first byte it cannot decode; nothing can be read after it.
			return append(errs, &Error{File: file, Line: lineNo, Msg: "not UTF-8 text"})
		}
		start := commentStart(line)
		value := strings.TrimSpace(line[:start])
		if value == "" {
			if start == len(line) && opt != nil {
				opt.lines = append(opt.lines, "") // a blank line stays in the value, unless it ends it
			}
			continue
		}
		lineIndent := strings.IndexFunc(line, func(r rune) bool { return !unicode.IsSpace(r) })
		if opt != nil && lineIndent > indent {
			opt.lines = append(opt.lines, value)
			continue
		}
		indent = lineIndent
		if name, ok := sectionHeader(value); ok {
			cur, opt = d.section(name, file, lineNo), nil
			continue
		}
		if cur == nil {
			return append(errs, &Error{File: file, Line: lineNo, Msg: fmt.Sprintf("%q comes before any [section] header", value)})
		}
		key, val, ok := splitOption(value)
		if !ok || key == "" {
			errs = append(errs, &Error{File: file, Line: lineNo,
				Msg: fmt.Sprintf("%q is not a [section] header or a key = value line", value)})
			if !ok {
				continue
			}
		}
		opt = &option{key: strings.ToLower(key), file: file, line: lineNo, lines: []string{val}}
		pending = append(pending, opt)
		cur.set(opt)
		if key == "" {
			opt = nil // configparser keeps it, but continues nothing with an empty name
		}
	}
	for _, o := range pending {
		o.value = strings.TrimRightFunc(strings.Join(o.lines, "\n"), unicode.IsSpace)
		o.written, o.lines = o.value, nil
	}
	return errs
}

// commentStart returns where the comment of line starts, len(line) when it has none.
// A whole-line comment starts at 0. An inline comment is found as configparser finds it:
// each prefix is searched for in turn from its last occurrence, and the first round
// that finds one preceded by whitespace decides, the smaller index winning.
func commentStart(line string) int {
	trimmed := strings.TrimSpace(line)
	for _, p := range commentPrefixes {
		if strings.HasPrefix(trimmed, p) {
			return 0
		}
	}
	last := map[string]int{}
	for _, p := range commentPrefixes {
		last[p] = -1
	}
	for len(last) > 0 {
		found := len(line)
		for _, p := range commentPrefixes {
			from, searching := last[p]
			if !searching {
				continue
			}
			j := strings.Index(line[from+1:], p)
			if j < 0 {
				delete(last, p)
				continue
			}
			j += from + 1
			last[p] = j
			if before, _ := utf8.DecodeLastRuneInString(line[:j]); j == 0 || unicode.IsSpace(before) {
				found = min(found, j)
			}
		}
		if found < len(line) {
			return found
		}
	}
	return len(line)
}

// sectionHeader reads "[NAME]": NAME runs to the last ']' and may hold anything.
func sectionHeader(value string) (string, bool) {
	end := strings.LastIndexByte(value, ']')
	if !strings.HasPrefix(value, "[") || end < 2 {
		return "", false
	}
	return value[1:end], true
}

// splitOption splits "key = value" or "key: value" at the first '=' or ':'.
func splitOption(value string) (key, val string, ok bool) {
	i := strings.IndexAny(value, "=:")
	if i < 0 {
		return "", "", false
	}
	return strings.TrimRightFunc(value[:i], unicode.IsSpace), strings.TrimSpace(value[i+1:]), true
}
