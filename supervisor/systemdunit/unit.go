// Package systemdunit reads systemd service units (systemd.syntax(7), systemd.unit(5),
// systemd.service(5), systemd.exec(5), systemd.kill(5)) and translates them into watchdog
// service settings, listing every directive that has no watchdog equivalent.
package systemdunit

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"watchdog/supervisor/config/textfile"
)

// Unit is a unit file as systemd's parser reads it: its assignments in file order.
type Unit struct {
	Path string // the file read
	// Name is the unit's name, e.g. "app@web.service". For an instance read from its
	// template file ("app@.service"), it is the instance's name.
	Name string
	// DropIns are the drop-in files read after the unit file, in the order systemd
	// applies them.
	DropIns     []string
	Assignments []Assignment
	// Ignored lists the lines systemd ignores with a warning (a line without '=', an
	// assignment outside any section, a section systemd does not know).
	Ignored []Note
}

// Assignment is one "Key=Value" line, continuation lines joined.
type Assignment struct {
	Section string // "Unit", "Service", "Install"
	Key     string
	Value   string // leading and trailing whitespace removed
	File    string // the unit file, or the drop-in the line is in
	Line    int    // the line the assignment starts on
}

// String prints the assignment as written, continuation lines joined.
func (a Assignment) String() string { return a.Key + "=" + a.Value }

// Error is a problem that keeps a unit file from loading; systemd refuses such a file too.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg) }

// serviceSections are the sections of a service unit; any other is ignored by systemd.
var serviceSections = []string{"Unit", "Service", "Install"}

// Read reads the unit file at path and its drop-ins. When path names an instance
// ("app@web.service") that has no file of its own, the template beside it
// ("app@.service") is read, as systemd does.
func Read(path string) (*Unit, error) {
	name := filepath.Base(path)
	data, err := textfile.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		if template, ok := templatePath(path); ok {
			if tdata, terr := textfile.Read(template); terr == nil {
				path, data, err = template, tdata, nil
			}
		}
	}
	if err != nil {
		return nil, err
	}
	u, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	u.Name = name
	return u, u.readDropIns()
}

// templatePath returns the template file of an instance path: dir/app@web.service ->
// dir/app@.service.
func templatePath(path string) (string, bool) {
	dir, file := filepath.Split(path)
	prefix, rest, ok := strings.Cut(file, "@")
	if !ok {
		return "", false
	}
	instance, suffix, ok := strings.Cut(rest, ".")
	if !ok || instance == "" {
		return "", false
	}
	return filepath.Join(dir, prefix+"@."+suffix), true
}

// Parse reads the contents of a unit file; path names it in errors and gives its name.
// Lines are read as systemd.syntax(7) says: '#' and ';' start comment lines, a line ending
// in an odd number of backslashes continues on the next (comment lines in between are
// skipped), and the backslash becomes a space.
func Parse(path string, data []byte) (*Unit, error) {
	u := &Unit{Path: path, Name: filepath.Base(path)}
	lines := strings.Split(string(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))), "\n")
	section := ""
	knownSection := false
	for i := 0; i < len(lines); i++ {
		start := i + 1
		text := strings.TrimSpace(lines[i])
		if text == "" || isComment(text) {
			continue
		}
		for continues(text) {
			text = text[:len(text)-1] + " "
			for i+1 < len(lines) && isComment(strings.TrimSpace(lines[i+1])) {
				i++
			}
			if i+1 == len(lines) {
				break
			}
			i++
			text += lines[i] // as systemd joins them: inner whitespace is kept
		}
		text = strings.TrimSpace(text)
		if !utf8.ValidString(text) {
			u.Ignored = append(u.Ignored, Note{File: path, Line: start, Directive: strings.ToValidUTF8(text, "\uFFFD"),
				Reason: "not valid UTF-8; systemd ignores the line"})
			continue
		}
		if strings.HasPrefix(text, "[") {
			if !strings.HasSuffix(text, "]") || len(text) < 3 {
				return nil, &Error{Path: path, Line: start, Msg: fmt.Sprintf("invalid section header %q", text)}
			}
			section = text[1 : len(text)-1]
			knownSection = slices.Contains(serviceSections, section)
			if !knownSection {
				u.Ignored = append(u.Ignored, Note{File: path, Line: start, Directive: text,
					Reason: "not a section of a service unit; systemd ignores it and what it holds"})
			}
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		switch {
		case section == "":
			u.Ignored = append(u.Ignored, Note{File: path, Line: start, Directive: text,
				Reason: "assignment outside of any section; systemd ignores it"})
		case !ok:
			u.Ignored = append(u.Ignored, Note{File: path, Line: start, Directive: text,
				Reason: "missing '='; systemd ignores the line"})
		case knownSection:
			u.Assignments = append(u.Assignments, Assignment{Section: section,
				Key: strings.TrimSpace(key), Value: strings.TrimSpace(value), File: path, Line: start})
		}
	}
	return u, nil
}

func isComment(line string) bool {
	return strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";")
}

// continues reports whether a line ends in an unescaped backslash.
func continues(line string) bool {
	n := len(line) - len(strings.TrimRight(line, `\`))
	return n%2 == 1
}
