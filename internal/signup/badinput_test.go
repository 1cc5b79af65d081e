package signup_test

import (
	"encoding/hex"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/testkit"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// testSigner signs links as the test app does, with a clock of our choosing.
func testSigner(t *testing.T, now time.Time) *tokens.Signer {
	t.Helper()
	secret, _ := hex.DecodeString(testkit.TestSecret)
	s, err := tokens.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return now }
	return s
}

// assertNothingWritten checks no supporter, consent or outbox row exists.
func assertNothingWritten(t *testing.T, env *testkit.Env) {
	t.Helper()
	for _, c := range []string{vocab.Supporters, vocab.Consents, vocab.Outbox} {
		if n := env.Count(t, c, ""); n != 0 {
			t.Errorf("%s has %d rows, want 0", c, n)
		}
	}
}

func TestBadSignupInput(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	good := func(email, first string) string {
		return `{"email":` + quote(email) + `,"first_name":` + quote(first) + `,"topics":["newsletter"],"consent":true}`
	}
	cases := []struct {
		name   string
		body   string
		ctype  string
		status int
		want   string
	}{
		{"empty email", good("", "Ann"), "", 400, "Enter your email address."},
		{"no at sign", good("not-an-email", "Ann"), "", 400, "Enter a valid email address"},
		{"no domain dot", good("ann@localhost", "Ann"), "", 400, "Enter a valid email address"},
		{"double dot", good("ann@example..org", "Ann"), "", 400, "Enter a valid email address"},
		{"display name", good("Ann <ann@example.org>", "Ann"), "", 400, "Enter a valid email address"},
		{"ip literal", good("ann@[127.0.0.1]", "Ann"), "", 400, "Enter a valid email address"},
		{"crlf in email", good("ann@example.org\r\nBcc: x@example.org", "Ann"), "", 400, "Enter a valid email address"},
		{"two at signs", good("ann@bob@example.org", "Ann"), "", 400, "Enter a valid email address"},
		{"too long", good(strings.Repeat("a", 64)+"@"+strings.Repeat("b", 186)+".org", "Ann"), "", 400, "too long"},
		{"crlf in name", good("ann@example.org", "Ann\r\nBcc: evil@example.org"), "", 400, "Names can only contain"},
		{"tab in name", good("ann@example.org", "Ann\tB"), "", 400, "Names can only contain"},
		{"bidi override in name", good("ann@example.org", "Ann\u202Egro"), "", 400, "Names can only contain"},
		{"link in name", good("ann@example.org", "Win at https://spam.example"), "", 400, "web addresses"},
		{"long name", good("ann@example.org", strings.Repeat("x", 101)), "", 400, "at most 100"},
		{"unknown topic", `{"email":"ann@example.org","topics":["newsletter","nope"],"consent":true}`, "", 400, "doesn't exist"},
		{"non-public topic syntax", `{"email":"ann@example.org","topics":["../admin"],"consent":true}`, "", 400, "doesn't exist"},
		{"no topics", `{"email":"ann@example.org","topics":[],"consent":true}`, "", 400, "at least one topic"},
		{"consent missing", `{"email":"ann@example.org","topics":["newsletter"]}`, "", 400, "tick the box"},
		{"consent false", `{"email":"ann@example.org","topics":["newsletter"],"consent":false}`, "", 400, "tick the box"},
		{"consent as string", `{"email":"ann@example.org","topics":["newsletter"],"consent":"yes"}`, "", 400, "not valid JSON"},
		{"not json", `email=ann@example.org`, "", 400, "not valid JSON"},
		{"form to json endpoint", `email=ann%40example.org`, "application/x-www-form-urlencoded", 415, "Content-Type: application/json"},
		{"1 MB body", `{"email":"ann@example.org","first_name":"` + strings.Repeat("A", 1<<20) + `","topics":["newsletter"],"consent":true}`, "", 413, "too large"},
		{"bad form token", `{"email":"ann@example.org","topics":["newsletter"],"consent":true,"form_token":"form..x.y.zzz"}`, "", 400, "form token is invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctype := c.ctype
			if ctype == "" {
				ctype = "application/json"
			}
			status, body := env.Do(t, http.MethodPost, "/api/subscribe", ctype, c.body)
			if status != c.status || !strings.Contains(body, c.want) {
				t.Errorf("= %d %s, want %d containing %q", status, truncate(body), c.status, c.want)
			}
			assertNothingWritten(t, env)
		})
	}
}

