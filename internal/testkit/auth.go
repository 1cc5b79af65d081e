package testkit

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// Login makes a staff member (role comms or admin) or, for "superuser", a
// superuser, and returns their auth token.
func Login(t testing.TB, env *Env, role string) string {
	t.Helper()
	coll := vocab.Staff
	if role == "superuser" {
		coll = core.CollectionNameSuperusers
	}
	rec := core.NewRecord(Collection(t, env.App, coll))
	rec.SetEmail(role + "@lanternhouse.org.uk")
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
	req, err := http.NewRequest(method, e.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
