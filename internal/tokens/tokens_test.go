package tokens

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	secretA = []byte("0123456789abcdef0123456789abcdef")
	secretB = []byte("fedcba9876543210fedcba9876543210")
	epoch   = time.Date(2025, time.March, 14, 9, 26, 53, 0, time.UTC)
)

// signerAt returns a signer for secret whose clock reads *now.
func signerAt(t *testing.T, secret []byte, now *time.Time) *Signer {
	t.Helper()
	s, err := NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return *now }
	return s
}

func TestRoundTripPerPurpose(t *testing.T) {
	now := epoch
	s := signerAt(t, secretA, &now)
	for _, tc := range []struct {
		p   Purpose
		ttl time.Duration
	}{
		{Confirm, ConfirmTTL},
		{Unsubscribe, UnsubscribeTTL},
		{Preferences, PreferencesTTL},
		{Form, FormTTL},
		{GiftAid, GiftAidTTL},
	} {
		t.Run(string(tc.p), func(t *testing.T) {
			tok := s.Sign(tc.p, "rec123abc", tc.ttl)
			if strings.Count(tok, ".") != 4 || !strings.HasPrefix(tok, string(tc.p)+".rec123abc.") {
				t.Fatalf("token %q does not have the documented shape", tok)
			}
			c, err := s.Verify(tc.p, tok)
			if err != nil {
				t.Fatalf("Verify(%s) = %v", tc.p, err)
			}
			want := Claims{Purpose: tc.p, Subject: "rec123abc", IssuedAt: epoch, ExpiresAt: epoch.Add(tc.ttl)}
			if c.Purpose != want.Purpose || c.Subject != want.Subject || !c.IssuedAt.Equal(want.IssuedAt) || !c.ExpiresAt.Equal(want.ExpiresAt) {
				t.Fatalf("claims = %+v, want %+v", c, want)
			}
		})
	}
}

func TestSignIsDeterministicAndSubjectBound(t *testing.T) {
	now := epoch
	s := signerAt(t, secretA, &now)
	a1 := s.Sign(Confirm, "a", time.Hour)
	a2 := s.Sign(Confirm, "a", time.Hour)
	b := s.Sign(Confirm, "b", time.Hour)
	if a1 != a2 {
		t.Errorf("same input signed twice gave %q and %q", a1, a2)
	}
	if a1 == b {
		t.Errorf("different subjects gave the same token %q", a1)
	}
	// Swapping the subject while keeping the MAC must not verify.
	forged := strings.Replace(a1, ".a.", ".b.", 1)
	if _, err := s.Verify(Confirm, forged); !errors.Is(err, ErrSignature) {
		t.Errorf("subject swapped: Verify = %v, want ErrSignature", err)
	}
}

func TestWrongPurpose(t *testing.T) {
	now := epoch
	s := signerAt(t, secretA, &now)
	// "gift_aid" is the retired year-long Gift Aid purpose: its links must
	// not open the Gift Aid page.
	purposes := []Purpose{Confirm, Unsubscribe, Preferences, Form, View, Preview, GiftAid, "gift_aid"}
	for _, signed := range purposes {
		tok := s.Sign(signed, "sub", time.Hour)
		for _, asked := range purposes {
			if asked == signed || asked == "gift_aid" {
				continue
			}
			if _, err := s.Verify(asked, tok); !errors.Is(err, ErrPurpose) {
				t.Errorf("%s token verified as %s: err = %v, want ErrPurpose", signed, asked, err)
			}
		}
	}
}

func TestExpiry(t *testing.T) {
	now := epoch
	s := signerAt(t, secretA, &now)
	confirm := s.Sign(Confirm, "sub", ConfirmTTL)
	unsub := s.Sign(Unsubscribe, "sub", UnsubscribeTTL)
	prefs := s.Sign(Preferences, "sub", PreferencesTTL)
	form := s.Sign(Form, "sub", FormTTL)

	check := func(name string, p Purpose, tok string, at time.Time, want error) {
		t.Helper()
		now = at
		_, err := s.Verify(p, tok)
		if !errors.Is(err, want) {
			t.Errorf("%s at +%s: Verify = %v, want %v", name, at.Sub(epoch), err, want)
		}
	}
	day := 24 * time.Hour
	check("confirm", Confirm, confirm, epoch, nil)
	check("confirm", Confirm, confirm, epoch.Add(7*day-time.Second), nil)
	check("confirm", Confirm, confirm, epoch.Add(7*day), ErrExpired)
	check("confirm", Confirm, confirm, epoch.Add(8*day), ErrExpired)
	check("unsubscribe", Unsubscribe, unsub, epoch.Add(366*day), nil)
	check("unsubscribe", Unsubscribe, unsub, epoch.Add(2*365*day-time.Second), nil)
	check("unsubscribe", Unsubscribe, unsub, epoch.Add(2*365*day), ErrExpired)
	check("preferences", Preferences, prefs, epoch.Add(366*day), nil)
	check("form", Form, form, epoch.Add(day-time.Second), nil)
	check("form", Form, form, epoch.Add(day), ErrExpired)
	// The purpose is checked before expiry.
	check("expired confirm as unsubscribe", Unsubscribe, confirm, epoch.Add(30*day), ErrPurpose)
}

