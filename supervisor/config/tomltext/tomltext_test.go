package tomltext

import (
	"testing"

	"github.com/BurntSushi/toml"
)

// TestStringReadsBack: every string written reads back as itself through a TOML parser.
func TestStringReadsBack(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "new\nline\ttab", "bell \x07 del \x7f", "ünïcødé ✓"} {
		var doc struct{ V string }
		if _, err := toml.Decode("V = "+String(s), &doc); err != nil {
			t.Errorf("String(%q) = %s does not parse: %v", s, String(s), err)
			continue
		}
		if doc.V != s {
			t.Errorf("String(%q) reads back as %q", s, doc.V)
		}
	}
}

func TestKeyIsBareWhenItCanBe(t *testing.T) {
	for k, want := range map[string]string{"web": "web", "web-1_a": "web-1_a", "web.0": `"web.0"`, "": `""`, "a b": `"a b"`} {
		if got := Key(k); got != want {
			t.Errorf("Key(%q) = %s, want %s", k, got, want)
		}
	}
}

func TestValue(t *testing.T) {
	got := Value([]any{"a", int64(3), true})
	if want := `["a", 3, true]`; got != want {
		t.Errorf("Value = %s, want %s", got, want)
	}
}
