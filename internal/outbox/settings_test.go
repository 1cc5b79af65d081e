package outbox_test

import (
	"strings"
	"testing"
	"time"

	"supportercrm/internal/outbox"
	"supportercrm/internal/testkit"
)

// 9.3: a sender name or address that cannot make a From header is refused
// when the mail settings are saved, through the API (400 naming the field)
// and from Go, and the settings stay as they were.
func TestMailSenderCheckedOnSave(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	token := testkit.Login(t, env, "superuser")
	before := env.App.Settings().Meta.SenderName
	for _, bad := range []string{
		`{"meta":{"senderName":"Lantern\r\nBcc: victim@example.org"}}`,
		`{"meta":{"senderName":"=?utf-8?q?Your_Bank?="}}`,
		`{"meta":{"senderAddress":"zoë@lanternhouse.org.uk"}}`,
	} {
		status, body := env.Call(t, token, "PATCH", "/api/settings", bad)
		if status != 400 || !strings.Contains(body, "meta") || !strings.Contains(body, "sender") {
			t.Errorf("PATCH %s = %d %s; want 400 naming the field", bad, status, body)
		}
		if got := env.App.Settings().Meta.SenderName; got != before {
			t.Errorf("sender name changed to %q by a refused save", got)
		}
	}
	status, body := env.Call(t, token, "PATCH", "/api/settings", `{"meta":{"senderName":"O\"Brien's \"Trust\", Leeds"}}`)
	if status != 200 {
		t.Fatalf("a quoted name was refused: %d %s", status, body)
	}

	s, err := env.App.Settings().Clone()
	if err != nil {
		t.Fatal(err)
	}
	s.Meta.SenderName = "Tab\tName"
	if err := env.App.Save(s); err == nil || !strings.Contains(err.Error(), "senderName") {
		t.Errorf("Save with a tab in the sender name = %v, want a senderName error", err)
	}
}

// 9.2: the connection limits come from the environment, with clear errors.
func TestConnectionsFromEnv(t *testing.T) {
	t.Setenv("CRM_SMTP_IDLE_TIMEOUT", "")
	t.Setenv("CRM_SMTP_MESSAGES_PER_CONNECTION", "")
	c, err := outbox.ConnectionsFromEnv()
	if err != nil || c.IdleTimeout != 30*time.Second || c.MaxMessages != 0 {
		t.Errorf("defaults = %+v, %v; want 30s and no limit", c, err)
	}
	t.Setenv("CRM_SMTP_IDLE_TIMEOUT", "4s")
	t.Setenv("CRM_SMTP_MESSAGES_PER_CONNECTION", "20")
	if c, err = outbox.ConnectionsFromEnv(); err != nil || c.IdleTimeout != 4*time.Second || c.MaxMessages != 20 {
		t.Errorf("set = %+v, %v; want 4s and 20", c, err)
	}
	for _, tc := range []struct{ name, value string }{
		{"CRM_SMTP_IDLE_TIMEOUT", "30"},
		{"CRM_SMTP_IDLE_TIMEOUT", "-1s"},
		{"CRM_SMTP_IDLE_TIMEOUT", "0s"},
		{"CRM_SMTP_MESSAGES_PER_CONNECTION", "0"},
		{"CRM_SMTP_MESSAGES_PER_CONNECTION", "twenty"},
	} {
		t.Setenv("CRM_SMTP_IDLE_TIMEOUT", "")
		t.Setenv("CRM_SMTP_MESSAGES_PER_CONNECTION", "")
		t.Setenv(tc.name, tc.value)
		if _, err := outbox.ConnectionsFromEnv(); err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s=%q: err = %v, want one naming the variable", tc.name, tc.value, err)
		}
	}
}
