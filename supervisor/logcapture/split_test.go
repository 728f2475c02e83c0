package logcapture

import (
	"strings"
	"testing"
)

// TestSplitWaitsForLookahead covers what a pipe test cannot force: a read that ends just
// past MaxLineBytes, where a piece must not be cut before the line's '\r\n' or inside a rune.
func TestSplitWaitsForLookahead(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name    string
		data    string
		advance int // 0: more data needed
		partial bool
	}{
		{"max and a cr", a(MaxLineBytes) + "\r", 0, false},
		{"max and a cr before newline", a(MaxLineBytes) + "\r\n", MaxLineBytes + 2, false},
		{"rune begun at the cut", a(MaxLineBytes-1) + "\xe2\x82", 0, false},
		{"rune across the cut", a(MaxLineBytes-1) + "€b", 0, false},
		{"rune across the cut, enough seen", a(MaxLineBytes-1) + "€bc", MaxLineBytes - 1, true},
		{"enough seen", a(MaxLineBytes + 4), MaxLineBytes, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s lineSplitter
			advance, token, err := s.split([]byte(tt.data), false)
			if err != nil {
				t.Fatal(err)
			}
			if advance != tt.advance || s.partial != tt.partial {
				t.Errorf("split = advance %d (token of %d bytes), partial %v; want advance %d, partial %v",
					advance, len(token), s.partial, tt.advance, tt.partial)
			}
		})
	}
}
