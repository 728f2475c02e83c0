package systemdunit

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// systemPaths are the specifiers of systemd.unit(5) whose value is fixed for units of the
// system manager, which is what an imported unit is taken to be.
var systemPaths = map[byte]string{
	'C': "/var/cache",
	'D': "/usr/share",
	'E': "/etc",
	'L': "/var/log",
	'S': "/var/lib",
	't': "/run",
	'T': "/tmp",
	'V': "/var/tmp",
	// The user the system manager runs as: %u and friends name it, not User=.
	'u': "root",
	'U': "0",
	'g': "root",
	'G': "0",
	'h': "/root",
	's': "/bin/sh",
}

// hostSpecifiers depend on the machine systemd runs on, which is not the container
// watchdog will run in.
var hostSpecifiers = map[byte]string{
	'a': "architecture",
	'A': "OS image version",
	'b': "boot ID",
	'B': "OS build ID",
	'd': "credentials directory",
	'H': "host name",
	'l': "short host name",
	'm': "machine ID",
	'M': "OS image ID",
	'o': "OS ID",
	'q': "pretty host name",
	'v': "kernel release",
	'w': "OS version ID",
	'W': "OS variant ID",
}

// expandSpecifiers replaces the % specifiers of systemd.unit(5) in s with their values for
// unit u. Those that cannot be known here (host ones, %i of a bare template) are listed in
// unresolved and stay as written; an unknown specifier is an error, as it is for systemd.
func (u *Unit) expandSpecifiers(s string) (expanded string, unresolved []string, err error) {
	if !strings.Contains(s, "%") {
		return s, nil, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", nil, fmt.Errorf("%q ends in a lone %%", s)
		}
		i++
		c := s[i]
		value, ok, why := u.specifier(c)
		switch {
		case ok:
			b.WriteString(value)
		case why != "":
			unresolved = append(unresolved, fmt.Sprintf("%%%c (%s)", c, why))
			b.WriteByte('%')
			b.WriteByte(c)
		default:
			return "", nil, fmt.Errorf("unknown specifier %%%c", c)
		}
	}
	return b.String(), unresolved, nil
}

// specifier returns the value of %c, or why it has none here, or neither for an unknown one.
func (u *Unit) specifier(c byte) (value string, ok bool, why string) {
	if v, found := systemPaths[c]; found {
		return v, true, ""
	}
	if what, found := hostSpecifiers[c]; found {
		return "", false, what + " of the machine systemd runs on"
	}
	name := u.Name
	prefix, instance, isInstance := u.nameParts()
	switch c {
	case '%':
		return "%", true, ""
	case 'n':
		return name, true, ""
	case 'N':
		return strings.TrimSuffix(name, filepath.Ext(name)), true, ""
	case 'p':
		return prefix, true, ""
	case 'P':
		return unescapeUnitName(prefix), true, ""
	case 'j', 'J':
		last := prefix[strings.LastIndexByte(prefix, '-')+1:]
		if c == 'J' {
			last = unescapeUnitName(last)
		}
		return last, true, ""
	case 'i', 'I', 'f':
		if isInstance && instance == "" {
			return "", false, "a template has no instance name: import an instance, e.g. name@value.service"
		}
		switch {
		case c == 'i':
			return instance, true, ""
		case c == 'I':
			return unescapeUnitName(instance), true, ""
		case isInstance:
			return "/" + strings.TrimPrefix(unescapeUnitName(instance), "/"), true, ""
		default:
			return "/" + strings.TrimPrefix(unescapeUnitName(prefix), "/"), true, ""
		}
	case 'y':
		return u.Path, true, ""
	case 'Y':
		return filepath.Dir(u.Path), true, ""
	}
	return "", false, ""
}

// nameParts splits "prefix@instance.service"; isInstance says whether there is an '@'.
func (u *Unit) nameParts() (prefix, instance string, isInstance bool) {
	base := strings.TrimSuffix(u.Name, filepath.Ext(u.Name))
	prefix, instance, isInstance = strings.Cut(base, "@")
	return prefix, instance, isInstance
}

// unescapeUnitName undoes systemd-escape(1): '-' stands for '/', and \xNN for a byte.
func unescapeUnitName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '-':
			b.WriteByte('/')
		case s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x':
			if n, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
