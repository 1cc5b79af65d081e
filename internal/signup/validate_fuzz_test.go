package signup

import (
	"net/mail"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzValidate checks the promises of Validate on any input: it never
// panics, and whatever it accepts is safe to store and to put in a mail
// header: a lowercased, trimmed plain address of at most 254 bytes that
// net/mail parses back to itself and that reaches no other address once
// encoded words are decoded, and names without control characters or
// encoded words.
func FuzzValidate(f *testing.F) {
	for _, seed := range []struct{ email, first, last, topic string }{
		{"ann@example.org", "Ann", "Lee", "newsletter"},
		{"  ANN@Example.ORG ", "Ann-Marie", "O'Neil", "events"},
		{"ann@example.org\r\nBcc: x@y.org", "Ann\r\nX: y", "", "newsletter"},
		{"\"quoted\"@example.org", "Zoë", "Łukasz", "appeals"},
		{"ann@xn--bcher-kva.example", "李", "😀", "news-letter"},
		{"a@b.c", "", "", ""},
		{"=?utf-8?q?ann?=@example.org", "=?utf-8?b?QW5uDQpCY2M6IHhAeS5vcmc=?=", "Ann\u2028Lee", "newsletter"},
		{strings.Repeat("a", 300) + "@example.org", strings.Repeat("x", 200), "", "UPPER"},
	} {
		f.Add(seed.email, seed.first, seed.last, seed.topic, true)
	}
	f.Fuzz(func(t *testing.T, email, first, last, topic string, consent bool) {
		c, errs := Validate(Input{Email: email, FirstName: first, LastName: last, Topics: []string{topic}, Consent: consent})
		if errs != nil {
			if len(errs) == 0 {
				t.Fatal("non-nil but empty errors")
			}
			if c.Email != "" {
				t.Fatal("rejected input returned a cleaned value")
			}
			return
		}
		if !consent {
			t.Fatal("accepted without consent")
		}
		if len(c.Email) > MaxEmailLen || c.Email != strings.ToLower(strings.TrimSpace(c.Email)) {
			t.Fatalf("email %q not normalised", c.Email)
		}
		if a, err := mail.ParseAddress(c.Email); err != nil || a.Address != c.Email || a.Name != "" {
			t.Fatalf("accepted email %q does not parse back: %v", c.Email, err)
		}
		if addr, ok := reaches(c.Email); !ok || addr != c.Email || misread(c.Email) {
			t.Fatalf("accepted email %q reaches %q (%v)", c.Email, addr, ok)
		}
		for _, name := range []string{c.FirstName, c.LastName} {
			if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameRunes || strings.ContainsFunc(name, unicode.IsControl) || strings.Contains(name, "=?") {
				t.Fatalf("accepted unsafe name %q", name)
			}
		}
		if len(c.Topics) != 1 || !slugRe.MatchString(c.Topics[0]) {
			t.Fatalf("accepted topics %q", c.Topics)
		}
	})
}
