package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// node is one key of a TOML document with the line it was written on.
type node struct {
	key      string           // dotted path as toml.Key prints it, e.g. services.web.restart
	line     int              // 0 for the document itself
	value    any              // as the toml package decodes into any: string, int64, []any, map[string]any, ...
	children map[string]*node // the keys of a table; nil for other values
}

// oneLine escapes the control characters of a parser's message, which may quote the input
// raw: every line of an error names its file.
func oneLine(msg string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, msg)
}

// readDocument parses TOML into a tree of nodes that know their lines.
func readDocument(data []byte) (*node, *Error) {
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		if perr, ok := errors.AsType[toml.ParseError](err); ok {
			return nil, &Error{Line: perr.Position.Line, Msg: oneLine(perr.Message)}
		}
		return nil, &Error{Msg: oneLine(err.Error())}
	}
	root := &node{value: map[string]any{}, children: map[string]*node{}}
	for name, p := range top {
		child, err := readNode(&md, p, toml.Key{name}, 0)
		if err != nil {
			return nil, &Error{Msg: err.Error()}
		}
		root.children[name] = child
	}
	return root, nil
}

// readNode reads the value p of key and what is under it. parentLine stands in for
// a key whose line the toml package does not record (an empty key, "" = 1).
func readNode(md *toml.MetaData, p toml.Primitive, key toml.Key, parentLine int) (*node, error) {
	own := keyLine(md, p)
	n := &node{key: key.String(), line: own}
	if err := md.PrimitiveDecode(p, &n.value); err != nil {
		return nil, err
	}
	if _, isTable := n.value.(map[string]any); isTable {
		var fields map[string]toml.Primitive
		if err := md.PrimitiveDecode(p, &fields); err != nil {
			return nil, err
		}
		n.children = make(map[string]*node, len(fields))
		for name, fp := range fields {
			child, err := readNode(md, fp, append(slices.Clip(key), name), max(own, parentLine))
			if err != nil {
				return nil, err
			}
			n.children[name] = child
			// A table never named in a header ([a.b.c] implies [a.b]) has no line
			// of its own: its first key stands in for it.
			if own == 0 && child.line > 0 && (n.line == 0 || child.line < n.line) {
				n.line = child.line
			}
		}
	}
	if n.line == 0 {
		n.line = parentLine
	}
	return n, nil
}

// keyLine finds the line of the key a Primitive was read from. The toml package keeps
// key positions private and hands them out only in the ParseError it wraps around an
// Unmarshaler's error, so we decode into an Unmarshaler that always fails.
func keyLine(md *toml.MetaData, p toml.Primitive) int {
	if perr, ok := errors.AsType[toml.ParseError](md.PrimitiveDecode(p, positionProbe{})); ok {
		return perr.Position.Line
	}
	return 0
}

type positionProbe struct{}

func (positionProbe) UnmarshalTOML(any) error { return errors.New("position wanted") }

// table reads the keys of one TOML table into typed values. Each problem is reported
// against its key's line; every key not read by the time finish is called is unknown.
type table struct {
	n     *node
	probs *problems
	read  map[string]bool
}

func newTable(n *node, probs *problems) *table {
	return &table{n: n, probs: probs, read: map[string]bool{}}
}

// keys lists the table's keys in name order.
func (t *table) keys() []string {
	names := make([]string, 0, len(t.n.children))
	for name := range t.n.children {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func (t *table) has(name string) bool {
	_, ok := t.n.children[name]
	return ok
}

// errorf reports a problem with key name ("" for the table itself), on the key's line
// or, for a key that is missing, on the table's.
func (t *table) errorf(name, format string, args ...any) {
	key, line := t.n.key, t.n.line
	if child, ok := t.n.children[name]; ok {
		key, line = child.key, child.line
	} else if name != "" {
		key = strings.TrimPrefix(key+"."+name, ".")
	}
	t.probs.add(line, key, format, args...)
}

// finish reports the keys nobody read.
func (t *table) finish() {
	for _, name := range t.keys() {
		if !t.read[name] {
			t.errorf(name, "unknown key")
		}
	}
}

// lookup returns the value of key name, or false when it is not written.
func (t *table) lookup(name string) (any, bool) {
	child, ok := t.n.children[name]
	if ok {
		t.read[name] = true
		return child.value, true
	}
	return nil, false
}

// table returns the sub-table name, or false when it is missing or no table.
func (t *table) table(name string) (*table, bool) {
	v, ok := t.lookup(name)
	if !ok {
		return nil, false
	}
	if _, isTable := v.(map[string]any); !isTable {
		t.errorf(name, "must be a table, not %s", typeName(v))
		return nil, false
	}
	return newTable(t.n.children[name], t.probs), true
}

// value reads key name into dst when it is written and has the Go type T.
func value[T any](t *table, name string, dst *T) bool {
	v, ok := t.lookup(name)
	if !ok {
		return false
	}
	x, ok := v.(T)
	if !ok {
		var want T
		t.errorf(name, "must be %s, not %s", typeName(want), typeName(v))
		return false
	}
	*dst = x
	return true
}

// array reads key name into dst when it is an array of T.
func array[T any](t *table, name string, dst *[]T) bool {
	var items []any
	if !value(t, name, &items) {
		return false
	}
	out := make([]T, 0, len(items))
	for i, item := range items {
		x, ok := item.(T)
		if !ok {
			var want T
			t.errorf(name, "item %d must be %s, not %s", i+1, typeName(want), typeName(item))
			return false
		}
		out = append(out, x)
	}
	*dst = nil // an empty array reads as nil, as an absent one
	if len(out) > 0 {
		*dst = out
	}
	return true
}

func (t *table) str(name string, dst *string) bool {
	var s string
	if !value(t, name, &s) {
		return false
	}
	if strings.ContainsRune(s, 0) {
		t.errorf(name, "must not contain a NUL character")
		return false
	}
	*dst = s
	return true
}

func (t *table) strs(name string, dst *[]string) bool {
	var list []string
	if !array(t, name, &list) {
		return false
	}
	for _, s := range list {
		if strings.ContainsRune(s, 0) {
			t.errorf(name, "must not contain a NUL character")
			return false
		}
	}
	*dst = list
	return true
}

func (t *table) boolean(name string, dst *bool) bool {
	return value(t, name, dst)
}

// integer reads an integer no smaller than least.
func (t *table) integer(name string, dst *int, least int) bool {
	var n int64
	if !value(t, name, &n) {
		return false
	}
	if n < int64(least) {
		t.errorf(name, "must be at least %d, not %d", least, n)
		return false
	}
	if int64(int(n)) != n {
		t.errorf(name, "%d is too large", n)
		return false
	}
	*dst = int(n)
	return true
}

// duration reads a Go duration string that is not negative.
func (t *table) duration(name string, dst *time.Duration) bool {
	var s string
	if !t.str(name, &s) {
		return false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.errorf(name, "invalid duration %q", s)
		return false
	}
	if d < 0 {
		t.errorf(name, "must not be negative, not %q", s)
		return false
	}
	*dst = d
	return true
}

// positiveDuration reads a Go duration string greater than zero.
func (t *table) positiveDuration(name string, dst *time.Duration) bool {
	var d time.Duration
	if !t.duration(name, &d) {
		return false
	}
	if d == 0 {
		t.errorf(name, "must be greater than 0")
		return false
	}
	*dst = d
	return true
}

// typeName names the TOML type of a value decoded into any, with its article.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a datetime"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	}
	return fmt.Sprintf("a %T", v)
}
