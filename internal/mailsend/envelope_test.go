package mailsend_test

import (
	"context"
	"testing"

	"supportercrm/internal/mailsend"
	"supportercrm/internal/testkit"
)

// EnvelopeFrom is the MAIL FROM (the Return-Path) while From stays the
// header; without it the envelope sender is From. One that is not a bare
// address, or tries to smuggle a line, makes the message Unsendable.
func TestEnvelopeFrom(t *testing.T) {
	r := newRelay(t)
	c := dial(t, r)
	m := msgTo("ada@example.org", "Hi")
	m.EnvelopeFrom = "bounces+dabc.xyz@bounces.example.org"
	if err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	plain := msgTo("bob@example.org", "Hi")
	if err := c.Send(context.Background(), plain); err != nil {
		t.Fatal(err)
	}
	got := r.Mails()
	if len(got) != 2 || got[0].From != m.EnvelopeFrom || got[1].From != plain.From.Address {
		t.Fatalf("envelope senders %q, %q; want %q, %q", got[0].From, got[1].From, m.EnvelopeFrom, plain.From.Address)
	}
	pm, err := testkit.Parse(got[0].Raw)
	if err != nil {
		t.Fatal(err)
	}
	if from := pm.Header.Get("From"); from != "<"+m.From.Address+">" && from != m.From.String() {
		t.Errorf("From header %q, want the sender's", from)
	}
	for _, bad := range []string{"Bounces <b@example.org>", "b@example.org\r\nRCPT TO:<x@example.org>", "not an address"} {
		m := msgTo("ada@example.org", "Hi")
		m.EnvelopeFrom = bad
		if err := c.Send(context.Background(), m); !mailsend.Classify(err).Unsendable {
			t.Errorf("envelope sender %q: %v, want Unsendable", bad, err)
		}
	}
}
