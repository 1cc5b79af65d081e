package campaigns

import (
	"regexp"
	"testing"
)

// withoutAddress's plain-text path removes the address in any case, every
// time it appears, exactly as the case-insensitive regexp does.
func TestWithoutAddressMatchesTheRegexp(t *testing.T) {
	for _, tc := range []struct{ s, addr, want string }{
		{"550 5.1.1 <Alex@Example.org>: user unknown", "alex@example.org", "550 5.1.1 <<recipient>>: user unknown"},
		{"RCPT TO:<a.b@x.org> refused; a.b@x.org again; A.B@X.ORG", "a.b@x.org", "RCPT TO:<<recipient>> refused; <recipient> again; <recipient>"},
		{"421 try later", "alex@example.org", "421 try later"},
		{"aaaa", "aa", "<recipient><recipient>"},
		{"mailbox für kim@example.org voll (KIM@EXAMPLE.ORG)", "kim@example.org", "mailbox für <recipient> voll (<recipient>)"},
		{"no address", "", "no address"},
	} {
		got := withoutAddress(tc.s, tc.addr)
		if got != tc.want {
			t.Errorf("withoutAddress(%q, %q) = %q, want %q", tc.s, tc.addr, got, tc.want)
		}
		if tc.addr != "" {
			if re := regexp.MustCompile("(?i)"+regexp.QuoteMeta(tc.addr)).ReplaceAllLiteralString(tc.s, "<recipient>"); got != re {
				t.Errorf("withoutAddress(%q, %q) = %q, the regexp gives %q", tc.s, tc.addr, got, re)
			}
		}
	}
}
