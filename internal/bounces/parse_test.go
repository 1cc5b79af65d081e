package bounces_test

import (
	"bytes"
	"strings"
	"testing"

	"supportercrm/internal/bounces"
)

// Each fixture parses to its format and, for bounces and complaints,
// exactly one report with the right kind, status, recipient, VERP address
// and original Message-ID; auto-replies and other mail give none.
func TestParseFixtures(t *testing.T) {
	const (
		token = "bounces+dabc123def456gh.k2mfzq7xw3n5tyle@bounces.example.org"
		rcpt  = "sam.reader@example.org"
		msgID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0@lanternhouse.org.uk"
	)
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			m, err := bounces.Parse(bytes.NewReader(fixture(t, f.name, token, rcpt, msgID)), "imap", "")
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Format) != f.format {
				t.Fatalf("format %s, want %s", m.Format, f.format)
			}
			if f.kind == "" {
				if len(m.Reports) != 0 {
					t.Fatalf("reports %+v from mail that is no bounce", m.Reports)
				}
				return
			}
			if len(m.Reports) != 1 {
				t.Fatalf("%d reports, want 1: %+v", len(m.Reports), m.Reports)
			}
			r := m.Reports[0]
			if string(r.Kind) != f.kind || r.Status != f.status || r.Source != "imap" {
				t.Errorf("kind %s status %q source %q, want %s %q imap", r.Kind, r.Status, r.Source, f.kind, f.status)
			}
			if (r.MessageID == msgID) != f.hasID {
				t.Errorf("original Message-ID %q (want it: %v)", r.MessageID, f.hasID)
			}
			if (r.Token == token) != f.hasToken {
				t.Errorf("token %q (want it: %v)", r.Token, f.hasToken)
			}
			if (r.Recipient == rcpt) != f.hasRcpt {
				t.Errorf("recipient %q (want it: %v)", r.Recipient, f.hasRcpt)
			}
			if r.EventID == "" || strings.Contains(r.EventID, msgID) {
				t.Errorf("event id %q: want the report's own Message-ID", r.EventID)
			}
		})
	}
}

// A policy refusal (5.7.x) is soft: the address is fine, the sending was
// refused. A DSN that reports only a delivery gives no report. The SMTP
// listener's RCPT TO comes before anything the message says.
func TestParsePolicyDeliveredAndEnvelope(t *testing.T) {
	const token = "bounces+dabc123def456gh.k2mfzq7xw3n5tyle@bounces.example.org"
	raw := fixture(t, "dsn_postfix_hard.eml", token, "a@example.org", "m@x")
	policy := bytes.ReplaceAll(bytes.ReplaceAll(raw, []byte("Status: 5.1.1"), []byte("Status: 5.7.1")), []byte("550 5.1.1"), []byte("550 5.7.1"))
	m, err := bounces.Parse(bytes.NewReader(policy), "imap", "")
	if err != nil || len(m.Reports) != 1 || m.Reports[0].Kind != bounces.Soft {
		t.Fatalf("5.7.1: %+v %v, want one soft report", m, err)
	}
	delivered := bytes.ReplaceAll(raw, []byte("Action: failed"), []byte("Action: delivered"))
	if m, err := bounces.Parse(bytes.NewReader(delivered), "imap", ""); err != nil || m.Format != bounces.FormatDSN || len(m.Reports) != 0 {
		t.Fatalf("delivered: %+v %v, want a DSN with no report", m, err)
	}
	const other = "bounces+oxyz987uvw654ts.abcdefghijklmnop@bounces.example.org"
	if m, _ := bounces.Parse(bytes.NewReader(raw), "smtp", other); m.Reports[0].Token != other {
		t.Errorf("token %q, want the envelope's", m.Reports[0].Token)
	}
	if _, err := bounces.Parse(strings.NewReader(" not\r\n a message"), "imap", ""); err == nil {
		t.Error("junk bytes parsed")
	}
}
