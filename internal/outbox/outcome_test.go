package outbox_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/erasure"
	"supportercrm/internal/outbox"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// An erasure that happens while the worker is handing a message to the relay
// holds: the worker writes only the outcome (the message did go), never its
// copy of the address, subject and body.
func TestErasureDuringSendStaysErased(t *testing.T) {
	h := newHarness(t)
	w := h.worker(outbox.Config{})
	const email = "ada@example.org"
	ada := h.supporter(t, email)
	r := h.enqueue(t, outbox.Mail{To: email, ToName: "Ada Lovelace", SupporterID: ada.Id, Kind: vocab.KindWelcome,
		Subject: "Welcome, Ada", Text: "Hello Ada", HTML: "<p>Hello Ada</p>", Unsubscribe: outbox.LinkOrigin + "/unsubscribe?token=ada"})

	eraser := &erasure.Eraser{App: h.env.App, Hash: signup.HashEmail}
	var erased atomic.Pointer[erasure.Result]
	var eraseErr atomic.Pointer[error]
	h.sink.SetPolicy(func(to string, _ int) error {
		if to == email { // the worker is in the middle of this message's transaction
			res, err := eraser.Erase(ada.Id)
			if err != nil {
				eraseErr.Store(&err)
			}
			erased.Store(&res)
		}
		return nil
	})
	if n := runOnce(t, w); n != 1 {
		t.Fatalf("RunOnce sent %d, want 1", n)
	}
	if p := eraseErr.Load(); p != nil {
		t.Fatalf("erase: %v", *p)
	}
	if res := erased.Load(); res == nil || res.EmailsAnonymised != 1 || res.EmailsCancelled != 0 {
		t.Errorf("erasure result %+v, want the row cleared and nothing cancelled (it was being sent)", res)
	}
	if got := len(h.sink.To(email)); got != 1 {
		t.Fatalf("relay got %d copies, want the one in flight", got)
	}

	row := h.row(t, r.Id)
	if row.GetString("to") != erasure.Placeholder(ada.Id) || row.GetString("to_name") != "" || row.GetString("subject") != "(erased)" ||
		row.GetString("html") != "" || row.GetString("text") != "" || row.GetString("unsubscribe_url") != "" {
		t.Errorf("erased row restored after the send: %v", row.FieldsData())
	}
	if row.GetString("status") != vocab.OutboxSent || row.GetInt("attempts") != 1 || row.GetString("message_id") == "" || row.GetDateTime("sent_at").IsZero() {
		t.Errorf("outcome not recorded: status %q attempts %d message_id %q sent_at %v",
			row.GetString("status"), row.GetInt("attempts"), row.GetString("message_id"), row.GetDateTime("sent_at"))
	}
	dump := testkit.Dump(t, h.env.App, vocab.Outbox)
	for _, personal := range []string{email, "Ada", "Lovelace"} {
		if strings.Contains(dump, personal) {
			t.Errorf("%q is stored in the outbox after the erasure", personal)
		}
	}
}

// A message claimed by a worker that died mid-send is taken over once the
// claim runs out, and an unsubscribe can still cancel it then; while a claim
// is live, no other worker sends the message and no unsubscribe pretends to
// stop it.
func TestClaimOfADeadWorker(t *testing.T) {
	h := newHarness(t)
	w := h.worker(outbox.Config{})
	ann := h.supporter(t, "ann@example.org")
	bob := h.supporter(t, "bob@example.org")
	claim := func(r *core.Record, until time.Time) {
		t.Helper()
		if _, err := h.env.App.DB().Update(vocab.Outbox, dbx.Params{"status": vocab.OutboxSending}, dbx.HashExp{"id": r.Id}).Execute(); err != nil {
			t.Fatal(err)
		}
		h.setColumn(t, r.Id, "next_attempt_at", until)
	}
	annMail := h.enqueue(t, outbox.Mail{To: "ann@example.org", SupporterID: ann.Id})
	bobMail := h.enqueue(t, outbox.Mail{To: "bob@example.org", SupporterID: bob.Id})
	claim(annMail, time.Now().Add(time.Minute))
	claim(bobMail, time.Now().Add(time.Minute))

	if n := runOnce(t, w); n != 0 {
		t.Fatalf("sent %d messages another worker holds", n)
	}
	if n, err := outbox.CancelQueued(h.env.App, bob.Id); err != nil || n != 0 {
		t.Fatalf("CancelQueued of a message being sent = %d, %v; want 0", n, err)
	}

	// The other worker died: its claims run out.
	h.setColumn(t, annMail.Id, "next_attempt_at", time.Now().Add(-time.Second))
	h.setColumn(t, bobMail.Id, "next_attempt_at", time.Now().Add(-time.Second))
	if n, err := outbox.CancelQueued(h.env.App, bob.Id); err != nil || n != 1 {
		t.Fatalf("CancelQueued after the claim ran out = %d, %v; want 1", n, err)
	}
	if n := runOnce(t, w); n != 1 {
		t.Fatalf("sent %d, want ann's message taken over", n)
	}
	if r := h.row(t, annMail.Id); r.GetString("status") != vocab.OutboxSent || r.GetInt("attempts") != 1 {
		t.Errorf("ann's message: status %q attempts %d", r.GetString("status"), r.GetInt("attempts"))
	}
	if s := h.row(t, bobMail.Id).GetString("status"); s != vocab.OutboxCancelled || len(h.sink.To("bob@example.org")) != 0 {
		t.Errorf("bob's cancelled message: status %q, %d delivered", s, len(h.sink.To("bob@example.org")))
	}
}
