package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// The app-wide cap on confirmation emails (CRM_CONFIRMATIONS_PER_DAY) is
// counted in the database: after a restart the day's count still holds,
// and a signup over it gets the usual answer but no email.
func TestConfirmationCapSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)
	sink := testkit.NewSMTPSink(t)
	sink.Start(t)
	configure(t, dataDir, "http://"+addr, sink.Port, nil)
	signup := func(email string) string {
		t.Helper()
		res, err := http.Post("http://"+addr+"/api/subscribe", "application/json", strings.NewReader(`{"email":"`+email+`","topics":["newsletter"],"consent":true}`))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("signup %s = %d %s", email, res.StatusCode, body)
		}
		return string(body)
	}

	srv := start(t, bin, dataDir, addr, "CRM_CONFIRMATIONS_PER_DAY=2")
	first := signup("one@example.org")
	signup("two@example.org")
	sink.WaitFor(t, "one@example.org", 1, 30*time.Second)
	sink.WaitFor(t, "two@example.org", 1, 30*time.Second)
	stop(t, srv)

	srv = start(t, bin, dataDir, addr, "CRM_CONFIRMATIONS_PER_DAY=2")
	if got := signup("three@example.org"); got != first {
		t.Errorf("the signup over the cap answered %s, the first %s", got, first)
	}
	stop(t, srv)

	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dataDir})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer app.ClearBootstrap()
	for c, filter := range map[string]string{vocab.Outbox: "kind = 'confirm'", vocab.Supporters: ""} {
		recs, err := app.FindRecordsByFilter(c, filter, "", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 {
			t.Errorf("%d %s rows, want 2 (the third signup was over the cap)", len(recs), c)
		}
	}
	if n := len(sink.To("three@example.org")); n != 0 {
		t.Errorf("three@example.org got %d emails", n)
	}
}
