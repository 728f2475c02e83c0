package supervisordconf

import (
	"fmt"
	"strconv"
	"strings"
)

// reader reads the options of one section as supervisord reads them: the section's own
// or else [DEFAULT]'s, each expanded with names. A value supervisord would refuse is
// reported as an error and read as not written.
type reader struct {
	t     *translator
	s     *section
	names expansions
	notes []Note
	// failed says that an option had an error: the section gives no services.
	failed bool
}

// get returns the expanded value of key and the option it comes from; nil when the
// section does not write it or its value is wrong.
func (r *reader) get(key string) (string, *option) {
	o, ok := r.t.doc.lookup(r.s, key)
	if !ok {
		return "", nil
	}
	x, err := expand(o.value, r.names)
	if err != nil {
		r.errorf(o, "%v", err)
		return "", nil
	}
	r.t.hostNote(&r.notes, o, x)
	return x.text, o
}

// boolean reads a yes/no option as supervisord does: yes, true, on, 1 or no, false,
// off, 0, in any case.
func (r *reader) boolean(key string, def bool) (bool, *option) {
	v, o := r.get(key)
	if o == nil {
		return def, nil
	}
	b, err := parseBoolean(v)
	if err != nil {
		r.errorf(o, "%v", err)
		return def, nil
	}
	return b, o
}

func parseBoolean(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "true", "on", "1":
		return true, nil
	case "no", "false", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true, false, yes, no, on, off, 1, 0)", v)
}

// integer reads a whole number.
func (r *reader) integer(key string, def int) (int, *option) {
	v, o := r.get(key)
	if o == nil {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		r.errorf(o, "%q is not a whole number", v)
		return def, nil
	}
	return n, o
}

func (r *reader) errorf(o *option, format string, args ...any) {
	r.t.errorf(o.file, o.line, "[%s] %s: %s", r.s.name, o.key, fmt.Sprintf(format, args...))
	r.failed = true
}

// note records that option o is not expressed, and why.
func (r *reader) note(o *option, format string, args ...any) {
	r.notes = appendNote(r.notes, Note{o.file, o.line, o.String(), fmt.Sprintf(format, args...)})
}

// byteSize reads a size in bytes as supervisord does: a whole number, with KB, MB or GB
// in any case for 1024, 1024² or 1024³ of them; 0 when not written.
func (r *reader) byteSize(key string) (int, *option) {
	v, o := r.get(key)
	if o == nil {
		return 0, nil
	}
	digits, unit := strings.ToLower(v), 1
	for suffix, size := range map[string]int{"kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30} {
		if d, ok := strings.CutSuffix(digits, suffix); ok {
			digits, unit = d, size
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(digits))
	if err != nil {
		r.errorf(o, "%q is not a size in bytes (a number, with KB, MB or GB)", v)
		return 0, nil
	}
	return n * unit, o
}