func TestEverySingleCharacterTamperFails(t *testing.T) {
	now := epoch
	s := signerAt(t, secretA, &now)
	tok := s.Sign(Unsubscribe, "k3j4h5g6f7d8s9a", UnsubscribeTTL)
	if _, err := s.Verify(Unsubscribe, tok); err != nil {
		t.Fatalf("untampered token: %v", err)
	}
	replacements := []byte{'A', 'z', '0', '9', '.', '-', '_', '~'}
	tried := 0
	for i := 0; i < len(tok); i++ {
		for _, r := range replacements {
			if tok[i] == r {
				continue
			}
			b := []byte(tok)
			b[i] = r
			tampered := string(b)
			tried++
			_, err := s.Verify(Unsubscribe, tampered)
			if err == nil {
				t.Errorf("tamper at %d (%q->%q) verified: %q", i, tok[i], r, tampered)
				continue
			}
			if !errors.Is(err, ErrSignature) && !errors.Is(err, ErrMalformed) {
				t.Errorf("tamper at %d (%q->%q): err = %v, want ErrSignature or ErrMalformed", i, tok[i], r, err)
			}
		}
	}
	// Deleting or inserting one character must fail too.
	for i := 0; i <= len(tok); i++ {
		if i < len(tok) {
			if _, err := s.Verify(Unsubscribe, tok[:i]+tok[i+1:]); err == nil {
				t.Errorf("deleting char %d verified", i)
			}
		}
		if _, err := s.Verify(Unsubscribe, tok[:i]+"x"+tok[i:]); err == nil {
			t.Errorf("inserting at %d verified", i)
		}
	}
	if tried < len(tok)*(len(replacements)-1) {
		t.Fatalf("only %d tampers tried for a %d-char token", tried, len(tok))
	}
}

func TestOtherSecretFails(t *testing.T) {
	now := epoch
	a := signerAt(t, secretA, &now)
	b := signerAt(t, secretB, &now)
	for _, p := range []Purpose{Confirm, Unsubscribe, Preferences, Form} {
		tok := a.Sign(p, "sub", time.Hour)
		if _, err := b.Verify(p, tok); !errors.Is(err, ErrSignature) {
			t.Errorf("%s token from another secret: Verify = %v, want ErrSignature", p, err)
		}
		// The wrong secret is reported before the purpose.
		if _, err := b.Verify(Form, a.Sign(Confirm, "sub", time.Hour)); !errors.Is(err, ErrSignature) {
			t.Errorf("wrong secret and purpose: Verify = %v, want ErrSignature", err)
		}
	}
}

func TestMalformed(t *testing.T) {
	now := epoch
	s := signerAt(t, secretA, &now)
	valid := s.Sign(Confirm, "sub", time.Hour)
	hugeSigned := s.Sign(Confirm, strings.Repeat("s", 600), time.Hour)
	for name, tok := range map[string]string{
		"empty":               "",
		"no dots":             "confirm",
		"three dots":          "confirm.sub.1.2",
		"too many dots":       valid + ".extra",
		"many dots":           strings.Repeat(".", 20),
		"subject with dot":    s.Sign(Confirm, "a.b", time.Hour),
		"huge without dots":   strings.Repeat("x", 1<<20),
		"huge with four dots": "confirm." + strings.Repeat("x", 1<<20) + ".1.2.mac",
		"huge validly signed": hugeSigned,
	} {
		if _, err := s.Verify(Confirm, tok); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Verify = %v, want ErrMalformed", name, err)
		}
	}
}

func TestNewSignerSecretLength(t *testing.T) {
	for _, n := range []int{0, 1, 16, MinSecretLen - 1} {
		if s, err := NewSigner(bytes.Repeat([]byte{'k'}, n)); err == nil || s != nil {
			t.Errorf("NewSigner(%d bytes) = %v, %v; want an error", n, s, err)
		}
	}
	if _, err := NewSigner(nil); err == nil {
		t.Error("NewSigner(nil) succeeded")
	}
	for _, n := range []int{MinSecretLen, 64} {
		if _, err := NewSigner(bytes.Repeat([]byte{'k'}, n)); err != nil {
			t.Errorf("NewSigner(%d bytes) = %v", n, err)
		}
	}
}

func TestNewSignerCopiesSecret(t *testing.T) {
	secret := append([]byte(nil), secretA...)
	s, err := NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	tok := s.Sign(Confirm, "sub", time.Hour)
	for i := range secret {
		secret[i] = 0
	}
	if _, err := s.Verify(Confirm, tok); err != nil {
		t.Fatalf("changing the caller's slice broke the signer: %v", err)
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", ".token_secret")
	first, err := LoadOrCreateSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < MinSecretLen {
		t.Fatalf("secret has %d bytes, want >= %d", len(first), MinSecretLen)
	}
	if bytes.Equal(first, make([]byte, len(first))) {
		t.Fatal("secret is all zeros")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("secret file mode = %o, want 600", perm)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(raw)); got != hex.EncodeToString(first) {
		t.Errorf("file holds %q, want the hex of the returned secret", got)
	}

	second, err := LoadOrCreateSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("second call returned a different secret")
	}
	if _, err := NewSigner(second); err != nil {
		t.Errorf("loaded secret rejected by NewSigner: %v", err)
	}

	other, err := LoadOrCreateSecret(filepath.Join(t.TempDir(), ".token_secret"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first, other) {
		t.Error("two new secrets are equal")
	}
}

func TestLoadOrCreateSecretRejectsCorruptFile(t *testing.T) {
	for name, content := range map[string]string{
		"empty":     "",
		"not hex":   "this is not a hex secret at all, not even close, nope nope!!\n",
		"odd hex":   strings.Repeat("a", 63),
		"too short": hex.EncodeToString(make([]byte, MinSecretLen-1)) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".token_secret")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if s, err := LoadOrCreateSecret(path); err == nil {
				t.Fatalf("corrupt file accepted, secret %x", s)
			}
			raw, err := os.ReadFile(path)
			if err != nil || string(raw) != content {
				t.Errorf("corrupt file was changed (err %v)", err)
			}
		})
	}
}