func TestBadSignupFormRerenders(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	status, body := env.PostForm(t, "/subscribe", url.Values{
		"form_token": {formToken(t, env)},
		"email":      {"ann@example"},
		"first_name": {"Ann <b>bold</b>"},
		"topics":     {"events"},
	})
	text := html.UnescapeString(body)
	if status != http.StatusBadRequest || !strings.Contains(text, "Enter a valid email address") || !strings.Contains(text, "tick the box") {
		t.Fatalf("= %d, want 400 with both messages:\n%s", status, truncate(body))
	}
	if strings.Contains(body, "<b>bold</b>") || !strings.Contains(body, `value="Ann &lt;b&gt;bold&lt;/b&gt;"`) {
		t.Error("the typed name is not kept, or is not escaped")
	}
	if !strings.Contains(body, `value="events" checked`) {
		t.Error("the chosen topic is not kept")
	}
	assertNothingWritten(t, env)

	// A stale or forged form token: asked to press again, nothing written.
	status, body = env.PostForm(t, "/subscribe", url.Values{"form_token": {"nonsense"}, "email": {"ann@example.org"}, "topics": {"newsletter"}, "consent": {"true"}})
	if status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(body), "press “Sign me up” again") {
		t.Fatalf("bad form token = %d:\n%s", status, truncate(body))
	}
	assertNothingWritten(t, env)
}

func TestBadLinks(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	signer := testSigner(t, time.Now())
	old := testSigner(t, time.Now().Add(-8*24*time.Hour))
	valid := signer.Sign(tokens.Confirm, "abc123", tokens.ConfirmTTL)
	tampered := valid[:len(valid)-2] + "xx"
	cases := []struct {
		name, method, path, want string
	}{
		{"confirm tampered", "GET", "/confirm?token=" + tampered, "This link doesn't work"},
		{"confirm expired", "GET", "/confirm?token=" + old.Sign(tokens.Confirm, "abc123", tokens.ConfirmTTL), "Confirmation links work for 7 days"},
		{"confirm with unsubscribe token", "GET", "/confirm?token=" + signer.Sign(tokens.Unsubscribe, "abc123", tokens.UnsubscribeTTL), "This link doesn't work"},
		{"confirm unknown consent", "GET", "/confirm?token=" + valid, "couldn't find"},
		{"confirm no token", "GET", "/confirm", "This link doesn't work"},
		{"unsubscribe page tampered", "GET", "/unsubscribe?token=" + tampered, "This link doesn't work"},
		{"unsubscribe post with confirm token", "POST", "/unsubscribe?token=" + valid, "This link doesn't work"},
		{"preferences with other secret", "GET", "/preferences?token=" + otherSecretToken(t), "This link doesn't work"},
		{"preferences post tampered", "POST", "/preferences?token=" + tampered, "This link doesn't work"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := env.Do(t, c.method, c.path, "application/x-www-form-urlencoded", "topics=newsletter")
			if status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(body), c.want) {
				t.Errorf("= %d, want 400 with %q:\n%s", status, c.want, truncate(body))
			}
			assertNothingWritten(t, env)
		})
	}
}

func otherSecretToken(t *testing.T) string {
	s, err := tokens.NewSigner([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s.Sign(tokens.Preferences, "abc123", time.Hour)
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", `\r`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

func truncate(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}
