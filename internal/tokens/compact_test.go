package tokens

import (
	"errors"
	"strings"
	"testing"
)

// A compact token fits an address's local part beside "bounces+", survives
// case folding, and fails for another subject, purpose or secret, or any
// changed character.
func TestCompactTokens(t *testing.T) {
	now := epoch
	s := signerAt(t, secretA, &now)
	const subject = "dab12cd34ef56gh"
	tok := s.SignCompact(Bounce, subject)
	if len("bounces+"+tok) > 64 || strings.ToLower(tok) != tok {
		t.Fatalf("token %q is too long for a local part, or not lowercase", tok)
	}
	for _, form := range []string{tok, strings.ToUpper(tok)} {
		got, err := s.VerifyCompact(Bounce, form)
		if err != nil || got != subject {
			t.Errorf("VerifyCompact(%q) = %q, %v; want the subject", form, got, err)
		}
	}
	if _, err := s.VerifyCompact(Unsubscribe, tok); !errors.Is(err, ErrSignature) {
		t.Errorf("another purpose: %v, want ErrSignature", err)
	}
	if _, err := signerAt(t, secretB, &now).VerifyCompact(Bounce, tok); !errors.Is(err, ErrSignature) {
		t.Errorf("another secret: %v, want ErrSignature", err)
	}
	for i := range len(tok) {
		b := []byte(tok)
		b[i] = map[bool]byte{true: 'b', false: 'a'}[b[i] == 'a']
		if b[i] == tok[i] {
			continue
		}
		if _, err := s.VerifyCompact(Bounce, string(b)); err == nil {
			t.Errorf("token changed at %d verified", i)
		}
	}
	for _, bad := range []string{"", "nodot", ".mac", subject + ".", subject + ".a.b", strings.Repeat("a", 70) + ".b"} {
		if _, err := s.VerifyCompact(Bounce, bad); err == nil {
			t.Errorf("VerifyCompact(%q) succeeded", bad)
		}
	}
}
