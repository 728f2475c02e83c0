package supervisordconf

import (
	"fmt"
	"strings"
	"testing"
)

// TestRead reads INI text as Python 3.11's configparser reads it for supervisord: the
// expected options are what its sections and values hold for the same text.
func TestRead(t *testing.T) {
	tests := []struct {
		name, text string
		want       string // "[SECTION] key=value@line ..." per section, in order
	}{
		{"continuation lines and blank lines inside a value",
			"[a]\nk = one\n  two\n\n  three\n\nnext=x\n",
			"[a] k=one\ntwo\n\nthree@2 next=x@7"},
		{"an indented header continues the value",
			"[a]\nk=v\n  [b]\n",
			"[a] k=v\n[b]@2"},
		{"inline comments need whitespace before them",
			"[a]\nk = a;b\nl = a ;b\nm = a#b # c\n",
			"[a] k=a;b@2 l=a@3 m=a#b@4"},
		{"whole-line comments",
			"[a]\n  ; indented comment\n# comment\nk=v\n",
			"[a] k=v@4"},
		{"the first of '=' and ':' splits, keys are lower-cased",
			"[a]\nKey: x = y\nB = c:d\n",
			"[a] key=x = y@2 b=c:d@3"},
		{"a section read twice is one, its options in first-set order",
			"[a]\nx=1\ny=2\n[b]\nz=3\n[a]\nx=4\n",
			"[a] x=4@7 y=2@3 | [b] z=3@5"},
		{"the header runs to the last ']'",
			"[a]b] trailing\nk=v\n",
			"[a]b] k=v@2"},
		{"DEFAULT is not a section",
			"[DEFAULT]\nd=1\n[a]\n",
			"[a]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDocument()
			if errs := d.read("f.conf", []byte(tt.text)); len(errs) > 0 {
				t.Fatal(errs)
			}
			var sections []string
			for _, s := range d.sections {
				words := []string{"[" + s.name + "]"}
				for _, o := range s.options {
					words = append(words, fmt.Sprintf("%s=%s@%d", o.key, o.value, o.line))
				}
				sections = append(sections, strings.Join(words, " "))
			}
			if got := strings.Join(sections, " | "); got != tt.want {
				t.Errorf("read:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	d := newDocument()
	if errs := d.read("f.conf", []byte("[a]\nown=1\n[DEFAULT]\nown=0\nshared=2\n")); len(errs) > 0 {
		t.Fatal(errs)
	}
	a := d.byName["a"]
	for key, want := range map[string]string{"own": "1", "shared": "2"} {
		if o, ok := d.lookup(a, key); !ok || o.value != want {
			t.Errorf("lookup %s = %v, want %s", key, o, want)
		}
	}
	if _, ok := d.lookup(a, "missing"); ok {
		t.Error("lookup of a missing option found one")
	}
}
