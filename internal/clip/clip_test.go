package clip

import (
	"testing"
	"unicode/utf8"
)

func TestRunes(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcdef", 3, "abc"},
		{"Zoë🏠ab", 4, "Zoë🏠"},
		{"🏠🏠🏠", 2, "🏠🏠"},
		{"abc", 0, ""},
	} {
		got := Runes(c.in, c.n)
		if got != c.want || !utf8.ValidString(got) {
			t.Errorf("Runes(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
