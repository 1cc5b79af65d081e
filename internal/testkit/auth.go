package testkit

import (
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// Signer signs links as the test apps do (with TestSecret).
func Signer(t testing.TB) *tokens.Signer {
	t.Helper()
	secret, err := hex.DecodeString(TestSecret)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tokens.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Login makes a staff member (role comms or admin) or, for "superuser", a
// superuser, and returns their auth token.
func Login(t testing.TB, env *Env, role string) string {
	t.Helper()
	coll := vocab.Staff
	if role == "superuser" {
		coll = core.CollectionNameSuperusers
	}
	rec := core.NewRecord(Collection(t, env.App, coll))
	rec.SetEmail(role + "-" + core.GenerateDefaultRandomId() + "@lanternhouse.org.uk")
	rec.SetPassword("a-long-password-1")
	if coll == vocab.Staff {
		rec.Set("role", role)
	}
	if err := env.App.Save(rec); err != nil {
		t.Fatal(err)
	}
	tok, err := rec.NewAuthToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Call sends a request (JSON when body is set) with an auth token, which
// may be empty, and returns the status and body.
func (e *Env) Call(t testing.TB, token, method, path, body string) (int, string) {
	t.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	return e.send(t, method, path, contentType, token, body)
}

func (e *Env) send(t testing.TB, method, path, contentType, token, body string) (int, string) {
	t.Helper()
	a := e.Request(t, token, method, path, contentType, strings.NewReader(body))
	return a.Status, a.Body
}

// Answer is an HTTP response, read whole.
type Answer struct {
	Status int
	Header http.Header
	Body   string
}

// Request sends any request with an auth token (may be empty) and a body
// of the given content type (may be empty), and reads the answer.
func (e *Env) Request(t testing.TB, token, method, path, contentType string, body io.Reader) Answer {
	t.Helper()
	req, err := http.NewRequest(method, e.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Answer{res.StatusCode, res.Header, string(b)}
}
