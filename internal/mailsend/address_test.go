package mailsend_test

import (
	"context"
	"net/mail"
	"strings"
	"testing"

	"supportercrm/internal/mailsend"
	"supportercrm/internal/testkit"
)

// 9.3: names that need quoting or encoding arrive as they were given, in
// both From and To.
func TestAwkwardNamesAreEncoded(t *testing.T) {
	r := newRelay(t)
	c := dial(t, r)
	names := []string{`O"Brien`, `Bob\`, `Smith, John`, `"Quoted"`, `a\"b`, `Zoë Ærøskøbing`, `Łukasz (Leeds)`, `<b@evil.example>`, `x@y; z`, `=?`}
	for i, name := range names {
		m := msgTo(awkwardRcpt(i), "names")
		m.To.Name, m.From.Name = name, name
		if err := c.Send(context.Background(), m); err != nil {
			t.Fatalf("name %q: Send = %v (classified %+v)", name, err, mailsend.Classify(err))
		}
	}
	got := r.Mails()
	if len(got) != len(names) || r.Conns() != 1 {
		t.Fatalf("delivered %d over %d connections, want %d over 1", len(got), r.Conns(), len(names))
	}
	for i, d := range got {
		m, err := testkit.Parse(d.Raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"From", "To"} {
			a, err := mail.ParseAddress(m.Header.Get(h))
			if err != nil || a.Name != names[i] {
				t.Errorf("%s %q read back as %+v (%v)", h, m.Header.Get(h), a, err)
			}
		}
		if len(d.To) != 1 || d.To[0] != awkwardRcpt(i) {
			t.Errorf("envelope %v, want [%s]", d.To, awkwardRcpt(i))
		}
	}
}

// awkwardRcpt is the recipient of the i-th message of
// TestAwkwardNamesAreEncoded.
func awkwardRcpt(i int) string { return "ada" + string(rune('a'+i)) + "@example.org" }

// 9.3: a message that cannot be built is unsendable: not the relay's fault,
// no attempt on the wire, and the connection is kept for the next one.
func TestUnbuildableMessageIsUnsendable(t *testing.T) {
	r := newRelay(t)
	c := dial(t, r)
	for _, m := range []*mailsend.Message{
		msgTo("not an address", "x"),
		msgTo("Ada <ada@example.org>", "x"),
		msgTo("a@b@example.org", "x"),
		msgTo("ada@example.org, eve@example.org", "x"),
		{From: mail.Address{Address: "bad sender"}, To: mail.Address{Address: "ada@example.org"}},
		{From: mail.Address{Address: "news@charity.example"}, To: mail.Address{Address: "ada@example.org"}, ReplyTo: "not, a: reply-to"},
	} {
		err := c.Send(context.Background(), m)
		f := mailsend.Classify(err)
		if err == nil || !f.Unsendable || f.Temporary || f.NotSent || f.HardBounce() || f.Reason == "" || mailsend.IsConnectionError(err) {
			t.Errorf("%+v: Send = %v, classified %+v; want Unsendable with a reason, not a connection error", m, err, f)
		}
		if strings.Contains(f.Note(), "@") {
			t.Errorf("Note %q names an address", f.Note())
		}
	}
	if err := c.Send(context.Background(), msgTo("ada@example.org", "fine")); err != nil {
		t.Fatal(err)
	}
	if r.Conns() != 1 || len(r.Mails()) != 1 {
		t.Errorf("%d connections, %d delivered; want the one connection kept and 1", r.Conns(), len(r.Mails()))
	}
}

// 9.3: the check the mail settings use on save.
func TestCheckSender(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
		ok         bool
	}{
		{"Lantern House", "news@lanternhouse.org.uk", true},
		{`O"Brien's "Trust"`, "news@lanternhouse.org.uk", true},
		{"Zoë's Charity", "news@lanternhouse.org.uk", true},
		{"", "news@lanternhouse.org.uk", true},
		{"Lantern\r\nBcc: x@evil.example", "news@lanternhouse.org.uk", false},
		{"Tab\there", "news@lanternhouse.org.uk", false},
		{"=?utf-8?q?Bank?=", "news@lanternhouse.org.uk", false},
		{"Lantern House", "not an address", false},
		{"Lantern House", "Lantern <news@lanternhouse.org.uk>", false},
		{"Lantern House", "", false},
	} {
		err := mailsend.CheckSender(tc.name, tc.addr)
		if (err == nil) != tc.ok {
			t.Errorf("CheckSender(%q, %q) = %v, want ok=%v", tc.name, tc.addr, err, tc.ok)
		}
	}
}

// 14.3: a non-ASCII local part goes only to a relay offering SMTPUTF8, and
// then with SMTPUTF8 on MAIL FROM.
func TestNonASCIIAddressNeedsSMTPUTF8(t *testing.T) {
	const rcpt = "fzé@example.org"
	t.Run("offered", func(t *testing.T) {
		r := testkit.NewRelay(t, testkit.RelayOptions{SMTPUTF8: true})
		c := dial(t, r)
		if err := c.Send(context.Background(), msgTo(rcpt, "utf8")); err != nil {
			t.Fatalf("Send to %s with SMTPUTF8 offered: %v", rcpt, err)
		}
		got := r.Mails()
		if len(got) != 1 || got[0].To[0] != rcpt || !got[0].SMTPUTF8 {
			t.Fatalf("delivered %+v, want one message to %s sent with SMTPUTF8", got, rcpt)
		}
		m, _ := testkit.Parse(got[0].Raw)
		if a, err := mail.ParseAddress(m.Header.Get("To")); err != nil || a.Address != rcpt {
			t.Errorf("To header %q (%v)", m.Header.Get("To"), err)
		}
	})
	t.Run("not offered", func(t *testing.T) {
		r := testkit.NewRelay(t, testkit.RelayOptions{})
		c := dial(t, r)
		err := c.Send(context.Background(), msgTo(rcpt, "utf8"))
		f := mailsend.Classify(err)
		if err == nil || !f.Unsendable || f.Temporary || !strings.Contains(f.Reason, "SMTPUTF8") || mailsend.IsConnectionError(err) {
			t.Fatalf("Send = %v, classified %+v; want Unsendable naming SMTPUTF8", err, f)
		}
		if r.RcptCount(rcpt) != 0 {
			t.Error("the address reached the relay")
		}
		from := msgTo("ada@example.org", "utf8 sender")
		from.From.Address = "zoë@charity.example"
		if f := mailsend.Classify(c.Send(context.Background(), from)); !f.Unsendable {
			t.Errorf("non-ASCII sender: classified %+v, want Unsendable", f)
		}
		if err := c.Send(context.Background(), msgTo("ada@example.org", "ascii")); err != nil {
			t.Fatal(err)
		}
		if r.Conns() != 1 || len(r.Mails()) != 1 || r.Mails()[0].SMTPUTF8 {
			t.Errorf("%d connections, %d delivered; want the connection kept and plain ASCII mail", r.Conns(), len(r.Mails()))
		}
	})
}
