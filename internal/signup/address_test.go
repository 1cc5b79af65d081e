package signup_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/erasure"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// drained signs up a fresh address and waits for its confirmation: the
// outbox worker sends in queue order, so once it arrives every message
// queued before it has been sent (or dropped).
func drained(t *testing.T, env *testkit.Env) {
	t.Helper()
	if status, body := env.PostJSON(t, "/api/subscribe", `{"email":"sentinel@example.org","topics":["newsletter"],"consent":true}`); status != http.StatusAccepted {
		t.Fatalf("sentinel signup = %d %s", status, body)
	}
	env.SMTP.WaitFor(t, "sentinel@example.org", 1, 10*time.Second)
}

// An address typed in another shape than the one it reaches (an RFC 2047
// encoded word, say) must not carry mail past the suppression list: a
// manually suppressed address and an erased supporter, typed encoded, get
// nothing, and the answer is the one any address typed that way gets.
func TestEncodedAddressCannotReachSuppressedOrErased(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	manual := core.NewRecord(testkit.Collection(t, env.App, vocab.Suppressions))
	manual.Set("email_hash", "victim@example.org")
	manual.Set("reason", vocab.SuppressManual)
	if err := env.App.Save(manual); err != nil {
		t.Fatal(err)
	}
	gone := testkit.Subscribers(t, env.App, 1)[0] // reader00000@example.org
	if _, err := (&erasure.Eraser{App: env.App, Hash: signup.HashEmail}).Erase(gone.Id); err != nil {
		t.Fatal(err)
	}

	answer := func(email string) (int, string, int, string) {
		t.Helper()
		status, body := env.PostJSON(t, "/api/subscribe", `{"email":`+quote(email)+`,"topics":["newsletter"],"consent":true}`)
		fstatus, fbody := env.PostForm(t, "/subscribe", url.Values{
			"form_token": {formToken(t, env)}, "email": {email}, "topics": {"newsletter"}, "consent": {"true"},
		})
		return status, canonicalJSON(t, body), fstatus, fieldErrors(fbody)
	}
	// The same shape for an address nobody has: the answer to compare with.
	wantStatus, wantBody, wantFormStatus, wantForm := answer("=?utf-8?q?nobody?=@example.org")
	if wantStatus != http.StatusBadRequest || !strings.Contains(wantBody, `"email"`) || wantFormStatus != http.StatusBadRequest || !strings.Contains(wantForm, "email address") {
		t.Errorf("encoded address = %d %s (form %d), want 400 naming the email field", wantStatus, wantBody, wantFormStatus)
	}
	for _, typed := range []string{
		"=?utf-8?q?victim?=@example.org",
		"=?UTF-8?B?dmljdGlt?=@example.org",
		"=?utf-8?q?reader00000?=@example.org",
		"=?utf-8?q?reader00000?=@EXAMPLE.org",
	} {
		status, body, fstatus, form := answer(typed)
		if status != wantStatus || body != wantBody || fstatus != wantFormStatus || form != wantForm {
			t.Errorf("%s answered %d %s / form %d %q; an unknown address typed the same way got %d %s / form %d %q",
				typed, status, body, fstatus, form, wantStatus, wantBody, wantFormStatus, wantForm)
		}
	}

	drained(t, env)
	if got := env.SMTP.Mails(); len(got) != 1 {
		for _, m := range got {
			t.Logf("mail to %v", m.To)
		}
		t.Errorf("the sink got %d messages, want only the sentinel's", len(got))
	}
	if n := env.Count(t, vocab.Supporters, "email != 'sentinel@example.org' && status != 'erased'"); n != 0 {
		t.Errorf("%d supporters stored from encoded addresses", n)
	}
}

var fieldErrorRe = regexp.MustCompile(`<p class="field-error"[^>]*>([^<]*)</p>`)

// fieldErrors is the field messages of a re-rendered signup page (which
// also shows the values typed, and a fresh form token).
func fieldErrors(page string) string {
	return fmt.Sprint(fieldErrorRe.FindAllStringSubmatch(page, -1))
}

// canonicalJSON re-encodes a JSON answer with its keys in order.
func canonicalJSON(t *testing.T, body string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, body)
	}
	out, _ := json.Marshal(v)
	return string(out)
}
