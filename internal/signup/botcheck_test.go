package signup_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

// The bot check compares in milliseconds: with a 2 s minimum, a form posted
// 1.1 s after the page was served is a bot (dropped with the usual answer),
// one posted after 2.1 s is a person. The page is served just before a
// whole second ends, where counting whole seconds makes 1.1 s look like 2.
func TestBotCheckCountsMilliseconds(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: func(c *pb_hooks.Config) { c.MinSubmit = 2 * time.Second }})
	for _, c := range []struct {
		after  time.Duration
		stored int
	}{{1100 * time.Millisecond, 0}, {2100 * time.Millisecond, 1}} {
		for now := time.Now(); now.Nanosecond() < 20e6 || now.Nanosecond() > 60e6; now = time.Now() {
			time.Sleep(5 * time.Millisecond)
		}
		served := time.Now().Add(-c.after) // 0.92–0.96 s into its second
		email := "after" + strings.ReplaceAll(c.after.String(), ".", "") + "@example.org"
		status, body := env.PostForm(t, "/subscribe", url.Values{
			"form_token": {signup.FormToken(testSigner(t, served))},
			"email":      {email}, "topics": {"newsletter"}, "consent": {"true"},
		})
		if status != http.StatusAccepted || !strings.Contains(body, "check your inbox") {
			t.Fatalf("post %s after the page = %d", c.after, status)
		}
		if n := env.Count(t, vocab.Supporters, "email = '"+email+"'"); n != c.stored {
			t.Errorf("post %s after the page stored %d supporters, want %d", c.after, n, c.stored)
		}
	}
}
