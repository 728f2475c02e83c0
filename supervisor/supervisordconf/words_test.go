package supervisordconf

import (
	"slices"
	"testing"
)

// The expected values are what Python 3.11's shlex.split and supervisord 4.2's
// dict_of_key_value_pairs return for the same input.

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string // nil: an error
	}{
		{`/bin/sh -c "echo \"hi\" \$HOME \\ \n"`, []string{"/bin/sh", "-c", `echo "hi" \$HOME \ \n`}},
		{`a 'b c'd "" ''`, []string{"a", "b cd", "", ""}},
		{`a\ b c\\d`, []string{"a b", `c\d`}},
		{"x\n  y\tz", []string{"x", "y", "z"}},
		{`it's "$(not a shell)" #no comment`, nil},
		{`it\'s "$(not a shell)" #no comment`, []string{"it's", "$(not a shell)", "#no", "comment"}},
		{"'unterminated", nil},
		{`ends\`, nil},
		{"", []string{}},
	}
	for _, tt := range tests {
		got, err := splitCommand(tt.in)
		if tt.want == nil {
			if err == nil {
				t.Errorf("splitCommand(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseEnvironment(t *testing.T) {
	tests := []struct {
		in   string
		want []variable // nil: an error
	}{
		{"A=1,B=two", []variable{{"A", "1"}, {"B", "two"}}},
		{`K="a, b",L='c d'`, []variable{{"K", "a, b"}, {"L", "c d"}}},
		{"PATH=/usr/bin:/bin,X=a.b+c-(d)", []variable{{"PATH", "/usr/bin:/bin"}, {"X", "a.b+c-(d)"}}},
		{`A=x"y z"`, []variable{{"A", `x"y`}}},                          // whitespace ends a word, quotes or not
		{"A=1;B=2", []variable{{"A", "1"}, {"B", "2"}}},                 // any one character separates
		{"U=http://x/?a=b", []variable{{"U", "http://x/"}, {"a", "b"}}}, // '?' is not a word character
		{"A=é", []variable{{"A", "é"}}},
		{"A=1,A=2,B=3", []variable{{"A", "2"}, {"B", "3"}}},
		{"A=b#c\n,D=e", []variable{{"A", "b"}, {"D", "e"}}},
		{"", []variable{}},
		{"A=1 B=2", nil},
		{`A="unclosed`, nil},
		{"A", nil},
	}
	for _, tt := range tests {
		got, err := parseEnvironment(tt.in)
		if tt.want == nil {
			if err == nil {
				t.Errorf("parseEnvironment(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) || len(got) > 0 && !slices.Equal(got, tt.want) {
			t.Errorf("parseEnvironment(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
