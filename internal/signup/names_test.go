package signup_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/mail"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/testkit"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// bccWord is a name that is itself an RFC 2047 encoded word decoding to
// header text: mail clients decode it into a To: line with a Bcc: after it.
var bccWord = "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte("Ann\r\nBcc: evil@example.net")) + "?="

// A name that decodes to header text is refused by every way in: the JSON
// and form signups, the preferences page, and the REST API (dashboard).
// Nothing is stored and nothing mailed.
func TestEncodedNamesAreRefused(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	for _, name := range []string{bccWord, "=?utf-8?q?Ann=0D=0ABcc:_evil@example.net?=", "Ann\u2028Bcc: evil@example.net", "Ann\u0085Lee"} {
		status, body := env.PostJSON(t, "/api/subscribe", `{"email":"ann@example.org","first_name":`+quote(name)+`,"last_name":"Lee","topics":["newsletter"],"consent":true}`)
		if status != http.StatusBadRequest || !strings.Contains(body, `"first_name"`) {
			t.Errorf("JSON signup named %q = %d %s, want 400 naming first_name", name, status, body)
		}
		status, body = env.PostForm(t, "/subscribe", url.Values{"form_token": {formToken(t, env)}, "email": {"ann@example.org"}, "last_name": {name}, "topics": {"newsletter"}, "consent": {"true"}})
		if f := fieldErrors(body); status != http.StatusBadRequest || !strings.Contains(f, "Names can only") && !strings.Contains(f, "plain text") {
			t.Errorf("form signup named %q = %d %s, want 400 with the name's problem", name, status, f)
		}
	}
	assertNothingWritten(t, env)

	sup := subscribe(t, env, "sam@example.org", "newsletter")
	mails := len(env.SMTP.Mails())
	prefs := "/preferences?token=" + testSigner(t, time.Now()).Sign(tokens.Preferences, sup.Id, tokens.PreferencesTTL)
	status, body := env.Do(t, http.MethodPost, prefs, "application/x-www-form-urlencoded", url.Values{"first_name": {bccWord}, "topics": {"newsletter"}}.Encode())
	if status != http.StatusBadRequest || !strings.Contains(body, "plain text") {
		t.Errorf("preferences with an encoded name = %d, want 400", status)
	}

	super := testkit.Login(t, env, "superuser")
	status, body = env.Call(t, super, http.MethodPatch, "/api/collections/supporters/records/"+sup.Id, `{"last_name":`+quote(bccWord)+`}`)
	if status != http.StatusBadRequest || !strings.Contains(body, `"last_name"`) {
		t.Errorf("API update with an encoded name = %d %s, want 400 naming last_name", status, body)
	}
	status, body = env.Call(t, super, http.MethodPost, "/api/collections/supporters/records", `{"email":"new@example.org","status":"pending","first_name":`+quote(bccWord)+`}`)
	if status != http.StatusBadRequest || !strings.Contains(body, `"first_name"`) {
		t.Errorf("API create with an encoded name = %d %s, want 400 naming first_name", status, body)
	}
	status, body = env.Call(t, super, http.MethodPost, "/api/collections/supporters/records", `{"email":"=?utf-8?q?sam?=@example.org","status":"pending"}`)
	if status != http.StatusBadRequest || !strings.Contains(body, `"email"`) {
		t.Errorf("API create with an encoded address = %d %s, want 400 naming email", status, body)
	}
	status, body = env.Call(t, super, http.MethodPatch, "/api/collections/supporters/records/"+sup.Id, `{"email":"Sam <sam@example.org>"}`)
	if status != http.StatusBadRequest || !strings.Contains(body, `"email"`) {
		t.Errorf("API update to a display-name address = %d %s, want 400 naming email", status, body)
	}
	got := supporter(t, env, "sam@example.org")
	if got.GetString("first_name") != "Sam" || got.GetString("last_name") != "" {
		t.Errorf("names after refused edits: %q %q", got.GetString("first_name"), got.GetString("last_name"))
	}
	if n := env.Count(t, vocab.Supporters, ""); n != 1 {
		t.Errorf("%d supporters, want 1", n)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(env.SMTP.Mails()); n != mails {
		t.Errorf("%d messages sent after the refused edits", n-mails)
	}
}

// Ordinary names in any script are stored as typed and reach the To: header
// encoded by go-mail, in a message that Go's net/mail and Python's email
// package both parse back to the same name, without defects.
func TestNonASCIINamesParseInReceivedMail(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	env := testkit.Start(t, testkit.Options{})
	names := []struct{ first, last string }{
		{"Zoë", "Brontë"}, {"Łukasz", "Żółć"}, {"José María", "Núñez-O'Neil"}, {"李", "小龍"},
		{"Анастасия", "Иванова"}, {"محمد", "الفارسی"}, {"Nguyễn", "Thị Minh Khai"}, {"Siân", "ap Dafydd 🌻"},
		{"Robert \"Bob\"", "Smith, Jr."}, {"Mary-Jane", "(née Watson)"},
	}
	for i, n := range names {
		email := "name" + string(rune('a'+i)) + "@example.org"
		status, body := env.PostJSON(t, "/api/subscribe", `{"email":"`+email+`","first_name":`+quote(n.first)+`,"last_name":`+quote(n.last)+`,"topics":["newsletter"],"consent":true}`)
		if status != http.StatusAccepted {
			t.Fatalf("%s %s: %d %s", n.first, n.last, status, body)
		}
		m := env.SMTP.WaitFor(t, email, 1, 10*time.Second)[0]
		want := n.first + " " + n.last
		if got := supporter(t, env, email).GetString("first_name"); got != n.first {
			t.Errorf("stored first name %q, want %q", got, n.first)
		}
		to, err := mail.ParseAddress(m.Header.Get("To"))
		if err != nil || to.Address != email {
			t.Errorf("Go reads To: %q as %v, %v", m.Header.Get("To"), to, err)
		} else if squash(to.Name, "") != squash(want, "") {
			t.Errorf("Go reads the To: name as %q, want %q", to.Name, want)
		}
		cmd := exec.Command(python, "-c", pythonParse)
		cmd.Stdin = strings.NewReader(string(m.Raw))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("python's email package failed on %q: %v\n%s", want, err, out)
			continue
		}
		var py struct {
			Name, Legacy, Address string
			Defects               []string
		}
		if err := json.Unmarshal(out, &py); err != nil {
			t.Fatalf("python said %s", out)
		}
		// The modern parser keeps the space between two adjacent encoded
		// words in a display name (RFC 2047 6.2 says to drop it; Go and
		// Python's own decode_header do), so it is compared without spaces.
		if py.Address != email || len(py.Defects) > 0 || squash(py.Name, " ") != squash(want, " ") || squash(py.Legacy, "") != squash(want, "") {
			t.Errorf("python reads To: %q as %+v, want %q", m.Header.Get("To"), py, want)
		}
	}
}

// squash drops the characters in cut and collapses white space.
func squash(s, cut string) string {
	s = strings.Join(strings.Fields(s), " ")
	if cut != "" {
		s = strings.ReplaceAll(s, cut, "")
	}
	return s
}

// pythonParse reads a message on stdin with the email package's modern
// policy and prints the To: address, its name and every defect found.
const pythonParse = `
import email, email.header, email.policy, email.utils, json, sys
raw = sys.stdin.buffer.read()
msg = email.message_from_bytes(raw, policy=email.policy.default)
to = msg["To"]
defects = [str(d) for d in msg.defects] + [str(d) for d in to.defects]
for part in msg.walk():
    defects += [str(d) for d in part.defects]
    if not part.is_multipart():
        part.get_content()
for h in ("Subject", "From"):
    defects += [str(d) for d in msg[h].defects]
a = to.addresses
old = email.message_from_bytes(raw, policy=email.policy.compat32)["To"]
legacy = email.utils.parseaddr(str(email.header.make_header(email.header.decode_header(old))))[0]
print(json.dumps({"Name": a[0].display_name, "Legacy": legacy, "Address": a[0].addr_spec, "Defects": defects}))
`
